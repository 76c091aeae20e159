"""Rolling a cluster back on the local cloud, with real instances:
the rollbackCluster stage (per region, the newest enabled server group back
to the one before it, a region without a candidate skipped, the restore
group sized up to the rolled-back one and its min given back afterwards),
and a red/black deploy that fails rolling itself back through
rollbackCluster (rollback.onFailure)."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, stage, wait_execution  # noqa: E402
from cloud_util import close_cloud_server, cluster_spec, deploy_pipeline, run_task  # noqa: E402

APP = "rbapp"
CLUSTER = APP + "-web"


class RollbackCluster(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.conf_dir = tempfile.mkdtemp(prefix="mizzen-rollback-")
        conf = os.path.join(cls.conf_dir, "config.json")
        with open(conf, "w") as f:
            json.dump({"providers": {"local": {"accounts": [
                {"name": "local", "regions": ["local", "local-b"]}]}}}, f)
        cls.srv = Server(extra_args=["--config", conf], keep_data=True).start()
        try:
            create_app(cls.srv, APP)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        close_cloud_server(cls.srv, cls.conf_dir)

    def groups(self, region="local"):
        """The cluster's server groups in region, oldest first."""
        s, body = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        self.assertEqual(s, 200, body)
        mine = [g for g in body if g["cluster"] == CLUSTER and g["region"] == region]
        return sorted(mine, key=lambda g: g["createdTime"])

    def deploy(self, name, spec, timeout=90):
        save_pipeline(self.srv, deploy_pipeline(APP, name, spec))
        return wait_execution(self.srv, run_pipeline(self.srv, APP, name), timeout=timeout)

    def test_1_rollback_cluster(self):
        # local: v1 (one instance), then v2 red/black with two: v1 disabled
        e = self.deploy("v1", cluster_spec(APP, "v1", "none", capacity=1))
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.deploy("v2", cluster_spec(APP, "v2", "redblack", capacity=2,
                                           maxRemainingAsgs=3))
        self.assertEqual(e["status"], "SUCCEEDED", e)
        v1, v2 = self.groups()
        self.assertTrue(v1["isDisabled"])
        self.assertFalse(v2["isDisabled"])
        # local-b: a single server group, nothing to roll back to
        e = self.deploy("b1", cluster_spec(APP, "b1", "none", capacity=1, region="local-b"))
        self.assertEqual(e["status"], "SUCCEEDED", e)

        save_pipeline(self.srv, {"application": APP, "name": "rollback", "stages": [{
            "refId": "1", "type": "rollbackCluster", "name": "Rollback the web cluster",
            "cloudProvider": "local", "credentials": "local", "cluster": CLUSTER,
            "moniker": {"app": APP, "cluster": CLUSTER, "stack": "web"},
            "regions": ["local", "local-b"], "waitTimeBetweenRegions": 1}]})
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, "rollback"), timeout=90)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        top = stage(e, "Rollback the web cluster")
        self.assertEqual(top["outputs"]["rollbackTypes"], {"local": "EXPLICIT"})
        self.assertEqual(top["outputs"]["rollbackContexts"], {"local": {
            "rollbackServerGroupName": v2["name"], "restoreServerGroupName": v1["name"],
            "targetHealthyRollbackPercentage": 100}})
        self.assertEqual([i["region"] for i in top["context"]["imagesToRestore"]], ["local"])
        names = [s["name"] for s in e["stages"]]
        self.assertIn("Rollback local", names)
        self.assertNotIn("Rollback local-b", names)
        self.assertNotIn("Wait after local", names, "no wait after the last region")
        self.assertEqual(stage(e, "Rollback local")["type"], "rollbackServerGroup")
        # v1 took v2's size while both served, then got its min back
        for n in ("Enable %s due to rollback" % v1["name"],
                  "Resize Server Group: %s to (min: 2, max: 2, desired: 2)" % v1["name"],
                  "Disable %s due to rollback" % v2["name"],
                  "Restore Min Capacity From Snapshot due to rollback"):
            self.assertEqual(stage(e, n)["status"], "SUCCEEDED", n)
        v1, v2 = self.groups()
        self.assertFalse(v1["isDisabled"])
        self.assertTrue(v2["isDisabled"])
        self.assertEqual(v1["capacity"], {"min": 2, "max": 2, "desired": 2})
        self.assertEqual(v1["instanceCounts"]["up"], 2)
        (b1,) = self.groups("local-b")
        self.assertFalse(b1["isDisabled"])

        # a cluster with nothing enabled has no candidate: nothing happens
        t = run_task(self.srv, APP, [{"type": "disableServerGroup", "cloudProvider": "local",
                                      "credentials": "local", "region": "local-b",
                                      "serverGroupName": b1["name"]}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        t = run_task(self.srv, APP, [{"type": "rollbackCluster", "cloudProvider": "local",
                                      "credentials": "local", "cluster": CLUSTER,
                                      "regions": ["local-b"]}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        self.assertTrue(self.groups("local-b")[0]["isDisabled"])
        # a region that is not configured fails the stage
        t = run_task(self.srv, APP, [{"type": "rollbackCluster", "cloudProvider": "local",
                                      "credentials": "local", "cluster": CLUSTER,
                                      "regions": ["nowhere"]}])
        self.assertEqual(t["status"], "TERMINAL", t)

    def test_2_failed_red_black_deploy_rolls_back(self):
        before = [g["name"] for g in self.groups() if not g["isDisabled"]]
        self.assertEqual(len(before), 1, before)
        bad = cluster_spec(APP, "v3", "redblack", capacity=1, maxRemainingAsgs=5,
                           waitForUpInstancesTimeoutMs=4000,
                           rollback={"onFailure": True})
        bad["env"]["HEALTHY"] = "0"
        e = self.deploy("v3", bad)
        self.assertEqual(e["status"], "TERMINAL", e)
        rb = stage(e, "Rollback " + CLUSTER)
        self.assertEqual(rb["type"], "rollbackCluster")
        self.assertEqual(rb["status"], "SUCCEEDED", rb)
        self.assertEqual(rb["context"]["additionalRollbackContext"], {"disableOnly": True})
        v3 = self.groups()[-1]
        self.assertEqual(stage(e, "Disable %s due to rollback" % v3["name"])["status"],
                         "SUCCEEDED")
        self.assertTrue(v3["isDisabled"])
        # the group that served before still serves, alone
        self.assertEqual([g["name"] for g in self.groups() if not g["isDisabled"]], before)


if __name__ == "__main__":
    unittest.main()
