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
from mizzen_flow import (Recorder, create_app, run_pipeline, save_pipeline,  # noqa: E402
                         wait_execution)
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


class PreconfiguredWebhooks(unittest.TestCase):
    """A webhook.preconfigured entry of the config is a stage type that
    runs: its URL, headers, payload and polling, with the stage's
    parameterValues (or the defaults), against a local listener."""

    def test_preconfigured_webhook_runs_with_its_parameters(self):
        with Recorder(polls_before_success=2) as rec:
            conf_dir = tempfile.mkdtemp(prefix="mizzen-hooks-")
            self.addCleanup(shutil.rmtree, conf_dir, True)
            conf = os.path.join(conf_dir, "config.json")
            with open(conf, "w") as f:
                json.dump({"webhook": {"preconfigured": [{
                    "type": "notifyBoard", "label": "Notify the board", "enabled": True,
                    "description": "Tells the deploy board", "method": "POST",
                    "url": rec.url + "/deploys/${parameterValues.env}",
                    "customHeaders": {"X-Board-Token": ["${#secret('board')}"]},
                    "payload": {"tag": "board", "app": "${execution.application}",
                                "env": "${parameterValues.env}",
                                "version": "${parameterValues.version}"},
                    "waitForCompletion": True, "statusUrlResolution": "getMethod",
                    "statusJsonPath": "$.status", "successStatuses": "SUCCESS",
                    "parameters": [{"name": "env", "label": "Environment",
                                    "defaultValue": "test"},
                                   {"name": "version", "label": "Version"}]}, {
                    "type": "wait", "label": "takes a built-in type", "url": rec.url}, {
                    "type": "opsBoard", "label": "Ops board (ops only)",
                    "url": rec.url + "/ops", "method": "POST", "payload": {"tag": "ops"},
                    "permissions": {"READ": ["ops"], "WRITE": ["ops"]}}]}}, f)
            with Server(extra_args=["--config", conf]) as srv:
                create_app(srv, "hookapp")
                s, body = srv.request("PUT", "/secrets/board", {"value": "s3cret-token"})
                self.assertIn(s, (200, 201, 204), body)
                s, types = srv.request("GET", "/stageTypes")
                self.assertIn("notifyBoard", [t["type"] for t in types])
                s, hooks = srv.request("GET", "/webhooks/preconfigured")
                board = [h for h in hooks if h["type"] == "notifyBoard"][0]
                self.assertIn("url", board["preconfiguredProperties"])

                # the stage's url loses to the configured one; its parameters win
                save_pipeline(srv, {"application": "hookapp", "name": "board",
                                    "parameterConfig": [{"name": "v", "default": "0.1"}],
                                    "stages": [{"refId": "1", "type": "notifyBoard",
                                                "name": "Board", "url": "http://example.invalid/",
                                                "parameterValues": {
                                                    "env": "prod",
                                                    "version": "${trigger.parameters.v}"}}]})
                e = wait_execution(srv, run_pipeline(srv, "hookapp", "board", {
                    "type": "manual", "parameters": {"v": "1.2"}}), timeout=30)
                self.assertEqual(e["status"], "SUCCEEDED", e)
                posts = [r for r in rec.requests if r[0] == "POST"]
                self.assertEqual(len(posts), 1, rec.requests)
                method, path, headers, payload = posts[0]
                self.assertEqual(path, "/deploys/prod")
                self.assertEqual(headers.get("X-Board-Token"), "s3cret-token")
                self.assertEqual(payload, {"tag": "board", "app": "hookapp", "env": "prod",
                                           "version": "1.2"})
                polls = [r for r in rec.requests if r[0] == "GET"]
                self.assertEqual([r[1] for r in polls], ["/deploys/prod"] * 3)
                st = e["stages"][0]
                self.assertEqual([t["name"] for t in st["tasks"]],
                                 ["createWebhook", "monitorWebhook"])
                self.assertEqual(st["context"]["webhook"]["statusCode"], "OK")
                self.assertNotIn("s3cret-token", json.dumps(e))

                # without parameterValues: the defaults
                save_pipeline(srv, {"application": "hookapp", "name": "board-default",
                                    "stages": [{"refId": "1", "type": "notifyBoard",
                                                "name": "Board"}]})
                e = wait_execution(srv, run_pipeline(srv, "hookapp", "board-default"),
                                   timeout=30)
                self.assertEqual(e["status"], "SUCCEEDED", e)
                posts = [r for r in rec.requests if r[0] == "POST"]
                self.assertEqual(posts[-1][1], "/deploys/test")
                self.assertEqual(posts[-1][3]["env"], "test")

                # the entry that takes a built-in type does not replace it
                save_pipeline(srv, {"application": "hookapp", "name": "plain-wait",
                                    "stages": [{"refId": "1", "type": "wait", "name": "w",
                                                "waitTime": 0}]})
                e = wait_execution(srv, run_pipeline(srv, "hookapp", "plain-wait"), timeout=30)
                self.assertEqual(e["status"], "SUCCEEDED", e)
                self.assertEqual([t["name"] for t in e["stages"][0]["tasks"]], ["wait"])

                # an entry with permissions: listed to and run for its roles only
                ops = ("opsy", srv.add_user("opsy", ["ops"]))
                dev = ("devy", srv.add_user("devy", ["dev"]))
                for who, listed in ((ops, True), (dev, False)):
                    s, hooks = srv.request("GET", "/webhooks/preconfigured", auth=who)
                    self.assertEqual(s, 200, hooks)
                    self.assertEqual("opsBoard" in [h["type"] for h in hooks], listed, who[0])
                for who, status in ((dev, "TERMINAL"), (ops, "SUCCEEDED")):
                    name = "ops-board-" + who[0]
                    s, b = srv.request("POST", "/pipelines", {
                        "application": "hookapp", "name": name, "stages": [
                            {"refId": "1", "type": "opsBoard", "name": "Ops"}]}, auth=who)
                    self.assertEqual(s, 200, b)
                    s, b = srv.request("POST", "/pipelines/hookapp/" + name, {"type": "manual"},
                                       auth=who)
                    self.assertEqual(s, 202, b)
                    e = wait_execution(srv, b["ref"].split("/")[-1], timeout=30)
                    self.assertEqual(e["status"], status, e)
                    if status == "TERMINAL":
                        self.assertIn("devy may not run the preconfigured webhook opsBoard",
                                      json.dumps(e))
                self.assertEqual(len([r for r in rec.requests if r[1] == "/ops"]), 1)


if __name__ == "__main__":
    unittest.main()
