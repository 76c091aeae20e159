"""Cloud stages against an account or region that does not exist (issue 9):
every one fails with a clear message, as Orca does, instead of finding an
empty cluster and succeeding having done nothing; a cluster stage on a
cluster that is not there fails unless continueIfClusterNotFound says to go
on.
"""
import unittest

from cloud_util import APP_DIR
from mizzen_harness import ServerTestCase
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution

APP = "acctapp"


def error_of(stage):
    exc = stage["context"].get("exception") or {}
    return (exc.get("details") or {}).get("error", "")


class UnknownAccountOrRegion(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        create_app(cls.server, APP)

    def run_stage(self, name, stage):
        stage = dict(stage, refId="1", name=name)
        save_pipeline(self.server, {"application": APP, "name": name, "stages": [stage]})
        e = wait_execution(self.server, run_pipeline(self.server, APP, name), timeout=30)
        return e, e["stages"][0]

    def test_disable_cluster_on_unknown_account_is_terminal(self):
        e, st = self.run_stage("disable-unknown", {
            "type": "disableCluster", "cloudProvider": "local", "credentials": "nosuch",
            "regions": ["local"], "cluster": APP + "-main",
            "remainingEnabledServerGroups": 1})
        self.assertEqual(e["status"], "TERMINAL")
        self.assertEqual(st["status"], "TERMINAL")
        self.assertIn("unknown account 'nosuch' for cloud provider local", error_of(st))

    def test_every_cloud_stage_checks_account_and_region(self):
        cases = {
            "scaleDownCluster": {"cluster": APP + "-main", "remainingFullSizeServerGroups": 1},
            "shrinkCluster": {"cluster": APP + "-main", "shrinkToSize": 1},
            "disableServerGroup": {"serverGroupName": APP + "-main-v000"},
            "enableServerGroup": {"target": "current_asg_dynamic", "cluster": APP + "-main"},
            "resizeServerGroup": {"serverGroupName": APP + "-main-v000",
                                  "capacity": {"min": 1, "max": 1, "desired": 1}},
            "destroyServerGroup": {"serverGroupName": APP + "-main-v000"},
            "findImageFromCluster": {"cluster": APP + "-main"},
        }
        for i, (stype, extra) in enumerate(sorted(cases.items())):
            for acct, region, msg in (("nosuch", "local",
                                       "unknown account 'nosuch' for cloud provider local"),
                                      ("local", "mars",
                                       "unknown region 'mars' for account 'local'")):
                with self.subTest(stage=stype, account=acct, region=region):
                    e, st = self.run_stage("%s-%d-%s" % (stype.lower(), i, acct), dict(
                        extra, type=stype, cloudProvider="local", credentials=acct,
                        region=region, regions=[region]))
                    self.assertEqual(st["status"], "TERMINAL", (stype, st["context"]))
                    self.assertIn(msg, error_of(st))

    def test_deploy_to_unknown_account(self):
        e, st = self.run_stage("deploy-unknown", {
            "type": "deploy", "clusters": [{
                "application": APP, "stack": "main", "cloudProvider": "local",
                "account": "nosuch", "region": "local", "image": APP_DIR,
                "capacity": {"min": 1, "max": 1, "desired": 1}, "strategy": "highlander",
                "command": ["true"]}]})
        self.assertEqual(e["status"], "TERMINAL")
        failed = [s for s in e["stages"] if s["status"] == "TERMINAL"]
        self.assertTrue(any("unknown account 'nosuch'" in error_of(s) for s in failed),
                        [(s["name"], error_of(s)) for s in failed])

    def test_missing_cluster_fails_unless_continue(self):
        base = {"type": "disableCluster", "cloudProvider": "local", "credentials": "local",
                "regions": ["local"], "cluster": APP + "-nothere",
                "remainingEnabledServerGroups": 1}
        e, st = self.run_stage("missing-cluster", base)
        self.assertEqual(st["status"], "TERMINAL")
        self.assertIn("Cluster %s-nothere not found in account local, region local" % APP,
                      error_of(st))
        e, st = self.run_stage("missing-cluster-ok", dict(base, continueIfClusterNotFound=True))
        self.assertEqual(st["status"], "SUCCEEDED", st["context"])
        self.assertEqual(e["status"], "SUCCEEDED")


if __name__ == "__main__":
    unittest.main()
