#!/usr/bin/env python3
"""bench/bench_triggers.py MIZZEN [--before OLD_MIZZEN] [--duration 10s]

Triggers through the API (issue 12), each figure beside its baseline
measured in the same run:

1. wrk -c64 and -c200 posting triggers of a three-stage pipeline
   (POST /pipelines/bench/three): executions started per second (202s) and
   the p99 of the POST, then every started execution is followed to its
   end in the store; baseline: nginx answering the same POST with a 202
   (the HTTP floor of this machine).
2. a mixed run, three wrk clients at once for the same time: triggers of
   the three-stage pipeline (-c32), triggers of a ten-stage pipeline (-c8:
   engine load) and reads of an execution (GET /pipelines/{id}, -c32); the
   p99 of each route beside the same route run alone.

--before runs step 1 against an older binary too, for before/after notes.
Lines starting with RESULT| are for bench/run's summary table. Needs wrk
and nginx. Every server is stopped and every temp dir removed at exit.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(ROOT, "wrk-request.lua")
TRIGGER = json.dumps({"type": "manual", "user": "bench"})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """A mizzen server on a fresh data dir."""

    def __init__(self, binary, work, label):
        self.dir = os.path.join(work, label)
        os.makedirs(self.dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        # thousands of executions of one pipeline: keep them all (the
        # default retention would prune them while they are counted)
        cfg = os.path.join(self.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"retention": {"executionsPerPipeline": 100000000}}, f)
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:%d" % self.port, "--data",
             os.path.join(self.dir, "data"), "--config", cfg],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.auth = ""
        for _ in range(500):
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.02)
        else:
            raise SystemExit("bench_triggers: %s never became healthy" % label)
        # Authentication on by default: sign in as the first admin (the
        # password file may be written just after /health answers; an
        # older server without authentication writes none).
        pw = os.path.join(self.dir, "data", "initial-admin-password")
        for _ in range(100):
            if os.path.exists(pw) and os.path.getsize(pw) > 0:
                break
            time.sleep(0.02)
        if os.path.exists(pw):
            cred = "admin:" + open(pw).read().strip()
            self.auth = "Basic " + base64.b64encode(cred.encode()).decode()

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.auth:
            headers["Authorization"] = self.auth
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def save(self, name, nstages):
        st, _ = self.call("GET", "/applications/bench")
        if st != 200:
            self.call("POST", "/tasks", {"application": "bench", "description": "create",
                                         "job": [{"type": "createApplication", "application":
                                                  {"name": "bench", "email": "b@example.com"}}]})
            for _ in range(500):
                if self.call("GET", "/applications/bench")[0] == 200:
                    break
                time.sleep(0.01)
        stages = [{"refId": str(i), "requisiteStageRefIds": [str(i - 1)] if i > 1 else [],
                   "type": "wait", "name": "wait %d" % i, "waitTime": 0}
                  for i in range(1, nstages + 1)]
        st, _ = self.call("POST", "/pipelines", {"application": "bench", "name": name,
                                                 "limitConcurrent": False, "stages": stages})
        if st not in (200, 201, 204):
            raise SystemExit("bench_triggers: saving %s: HTTP %s" % (name, st))
        st, cfg = self.call("GET", "/applications/bench/pipelineConfigs/" + name)
        return cfg["id"]

    def counts(self, config_id):
        """{status: n} of the executions of a config, read from the store."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.dir, "data", "mizzen.db"),
                             uri=True, timeout=30)
        try:
            rows = db.execute("SELECT status, count(*) FROM executions WHERE config_id = ? "
                              "GROUP BY status", (config_id,)).fetchall()
        finally:
            db.close()
        return dict(rows)

    def wait_finished(self, config_id, timeout=180):
        """Waits until no execution of the config is still going; returns
        the counts by status and the seconds it took."""
        t0 = time.time()
        while True:
            c = self.counts(config_id)
            if not any(s in c for s in ("NOT_STARTED", "RUNNING", "PAUSED")):
                return c, time.time() - t0
            if time.time() - t0 > timeout:
                return c, time.time() - t0
            time.sleep(0.2)


def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return float("nan")
    n, u = float(m.group(1)), m.group(2)
    return {"us": n / 1000, "ms": n, "s": n * 1000, "m": n * 60000}[u]


def wrk(url, conns, duration, method="GET", body="", auth="", threads=2):
    """Starts wrk; returns the process (see wrk_result)."""
    env = dict(os.environ, MZ_WRK_METHOD=method, MZ_WRK_BODY=body, MZ_WRK_AUTH=auth)
    return subprocess.Popen(["wrk", "-t%d" % threads, "-c%d" % conns, "-d" + duration,
                             "--latency", "-s", LUA, url],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


def wrk_result(proc, label):
    out = proc.communicate()[0]
    sys.stdout.write("".join("    " + line + "\n" for line in out.splitlines()))
    r = {"rps": 0.0, "p99": float("nan"), "requests": 0, "non2xx": 0, "sockerr": 0,
         "secs": 0.0}
    for line in out.splitlines():
        f = line.split()
        if line.startswith("Requests/sec:"):
            r["rps"] = float(f[1])
        elif f[:1] == ["99%"]:
            r["p99"] = ms(f[1])
        elif "requests in" in line:
            r["requests"] = int(f[0])
            r["secs"] = ms(f[3].rstrip(",")) / 1000
        elif line.strip().startswith("Non-2xx"):
            r["non2xx"] = int(f[-1])
        elif line.strip().startswith("Socket errors"):
            r["sockerr"] = sum(int(x) for x in re.findall(r"\d+", line))
    ok = r["requests"] - r["non2xx"]
    r["ok_per_s"] = ok / r["secs"] if r["secs"] else 0.0
    print("  %s: %.0f answered/s (%d of %d 2xx), p99 %.1f ms, %d socket errors"
          % (label, r["rps"], ok, r["requests"], r["p99"], r["sockerr"]))
    return r


def nginx_floor(work, duration):
    """nginx answering every POST with a 202 and a body like mizzen's."""
    d = os.path.join(work, "nginx")
    os.makedirs(d)
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; worker_processes auto; pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn; events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path %(d)s/body;
proxy_temp_path %(d)s/proxy; fastcgi_temp_path %(d)s/fastcgi; uwsgi_temp_path %(d)s/uwsgi;
scgi_temp_path %(d)s/scgi;
server { listen 127.0.0.1:%(p)d;
location / { default_type application/json;
return 202 '{"ref":"/pipelines/01KBENCHBENCHBENCHBENCHBEN"}'; } } }
""" % {"d": d, "p": port})
    proc = subprocess.Popen(["nginx", "-e", os.path.join(d, "error.log"), "-p", d, "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(0.3)
    url = "http://127.0.0.1:%d/pipelines/bench/three" % port
    res = {}
    for c in (64, 200):
        res[c] = wrk_result(wrk(url, c, duration, "POST", TRIGGER), "nginx -c%d" % c)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait()
    return res


def trigger_runs(srv, cfg_three, duration, label):
    res = {}
    for c in (64, 200):
        before = sum(srv.counts(cfg_three).values())
        r = wrk_result(wrk(srv.url + "/pipelines/bench/three", c, duration, "POST", TRIGGER,
                           srv.auth), "%s triggers -c%d" % (label, c))
        counts, secs = srv.wait_finished(cfg_three)
        total = sum(counts.values()) - before
        ok = r["requests"] - r["non2xx"]
        r["stored"] = total
        r["succeeded_all"] = (counts.get("SUCCEEDED", 0) == sum(counts.values()) and
                              total >= ok)
        print("  %s -c%d: %d executions stored for %d 202s; all finished SUCCEEDED: %s "
              "(%.1f s after wrk ended); load %s"
              % (label, c, total, ok, r["succeeded_all"], secs,
                 open("/proc/loadavg").read().split()[0]))
        res[c] = r
    return res


def result(fig, val, base, ratio, target, met):
    print("RESULT|%s|%s|%s|%s|%s|%s" % (fig, val, base, ratio, target, met))


def ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mizzen")
    ap.add_argument("--before")
    ap.add_argument("--duration", default="10s")
    a = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit("bench_triggers: needs %s" % tool)
    work = tempfile.mkdtemp(prefix="mz-bench-triggers-")
    os.chmod(work, 0o755)
    servers = []
    try:
        print("== triggers of a three-stage pipeline: wrk -t2, POST /pipelines/bench/three, "
              "%s each ==" % a.duration)
        floor = nginx_floor(work, a.duration)
        before = None
        if a.before:
            old = Server(a.before, work, "before")
            servers.append(old)
            cfg_old = old.save("three", 3)
            before = trigger_runs(old, cfg_old, a.duration, "before")
            old.stop()
            servers.remove(old)
        srv = Server(a.mizzen, work, "mizzen")
        servers.append(srv)
        cfg_three = srv.save("three", 3)
        cfg_ten = srv.save("ten", 10)
        res = trigger_runs(srv, cfg_three, a.duration, "mizzen")
        for c in (64, 200):
            r, f = res[c], floor[c]
            started = r["ok_per_s"]
            ok_rate = started >= 2000 and r["succeeded_all"] and r["sockerr"] == 0
            result("triggers started/s, %d connections" % c, "%.0f" % started,
                   "%.0f (nginx 202)" % f["rps"], ratio(started, f["rps"]),
                   ">= 2000, all finish", "yes" if ok_rate else "NO")
            result("trigger p99 (ms), %d connections" % c, "%.1f" % r["p99"],
                   "%.1f (nginx 202)" % f["p99"], ratio(r["p99"], f["p99"]), "<= 50 ms",
                   "yes" if r["p99"] <= 50 else "NO")
            if before:
                b = before[c]
                result("triggers started/s, %d conns, before [info]" % c,
                       "%.0f" % b["ok_per_s"], "%.0f (nginx 202)" % f["rps"],
                       ratio(b["ok_per_s"], f["rps"]), "(info)", "-")
                result("trigger p99 (ms), %d conns, before [info]" % c, "%.1f" % b["p99"],
                       "%.1f (nginx 202)" % f["p99"], ratio(b["p99"], f["p99"]), "(info)", "-")

        print("\n== mixed: triggers (-c32), ten-stage triggers (-c8), GET /pipelines/{id} "
              "(-c32) at once, %s; each route alone before ==" % a.duration)
        st, body = srv.call("POST", "/pipelines/bench/ten", {"type": "manual"})
        exec_url = srv.url + body["ref"]
        srv.wait_finished(cfg_ten)
        alone = {
            "read": wrk_result(wrk(exec_url, 32, a.duration, auth=srv.auth, threads=1),
                               "alone GET /pipelines/{id} -c32"),
        }
        procs = {
            "trigger": wrk(srv.url + "/pipelines/bench/three", 32, a.duration, "POST", TRIGGER,
                           srv.auth, threads=1),
            "ten": wrk(srv.url + "/pipelines/bench/ten", 8, a.duration, "POST", TRIGGER,
                       srv.auth, threads=1),
            "read": wrk(exec_url, 32, a.duration, auth=srv.auth, threads=1),
        }
        mixed = {k: wrk_result(p, "mixed " + k) for k, p in procs.items()}
        c3, _ = srv.wait_finished(cfg_three)
        c10, _ = srv.wait_finished(cfg_ten)
        fine = all(set(c) == {"SUCCEEDED"} for c in (c3, c10))
        print("  after the mixed run: three-stage %s, ten-stage %s; load %s"
              % (c3, c10, open("/proc/loadavg").read().split()[0]))
        result("mixed: POST trigger p99 (ms) [info]", "%.1f" % mixed["trigger"]["p99"],
               "%.1f (alone, -c64)" % res[64]["p99"], ratio(mixed["trigger"]["p99"],
                                                           res[64]["p99"]),
               "(info) <= 50 ms", "yes" if mixed["trigger"]["p99"] <= 50 else "no")
        result("mixed: POST ten-stage trigger p99 (ms) [info]", "%.1f" % mixed["ten"]["p99"],
               "-", "-", "(info)", "-")
        result("mixed: GET /pipelines/{id} p99 (ms) [info]", "%.1f" % mixed["read"]["p99"],
               "%.1f (alone)" % alone["read"]["p99"],
               ratio(mixed["read"]["p99"], alone["read"]["p99"]), "(info)", "-")
        result("mixed: started/s three + ten, reads/s [info]",
               "%.0f + %.0f, %.0f" % (mixed["trigger"]["ok_per_s"], mixed["ten"]["ok_per_s"],
                                      mixed["read"]["rps"]),
               "%.0f reads/s (alone)" % alone["read"]["rps"], "-", "(info) all finish",
               "yes" if fine else "NO")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
