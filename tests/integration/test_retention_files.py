"""Retention of what lives in files beside the store (issue 9, DESIGN.md's
"retention" row): runJob workspaces, the local cloud's operation tasks,
bake records, the bake cache and baked images. With executionsPerPipeline
1 and imagesPerPackage 1, the files of pruned executions go, an image that
a server group uses stays however old, and of the unused images of a
package only the newest stays. The artifact store: a file no one used for
maxAgeDays goes (with its catalog version), one downloaded since stays,
one a running execution names stays however old, and so do the temporary
files of a copy younger than a day.
"""
import json
import os
import tempfile
import time
import unittest

from cloud_util import close_cloud_server
from config_util import config_file
from mizzen_harness import Server, wait_until
from mizzen_flow import create_app, run_pipeline, save_pipeline, stage, wait_execution

APP = "prune"


def bake_pipeline(package):
    return {"application": APP, "name": "bake", "stages": [{
        "refId": "1", "type": "bake", "name": "Bake", "cloudProviderType": "local",
        "package": package, "regions": ["local"]}]}


def deploy_pipeline(image):
    return {"application": APP, "name": "deploy", "stages": [{
        "refId": "1", "type": "deploy", "name": "Deploy", "clusters": [{
            "application": APP, "stack": "web", "freeFormDetails": "", "account": "local",
            "cloudProvider": "local", "region": "local",
            "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "",
            "image": image, "command": ["sleep", "600"]}]}]}


BUILD = {"application": APP, "name": "build", "stages": [{
    "refId": "1", "type": "runJob", "name": "Build", "cloudProvider": "local",
    "account": "local", "command": ["sh", "-c", "echo built > out.txt"]}]}


class RetentionOfFiles(unittest.TestCase):

    def setUp(self):
        self.roots = tempfile.mkdtemp(prefix="mizzen-prune-pkg-")
        self.package = os.path.join(self.roots, "pkg")
        os.mkdir(self.package)
        self.cfg = config_file({
            "retention": {"executionsPerPipeline": 1, "imagesPerPackage": 1,
                          "intervalSeconds": 1},
            "bakery": {"packageRoots": [self.roots]}})
        self.srv = Server(extra_args=("--config", self.cfg), keep_data=True)

    def tearDown(self):
        try:
            close_cloud_server(self.srv, self.roots)
        finally:
            os.unlink(self.cfg)

    def run_ok(self, name):
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, name), timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", [
            (s["name"], s["status"], s["context"].get("exception")) for s in e["stages"]])
        return e

    def bake(self, content):
        with open(os.path.join(self.package, "app.txt"), "w") as f:
            f.write(content)
        e = self.run_ok("bake")
        return stage(e, "Bake")["outputs"]["deploymentDetails"][0]["imageId"]

    def path(self, *parts):
        return os.path.join(self.srv.data_dir, *parts)

    def image_exists(self, image):
        status, _ = self.srv.request("GET", "/images/local/local/%s?single=true" % image)
        self.assertIn(status, (200, 404))
        return status == 200

    def test_prunes_files_of_pruned_executions_and_unused_images(self):
        srv = self.srv.start()
        create_app(srv, APP)
        save_pipeline(srv, bake_pipeline(self.package))
        first = self.bake("v1")

        # two deploys of the first image: its server groups keep it in use
        save_pipeline(srv, deploy_pipeline(first))
        tasks = []
        for _ in range(2):
            e = self.run_ok("deploy")
            tasks += [s["context"]["kato.last.task.id"]["id"] for s in e["stages"]
                      if "kato.last.task.id" in s["context"]
                      and s["type"] == "createServerGroup"]
        self.assertEqual(len(tasks), 2, tasks)

        second = self.bake("v2")
        third = self.bake("v3")
        self.assertEqual(len({first, second, third}), 3)

        save_pipeline(srv, BUILD)
        # each job's workspace exists once its build is done (looked at
        # before the next build: once that one ends, the pruner, every
        # second, may take the first at any moment)
        jobs = []
        for _ in range(2):
            jobs.append(stage(self.run_ok("build"), "Build")["context"]["jobId"])
            self.assertTrue(os.path.isdir(self.path("jobs", jobs[-1])), jobs[-1])

        # what goes: the files of the pruned executions, the unused image
        # that is not its package's newest, its bake-cache entry
        def job_gone():
            status, _ = srv.request("GET", "/applications/%s/jobs/local/local/%s/logs"
                                    % (APP, jobs[0]))
            return status == 404 and not os.path.exists(self.path("jobs", jobs[0]))
        wait_until(job_gone, timeout=20, interval=0.2,
                   message="the first build's job workspace pruned")
        wait_until(lambda: not os.path.exists(self.path("cloud", "tasks", tasks[0] + ".json")),
                   timeout=20, interval=0.2, message="the first deploy's cloud task pruned")
        wait_until(lambda: not self.image_exists(second), timeout=20, interval=0.2,
                   message="the unused older image %s pruned" % second)

        def cached_images():
            out = set()
            for name in os.listdir(self.path("bakery", "cache")):
                with open(self.path("bakery", "cache", name)) as f:
                    out.add(json.load(f)["imageId"])
            return out
        wait_until(lambda: second not in cached_images(), timeout=20, interval=0.2,
                   message="the bake-cache entry of the pruned image removed")
        bakes = os.listdir(self.path("bakery", "bakes"))
        self.assertEqual(len(bakes), 1, bakes)   # the latest bake execution's only

        # what stays: the image in use, the newest image, the latest
        # execution's job and task
        self.assertTrue(self.image_exists(first), "the image in use was pruned")
        self.assertTrue(self.image_exists(third), "the newest image was pruned")
        self.assertTrue(os.path.isdir(self.path("jobs", jobs[1])))
        status, log = srv.request("GET", "/applications/%s/jobs/local/local/%s/logs"
                                  % (APP, jobs[1]))
        self.assertEqual(status, 200, log)
        self.assertTrue(os.path.exists(self.path("cloud", "tasks", tasks[1] + ".json")))
        self.assertIn(third, cached_images())

        # the pruned image bakes again: the cache does not point at it any more
        again = self.bake("v2")
        self.assertEqual(again, second)
        self.assertTrue(self.image_exists(second))
        s, groups = srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200)
        images = set()
        for g in groups:
            s, full = srv.request("GET", "/serverGroups/local/local/" + g["name"])
            self.assertEqual(s, 200, full)
            images.add(full["image"]["imageId"])
        self.assertEqual(images, {first})


def publish_pipeline(name, content, judge=False):
    stages = [{"refId": "1", "type": "runJob", "name": "Build", "cloudProvider": "local",
               "account": "local", "command": ["sh", "-c", "printf %s > out.txt" % content],
               "outputArtifacts": [{"name": "out-%s.txt" % name, "path": "out.txt"}]}]
    if judge:
        stages.append({"refId": "2", "requisiteStageRefIds": ["1"], "type": "manualJudgment",
                       "name": "Hold"})
    return {"application": APP, "name": name, "stages": stages}


class RetentionOfArtifacts(unittest.TestCase):

    def setUp(self):
        # a pass a second; executions are kept (a day's age, 100 each)
        self.cfg = config_file({"retention": {"maxAgeDays": 1, "intervalSeconds": 1}})
        self.srv = Server(extra_args=("--config", self.cfg))

    def tearDown(self):
        try:
            self.srv.stop()
        finally:
            os.unlink(self.cfg)

    def test_unused_artifact_files_go_used_and_running_ones_stay(self):
        srv = self.srv.start()
        create_app(srv, APP)
        refs = {}
        for name, content in (("unused", "nobody reads me"), ("read", "downloaded later")):
            save_pipeline(srv, publish_pipeline(name, content))
            e = wait_execution(srv, run_pipeline(srv, APP, name), timeout=60)
            self.assertEqual(e["status"], "SUCCEEDED", e["stages"][0]["context"])
            refs[name] = e["stages"][0]["outputs"]["artifacts"][0]["reference"]
        save_pipeline(srv, publish_pipeline("held", "held at a judgment", judge=True))
        held = run_pipeline(srv, APP, "held")
        wait_until(lambda: stage(srv.request("GET", "/pipelines/" + held)[1], "Hold")["status"]
                   == "RUNNING", timeout=60, message="the held pipeline at its judgment")
        refs["held"] = stage(srv.request("GET", "/pipelines/" + held)[1],
                             "Build")["outputs"]["artifacts"][0]["reference"]
        store = os.path.join(srv.data_dir, "artifacts")
        for ref in refs.values():
            self.assertTrue(os.path.exists(os.path.join(store, ref)), ref)
        # three days unused, all of them; an interrupted copy two days old, one fresh
        old = time.time() - 3 * 86400
        for ref in refs.values():
            os.utime(os.path.join(store, ref), (old, old))
        for tmp, age in ((".tmp-OLDCOPY", 2 * 86400), (".tmp-NEWCOPY", 0)):
            with open(os.path.join(store, tmp), "w") as f:
                f.write("partial")
            os.utime(os.path.join(store, tmp), (time.time() - age, time.time() - age))
        # read since: a download is a use
        status, body = srv.request("GET", "/artifacts/local/" + refs["read"])
        self.assertEqual(status, 200)
        wait_until(lambda: not os.path.exists(os.path.join(store, refs["unused"])), timeout=30,
                   interval=0.2, message="the unused artifact file removed")
        wait_until(lambda: not os.path.exists(os.path.join(store, ".tmp-OLDCOPY")), timeout=30,
                   interval=0.2, message="the old interrupted copy removed")
        self.assertTrue(os.path.exists(os.path.join(store, refs["read"])), "a file read since")
        self.assertTrue(os.path.exists(os.path.join(store, refs["held"])),
                        "a file a running execution names")
        self.assertTrue(os.path.exists(os.path.join(store, ".tmp-NEWCOPY")), "a copy under way")
        # the catalog forgets the removed version; the others are listed
        status, names = srv.request("GET", "/artifacts/account/mizzen/names")
        self.assertEqual(status, 200, names)
        self.assertNotIn("out-unused.txt", names)
        self.assertIn("out-read.txt", names)
        catalog = os.path.join(store, "catalog")
        lines = []
        for entry in os.listdir(catalog):
            with open(os.path.join(catalog, entry, "versions")) as f:
                lines += f.read().splitlines()
        self.assertEqual(sorted(json.loads(line)["reference"] for line in lines),
                         sorted([refs["read"], refs["held"]]), "the catalog files compacted")
        # the held pipeline goes on: its deploy-time needs are still there
        status, _ = srv.request("GET", "/artifacts/local/" + refs["held"])
        self.assertEqual(status, 200)
        srv.request("PUT", "/pipelines/%s/cancel" % held)


if __name__ == "__main__":
    unittest.main()
