"""Helpers for tests/integration/test_triggers.py (Python 3 standard library):
a local git repository, a real Docker registry (Debian's docker-registry on
loopback) with an image pusher speaking the Registry v2 API, a server that
answers Jenkins' JSON API, an HTTP receiver for webhook/Slack
notifications, and a tiny SMTP responder.
"""
import hashlib
import json
import os
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mizzen_harness import free_port, wait_until


# ---- git ------------------------------------------------------------------

class GitRepo:
    """A plain local repository with branch main."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="mizzen-git-")
        self._git("init", "-q", "-b", "main")
        self.commit("first")

    def _git(self, *args):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
        return subprocess.run(["git", "-C", self.path] + list(args), check=True, env=env,
                              capture_output=True, text=True).stdout.strip()

    def commit(self, message):
        with open(os.path.join(self.path, "file.txt"), "a") as f:
            f.write(message + "\n")
        self._git("add", "file.txt")
        self._git("commit", "-q", "-m", message)
        return self._git("rev-parse", "HEAD")

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


# ---- HTTP receivers ---------------------------------------------------------

class Receiver:
    """Records every POST (path, headers, JSON body); answers `status`
    (a list consumed one per request, then 200)."""

    def __init__(self, fail_first=0):
        self.lock = threading.Lock()
        self.calls = []
        self.failures_left = fail_first
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                with rec.lock:
                    fail = rec.failures_left > 0
                    if fail:
                        rec.failures_left -= 1
                    else:
                        try:
                            body = json.loads(raw or b"null")
                        except ValueError:
                            body = raw.decode("utf-8", "replace")
                        rec.calls.append((self.path, body))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, path=None):
        with self.lock:
            return [b for p, b in self.calls if path is None or p == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SMTPResponder:
    """Just enough SMTP (RFC 5321) to accept mail: records (from, rcpts, data)."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write((line + "\r\n").encode())
                self.wfile.flush()

            def handle(self):
                self.reply("220 localhost test SMTP")
                sender, rcpts = None, []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode("utf-8", "replace").strip()
                    up = cmd.upper()
                    if up.startswith("EHLO") or up.startswith("HELO"):
                        self.reply("250 localhost")
                    elif up.startswith("MAIL FROM:"):
                        sender = cmd[10:].strip()
                        self.reply("250 OK")
                    elif up.startswith("RCPT TO:"):
                        rcpts.append(cmd[8:].strip())
                        self.reply("250 OK")
                    elif up == "DATA":
                        self.reply("354 go ahead")
                        data = []
                        while True:
                            l = self.rfile.readline()
                            if not l or l in (b".\r\n", b".\n"):
                                break
                            data.append(l.decode("utf-8", "replace"))
                        with outer.lock:
                            outer.messages.append((sender, list(rcpts), "".join(data)))
                        sender, rcpts = None, []
                        self.reply("250 OK queued")
                    elif up == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 OK")

        class TCP(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = TCP(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "smtp://127.0.0.1:%d" % self.port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---- Jenkins ----------------------------------------------------------------

class FakeJenkins:
    """Answers the parts of Jenkins' JSON API mizzen uses (documented at
    https://www.jenkins.io/doc/book/using/remote-access-api/):
    GET /api/json (jobs), GET /job/<job>/api/json (builds), GET /job/<job>/<n>/api/json,
    GET /job/<job>/<n>/artifact/<file>, POST /job/<job>/build and
    /buildWithParameters (201 + Location: /queue/item/<q>/),
    GET /queue/item/<q>/api/json (executable.number once started)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.builds = {}      # job -> list of build dicts
        self.artifacts = {}   # (job, n, file) -> text
        self.queue = {}       # q -> (job, params)
        self.started = []     # (job, params)
        self.result_for_started = "SUCCESS"
        fj = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send(self, code, body, headers=None):
                data = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?")[0]
                parts = [p for p in path.split("/") if p]
                with fj.lock:
                    if parts[:2] == ["queue", "item"] and len(parts) >= 3:
                        q = int(parts[2])
                        job, _ = fj.queue.get(q, (None, None))
                        if job is None:
                            return self.send(404, {})
                        item = {"id": q}
                        started = [b for b in fj.builds.get(job, []) if b.get("queueId") == q]
                        if started:
                            item["executable"] = {"number": started[0]["number"],
                                                  "url": started[0]["url"]}
                        return self.send(200, item)
                    if parts == ["api", "json"]:  # the master: its jobs
                        return self.send(200, {"jobs": [{"name": j} for j in sorted(fj.builds)]})
                    if parts and parts[0] == "job" and len(parts) >= 2:
                        job = parts[1]
                        rest = parts[2:]
                        builds = fj.builds.get(job)
                        if builds is None:
                            return self.send(404, {})
                        if rest == ["api", "json"]:
                            return self.send(200, {"name": job, "builds": sorted(
                                builds, key=lambda b: -b["number"])})
                        if len(rest) >= 1 and rest[0].isdigit():
                            n = int(rest[0])
                            b = [x for x in builds if x["number"] == n]
                            if not b:
                                return self.send(404, {})
                            if rest[1:] == ["api", "json"]:
                                return self.send(200, b[0])
                            if len(rest) >= 3 and rest[1] == "artifact":
                                text = fj.artifacts.get((job, n, "/".join(rest[2:])))
                                if text is None:
                                    return self.send(404, {})
                                return self.send(200, text.encode())
                return self.send(404, {})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                path, _, query = self.path.partition("?")
                parts = [p for p in path.split("/") if p]
                params = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv)
                if len(parts) == 3 and parts[0] == "job" and parts[2] in (
                        "build", "buildWithParameters"):
                    job = parts[1]
                    with fj.lock:
                        if job not in fj.builds:
                            return self.send(404, {})
                        q = len(fj.queue) + 100
                        fj.queue[q] = (job, params)
                        fj.started.append((job, params))
                        num = max([b["number"] for b in fj.builds[job]] + [0]) + 1
                        fj.builds[job].append({
                            "number": num, "building": False,
                            "result": fj.result_for_started, "timestamp": int(time.time() * 1000),
                            "duration": 1, "queueId": q,
                            "url": "%s/job/%s/%d/" % (fj.url, job, num)})
                    return self.send(201, b"", {"Location": "%s/queue/item/%d/" % (fj.url, q)})
                return self.send(404, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def add_build(self, job, number, result="SUCCESS", building=False, properties=None):
        with self.lock:
            self.builds.setdefault(job, []).append({
                "number": number, "building": building, "result": None if building else result,
                "timestamp": int(time.time() * 1000), "duration": 10,
                "url": "%s/job/%s/%d/" % (self.url, job, number)})
            if properties is not None:
                self.artifacts[(job, number, "build.properties")] = properties

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- a real Docker registry ---------------------------------------------------

REGISTRY_BIN = "/usr/bin/docker-registry"


class Registry:
    """Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free port>
    with storage in a temp dir; push() uploads a tiny image through the
    Registry HTTP API v2 (blobs, then a schema 2 manifest)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mizzen-registry-")
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.url = "http://" + self.address
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s/data\nhttp:\n  addr: %s\n" % (self.dir, self.address))
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._up, timeout=20, message="docker-registry on " + self.address)

    def _up(self):
        if self.proc.poll() is not None:
            raise AssertionError("docker-registry exited")
        try:
            with urllib.request.urlopen(self.url + "/v2/", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def _blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(self.url + "/v2/%s/blobs/uploads/" % repo, data=b"",
                                     method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            loc = r.headers["Location"]
        if loc.startswith("/"):
            loc = self.url + loc
        sep = "&" if "?" in loc else "?"
        req = urllib.request.Request(loc + sep + "digest=" + digest, data=data, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201, r.status
        return digest, len(data)

    def push(self, repo, tag):
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
        layer = ("layer for %s:%s" % (repo, tag)).encode()
        cd, cs = self._blob(repo, cfg)
        ld, ls = self._blob(repo, layer)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": cs, "digest": cd},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": ls, "digest": ld}]}).encode()
        req = urllib.request.Request(
            self.url + "/v2/%s/manifests/%s" % (repo, tag), data=manifest, method="PUT",
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201, r.status

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def log_has(server, text):
    try:
        with open(server.log_path, "rb") as f:
            return text in f.read().decode("utf-8", "replace")
    except OSError:
        return False


def log_count(server, text):
    try:
        with open(server.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace").count(text)
    except OSError:
        return 0
