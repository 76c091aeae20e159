"""Re-run (POST /pipelines/{app}/{name} {"type": "manual", "rerunOf": id})
starts with the original's trigger, parameters and artifacts; and an
application's notifications (GET/POST /notifications/application/{app})
are sent for each of its pipelines."""
import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import ServerTestCase, wait_until  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution  # noqa: E402
from trigger_helpers import Receiver  # noqa: E402

APP = "rerunapp"


class Rerun(ServerTestCase):

    def req(self, method, path, body=None):
        return self.server.request(method, path, body)

    def test_rerun_keeps_trigger_parameters_and_artifacts(self):
        srv = self.server
        create_app(srv, APP)
        save_pipeline(srv, {
            "application": APP, "name": "echo",
            "parameterConfig": [{"name": "env", "default": "staging"}],
            "triggers": [{"type": "webhook", "source": "rerun-hook", "enabled": True}],
            "expectedArtifacts": [{"id": "a1", "displayName": "notes",
                                   "matchArtifact": {"type": "embedded/base64",
                                                     "name": "notes"}}],
            "stages": [{"refId": "1", "type": "evaluateVariables", "name": "Echo",
                        "variables": [
                            {"key": "env", "value": "${parameters.env}"},
                            {"key": "notes",
                             "value": "${trigger.artifacts[0].reference}"}]}]})
        notes = base64.b64encode(b"release notes").decode()
        s, body = self.req("POST", "/webhooks/webhook/rerun-hook", {
            "parameters": {"env": "prod"},
            "artifacts": [{"type": "embedded/base64", "name": "notes",
                           "reference": notes}]})
        self.assertEqual(s, 200, body)

        def first():
            s, rows = self.req("GET", "/applications/%s/pipelines" % APP)
            return rows[0] if rows else None
        orig = wait_until(first, message="the webhook's execution")
        orig = wait_execution(srv, orig["id"])
        self.assertEqual(orig["status"], "SUCCEEDED", orig)

        rerun_id = run_pipeline(srv, APP, "echo", {"type": "manual", "rerunOf": orig["id"]})
        e = wait_execution(srv, rerun_id)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        t = e["trigger"]
        self.assertEqual(t["type"], "webhook")           # the original's trigger
        self.assertEqual(t["source"], "rerun-hook")
        self.assertEqual(t["rerunOf"], orig["id"])
        self.assertEqual(t["parameters"]["env"], "prod")
        self.assertEqual(e["stages"][0]["outputs"]["env"], "prod")
        self.assertEqual(e["stages"][0]["outputs"]["notes"], notes)
        bound = [a["boundArtifact"] for a in t["resolvedExpectedArtifacts"]]
        self.assertEqual([(a["name"], a["reference"]) for a in bound], [("notes", notes)])

        # an execution of another pipeline, or none, is refused
        save_pipeline(srv, {"application": APP, "name": "other", "stages": []})
        s, body = self.req("POST", "/pipelines/%s/other" % APP,
                           {"type": "manual", "rerunOf": orig["id"]})
        self.assertEqual(s, 400, body)
        s, body = self.req("POST", "/pipelines/%s/echo" % APP,
                           {"type": "manual", "rerunOf": "01NOSUCHEXECUTION000000000"})
        self.assertEqual(s, 404, body)

    def test_application_notifications(self):
        srv = self.server
        create_app(srv, "notifyapp")
        rec = Receiver()
        self.addCleanup(rec.close)
        s, body = self.req("GET", "/notifications/application/notifyapp")
        self.assertEqual((s, body), (200, {"application": "notifyapp"}))
        s, body = self.req("POST", "/notifications/application/notifyapp", {
            "application": "notifyapp",
            "webhook": [{"address": rec.url + "/app", "when": ["pipeline.complete"]}]})
        self.assertEqual(s, 200, body)
        s, body = self.req("GET", "/notifications/application/notifyapp")
        self.assertEqual(body["webhook"][0]["address"], rec.url + "/app")
        s, body = self.req("POST", "/notifications/application/notifyapp",
                           {"webhook": [{"when": ["pipeline.complete"]}]})
        self.assertEqual(s, 400, body)
        save_pipeline(srv, {"application": "notifyapp", "name": "quiet", "stages": [
            {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]})
        eid = run_pipeline(srv, "notifyapp", "quiet")
        wait_execution(srv, eid)
        got = wait_until(lambda: rec.posts("/app"), timeout=15, message="app notification")
        self.assertEqual(got[0]["event"]["executionId"], eid)


if __name__ == "__main__":
    unittest.main()
