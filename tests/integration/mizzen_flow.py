"""Pipeline-level helpers for integration tests: create an application, save
and run pipelines, wait for executions, and a scripted local HTTP server
that webhook stages can call.

All requests go to a mizzen_harness.Server over HTTP, as a user would.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mizzen_harness import wait_until

COMPLETE = {"SUCCEEDED", "TERMINAL", "CANCELED", "STOPPED", "SKIPPED", "FAILED_CONTINUE"}


def create_app(server, name, email="team@example.com"):
    """Creates an application through an orchestration, as spin does."""
    status, body = server.request("POST", "/tasks", {
        "application": name, "description": "Create Application: " + name,
        "job": [{"type": "createApplication",
                 "application": {"name": name, "email": email}}]})
    assert status == 200, (status, body)
    task_id = body["ref"].split("/")[-1]

    def done():
        s, t = server.request("GET", "/tasks/" + task_id)
        return t if s == 200 and t.get("status") in COMPLETE else None
    task = wait_until(done, timeout=10, message="createApplication task")
    assert task["status"] == "SUCCEEDED", task
    return task


def save_pipeline(server, pipeline):
    """Saves a pipeline config; returns the stored config (with its id)."""
    status, body = server.request("POST", "/pipelines", pipeline)
    assert status == 200, (status, body)
    s, cfg = server.request("GET", "/applications/%s/pipelineConfigs/%s"
                            % (pipeline["application"], pipeline["name"]))
    assert s == 200, (s, cfg)
    return cfg


def run_pipeline(server, app, name, trigger=None):
    """Triggers a pipeline; returns the execution id."""
    status, body = server.request("POST", "/pipelines/%s/%s" % (app, name),
                                  trigger if trigger is not None else {"type": "manual"})
    assert status == 202, (status, body)
    return body["ref"].split("/")[-1]


def get_execution(server, exec_id):
    status, body = server.request("GET", "/pipelines/" + exec_id)
    assert status == 200, (status, body)
    return body


def wait_execution(server, exec_id, timeout=20, statuses=COMPLETE):
    """Waits until the execution's status is in statuses; returns it."""
    def check():
        e = get_execution(server, exec_id)
        return e if e["status"] in statuses else None
    return wait_until(check, timeout=timeout, interval=0.05,
                      message="execution %s to reach %s" % (exec_id, sorted(statuses)))


def stage(execution, name):
    for s in execution["stages"]:
        if s["name"] == name:
            return s
    raise AssertionError("no stage %r in %s" % (name, [s["name"] for s in execution["stages"]]))


def wait_stage(server, exec_id, name, status, timeout=10):
    def check():
        e = get_execution(server, exec_id)
        try:
            return e if stage(e, name)["status"] == status else None
        except AssertionError:
            return None
    return wait_until(check, timeout=timeout, interval=0.05,
                      message="stage %s of %s to be %s" % (name, exec_id, status))


class Recorder:
    """A local HTTP server for webhook stages. POST / records the call and
    answers {"id": n}; GET /status/<key> answers {"status": RUNNING} for the
    first `polls_before_success` polls of that key, then SUCCESS.

    Calls are grouped by the Idempotency-Key header: a replay of the same
    attempt (after a crash) carries the same key, so `effects` (distinct
    keys per payload "stage") is what the far side acted on."""

    def __init__(self, polls_before_success=2):
        self.lock = threading.Lock()
        self.posts = []          # (key, payload)
        self.requests = []       # (method, path, headers, payload), every call
        self.polls = {}          # key -> count
        self.polls_before_success = polls_before_success
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    payload = json.loads(raw or b"null")
                except ValueError:
                    payload = raw.decode("utf-8", "replace")
                key = self.headers.get("Idempotency-Key")
                with rec.lock:
                    rec.posts.append((key, payload))
                    rec.requests.append(("POST", self.path, dict(self.headers), payload))
                    idx = len(rec.posts)
                self._reply(200, {"id": idx, "status": "ACCEPTED"})

            def do_GET(self):
                key = self.path.rsplit("/", 1)[-1]
                with rec.lock:
                    rec.requests.append(("GET", self.path, dict(self.headers), None))
                    rec.polls[key] = rec.polls.get(key, 0) + 1
                    n = rec.polls[key]
                done = n > rec.polls_before_success
                self._reply(200, {"status": "SUCCESS" if done else "RUNNING", "polls": n})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        return False

    def effects(self):
        """{payload-tag: set of idempotency keys} for every POST seen."""
        out = {}
        with self.lock:
            for key, payload in self.posts:
                tag = payload.get("tag") if isinstance(payload, dict) else None
                out.setdefault(tag, set()).add(key)
        return out

    def raw_count(self, tag):
        with self.lock:
            return sum(1 for _, p in self.posts if isinstance(p, dict) and p.get("tag") == tag)


def wait_quiet(seconds):
    time.sleep(seconds)
