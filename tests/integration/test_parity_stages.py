"""Stages and preconditions that real pipelines use, over the local cloud:
the clusterSize precondition, upsertLoadBalancers, preconfigured jobs,
findArtifactFromExecution and savePipelinesFromArtifact."""
import base64
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server, free_port, http  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution  # noqa: E402
from cloud_util import run_task, cluster_spec, kill_cloud  # noqa: E402

APP = "sizeapp"


class CloudStages(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.conf_dir = tempfile.mkdtemp(prefix="mizzen-stages-")
        conf = os.path.join(cls.conf_dir, "config.json")
        with open(conf, "w") as f:
            json.dump({"job": {"preconfigured": {"local": [{
                "type": "greetJob", "label": "Greet", "description": "writes a greeting",
                "producesArtifacts": True,
                "parameters": [{"name": "greeting", "label": "Greeting",
                                "mapping": "env.GREETING", "defaultValue": "hello"}],
                "runJob": {"command": ["sh", "-c", "echo \"$GREETING\" > greeting.txt"],
                           "outputArtifacts": [{"name": "greeting.txt",
                                                "path": "greeting.txt"}]}}]}}}, f)
        cls.srv = Server(extra_args=["--config", conf], keep_data=True).start()
        create_app(cls.srv, APP)
        spec = dict(cluster_spec(APP, "v1", "none", capacity=1), type="createServerGroup")
        t = run_task(cls.srv, APP, [spec], timeout=90)
        assert t["status"] == "SUCCEEDED", t

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        kill_cloud(cls.srv.data_dir)
        cls.srv.keep_data = False
        try:
            cls.srv.close()
        finally:
            shutil.rmtree(cls.srv.data_dir, ignore_errors=True)
            shutil.rmtree(cls.conf_dir, ignore_errors=True)

    def run_stages(self, name, stages, trigger=None, **cfg):
        save_pipeline(self.srv, dict({"application": APP, "name": name, "stages": stages},
                                     **cfg))
        return wait_execution(self.srv, run_pipeline(self.srv, APP, name, trigger),
                              timeout=60)

    def test_upsert_load_balancers(self):
        ports = [free_port(), free_port()]
        e = self.run_stages("lbs", [{
            "refId": "1", "type": "upsertLoadBalancers", "name": "LBs",
            "cloudProvider": "local", "credentials": "local", "region": "local",
            "loadBalancers": [
                {"name": APP + "-a", "listeners": [{"externalPort": ports[0]}]},
                {"name": APP + "-b", "listeners": [{"externalPort": ports[1]}],
                 "healthCheck": {"path": "/health"}}]}])
        self.assertEqual(e["status"], "SUCCEEDED", e)
        s, lbs = self.srv.request("GET", "/applications/%s/loadBalancers" % APP)
        names = {lb["name"] for lb in lbs}
        self.assertTrue({APP + "-a", APP + "-b"} <= names, names)
        e = self.run_stages("lbs-bad", [{"refId": "1", "type": "upsertLoadBalancers",
                                         "name": "LBs", "loadBalancers": []}])
        self.assertEqual(e["status"], "TERMINAL", e)

    def test_preconfigured_job_and_artifacts_from_executions(self):
        s, jobs = self.srv.request("GET", "/jobs/preconfigured")
        self.assertEqual([(j["type"], j["parameters"][0]["name"]) for j in jobs],
                         [("greetJob", "greeting")])
        # the job with a parameter, and with its default
        e = self.run_stages("greet", [{"refId": "1", "type": "greetJob", "name": "Greet",
                                       "parameters": {"greeting": "bonjour"}}])
        self.assertEqual(e["status"], "SUCCEEDED", e)
        art = e["stages"][0]["outputs"]["artifacts"][0]
        status, body, _ = http("GET", self.srv.url + "/artifacts/local/" + art["reference"])
        self.assertEqual((status, body.strip()), (200, "bonjour"))
        e = self.run_stages("greet-default", [{"refId": "1", "type": "greetJob",
                                               "name": "Greet"}])
        ref = e["stages"][0]["outputs"]["artifacts"][0]["reference"]
        status, body, _ = http("GET", self.srv.url + "/artifacts/local/" + ref)
        self.assertEqual(body.strip(), "hello")

        # another pipeline finds the artifact of greet's newest success
        s, greet = self.srv.request("GET", "/applications/%s/pipelineConfigs/greet" % APP)
        e = self.run_stages("find", [{
            "refId": "1", "type": "findArtifactFromExecution", "name": "Find",
            "application": APP, "pipeline": greet["id"],
            "executionOptions": {"successful": True},
            "expectedArtifacts": [{"id": "g", "displayName": "greeting",
                                   "matchArtifact": {"type": "mizzen/file",
                                                     "name": "greeting.txt"}}]}])
        self.assertEqual(e["status"], "SUCCEEDED", e)
        self.assertEqual(e["stages"][0]["outputs"]["artifacts"][0]["reference"],
                         art["reference"])
        e = self.run_stages("find-none", [{
            "refId": "1", "type": "findArtifactFromExecution", "name": "Find",
            "application": APP, "pipeline": greet["id"],
            "expectedArtifacts": [{"id": "g", "displayName": "nothing",
                                   "matchArtifact": {"type": "docker/image"}}]}])
        self.assertEqual(e["status"], "TERMINAL", e)
        self.assertIn("Could not find an artifact matching nothing", str(e))

    def test_save_pipelines_from_artifact(self):
        def pipes(wait):
            doc = {APP: [{"name": "generated", "stages": [
                {"refId": "1", "type": "wait", "name": "w", "waitTime": wait}]}]}
            return {"type": "embedded/base64", "name": "pipelines.json",
                    "reference": base64.b64encode(json.dumps(doc).encode()).decode()}
        cfg = {"expectedArtifacts": [{"id": "pipes", "displayName": "pipelines",
                                      "matchArtifact": {"type": "embedded/base64",
                                                        "name": "pipelines.json"}}]}
        stage = [{"refId": "1", "type": "savePipelinesFromArtifact", "name": "Save",
                  "pipelinesArtifactId": "pipes"}]
        e = self.run_stages("saver", stage, {"artifacts": [pipes(1)]}, **cfg)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        self.assertEqual(e["stages"][0]["outputs"]["pipelinesCreated"],
                         [{"application": APP, "name": "generated"}])
        s, got = self.srv.request("GET", "/applications/%s/pipelineConfigs/generated" % APP)
        self.assertEqual(got["stages"][0]["waitTime"], 1)
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, "saver",
                                                  {"artifacts": [pipes(2)]}), timeout=60)
        self.assertEqual(e["stages"][0]["outputs"]["pipelinesUpdated"],
                         [{"application": APP, "name": "generated"}])
        s, got2 = self.srv.request("GET", "/applications/%s/pipelineConfigs/generated" % APP)
        self.assertEqual((got2["id"], got2["stages"][0]["waitTime"]), (got["id"], 2))

    def check(self, name, **pre):
        precondition = {"type": "clusterSize", "failPipeline": True, "context": dict(
            {"cluster": APP + "-web", "credentials": "local", "regions": ["local"]}, **pre)}
        save_pipeline(self.srv, {"application": APP, "name": name, "stages": [
            {"refId": "1", "type": "checkPreconditions", "name": "Check",
             "preconditions": [precondition]}]})
        return wait_execution(self.srv, run_pipeline(self.srv, APP, name), timeout=30)

    def test_cluster_size(self):
        e = self.check("one", expected=1)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("atleast", expected=1, comparison=">=")
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("two", expected=2)
        self.assertEqual(e["status"], "TERMINAL", e)
        self.assertIn("expected == 2 server groups in local but found 1", str(e))
        e = self.check("other-cluster", expected=0, cluster=APP + "-nope")
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("bad-op", expected=1, comparison="~")
        self.assertEqual(e["status"], "TERMINAL", e)
        self.assertIn("unknown comparison", str(e))
        # only enabled ones: after the group is disabled, none
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        t = run_task(self.srv, APP, [{"type": "disableServerGroup", "cloudProvider": "local",
                                      "credentials": "local", "region": "local",
                                      "serverGroupName": groups[0]["name"]}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        e = self.check("enabled", expected=0, onlyEnabledServerGroups=True)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("any", expected=1)
        self.assertEqual(e["status"], "SUCCEEDED", e)


if __name__ == "__main__":
    unittest.main()
