"""Triggers, events and notifications through the real binary: generic
webhooks with payload constraints, GitHub webhooks with signatures, git
polling of a local repository, a real local Docker registry, a server that
answers Jenkins' JSON API (Jenkins itself cannot run here), cron, pipeline
triggers, notifications to a webhook receiver, a Slack-compatible receiver
and an SMTP responder, and SIGKILL between an event's arrival and its
dispatch."""
import hashlib
import hmac
import json
import os
import shutil
import sys
import time
import unittest

from mizzen_harness import Server, wait_until, http
from mizzen_flow import COMPLETE, wait_execution
from trigger_helpers import (GitRepo, Receiver, SMTPResponder, FakeJenkins, Registry,
                             REGISTRY_BIN, log_has, log_count)

POLL_MS = 300


def executions(server, app):
    s, body = server.request("GET", "/applications/%s/pipelines" % app)
    assert s == 200, (s, body)
    return body


def save(server, app, name, triggers, stages=None, **extra):
    cfg = {"application": app, "name": name, "triggers": triggers,
           "stages": stages or [{"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]}
    cfg.update(extra)
    s, body = server.request("POST", "/pipelines", cfg)
    assert s == 200, (s, body)
    return body


def wait_count(server, app, n, timeout=20):
    return wait_until(lambda: (lambda e: e if len(e) >= n else None)(executions(server, app)),
                      timeout=timeout, interval=0.1,
                      message="%d execution(s) of %s" % (n, app))


def wait_event(server, event_id, timeout=20):
    def done():
        s, b = server.request("GET", "/webhooks/events/" + event_id)
        return b if s == 200 and b["processed"] else None
    return wait_until(done, timeout=timeout, interval=0.05,
                      message="event %s processed" % event_id)


class Triggers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SMTPResponder()
        cls.jenkins = FakeJenkins()
        cls.server = Server(env={"MZ_POLL_INTERVAL_MS": str(POLL_MS),
                                 "MZ_SMTP_URL": cls.smtp.url,
                                 "MZ_JENKINS_CI_URL": cls.jenkins.url}).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.smtp.close()
        cls.jenkins.close()

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write(self.server.log_tail())
        return out

    # -- generic webhooks ---------------------------------------------------

    def test_webhook_payload_constraints(self):
        srv = self.server
        save(srv, "whapp", "deploy", [{
            "type": "webhook", "source": "ci-done", "enabled": True,
            "payloadConstraints": {"env": "^prod$", "$.build.branch": "^main$"}}],
            parameterConfig=[{"name": "region", "default": "local"}])
        # fails a constraint: processed, nothing started
        s, b = srv.request("POST", "/webhooks/webhook/ci-done",
                           {"env": "prod", "build": {"branch": "dev"}})
        self.assertEqual(s, 200, b)
        self.assertTrue(b["eventProcessed"])
        ev = wait_event(srv, b["eventId"])
        self.assertEqual(ev["result"]["executions"], [])
        s, b = srv.request("POST", "/webhooks/webhook/ci-done", {"env": "staging"})
        self.assertEqual(wait_event(srv, b["eventId"])["result"]["executions"], [])
        # another source: nothing
        s, b = srv.request("POST", "/webhooks/webhook/other", {"env": "prod"})
        self.assertEqual(wait_event(srv, b["eventId"])["result"]["executions"], [])
        self.assertEqual(executions(srv, "whapp"), [])
        # passes
        payload = {"env": "prod", "build": {"branch": "main"}, "parameters": {"color": "red"},
                   "artifacts": [{"type": "docker/image", "name": "app", "version": "1.2"}]}
        s, b = srv.request("POST", "/webhooks/webhook/ci-done", payload)
        self.assertEqual(s, 200, b)
        ev = wait_event(srv, b["eventId"])
        self.assertEqual(len(ev["result"]["executions"]), 1)
        e = wait_execution(srv, ev["result"]["executions"][0]["executionId"])
        t = e["trigger"]
        self.assertEqual(t["type"], "webhook")
        self.assertEqual(t["payload"], payload)
        self.assertEqual(t["eventId"], b["eventId"])
        self.assertEqual(t["parameters"], {"color": "red", "region": "local"})
        self.assertEqual(t["artifacts"][0]["version"], "1.2")
        self.assertEqual(e["status"], "SUCCEEDED")
        self.assertEqual(len(executions(srv, "whapp")), 1)
        # the same event id again (a client's retry) is kept once
        for _ in range(2):
            s, b2 = srv.request("POST", "/webhooks/webhook/ci-done", payload,
                                headers={"X-Event-Id": "retry-1"})
            self.assertEqual(b2["eventId"], "retry-1")
        wait_event(srv, "retry-1")
        self.assertEqual(len(executions(srv, "whapp")), 2)

    def test_bad_input(self):
        s, b = self.server.request("POST", "/webhooks/webhook/x", "[1, 2]")
        self.assertEqual(s, 400, b)
        self.assertIn("message", b)
        s, b = self.server.request("POST", "/webhooks/webhook/x", "{bad json")
        self.assertEqual(s, 400, b)
        s, b = self.server.request("GET", "/webhooks/events/nope")
        self.assertEqual(s, 404, b)
        s, b = self.server.request("POST", "/webhooks/git/nosuch", {})
        self.assertEqual(s, 404, b)

    # -- GitHub webhooks with a signature --------------------------------------

    def test_github_signature(self):
        srv = self.server
        save(srv, "ghapp", "build", [{
            "type": "git", "source": "github", "project": "acme", "slug": "shop",
            "branch": "main|release-.*", "secret": "s3cret", "enabled": True}])
        push = {"ref": "refs/heads/release-7", "after": "a" * 40,
                "repository": {"name": "shop", "owner": {"name": "acme"}}}
        raw = json.dumps(push).encode()
        good = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
        bad = "sha256=" + hmac.new(b"wrong", raw, hashlib.sha256).hexdigest()
        hdrs = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
        s, b = srv.request("POST", "/webhooks/git/github", raw,
                           headers=dict(hdrs, **{"X-Hub-Signature-256": bad}))
        self.assertEqual(s, 401, b)
        self.assertEqual(b["status"], 401)
        s, b = srv.request("POST", "/webhooks/git/github", raw, headers=hdrs)
        self.assertEqual(s, 401, b)
        self.assertEqual(executions(srv, "ghapp"), [])
        # a branch the regex does not take: processed, nothing started
        other = dict(push, ref="refs/heads/feature")
        raw2 = json.dumps(other).encode()
        sig2 = "sha256=" + hmac.new(b"s3cret", raw2, hashlib.sha256).hexdigest()
        s, b = srv.request("POST", "/webhooks/git/github", raw2,
                           headers=dict(hdrs, **{"X-Hub-Signature-256": sig2}))
        self.assertEqual(s, 200, b)
        self.assertEqual(wait_event(srv, b["eventId"])["result"]["executions"], [])
        # good signature: started with hash and branch
        s, b = srv.request("POST", "/webhooks/git/github", raw,
                           headers=dict(hdrs, **{"X-Hub-Signature-256": good}))
        self.assertEqual(s, 200, b)
        ev = wait_event(srv, b["eventId"])
        self.assertEqual(len(ev["result"]["executions"]), 1)
        e = wait_execution(srv, ev["result"]["executions"][0]["executionId"])
        self.assertEqual(e["trigger"]["hash"], "a" * 40)
        self.assertEqual(e["trigger"]["branch"], "release-7")
        self.assertEqual(e["trigger"]["project"], "acme")
        self.assertNotIn("secret", e["trigger"])
        # a ping is acknowledged and not processed
        s, b = srv.request("POST", "/webhooks/git/github", {"hook_id": 1, "zen": "hi"},
                           headers={"X-GitHub-Event": "ping"})
        self.assertEqual((s, b), (200, {"eventProcessed": False}))

    # -- git polling -------------------------------------------------------------

    def test_git_polling(self):
        srv = self.server
        repo = GitRepo()
        try:
            save(srv, "gitapp", "on-commit", [{
                "type": "git", "source": "git", "url": repo.path, "branch": "main",
                "enabled": True}])
            # The save takes the baseline, unless this fast poller's first
            # look came in between (then it recorded the same head).
            wait_until(lambda: log_has(srv, "git %s main: baseline" % repo.path) or
                       log_has(srv, "git %s main: first seen" % repo.path), timeout=20,
                       message="the baseline taken when the pipeline was saved")
            # the baseline only records the cursor
            n = log_count(srv, "pollers: git")
            wait_until(lambda: log_count(srv, "pollers: git") >= n or True, timeout=1)
            self.assertEqual(executions(srv, "gitapp"), [])
            head = repo.commit("second")
            execs = wait_count(srv, "gitapp", 1)
            self.assertEqual(execs[0]["trigger"]["type"], "git")
            self.assertEqual(execs[0]["trigger"]["hash"], head)
            self.assertEqual(execs[0]["trigger"]["branch"], "main")
            # several more polls see the same hash: still exactly one
            time.sleep(POLL_MS * 5 / 1000.0)
            self.assertEqual(len(executions(srv, "gitapp")), 1)
            head2 = repo.commit("third")
            execs = wait_count(srv, "gitapp", 2)
            self.assertEqual({e["trigger"]["hash"] for e in execs}, {head, head2})
        finally:
            repo.close()

    # -- pipeline triggers ---------------------------------------------------------

    def test_pipeline_trigger_statuses(self):
        srv = self.server
        ok = save(srv, "parapp", "parent-ok", [],
                  stages=[{"refId": "1", "type": "wait", "name": "w", "waitTime": 0}])
        bad = save(srv, "parapp", "parent-bad", [], stages=[{
            "refId": "1", "type": "checkPreconditions", "name": "fail",
            "preconditions": [{"type": "expression", "failPipeline": True,
                               "context": {"expression": "false"}}]}])
        save(srv, "childapp", "on-success", [{"type": "pipeline", "application": "parapp",
                                              "pipeline": ok["id"], "status": ["successful"],
                                              "enabled": True}])
        save(srv, "childapp", "on-failure", [{"type": "pipeline", "application": "parapp",
                                              "pipeline": bad["id"], "status": ["failed"],
                                              "enabled": True},
                                             {"type": "pipeline", "application": "parapp",
                                              "pipeline": ok["id"], "status": ["failed"],
                                              "enabled": True}])
        s, b = srv.request("POST", "/pipelines/parapp/parent-ok", {"type": "manual"})
        self.assertEqual(s, 202, b)
        pid = b["ref"].split("/")[-1]
        wait_execution(srv, pid)
        children = wait_count(srv, "childapp", 1)
        self.assertEqual(children[0]["name"], "on-success")
        t = children[0]["trigger"]
        self.assertEqual(t["type"], "pipeline")
        self.assertEqual(t["parentExecution"]["id"], pid)
        self.assertEqual(t["parentPipelineId"], ok["id"])
        self.assertEqual(t["parentStatus"], "SUCCEEDED")
        s, b = srv.request("POST", "/pipelines/parapp/parent-bad", {"type": "manual"})
        bid = b["ref"].split("/")[-1]
        self.assertEqual(wait_execution(srv, bid)["status"], "TERMINAL")
        children = wait_count(srv, "childapp", 2)
        names = sorted(c["name"] for c in children)
        self.assertEqual(names, ["on-failure", "on-success"])
        time.sleep(1.0)  # nothing more arrives (on-failure does not fire for ok's success)
        self.assertEqual(len(executions(srv, "childapp")), 2)

    # -- cron ------------------------------------------------------------------------

    def test_cron(self):
        srv = self.server
        save(srv, "cronapp", "every-2s", [{"type": "cron", "id": "tick",
                                          "cronExpression": "*/2 * * * * ?",
                                          "enabled": True}])
        execs = wait_count(srv, "cronapp", 2, timeout=15)
        for e in execs:
            self.assertEqual(e["trigger"]["type"], "cron")
            self.assertEqual(e["trigger"]["id"], "tick")
            self.assertEqual(e["trigger"]["scheduledTime"] % 2000, 0)
        times = sorted(e["trigger"]["scheduledTime"] for e in execs)
        self.assertEqual(len(set(times)), len(times))
        # an invalid expression never fires and breaks nothing
        s, b = srv.request("POST", "/pipelines", {
            "application": "cronapp", "name": "every-2s", "id": execs[0]["pipelineConfigId"],
            "triggers": [], "stages": []})
        self.assertEqual(s, 200, b)

    # -- notifications ---------------------------------------------------------------

    def test_notifications(self):
        srv = self.server
        hook = Receiver(fail_first=1)  # the first call fails: retried
        slack = Receiver()
        try:
            save(srv, "notapp", "notify", [], notifications=[
                {"type": "webhook", "address": hook.url + "/hook",
                 "when": ["pipeline.starting", "pipeline.complete"],
                 "message": {"pipeline.complete": {"text": "all good"}}},
                {"type": "slack", "address": slack.url + "/slack",
                 "when": ["pipeline.complete"]},
                {"type": "email", "address": "ops@example.com", "when": ["pipeline.complete"]},
                {"type": "webhook", "address": hook.url + "/never", "when": ["pipeline.failed"]},
            ], stages=[{"refId": "1", "type": "wait", "name": "w", "waitTime": 0,
                        "sendNotifications": True,
                        "notifications": [{"type": "webhook", "address": hook.url + "/stage",
                                           "when": ["stage.complete"]}]}])
            s, b = srv.request("POST", "/pipelines/notapp/notify", {"type": "manual"})
            eid = b["ref"].split("/")[-1]
            self.assertEqual(wait_execution(srv, eid)["status"], "SUCCEEDED")
            link = "%s/ui/#/applications/notapp/executions/details/%s" % (srv.url, eid)
            wait_until(lambda: len(hook.posts("/hook")) >= 2, timeout=20,
                       message="webhook notifications (one retried)")
            types = sorted(p["event"]["type"] for p in hook.posts("/hook"))
            self.assertEqual(types, ["pipeline.complete", "pipeline.starting"])
            done = [p for p in hook.posts("/hook") if p["event"]["type"] == "pipeline.complete"]
            self.assertIn("all good", done[0]["text"])
            self.assertIn(link, done[0]["text"])
            self.assertEqual(done[0]["event"]["executionId"], eid)
            wait_until(lambda: hook.posts("/stage"), timeout=10, message="stage notification")
            self.assertIn("Stage w", hook.posts("/stage")[0]["text"])
            wait_until(lambda: slack.posts("/slack"), timeout=10, message="slack notification")
            self.assertIn("notapp's notify pipeline has completed successfully",
                          slack.posts("/slack")[0]["text"])
            wait_until(lambda: self.smtp.messages, timeout=10, message="email")
            sender, rcpts, data = self.smtp.messages[-1]
            self.assertEqual(rcpts, ["<ops@example.com>"])
            self.assertIn("Subject: notapp's notify pipeline has completed successfully", data)
            self.assertIn(link, data)
            self.assertEqual(hook.posts("/never"), [])
        finally:
            hook.close()
            slack.close()

    def test_notification_failure_never_fails_pipeline(self):
        srv = self.server
        save(srv, "notapp2", "unreachable", [], notifications=[
            {"type": "webhook", "address": "http://127.0.0.1:9/nothing",
             "when": ["pipeline.starting", "pipeline.complete"]}])
        s, b = srv.request("POST", "/pipelines/notapp2/unreachable", {"type": "manual"})
        eid = b["ref"].split("/")[-1]
        self.assertEqual(wait_execution(srv, eid)["status"], "SUCCEEDED")
        wait_until(lambda: log_has(srv, "notification to http://127.0.0.1:9/nothing failed"),
                   timeout=10, message="the failure in the log")

    # -- docker registry --------------------------------------------------------------

    @unittest.skipUnless(os.access(REGISTRY_BIN, os.X_OK), "docker-registry not installed "
                         "(scripts/install-deps --test)")
    def test_docker_registry(self):
        srv = self.server
        reg = Registry()
        try:
            reg.push("team/web", "1.0.0")
            save(srv, "dockapp", "on-image", [{
                "type": "docker", "account": "local-registry", "registry": reg.address,
                "repository": "team/web", "tag": "^[0-9.]+$", "enabled": True}])
            wait_until(lambda: log_has(srv, "docker %s/team/web: 1 tags recorded" % reg.address),
                       timeout=20, message="the poller's first look at the registry")
            self.assertEqual(executions(srv, "dockapp"), [])
            reg.push("team/web", "latest")      # does not match the tag regex
            reg.push("team/web", "1.1.0")
            execs = wait_count(srv, "dockapp", 1)
            t = execs[0]["trigger"]
            self.assertEqual(t["tag"], "1.1.0")
            self.assertEqual(t["repository"], "team/web")
            self.assertEqual(t["artifacts"][0]["reference"], "%s/team/web:1.1.0" % reg.address)
            time.sleep(POLL_MS * 4 / 1000.0)
            self.assertEqual(len(executions(srv, "dockapp")), 1)
        finally:
            reg.close()

    # -- jenkins (a server answering Jenkins' JSON API) --------------------------------

    def test_jenkins_polling(self):
        srv = self.server
        self.jenkins.add_build("app-build", 1)
        save(srv, "jenkapp", "after-build", [{
            "type": "jenkins", "master": "ci", "job": "app-build",
            "propertyFile": "build.properties", "enabled": True,
            "payloadConstraints": {"deploy": "^yes$"}}])
        wait_until(lambda: log_has(srv, "jenkins ci app-build: first seen"), timeout=20,
                   message="the poller's first look at the job")
        self.jenkins.add_build("app-build", 2, building=True)
        self.jenkins.add_build("app-build", 3, result="FAILURE")
        self.jenkins.add_build("app-build", 4, properties="deploy=no\n")
        self.jenkins.add_build("app-build", 5, properties="# ok\ndeploy = yes\nversion=5\n")
        time.sleep(POLL_MS * 4 / 1000.0)
        # build 2 still runs: nothing past it is reported yet
        self.assertEqual(executions(srv, "jenkapp"), [])
        with self.jenkins.lock:
            b2 = [b for b in self.jenkins.builds["app-build"] if b["number"] == 2][0]
            b2.update(building=False, result="SUCCESS")
        execs = wait_count(srv, "jenkapp", 1)
        t = execs[0]["trigger"]
        self.assertEqual(t["buildNumber"], 5)
        self.assertEqual(t["properties"], {"deploy": "yes", "version": "5"})
        self.assertEqual(t["buildInfo"]["result"], "SUCCESS")
        time.sleep(POLL_MS * 4 / 1000.0)
        self.assertEqual(len(executions(srv, "jenkapp")), 1)

    def test_jenkins_stage(self):
        srv = self.server
        self.jenkins.add_build("deploy-job", 1)
        save(srv, "jstage", "run-job", [], stages=[{
            "refId": "1", "type": "jenkins", "name": "Run", "master": "ci", "job": "deploy-job",
            "parameters": {"VERSION": "7"}}])
        s, b = srv.request("POST", "/pipelines/jstage/run-job", {"type": "manual"})
        eid = b["ref"].split("/")[-1]
        e = wait_execution(srv, eid, timeout=40)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        st = e["stages"][0]
        self.assertEqual(st["context"]["buildInfo"]["result"], "SUCCESS")
        self.assertEqual(st["context"]["buildNumber"], 2)
        self.assertEqual([j for j, _ in self.jenkins.started], ["deploy-job"])
        self.assertEqual(self.jenkins.started[0][1], {"VERSION": "7"})


class CrashBetweenArrivalAndDispatch(unittest.TestCase):
    """SIGKILL while the dispatcher holds a stored event (test-only delay):
    after the restart the event starts its pipeline exactly once."""

    def test_kill9(self):
        srv = Server(env={"MZ_TEST_DISPATCH_DELAY_MS": "1500"}, keep_data=True)
        srv.start()
        try:
            save(srv, "crashapp", "p", [{"type": "webhook", "source": "boom", "enabled": True}])
            ids = []
            for i in range(3):
                s, b = srv.request("POST", "/webhooks/webhook/boom", {"n": i})
                self.assertEqual(s, 200, b)
                ids.append(b["eventId"])
            wait_until(lambda: log_has(srv, "MZ_TEST_DISPATCH_DELAY_MS"), timeout=5)
            time.sleep(0.3)  # the dispatcher is inside its delay for the first event
            srv.kill9()
            srv.env.pop("MZ_TEST_DISPATCH_DELAY_MS")
            srv.start()
            for i in ids:
                wait_event(srv, i)
            execs = wait_count(srv, "crashapp", 3)
            time.sleep(1.0)
            execs = executions(srv, "crashapp")
            self.assertEqual(len(execs), 3)
            self.assertEqual(sorted(e["trigger"]["eventId"] for e in execs), sorted(ids))
            # a second restart replays nothing
            srv.restart(kill=True)
            time.sleep(1.0)
            self.assertEqual(len(executions(srv, "crashapp")), 3)
        finally:
            srv.keep_data = False
            srv.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
