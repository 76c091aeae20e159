"""A deploy's image given as a host path must lie under
providers.local.imageRoots, as a bake's package must lie under
bakery.packageRoots (issue 9): otherwise a pipeline could deploy, and so
read, any directory of the server's host. Refused with a 400 JSON error
naming the setting at save and at start (pipelines and orchestrations), and
TERMINAL when a path reached through an expression is outside; image ids
(baked or imported) are always accepted.
"""
import os
import shutil
import tempfile
import unittest

from cloud_util import APP_DIR, close_cloud_server
from config_util import start_refused
from mizzen_harness import EXAMPLES, Server
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution

APP = "roots"
SETTING = "providers.local.imageRoots"


def deploy(name, image, **extra):
    cluster = {"application": APP, "stack": name, "freeFormDetails": "", "account": "local",
               "cloudProvider": "local", "region": "local",
               "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "",
               "image": image, "command": ["sleep", "600"]}
    cluster.update(extra)
    return {"application": APP, "name": name,
            "parameterConfig": [{"name": "image", "default": image}],
            "stages": [{"refId": "1", "type": "deploy", "name": "Deploy",
                        "clusters": [cluster]}]}


class ImageRoots(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mizzen-roots-")
        cls.root = os.path.join(cls.tmp, "images")
        os.makedirs(os.path.join(cls.root, "app"))
        with open(os.path.join(cls.root, "app", "app.txt"), "w") as f:
            f.write("hello\n")
        os.symlink("/etc", os.path.join(cls.root, "etc-link"))
        cls.srv = Server(image_roots=(EXAMPLES, cls.root), keep_data=True).start()
        create_app(cls.srv, APP)

    @classmethod
    def tearDownClass(cls):
        close_cloud_server(cls.srv, cls.tmp)

    def assertRefused(self, status, body, image):
        self.assertEqual(status, 400, body)
        self.assertEqual(body["status"], 400, body)
        self.assertIn("error", body)
        self.assertIn(SETTING, body["message"])
        self.assertIn(image, body["message"])

    def test_save_refuses_paths_outside_the_roots(self):
        for name, image in (("etc", "/etc"), ("data", self.srv.data_dir),
                            ("dotdot", os.path.join(self.root, "..", "..")),
                            ("link", os.path.join(self.root, "etc-link")),
                            ("nowhere", "/nonexistent/app")):
            with self.subTest(image=image):
                status, body = self.srv.request("POST", "/pipelines", deploy(name, image))
                self.assertRefused(status, body, image)
        # the other stages that take an image, and the cluster's other keys
        status, body = self.srv.request("POST", "/pipelines", {
            "application": APP, "name": "create", "stages": [{
                "refId": "1", "type": "createServerGroup", "name": "Create",
                "cloudProvider": "local", "account": "local", "region": "local",
                "imageId": "/root", "command": ["true"]}]})
        self.assertRefused(status, body, "/root")
        status, _ = self.srv.request("GET", "/applications/%s/pipelineConfigs/create" % APP)
        self.assertEqual(status, 404)

    def test_orchestration_refused(self):
        status, body = self.srv.request("POST", "/applications/%s/tasks" % APP, {
            "application": APP, "description": "deploy /etc", "job": [{
                "type": "createServerGroup", "cloudProvider": "local", "credentials": "local",
                "region": "local", "application": APP, "stack": "orch",
                "capacity": {"min": 1, "max": 1, "desired": 1}, "image": "/etc",
                "command": ["true"]}]})
        self.assertRefused(status, body, "/etc")

    def test_paths_under_the_roots_and_image_ids_deploy(self):
        save_pipeline(self.srv, deploy("ok", os.path.join(self.root, "app")))
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, "ok"), timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", e["stages"][-1]["context"])
        # the image it imported deploys by id from anywhere
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        name = [g["name"] for g in groups if g["name"].startswith(APP + "-ok-")][0]
        s, full = self.srv.request("GET", "/serverGroups/local/local/" + name)
        image = full["image"]["imageId"]
        save_pipeline(self.srv, deploy("byid", image))
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, "byid"), timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", e["stages"][-1]["context"])
        # the repository's examples (the harness's root) save too
        save_pipeline(self.srv, deploy("example", APP_DIR))

    def test_expression_judged_when_it_deploys(self):
        p = deploy("expr", "${parameters.image}")
        p["parameterConfig"] = [{"name": "image", "default": "/etc"}]
        save_pipeline(self.srv, p)
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, "expr"), timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        errors = " ".join(str(s["context"].get("exception", "")) for s in e["stages"])
        self.assertIn(SETTING, errors)
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertFalse([g for g in groups if g["name"].startswith(APP + "-expr-")], groups)


class ImageRootsSetting(unittest.TestCase):

    def test_relative_roots_refused_at_start_up(self):
        rc, err = start_refused({"providers": {"local": {"imageRoots": ["examples"]}}})
        self.assertEqual(rc, 2, err)
        self.assertIn(SETTING + " must be a list of absolute paths", err)


class ImageRootsAtStart(unittest.TestCase):
    """A pipeline saved while its image was allowed is refused at start once
    the setting no longer allows it."""

    def test_start_refused_after_the_roots_change(self):
        tmp = tempfile.mkdtemp(prefix="mizzen-roots-start-")
        srv = Server(image_roots=(EXAMPLES, tmp))
        try:
            srv.start()
            create_app(srv, APP)
            save_pipeline(srv, deploy("later", tmp))
            srv.image_roots = [EXAMPLES]
            srv.restart()
            status, body = srv.request("POST", "/pipelines/%s/later" % APP, {"type": "manual"})
            self.assertEqual(status, 400, body)
            self.assertIn(SETTING, body["message"])
            s, execs = srv.request("GET", "/applications/%s/pipelines" % APP)
            self.assertEqual(execs, [])
        finally:
            srv.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
