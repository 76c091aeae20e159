"""The sandbox of every user-supplied command, against the real binary:
inside a runJob (and its git checkout of a repository under /tmp), a bake
command and a deployed instance, CapEff is 0, remounting / fails, mknod
fails, the data directory, /root and /etc/shadow are out of reach, a write
outside the workspace fails and one inside it works; an instance runs
`["python3", "app.py"]` from its image, read-only, with a home of its own.
`"sandbox": false` is refused (at save and at run) unless the config allows
it, and then really runs on the host; a bake of a path outside
bakery.packageRoots is refused. A deploy of `["/bin/false"]` fails fast with
the exit status, restarts with a growing delay, and leaves no instance
folder after destroy (nor after a rollback that destroys it, and nothing
restarts afterwards); console logs are rotated; probes back off."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from mizzen_harness import Server, wait_until
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution
from cloud_util import get, kill_cloud, run_task

APP = "boxed"

# What a process can do to the host it runs on, as JSON. argv: a mode
# ("job", "bake", "report"), the server's data directory and a directory
# the process is meant to be able to write.
CHECK_PY = r'''
import json, os, subprocess, sys

def can(fn):
    try:
        fn()
        return True
    except Exception:
        return False

def runs(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False

def report(data_dir, writable):
    r = {}
    for line in open("/proc/self/status"):
        if line.startswith(("CapEff:", "NoNewPrivs:")):
            k, v = line.split(":", 1)
            r[k] = v.strip()
    r["remounted"] = runs(["mount", "-o", "remount,rw", "/"])
    r["mknod"] = runs(["mknod", os.path.join(writable, "null-dev"), "c", "1", "3"])
    r["dataVisible"] = os.path.exists(os.path.join(data_dir, "mizzen.db"))
    r["rootListed"] = can(lambda: os.listdir("/root")) and len(os.listdir("/root")) > 0
    r["shadowRead"] = can(lambda: open("/etc/shadow").read())
    outside = "/var/tmp/mizzen-sandbox-escape-%d" % os.getpid()
    r["wroteOutside"] = can(lambda: open(outside, "w").write("x"))
    r["wroteInside"] = can(lambda: open(os.path.join(writable, "probe.txt"), "w").write("x"))
    r["cwd"] = os.getcwd()
    return r

if __name__ == "__main__" and len(sys.argv) > 2:
    mode, data_dir = sys.argv[1], sys.argv[2]
    if mode == "job":
        r = report(data_dir, os.getcwd())
        os.makedirs("dist", exist_ok=True)
        for f in ("check.py", "app.py"):
            with open(f) as src, open(os.path.join("dist", f), "w") as dst:
                dst.write(src.read())
        with open("sandbox.properties", "w") as f:
            f.write("REPORT=" + json.dumps(r) + "\n")
    elif mode == "bake":
        r = report(data_dir, os.getcwd())
        with open("bake-report.json", "w") as f:
            json.dump(r, f)
    print(json.dumps(report(data_dir, os.environ.get("HOME", "/tmp"))))
'''

# The deployed app: /health, and /report with its own sandbox report, the
# bake's (read from its image, its working directory) and its environment.
APP_PY = r'''
import http.server, json, os
import check

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/report":
            r = {"instance": check.report(os.environ["MZ_DATA"], os.environ["HOME"]),
                 "bake": json.load(open("bake-report.json")),
                 "imageDir": os.environ.get("IMAGE_DIR"), "home": os.environ.get("HOME"),
                 "imageWritable": check.can(lambda: open("written.txt", "w").write("x"))}
            body = json.dumps(r).encode()
        else:
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
'''

HELD = {"CapEff": "0000000000000000", "NoNewPrivs": "1", "remounted": False, "mknod": False,
        "dataVisible": False, "rootListed": False, "shadowRead": False,
        "wroteOutside": False, "wroteInside": True}


def git(path, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", "-C", path] + list(args), check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def error_of(execution):
    for s in execution["stages"]:
        exc = s["context"].get("exception")
        if exc:
            return exc["details"]["error"]
    return ""


class SandboxTestCase(unittest.TestCase):
    config = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mizzen-sbx-")  # 0700, as a data dir often is
        cfg = dict(cls.config)
        cfg["providers"] = {"local": {"accounts": [{"name": "local", "regions": ["local"]}],
                                      "imageRoots": [cls.tmp]}}   # CrashingInstances' image
        cls.cfg_path = os.path.join(cls.tmp, "config.json")
        with open(cls.cfg_path, "w") as f:
            json.dump(cfg, f)
        cls.srv = Server(extra_args=["--config", cls.cfg_path], keep_data=True)
        cls.srv.start()
        create_app(cls.srv, APP)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        kill_cloud(cls.srv.data_dir)
        cls.srv.keep_data = False
        try:
            cls.srv.close()
        finally:
            shutil.rmtree(cls.srv.data_dir, ignore_errors=True)
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_p(self, name, stages, timeout=90):
        save_pipeline(self.srv, {"application": APP, "name": name, "stages": stages})
        return wait_execution(self.srv, run_pipeline(self.srv, APP, name), timeout=timeout)

    def assertHeld(self, where, report):
        got = {k: report.get(k) for k in HELD}
        self.assertEqual(got, HELD, "%s: %s" % (where, report))


class Sandbox(SandboxTestCase):
    config = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a repository under /tmp in a 0700 directory: the checkout sees it
        cls.repo = tempfile.mkdtemp(prefix="mizzen-sbx-git-")
        git(cls.repo, "init", "-q", "-b", "main")
        for name, text in (("check.py", CHECK_PY), ("app.py", APP_PY)):
            with open(os.path.join(cls.repo, name), "w") as f:
                f.write(text)
        git(cls.repo, "add", ".")
        git(cls.repo, "commit", "-q", "-m", "checks")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.repo, ignore_errors=True)

    def test_1_job_bake_and_instance_are_sandboxed(self):
        data = self.srv.data_dir
        self.assertTrue(os.path.exists(os.path.join(data, "mizzen.db")))
        stages = [
            {"refId": "build", "type": "runJob", "name": "Build", "cloudProvider": "local",
             "git": {"url": self.repo, "ref": "main"},
             "command": ["python3", "check.py", "job", data], "timeoutSeconds": 60,
             "propertyFile": "sandbox.properties",
             "outputArtifacts": [{"name": "boxed-app", "path": "dist"}]},
            {"refId": "bake", "type": "bake", "name": "Bake", "requisiteStageRefIds": ["build"],
             "cloudProviderType": "local", "package": "boxed-app", "regions": ["local"],
             "command": ["python3", "check.py", "bake", data]},
            {"refId": "deploy", "type": "deploy", "name": "Deploy",
             "requisiteStageRefIds": ["bake"], "clusters": [{
                 "application": APP, "stack": "web", "freeFormDetails": "",
                 "account": "local", "cloudProvider": "local", "region": "local",
                 "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "highlander",
                 "command": ["python3", "app.py"], "env": {"MZ_DATA": data},
                 "healthCheck": {"path": "/health"}}]}]
        e = self.run_p("boxed", stages)
        self.assertEqual(e["status"], "SUCCEEDED", error_of(e))
        build = [s for s in e["stages"] if s["name"] == "Build"][0]
        job = json.loads(build["outputs"]["REPORT"])
        self.assertHeld("runJob", job)
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200, groups)
        s, full = self.srv.request("GET", "/serverGroups/local/local/" + groups[0]["name"])
        inst = full["instances"][0]
        status, body = get("http://127.0.0.1:%d/report" % inst["port"], timeout=10)
        self.assertEqual(status, 200)
        rep = json.loads(body)
        self.assertHeld("bake", rep["bake"])
        self.assertHeld("instance", rep["instance"])
        # the image is the instance's read-only working directory; $HOME is
        # a writable directory of its own
        self.assertEqual(rep["instance"]["cwd"], rep["imageDir"])
        self.assertFalse(rep["imageWritable"])
        self.assertNotEqual(rep["home"], rep["imageDir"])
        self.assertTrue(rep["instance"]["wroteInside"])

    def test_2_unsandboxed_is_refused(self):
        job = {"refId": "1", "type": "runJob", "name": "Loose", "cloudProvider": "local",
               "command": ["true"], "sandbox": False}
        s, body = self.srv.request("POST", "/pipelines", {
            "application": APP, "name": "loose", "stages": [job]})
        self.assertEqual(s, 400, body)
        self.assertIn("allowUnsandboxed", body["message"])
        bake = {"refId": "1", "type": "bake", "name": "Loose bake", "package": "x",
                "cloudProviderType": "local", "command": ["true"], "sandbox": False}
        s, body = self.srv.request("POST", "/pipelines", {
            "application": APP, "name": "loose-bake", "stages": [bake]})
        self.assertEqual(s, 400, body)
        # at run too: an ad-hoc pipeline is refused before anything runs
        s, body = self.srv.request("POST", "/pipelines/start", {
            "application": APP, "name": "loose", "stages": [job]})
        self.assertEqual(s, 400, body)
        self.assertIn("allowUnsandboxed", body["message"])

    def test_3_bake_path_outside_package_roots(self):
        s, body = self.srv.request("POST", "/pipelines", {
            "application": APP, "name": "bake-etc", "stages": [
                {"refId": "1", "type": "bake", "name": "Bake", "package": "/etc",
                 "cloudProviderType": "local", "regions": ["local"]}]})
        self.assertEqual(s, 400, body)
        self.assertIn("packageRoots", body["message"])
        # the data directory itself (its database) cannot be baked either
        s, body = self.srv.request("POST", "/pipelines", {
            "application": APP, "name": "bake-db", "stages": [
                {"refId": "1", "type": "bake", "name": "Bake",
                 "package": os.path.join(self.srv.data_dir, "mizzen.db"),
                 "cloudProviderType": "local", "regions": ["local"]}]})
        self.assertEqual(s, 400, body)


class SandboxAllowedAndRoots(SandboxTestCase):
    """A server whose config allows unsandboxed commands and lists a
    package root."""

    @classmethod
    def setUpClass(cls):
        cls.pkg_root = tempfile.mkdtemp(prefix="mizzen-sbx-roots-")
        cls.config = {"sandbox": {"allowUnsandboxed": True},
                      "bakery": {"packageRoots": [cls.pkg_root]}}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.pkg_root, ignore_errors=True)
            for f in os.listdir("/var/tmp"):  # what the unsandboxed job wrote
                if f.startswith("mizzen-sandbox-escape-"):
                    os.unlink(os.path.join("/var/tmp", f))

    def test_unsandboxed_runs_on_the_host_when_allowed(self):
        e = self.run_p("loose", [{
            "refId": "1", "type": "runJob", "name": "Loose", "cloudProvider": "local",
            "sandbox": False, "command": ["python3", "-c", CHECK_PY + "\n" +
                                          "print('REPORT=' + json.dumps(report('%s', '.')))"
                                          % self.srv.data_dir]}], timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", error_of(e))
        s, log = self.srv.request("GET", e["stages"][0]["context"]["jobLogUrl"])
        self.assertEqual(s, 200)
        text = log if isinstance(log, str) else json.dumps(log)
        line = [l for l in text.splitlines() if l.startswith("REPORT=")][0]
        rep = json.loads(line[len("REPORT="):])
        # what the sandbox prevents, unsandboxed (as root) it allows: the
        # checks above can fail
        if os.geteuid() == 0:
            self.assertNotEqual(rep["CapEff"], HELD["CapEff"])
            self.assertTrue(rep["dataVisible"])

    def test_bake_of_a_path_under_package_roots(self):
        pkg = os.path.join(self.pkg_root, "site")
        os.makedirs(pkg)
        with open(os.path.join(pkg, "index.html"), "w") as f:
            f.write("hello\n")
        e = self.run_p("bake-root", [{"refId": "1", "type": "bake", "name": "Bake",
                                      "package": pkg, "cloudProviderType": "local",
                                      "regions": ["local"]}], timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", error_of(e))
        # a link inside the root that leads out of it (made after the save,
        # which would refuse it) is refused at run
        link = os.path.join(self.pkg_root, "escape")
        save_pipeline(self.srv, {"application": APP, "name": "bake-link", "stages": [
            {"refId": "1", "type": "bake", "name": "Bake", "package": link,
             "cloudProviderType": "local", "regions": ["local"]}]})
        os.symlink("/etc", link)
        s, body = self.srv.request("POST", "/pipelines/%s/bake-link" % APP, {"type": "manual"})
        self.assertEqual(s, 400, body)
        self.assertIn("packageRoots", body["message"])
        # and a package named by an expression is judged when the bake runs
        e = self.run_p("bake-expr", [{"refId": "1", "type": "bake", "name": "Bake",
                                      "package": "${'%s'}" % link, "cloudProviderType": "local",
                                      "regions": ["local"]}], timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        self.assertIn("packageRoots", error_of(e))


class CrashingInstances(SandboxTestCase):

    def instances_dir(self):
        return os.path.join(self.srv.data_dir, "cloud", "instances")

    def deploy(self, name, command, capacity=2, health=None, **extra):
        cluster = {"application": APP, "stack": name, "freeFormDetails": "",
                   "account": "local", "cloudProvider": "local", "region": "local",
                   "capacity": {"min": capacity, "max": capacity, "desired": capacity},
                   "strategy": "highlander", "image": self.image_dir(), "command": command}
        if health:
            cluster["healthCheck"] = {"path": health}
        cluster.update(extra)
        save_pipeline(self.srv, {"application": APP, "name": name, "stages": [
            {"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [cluster]}]})
        return run_pipeline(self.srv, APP, name)

    def image_dir(self):
        d = os.path.join(self.tmp, "image")
        if not os.path.isdir(d):
            os.makedirs(d)
            with open(os.path.join(d, "probes.py"), "w") as f:
                f.write(PROBES_PY)
            with open(os.path.join(d, "chatty.py"), "w") as f:
                f.write(CHATTY_PY)
        return d

    def group(self, stack):
        """The full view of the stack's server group (instances with ports,
        restarts and last exit), or None."""
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200, groups)
        for g in groups:
            if g["name"].startswith("%s-%s-" % (APP, stack)):
                s, full = self.srv.request("GET", "/serverGroups/local/local/" + g["name"])
                return full if s == 200 else None
        return None

    def test_1_crashing_deploy_fails_fast_and_destroy_leaves_nothing(self):
        t0 = time.monotonic()
        eid = self.deploy("crash", ["/bin/false"])
        e = wait_execution(self.srv, eid, timeout=60)
        took = time.monotonic() - t0
        self.assertEqual(e["status"], "TERMINAL")
        self.assertLess(took, 60)
        err = error_of(e)
        self.assertIn("keeps crashing", err)
        self.assertIn("exit status 1", err)
        # restarts come with a growing delay (1 s, 2 s, 4 s, ...): a few in
        # 20 s, not the hundreds an immediate restart makes
        time.sleep(max(0, 20 - (time.monotonic() - t0)))
        g = self.group("crash")
        for inst in g["instances"]:
            self.assertLessEqual(inst["restartCount"], 6, inst)
            self.assertGreaterEqual(inst["restartCount"], 2, inst)
            self.assertEqual(inst["lastExit"]["exitCode"], 1)
        self.assertEqual(len(os.listdir(self.instances_dir())), 2)
        t = run_task(self.srv, APP, [{"type": "destroyServerGroup", "cloudProvider": "local",
                                      "credentials": "local", "region": "local",
                                      "serverGroupName": g["name"]}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        self.assertEqual(os.listdir(self.instances_dir()), [])
        time.sleep(3)  # no restart after the destroy
        self.assertEqual(os.listdir(self.instances_dir()), [])
        self.assertIsNone(self.group("crash"))

    def test_3_rollback_destroys_a_crashing_group_and_its_restarts_end(self):
        eid = self.deploy("rollback", ["/bin/false"], capacity=1,
                          rollback={"onFailure": True, "destroyLatest": True})
        e = wait_execution(self.srv, eid, timeout=60)
        self.assertEqual(e["status"], "TERMINAL")
        names = [s["name"] for s in e["stages"] if s["status"] == "SUCCEEDED"]
        self.assertTrue(any(n.startswith("Destroy") for n in names), names)
        mine = lambda: [d for d in os.listdir(self.instances_dir())
                        if d.startswith("%s-rollback-" % APP)]
        self.assertEqual(mine(), [])
        time.sleep(3)  # a restart would have made its folder again
        self.assertEqual(mine(), [])
        self.assertIsNone(self.group("rollback"))

    def test_2_probes_back_off_and_logs_rotate(self):
        eid = self.deploy("sick", ["python3", "probes.py"], capacity=1, health="/health",
                          waitForUpInstancesTimeoutMs=600000)
        g = wait_until(lambda: self.group("sick") and self.group("sick")["instances"] and
                       self.group("sick"), timeout=20, message="the sick instance")
        port = g["instances"][0]["port"]
        wait_until(lambda: get("http://127.0.0.1:%d/count" % port)[0] == 200, timeout=20,
                   message="the probe counter answers")
        time.sleep(4)
        _, before = get("http://127.0.0.1:%d/count" % port)
        time.sleep(6)
        _, after = get("http://127.0.0.1:%d/count" % port)
        probes = int(after) - int(before)
        # at 10 probes a second this would be 60; the interval grows with the
        # instance's age (a tenth of it, 100 ms to 1 s) and then backs off
        self.assertGreaterEqual(probes, 3)
        self.assertLessEqual(probes, 20)
        self.srv.request("PUT", "/pipelines/%s/cancel" % eid)

        eid = self.deploy("chatty", ["python3", "chatty.py"], capacity=1)
        e = wait_execution(self.srv, eid, timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", error_of(e))
        inst = self.group("chatty")["instances"][0]["instanceId"]
        log = os.path.join(self.instances_dir(), inst, "console.log")
        wait_until(lambda: os.path.exists(log + ".1"), timeout=20, message="a rotated log")
        self.assertLessEqual(os.path.getsize(log), 10 * 1024 * 1024 + (1 << 20))
        self.assertGreater(os.path.getsize(log + ".1"), 10 * 1024 * 1024)


# Never healthy: /health fails, /count says how often it was probed.
PROBES_PY = r'''
import http.server, os
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            n[0] += 1
            code, body = 500, b"no"
        else:
            code, body = 200, str(n[0]).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
'''

# Writes 12 MB to its console, then idles.
CHATTY_PY = r'''
import sys, time
line = "x" * 1023 + "\n"
for _ in range(12 * 1024):
    sys.stdout.write(line)
sys.stdout.flush()
while True:
    time.sleep(60)
'''


if __name__ == "__main__":
    unittest.main()
