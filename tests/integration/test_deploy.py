"""The local cloud end to end, with real processes and a real HAProxy:
a load balancer, a highlander deploy of 3 instances, a red/black deploy
under continuous traffic with no failed request, a rollback, a rolling
red/black in steps, cleanup per maxRemainingAsgs, a deploy that never
becomes healthy, kill -9 of the server during and after a deploy, the
Clouddriver read shapes, and bad cloud input."""
import re
import time
import unittest

from mizzen_harness import Server, free_port, wait_until
from mizzen_flow import create_app, get_execution, run_pipeline, save_pipeline, stage, wait_execution
from cloud_util import (Client, cluster_spec, deploy_pipeline, get, kill_cloud, run_task)

APP = "shop"
LB = "shop-web"
NAME_RE = re.compile(r"^shop-web-v\d{3}$")


class DeployStory(unittest.TestCase):

    def setUp(self):
        self.srv = Server(keep_data=True)
        self.addCleanup(self._cleanup)
        self.srv.start()
        self.lb_port = free_port()

    def _cleanup(self):
        import shutil
        self.srv.stop()
        kill_cloud(self.srv.data_dir)
        self.srv.keep_data = False
        try:
            self.srv.close()
        finally:
            shutil.rmtree(self.srv.data_dir, ignore_errors=True)

    # -- helpers ---------------------------------------------------------

    def groups(self):
        s, body = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200, body)
        return {g["name"]: g for g in body}

    def deploy(self, name, spec, timeout=90, **extra):
        save_pipeline(self.srv, deploy_pipeline(APP, name, spec, **extra))
        eid = run_pipeline(self.srv, APP, name)
        return eid, wait_execution(self.srv, eid, timeout=timeout)

    def served(self, n=12):
        seen = set()
        for _ in range(n):
            s, body = get("http://127.0.0.1:%d/" % self.lb_port)
            self.assertEqual(s, 200)
            seen.add(body.split()[0])
        return seen

    def by_version(self, version):
        for g in self.groups().values():
            s, full = self.srv.request("GET", "/serverGroups/local/local/" + g["name"])
            if full.get("launchConfig", {}).get("env", {}).get("VERSION") == version:
                return full
        self.fail("no server group runs %s" % version)

    def assertSucceeded(self, e):
        if e["status"] != "SUCCEEDED":
            errs = [(s["name"], s["status"], s["context"].get("exception"))
                    for s in e["stages"] if s["status"] not in ("SUCCEEDED", "NOT_STARTED")]
            self.fail("execution %s: %s" % (e["status"], errs))

    # -- the story -------------------------------------------------------

    def test_deploy_story(self):
        srv = self.srv
        create_app(srv, APP)

        # A load balancer first, through an orchestration as Deck does it.
        t = run_task(srv, APP, [{
            "type": "upsertLoadBalancer", "cloudProvider": "local", "credentials": "local",
            "region": "local", "name": LB,
            "listeners": [{"externalPort": self.lb_port, "externalProtocol": "HTTP"}],
            "healthCheck": {"path": "/health"}}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        s, lbs = srv.request("GET", "/applications/%s/loadBalancers" % APP)
        self.assertEqual([lb["name"] for lb in lbs], [LB])

        # v1, highlander, 3 instances.
        t0 = time.monotonic()
        _, e = self.deploy("v1", cluster_spec(APP, "v1", "highlander", LB))
        self.assertSucceeded(e)
        print("deploy v1 (highlander, 3 instances): %.2f s" % (time.monotonic() - t0))
        self.assertEqual(self.served(), {"v1"})
        create = stage(e, "Deploy in local")
        self.assertEqual([t["name"] for t in create["tasks"]],
                         ["determineSourceServerGroup", "determineHealthProviders",
                          "createServerGroup", "monitorDeploy", "waitForUpInstances"])
        self.assertIn("shrinkCluster", [s["type"] for s in e["stages"]])

        # Clouddriver shapes.
        gs = self.groups()
        self.assertEqual(len(gs), 1)
        (v1name, g), = gs.items()
        self.assertRegex(v1name, NAME_RE)
        self.assertEqual(g["capacity"], {"min": 3, "max": 3, "desired": 3})
        self.assertEqual(g["instanceCounts"]["up"], 3)
        self.assertEqual(g["instanceCounts"]["total"], 3)
        self.assertFalse(g["isDisabled"])
        self.assertEqual(g["cluster"], "shop-web")
        self.assertEqual(g["moniker"]["app"], APP)
        self.assertEqual(len(g["instances"]), 3)
        for inst in g["instances"]:
            self.assertEqual(inst["healthState"], "Up")
            self.assertEqual(inst["availabilityZone"], "local")
            self.assertTrue(inst["health"])
        s, cl = srv.request("GET", "/applications/%s/clusters" % APP)
        self.assertEqual(cl, {"local": ["shop-web"]})
        s, cobj = srv.request("GET", "/applications/%s/clusters/local/shop-web" % APP)
        self.assertEqual(s, 200, cobj)
        self.assertEqual(cobj[0]["name"], "shop-web")
        self.assertEqual([x["name"] for x in cobj[0]["serverGroups"]], [v1name])
        s, inst = srv.request("GET", "/instances/local/local/" + g["instances"][0]["id"])
        self.assertEqual(s, 200, inst)
        s, con = srv.request("GET", "/instances/local/local/%s/console" % g["instances"][0]["id"])
        self.assertEqual(s, 200, con)
        self.assertIn("output", con)
        s, _ = srv.request("GET", "/serverGroups/local/local/shop-web-v999")
        self.assertEqual(s, 404)
        s, creds = srv.request("GET", "/credentials")
        self.assertIn("local", [c["name"] for c in creds])

        # v2, red/black, under continuous traffic.
        with Client(self.lb_port) as client:
            t0 = time.monotonic()
            _, e = self.deploy("v2", cluster_spec(APP, "v2", "redblack", LB, maxRemainingAsgs=2))
            print("deploy v2 (red/black): %.2f s" % (time.monotonic() - t0))
            time.sleep(0.3)
        self.assertSucceeded(e)
        self.assertEqual(client.failed, [], "failed requests during red/black")
        # Traffic spanned the switch: v1 answered before it and v2 after it
        # (a request count would only measure how loaded the machine is).
        self.assertGreater(client.ok, 10)
        self.assertEqual(client.versions[0], "v1")
        self.assertEqual(client.versions[-1], "v2")
        self.assertEqual(self.served(), {"v2"})
        types = [s["type"] for s in e["stages"]]
        self.assertIn("disableCluster", types)
        v1 = self.by_version("v1")
        v2 = self.by_version("v2")
        self.assertTrue(v1["disabled"])
        self.assertFalse(v2["disabled"])

        # Rollback to v1 (EXPLICIT), under traffic.
        with Client(self.lb_port) as client:
            t = run_task(srv, APP, [{
                "type": "rollbackServerGroup", "cloudProvider": "local", "credentials": "local",
                "region": "local", "rollbackType": "EXPLICIT",
                "rollbackContext": {"rollbackServerGroupName": v2["name"],
                                    "restoreServerGroupName": v1["name"]}}])
            time.sleep(0.3)
        self.assertEqual(t["status"], "SUCCEEDED", t)
        self.assertEqual(client.failed, [], "failed requests during rollback")
        self.assertEqual(self.served(), {"v1"})
        self.assertTrue(self.by_version("v2")["disabled"])

        # Rolling red/black in steps (33%, 66%, 100%), under traffic.
        with Client(self.lb_port) as client:
            _, e = self.deploy("v3", cluster_spec(APP, "v3", "rollingredblack", LB,
                                                  targetPercentages=[33, 66]))
            time.sleep(0.3)
        self.assertSucceeded(e)
        self.assertEqual(client.failed, [], "failed requests during rolling red/black")
        names = [s["name"] for s in e["stages"]]
        for pct in (33, 66, 100):
            self.assertIn("Grow to %d%% of Desired Size" % pct, names)
            self.assertIn("Disable %d%% of Traffic on %s" % (pct, v1["name"]), names)
        self.assertEqual(self.served(), {"v3"})
        self.assertEqual(self.by_version("v3")["capacity"]["desired"], 3)
        self.assertTrue(self.by_version("v1")["disabled"])

        # v4 red/black with maxRemainingAsgs 2: v1 and v2 (disabled) go.
        _, e = self.deploy("v4", cluster_spec(APP, "v4", "redblack", LB, maxRemainingAsgs=2))
        self.assertSucceeded(e)
        versions = {g["name"] for g in self.groups().values()}
        self.assertEqual(len(versions), 2, versions)
        self.assertNotIn(v1["name"], versions)
        self.assertNotIn(v2["name"], versions)
        self.assertEqual(self.served(), {"v4"})

        # A deploy that never becomes healthy fails and v4 keeps serving.
        bad = cluster_spec(APP, "v5", "redblack", LB, maxRemainingAsgs=2,
                           waitForUpInstancesTimeoutMs=4000)
        bad["env"]["HEALTHY"] = "0"
        with Client(self.lb_port) as client:
            _, e = self.deploy("v5", bad)
        self.assertEqual(e["status"], "TERMINAL")
        create = stage(e, "Deploy in local")
        self.assertIn("did not become healthy",
                      create["context"]["exception"]["details"]["error"])
        self.assertEqual(client.failed, [])
        self.assertEqual(self.served(), {"v4"})
        self.assertFalse(self.by_version("v4")["disabled"])

        # kill -9 the server during a deploy: traffic keeps flowing, the
        # instances are re-adopted (same pids) and the deploy finishes.
        v4 = self.by_version("v4")
        v4_pids = sorted(i["pid"] for i in v4["instances"])
        slow = cluster_spec(APP, "v6", "redblack", LB, maxRemainingAsgs=2)
        slow["env"]["START_DELAY"] = "2"
        save_pipeline(srv, deploy_pipeline(APP, "v6", slow))
        with Client(self.lb_port) as client:
            eid = run_pipeline(srv, APP, "v6")
            wait_until(lambda: any(g["moniker"].get("sequence") is not None and
                                   "v6" in str(self._env_of(g["name"]))
                                   for g in self.groups().values()),
                       timeout=30, message="v6 server group to appear")
            srv.kill9()
            time.sleep(1.0)
            ok_before = client.ok
            time.sleep(1.0)
            self.assertGreater(client.ok, ok_before, "HAProxy serves while mizzen is down")
            srv.start()
            e = wait_execution(srv, eid, timeout=90)
            # kill -9 after the deploy too
            srv.kill9()
            time.sleep(0.5)
            srv.start()
            time.sleep(0.3)
        self.assertSucceeded(e)
        self.assertEqual(client.failed, [])
        self.assertEqual(self.served(), {"v6"})
        after = self.by_version("v4")
        self.assertEqual(sorted(i["pid"] for i in after["instances"]), v4_pids)
        self.assertTrue(after["disabled"])

    def _env_of(self, name):
        s, full = self.srv.request("GET", "/serverGroups/local/local/" + name)
        return full.get("launchConfig", {}).get("env", {}) if s == 200 else {}

    def test_bad_cloud_input(self):
        srv = self.srv
        create_app(srv, APP)

        def fails(job, words):
            t = run_task(srv, APP, [job])
            self.assertEqual(t["status"], "TERMINAL", t)
            text = str(t)
            for w in words:
                self.assertIn(w, text)
            return t

        base = dict(cluster_spec(APP, "v1", "none"), type="createServerGroup")
        fails(dict(base, account="nope"), ["nope"])
        fails(dict(base, region="mars"), ["mars"])
        fails(dict(base, capacity={"min": 3, "max": 1, "desired": 2}), ["capacity"])
        fails(dict(base, stack="bad_stack!"), ["bad_stack!"])
        self.assertEqual(self.groups(), {})

        # A listener port already in use.
        t = run_task(srv, APP, [{"type": "upsertLoadBalancer", "credentials": "local",
                                 "region": "local", "name": "shop-a",
                                 "listeners": [{"externalPort": self.lb_port}]}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        fails({"type": "upsertLoadBalancer", "credentials": "local", "region": "local",
               "name": "shop-b", "listeners": [{"externalPort": self.lb_port}]},
              [str(self.lb_port)])
        s, lbs = srv.request("GET", "/applications/%s/loadBalancers" % APP)
        self.assertEqual([lb["name"] for lb in lbs], ["shop-a"])
        # A target that does not exist.
        fails({"type": "disableServerGroup", "credentials": "local", "region": "local",
               "cluster": "shop-web", "target": "ancestor_asg_dynamic"},
              ["no server group found for target"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
