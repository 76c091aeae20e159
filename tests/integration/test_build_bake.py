"""Build, bake and artifacts end to end: a git repository made by the test,
a pipeline that builds it at a commit with runJob (sandboxed, logged,
publishing its output as an artifact), bakes the output in two regions in
parallel, deploys the baked image behind a load balancer and serves the
built content; a second run on the same commit reuses the baked image,
rebake bakes again; a failing build shows its log tail; a build that
outlives its timeout is killed with its children; the sandbox hides the
data directory and keeps / read-only; an expected artifact that does not
match fails the execution; the images API."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from mizzen_harness import Server, free_port, wait_until
from mizzen_flow import create_app, get_execution, run_pipeline, save_pipeline, wait_execution
from cloud_util import get, kill_cloud, run_task

APP = "bakeapp"

SERVER_PY = r'''
import http.server, os
ROOT = os.environ.get("IMAGE_DIR", ".")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok"
        else:
            with open(os.path.join(ROOT, "index.html"), "rb") as f:
                body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
'''

BUILD_SH = r'''#!/bin/sh
set -e
echo "building $(git rev-parse HEAD 2>/dev/null || echo nogit)"
mkdir -p dist
cp server.py dist/
echo "site $(cat version.txt) $(git rev-parse HEAD)" > dist/index.html
echo "VERSION=$(cat version.txt)" > build.properties
echo "COMMIT=$(git rev-parse HEAD)" >> build.properties
'''


class GitRepo:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="mizzen-bb-git-")
        self.git("init", "-q", "-b", "main")
        self.write("server.py", SERVER_PY)
        self.write("build.sh", BUILD_SH, mode=0o755)

    def git(self, *args):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
        return subprocess.run(["git", "-C", self.path] + list(args), check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    def write(self, name, text, mode=0o644):
        p = os.path.join(self.path, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)

    def commit(self, version):
        self.write("version.txt", version + "\n")
        self.git("add", ".")
        self.git("commit", "-q", "-m", "version " + version)
        return self.git("rev-parse", "HEAD")

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


def stage_named(e, name):
    for s in e["stages"]:
        if s["name"] == name:
            return s
    raise AssertionError("no stage %r in %s" % (name, [s["name"] for s in e["stages"]]))


def build_stage(repo, ref, **extra):
    s = {"refId": "build", "type": "runJob", "name": "Build", "cloudProvider": "local",
         "account": "local", "git": {"url": repo, "ref": ref}, "command": ["./build.sh"],
         "timeoutSeconds": 60, "outputArtifacts": [{"name": "app-package", "path": "dist"}],
         "propertyFile": "build.properties"}
    s.update(extra)
    return s


def bake_stage(**extra):
    s = {"refId": "bake", "type": "bake", "name": "Bake", "requisiteStageRefIds": ["build"],
         "cloudProviderType": "local", "package": "app-package", "regions": ["east", "west"],
         "command": ["sh", "-c", "sleep 1.5; echo baked > baked.txt"],
         "startCommand": ["python3", "$IMAGE_DIR/server.py"],
         "healthCheck": {"path": "/health"}}
    s.update(extra)
    return s


class BuildBake(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cfg_dir = tempfile.mkdtemp(prefix="mizzen-bb-cfg-")
        cfg = os.path.join(cls.cfg_dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"providers": {"local": {"accounts": [
                {"name": "local", "regions": ["east", "west"]}]}}}, f)
        cls.srv = Server(extra_args=["--config", cfg], keep_data=True)
        cls.srv.start()
        create_app(cls.srv, APP)
        cls.repo = GitRepo()
        cls.commit1 = cls.repo.commit("1.0")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        kill_cloud(cls.srv.data_dir)
        cls.srv.keep_data = False
        try:
            cls.srv.close()
        finally:
            shutil.rmtree(cls.srv.data_dir, ignore_errors=True)
            shutil.rmtree(cls.cfg_dir, ignore_errors=True)
            cls.repo.close()

    def run_p(self, name, stages, timeout=90, trigger=None, **cfg):
        p = {"application": APP, "name": name, "stages": stages}
        p.update(cfg)
        save_pipeline(self.srv, p)
        eid = run_pipeline(self.srv, APP, name, trigger)
        return wait_execution(self.srv, eid, timeout=timeout)

    def assertSucceeded(self, e):
        if e["status"] != "SUCCEEDED":
            errs = [(s["name"], s["status"], s["context"].get("exception"))
                    for s in e["stages"] if s["status"] not in ("SUCCEEDED", "NOT_STARTED")]
            self.fail("execution %s: %s" % (e["status"], errs))

    # -- the main story ------------------------------------------------------

    def test_1_build_bake_deploy_and_reuse(self):
        srv = self.srv
        lb_port = free_port()
        t = run_task(srv, APP, [{
            "type": "upsertLoadBalancer", "cloudProvider": "local", "credentials": "local",
            "region": "east", "name": APP + "-web",
            "listeners": [{"externalPort": lb_port, "externalProtocol": "HTTP"}],
            "healthCheck": {"path": "/health"}}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        deploy = {"refId": "deploy", "type": "deploy", "name": "Deploy",
                  "requisiteStageRefIds": ["bake"], "clusters": [{
                      "application": APP, "stack": "web", "freeFormDetails": "",
                      "account": "local", "cloudProvider": "local", "region": "east",
                      "capacity": {"min": 1, "max": 1, "desired": 1},
                      "strategy": "redblack", "healthCheck": {"path": "/health"},
                      "loadBalancers": [APP + "-web"]}]}
        e = self.run_p("ship", [build_stage(self.repo.path, self.commit1), bake_stage(), deploy])
        self.assertSucceeded(e)
        build = stage_named(e, "Build")
        self.assertEqual(build["outputs"]["VERSION"], "1.0")
        self.assertEqual(build["outputs"]["COMMIT"], self.commit1)
        art = build["outputs"]["artifacts"][0]
        self.assertEqual(art["type"], "mizzen/file")
        # the artifact downloads through the API; the log is readable
        s, _ = srv.request("GET", "/artifacts/local/" + art["reference"])
        self.assertEqual(s, 200)
        s, log = srv.request("GET", build["context"]["jobLogUrl"])
        self.assertEqual(s, 200)
        self.assertIn("building " + self.commit1, log if isinstance(log, str) else str(log))
        # two bakes, one per region, at the same time
        east, west = stage_named(e, "Bake in east"), stage_named(e, "Bake in west")
        for b in (east, west):
            self.assertEqual(b["status"], "SUCCEEDED")
            self.assertFalse(b["context"]["previouslyBaked"])
        self.assertLess(east["startTime"], west["endTime"])
        self.assertLess(west["startTime"], east["endTime"])
        self.assertLess(east["context"]["bakeStartTime"], west["context"]["bakeEndTime"])
        self.assertLess(west["context"]["bakeStartTime"], east["context"]["bakeEndTime"])
        bake = stage_named(e, "Bake")
        dd = {d["region"]: d for d in bake["outputs"]["deploymentDetails"]}
        self.assertEqual(set(dd), {"east", "west"})
        image = dd["east"]["imageId"]
        self.assertEqual(dd["east"]["ami"], image)
        self.assertEqual(dd["east"]["cloudProvider"], "local")
        # the deploy took the baked image for its region by itself
        s, groups = srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200)
        east_groups = [g["name"] for g in groups if g["region"] == "east"]
        self.assertEqual(len(east_groups), 1, groups)
        s, full = srv.request("GET", "/serverGroups/local/east/" + east_groups[0])
        self.assertEqual(full["image"]["imageId"], image)
        status, body = wait_until(lambda: (lambda r: r if r[0] == 200 else None)(
            get("http://127.0.0.1:%d/" % lb_port)), timeout=20, message="LB serves")
        self.assertEqual(body.strip(), "site 1.0 " + self.commit1)

        # images API
        s, found = srv.request("GET", "/images/find?provider=local&q=app-package")
        self.assertEqual(s, 200)
        self.assertIn(image, [i["imageId"] for i in found])
        hit = [i for i in found if i["imageId"] == image][0]
        self.assertEqual(hit["amis"]["east"], [image])
        self.assertIn("creationDate", hit["attributes"])
        s, one = srv.request("GET", "/images/local/east/%s?single=true" % image)
        self.assertEqual(s, 200)
        self.assertEqual(one["manifest"]["command"], ["python3", "$IMAGE_DIR/server.py"])
        s, _ = srv.request("PUT", "/images/local/east/%s/tags" % image, {"tags": {"stage": "qa"}})
        self.assertEqual(s, 200)
        s, body = srv.request("DELETE", "/images/local/east/" + image)
        self.assertEqual(s, 409, body)
        self.assertIn("used by server group", body["message"])
        # findImageFromTags finds it by package name and tag
        e4 = self.run_p("find", [{"refId": "1", "type": "findImageFromTags", "name": "Find",
                                  "packageName": "app-package", "tags": {"stage": "qa"},
                                  "regions": ["east"], "cloudProvider": "local"}], timeout=30)
        self.assertSucceeded(e4)
        self.assertEqual(e4["stages"][0]["outputs"]["deploymentDetails"][0]["imageId"], image)

        # same commit again: the bake is reused, no new bake work
        e2 = self.run_p("bake-only", [build_stage(self.repo.path, self.commit1), bake_stage()])
        self.assertSucceeded(e2)
        for r in ("east", "west"):
            b = stage_named(e2, "Bake in " + r)
            self.assertTrue(b["context"]["previouslyBaked"], b["context"])
            self.assertEqual(b["context"]["imageId"], image)
            self.assertLess(b["context"]["bakeEndTime"] - b["context"]["bakeStartTime"], 1500)
        self.assertTrue(stage_named(e2, "Bake")["context"]["previouslyBaked"])
        # rebake: true bakes again
        e3 = self.run_p("rebake", [build_stage(self.repo.path, self.commit1),
                                      bake_stage(rebake=True)])
        self.assertSucceeded(e3)
        for r in ("east", "west"):
            b = stage_named(e3, "Bake in " + r)
            self.assertFalse(b["context"]["previouslyBaked"])
            self.assertGreaterEqual(b["context"]["bakeEndTime"] - b["context"]["bakeStartTime"],
                                    1400)

    # -- failures ---------------------------------------------------------------

    def test_2_failing_build_shows_log_tail(self):
        e = self.run_p("fail", [build_stage(self.repo.path, "main", command=[
            "sh", "-c", "echo compiling; echo 'error: missing semicolon' >&2; exit 3"])],
            timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        err = e["stages"][0]["context"]["exception"]["details"]["error"]
        self.assertIn("exit code 3", err)
        self.assertIn("error: missing semicolon", err)

    def test_3_timeout_kills_the_job_and_its_children(self):
        t0 = time.time()
        e = self.run_p("slow", [build_stage(self.repo.path, "main", timeoutSeconds=2, command=[
            "sh", "-c", "sleep 4242 & sleep 4243 & wait"])], timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertLess(time.time() - t0, 30)
        self.assertIn("timed out after 2 s",
                      e["stages"][0]["context"]["exception"]["details"]["error"])
        left = subprocess.run(["pgrep", "-f", "sleep 424[23]"], capture_output=True, text=True)
        self.assertEqual(left.stdout.strip(), "", "children of the job survived")

    def test_4_sandbox_holds(self):
        db = os.path.join(self.srv.data_dir, "mizzen.db")
        self.assertTrue(os.path.exists(db))
        e = self.run_p("read-db", [{"refId": "1", "type": "runJob", "name": "Peek",
                                    "cloudProvider": "local",
                                    "command": ["cat", db]}], timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("No such file", e["stages"][0]["context"]["exception"]["details"]["error"])
        outside = "/var/tmp/mizzen-bb-escaped-%d" % os.getpid()
        e = self.run_p("write-out", [{"refId": "1", "type": "runJob", "name": "Escape",
                                      "cloudProvider": "local",
                                      "command": ["touch", outside]}], timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("Read-only file system",
                      e["stages"][0]["context"]["exception"]["details"]["error"])
        self.assertFalse(os.path.exists(outside))

    def test_7_kill_9_during_a_build_and_during_a_bake(self):
        """The build job and the bake outlive a crash of the server: after a
        restart on the same data the job is re-checked by pid and start
        time (not run again), the bake is picked up, and the execution
        finishes."""
        srv = self.srv
        stages = [build_stage(self.repo.path, "main", command=[
                      "sh", "-c", "echo run-$((40+2)); sleep 2; ./build.sh"]),
                  bake_stage(regions=["east"], rebake=True,
                             command=["sh", "-c", "sleep 2; echo baked > baked.txt"])]
        save_pipeline(srv, {"application": APP, "name": "crashy-build", "stages": stages})
        eid = run_pipeline(srv, APP, "crashy-build")

        def job_log():
            url = stage_named(get_execution(srv, eid), "Build")["context"].get("jobLogUrl")
            if not url:
                return ""
            status, body = srv.request("GET", url)
            return body if status == 200 and isinstance(body, str) else ""
        wait_until(lambda: "run-42" in job_log(), timeout=30, message="the build to start")
        srv.kill9()
        srv.start()

        def bake_running():
            e = get_execution(srv, eid)
            return any(s["name"] == "Bake in east" and s["status"] == "RUNNING"
                       for s in e["stages"])
        wait_until(bake_running, timeout=60, message="the bake to start after the build")
        srv.kill9()
        srv.start()
        e = wait_execution(srv, eid, timeout=90)
        self.assertSucceeded(e)
        self.assertEqual(job_log().count("run-42"), 1, "the build ran once, across the crash:\n" + job_log())
        self.assertEqual(stage_named(e, "Build")["outputs"].get("VERSION"), "1.0")
        self.assertEqual(len(stage_named(e, "Bake")["outputs"]["deploymentDetails"]), 1)

    def test_5_cancel_kills_the_job(self):
        p = {"application": APP, "name": "cancel-me", "stages": [
            build_stage(self.repo.path, "main", command=["sh", "-c", "sleep 4343 & wait"])]}
        save_pipeline(self.srv, p)
        eid = run_pipeline(self.srv, APP, "cancel-me")
        wait_until(lambda: subprocess.run(["pgrep", "-f", "sleep 4343"],
                                          capture_output=True).returncode == 0,
                   timeout=20, message="job running")
        s, _ = self.srv.request("PUT", "/pipelines/%s/cancel" % eid)
        self.assertIn(s, (200, 202))
        wait_execution(self.srv, eid, timeout=30)
        wait_until(lambda: subprocess.run(["pgrep", "-f", "sleep 4343"],
                                          capture_output=True).returncode != 0,
                   timeout=10, message="job killed on cancel")

    def test_6_expected_artifacts(self):
        srv = self.srv
        expected = [{"id": "pkg", "displayName": "app-tarball",
                     "matchArtifact": {"type": "embedded/base64", "name": "app-.*\\.tar\\.gz"}}]
        p = {"application": APP, "name": "expects", "expectedArtifacts": expected,
             "triggers": [{"type": "webhook", "source": "bb-expects", "enabled": True}],
             "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]}
        save_pipeline(srv, p)
        # a manual run without the artifact is refused, naming it
        s, body = srv.request("POST", "/pipelines/%s/expects" % APP, {"type": "manual"})
        self.assertEqual(s, 400, body)
        self.assertIn("Unmatched expected artifact app-tarball", body["message"])
        # with a matching artifact it runs, bound into resolvedExpectedArtifacts
        art = {"type": "embedded/base64", "name": "app-1.2.tar.gz", "reference": "aGVsbG8="}
        eid = run_pipeline(srv, APP, "expects", {"type": "manual", "artifacts": [art]})
        e = wait_execution(srv, eid, timeout=30)
        self.assertEqual(e["status"], "SUCCEEDED")
        r = e["trigger"]["resolvedExpectedArtifacts"][0]
        self.assertEqual(r["boundArtifact"]["name"], "app-1.2.tar.gz")
        # a name that does not match fully does not bind
        s, body = srv.request("POST", "/pipelines/%s/expects" % APP, {
            "type": "manual", "artifacts": [dict(art, name="xapp-1.2.tar.gz.bak")]})
        self.assertEqual(s, 400, body)
        # a webhook event without it creates a TERMINAL execution saying why
        s, _ = srv.request("POST", "/webhooks/webhook/bb-expects", {"hello": "world"})
        self.assertIn(s, (200, 202))

        def failed():
            st, lst = srv.request("GET", "/applications/%s/pipelines?limit=20" % APP)
            for x in lst if st == 200 else []:
                if x.get("name") == "expects" and x["trigger"].get("type") == "webhook":
                    return x
            return None
        x = wait_until(failed, timeout=20, message="webhook execution")
        self.assertEqual(x["status"], "TERMINAL")
        self.assertIn("Unmatched expected artifact app-tarball", json.dumps(x))

    def test_8_upsert_image_tags(self):
        srv = self.srv
        # after a bake: the images it made (both regions) are tagged
        tag = {"refId": "tag", "type": "upsertImageTags", "name": "Tag",
               "requisiteStageRefIds": ["bake"], "cloudProvider": "local",
               "tags": {"stage": "prod", "owner": "team-a"}}
        e = self.run_p("tag", [build_stage(self.repo.path, self.commit1), bake_stage(), tag])
        self.assertSucceeded(e)
        baked = {d["imageId"] for d in stage_named(e, "Bake")["outputs"]["deploymentDetails"]}
        t = stage_named(e, "Tag")
        self.assertEqual({x["imageId"] for x in t["context"]["targets"]}, baked)
        self.assertEqual([k["name"] for k in t["tasks"]], ["upsertImageTags",
                                                           "waitForTaggedImage"])
        for image in baked:
            s, one = srv.request("GET", "/images/local/east/%s?single=true" % image)
            self.assertEqual(s, 200, one)
            self.assertEqual(one["tags"].get("stage"), "prod", one)
            self.assertEqual(one["tags"].get("owner"), "team-a", one)
            self.assertIn(image, t["context"]["originalTags"][one["imageName"]])
        # findImageFromTags finds it by the new tag; an explicit name retags
        # (a null value removes a tag)
        image = sorted(baked)[0]
        s, one = srv.request("GET", "/images/local/east/%s?single=true" % image)
        e = self.run_p("retag", [
            {"refId": "1", "type": "upsertImageTags", "name": "Retag", "cloudProvider": "local",
             "imageNames": [one["imageName"]], "tags": {"stage": "retired", "owner": None}},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "findImageFromTags",
             "name": "Find", "packageName": "app-package", "tags": {"stage": "retired"},
             "regions": ["east"], "cloudProvider": "local"}], timeout=30)
        self.assertSucceeded(e)
        retagged = stage_named(e, "Find")["outputs"]["deploymentDetails"][0]["imageId"]
        s, one = srv.request("GET", "/images/local/east/%s?single=true" % retagged)
        self.assertEqual(one["tags"].get("stage"), "retired")
        self.assertNotIn("owner", one["tags"])
        # nothing to tag: named image missing, or no image upstream
        e = self.run_p("tag-missing", [{"refId": "1", "type": "upsertImageTags", "name": "Tag",
                                        "cloudProvider": "local", "imageNames": ["nope-1.0"],
                                        "tags": {"a": "b"}}], timeout=30)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("No image found (imageName: nope-1.0)", json.dumps(e))
        e = self.run_p("tag-nothing", [{"refId": "1", "type": "upsertImageTags", "name": "Tag",
                                        "cloudProvider": "local", "tags": {"a": "b"}}],
                       timeout=30)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("Unable to determine source image(s)", json.dumps(e))

    def test_9_ci_builds_and_artifact_names(self):
        srv = self.srv
        e = self.run_p("ci-build", [build_stage(self.repo.path, self.commit1)])
        self.assertSucceeded(e)
        job_id = stage_named(e, "Build")["context"]["jobStatus"]["name"]
        # Deck's CI view: the builds of the repository, by owner and name
        owner = os.path.basename(os.path.dirname(self.repo.path))
        slug = os.path.basename(self.repo.path)
        s, builds = srv.request("GET", "/ci/builds?repoType=git&projectKey=%s&repoSlug=%s"
                                % (owner, slug))
        self.assertEqual(s, 200, builds)
        mine = [b for b in builds if b["id"] == job_id]
        self.assertEqual(len(mine), 1, builds)
        b = mine[0]
        self.assertEqual(b["result"], "SUCCESS")
        self.assertFalse(b["building"])
        self.assertEqual(b["scm"][0]["sha1"], self.commit1)
        self.assertEqual(b["properties"]["repoSlug"], slug)
        self.assertEqual(b["number"], max(x["number"] for x in builds))
        self.assertEqual(builds[0]["id"], job_id, "newest first")
        s, other = srv.request("GET", "/ci/builds?repoType=git&projectKey=%s&repoSlug=nope"
                               % owner)
        self.assertEqual(other, [])
        s, running = srv.request("GET", "/ci/builds?repoType=git&projectKey=%s&repoSlug=%s"
                                 "&completionStatus=INCOMPLETE" % (owner, slug))
        self.assertEqual(running, [])
        s, out = srv.request("GET", "/ci/builds/%s/output?start=-1&limit=4095" % job_id)
        self.assertEqual(s, 200, out)
        self.assertIn("building " + self.commit1, out["log"])
        s, tail = srv.request("GET", "/ci/builds/%s/output?start=1&limit=1" % job_id)
        self.assertEqual(tail["log"], out["log"].splitlines(True)[1])
        s, body = srv.request("GET", "/ci/builds/01NOSUCHJOB0000000000000000/output")
        self.assertEqual(s, 404, body)
        # the artifact account lists what builds published, by name and version
        s, names = srv.request("GET", "/artifacts/account/mizzen/names?type=mizzen/file")
        self.assertEqual(s, 200, names)
        self.assertIn("app-package", names)
        s, versions = srv.request("GET", "/artifacts/account/mizzen/versions?type=mizzen/file"
                                  "&artifactName=app-package")
        self.assertEqual(s, 200, versions)
        self.assertIn(self.commit1, versions)
        s, none = srv.request("GET", "/artifacts/account/mizzen/names?type=docker/image")
        self.assertEqual(none, [])
        s, body = srv.request("GET", "/artifacts/account/elsewhere/names")
        self.assertEqual(s, 404, body)

    def test_9b_delete_image(self):
        srv = self.srv
        delete = {"refId": "del", "type": "deleteImage", "name": "Delete image",
                  "requisiteStageRefIds": ["bake"], "cloudProvider": "local",
                  "credentials": "local", "region": "east",
                  "imageIds": ["${#stage('Bake')['outputs']['deploymentDetails'][0]['imageId']}"]}
        e = self.run_p("bake-and-delete", [build_stage(self.repo.path, self.commit1),
                                           bake_stage(rebake=True, regions=["east"]), delete])
        self.assertSucceeded(e)
        image = stage_named(e, "Bake")["outputs"]["deploymentDetails"][0]["imageId"]
        self.assertEqual(stage_named(e, "Delete image")["context"]["deletedImages"], [image])
        s, body = srv.request("GET", "/images/local/east/%s?single=true" % image)
        self.assertEqual(s, 404, body)
        # already gone: deleted all the same
        e = self.run_p("delete-again", [{"refId": "1", "type": "deleteImage", "name": "Again",
                                         "cloudProvider": "local", "imageIds": [image]}],
                       timeout=30)
        self.assertSucceeded(e)


if __name__ == "__main__":
    unittest.main()
