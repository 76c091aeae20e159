"""Pipelines run end to end through the real server's HTTP API: parallel
branches and joins, variables feeding preconditions, manual judgments,
cancel, failure propagation, child pipelines, webhook polling and
concurrency limits."""
import time
import unittest

from mizzen_harness import ServerTestCase, wait_until
from mizzen_flow import (Recorder, create_app, get_execution, run_pipeline,
                         save_pipeline, stage, wait_execution, wait_stage)

APP = "flows"


def pipeline(name, stages, **extra):
    p = {"application": APP, "name": name, "stages": stages}
    p.update(extra)
    return p


class PipelineFlows(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_app(cls.server, APP)

    def run_to_end(self, name, stages, trigger=None, timeout=20, **extra):
        save_pipeline(self.server, pipeline(name, stages, **extra))
        exec_id = run_pipeline(self.server, APP, name, trigger)
        return wait_execution(self.server, exec_id, timeout=timeout)

    def test_parallel_branches_join_after_both(self):
        e = self.run_to_end("join", [
            {"refId": "1", "requisiteStageRefIds": [], "type": "wait", "name": "quick", "waitTime": 0},
            {"refId": "2", "requisiteStageRefIds": [], "type": "wait", "name": "slow", "waitTime": 1},
            {"refId": "3", "requisiteStageRefIds": ["1", "2"], "type": "wait", "name": "join",
             "waitTime": 0},
        ])
        self.assertEqual(e["status"], "SUCCEEDED")
        join, slow, quick = stage(e, "join"), stage(e, "slow"), stage(e, "quick")
        self.assertGreaterEqual(join["startTime"], slow["endTime"])
        self.assertGreaterEqual(join["startTime"], quick["endTime"])
        self.assertLess(abs(slow["startTime"] - quick["startTime"]), 500,
                        "the two branches should start together")
        self.assertEqual(join["requisiteStageRefIds"], ["1", "2"])

    def test_evaluate_variables_feed_preconditions(self):
        e = self.run_to_end("vars", [
            {"refId": "1", "type": "evaluateVariables", "name": "compute",
             "variables": [{"key": "replicas", "value": "${#toInt(parameters.count) * 2}"},
                           {"key": "label", "value": "${parameters.env.toUpperCase()}-${replicas}"}]},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions",
             "name": "check", "preconditions": [
                 {"type": "expression", "context": {"expression": "${replicas == 6 and label == 'PROD-6'}"}}]},
        ], trigger={"type": "manual", "parameters": {"count": "3", "env": "prod"}})
        self.assertEqual(e["status"], "SUCCEEDED", e)
        self.assertEqual(stage(e, "compute")["outputs"], {"replicas": 6, "label": "PROD-6"})
        self.assertEqual(stage(e, "Check precondition (expression)")["status"], "SUCCEEDED")

    def test_failing_precondition_fails_pipeline_with_message(self):
        e = self.run_to_end("precondition-fails", [
            {"refId": "1", "type": "evaluateVariables", "name": "compute",
             "variables": [{"key": "ready", "value": "${false}"}]},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions",
             "name": "check", "preconditions": [
                 {"type": "expression", "context": {"expression": "${ready}"}}]},
            {"refId": "3", "requisiteStageRefIds": ["2"], "type": "wait", "name": "never"},
        ])
        self.assertEqual(e["status"], "TERMINAL")
        self.assertEqual(stage(e, "never")["status"], "NOT_STARTED")
        errors = stage(e, "Check precondition (expression)")["context"]["exception"]["details"]["errors"]
        self.assertTrue(any("Expression check failed" in m for m in errors), errors)

    def judgment_pipeline(self, name):
        save_pipeline(self.server, pipeline(name, [
            {"refId": "1", "type": "manualJudgment", "name": "Approve",
             "instructions": "Ship it?", "judgmentInputs": [{"value": "yes"}, {"value": "no"}]},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions",
             "name": "gate", "preconditions": [{"type": "expression", "context": {
                 "expression": "${#judgment('Approve') == 'yes'}"}}]},
        ]))
        exec_id = run_pipeline(self.server, APP, name)
        e = wait_stage(self.server, exec_id, "Approve", "RUNNING")
        return exec_id, stage(e, "Approve")["id"]

    def test_manual_judgment_continue_through_patch(self):
        exec_id, stage_id = self.judgment_pipeline("judge-continue")
        pw = self.server.add_user("alice", ["ops"])
        # the judge is who signed in, whatever X-SPINNAKER-USER claims
        status, body = self.server.request(
            "PATCH", "/pipelines/%s/stages/%s" % (exec_id, stage_id),
            {"judgmentStatus": "continue", "judgmentInput": "yes"},
            headers={"X-SPINNAKER-USER": "mallory"}, auth=("alice", pw))
        self.assertEqual(status, 200, body)
        e = wait_execution(self.server, exec_id)
        self.assertEqual(e["status"], "SUCCEEDED")
        approve = stage(e, "Approve")
        self.assertEqual(approve["context"]["judgmentInput"], "yes")
        self.assertEqual(approve["context"]["lastModifiedBy"], "alice")
        self.assertEqual(stage(e, "gate")["status"], "SUCCEEDED")

    def test_manual_judgment_stop_ends_terminal(self):
        exec_id, stage_id = self.judgment_pipeline("judge-stop")
        status, _ = self.server.request("PATCH", "/pipelines/%s/stages/%s" % (exec_id, stage_id),
                                        {"judgmentStatus": "stop"})
        self.assertEqual(status, 200)
        e = wait_execution(self.server, exec_id)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertEqual(stage(e, "Approve")["status"], "TERMINAL")
        self.assertEqual(stage(e, "gate")["status"], "NOT_STARTED")

    def test_cancel_running_wait_within_a_second(self):
        save_pipeline(self.server, pipeline("long-wait", [
            {"type": "wait", "name": "soak", "waitTime": 3600}]))
        exec_id = run_pipeline(self.server, APP, "long-wait")
        wait_stage(self.server, exec_id, "soak", "RUNNING")
        t0 = time.monotonic()
        status, _ = self.server.request("PUT", "/pipelines/%s/cancel?reason=changed+my+mind" % exec_id)
        self.assertEqual(status, 200)
        e = wait_execution(self.server, exec_id, timeout=2)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertEqual(e["status"], "CANCELED")
        self.assertTrue(e["canceled"])
        self.assertEqual(e["cancellationReason"], "changed my mind")
        self.assertEqual(stage(e, "soak")["status"], "CANCELED")

    def test_failing_branch_completes_other_branches_then_fails(self):
        e = self.run_to_end("cobtf", [
            {"refId": "1", "type": "checkPreconditions", "name": "broken branch",
             "failPipeline": False, "completeOtherBranchesThenFail": True,
             "preconditions": [{"type": "expression", "failPipeline": False,
                                "context": {"expression": "${1 == 2}"}}]},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "wait", "name": "after broken"},
            {"refId": "3", "type": "wait", "name": "healthy branch", "waitTime": 1},
            {"refId": "4", "requisiteStageRefIds": ["3"], "type": "wait", "name": "after healthy"},
        ])
        self.assertEqual(e["status"], "TERMINAL")
        self.assertEqual(stage(e, "broken branch")["status"], "STOPPED")
        self.assertEqual(stage(e, "after broken")["status"], "NOT_STARTED")
        self.assertEqual(stage(e, "healthy branch")["status"], "SUCCEEDED")
        self.assertEqual(stage(e, "after healthy")["status"], "SUCCEEDED")
        self.assertGreaterEqual(e["endTime"], stage(e, "after healthy")["endTime"])

    def test_child_pipeline_outputs_visible_to_parent(self):
        child = save_pipeline(self.server, pipeline("child", [
            {"type": "evaluateVariables", "name": "make",
             "variables": [{"key": "artifactVersion", "value": "1.2.${parameters.patch}"}]}],
            parameterConfig=[{"name": "patch", "default": "0"}]))
        e = self.run_to_end("parent", [
            {"refId": "1", "type": "pipeline", "name": "build child", "application": APP,
             "pipeline": child["id"], "pipelineParameters": {"patch": "7"}},
            {"refId": "2", "requisiteStageRefIds": ["1"], "type": "checkPreconditions",
             "name": "use output", "preconditions": [{"type": "expression", "context": {
                 "expression": "${#stage('build child').outputs.artifactVersion == '1.2.7'}"}}]},
        ])
        self.assertEqual(e["status"], "SUCCEEDED", e)
        child_id = stage(e, "build child")["context"]["executionId"]
        c = get_execution(self.server, child_id)
        self.assertEqual(c["status"], "SUCCEEDED")
        self.assertEqual(c["trigger"]["type"], "pipeline")
        self.assertEqual(c["trigger"]["parentPipelineId"], e["id"])
        self.assertEqual(c["trigger"]["parameters"]["patch"], "7")

    def test_webhook_stage_polls_until_success(self):
        with Recorder(polls_before_success=2) as rec:
            e = self.run_to_end("hook2", [
                {"type": "webhook", "name": "deploy hook", "method": "POST",
                 "url": rec.url + "/status/${execution.id}",
                 "payload": {"tag": "hook2-${execution.id}"},
                 "waitForCompletion": True, "statusUrlResolution": "getMethod",
                 "statusJsonPath": "$.status", "successStatuses": "SUCCESS",
                 "terminalStatuses": "FAILED"}], timeout=30)
            self.assertEqual(e["status"], "SUCCEEDED", e)
            hook = stage(e, "deploy hook")
            self.assertEqual(hook["context"]["webhook"]["statusCodeValue"], 200)
            self.assertEqual(rec.polls[e["id"]], 3, "RUNNING twice, then SUCCESS")
            self.assertEqual(rec.raw_count("hook2-" + e["id"]), 1)
            keys = rec.effects()["hook2-" + e["id"]]
            self.assertEqual(len(keys), 1)
            self.assertIsNotNone(next(iter(keys)), "the call carries an Idempotency-Key")

    def test_limit_concurrent_queues_second_run(self):
        save_pipeline(self.server, pipeline("one-at-a-time", [
            {"type": "wait", "name": "hold", "waitTime": 1}],
            limitConcurrent=True, keepWaitingPipelines=True))
        first = run_pipeline(self.server, APP, "one-at-a-time")
        wait_stage(self.server, first, "hold", "RUNNING")
        second = run_pipeline(self.server, APP, "one-at-a-time")
        time.sleep(0.3)
        self.assertEqual(get_execution(self.server, second)["status"], "NOT_STARTED")
        a = wait_execution(self.server, first)
        b = wait_execution(self.server, second, timeout=10)
        self.assertEqual(b["status"], "SUCCEEDED")
        self.assertGreaterEqual(b["startTime"], a["endTime"])

    def test_unknown_stage_type_saves_but_fails_with_clear_error(self):
        e = self.run_to_end("future-stage", [
            {"type": "deployToTheMoon", "name": "moon"}])
        self.assertEqual(e["status"], "TERMINAL")
        err = stage(e, "moon")["context"]["exception"]["details"]["error"]
        self.assertIn("deployToTheMoon", err)

    def test_skip_remaining_wait(self):
        save_pipeline(self.server, pipeline("skip-wait", [
            {"type": "wait", "name": "pause", "waitTime": 3600}]))
        exec_id = run_pipeline(self.server, APP, "skip-wait")
        e = wait_stage(self.server, exec_id, "pause", "RUNNING")
        status, _ = self.server.request("PATCH", "/pipelines/%s/stages/%s"
                                        % (exec_id, stage(e, "pause")["id"]),
                                        {"skipRemainingWait": True})
        self.assertEqual(status, 200)
        self.assertEqual(wait_execution(self.server, exec_id, timeout=3)["status"], "SUCCEEDED")


if __name__ == "__main__":
    unittest.main()
