"""Spinnaker's v2 pipeline templates (DESIGN.md "pipeline templates"):
create, update, get, list, versions, delete; plan; variables with types and
defaults; inheritance and exclude; stage injection first/before/after/last;
templated configs that run; POST /pipelines/start with "plan": true starts
nothing. Also re-run (rerunOf) and an application's notifications."""
import hashlib
import hmac
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server, ServerTestCase, wait_until  # noqa: E402
from mizzen_flow import COMPLETE, create_app, run_pipeline, wait_execution  # noqa: E402
from trigger_helpers import GitRepo, Receiver  # noqa: E402

APP = "tmplapp"

TEMPLATE = {
    "schema": "v2", "id": "soak-and-judge",
    "metadata": {"name": "Soak and judge", "description": "wait, then decide",
                 "owner": "team@example.com", "scopes": ["global"]},
    "variables": [
        {"name": "soakSeconds", "type": "int", "defaultValue": 0},
        {"name": "label", "type": "string", "description": "no default"},
        {"name": "regions", "type": "list", "defaultValue": ["local"]},
    ],
    "pipeline": {
        "limitConcurrent": True, "keepWaitingPipelines": False,
        "parameterConfig": [{"name": "env", "default": "staging"}],
        "triggers": [{"type": "webhook", "source": "tmpl-hook", "enabled": True}],
        "notifications": [],
        "stages": [
            {"refId": "soak", "type": "wait", "name": "Soak ${templateVariables.label}",
             "waitTime": "${templateVariables.soakSeconds}", "requisiteStageRefIds": []},
            {"refId": "plan", "type": "evaluateVariables", "name": "Plan",
             "requisiteStageRefIds": ["soak"],
             "variables": [{"key": "where", "value": "${templateVariables.regions[0]}"},
                           {"key": "env", "value": "${parameters.env}"}]},
        ],
    },
}


def templated(name, **extra):
    cfg = {"schema": "v2", "application": APP, "name": name,
           "template": {"artifactAccount": "front50ArtifactCredentials",
                        "reference": "spinnaker://soak-and-judge",
                        "type": "front50/pipelineTemplate"},
           "variables": {"label": "blue"}, "exclude": [], "stages": [], "triggers": []}
    cfg.update(extra)
    return cfg


def order(stages):
    """refIds in an order that respects requisites (the graph's edges)."""
    return {s["refId"]: sorted(s.get("requisiteStageRefIds") or []) for s in stages}


class Templates(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_app(cls.server, APP)
        s, body = cls.server.request("POST", "/v2/pipelineTemplates/create", TEMPLATE)
        assert s == 202, (s, body)

    def req(self, method, path, body=None):
        return self.server.request(method, path, body)

    def plan(self, cfg, expect=200):
        s, body = self.req("POST", "/v2/pipelineTemplates/plan", cfg)
        self.assertEqual(s, expect, body)
        return body

    def test_crud_versions_and_validation(self):
        s, body = self.req("POST", "/v2/pipelineTemplates/create", TEMPLATE)
        self.assertEqual(s, 409, body)
        s, got = self.req("GET", "/v2/pipelineTemplates/soak-and-judge")
        self.assertEqual(s, 200, got)
        self.assertEqual(got["metadata"]["name"], "Soak and judge")
        s, lst = self.req("GET", "/v2/pipelineTemplates?scopes=global")
        self.assertIn("soak-and-judge", [t["id"] for t in lst])
        s, lst = self.req("GET", "/v2/pipelineTemplates?scopes=other")
        self.assertNotIn("soak-and-judge", [t["id"] for t in lst])
        # a tagged version of another template, then an update of it
        other = dict(TEMPLATE, id="other-tmpl")
        s, _ = self.req("POST", "/v2/pipelineTemplates/create?tag=stable", other)
        self.assertEqual(s, 202)
        changed = dict(other, metadata=dict(other["metadata"], name="Changed"))
        s, _ = self.req("POST", "/v2/pipelineTemplates/update/other-tmpl", changed)
        self.assertEqual(s, 202)
        s, latest = self.req("GET", "/v2/pipelineTemplates/other-tmpl")
        self.assertEqual(latest["metadata"]["name"], "Changed")
        s, stable = self.req("GET", "/v2/pipelineTemplates/other-tmpl?tag=stable")
        self.assertEqual(stable["metadata"]["name"], "Soak and judge")
        s, versions = self.req("GET", "/v2/pipelineTemplates/versions")
        self.assertEqual(len(versions["other-tmpl"]), 2, versions)
        s, body = self.req("POST", "/v2/pipelineTemplates/update/nope", dict(other, id="nope"))
        self.assertEqual(s, 404, body)
        s, body = self.req("DELETE", "/v2/pipelineTemplates/other-tmpl")
        self.assertEqual(s, 202, body)
        s, body = self.req("GET", "/v2/pipelineTemplates/other-tmpl?tag=stable")
        self.assertEqual(s, 404, body)
        # malformed templates
        for bad, words in (
                (dict(TEMPLATE, id="x1", schema="1"), "schema"),
                (dict(TEMPLATE, id="x2", variables=[{"name": "a", "type": "complex"}]),
                 "unknown type"),
                (dict(TEMPLATE, id="x3", pipeline={"stages": [{"refId": "a"}]}), "type")):
            s, body = self.req("POST", "/v2/pipelineTemplates/create", bad)
            self.assertEqual(s, 400, body)
            self.assertIn(words, body["message"])

    def test_plan_variables_and_types(self):
        p = self.plan(templated("p1", variables={"label": "green", "soakSeconds": 3}))
        soak = p["stages"][0]
        self.assertEqual(soak["waitTime"], 3)          # typed: an int, not "3"
        self.assertEqual(soak["name"], "Soak green")
        plan = p["stages"][1]
        self.assertEqual(plan["variables"][0]["value"], "local")  # list default
        self.assertEqual(plan["variables"][1]["value"], "${parameters.env}")  # run time
        self.assertNotIn("schema", p)
        # inherited by default
        self.assertEqual([t["source"] for t in p["triggers"]], ["tmpl-hook"])
        self.assertEqual([x["name"] for x in p["parameterConfig"]], ["env"])
        # errors
        body = self.plan(templated("p2", variables={}), expect=400)
        self.assertIn("label", body["message"])
        body = self.plan(templated("p3", variables={"label": "x", "soakSeconds": "ten"}),
                         expect=400)
        self.assertIn("soakSeconds", body["message"])
        self.assertIn("int", body["message"])
        body = self.plan(templated("p4", variables={"label": "x", "nope": 1}), expect=400)
        self.assertIn("nope", body["message"])
        cfg = templated("p5")
        cfg["template"]["reference"] = "spinnaker://missing"
        body = self.plan(cfg, expect=400)
        self.assertIn("missing", body["message"])

    def test_exclude_inherit_and_override(self):
        own = {"type": "webhook", "source": "own-hook", "enabled": True}
        p = self.plan(templated("e1", exclude=["triggers"], triggers=[own]))
        self.assertEqual([t["source"] for t in p["triggers"]], ["own-hook"])
        self.assertEqual([x["name"] for x in p["parameterConfig"]], ["env"])
        p = self.plan(templated("e2", triggers=[own]))
        self.assertEqual([t["source"] for t in p["triggers"]], ["tmpl-hook", "own-hook"])
        p = self.plan(templated("e3", inherit=["triggers"]))
        self.assertEqual([t["source"] for t in p["triggers"]], ["tmpl-hook"])
        self.assertEqual(p["parameterConfig"], [])
        p = self.plan(templated("e4", exclude=["parameters", "triggers"]))
        self.assertEqual(p["parameterConfig"], [])
        self.assertEqual(p["triggers"], [])

    def test_stage_injection(self):
        def st(ref, how):
            return {"refId": ref, "type": "wait", "name": ref, "waitTime": 0, "inject": how}
        p = self.plan(templated("i1", stages=[
            st("first", {"first": True}), st("last", {"last": True}),
            st("before-plan", {"before": ["plan"]}), st("after-soak", {"after": ["soak"]})]))
        g = order(p["stages"])
        self.assertEqual(g["first"], [])
        self.assertEqual(g["soak"], ["first"])
        self.assertEqual(g["after-soak"], ["soak"])
        self.assertEqual(g["before-plan"], ["after-soak"])
        self.assertEqual(g["plan"], ["before-plan"])
        self.assertEqual(g["last"], ["plan"])
        for s in p["stages"]:
            self.assertNotIn("inject", s)
        body = self.plan(templated("i2", stages=[st("x", {"after": ["ghost"]})]), expect=400)
        self.assertIn("ghost", body["message"])

    def test_templated_config_runs(self):
        s, saved = self.req("POST", "/pipelines", templated(
            "run-me", variables={"label": "go", "soakSeconds": 0},
            stages=[{"refId": "hello", "type": "evaluateVariables", "name": "Hello",
                     "variables": [{"key": "greeting", "value": "hi ${parameters.env}"}],
                     "inject": {"last": True}}]))
        self.assertEqual(s, 200, saved)
        self.assertEqual(saved["schema"], "v2")   # stored as written
        eid = run_pipeline(self.server, APP, "run-me", {"parameters": {"env": "prod"}})
        e = wait_execution(self.server, eid, timeout=20)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        names = [s["name"] for s in e["stages"]]
        self.assertEqual(names[:3], ["Soak go", "Plan", "Hello"])
        hello = [s for s in e["stages"] if s["name"] == "Hello"][0]
        self.assertEqual(hello["outputs"]["greeting"], "hi prod")
        # a saved templated config that does not render is refused
        s, body = self.req("POST", "/pipelines", templated("bad", variables={}))
        self.assertEqual(s, 400, body)
        # a template in use cannot be deleted
        s, body = self.req("DELETE", "/v2/pipelineTemplates/soak-and-judge")
        self.assertEqual(s, 409, body)
        self.assertIn("run-me", body["message"])
        s, deps = self.req("GET", "/v2/pipelineTemplates/soak-and-judge/dependentPipelines")
        self.assertEqual([d["name"] for d in deps], ["run-me"])

    def test_start_with_plan_starts_nothing(self):
        def count():
            s, rows = self.req("GET", "/applications/%s/pipelines?limit=1000" % APP)
            return len(rows)
        before = count()
        s, p = self.req("POST", "/pipelines/start", dict(templated("adhoc"), plan=True))
        self.assertEqual(s, 200, p)
        self.assertEqual(p["stages"][0]["name"], "Soak blue")
        s, p = self.req("POST", "/pipelines/start", {
            "application": APP, "name": "plain", "plan": True,
            "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]})
        self.assertEqual(s, 200, p)
        self.assertEqual(p["stages"][0]["type"], "wait")
        self.assertEqual(count(), before)
        # without plan it starts
        s, body = self.req("POST", "/pipelines/start", templated("adhoc2"))
        self.assertEqual(s, 202, body)
        e = wait_execution(self.server, body["ref"].split("/")[-1])
        self.assertEqual(e["status"], "SUCCEEDED", e)


TRIGGERED = {
    "schema": "v2", "id": "triggered",
    "metadata": {"name": "Triggered", "owner": "team@example.com", "scopes": ["global"]},
    "variables": [{"name": "repo", "type": "string"},
                  {"name": "gitUrl", "type": "string", "defaultValue": ""}],
    "pipeline": {
        "parameterConfig": [{"name": "env", "default": "qa"}],
        "triggers": [
            {"type": "webhook", "source": "tmpl-fire", "enabled": True},
            {"type": "git", "source": "github", "project": "acme",
             "slug": "${templateVariables.repo}", "branch": "main", "secret": "s3cret",
             "enabled": True},
            {"type": "git", "source": "git", "url": "${templateVariables.gitUrl}",
             "branch": "main", "enabled": True}],
        "stages": [{"refId": "say", "type": "evaluateVariables", "name": "Say",
                    "variables": [{"key": "env", "value": "${parameters.env}"}]}]}}


class TemplateTriggers(unittest.TestCase):
    """Triggers a config inherits from its v2 template fire: a webhook, a
    signed GitHub push (the signature is checked against the template's
    secret), a polled git repository; a template change re-indexes them;
    a config that excludes them is not started."""

    @classmethod
    def setUpClass(cls):
        cls.repo = GitRepo()
        cls.srv = Server(env={"MZ_POLL_INTERVAL_MS": "300"}).start()
        create_app(cls.srv, APP)
        s, body = cls.srv.request("POST", "/v2/pipelineTemplates/create", TRIGGERED)
        assert s == 202, (s, body)

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        cls.repo.close()

    def save(self, name, **extra):
        cfg = {"schema": "v2", "application": APP, "name": name,
               "template": {"reference": "spinnaker://triggered"},
               "variables": {"repo": "widget", "gitUrl": self.repo.path}, "stages": [],
               "triggers": []}
        cfg.update(extra)
        s, body = self.srv.request("POST", "/pipelines", cfg)
        self.assertEqual(s, 200, body)
        return body

    def started(self, event_id):
        def done():
            s, b = self.srv.request("GET", "/webhooks/events/" + event_id)
            return b if s == 200 and b["processed"] else None
        ev = wait_until(done, timeout=20, message="event %s processed" % event_id)
        return [x["name"] for x in ev["result"]["executions"]]

    def hook(self, source):
        s, b = self.srv.request("POST", "/webhooks/webhook/" + source, {"parameters": {}})
        self.assertEqual(s, 200, b)
        return self.started(b["eventId"])

    def executions(self, name):
        s, rows = self.srv.request("GET", "/applications/%s/pipelines?limit=100" % APP)
        return [r for r in rows if r["name"] == name]

    def test_1_webhook_and_git_from_the_template(self):
        self.save("fired")
        self.save("quiet", exclude=["triggers"])
        self.assertEqual(self.hook("tmpl-fire"), ["fired"])
        e = wait_execution(self.srv, self.executions("fired")[0]["id"], timeout=20)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        self.assertEqual(e["trigger"]["type"], "webhook")
        self.assertEqual(e["stages"][0]["outputs"]["env"], "qa")  # the template's parameter

        # GitHub push on the slug the template variable names, signed with
        # the template's secret: unsigned is refused, signed starts it
        push = {"ref": "refs/heads/main", "after": "b" * 40,
                "repository": {"name": "widget", "owner": {"name": "acme"}}}
        raw = json.dumps(push).encode()
        hdrs = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
        s, b = self.srv.request("POST", "/webhooks/git/github", raw, headers=hdrs)
        self.assertEqual(s, 401, b)
        sig = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
        s, b = self.srv.request("POST", "/webhooks/git/github", raw,
                                headers=dict(hdrs, **{"X-Hub-Signature-256": sig}))
        self.assertEqual(s, 200, b)
        self.assertEqual(self.started(b["eventId"]), ["fired"])
        git = [x for x in self.executions("fired") if x["trigger"]["type"] == "git"]
        self.assertEqual(git[0]["trigger"]["hash"], "b" * 40)

        # a commit to the polled repository starts it (the template's git
        # trigger, its url from a template variable)
        before = len(self.executions("fired"))
        head = self.repo.commit("second")
        wait_until(lambda: len(self.executions("fired")) > before, timeout=20,
                   message="the polled commit starts the pipeline")
        polled = [x for x in self.executions("fired") if x["trigger"].get("hash") == head]
        self.assertEqual(len(polled), 1, self.executions("fired"))
        self.assertEqual(self.executions("quiet"), [])

    def test_3_inherited_run_as_user(self):
        # a trigger a template defines runs for every config using it: only
        # the user it runs as (or an admin) may put runAsUser in either
        bob = ("bob", self.srv.add_user("bob", ["dev"]))
        tmpl = json.loads(json.dumps(TRIGGERED))
        tmpl["id"] = "runs-as-admin"
        tmpl["pipeline"]["triggers"] = [{"type": "webhook", "source": "as-admin",
                                         "enabled": True, "runAsUser": "admin"}]
        s, b = self.srv.request("POST", "/v2/pipelineTemplates/create", tmpl, auth=bob)
        self.assertEqual(s, 403, b)
        self.assertIn("only admin or an admin may save", b["message"])
        s, b = self.srv.request("POST", "/v2/pipelineTemplates/create", tmpl)
        self.assertEqual(s, 202, b)
        cfg = {"schema": "v2", "application": APP, "name": "as-admin",
               "template": {"reference": "spinnaker://runs-as-admin"},
               "variables": {"repo": "widget"}, "stages": [], "triggers": []}
        s, b = self.srv.request("POST", "/pipelines", cfg, auth=bob)
        self.assertEqual(s, 403, b)
        self.assertIn("runAsUser", b["message"])
        s, b = self.srv.request("POST", "/pipelines", cfg)
        self.assertEqual(s, 200, b)
        self.assertEqual(self.hook("as-admin"), ["as-admin"])

    def test_2_a_template_change_is_reindexed(self):
        self.save("fired2")
        changed = json.loads(json.dumps(TRIGGERED))
        changed["pipeline"]["triggers"][0]["source"] = "tmpl-fire-new"
        s, b = self.srv.request("POST", "/v2/pipelineTemplates/update/triggered", changed)
        self.assertEqual(s, 202, b)
        self.assertEqual(self.hook("tmpl-fire"), [])
        self.assertEqual(sorted(self.hook("tmpl-fire-new")), ["fired", "fired2"])


if __name__ == "__main__":
    unittest.main()
