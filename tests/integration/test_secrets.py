"""Secrets where a user puts them, against the real server: a
${#secret('name')} reference reaches a runJob's environment, a deployed
instance's environment and a notification's address as its value, while
the execution JSON, the cloud API, the audit log and the server log hold
the reference only. A receiver on loopback and the deployed instance
itself show the value arrived.
"""
import hashlib
import json
import os
import sys
import threading
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server, ServerTestCase, wait_until  # noqa: E402
from mizzen_flow import create_app, save_pipeline  # noqa: E402
from cloud_util import cluster_spec, get, kill_cloud  # noqa: E402


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


class Receiver:
    """An HTTP listener on loopback recording every request it gets."""

    def __init__(self):
        got = self.got = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace")
                got.append((self.command, self.path, dict(self.headers), body))
                data = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = _record

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SecretsAtEveryEffect(ServerTestCase):
    @classmethod
    def tearDownClass(cls):
        if cls.server:
            kill_cloud(cls.server.data_dir)
        super().tearDownClass()

    def put_secret(self, name, value):
        status, body = self.server.request("PUT", "/secrets/" + name, {"value": value})
        self.assertEqual(status, 200, body)

    def finished(self, eid, timeout=90):
        def done():
            _, e = self.server.request("GET", "/pipelines/" + eid)
            return e if e.get("status") not in ("RUNNING", "NOT_STARTED") else None
        return wait_until(done, timeout=timeout, interval=0.2, message="execution " + eid)

    def assert_nowhere(self, values, *docs):
        """None of values in any of docs (JSON values) nor in the server log."""
        with open(self.server.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        for v in values:
            for d in docs:
                self.assertNotIn(v, json.dumps(d))
            self.assertNotIn(v, log)

    def test_runjob_env_deploy_env_and_notification_address(self):
        srv = self.server
        recv = Receiver()
        self.addCleanup(recv.close)
        token = "JOBSECRET-" + uuid.uuid4().hex
        version = "DEPLOYSECRET-" + uuid.uuid4().hex
        hookkey = "HOOKSECRET" + uuid.uuid4().hex
        self.put_secret("job-token", token)
        self.put_secret("app-version", version)
        self.put_secret("notify-url", "http://127.0.0.1:%d/notify/%s" % (recv.port, hookkey))
        app = unique("secfx")
        create_app(srv, app)
        spec = cluster_spec(app, "${#secret('app-version')}", "highlander", capacity=1)
        save_pipeline(srv, {
            "application": app, "name": "p",
            "notifications": [{"type": "webhook", "address": "${#secret('notify-url')}",
                               "when": ["pipeline.complete"]}],
            "stages": [
                {"refId": "1", "type": "runJob", "name": "job", "cloudProvider": "local",
                 "command": ["sh", "-c", 'echo "HASH=$(printf %s "$TOKEN" | sha256sum | '
                             'cut -c1-64)" > out.properties'],
                 "env": {"TOKEN": "${#secret('job-token')}"},
                 "propertyFile": "out.properties", "timeoutSeconds": 60},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "deploy",
                 "name": "deploy", "clusters": [spec]}]})
        status, body = srv.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        self.assertEqual(status, 202, body)
        e = self.finished(body["ref"].split("/")[-1])
        self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:3000])

        # the job saw the value: it published its digest
        job = [s for s in e["stages"] if s["name"] == "job"][0]
        self.assertEqual(job["outputs"].get("HASH"), hashlib.sha256(token.encode()).hexdigest())
        self.assertEqual(job["context"]["env"]["TOKEN"], "${#secret('job-token')}")

        # the instance saw the value: the example app answers its VERSION
        _, groups = srv.request("GET", "/applications/%s/serverGroups" % app)
        self.assertEqual(len(groups), 1, groups)
        _, group = srv.request("GET", "/serverGroups/local/local/" + groups[0]["name"])
        port = group["instances"][0]["port"]
        status, text = get("http://127.0.0.1:%d/" % port, timeout=10)
        self.assertEqual((status, text.split()[0]), (200, version))

        # the notification went to the secret address, naming only the reference
        def notified():
            return [g for g in recv.got if g[1] == "/notify/" + hookkey] or None
        hit = wait_until(notified, timeout=30, message="the pipeline.complete notification")[0]
        self.assertEqual(json.loads(hit[3])["address"], "${#secret('notify-url')}")

        _, execs = srv.request("GET", "/applications/%s/pipelines?expand=true" % app)
        _, audit = srv.request("GET", "/audit?limit=1000")
        self.assert_nowhere([token, version, hookkey], e, execs, groups, group, audit)

    def test_a_missing_secret_fails_the_job_and_starts_nothing(self):
        srv = self.server
        app = unique("secmiss")
        create_app(srv, app)
        save_pipeline(srv, {"application": app, "name": "p", "stages": [
            {"refId": "1", "type": "runJob", "name": "job", "cloudProvider": "local",
             "command": ["true"], "env": {"TOKEN": "${#secret('no-such-secret')}"}}]})
        _, body = srv.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        e = self.finished(body["ref"].split("/")[-1])
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("no-such-secret", json.dumps(e))
        self.assertNotIn("jobId", json.dumps(e))


class MaskedHeaders(ServerTestCase):
    """A webhook's Authorization header and a secret-derived header reach
    the receiver as they are, and are "****" in what the API returns and
    absent from the log and the audit, even when the receiver echoes them."""

    def test_authorization_and_secret_headers_are_masked(self):
        srv = self.server
        recv = Receiver()
        self.addCleanup(recv.close)
        echo = Receiver()   # answers with the headers it got
        self.addCleanup(echo.close)
        echo_got = echo.got

        class Echo(echo.httpd.RequestHandlerClass):
            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                echo_got.append((self.command, self.path, dict(self.headers), ""))
                data = json.dumps({"seen": dict(self.headers)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Echo", self.headers.get("X-Token", ""))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            do_POST = do_GET = _record
        echo.httpd.RequestHandlerClass = Echo

        bearer = "Bearer LITERAL-" + uuid.uuid4().hex
        token = "TOKENSECRET-" + uuid.uuid4().hex
        cookie = "sid=COOKIE-" + uuid.uuid4().hex
        status, _ = srv.request("PUT", "/secrets/hdr-token", {"value": token})
        self.assertEqual(status, 200)
        app = unique("mask")
        create_app(srv, app)
        headers = {"Authorization": bearer, "X-Token": "${#secret('hdr-token')}",
                   "Cookie": "${parameters.c}", "X-Plain": "visible"}
        save_pipeline(srv, {
            "application": app, "name": "p",
            "parameterConfig": [{"name": "c", "default": ""}],
            "stages": [
                {"refId": "1", "type": "webhook", "name": "call", "method": "POST",
                 "url": "http://127.0.0.1:%d/hook" % recv.port, "customHeaders": headers,
                 "payload": {"x": 1}},
                {"refId": "2", "type": "webhook", "name": "echo", "method": "POST",
                 "url": "http://127.0.0.1:%d/echo" % echo.port,
                 "customHeaders": {"X-Token": "${#secret('hdr-token')}",
                                   "Authorization": bearer}}]})
        status, body = srv.request("POST", "/pipelines/%s/p" % app,
                                   {"type": "manual", "parameters": {"c": cookie}})
        self.assertEqual(status, 202, body)
        eid = body["ref"].split("/")[-1]

        def done():
            _, e = srv.request("GET", "/pipelines/" + eid)
            return e if e.get("status") not in ("RUNNING", "NOT_STARTED") else None
        e = wait_until(done, timeout=30, message="the webhook execution")
        self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:3000])

        # the receivers got the real values
        self.assertEqual(len(recv.got), 1)
        got = recv.got[0][2]
        self.assertEqual(got.get("Authorization"), bearer)
        self.assertEqual(got.get("X-Token"), token)
        self.assertEqual(got.get("Cookie"), cookie)
        self.assertEqual(got.get("X-Plain"), "visible")
        self.assertEqual(echo_got[0][2].get("X-Token"), token)

        # what the API returns shows "****" for them, and the rest as it is
        call = [s for s in e["stages"] if s["name"] == "call"][0]
        shown = call["context"]["customHeaders"]
        self.assertEqual(shown, {"Authorization": "****", "X-Token": "****",
                                 "Cookie": "****", "X-Plain": "visible"})
        echoed = [s for s in e["stages"] if s["name"] == "echo"][0]["context"]["webhook"]
        self.assertEqual(echoed["body"]["seen"]["X-Token"], "****")
        self.assertEqual(echoed["body"]["seen"]["Authorization"], "****")
        self.assertEqual(echoed["headers"]["X-Echo"], ["****"])

        # the value of the cookie came in the trigger: only the header is masked
        self.assertEqual(e["trigger"]["parameters"]["c"], cookie)
        _, execs = srv.request("GET", "/applications/%s/pipelines?expand=true" % app)
        _, listed = srv.request("GET", "/executions?executionIds=" + eid)
        _, audit = srv.request("GET", "/audit?limit=1000")
        secrets = [bearer.split()[1], token]
        with open(srv.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace")
        for doc in (e, execs, listed, audit):
            text = json.dumps(doc)
            for v in secrets:
                self.assertNotIn(v, text)
        for v in secrets + [cookie]:
            self.assertNotIn(v, log)

    def test_a_configs_authorization_is_masked_and_kept_when_saved_back(self):
        srv = self.server
        recv = Receiver()
        self.addCleanup(recv.close)
        bearer = "Bearer CONFIG-" + uuid.uuid4().hex
        app = unique("maskcfg")
        create_app(srv, app)
        cfg = save_pipeline(srv, {"application": app, "name": "p", "stages": [
            {"refId": "1", "type": "webhook", "name": "call", "method": "POST",
             "url": "http://127.0.0.1:%d/hook" % recv.port,
             "customHeaders": {"Authorization": bearer, "X-Plain": "seen"}}]})
        self.assertEqual(cfg["stages"][0]["customHeaders"],
                         {"Authorization": "****", "X-Plain": "seen"})
        for path in ["/applications/%s/pipelineConfigs" % app, "/pipelineConfigs",
                     "/pipelineConfigs/%s/history" % cfg["id"]]:
            _, body = srv.request("GET", path)
            self.assertNotIn(bearer.split()[1], json.dumps(body), path)
        # saved back as shown, even by a client that drops sealedHeaders
        del cfg["stages"][0]["sealedHeaders"]
        cfg["stages"][0]["name"] = "call again"
        status, _ = srv.request("POST", "/pipelines", cfg)
        self.assertEqual(status, 200)

        def run():
            _, body = srv.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
            eid = body["ref"].split("/")[-1]

            def done():
                _, e = srv.request("GET", "/pipelines/" + eid)
                return e if e.get("status") not in ("RUNNING", "NOT_STARTED") else None
            return wait_until(done, timeout=30, message="the webhook execution")
        e = run()
        self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:2000])
        self.assertEqual(recv.got[-1][2].get("Authorization"), bearer)
        self.assertNotIn(bearer.split()[1], json.dumps(e))
        # a new value replaces it
        _, cfgs = srv.request("GET", "/applications/%s/pipelineConfigs" % app)
        cfg = cfgs[0]
        cfg["stages"][0]["customHeaders"]["Authorization"] = "Bearer NEW-VALUE-1"
        status, _ = srv.request("POST", "/pipelines", cfg)
        self.assertEqual(status, 200)
        self.assertEqual(run()["status"], "SUCCEEDED")
        self.assertEqual(recv.got[-1][2].get("Authorization"), "Bearer NEW-VALUE-1")


class PreconfiguredHeaders(unittest.TestCase):
    """A preconfigured webhook's headers come from the server's config when
    the stage is planned: a literal Authorization there is masked too."""

    def test_a_configured_authorization_is_masked(self):
        import tempfile
        recv = Receiver()
        self.addCleanup(recv.close)
        bearer = "Bearer CONFIGURED-" + uuid.uuid4().hex
        cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"webhook": {"preconfigured": [{
            "type": "callBoard", "label": "Call the board", "enabled": True, "method": "POST",
            "url": "http://127.0.0.1:%d/board" % recv.port,
            "customHeaders": {"Authorization": bearer, "X-Env": "${parameterValues.env}"},
            "parameters": [{"name": "env", "defaultValue": "test"}]}]}}, cfg)
        cfg.close()
        self.addCleanup(os.unlink, cfg.name)
        with Server(extra_args=["--config", cfg.name]) as srv:
            app = unique("preconf")
            create_app(srv, app)
            save_pipeline(srv, {"application": app, "name": "p", "stages": [
                {"refId": "1", "type": "callBoard", "name": "board",
                 "parameterValues": {"env": "prod"}}]})
            _, body = srv.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
            eid = body["ref"].split("/")[-1]

            def done():
                _, e = srv.request("GET", "/pipelines/" + eid)
                return e if e.get("status") not in ("RUNNING", "NOT_STARTED") else None
            e = wait_until(done, timeout=30, message="the preconfigured webhook")
            self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:2000])
            self.assertEqual(recv.got[0][2].get("Authorization"), bearer)
            self.assertEqual(recv.got[0][2].get("X-Env"), "prod")
            self.assertEqual(e["stages"][0]["context"]["customHeaders"]["Authorization"],
                             "****")
            self.assertNotIn(bearer.split()[1], json.dumps(e))


class SharedKey(unittest.TestCase):
    """Nodes sharing PostgreSQL share the secrets key: a node started with
    another key says so at start, refuses to store a secret and fails a
    stage that needs one with a message naming the setting, not garbage;
    given the same key file (secrets.keyFile) it works."""

    def test_a_node_with_another_key_refuses_secrets_clearly(self):
        import tempfile
        from pg_harness import Postgres
        pg = Postgres().start()
        self.addCleanup(pg.stop)
        url = pg.createdb("mizzen")
        recv = Receiver()
        self.addCleanup(recv.close)
        value = "SHARED-" + uuid.uuid4().hex
        bearer = "Bearer SEALED-" + uuid.uuid4().hex

        node1 = Server(extra_args=["--db", url]).start()
        self.addCleanup(node1.close)
        status, body = node1.request("PUT", "/secrets/shared", {"value": value})
        self.assertEqual(status, 200, body)
        app = unique("keys")
        create_app(node1, app)
        save_pipeline(node1, {"application": app, "name": "p", "stages": [
            {"refId": "1", "type": "webhook", "name": "call", "method": "POST",
             "url": "http://127.0.0.1:%d/hook" % recv.port,
             "customHeaders": {"X-Shared": "${#secret('shared')}", "Authorization": bearer}}]})

        # node 2 has a key of its own (DATA/secret.key, made at its start)
        node2 = Server(extra_args=["--db", url], credentials=node1.credentials).start()
        self.addCleanup(node2.close)
        wait_until(lambda: "is not the key the secrets in this database" in
                   open(node2.log_path, encoding="utf-8", errors="replace").read(),
                   timeout=10, message="node 2's start says its key is not the cluster's")
        status, body = node2.request("PUT", "/secrets/other", {"value": "x" * 8})
        self.assertEqual(status, 409, body)
        self.assertIn("keyFile", body["message"])

        # only node 2 runs: the stage fails saying why, and calls nothing
        node1.stop()
        status, body = node2.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        self.assertEqual(status, 202, body)
        eid = body["ref"].split("/")[-1]

        def finished(node):
            def check():
                _, e = node.request("GET", "/pipelines/" + eid)
                return e if e.get("status") not in ("RUNNING", "NOT_STARTED") else None
            return check
        e = wait_until(finished(node2), timeout=30, message="the execution on node 2")
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("keyFile", json.dumps(e))
        self.assertEqual(recv.got, [])

        # node 2 given node 1's key file: the same execution's kind works
        cfg = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"secrets": {"keyFile": os.path.join(node1.data_dir, "secret.key")}}, cfg)
        cfg.close()
        self.addCleanup(os.unlink, cfg.name)
        node2.stop()
        node2.extra_args += ["--config", cfg.name]
        node2.start()
        status, body = node2.request("POST", "/pipelines/%s/p" % app, {"type": "manual"})
        eid = body["ref"].split("/")[-1]
        e = wait_until(finished(node2), timeout=30, message="the execution with the shared key")
        self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:2000])
        self.assertEqual(recv.got[0][2].get("X-Shared"), value)
        self.assertEqual(recv.got[0][2].get("Authorization"), bearer)
        status, body = node2.request("PUT", "/secrets/other", {"value": "x" * 8})
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
