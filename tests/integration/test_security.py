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
                            free_port, http)
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
