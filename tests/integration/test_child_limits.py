"""The server raises its own open-files limit (RLIMIT_NOFILE) to the hard
limit to hold many connections; what it starts (a runJob, a bake command,
a deployed instance) gets the soft limit the server was started with back,
as it would from a shell, not the server's raised one (issue 9).
"""
import os
import resource
import shutil
import tempfile
import unittest

from cloud_util import close_cloud_server
from config_util import config_file
from mizzen_harness import EXAMPLES, Server, wait_until
from mizzen_flow import create_app, run_pipeline, save_pipeline, stage, wait_execution

APP = "limits"
SOFT = 1000  # what the server is started with, below the hard limit


def soft_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise AssertionError("no open-files line in /proc/%d/limits" % pid)


class ChildLimits(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard <= SOFT:
            raise unittest.SkipTest("the hard open-files limit (%d) is not above %d"
                                    % (hard, SOFT))
        cls.hard = hard
        cls.tmp = tempfile.mkdtemp(prefix="mizzen-limits-")
        for d in ("pkg", "app"):
            os.makedirs(os.path.join(cls.tmp, d))
            with open(os.path.join(cls.tmp, d, "README"), "w") as f:
                f.write(d + "\n")
        cls.cfg = config_file({"bakery": {"packageRoots": [cls.tmp]}})
        cls.srv = Server(extra_args=("--config", cls.cfg), keep_data=True,
                         image_roots=(EXAMPLES, cls.tmp))
        # the server inherits this process's limits: start it with a low
        # soft limit, then give this process its own back
        resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, hard))
        try:
            cls.srv.start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        create_app(cls.srv, APP)

    @classmethod
    def tearDownClass(cls):
        try:
            close_cloud_server(cls.srv, cls.tmp)
        finally:
            os.unlink(cls.cfg)

    def run_ok(self, p):
        save_pipeline(self.srv, dict(p, application=APP))
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, p["name"]), timeout=60)
        self.assertEqual(e["status"], "SUCCEEDED", [
            (s["name"], s["status"], s["context"].get("exception")) for s in e["stages"]])
        return e

    def test_0_the_server_raised_its_own(self):
        want = self.hard if self.hard != resource.RLIM_INFINITY else 1 << 20
        self.assertEqual(soft_limit(self.srv.proc.pid), want)

    def test_runjob(self):
        e = self.run_ok({"name": "job", "stages": [{
            "refId": "1", "type": "runJob", "name": "Job", "cloudProvider": "local",
            "account": "local", "command": ["sh", "-c", "echo nofile=$(ulimit -n)"]}]})
        job = stage(e, "Job")["context"]["jobId"]
        status, log = self.srv.request("GET", "/applications/%s/jobs/local/local/%s/logs"
                                       % (APP, job))
        self.assertEqual(status, 200, log)
        self.assertIn("nofile=%d" % SOFT, str(log))

    def test_bake_command(self):
        e = self.run_ok({"name": "bake", "stages": [{
            "refId": "1", "type": "bake", "name": "Bake", "cloudProviderType": "local",
            "package": os.path.join(self.tmp, "pkg"), "regions": ["local"],
            "command": ["sh", "-c", "ulimit -n > nofile.txt"]}]})
        image = stage(e, "Bake")["outputs"]["deploymentDetails"][0]["imageId"]
        with open(os.path.join(self.srv.data_dir, "cloud", "images", image, "root",
                               "nofile.txt")) as f:
            self.assertEqual(f.read().strip(), str(SOFT))

    def test_instance(self):
        self.run_ok({"name": "deploy", "stages": [{
            "refId": "1", "type": "deploy", "name": "Deploy", "clusters": [{
                "application": APP, "stack": "web", "freeFormDetails": "",
                "account": "local", "cloudProvider": "local", "region": "local",
                "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "",
                "image": os.path.join(self.tmp, "app"),
                "command": ["sh", "-c", "echo nofile=$(ulimit -n); exec sleep 600"]}]}]})
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200, groups)
        inst = groups[0]["instances"][0]["id"]

        def console():
            s, body = self.srv.request("GET", "/instances/local/local/%s/console" % inst)
            return s == 200 and "nofile=" in body.get("output", "") and body["output"]
        out = wait_until(console, timeout=10, message="the instance's console")
        self.assertIn("nofile=%d" % SOFT, out)


if __name__ == "__main__":
    unittest.main()
