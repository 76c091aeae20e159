"""savePipeline (Gate's save through Orca, what Dinghy and Orca's ad-hoc
orchestrations submit): the config, base64 or plain, is saved as the
execution's user would save it through POST /pipelines - WRITE on its
application, the runAsUser rule, names, the stale check - and the stages
that save pipelines from an artifact obey the same rules; so do the
stages that change or delete an application (WRITE on it, whichever
application the execution belongs to)."""
import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server  # noqa: E402
from mizzen_flow import create_app, wait_execution  # noqa: E402
from test_security import create_app_with  # noqa: E402

APP = "saveapp"


def b64(cfg):
    return base64.b64encode(json.dumps(cfg).encode()).decode()


def wait_cfg(name, wait=1, **extra):
    return dict({"application": APP, "name": name, "keepWaitingPipelines": False,
                 "stages": [{"refId": "1", "type": "wait", "name": "w", "waitTime": wait}],
                 "triggers": []}, **extra)


class SavePipeline(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()
        try:
            create_app(cls.srv, APP)
            create_app_with(cls.srv, "opsonly", {"READ": ["ops", "dev"], "WRITE": ["ops"]})
            cls.ops = ("opsy", cls.srv.add_user("opsy", ["ops"]))
            cls.dev = ("devy", cls.srv.add_user("devy", ["dev"]))
        except Exception:
            cls.srv.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def save(self, pipeline, auth=None, **stage):
        """Runs an ad-hoc orchestration of one savePipeline stage (as Gate
        submits it) in APP; returns the finished execution."""
        st = dict({"type": "savePipeline", "name": "Save", "refId": "0",
                   "requisiteStageRefIds": [], "pipeline": pipeline, "staleCheck": False},
                  **stage)
        kw = {"auth": auth} if auth else {}
        s, b = self.srv.request("POST", "/pipelines/start", {
            "application": APP, "name": "Save pipeline", "stages": [st]}, **kw)
        self.assertEqual(s, 202, b)
        return wait_execution(self.srv, b["ref"].split("/")[-1], timeout=30)

    def error(self, e):
        return ((e["stages"][0]["context"].get("exception") or {}).get("details") or {}
                ).get("errors")

    def get(self, app, name):
        return self.srv.request("GET", "/applications/%s/pipelineConfigs/%s" % (app, name))

    def test_saves_a_new_config_then_updates_it(self):
        e = self.save(b64(wait_cfg("made-by-stage")))
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        ctx = e["stages"][0]["context"]
        s, cfg = self.get(APP, "made-by-stage")
        self.assertEqual(s, 200, cfg)
        self.assertEqual(ctx["pipeline.id"], cfg["id"])
        self.assertEqual((ctx["notification.type"], ctx["application"], ctx["pipeline.name"]),
                         ("savepipeline", APP, "made-by-stage"))
        self.assertEqual(cfg["lastModifiedBy"], "admin")
        # the config itself (not base64) works too; the same id updates it
        e = self.save(dict(cfg, stages=[dict(cfg["stages"][0], waitTime=5)]))
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        s, again = self.get(APP, "made-by-stage")
        self.assertEqual((again["id"], again["stages"][0]["waitTime"]), (cfg["id"], 5))
        s, hist = self.srv.request("GET", "/pipelineConfigs/%s/history" % cfg["id"])
        self.assertEqual(len(hist), 2, hist)

    def test_a_saved_authorization_is_sealed_and_a_masked_secret_kept(self):
        bearer = "Bearer STAGE-SAVED-" + os.urandom(8).hex()
        cfg = wait_cfg("sealed", stages=[
            {"refId": "1", "type": "webhook", "name": "call", "method": "POST",
             "url": "http://127.0.0.1:9/hook",
             "customHeaders": {"Authorization": bearer, "X-Plain": "seen"}}],
            triggers=[{"type": "git", "source": "github", "project": "o", "slug": "r",
                       "branch": "main", "secret": "hmac-key-1", "enabled": True}])
        e = self.save(b64(cfg))
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        s, got = self.get(APP, "sealed")
        self.assertEqual(got["stages"][0]["customHeaders"],
                         {"Authorization": "****", "X-Plain": "seen"})
        self.assertEqual(got["triggers"][0]["secret"], "********")
        s, hist = self.srv.request("GET", "/pipelineConfigs/%s/history" % got["id"])
        self.assertNotIn(bearer.split()[1], json.dumps([got, hist, e]))
        # saved back through the stage as shown: both are kept, not replaced
        # by the masks (the header's sealed value, the trigger's secret)
        e = self.save(b64(dict(got, description="again")))
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        s, again = self.get(APP, "sealed")
        self.assertEqual(again["stages"][0]["sealedHeaders"]["Authorization"],
                         got["stages"][0]["sealedHeaders"]["Authorization"])
        self.assertEqual(again["triggers"][0]["secret"], "********")

    def test_refuses_what_post_pipelines_refuses(self):
        e = self.save(b64(wait_cfg("first")))
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        s, first = self.get(APP, "first")
        # another config of that name (names are trimmed, as the API trims them)
        for name in ("first", "  first "):
            e = self.save(b64(wait_cfg(name)))
            self.assertEqual(e["status"], "TERMINAL")
            self.assertIn("A pipeline with name first already exists in application saveapp",
                          self.error(e))
        # a stale save
        e = self.save(b64(dict(first, updateTs="1")), staleCheck=True)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertTrue(any("is stale" in m for m in self.error(e)), self.error(e))
        # an invalid config, and a pipeline that is not base64 JSON
        e = self.save(b64(dict(wait_cfg("bad"), stages=[
            {"refId": "1", "type": "wait", "requisiteStageRefIds": ["9"]}])))
        self.assertEqual(e["status"], "TERMINAL")
        e = self.save("not base64 {")
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("savePipeline: 'pipeline' is not the base64 of a JSON object",
                      self.error(e))
        s, still = self.get(APP, "first")
        self.assertEqual(still["updateTs"], first["updateTs"])
        self.assertEqual(self.get(APP, "bad")[0], 404)

    def test_needs_write_on_the_application_it_saves_to(self):
        target = wait_cfg("ops-pipeline", application="opsonly")
        e = self.save(b64(target), auth=self.dev)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("devy may not save pipelines of application opsonly (WRITE)",
                      self.error(e))
        self.assertEqual(self.get("opsonly", "ops-pipeline")[0], 404)
        e = self.save(b64(target), auth=self.ops)
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        s, cfg = self.get("opsonly", "ops-pipeline")
        self.assertEqual(cfg["lastModifiedBy"], "opsy")

    def test_run_as_user_rule(self):
        cron = {"type": "cron", "enabled": True, "cronExpression": "0 0 12 * * ?",
                "runAsUser": "opsy"}
        e = self.save(b64(wait_cfg("as-opsy", triggers=[cron])), auth=self.dev)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("triggers[0].runAsUser: only opsy or an admin may save a trigger "
                      "that runs as opsy", self.error(e))
        e = self.save(b64(wait_cfg("as-opsy", triggers=[cron])), auth=self.ops)
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))

    def test_save_pipelines_from_artifact_obeys_the_same_rules(self):
        doc = {"opsonly": [wait_cfg("from-artifact", application="opsonly")]}
        art = {"type": "embedded/base64", "name": "pipelines.json",
               "reference": b64(doc)}
        s, b = self.srv.request("POST", "/pipelines/start", {
            "application": APP, "name": "Save from artifact",
            "expectedArtifacts": [{"id": "pipes", "matchArtifact": {
                "type": "embedded/base64", "name": "pipelines.json"}}],
            "stages": [{"refId": "1", "type": "savePipelinesFromArtifact", "name": "Save",
                        "pipelinesArtifactId": "pipes"}],
            "trigger": {"type": "manual", "artifacts": [art]}}, auth=self.dev)
        self.assertEqual(s, 202, b)
        e = wait_execution(self.srv, b["ref"].split("/")[-1], timeout=30)
        self.assertEqual(e["status"], "TERMINAL")
        failed = e["stages"][0]["outputs"]["pipelinesFailedToSave"]
        self.assertEqual(failed[0]["name"], "from-artifact", failed)
        self.assertIn("devy may not save pipelines of application opsonly", failed[0]["error"])
        self.assertEqual(self.get("opsonly", "from-artifact")[0], 404)

    def test_application_stages_need_write_on_the_application(self):
        create_app_with(self.srv, "guarded", {"READ": ["ops", "dev"], "WRITE": ["ops"]})
        for stage in ({"type": "deleteApplication", "application": {"name": "guarded"}},
                      {"type": "updateApplication", "application": {
                          "name": "guarded", "permissions": {}}}):
            with self.subTest(stage["type"]):
                s, b = self.srv.request("POST", "/pipelines/start", {
                    "application": APP, "name": "Change guarded",
                    "stages": [dict(stage, refId="1", name="Change")]}, auth=self.dev)
                self.assertEqual(s, 202, b)
                e = wait_execution(self.srv, b["ref"].split("/")[-1], timeout=30)
                self.assertEqual(e["status"], "TERMINAL")
                self.assertIn("devy may not change application guarded (WRITE)", self.error(e))
        s, app = self.srv.request("GET", "/applications/guarded")
        self.assertEqual(s, 200, app)
        self.assertEqual(app["attributes"]["permissions"]["WRITE"], ["ops"], app)
        # who may WRITE it may
        s, b = self.srv.request("POST", "/pipelines/start", {
            "application": APP, "name": "Delete guarded", "stages": [
                {"refId": "1", "type": "deleteApplication", "name": "Delete",
                 "application": {"name": "guarded"}}]}, auth=self.ops)
        self.assertEqual(s, 202, b)
        e = wait_execution(self.srv, b["ref"].split("/")[-1], timeout=30)
        self.assertEqual(e["status"], "SUCCEEDED", self.error(e))
        self.assertEqual(self.srv.request("GET", "/applications/guarded")[0], 404)


if __name__ == "__main__":
    unittest.main()
