"""Crash safety: kill -9 the server with 50 executions in flight (waits,
manual judgments, webhooks), restart it on the same data, and check that
every execution finishes with the right status, none is lost, and no
webhook attempt takes effect twice."""
import time
import unittest

from mizzen_harness import Server, wait_until
from mizzen_flow import (Recorder, create_app, get_execution, run_pipeline,
                         save_pipeline, stage, wait_execution)

APP = "crashy"


class KillNine(unittest.TestCase):

    server_args = ()  # test_postgres.py runs this against PostgreSQL

    def test_sigkill_with_50_executions_in_flight(self):
        with Recorder(polls_before_success=3) as rec, \
                Server(extra_args=self.server_args, keep_data=False) as srv:
            create_app(srv, APP)
            save_pipeline(srv, {"application": APP, "name": "waits", "stages": [
                # long enough that all 20 are still waiting at the kill even
                # when a loaded machine takes seconds to start 50 executions
                {"refId": "1", "type": "wait", "name": "first", "waitTime": 4},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "second",
                 "waitTime": 1},
                {"refId": "3", "requisiteStageRefIds": ["2"], "type": "evaluateVariables",
                 "name": "done", "variables": [{"key": "ok", "value": "${true}"}]}]})
            save_pipeline(srv, {"application": APP, "name": "judged", "stages": [
                {"refId": "1", "type": "manualJudgment", "name": "Approve"},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "after",
                 "waitTime": 0}]})
            save_pipeline(srv, {"application": APP, "name": "hooked", "stages": [
                {"refId": "1", "type": "webhook", "name": "call", "method": "POST",
                 "url": rec.url + "/status/${execution.id}",
                 "payload": {"tag": "${execution.id}"},
                 "waitForCompletion": True, "statusUrlResolution": "getMethod",
                 "statusJsonPath": "$.status", "successStatuses": "SUCCESS"},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "after",
                 "waitTime": 1}]})

            waits = [run_pipeline(srv, APP, "waits") for _ in range(20)]
            judged = [run_pipeline(srv, APP, "judged") for _ in range(15)]
            hooked = [run_pipeline(srv, APP, "hooked") for _ in range(15)]
            everything = waits + judged + hooked

            # Let them get going: every judgment waiting, some webhooks called.
            def judgments_waiting():
                return all(stage(get_execution(srv, i), "Approve")["status"] == "RUNNING"
                           for i in judged)
            wait_until(judgments_waiting, timeout=15, message="judgments to be waiting")
            wait_until(lambda: len(rec.posts) >= 3, timeout=15, message="webhooks to start")
            running = sum(1 for i in everything
                          if get_execution(srv, i)["status"] == "RUNNING")
            self.assertGreaterEqual(running, 40, "most executions in flight at the kill")

            srv.kill9()
            time.sleep(0.2)
            srv.start()

            # Half the judgments continue, half stop, after the restart.
            for n, exec_id in enumerate(judged):
                sid = stage(get_execution(srv, exec_id), "Approve")["id"]
                status, body = srv.request("PATCH", "/pipelines/%s/stages/%s" % (exec_id, sid),
                                           {"judgmentStatus": "continue" if n % 2 == 0 else "stop"})
                self.assertEqual(status, 200, body)

            # A second crash while the rest finishes.
            time.sleep(0.5)
            srv.kill9()
            srv.start()

            results = {i: wait_execution(srv, i, timeout=60) for i in everything}
            for i in waits:
                self.assertEqual(results[i]["status"], "SUCCEEDED", results[i])
                self.assertEqual(stage(results[i], "done")["outputs"], {"ok": True})
            for n, i in enumerate(judged):
                want = "SUCCEEDED" if n % 2 == 0 else "TERMINAL"
                self.assertEqual(results[i]["status"], want, results[i])
            for i in hooked:
                self.assertEqual(results[i]["status"], "SUCCEEDED", results[i])

            # None lost: the application lists all 50.
            status, listed = srv.request("GET", "/applications/%s/pipelines?limit=100" % APP)
            self.assertEqual(status, 200)
            self.assertEqual(sorted(e["id"] for e in listed), sorted(everything))

            # No webhook attempt took effect twice: one idempotency key per
            # execution's create call (a replay after a crash reuses it).
            effects = rec.effects()
            for i in hooked:
                keys = effects.get(i, set())
                self.assertEqual(len(keys), 1, "execution %s: webhook keys %s" % (i, keys))
                self.assertIsNotNone(next(iter(keys)), "calls carry an Idempotency-Key")
            replays = sum(rec.raw_count(i) - 1 for i in hooked)
            print("webhook create calls replayed after a crash (same key): %d" % replays)


if __name__ == "__main__":
    unittest.main()
