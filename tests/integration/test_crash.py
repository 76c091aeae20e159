"""Crash safety: kill -9 the server with 50 executions in flight (waits,
manual judgments, webhooks), restart it on the same data, and check that
every execution finishes with the right status, none is lost, and no
webhook attempt takes effect twice."""
import json
import os
import tempfile
import threading
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


class TriggerBurst(unittest.TestCase):
    """kill -9 during a burst of 1,000 concurrent triggers (issue 12):
    accepted triggers are committed in groups and answered 202 only once
    durable, so every trigger that got a 202 has exactly one execution after
    the restart, and one that got no answer has at most one. Each trigger
    carries a unique parameter to count its executions by."""

    TRIGGERS = 1000
    CLIENTS = 50

    def test_sigkill_during_a_burst_of_triggers(self):
        # Every execution kept: the default retention (200 per pipeline)
        # would prune finished ones while they are being counted.
        cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"retention": {"executionsPerPipeline": 100000}}, cfg)
        cfg.close()
        self.addCleanup(os.unlink, cfg.name)
        with Server(extra_args=("--config", cfg.name), keep_data=False) as srv:
            create_app(srv, APP)
            save_pipeline(srv, {"application": APP, "name": "burst", "stages": [
                {"refId": "1", "type": "wait", "name": "one", "waitTime": 0},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "two",
                 "waitTime": 0},
                {"refId": "3", "requisiteStageRefIds": ["2"], "type": "wait", "name": "three",
                 "waitTime": 0}]})
            answers = {}  # n -> status (202, ...), or None: no answer
            lock = threading.Lock()
            next_n = iter(range(self.TRIGGERS))

            def client():
                while True:
                    with lock:
                        n = next(next_n, None)
                    if n is None:
                        return
                    try:
                        status, _ = srv.request("POST", "/pipelines/%s/burst" % APP, {
                            "type": "manual", "parameters": {"n": str(n)}}, timeout=30)
                    except OSError:
                        status = None
                    with lock:
                        answers[n] = status

            clients = [threading.Thread(target=client) for _ in range(self.CLIENTS)]
            for c in clients:
                c.start()
            # Kill once a good part of the burst was accepted, mid-stream.
            wait_until(lambda: sum(1 for s in list(answers.values()) if s == 202) >= 300,
                       timeout=60, interval=0.005, message="300 triggers accepted")
            srv.kill9()
            for c in clients:
                c.join(timeout=60)
            accepted = {n for n, s in answers.items() if s == 202}
            unanswered = {n for n in range(self.TRIGGERS) if answers.get(n) is None}
            refused = {n: s for n, s in answers.items() if s not in (None, 202)}
            self.assertEqual(refused, {}, "only 202s or no answer before the kill")
            self.assertGreater(len(unanswered), 0, "the kill interrupted the burst")

            srv.start()
            status, listed = srv.request("GET", "/applications/%s/pipelines?limit=5000" % APP,
                                         timeout=60)
            self.assertEqual(status, 200, listed)
            per_n = {}
            for e in listed:
                n = int(e["trigger"]["parameters"]["n"])
                per_n[n] = per_n.get(n, 0) + 1
            for n in accepted:
                self.assertEqual(per_n.get(n), 1, "trigger %d got a 202" % n)
            for n in unanswered:
                self.assertLessEqual(per_n.get(n, 0), 1, "trigger %d got no answer" % n)
            self.assertEqual(set(per_n) - accepted - unanswered, set())
            # And every stored execution runs to its end after the restart.
            for e in listed:
                wait_execution(srv, e["id"], timeout=60)
            print("burst: %d accepted, %d unanswered (%d of them stored) at the kill"
                  % (len(accepted), len(unanswered),
                     sum(1 for n in unanswered if n in per_n)))


if __name__ == "__main__":
    unittest.main()
