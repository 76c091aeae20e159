"""The HTTP API (Spinnaker Gate's REST paths) against the real server.

Covers what Spinnaker's spin CLI needs (reference/spin-cli-contract.md:
exact requests and status codes), the error contract of DESIGN.md (every
4xx/5xx is JSON {error, message, status}; malformed input is a 4xx, never a
crash), and the Gate behaviour of the other endpoints.
"""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import authorization, Server, ServerTestCase, binary, http, wait_until  # noqa: E402

COMPLETE = {"SUCCEEDED", "TERMINAL", "CANCELED", "STOPPED", "SKIPPED", "FAILED_CONTINUE"}


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def wait_stage(ms=0, ref="1", reqs=None, name=None):
    stage = {"refId": ref, "type": "wait", "name": name or "wait %s" % ref, "waitTime": ms}
    if reqs is not None:
        stage["requisiteStageRefIds"] = reqs
    return stage


class ApiTestCase(ServerTestCase):
    """Helpers shared by the API tests."""

    def req(self, method, path, body=None, headers=None, **kw):
        return self.server.request(method, path, body, headers, **kw)

    def assert_error(self, status, body, expected, contains=None):
        """An error reply: the expected status and the JSON error shape."""
        self.assertEqual(status, expected, body)
        self.assertIsInstance(body, dict, "error body is not JSON: %r" % (body,))
        self.assertEqual(body.get("status"), expected, body)
        self.assertIsInstance(body.get("error"), str, body)
        self.assertTrue(body.get("error"), body)
        self.assertIsInstance(body.get("message"), str, body)
        self.assertTrue(body.get("message"), body)
        if contains:
            self.assertIn(contains, body["message"])

    def save(self, cfg, stale=True, expect=200):
        path = "/pipelines?staleCheck=true" if stale else "/pipelines"
        status, body = self.req("POST", path, cfg)
        self.assertEqual(status, expect, body)
        return body

    def config(self, app, name):
        status, body = self.req("GET", "/applications/%s/pipelineConfigs/%s" % (app, name))
        self.assertEqual(status, 200, body)
        return body

    def trigger(self, app, name, body=None):
        status, resp = self.req("POST", "/pipelines/%s/%s" % (app, name), body)
        self.assertEqual(status, 202, resp)
        self.assertTrue(resp["ref"].startswith("/pipelines/"), resp)
        return resp["ref"].split("/")[-1]

    def execution(self, exec_id):
        status, body = self.req("GET", "/pipelines/" + exec_id)
        self.assertEqual(status, 200, body)
        return body

    def wait_status(self, exec_id, statuses, timeout=20):
        def check():
            e = self.execution(exec_id)
            return e if e["status"] in statuses else None
        return wait_until(check, timeout=timeout,
                          message="execution %s in %s" % (exec_id, statuses))

    def wait_task(self, task_id, timeout=20):
        def check():
            s, t = self.req("GET", "/tasks/" + task_id)
            return t if s == 200 and t.get("status") in COMPLETE else None
        return wait_until(check, timeout=timeout, message="task %s to complete" % task_id)

    def run_task(self, body):
        status, resp = self.req("POST", "/tasks", body)
        self.assertEqual(status, 200, resp)
        self.assertTrue(resp["ref"].startswith("/tasks/"), resp)
        return self.wait_task(resp["ref"].split("/")[-1])

    def create_app(self, name, email="team@example.com"):
        task = self.run_task({
            "application": name, "description": "Create Application: " + name,
            "job": [{"type": "createApplication",
                     "application": {"name": name, "email": email,
                                     "cloudProviders": "local", "instancePort": 80}}]})
        self.assertEqual(task["status"], "SUCCEEDED", task)
        return task


class SpinContractTest(ApiTestCase):
    """The requests spin sends, with the status codes it insists on."""

    def test_version_first(self):
        status, body = self.req("GET", "/version")
        self.assertEqual(status, 200)
        self.assertIsInstance(body.get("version"), str)

    def test_health(self):
        status, body = self.req("GET", "/health")
        self.assertEqual((status, body), (200, {"status": "UP"}))

    def test_pipeline_save_with_stale_check(self):
        app = unique("spinapp")
        # spin: GET by name (404: new pipeline), then POST ?staleCheck=true without id
        status, body = self.req("GET", "/applications/%s/pipelineConfigs/deploy" % app)
        self.assert_error(status, body, 404, "not found")
        self.save({"application": app, "name": "deploy", "stages": [wait_stage()]})
        got = self.config(app, "deploy")
        self.assertTrue(got.get("id"))
        self.assertIsInstance(got.get("updateTs"), str)
        self.assertEqual(got["lastModifiedBy"], "admin")
        # second save: spin copies id and updateTs from the lookup
        time.sleep(0.01)
        cfg = {"application": app, "name": "deploy", "id": got["id"],
               "updateTs": got["updateTs"], "stages": [wait_stage(), wait_stage(0, "2", ["1"])]}
        self.save(cfg)
        again = self.config(app, "deploy")
        self.assertEqual(again["id"], got["id"])
        self.assertEqual(len(again["stages"]), 2)
        # a save carrying the old updateTs is stale: 400 with "is stale"
        cfg["updateTs"] = got["updateTs"]
        status, body = self.req("POST", "/pipelines?staleCheck=true", cfg)
        self.assert_error(status, body, 400, "is stale")
        self.assertIn("The submitted pipeline is stale.  submitted updateTs %s does not match "
                      "stored updateTs %s" % (got["updateTs"], again["updateTs"]),
                      body["message"])
        self.assertEqual(len(self.config(app, "deploy")["stages"]), 2)
        # without staleCheck the same body is accepted
        self.save(cfg, stale=False)

    def test_save_stamps_user_and_keeps_index(self):
        app = unique("stamp")
        saved = self.save({"application": app, "name": "a", "index": 3, "stages": []})
        alice = ("alice-%s@example.com" % app, None)
        alice = (alice[0], self.server.add_user(alice[0], ["dev"]))
        status, _ = self.req("POST", "/pipelines", {
            "application": app, "name": "a", "id": saved["id"], "stages": []},
            headers={"X-SPINNAKER-USER": "mallory@example.com"}, auth=alice)
        self.assertEqual(status, 200)
        status, configs = self.req("GET", "/pipelineConfigs")
        mine = [c for c in configs if c["id"] == saved["id"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["index"], 3)
        self.assertEqual(mine[0]["lastModifiedBy"], alice[0])

    def test_trigger_both_body_forms(self):
        app = unique("trig")
        saved = self.save({"application": app, "name": "quick", "stages": [wait_stage()],
                           "parameterConfig": [{"name": "env", "default": "dev"}]})
        # newest spin: {"trigger": {...}}
        e1 = self.trigger(app, "quick", {"trigger": {"type": "manual",
                                                     "parameters": {"env": "prod"}}})
        # older spin: the bare trigger
        e2 = self.trigger(app, "quick", {"type": "manual", "parameters": {"env": "qa"}})
        # no body at all, and by config id instead of name
        e3 = self.trigger(app, saved["id"])
        x1 = self.wait_status(e1, COMPLETE)
        x2 = self.wait_status(e2, COMPLETE)
        x3 = self.wait_status(e3, COMPLETE)
        self.assertEqual(x1["status"], "SUCCEEDED", x1)
        self.assertEqual(x1["trigger"]["parameters"]["env"], "prod")
        self.assertEqual(x2["trigger"]["parameters"]["env"], "qa")
        self.assertEqual(x3["trigger"]["parameters"]["env"], "dev")
        self.assertEqual(x1["trigger"]["type"], "manual")
        self.assertEqual(x1["pipelineConfigId"], saved["id"])
        self.assertEqual(x1["origin"], "api")
        # unknown pipeline: 404
        status, body = self.req("POST", "/pipelines/%s/nosuch" % app, {"type": "manual"})
        self.assert_error(status, body, 404)

    def test_trigger_origin_and_user(self):
        app = unique("origin")
        self.save({"application": app, "name": "p", "stages": [wait_stage()]})
        bob = "bob-" + app
        pw = self.server.add_user(bob, ["dev"])
        status, resp = self.req("POST", "/pipelines/%s/p" % app, {"type": "manual"},
                                headers={"X-RateLimit-App": "deck",
                                         "X-SPINNAKER-USER": "mallory"}, auth=(bob, pw))
        self.assertEqual(status, 202, resp)
        e = self.execution(resp["ref"].split("/")[-1])
        self.assertEqual(e["origin"], "deck")
        self.assertEqual(e["trigger"]["user"], bob)

    def test_trigger_v2_and_adhoc(self):
        app = unique("v2")
        self.save({"application": app, "name": "p", "stages": [wait_stage()]})
        status, resp = self.req("POST", "/pipelines/v2/%s/p" % app, {"type": "manual"})
        self.assertEqual(status, 202, resp)
        self.assertTrue(resp["eventId"])
        e = self.wait_status(resp["ref"].split("/")[-1], COMPLETE)
        self.assertEqual(e["trigger"]["eventId"], resp["eventId"])
        status, resp = self.req("POST", "/pipelines/start", {
            "application": app, "name": "adhoc", "stages": [wait_stage()],
            "trigger": {"type": "manual", "parameters": {"x": "1"}}})
        self.assertEqual(status, 202, resp)
        e = self.wait_status(resp["ref"].split("/")[-1], COMPLETE)
        self.assertEqual(e["status"], "SUCCEEDED")
        self.assertEqual(e["trigger"]["parameters"], {"x": "1"})

    def test_required_parameter_is_400(self):
        app = unique("req")
        self.save({"application": app, "name": "p", "stages": [wait_stage()],
                   "parameterConfig": [{"name": "version", "required": True}]})
        status, body = self.req("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        self.assert_error(status, body, 400, "version")
        status, body = self.req("GET", "/applications/%s/pipelines" % app)
        self.assertEqual((status, body), (200, []))

    def test_execution_get_and_list(self):
        app = unique("exec")
        saved = self.save({"application": app, "name": "p", "stages": [wait_stage()]})
        ids = [self.trigger(app, "p") for _ in range(3)]
        for i in ids:
            self.wait_status(i, COMPLETE)
        # pipeline execution get: GET /executions?executionIds=ID&limit=1 -> array
        status, body = self.req("GET", "/executions?executionIds=%s&limit=1" % ids[1])
        self.assertEqual(status, 200)
        self.assertIsInstance(body, list)
        self.assertEqual([e["id"] for e in body], [ids[1]])
        self.assertIn("context", body[0]["stages"][0])  # expanded by default
        # unknown ids are dropped
        status, body = self.req("GET", "/executions?executionIds=nope,%s" % ids[0])
        self.assertEqual([e["id"] for e in body], [ids[0]])
        # pipeline execution list: pipelineConfigIds, limit, statuses
        status, body = self.req("GET", "/executions?pipelineConfigIds=%s&limit=2"
                                "&statuses=SUCCEEDED,STOPPED,SKIPPED" % saved["id"])
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body), 2)
        self.assertEqual({e["id"] for e in body}, set(ids[1:]))
        starts = [e["startTime"] for e in body]
        self.assertEqual(starts, sorted(starts))  # ascending by start time
        # default limit is 1 per config
        status, body = self.req("GET", "/executions?pipelineConfigIds=%s" % saved["id"])
        self.assertEqual([e["id"] for e in body], [ids[2]])
        # a status filter that matches nothing
        status, body = self.req("GET", "/executions?pipelineConfigIds=%s&statuses=RUNNING"
                                % saved["id"])
        self.assertEqual((status, body), (200, []))
        # neither list: empty; both: 400; bad status or limit: 400
        self.assertEqual(self.req("GET", "/executions"), (200, []))
        status, body = self.req("GET", "/executions?pipelineConfigIds=a&executionIds=b")
        self.assert_error(status, body, 400)
        status, body = self.req("GET", "/executions?pipelineConfigIds=a&statuses=BOGUS")
        self.assert_error(status, body, 400, "BOGUS")
        status, body = self.req("GET", "/executions?pipelineConfigIds=a&limit=x")
        self.assert_error(status, body, 400, "limit")
        # GET /pipelines/{id} of something unknown: 404
        status, body = self.req("GET", "/pipelines/01ZZZZZZZZZZZZZZZZZZZZZZZZ")
        self.assert_error(status, body, 404, "Pipeline not found")

    def test_cancel_both_paths(self):
        app = unique("cancel")
        self.save({"application": app, "name": "slow", "stages": [wait_stage(600000)]})
        e1 = self.trigger(app, "slow")
        e2 = self.trigger(app, "slow")
        self.wait_status(e1, {"RUNNING"})
        self.wait_status(e2, {"RUNNING"})
        status, body = self.req("PUT", "/pipelines/%s/cancel?reason=enough" % e1)
        self.assertEqual(status, 200, body)
        # old spin leaves the literal {application} segment in the URL
        status, body = self.req("PUT", "/applications/%%7Bapplication%%7D/pipelines/%s/cancel"
                                % e2)
        self.assertEqual(status, 200, body)
        x1 = self.wait_status(e1, COMPLETE)
        x2 = self.wait_status(e2, COMPLETE)
        self.assertEqual(x1["status"], "CANCELED")
        self.assertTrue(x1["canceled"])
        self.assertEqual(x1.get("cancellationReason"), "enough")
        self.assertEqual(x2["status"], "CANCELED")
        status, body = self.req("PUT", "/pipelines/01ZZZZZZZZZZZZZZZZZZZZZZZZ/cancel")
        self.assert_error(status, body, 404)

    def test_application_lifecycle(self):
        app = unique("lifeapp")
        status, body = self.req("GET", "/applications/" + app)
        self.assert_error(status, body, 404, "Application not found")
        task = self.create_app(app)
        self.assertEqual(task["application"], app)
        self.assertTrue(any(v["key"] == "application" for v in task["variables"]), task)
        self.assertEqual(task["execution"]["type"], "ORCHESTRATION")
        status, body = self.req("GET", "/applications/%s?expand=false" % app.upper())
        self.assertEqual(status, 200, body)
        self.assertEqual(body["name"], app)
        self.assertEqual(body["attributes"]["email"], "team@example.com")
        self.assertEqual(body["attributes"]["instancePort"], 80)
        self.assertIn("clusters", body)
        status, apps = self.req("GET", "/applications")
        self.assertEqual(status, 200)
        mine = [a for a in apps if a["name"] == app]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["email"], "team@example.com")
        status, hist = self.req("GET", "/applications/%s/history" % app)
        self.assertEqual(status, 200)
        self.assertEqual(hist[0]["name"], app)
        # the task is listed among the application's tasks
        status, tasks = self.req("GET", "/applications/%s/tasks" % app)
        self.assertEqual(status, 200)
        self.assertIn(task["id"], [t["id"] for t in tasks])
        # spin's delete: GET, then a deleteApplication task
        task = self.run_task({"application": app, "description": "Delete Application: " + app,
                              "job": [{"type": "deleteApplication",
                                       "application": {"name": app}}]})
        self.assertEqual(task["status"], "SUCCEEDED", task)
        status, body = self.req("GET", "/applications/" + app)
        self.assert_error(status, body, 404)
        status, apps = self.req("GET", "/applications")
        self.assertNotIn(app, [a["name"] for a in apps])

    def test_app_task_route_forces_application(self):
        app = unique("forced")
        status, resp = self.req("POST", "/applications/%s/tasks" % app, {
            "application": "somethingelse", "description": "Create Application: " + app,
            "job": [{"type": "createApplication", "application": {"name": app,
                                                                  "email": "x@y.z"}}]})
        self.assertEqual(status, 200, resp)
        task = self.wait_task(resp["ref"].split("/")[-1])
        self.assertEqual(task["application"], app)
        self.assertEqual(task["status"], "SUCCEEDED", task)
        status, body = self.req("GET", "/tasks/%s" % "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
        self.assert_error(status, body, 404, "Task not found")

    def test_credentials_and_user(self):
        status, body = self.req("GET", "/credentials?expand=false")
        self.assertEqual(status, 200)
        self.assertEqual([a["name"] for a in body], ["local"])
        self.assertEqual(body[0]["type"], "local")
        self.assertEqual(body[0]["regions"], [{"name": "local"}])
        self.assertTrue(body[0]["authorized"])
        status, body = self.req("GET", "/credentials/local")
        self.assertEqual((status, body["name"]), (200, "local"))
        status, body = self.req("GET", "/credentials/nosuch")
        self.assert_error(status, body, 404, "nosuch")
        # the user is who the credentials say; X-SPINNAKER-USER is ignored
        status, body = self.req("GET", "/auth/user", headers={"X-SPINNAKER-USER": "carol"})
        self.assertEqual(status, 200)
        self.assertEqual(body["username"], "admin")
        self.assertEqual(body["roles"], ["admin"])
        self.assertEqual(body["allowedAccounts"], ["local"])
        status, body = self.req("GET", "/auth/user", auth=None)
        self.assert_error(status, body, 401)

    def test_stage_types(self):
        # What the pipeline editor offers: every stage type registered by
        # the engine, the cloud, the bakery and the pollers.
        status, body = self.req("GET", "/stageTypes")
        self.assertEqual(status, 200)
        types = {t["type"]: t for t in body}
        for t in ("wait", "manualJudgment", "deploy", "bake", "runJob", "jenkins", "webhook",
                  "pipeline", "disableCluster", "findImageFromTags", "rollbackCluster",
                  "upsertImageTags", "deleteImage"):
            self.assertIn(t, types)
        self.assertNotIn("canaryAnalysis", types)
        self.assertTrue(types["wait"]["canManuallySkip"])
        self.assertEqual(len(types), len(body))

    def test_history_after_two_saves(self):
        app = unique("hist")
        first = {"application": app, "name": "h", "stages": [wait_stage()],
                 "x-custom": {"nested": [1, 2.5, "three", None, True]}, "keepMe": "v1"}
        saved = self.save(first)
        time.sleep(0.01)
        second = dict(first, id=saved["id"], keepMe="v2", another={"k": [{"a": "b"}]})
        self.save(second, stale=False)
        status, versions = self.req("GET", "/pipelineConfigs/%s/history?limit=20"
                                    % saved["id"])
        self.assertEqual(status, 200)
        self.assertEqual(len(versions), 2)
        self.assertEqual(versions[0]["keepMe"], "v2")  # newest first
        self.assertEqual(versions[1]["keepMe"], "v1")
        self.assertEqual(versions[0]["another"], {"k": [{"a": "b"}]})
        self.assertNotIn("another", versions[1])
        for v in versions:
            self.assertEqual(v["x-custom"], {"nested": [1, 2.5, "three", None, True]})
        status, versions = self.req("GET", "/pipelineConfigs/%s/history?limit=1" % saved["id"])
        self.assertEqual([v["keepMe"] for v in versions], ["v2"])
        # the saved config round-trips the unknown keys too
        self.assertEqual(self.config(app, "h")["another"], {"k": [{"a": "b"}]})

    def test_list_sorted_and_delete(self):
        app = unique("list")
        self.save({"application": app, "name": "zeta", "index": 5, "stages": []})
        self.save({"application": app, "name": "alpha", "index": 9, "stages": []})
        self.save({"application": app, "name": "beta", "stages": []})
        status, configs = self.req("GET", "/applications/%s/pipelineConfigs" % app)
        self.assertEqual(status, 200)
        self.assertEqual([c["name"] for c in configs], ["zeta", "alpha", "beta"])
        self.assertEqual([c["index"] for c in configs], [0, 1, 2])
        # duplicate name (case-insensitive, other id): 400
        status, body = self.req("POST", "/pipelines", {"application": app, "name": "ALPHA",
                                                       "stages": []})
        self.assert_error(status, body, 400,
                          "A pipeline with name ALPHA already exists in application %s" % app)
        # a name is trimmed
        self.save({"application": app, "name": "  gamma  ", "stages": []})
        self.config(app, "gamma")
        # delete by name (case-insensitive), then 200 again when absent
        status, _ = self.req("DELETE", "/pipelines/%s/Alpha" % app)
        self.assertEqual(status, 200)
        status, body = self.req("GET", "/applications/%s/pipelineConfigs/alpha" % app)
        self.assert_error(status, body, 404)
        status, _ = self.req("DELETE", "/pipelines/%s/alpha" % app)
        self.assertEqual(status, 200)
        status, configs = self.req("GET", "/applications/%s/pipelineConfigs" % app)
        self.assertEqual([c["name"] for c in configs], ["zeta", "beta", "gamma"])

    def test_put_pipeline(self):
        app = unique("put")
        saved = self.save({"application": app, "name": "p", "stages": []})
        cfg = dict(saved, description="updated")
        status, body = self.req("PUT", "/pipelines/" + saved["id"], cfg)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["description"], "updated")
        self.assertEqual(self.config(app, "p")["description"], "updated")
        status, body = self.req("PUT", "/pipelines/other-id", cfg)
        self.assert_error(status, body, 400, "doesn't match")
        status, body = self.req("PUT", "/pipelines/nosuch", dict(cfg, id="nosuch"))
        self.assert_error(status, body, 404)

    def test_pipeline_names_with_reserved_characters(self):
        app = unique("chars")
        name = "deploy to prod/eu (v2) #1"
        self.save({"application": app, "name": name, "stages": [wait_stage()]})
        quoted = urllib_quote(name)
        status, body = self.req("GET", "/applications/%s/pipelineConfigs/%s" % (app, quoted))
        self.assertEqual((status, body.get("name")), (200, name))
        e = self.trigger(app, quoted)
        self.assertEqual(self.wait_status(e, COMPLETE)["name"], name)
        status, _ = self.req("DELETE", "/pipelines/%s/%s" % (app, quoted))
        self.assertEqual(status, 200)


def urllib_quote(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


class ExecutionControlTest(ApiTestCase):
    """Pause, resume, manual judgment, restart, delete, expressions, lists."""

    def test_pause_resume(self):
        app = unique("pause")
        self.save({"application": app, "name": "slow", "stages": [wait_stage(600000)]})
        e = self.trigger(app, "slow")
        self.wait_status(e, {"RUNNING"})
        self.assertEqual(self.req("PUT", "/pipelines/%s/pause" % e)[0], 200)
        self.assertEqual(self.execution(e)["status"], "PAUSED")
        status, body = self.req("PUT", "/pipelines/%s/pause" % e)
        self.assert_error(status, body, 409, "not RUNNING")
        self.assertEqual(self.req("PUT", "/pipelines/%s/resume" % e)[0], 200)
        self.assertEqual(self.execution(e)["status"], "RUNNING")
        status, body = self.req("PUT", "/pipelines/%s/resume" % e)
        self.assert_error(status, body, 409, "not PAUSED")
        # delete while running: 409
        status, body = self.req("DELETE", "/pipelines/" + e)
        self.assert_error(status, body, 409)
        self.req("PUT", "/pipelines/%s/cancel" % e)
        self.wait_status(e, COMPLETE)
        status, _ = self.req("DELETE", "/pipelines/" + e)
        self.assertEqual(status, 200)
        status, body = self.req("GET", "/pipelines/" + e)
        self.assert_error(status, body, 404)

    def test_manual_judgment_patch(self):
        app = unique("judge")
        self.save({"application": app, "name": "gate", "stages": [
            {"refId": "1", "type": "manualJudgment", "name": "Approve",
             "judgmentInputs": [{"value": "yes"}, {"value": "no"}]},
            wait_stage(0, "2", ["1"])]})
        e = self.trigger(app, "gate")

        def judging():
            x = self.execution(e)
            st = [s for s in x["stages"] if s["refId"] == "1"]
            return st[0] if st and st[0]["status"] == "RUNNING" else None
        stage = wait_until(judging, timeout=20, message="judgment stage running")
        status, body = self.req("PATCH", "/pipelines/%s/stages/%s" % (e, stage["id"]),
                                {"judgmentStatus": "continue", "judgmentInput": "yes"},
                                headers={"X-SPINNAKER-USER": "judge@example.com"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], e)
        done = self.wait_status(e, COMPLETE)
        self.assertEqual(done["status"], "SUCCEEDED", done)
        # the expression helpers see the judgment
        status, body = self.req("GET", "/pipelines/%s/evaluateExpression?expression=%s"
                                % (e, urllib_quote("${#judgment('Approve')}")))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["result"], "yes")
        status, body = self.req("GET", "/pipelines/%s/%s/evaluateExpression?expression=%s"
                                % (e, stage["id"], urllib_quote("${judgmentStatus}")))
        self.assertEqual((status, body["result"]), (200, "continue"))
        status, body = self.req("GET", "/pipelines/%s/evaluateExpression" % e)
        self.assert_error(status, body, 400, "expression")
        status, body = self.req("GET", "/pipelines/%s/nostage/evaluateExpression?expression=x"
                                % e)
        self.assert_error(status, body, 404)
        # an unknown stage in a PATCH: 4xx JSON
        status, body = self.req("PATCH", "/pipelines/%s/stages/nostage" % e,
                                {"judgmentStatus": "continue"})
        self.assertIn(status, (400, 404, 409), body)
        self.assert_error(status, body, status)

    def test_restart_stage(self):
        app = unique("restart")
        self.save({"application": app, "name": "p", "stages": [
            {"refId": "1", "type": "checkPreconditions", "name": "check",
             "preconditions": [{"type": "expression", "failPipeline": True,
                                "context": {"expression": "${false}"}}]}]})
        e = self.trigger(app, "p")
        x = self.wait_status(e, COMPLETE)
        self.assertEqual(x["status"], "TERMINAL", x)
        stage = x["stages"][0]
        status, body = self.req("PUT", "/pipelines/%s/stages/%s/restart" % (e, stage["id"]), {})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], e)
        self.wait_status(e, COMPLETE)

    def test_app_executions_are_summaries(self):
        app = unique("summ")
        self.save({"application": app, "name": "a", "stages": [
            wait_stage(), wait_stage(0, "2", ["1"])]})
        self.save({"application": app, "name": "b", "stages": [wait_stage()]})
        ids = [self.trigger(app, "a"), self.trigger(app, "a"), self.trigger(app, "b")]
        for i in ids:
            self.wait_status(i, COMPLETE)
        status, body = self.req("GET", "/applications/%s/pipelines" % app)
        self.assertEqual(status, 200)
        self.assertEqual({e["id"] for e in body}, set(ids))
        for e in body:
            self.assertTrue(e["stages"])
            for s in e["stages"]:
                self.assertNotIn("context", s)
                self.assertNotIn("tasks", s)
                self.assertNotIn("outputs", s)
                self.assertIn("status", s)
        # newest first
        builds = [e["buildTime"] for e in body]
        self.assertEqual(builds, sorted(builds, reverse=True))
        # limit is per config; expand=true gives the whole executions
        status, body = self.req("GET", "/applications/%s/pipelines?limit=1&expand=true" % app)
        self.assertEqual(len(body), 2)
        self.assertIn("tasks", body[0]["stages"][0])
        status, body = self.req("GET", "/applications/%s/pipelines?statuses=RUNNING" % app)
        self.assertEqual((status, body), (200, []))
        # search: by pipeline name, paged
        status, body = self.req("GET", "/applications/%s/executions/search?pipelineName=a"
                                "&size=1&triggerTypes=manual" % app)
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body), 1)
        self.assertEqual(body[0]["name"], "a")
        self.assertNotIn("context", body[0]["stages"][0])

    def test_task_cancel_and_delete(self):
        app = unique("tcancel")
        status, resp = self.req("POST", "/tasks", {
            "application": app, "description": "a long task",
            "job": [{"type": "wait", "waitTime": 600000}]})
        self.assertEqual(status, 200, resp)
        tid = resp["ref"].split("/")[-1]
        wait_until(lambda: self.req("GET", "/tasks/" + tid)[1]["status"] == "RUNNING",
                   timeout=20, message="task running")
        status, body = self.req("DELETE", "/tasks/" + tid)
        self.assert_error(status, body, 409)
        self.assertEqual(self.req("PUT", "/tasks/%s/cancel" % tid)[0], 200)
        t = self.wait_task(tid)
        self.assertEqual(t["status"], "CANCELED")
        self.assertEqual(self.req("DELETE", "/tasks/" + tid)[0], 200)
        status, body = self.req("GET", "/tasks/" + tid)
        self.assert_error(status, body, 404)
        # a pipeline execution is not a task, and a task is not a pipeline
        status, body = self.req("GET", "/pipelines/" + t["id"])
        self.assert_error(status, body, 404)


class ErrorContractTest(ApiTestCase):
    """Every 4xx/5xx is JSON {error, message, status}; bad input never
    crashes the server or gives a 5xx."""

    POST_ROUTES = [
        ("POST", "/pipelines"), ("POST", "/pipelines?staleCheck=true"),
        ("POST", "/pipelines/app/name"), ("POST", "/pipelines/v2/app/name"),
        ("POST", "/pipelines/start"), ("POST", "/tasks"), ("POST", "/applications/app/tasks"),
        ("PUT", "/pipelines/someid"), ("PATCH", "/pipelines/someid/stages/stage"),
        ("PUT", "/pipelines/someid/stages/stage/restart"),
        ("POST", "/pipelines/someid/evaluateExpression"), ("PUT", "/tasks/cancel"),
        ("POST", "/applications/app/pipelineConfigs/name"),
    ]

    def test_malformed_json(self):
        status, body = self.req("POST", "/pipelines", '{"application": "a",\n "name": }')
        self.assert_error(status, body, 400, "line 2")
        self.assertIn("column", body["message"])
        status, body = self.req("POST", "/tasks", "[1, 2")
        self.assert_error(status, body, 400)
        status, body = self.req("POST", "/pipelines", "[1, 2]")
        self.assert_error(status, body, 400, "object")
        status, body = self.req("POST", "/pipelines", "")
        self.assert_error(status, body, 400, "empty")

    def test_unknown_application_and_route(self):
        status, body = self.req("GET", "/applications/" + unique("nosuchapp"))
        self.assert_error(status, body, 404, "Application not found")
        status, body = self.req("GET", "/no/such/route")
        self.assert_error(status, body, 404)
        status, body = self.req("DELETE", "/applications")
        self.assert_error(status, body, 405)

    def test_validation_errors_store_nothing(self):
        app = unique("invalid")
        cases = [
            ({"application": app, "name": "cyc", "stages": [
                wait_stage(0, "1", ["2"]), wait_stage(0, "2", ["1"])]}, "cycle"),
            ({"application": app, "name": "dangle", "stages": [
                wait_stage(0, "1", ["9"])]}, "9"),
            ({"application": app, "stages": []}, "name"),
            ({"application": app, "name": "   ", "stages": []}, "name"),
            ({"name": "noapp", "stages": []}, "application"),
            ({"application": app, "name": "dup", "stages": [
                wait_stage(0, "1"), wait_stage(0, "1")]}, "1"),
            ({"application": app, "name": "badstages", "stages": {"a": 1}}, "stages"),
            ({"application": app, "name": "badid", "id": 42, "stages": []}, "id"),
        ]
        for cfg, word in cases:
            with self.subTest(cfg=cfg):
                status, body = self.req("POST", "/pipelines?staleCheck=true", cfg)
                self.assert_error(status, body, 400)
                self.assertIn(word.lower(), body["message"].lower())
        status, body = self.req("GET", "/applications/%s/pipelineConfigs" % app)
        self.assertEqual((status, body), (200, []))

    def test_body_over_the_cap(self):
        big = b'{"application": "a", "name": "' + b"x" * (8 * 1024 * 1024 + 16) + b'"}'
        status, body, _ = http("POST", self.server.url + "/pipelines", big, timeout=60)
        self.assert_error(status, body, 413)
        self.assertEqual(self.req("GET", "/health")[0], 200)

    def test_bad_query_values(self):
        status, body = self.req("GET", "/applications/x/pipelines?limit=-3")
        self.assert_error(status, body, 400, "limit")
        status, body = self.req("GET", "/applications/x/pipelines?expand=maybe")
        self.assert_error(status, body, 400, "expand")
        status, body = self.req("POST", "/pipelines?staleCheck=perhaps", {})
        self.assert_error(status, body, 400, "staleCheck")

    def test_garbage_never_5xx(self):
        rnd = random.Random(1234)
        samples = [
            b"", b"null", b"0", b"-1e999", b"\"str\"", b"[]", b"{}", b"{\"trigger\": 5}",
            b"{\"job\": 5}", b"{\"job\": [5]}", b"{\"job\": [{}]}", b"{\"application\": 7}",
            b"{\"application\": \"a\", \"job\": [{\"type\": \"nosuchstage\"}]}",
            b"{\"application\": \"a\", \"name\": \"n\", \"stages\": [null, 1, \"x\"]}",
            b"{\"application\": \"a\", \"name\": \"n\", \"stages\": [{\"refId\": {}}]}",
            b"{\"application\": \"a\", \"name\": \"n\", \"triggers\": 3, \"parameterConfig\": 4}",
            b"{\"a\": \"\\ud800\"}", b"\xff\xfe\x00garbage", b"{\"a\":1,\"a\":2}",
            b"{" * 5000, b"[" * 100000, b"{\"expression\": \"${\"}",
        ]
        for _ in range(30):
            n = rnd.randint(1, 400)
            samples.append(bytes(rnd.randint(0, 255) for _ in range(n)))
        for method, path in self.POST_ROUTES:
            for body in samples:
                status, resp, _ = http(method, self.server.url + path, body)
                self.assertLess(status, 500, (method, path, body[:60], resp))
                if status >= 400:
                    self.assertIsInstance(resp, dict, (method, path, body[:60], resp))
                    self.assertEqual(resp.get("status"), status)
        # odd paths and query strings
        for path in ["/pipelines/%00", "/applications/%ZZ", "/applications/" + "a" * 5000,
                     "/" + "/".join(["x"] * 60), "/executions?limit=99999999999999999999",
                     "/executions?pipelineConfigIds=,,,&statuses=,", "/ui/%2e%2e/%2e%2e/etc/passwd",
                     "/ui/../../../etc/passwd", "/tasks/%2F..%2F", "/pipelines//cancel"]:
            for method in ("GET", "PUT", "POST", "DELETE"):
                try:
                    status, resp, _ = http(method, self.server.url + path)
                except OSError:
                    continue  # a client-side refusal of the URL is not the server's
                self.assertLess(status, 500, (method, path, resp))
        # raw bytes that are not UTF-8 in the path: still a JSON 404
        for raw in [b"/applications/\xff\xfe%FF", b"/tasks/\xc3/nothing"]:
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
                sock.sendall(b"GET " + raw + b" HTTP/1.0\r\nAuthorization: " +
                             authorization(self.server.credentials).encode() + b"\r\n\r\n")
                data = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            head, _, payload = data.partition(b"\r\n\r\n")
            self.assertIn(b" 404 ", head.split(b"\r\n")[0], data)
            self.assertEqual(json.loads(payload)["status"], 404)
        self.assertEqual(self.req("GET", "/health"), (200, {"status": "UP"}))


class ConfigAndUiTest(unittest.TestCase):
    """--config accounts, malformed config files, and the UI files."""

    def test_config_accounts(self):
        tmp = tempfile.mkdtemp(prefix="mizzen-api-cfg-")
        try:
            path = os.path.join(tmp, "mizzen.json")
            with open(path, "w") as f:
                json.dump({"providers": {"local": {"accounts": [
                    {"name": "local", "regions": ["local", "local-b"]},
                    {"name": "staging", "regions": ["eu"], "environment": "test"}]}}}, f)
            with Server(extra_args=["--config", path]) as srv:
                status, body = srv.request("GET", "/credentials")
                self.assertEqual(status, 200)
                self.assertEqual([a["name"] for a in body], ["local", "staging"])
                self.assertEqual(body[0]["regions"], [{"name": "local"}, {"name": "local-b"}])
                self.assertEqual(body[1]["environment"], "test")
                status, body = srv.request("GET", "/credentials/staging")
                self.assertEqual((status, body["regions"]), (200, [{"name": "eu"}]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_malformed_config_exits_2(self):
        tmp = tempfile.mkdtemp(prefix="mizzen-api-cfg-")
        try:
            for text, word in [('{"providers": {"local": {"accounts": [', "line"),
                               ('{"providers": {"local": {"accounts": [{"regions": []}]}}}',
                                "name"),
                               ('{"providers": []}', "providers")]:
                path = os.path.join(tmp, "bad.json")
                with open(path, "w") as f:
                    f.write(text)
                res = subprocess.run([binary(), "serve", "--listen", "127.0.0.1:0", "--data",
                                      os.path.join(tmp, "data"), "--config", path],
                                     capture_output=True, text=True, timeout=20)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(word, res.stderr)
                self.assertIn(path, res.stderr)
            res = subprocess.run([binary(), "serve", "--listen", "nonsense"],
                                 capture_output=True, text=True, timeout=20)
            self.assertEqual(res.returncode, 2)
            self.assertIn("--listen", res.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_version_command(self):
        res = subprocess.run([binary(), "--version"], capture_output=True, text=True,
                             timeout=20)
        self.assertEqual(res.returncode, 0)
        self.assertTrue(res.stdout.startswith("mizzen "))

    def test_ui_files(self):
        tmp = tempfile.mkdtemp(prefix="mizzen-api-web-")
        try:
            web = os.path.join(tmp, "web")
            os.makedirs(os.path.join(web, "js"))
            with open(os.path.join(web, "index.html"), "w") as f:
                f.write("<!doctype html><title>test ui</title>")
            with open(os.path.join(web, "js", "app.js"), "w") as f:
                f.write("export const x = 1;\n")
            with open(os.path.join(tmp, "secret.txt"), "w") as f:
                f.write("secret")
            with Server(env={"MIZZEN_WEB_DIR": web}) as srv:
                status, body, hdrs = http("GET", srv.url + "/")  # follows the redirect
                self.assertEqual(status, 200)
                self.assertIn("test ui", body)
                self.assertTrue(hdrs["Content-Type"].startswith("text/html"))
                status, body, hdrs = http("GET", srv.url + "/ui/js/app.js")
                self.assertEqual(status, 200)
                self.assertTrue(hdrs["Content-Type"].startswith("text/javascript"))
                self.assertEqual(body, "export const x = 1;\n")
                for path in ["/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/js%2F..%2F..%2Fsecret.txt",
                             "/ui/nosuch.js", "/ui/js"]:
                    status, body, _ = http("GET", srv.url + path)
                    self.assertEqual(status, 404, (path, body))
                    self.assertNotIn("secret", json.dumps(body).replace(path, ""))
            # no UI installed: a placeholder page
            with Server(env={"MIZZEN_WEB_DIR": os.path.join(tmp, "missing")}) as srv:
                status, body, _ = http("GET", srv.url + "/ui/")
                self.assertEqual(status, 200)
                self.assertIn("not installed", body)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
