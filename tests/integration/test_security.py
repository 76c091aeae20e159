"""Authentication and the request rules around it, against the real server
over real HTTP: 401 without credentials on every route group but the
public ones; HTTP Basic (what spin's auth.basic sends), bearer API tokens
and the UI's session cookie each work; X-SPINNAKER-USER is never trusted;
users and tokens; the CSRF, Origin and Content-Type rules; CORS; the
"auth": {"enabled": false} guard; and the CLI's sign-in flags.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import (Server, ServerTestCase, authorization, binary,  # noqa: E402
                            free_port, http, wait_until)
from mizzen_flow import create_app, save_pipeline  # noqa: E402


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


# One path per route group, each needing credentials.
PROTECTED = [
    ("GET", "/applications"), ("GET", "/applications/x"),
    ("GET", "/applications/x/pipelineConfigs"), ("GET", "/pipelineConfigs"),
    ("POST", "/pipelines"), ("POST", "/pipelines/x/y"), ("GET", "/pipelines/01ABC"),
    ("PUT", "/pipelines/01ABC/cancel"), ("GET", "/executions?executionIds=1"),
    ("GET", "/applications/x/pipelines"), ("POST", "/tasks"), ("GET", "/tasks/1"),
    ("POST", "/applications/x/tasks"), ("GET", "/credentials"), ("GET", "/version"),
    ("GET", "/events"), ("GET", "/applications/x/clusters"),
    ("GET", "/applications/x/serverGroups"), ("GET", "/applications/x/loadBalancers"),
    ("GET", "/images/find?q=x"), ("GET", "/artifacts/local/abc"),
    ("GET", "/auth/user"), ("GET", "/auth/users"), ("GET", "/auth/tokens"),
    ("GET", "/webhooks/events/x"),
]


class Authentication(ServerTestCase):
    def anon(self, method, path, body=None, headers=None):
        return http(method, self.server.url + path, body, headers, auth=None)

    def test_no_credentials_is_401_on_every_route_group(self):
        for method, path in PROTECTED:
            status, body, hdrs = self.anon(method, path, {} if method != "GET" else None)
            self.assertEqual(status, 401, (method, path, body))
            self.assertEqual(body["status"], 401, (method, path))
            self.assertEqual(body["error"], "Unauthorized")
            self.assertEqual(hdrs["WWW-Authenticate"], 'Basic realm="mizzen"', (method, path))
        # a page's own fetch() gets no challenge (no browser Basic dialog)
        status, _, hdrs = self.anon("GET", "/applications", headers={"Sec-Fetch-Mode": "cors"})
        self.assertEqual(status, 401)
        self.assertNotIn("WWW-Authenticate", hdrs)
        # wrong credentials of every kind are 401 too
        for auth in [("admin", "wrong"), ("nobody", "x"), "mzt_not-a-token"]:
            status, _, _ = http("GET", self.server.url + "/applications", auth=auth)
            self.assertEqual(status, 401, auth)
        status, _, _ = http("GET", self.server.url + "/applications",
                            headers={"Cookie": "MIZZEN_SESSION=forged"}, auth=None)
        self.assertEqual(status, 401)

    def test_public_paths(self):
        status, body, _ = self.anon("GET", "/health")
        self.assertEqual((status, body), (200, {"status": "UP"}))
        status, _, _ = self.anon("GET", "/ui/")
        self.assertEqual(status, 200)
        status, _, _ = self.anon("GET", "/")  # redirect to /ui/, followed
        self.assertEqual(status, 200)
        status, body, _ = self.anon("POST", "/webhooks/webhook/" + unique("src"), {"a": 1})
        self.assertLess(status, 300, body)
        status, body, hdrs = self.anon("POST", "/auth/login",
                                       {"username": "admin", "password": "wrong"})
        self.assertEqual(status, 401)
        self.assertIn("Bad credentials", body["message"])
        self.assertNotIn("WWW-Authenticate", hdrs)

    def test_basic_bearer_and_cookie_each_work(self):
        user = unique("u")
        pw = self.server.add_user(user, ["dev"])
        # Basic, as spin's ~/.spin/config auth.basic block sends it
        status, body = self.server.request("GET", "/auth/user", auth=(user, pw))
        self.assertEqual((status, body["username"], body["roles"], body["admin"]),
                         (200, user, ["dev"], False))
        # a bearer token acts as the user who made it; shown once, never listed
        status, tok = self.server.request("POST", "/auth/tokens", {"name": "ci"},
                                          auth=(user, pw))
        self.assertEqual(status, 201, tok)
        self.assertEqual(tok["name"], "ci")
        status, body = self.server.request("GET", "/auth/user", auth=tok["token"])
        self.assertEqual((status, body["username"]), (200, user))
        status, listed = self.server.request("GET", "/auth/tokens", auth=(user, pw))
        self.assertEqual([t["name"] for t in listed], ["ci"])
        self.assertNotIn(tok["token"], json.dumps(listed))
        self.assertIn("lastUsed", listed[0])
        status, _ = self.server.request("POST", "/auth/tokens", {"name": "ci"}, auth=(user, pw))
        self.assertEqual(status, 409)
        # admin's tokens are admin's: the user's token list does not show them
        _, mine = self.server.request("GET", "/auth/tokens")
        self.assertNotIn("ci", [t["name"] for t in mine])
        status, _ = self.server.request("DELETE", "/auth/tokens/ci", auth=(user, pw))
        self.assertEqual(status, 204)
        status, _ = self.server.request("GET", "/auth/user", auth=tok["token"])
        self.assertEqual(status, 401)
        # the session cookie
        cookie = self.login(user, pw)
        status, body, _ = http("GET", self.server.url + "/auth/user",
                               headers={"Cookie": cookie}, auth=None)
        self.assertEqual((status, body["username"]), (200, user))
        status, _, hdrs = http("POST", self.server.url + "/auth/logout",
                               headers={"Cookie": cookie, "X-Mizzen-CSRF": "1"}, auth=None)
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", hdrs["Set-Cookie"])
        status, _, _ = http("GET", self.server.url + "/auth/user", headers={"Cookie": cookie},
                            auth=None)
        self.assertEqual(status, 401)

    def login(self, user, pw):
        status, body, hdrs = http("POST", self.server.url + "/auth/login",
                                  {"username": user, "password": pw}, auth=None)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["username"], user)
        set_cookie = hdrs["Set-Cookie"]
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attr, set_cookie)
        return set_cookie.split(";")[0]

    def test_x_spinnaker_user_is_never_trusted(self):
        status, body, _ = self.anon("GET", "/applications",
                                    headers={"X-SPINNAKER-USER": "admin"})
        self.assertEqual(status, 401)
        user = unique("u")
        pw = self.server.add_user(user, ["dev"])
        status, body = self.server.request("GET", "/auth/user", auth=(user, pw),
                                           headers={"X-SPINNAKER-USER": "admin"})
        self.assertEqual((body["username"], body["admin"]), (user, False))

    def test_users_are_for_admins(self):
        user = unique("u")
        pw = self.server.add_user(user, ["dev"])
        for method, path, body in [("GET", "/auth/users", None),
                                   ("POST", "/auth/users", {"username": unique("x"),
                                                            "password": "password1"}),
                                   ("PUT", "/auth/users/admin", {"roles": ["dev"]}),
                                   ("DELETE", "/auth/users/admin", None)]:
            status, reply = self.server.request(method, path, body, auth=(user, pw))
            self.assertEqual(status, 403, (method, path, reply))
        # a user may change its own password, not its roles
        status, _ = self.server.request("PUT", "/auth/users/" + user, {"roles": ["admin"]},
                                        auth=(user, pw))
        self.assertEqual(status, 403)
        status, _ = self.server.request("PUT", "/auth/users/" + user,
                                        {"password": "a-new-password"}, auth=(user, pw))
        self.assertEqual(status, 200)
        status, _ = self.server.request("GET", "/auth/user", auth=(user, pw))
        self.assertEqual(status, 401)
        status, _ = self.server.request("GET", "/auth/user", auth=(user, "a-new-password"))
        self.assertEqual(status, 200)
        # admin: list, roles, delete; the last admin stays
        status, users = self.server.request("GET", "/auth/users")
        self.assertIn(user, [u["username"] for u in users])
        self.assertNotIn("passwordHash", json.dumps(users))
        status, body = self.server.request("PUT", "/auth/users/" + user, {"roles": ["ops"]})
        self.assertEqual((status, body["roles"]), (200, ["ops"]))
        status, _ = self.server.request("DELETE", "/auth/users/admin")
        self.assertEqual(status, 409)
        status, body = self.server.request("POST", "/auth/users",
                                           {"username": "bad name", "password": "password1"})
        self.assertEqual(status, 400, body)
        status, _ = self.server.request("DELETE", "/auth/users/" + user)
        self.assertEqual(status, 204)
        status, _ = self.server.request("GET", "/auth/user", auth=(user, "a-new-password"))
        self.assertEqual(status, 401)

    def test_csrf_origin_and_content_type(self):
        app = unique("csrf")
        create_app(self.server, app)
        save_pipeline(self.server, {"application": app, "name": "p", "stages": [
            {"refId": "1", "type": "wait", "name": "w", "waitTime": 1}]})
        cookie = self.login("admin", self.server.credentials[1])
        url = self.server.url + "/pipelines/%s/p" % app
        # a cookie POST without the CSRF header starts nothing
        status, body, _ = http("POST", url, {"type": "manual"}, headers={"Cookie": cookie},
                               auth=None)
        self.assertEqual(status, 403, body)
        self.assertIn("X-Mizzen-CSRF", body["message"])
        # with it, and from the server's own origin, it does
        own = self.server.url
        status, body, _ = http("POST", url, {"type": "manual"}, auth=None, headers={
            "Cookie": cookie, "X-Mizzen-CSRF": "1", "Origin": own})
        self.assertEqual(status, 202, body)
        # from another origin: refused, with the cookie or with Basic credentials
        evil = "http://evil.example"
        status, body, _ = http("POST", url, {"type": "manual"}, auth=None, headers={
            "Cookie": cookie, "X-Mizzen-CSRF": "1", "Origin": evil})
        self.assertEqual(status, 403, body)
        status, body, _ = http("POST", url, {"type": "manual"}, headers={"Origin": evil})
        self.assertEqual(status, 403, body)
        # a cross-site text/plain post (a form can send one): 415, nothing started
        status, body, _ = http("POST", url, '{"type": "manual"}',
                               headers={"Content-Type": "text/plain",
                                        "Origin": "http://evil.example"}, auth=None)
        self.assertIn(status, (401, 403, 415), body)
        status, body, _ = http("POST", url, '{"type": "manual"}',
                               headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415, body)
        self.assertEqual(body["error"], "Unsupported Media Type")
        status, body, _ = http("POST", url, "type=manual",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415, body)
        # exactly one execution: the one with the CSRF header
        _, execs = self.server.request("GET", "/applications/%s/pipelines" % app)
        self.assertEqual(len(execs), 1, execs)

    def test_trigger_secret_is_write_only(self):
        import hashlib
        import hmac
        app = unique("sig")
        create_app(self.server, app)
        trig = {"type": "git", "source": "github", "project": "acme", "slug": app,
                "branch": "main", "secret": "s3cr3t-hmac-key", "enabled": True}
        cfg = save_pipeline(self.server, {"application": app, "name": "p", "triggers": [trig],
                                          "stages": [{"refId": "1", "type": "wait",
                                                      "name": "w", "waitTime": 0}]})
        self.assertEqual(cfg["triggers"][0]["secret"], "********")
        for path in ["/applications/%s/pipelineConfigs" % app, "/pipelineConfigs",
                     "/pipelineConfigs/%s/history" % cfg["id"]]:
            _, body = self.server.request("GET", path)
            self.assertNotIn("s3cr3t-hmac-key", json.dumps(body), path)
        # saved back as shown: the stored secret stays
        status, _ = self.server.request("POST", "/pipelines", cfg)
        self.assertEqual(status, 200)
        body = json.dumps({"ref": "refs/heads/main", "after": "abc123",
                           "repository": {"name": app, "owner": {"name": "acme"}}}).encode()

        def push(key):
            sig = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            return http("POST", self.server.url + "/webhooks/git/github", body, auth=None,
                        headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                                 "Content-Type": "application/json"})[0]
        self.assertEqual(push(b"********"), 401)   # the mask is not the secret
        self.assertLess(push(b"s3cr3t-hmac-key"), 300)

    def test_a_redelivered_github_push_starts_nothing_new(self):
        import hashlib
        import hmac
        app = unique("redeliver")
        create_app(self.server, app)
        key = b"redeliver-hmac-key"
        save_pipeline(self.server, {
            "application": app, "name": "p", "stages": [
                {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}],
            "triggers": [{"type": "git", "source": "github", "project": "acme", "slug": app,
                          "branch": "main", "secret": key.decode(), "enabled": True}]})

        def push(after, delivery):
            body = json.dumps({"ref": "refs/heads/main", "after": after,
                               "repository": {"name": app, "owner": {"name": "acme"}}}).encode()
            sig = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            status, answer, _ = http(
                "POST", self.server.url + "/webhooks/git/github", body, auth=None,
                headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                         "X-GitHub-Delivery": delivery, "Content-Type": "application/json"})
            return status, answer

        def executions(n):
            def check():
                _, e = self.server.request("GET", "/applications/%s/pipelines" % app)
                return e if len(e) >= n else None
            return wait_until(check, timeout=20, message="%d executions" % n)

        first = str(uuid.uuid4())
        status, answer = push("a" * 40, first)
        self.assertEqual(status, 200, answer)
        self.assertTrue(answer["eventId"].startswith("github-signed-"), answer)
        executions(1)
        # GitHub's "Redeliver": the same delivery, the same answer
        self.assertEqual(push("a" * 40, first), (status, answer))
        # a captured request replayed under a new delivery id: GitHub signs
        # the body only, and the body is the same event
        self.assertEqual(push("a" * 40, str(uuid.uuid4())), (status, answer))
        # a new delivery after it starts one; by then the replay was handled
        status, answer2 = push("b" * 40, str(uuid.uuid4()))
        self.assertEqual(status, 200, answer2)
        self.assertNotEqual(answer2["eventId"], answer["eventId"])
        runs = executions(2)
        time.sleep(0.5)
        _, runs = self.server.request("GET", "/applications/%s/pipelines" % app)
        self.assertEqual(sorted(r["trigger"].get("hash") for r in runs), ["a" * 40, "b" * 40])
        status, seen = self.server.request("GET", "/webhooks/events/" + answer["eventId"])
        self.assertEqual(status, 200, seen)
        # unsigned deliveries are named by X-GitHub-Delivery
        src = unique("gh")
        delivery = str(uuid.uuid4())
        for _ in range(2):
            status, plain, _ = http("POST", self.server.url + "/webhooks/webhook/" + src,
                                    {"x": 1}, auth=None,
                                    headers={"X-GitHub-Delivery": delivery})
            self.assertEqual((status, plain), (200, {"eventProcessed": True,
                                                     "eventId": "github-" + delivery}))

    def test_a_triggers_audit_row_says_what_it_was_answered(self):
        """Triggers are answered by the group committer once durable: the
        audit row carries that answer, a failure's status included, even
        when the store refused the trigger (and its row) at first."""
        import sqlite3
        app = unique("auditlaunch")
        create_app(self.server, app)
        save_pipeline(self.server, {"application": app, "name": "p", "stages": [
            {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]})
        path = "/pipelines/%s/p" % app
        first, body = self.server.request("POST", path, {"type": "manual"})
        self.assertEqual(first, 202, body)
        eid = body["ref"].split("/")[-1]
        wait_until(lambda: self.server.request("GET", "/pipelines/" + eid)[1]["status"] ==
                   "SUCCEEDED", timeout=20, message="the first run")
        # another process holds the write lock past the busy timeout (10 s;
        # other writers of the server may wait their 10 s first)
        db = sqlite3.connect(os.path.join(self.server.data_dir, "mizzen.db"),
                             isolation_level=None, timeout=0)
        db.execute("BEGIN IMMEDIATE")
        try:
            second, body = self.server.request("POST", path, {"type": "manual"}, timeout=90)
        finally:
            db.execute("ROLLBACK")
            db.close()
        self.assertEqual(second, 503, body)

        def rows():
            _, audit = self.server.request("GET", "/audit?application=%s&limit=10" % app)
            got = [a["status"] for a in audit if a["method"] == "POST" and a["path"] == path]
            return got if len(got) >= 2 else None
        self.assertEqual(wait_until(rows, timeout=20, message="both audit rows"),
                         [503, 202])   # newest first
        _, runs = self.server.request("GET", "/applications/%s/pipelines" % app)
        self.assertEqual(len(runs), 1)

    def test_a_launch_never_overwrites_another_execution(self):
        """executionId names a new execution: naming one that exists (of an
        application the caller may not even READ) is refused with 409 and
        leaves it as it was."""
        srv = self.server
        victim, mine = unique("victim"), unique("mine")
        create_app_with(srv, victim, {"READ": ["ops"], "EXECUTE": ["ops"], "WRITE": ["ops"]})
        create_app(srv, mine)
        save_pipeline(srv, {"application": victim, "name": "p", "stages": [
            {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]})
        _, body = srv.request("POST", "/pipelines/%s/p" % victim, {"type": "manual"})
        vid = body["ref"].split("/")[-1]
        wait_until(lambda: srv.request("GET", "/pipelines/" + vid)[1]["status"] == "SUCCEEDED",
                   timeout=20, message="the victim's execution")
        _, before = srv.request("GET", "/pipelines/" + vid)
        eve = unique("eve")
        pw = srv.add_user(eve, ["dev"])
        self.assertEqual(srv.request("GET", "/pipelines/" + vid, auth=(eve, pw))[0], 403)
        status, body = srv.request("POST", "/pipelines/start", {
            "application": mine, "name": "x", "executionId": vid,
            "stages": [{"refId": "1", "type": "wait", "name": "overwritten", "waitTime": 0}]},
            auth=(eve, pw))
        self.assertEqual(status, 409, body)
        # a saved config naming it: the trigger is refused the same way
        save_pipeline(srv, {"application": mine, "name": "named", "executionId": vid,
                            "stages": [{"refId": "1", "type": "wait", "name": "w",
                                        "waitTime": 0}]})
        status, body = srv.request("POST", "/pipelines/%s/named" % mine, {"type": "manual"},
                                   auth=(eve, pw))
        self.assertEqual(status, 409, body)
        status, body = srv.request("POST", "/pipelines/start", {
            "application": mine, "name": "x", "executionId": "../" + vid, "stages": []},
            auth=(eve, pw))
        self.assertEqual(status, 400, body)
        time.sleep(0.5)
        _, after = srv.request("GET", "/pipelines/" + vid)
        self.assertEqual(after, before)

    def test_cors_preflight(self):
        # the default allows no origin
        status, body, hdrs = http("OPTIONS", self.server.url + "/pipelines", auth=None, headers={
            "Origin": "https://deck.example.com", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 403)
        self.assertNotIn("Access-Control-Allow-Origin", hdrs)

    def test_spin_style_basic_client(self):
        """What spin does with auth.basic: GET /version first, then the calls,
        every one with the same Basic header."""
        user = unique("spin")
        pw = self.server.add_user(user, ["dev"])
        basic = {"Authorization": authorization((user, pw))}
        for method, path in [("GET", "/version"), ("GET", "/applications"),
                             ("GET", "/pipelineConfigs")]:
            status, body, _ = http(method, self.server.url + path, headers=basic, auth=None)
            self.assertEqual(status, 200, (path, body))


def create_app_with(server, name, permissions):
    status, body = server.request("POST", "/tasks", {
        "application": name, "description": "Create Application: " + name,
        "job": [{"type": "createApplication", "application": {
            "name": name, "email": "team@example.com", "permissions": permissions}}]})
    assert status == 200, (status, body)
    tid = body["ref"].split("/")[-1]
    wait_until(lambda: server.request("GET", "/tasks/" + tid)[1].get("status") == "SUCCEEDED",
               message="createApplication " + name)


class Permissions(unittest.TestCase):
    """An application open to dev for READ only, one that grants dev
    nothing, an ops user who may do everything on the first; an account
    only ops may WRITE."""

    @classmethod
    def setUpClass(cls):
        cls.cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"providers": {"local": {"accounts": [
            {"name": "local", "regions": ["local"]},
            {"name": "prod", "regions": ["local"],
             "permissions": {"READ": ["dev", "ops"], "WRITE": ["ops"]}}]}}}, cls.cfg)
        cls.cfg.close()
        cls.server = Server(extra_args=["--config", cls.cfg.name]).start()
        srv = cls.server
        cls.shared, cls.hidden, cls.open_app = unique("shared"), unique("hidden"), unique("open")
        create_app_with(srv, cls.shared, {"READ": ["dev"], "EXECUTE": ["ops"], "WRITE": ["ops"]})
        create_app_with(srv, cls.hidden, {"READ": ["ops"], "WRITE": ["ops"]})
        create_app(srv, cls.open_app)
        for app in (cls.shared, cls.hidden):
            save_pipeline(srv, {"application": app, "name": "p", "stages": [
                {"refId": "1", "type": "manualJudgment", "name": "Approve"}]})
        cls.dev = ("dev-" + cls.shared, srv.add_user("dev-" + cls.shared, ["dev"]))
        cls.ops = ("ops-" + cls.shared, srv.add_user("ops-" + cls.shared, ["ops"]))

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        os.unlink(cls.cfg.name)

    def req(self, who, method, path, body=None):
        return self.server.request(method, path, body, auth=who)

    def running_judgment(self, app):
        status, body = self.server.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        self.assertEqual(status, 202, body)
        eid = body["ref"].split("/")[-1]

        def stage():
            _, e = self.server.request("GET", "/pipelines/" + eid)
            st = [s for s in e["stages"] if s["type"] == "manualJudgment"]
            return st[0]["id"] if st and st[0]["status"] == "RUNNING" else None
        return eid, wait_until(stage, message="the judgment to run")

    def test_dev_reads_but_may_not_act(self):
        dev, app = self.dev, self.shared
        status, body = self.req(dev, "GET", "/applications/" + app)
        self.assertEqual(status, 200, body)
        status, _ = self.req(dev, "GET", "/applications/%s/pipelineConfigs" % app)
        self.assertEqual(status, 200)
        eid, sid = self.running_judgment(app)
        status, _ = self.req(dev, "GET", "/pipelines/" + eid)
        self.assertEqual(status, 200)
        refused = [
            ("POST", "/pipelines/%s/p" % app, {"type": "manual"}),                 # trigger
            ("PATCH", "/pipelines/%s/stages/%s" % (eid, sid), {"judgmentStatus": "continue"}),
            ("PUT", "/pipelines/%s/cancel" % eid, None),
            ("POST", "/pipelines", {"application": app, "name": "q", "stages": []}),  # save
            ("DELETE", "/pipelines/%s/p" % app, None),
            ("POST", "/applications/%s/tasks" % app, {"application": app, "job": [   # cloud op
                {"type": "destroyServerGroup", "credentials": "local", "region": "local",
                 "serverGroupName": app + "-v000"}]}),
        ]
        for method, path, body in refused:
            status, reply = self.req(dev, method, path, body)
            self.assertEqual(status, 403, (method, path, reply))
            self.assertEqual(reply["status"], 403)
        # nothing happened: still one execution, the judgment still waits
        _, e = self.server.request("GET", "/pipelines/" + eid)
        self.assertEqual(e["status"], "RUNNING")
        _, execs = self.server.request("GET", "/applications/%s/pipelines" % app)
        self.assertEqual(len(execs), 1)
        self.server.request("PUT", "/pipelines/%s/cancel" % eid)

    def test_ops_may(self):
        ops, app = self.ops, self.shared
        eid, sid = self.running_judgment(app)
        status, body = self.req(ops, "PATCH", "/pipelines/%s/stages/%s" % (eid, sid),
                                {"judgmentStatus": "continue"})
        self.assertEqual(status, 200, body)
        status, body = self.req(ops, "POST", "/pipelines/%s/p" % app, {"type": "manual"})
        self.assertEqual(status, 202, body)
        self.req(ops, "PUT", "/pipelines/%s/cancel" % body["ref"].split("/")[-1])
        status, body = self.req(ops, "POST", "/pipelines", {"application": app, "name": "byops",
                                                            "stages": []})
        self.assertEqual(status, 200, body)
        status, body = self.req(ops, "POST", "/applications/%s/tasks" % app, {
            "application": app, "description": "resize", "job": [
                {"type": "resizeServerGroup", "credentials": "local", "region": "local",
                 "serverGroupName": app + "-v000", "capacity": {"min": 1, "max": 1,
                                                               "desired": 1}}]})
        self.assertEqual(status, 200, body)

    def test_dev_does_not_see_what_grants_it_nothing(self):
        dev, hidden = self.dev, self.hidden
        status, _ = self.req(dev, "GET", "/applications/" + hidden)
        self.assertEqual(status, 403)
        _, apps = self.req(dev, "GET", "/applications")
        names = [a["name"] for a in apps]
        self.assertIn(self.shared, names)
        self.assertIn(self.open_app, names)
        self.assertNotIn(hidden, names)
        _, configs = self.req(dev, "GET", "/pipelineConfigs")
        self.assertNotIn(hidden, {c["application"] for c in configs})
        self.assertIn(self.shared, {c["application"] for c in configs})
        eid, _ = self.running_judgment(hidden)
        status, _ = self.req(dev, "GET", "/pipelines/" + eid)
        self.assertEqual(status, 403)
        _, listed = self.req(dev, "GET", "/executions?executionIds=" + eid)
        self.assertEqual(listed, [])
        status, _ = self.req(dev, "GET", "/events?application=" + hidden)
        self.assertEqual(status, 403)
        self.server.request("PUT", "/pipelines/%s/cancel" % eid)

    def test_a_template_changes_only_with_write_on_its_users(self):
        # A template that a pipeline of `hidden` is built on: dev (no WRITE
        # there) may not change what that pipeline runs through it.
        tid = unique("tpl")
        tpl = {"schema": "v2", "id": tid, "protect": False, "variables": [],
               "metadata": {"name": tid, "description": "d", "owner": "o", "scopes": ["global"]},
               "pipeline": {"stages": [{"refId": "1", "type": "wait", "name": "Soak",
                                        "waitTime": 1, "requisiteStageRefIds": []}],
                            "triggers": [], "parameterConfig": [], "notifications": []}}
        status, body = self.req(self.dev, "POST", "/v2/pipelineTemplates/create", tpl)
        self.assertEqual(status, 202, body)   # nothing uses it yet: anyone may
        ref = {"artifactAccount": "front50ArtifactCredentials", "type": "front50/pipelineTemplate",
               "reference": "spinnaker://" + tid}
        status, body = self.server.request("POST", "/pipelines", {
            "schema": "v2", "application": self.hidden, "name": "templated", "template": ref,
            "variables": {}, "exclude": [], "stages": [], "triggers": []})
        self.assertEqual(status, 200, body)
        evil = json.loads(json.dumps(tpl))
        evil["pipeline"]["stages"][0] = {"refId": "1", "type": "runJob", "name": "Soak",
                                         "cloudProvider": "local", "account": "local",
                                         "command": ["sh", "-c", "echo owned"],
                                         "requisiteStageRefIds": []}
        for method, path in (("POST", "/v2/pipelineTemplates/update/" + tid),
                             ("POST", "/v2/pipelineTemplates/update/%s?tag=v2" % tid)):
            status, body = self.req(self.dev, method, path, evil)
            self.assertEqual(status, 403, body)
            self.assertIn(self.hidden, body["message"])
        status, body = self.req(self.dev, "DELETE", "/v2/pipelineTemplates/%s?tag=latest" % tid)
        self.assertEqual(status, 403, body)
        _, got = self.server.request("GET", "/v2/pipelineTemplates/" + tid)
        self.assertEqual(got["pipeline"]["stages"][0]["type"], "wait")  # unchanged
        # ops may WRITE hidden: the change goes through
        status, body = self.req(self.ops, "POST", "/v2/pipelineTemplates/update/" + tid, evil)
        self.assertEqual(status, 202, body)
        self.server.request("DELETE", "/pipelines/%s/templated" % self.hidden)

    def test_event_stream_leaves_out_what_dev_may_not_read(self):
        stream = self.server.stream("/events", auth=self.dev)
        try:
            seen = []

            def read_until(pred):
                while True:
                    line = stream.readline().decode()
                    if line.startswith("data:"):
                        seen.append(json.loads(line[5:]))
                        if pred(seen[-1]):
                            return
            h, _ = self.running_judgment(self.hidden)
            s, _ = self.running_judgment(self.shared)
            read_until(lambda ev: ev.get("id") == s)
            self.assertNotIn(self.hidden, {ev.get("application") for ev in seen})
            for eid in (h, s):
                self.server.request("PUT", "/pipelines/%s/cancel" % eid)
        finally:
            stream.close()

    def test_accounts_and_automated_triggers(self):
        dev, app = self.dev, self.open_app
        # dev may not operate on account prod, even on an open application
        status, body = self.req(dev, "POST", "/applications/%s/tasks" % app, {
            "application": app, "job": [{"type": "destroyServerGroup", "credentials": "prod",
                                         "region": "local", "serverGroupName": app + "-v000"}]})
        self.assertEqual(status, 403, body)
        # runAsUser: only that user or an admin may save it
        src = unique("hook")
        cfg = {"application": app, "name": "auto", "stages": [
            {"refId": "1", "type": "disableServerGroup", "name": "Disable",
             "credentials": "prod", "region": "local", "serverGroupName": app + "-v000"}],
            "triggers": [{"type": "webhook", "source": src, "enabled": True,
                          "runAsUser": self.ops[0]}]}
        status, body = self.req(dev, "POST", "/pipelines", cfg)
        self.assertEqual(status, 403, body)
        self.assertIn("runAsUser", body["message"])
        # without runAsUser the trigger acts as its last saver, dev: the
        # cloud stage is refused on prod when it runs
        del cfg["triggers"][0]["runAsUser"]
        status, body = self.req(dev, "POST", "/pipelines", cfg)
        self.assertEqual(status, 200, body)
        status, _ = self.server.request("POST", "/webhooks/webhook/" + src, {"x": 1}, auth=None)
        self.assertLess(status, 300)

        def ended():
            _, execs = self.server.request("GET", "/applications/%s/pipelines" % app)
            done = [e for e in execs if e["status"] not in ("RUNNING", "NOT_STARTED")]
            return done[0] if done else None
        e = wait_until(ended, timeout=20, message="the triggered execution")
        self.assertEqual(e["status"], "TERMINAL")
        self.assertEqual(e["trigger"]["user"], dev[0])
        _, full = self.server.request("GET", "/pipelines/" + e["id"])
        self.assertIn("Access denied to account prod", json.dumps(full))

    def test_audit_lists_refusals_and_changes(self):
        dev, app = self.dev, self.shared
        self.req(dev, "POST", "/pipelines/%s/p" % app, {"type": "manual"})
        self.req(self.ops, "POST", "/pipelines", {"application": app, "name": "audited",
                                                   "stages": []})
        self.server.request("GET", "/applications", auth=None)
        _, entries = self.server.request("GET", "/audit?application=%s&limit=50" % app)
        got = {(e["user"], e["method"], e["status"]) for e in entries}
        self.assertIn((dev[0], "POST", 403), got)
        self.assertIn((self.ops[0], "POST", 200), got)
        # an accepted trigger (on the other application: this one's
        # executions are counted): its row is written with its execution,
        # by the committer of triggers, and says 202
        eid, _ = self.running_judgment(self.hidden)
        self.server.request("PUT", "/pipelines/%s/cancel" % eid)
        _, entries = self.server.request("GET", "/audit?application=%s&limit=50" % self.hidden)
        self.assertIn(("POST", 202, "/pipelines/%s/p" % self.hidden),
                      {(e["method"], e["status"], e["path"]) for e in entries})
        for e in entries:
            for key in ("time", "user", "address", "method", "path", "application", "status"):
                self.assertIn(key, e)
        self.assertEqual(entries, sorted(entries, key=lambda e: -e["time"]))
        _, anon = self.server.request("GET", "/audit?user=anonymous&limit=20")
        self.assertIn(401, {e["status"] for e in anon})
        # dev sees only the entries of applications it may READ
        _, mine = self.req(dev, "GET", "/audit?limit=200")
        self.assertTrue(mine)
        self.assertTrue(all(e.get("application") in (self.shared, self.open_app) for e in mine))
        status, _ = self.req(dev, "GET", "/audit?application=" + self.hidden)
        self.assertEqual(status, 403)


class CorsAllowed(unittest.TestCase):
    def test_allowed_origin_gets_cors_headers(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"cors": {"allowedOrigins": ["https://deck.example.com"]}}, f)
        try:
            with Server(extra_args=["--config", f.name]) as srv:
                status, _, hdrs = http("OPTIONS", srv.url + "/pipelines", auth=None, headers={
                    "Origin": "https://deck.example.com",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-mizzen-csrf"})
                self.assertEqual(status, 204)
                self.assertEqual(hdrs["Access-Control-Allow-Origin"], "https://deck.example.com")
                self.assertEqual(hdrs["Access-Control-Allow-Credentials"], "true")
                self.assertIn("X-Mizzen-CSRF", hdrs["Access-Control-Allow-Headers"])
                status, _, hdrs = http("OPTIONS", srv.url + "/pipelines", auth=None, headers={
                    "Origin": "https://other.example.com",
                    "Access-Control-Request-Method": "POST"})
                self.assertEqual(status, 403)
                self.assertNotIn("Access-Control-Allow-Origin", hdrs)
                # an allowed origin may post; its answers carry the CORS headers
                status, body, hdrs = http("GET", srv.url + "/applications",
                                          headers={"Origin": "https://deck.example.com"})
                self.assertEqual(status, 200)
                self.assertEqual(hdrs["Access-Control-Allow-Origin"], "https://deck.example.com")
        finally:
            os.unlink(f.name)


class AuthDisabled(unittest.TestCase):
    def config(self, enabled):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"auth": {"enabled": enabled}}, f)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_refused_unless_loopback_only(self):
        path = self.config(False)
        data = tempfile.mkdtemp(prefix="mizzen-test-")
        try:
            res = subprocess.run([binary(), "serve", "--listen", "0.0.0.0:%d" % free_port(),
                                  "--data", data, "--config", path],
                                 capture_output=True, text=True, timeout=20)
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertIn("refused", res.stderr)
        finally:
            import shutil
            shutil.rmtree(data, ignore_errors=True)
        with Server(extra_args=["--config", path]) as srv:
            self.assertIsNone(srv.credentials)
            status, body = srv.request("GET", "/auth/user", auth=None)
            self.assertEqual((status, body["username"]), (200, "anonymous"))
            self.assertFalse(os.path.exists(os.path.join(srv.data_dir,
                                                         "initial-admin-password")))


class Secrets(ServerTestCase):
    def test_secret_reaches_the_webhook_only(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        got = []

        class Receiver(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got.append((self.path, dict(self.headers), body.decode()))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.addCleanup(httpd.shutdown)
        value = "TOPSECRET-" + uuid.uuid4().hex
        srv = self.server
        user = unique("u")
        pw = srv.add_user(user, ["dev"])
        status, _ = srv.request("PUT", "/secrets/apikey", {"value": value}, auth=(user, pw))
        self.assertEqual(status, 403)
        status, body = srv.request("PUT", "/secrets/apikey", {"value": value})
        self.assertEqual(status, 200, body)
        _, listed = srv.request("GET", "/secrets")
        self.assertEqual([x["name"] for x in listed], ["apikey"])
        self.assertNotIn(value, json.dumps(listed))
        with open(os.path.join(srv.data_dir, "mizzen.db"), "rb") as f:
            self.assertNotIn(value.encode(), f.read())   # encrypted at rest
        self.assertEqual(os.stat(os.path.join(srv.data_dir, "secret.key")).st_mode & 0o777,
                         0o600)
        app = unique("sec")
        create_app(srv, app)
        ref = "${#secret('apikey')}"
        save_pipeline(srv, {"application": app, "name": "p", "stages": [{
            "refId": "1", "type": "webhook", "name": "call", "method": "POST",
            "url": "http://127.0.0.1:%d/hook?k=%s" % (httpd.server_address[1], ref),
            "customHeaders": {"X-Api-Key": ref}, "payload": {"token": ref}}]})
        status, body = srv.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        eid = body["ref"].split("/")[-1]

        def done():
            _, e = srv.request("GET", "/pipelines/" + eid)
            return e if e["status"] not in ("RUNNING", "NOT_STARTED") else None
        e = wait_until(done, timeout=30, message="the webhook execution")
        self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:2000])
        self.assertEqual(len(got), 1)
        path, headers, body = got[0]
        self.assertEqual(path, "/hook?k=" + value)
        self.assertEqual(headers.get("X-Api-Key"), value)
        self.assertEqual(json.loads(body), {"token": value})
        # in no execution, list, task or log line
        self.assertNotIn(value, json.dumps(e))
        _, execs = srv.request("GET", "/applications/%s/pipelines" % app)
        self.assertNotIn(value, json.dumps(execs))
        with open(srv.log_path, "rb") as f:
            self.assertNotIn(value, f.read().decode("utf-8", "replace"))
        # a missing secret fails the stage, naming it, and calls nothing
        save_pipeline(srv, {"application": app, "name": "q", "stages": [{
            "refId": "1", "type": "webhook", "name": "call", "method": "POST",
            "url": "http://127.0.0.1:%d/x?k=${#secret('nosuch')}" % httpd.server_address[1]}]})
        _, body = srv.request("POST", "/pipelines/%s/q" % app, {"type": "manual"})
        eid = body["ref"].split("/")[-1]
        e = wait_until(done, timeout=30, message="the failing execution")
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("nosuch", json.dumps(e))
        self.assertEqual(len(got), 1)
        status, _ = srv.request("DELETE", "/secrets/apikey")
        self.assertEqual(status, 204)


class NoCredentialsInTheLog(unittest.TestCase):
    def test_smtp_password_and_slack_url_are_masked(self):
        dead = free_port()
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"notifications": {"smtp": {
            "url": "smtp://mailer:hunter2-smtp@127.0.0.1:%d" % dead,
            "from": "mizzen@example.com"}}}, f)
        f.close()
        self.addCleanup(os.unlink, f.name)
        with Server(extra_args=["--config", f.name]) as srv:
            app = unique("note")
            create_app(srv, app)
            slack = "http://127.0.0.1:%d/services/T0/B0/SLACKSECRET" % dead
            save_pipeline(srv, {"application": app, "name": "p", "notifications": [
                {"type": "email", "address": "ops@example.com", "when": ["pipeline.complete"]},
                {"type": "slack", "address": slack, "when": ["pipeline.complete"]}],
                "stages": [{"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]})
            srv.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})

            def logged():
                with open(srv.log_path, "rb") as fh:
                    text = fh.read().decode("utf-8", "replace")
                return text if ("slack notification to" in text and
                                "email notification to" in text) else None
            text = wait_until(logged, timeout=30, message="the failed deliveries in the log")
            self.assertNotIn("hunter2-smtp", text)
            self.assertNotIn("SLACKSECRET", text)
            self.assertIn("127.0.0.1:%d/****" % dead, text)


class FirstAdmin(unittest.TestCase):
    def test_password_file_and_message(self):
        with Server() as srv:
            path = os.path.join(srv.data_dir, "initial-admin-password")
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            with open(path) as f:
                password = f.read().strip()
            self.assertGreaterEqual(len(password), 20)
            with open(srv.log_path, "rb") as f:
                log = f.read().decode()
            self.assertEqual(log.count(password), 1, "printed once")
            # a restart creates nothing new and prints nothing
            srv.restart()
            with open(path) as f:
                self.assertEqual(f.read().strip(), password)
            with open(srv.log_path, "rb") as f:
                self.assertEqual(f.read().decode().count(password), 1)
            status, _ = srv.request("GET", "/applications")
            self.assertEqual(status, 200)


class Cli(ServerTestCase):
    def cli(self, *args, env=None):
        return subprocess.run([binary(), "--url", self.server.url] + list(args),
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL,
                              env=dict({k: v for k, v in os.environ.items()
                                        if not k.startswith("MIZZEN_")}, **(env or {})))

    def test_sign_in_flags_users_and_tokens(self):
        res = self.cli("application", "list")
        self.assertEqual(res.returncode, 1)
        self.assertIn("Sign in with --user", res.stderr)
        user, pw = self.server.credentials
        res = self.cli("--user", user, "--password", pw, "application", "list")
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli("application", "list", "--user", user,
                       env={"MIZZEN_PASSWORD": pw})
        self.assertEqual(res.returncode, 0, res.stderr)
        # users
        name = unique("dev")
        res = self.cli("--user", user, "--password", pw, "user", "add", name, "--role", "dev",
                       "--role", "qa")
        self.assertEqual(res.returncode, 0, res.stderr)
        added = json.loads(res.stdout)
        self.assertEqual((added["username"], added["roles"]), (name, ["dev", "qa"]))
        res = self.cli("--token", self.server.token, "user", "list")
        self.assertIn(name, [u["username"] for u in json.loads(res.stdout)])
        # the new user's own token, used through $MIZZEN_TOKEN
        res = self.cli("--user", name, "--password", added["password"], "token", "create", "laptop")
        self.assertEqual(res.returncode, 0, res.stderr)
        tok = json.loads(res.stdout)["token"]
        res = self.cli("token", "list", env={"MIZZEN_TOKEN": tok})
        self.assertEqual([t["name"] for t in json.loads(res.stdout)], ["laptop"])
        res = self.cli("user", "list", env={"MIZZEN_TOKEN": tok})
        self.assertEqual(res.returncode, 1)
        self.assertIn("admin", res.stderr)
        res = self.cli("token", "delete", "laptop", env={"MIZZEN_TOKEN": tok})
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli("token", "list", env={"MIZZEN_TOKEN": tok})
        self.assertEqual(res.returncode, 1)
        res = self.cli("--token", self.server.token, "user", "delete", name)
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.cli("--user", name, "--password", added["password"], "application", "list")
        self.assertEqual(res.returncode, 1)
        # the audit trail, from the CLI: the user's deletion and the refusal
        res = self.cli("--token", self.server.token, "audit", "list", "--limit", "20")
        self.assertEqual(res.returncode, 0, res.stderr)
        entries = json.loads(res.stdout)
        self.assertIn(("DELETE", "/auth/users/" + name, 204),
                      {(e["method"], e["path"], e["status"]) for e in entries})
        self.assertIn((name, 401), {(e["user"], e["status"]) for e in entries})


if __name__ == "__main__":
    unittest.main(verbosity=2)
