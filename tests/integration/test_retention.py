"""Retention (issue 9, DESIGN.md's "retention" row) against the real server
with small configured counts: finished executions beyond the newest
executionsPerPipeline, config history beyond configHistory versions, the
history of deleted pipelines, and (with a tiny maxAgeDays) old finished
executions and processed events are pruned in the background; running
executions are never touched.
"""
import json
import os
import tempfile
import unittest

from mizzen_harness import Server, wait_until
from mizzen_flow import create_app, get_execution, run_pipeline, save_pipeline, \
    wait_execution, wait_stage

PIPELINE = {
    "application": "keep", "name": "p",
    "parameterConfig": [{"name": "hold", "default": "no"}],
    "stages": [{"refId": "1", "type": "manualJudgment", "name": "Hold",
                "stageEnabled": {"type": "expression",
                                 "expression": "parameters.hold == 'yes'"}}],
}


def config_file(retention):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"retention": retention}, f)
    return path


def executions(srv, app):
    status, body = srv.request("GET", "/applications/%s/pipelines?limit=100" % app)
    assert status == 200, (status, body)
    return body


class RetentionCounts(unittest.TestCase):

    def test_prunes_to_the_configured_counts(self):
        cfg = config_file({"executionsPerPipeline": 3, "configHistory": 2,
                           "intervalSeconds": 1})
        try:
            with Server(extra_args=("--config", cfg)) as srv:
                create_app(srv, "keep")
                saved = save_pipeline(srv, PIPELINE)
                held = run_pipeline(srv, "keep", "p",
                                    {"type": "manual", "parameters": {"hold": "yes"}})
                wait_stage(srv, held, "Hold", "RUNNING")
                done = []
                for _ in range(6):
                    exec_id = run_pipeline(srv, "keep", "p")
                    self.assertEqual(wait_execution(srv, exec_id)["status"], "SUCCEEDED")
                    done.append(exec_id)

                def pruned():
                    ids = {e["id"] for e in executions(srv, "keep")}
                    return ids if len(ids) == 4 else None
                ids = wait_until(pruned, timeout=30, interval=0.2,
                                 message="executions pruned to 3 finished + 1 running")
                self.assertEqual(ids, set(done[-3:]) | {held})
                self.assertEqual(get_execution(srv, held)["status"], "RUNNING")
                for old in done[:3]:
                    status, _ = srv.request("GET", "/pipelines/" + old)
                    self.assertEqual(status, 404)

                # Config history: the newest 2 versions stay.
                for i in range(4):
                    save_pipeline(srv, dict(PIPELINE, id=saved["id"], description="v%d" % i))

                def history():
                    status, body = srv.request("GET", "/pipelineConfigs/%s/history?limit=50"
                                               % saved["id"])
                    return body if status == 200 and len(body) == 2 else None
                versions = wait_until(history, timeout=30, interval=0.2,
                                      message="history pruned to 2 versions")
                self.assertEqual([v.get("description") for v in versions], ["v3", "v2"])

                # A deleted pipeline's history goes.
                gone = save_pipeline(srv, {"application": "keep", "name": "gone", "stages": [
                    {"refId": "1", "type": "wait", "waitTime": 1}]})
                save_pipeline(srv, {"application": "keep", "name": "gone", "id": gone["id"],
                                    "description": "second", "stages": [
                                        {"refId": "1", "type": "wait", "waitTime": 1}]})
                status, body = srv.request("DELETE", "/pipelines/keep/gone")
                self.assertIn(status, (200, 204), body)

                def gone_history():
                    status, body = srv.request("GET", "/pipelineConfigs/%s/history" % gone["id"])
                    return status == 404 or (status == 200 and body == [])
                wait_until(gone_history, timeout=30, interval=0.2,
                           message="the deleted pipeline's history pruned")
                # The running execution was never touched, and still judges.
                status, _ = srv.request("PATCH", "/pipelines/%s/stages/%s" % (
                    held, get_execution(srv, held)["stages"][0]["id"]),
                    {"judgmentStatus": "continue"})
                self.assertEqual(status, 200)
                self.assertEqual(wait_execution(srv, held)["status"], "SUCCEEDED")
        finally:
            os.unlink(cfg)

    def test_prunes_by_age(self):
        # maxAgeDays may be fractional: 0.00002 days is 1.7 s.
        cfg = config_file({"maxAgeDays": 0.00002, "intervalSeconds": 1})
        try:
            with Server(extra_args=("--config", cfg)) as srv:
                create_app(srv, "keep")
                save_pipeline(srv, dict(PIPELINE, triggers=[
                    {"type": "webhook", "enabled": True, "source": "old"}]))
                held = run_pipeline(srv, "keep", "p",
                                    {"type": "manual", "parameters": {"hold": "yes"}})
                finished = run_pipeline(srv, "keep", "p")
                self.assertEqual(wait_execution(srv, finished)["status"], "SUCCEEDED")
                status, body = srv.request("POST", "/webhooks/webhook/nobody", {"x": 1})
                self.assertEqual(status, 200, body)
                event_id = body["eventId"]
                wait_until(lambda: srv.request("GET", "/webhooks/events/" + event_id)[1]
                           .get("processed"), timeout=10, message="the event processed")
                wait_until(lambda: srv.request("GET", "/pipelines/" + finished)[0] == 404,
                           timeout=30, interval=0.2, message="the old execution pruned")
                wait_until(lambda: srv.request("GET", "/webhooks/events/" + event_id)[0] == 404,
                           timeout=30, interval=0.2, message="the old event pruned")
                self.assertEqual(get_execution(srv, held)["status"], "RUNNING")
        finally:
            os.unlink(cfg)


if __name__ == "__main__":
    unittest.main()
