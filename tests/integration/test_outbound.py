"""The outbound policy and limits of the one HTTP client, seen through the
webhook stage of the real server: a webhook to a cloud metadata address
(169.254.169.254) or to the server's own listen address is TERMINAL with a
message naming the policy and the setting that allows it; the config's
"outbound": {"allow": [...]} lets the same call through; a response larger
than the cap fails the stage; a malformed outbound.allow stops start-up.
"""
import json
import os
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from config_util import config_file, start_refused
from mizzen_harness import Server
from mizzen_flow import create_app, run_pipeline, save_pipeline, stage, wait_execution, \
    wait_until, get_execution


def webhook_pipeline(app, name, url, method="GET"):
    return {"application": app, "name": name,
            "stages": [{"refId": "1", "type": "webhook", "name": "Call", "url": url,
                        "method": method}]}


def stage_error(execution):
    s = stage(execution, "Call")
    return json.dumps(s.get("context", {}))


class BigAnswer:
    """A local HTTP server whose every answer is `size` bytes."""

    def __init__(self, size):
        outer = self
        self.size = size

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(outer.size))
                self.end_headers()
                chunk = b"x" * 65536
                left = outer.size
                try:
                    while left > 0:
                        self.wfile.write(chunk[:min(left, len(chunk))])
                        left -= len(chunk)
                except OSError:
                    pass  # the client stopped reading at its cap

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class OutboundPolicyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        create_app(cls.server, "outbound")

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def run_webhook(self, server, name, url):
        save_pipeline(server, webhook_pipeline("outbound", name, url))
        exec_id = run_pipeline(server, "outbound", name)
        return wait_execution(server, exec_id, timeout=20)

    def test_metadata_address_refused(self):
        e = self.run_webhook(self.server, "metadata",
                             "http://169.254.169.254/latest/meta-data/iam/")
        self.assertEqual(e["status"], "TERMINAL", e)
        text = stage_error(e)
        self.assertIn("refused by the outbound policy", text)
        self.assertIn("link-local", text)
        self.assertIn('\\"outbound\\": {\\"allow\\"', text)

    def test_own_address_refused(self):
        port = self.server.port
        for host in ("127.0.0.1", "localhost"):
            e = self.run_webhook(self.server, "own-" + host.replace(".", "-"),
                                 "http://%s:%d/applications" % (host, port))
            self.assertEqual(e["status"], "TERMINAL", e)
            text = stage_error(e)
            self.assertIn("refused by the outbound policy", text)
            self.assertIn("own listen address", text)

    def test_notification_to_metadata_address_refused_once(self):
        save_pipeline(self.server, {
            "application": "outbound", "name": "notify",
            "notifications": [{"type": "webhook", "when": ["pipeline.complete"],
                               "address": "http://169.254.169.254/latest/meta-data/"}],
            "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]})
        exec_id = run_pipeline(self.server, "outbound", "notify")
        e = wait_execution(self.server, exec_id)
        self.assertEqual(e["status"], "SUCCEEDED", e)  # a notification never fails a pipeline
        wait_until(lambda: "failed 1 time; giving up: refused by the outbound policy"
                   in self.server.log_tail(), timeout=15,
                   message="the refused notification in the server log")

    def test_response_size_cap(self):
        with BigAnswer(3 << 20) as big:
            e = self.run_webhook(self.server, "big", big.url)
        self.assertEqual(e["status"], "TERMINAL", e)
        self.assertIn("larger than 1048576 bytes", stage_error(e))

    def test_allow_list_lets_calls_through(self):
        cfg = config_file({"outbound": {"allow": ["127.0.0.1/32", "169.254.169.254/32"]}})
        try:
            with Server(extra_args=["--config", cfg]) as srv:
                create_app(srv, "outbound")
                e = self.run_webhook(srv, "own", "%s/health" % srv.url)
                self.assertEqual(e["status"], "SUCCEEDED", e)
                hook = stage(e, "Call")["context"]["webhook"]
                self.assertEqual(hook["statusCodeValue"], 200)
                self.assertEqual(hook["body"], {"status": "UP"})

                # Allowed, the metadata address is really connected to: on a
                # machine without one the call fails as a connection would
                # (and is retried), never with the policy's message.
                save_pipeline(srv, webhook_pipeline("outbound", "meta",
                                                    "http://169.254.169.254/latest/"))
                exec_id = run_pipeline(srv, "outbound", "meta")

                def tried():
                    ex = get_execution(srv, exec_id)
                    ctx = stage(ex, "Call").get("context", {})
                    if ex["status"] == "SUCCEEDED":
                        return ex
                    return ex if "error" in ctx.get("webhook", {}) else None
                ex = wait_until(tried, timeout=20, message="the allowed call to be tried")
                self.assertNotIn("outbound policy", stage_error(ex))
                srv.request("PUT", "/pipelines/%s/cancel" % exec_id)
        finally:
            os.unlink(cfg)

    def test_bad_allow_list_stops_start_up(self):
        status, stderr = start_refused({"outbound": {"allow": ["10.0.0.0/40"]}})
        self.assertEqual(status, 2, stderr)
        self.assertIn("outbound.allow[0]", stderr)


if __name__ == "__main__":
    unittest.main()
