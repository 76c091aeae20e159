"""Stages and preconditions that real pipelines use, over the local cloud:
the clusterSize precondition."""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution  # noqa: E402
from cloud_util import run_task, cluster_spec, kill_cloud  # noqa: E402

APP = "sizeapp"


class CloudStages(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(keep_data=True).start()
        create_app(cls.srv, APP)
        spec = dict(cluster_spec(APP, "v1", "none", capacity=1), type="createServerGroup")
        t = run_task(cls.srv, APP, [spec], timeout=90)
        assert t["status"] == "SUCCEEDED", t

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        kill_cloud(cls.srv.data_dir)
        cls.srv.keep_data = False
        try:
            cls.srv.close()
        finally:
            shutil.rmtree(cls.srv.data_dir, ignore_errors=True)

    def check(self, name, **pre):
        precondition = {"type": "clusterSize", "failPipeline": True, "context": dict(
            {"cluster": APP + "-web", "credentials": "local", "regions": ["local"]}, **pre)}
        save_pipeline(self.srv, {"application": APP, "name": name, "stages": [
            {"refId": "1", "type": "checkPreconditions", "name": "Check",
             "preconditions": [precondition]}]})
        return wait_execution(self.srv, run_pipeline(self.srv, APP, name), timeout=30)

    def test_cluster_size(self):
        e = self.check("one", expected=1)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("atleast", expected=1, comparison=">=")
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("two", expected=2)
        self.assertEqual(e["status"], "TERMINAL", e)
        self.assertIn("expected == 2 server groups in local but found 1", str(e))
        e = self.check("other-cluster", expected=0, cluster=APP + "-nope")
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("bad-op", expected=1, comparison="~")
        self.assertEqual(e["status"], "TERMINAL", e)
        self.assertIn("unknown comparison", str(e))
        # only enabled ones: after the group is disabled, none
        s, groups = self.srv.request("GET", "/applications/%s/serverGroups" % APP)
        t = run_task(self.srv, APP, [{"type": "disableServerGroup", "cloudProvider": "local",
                                      "credentials": "local", "region": "local",
                                      "serverGroupName": groups[0]["name"]}])
        self.assertEqual(t["status"], "SUCCEEDED", t)
        e = self.check("enabled", expected=0, onlyEnabledServerGroups=True)
        self.assertEqual(e["status"], "SUCCEEDED", e)
        e = self.check("any", expected=1)
        self.assertEqual(e["status"], "SUCCEEDED", e)


if __name__ == "__main__":
    unittest.main()
