"""The seed flow end to end, through the real path: a commit lands in a git
repository -> the git poller notices -> the pipeline starts -> runJob builds
-> bake in two regions in parallel -> deploy red/black behind the staging
load balancer -> manual judgment -> promote to prod; the pipeline completes
when the new server group is up, and notifications are sent. The pipeline is
the one in examples/seed-flow/."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from mizzen_harness import Server, free_port, wait_until
from mizzen_flow import create_app, get_execution, stage, wait_execution, wait_stage
from cloud_util import kill_cloud, run_task
from trigger_helpers import Receiver, log_has

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "seed-flow")


def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    return subprocess.run(["git", "-C", repo] + list(args), check=True, env=env,
                          capture_output=True, text=True).stdout.strip()


def fetch(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as resp:
        return resp.read().decode()


def tasks_of(s):
    return [t["name"] for t in s["tasks"]]


class SeedFlow(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mizzen-seed-")
        self.repo = os.path.join(self.tmp, "repo")
        os.mkdir(self.repo)
        git(self.repo, "init", "-q", "-b", "main")
        for f in ("server.py", "build.sh"):
            shutil.copy(os.path.join(EXAMPLE, "app", f), self.repo)
        with open(os.path.join(self.repo, "version.txt"), "w") as f:
            f.write("1.0\n")
        git(self.repo, "add", ".")
        git(self.repo, "commit", "-q", "-m", "first")
        config = os.path.join(self.tmp, "config.json")
        with open(config, "w") as f:
            json.dump({"providers": {"local": {"accounts": [
                {"name": "local", "regions": ["east", "west"]}]}}}, f)
        self.receiver = Receiver()
        self.server = Server(extra_args=("--config", config),
                             env={"MZ_POLL_INTERVAL_MS": "300"}).start()

    def tearDown(self):
        data = self.server.data_dir
        self.server.stop()
        kill_cloud(data)
        self.server.close()
        self.receiver.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_commit_to_promotion(self):
        srv = self.server
        create_app(srv, "seed")
        staging, prod = free_port(), free_port()
        for name, region, port in (("seed-staging", "east", staging), ("seed-prod", "west", prod)):
            t = run_task(srv, "seed", [{"type": "upsertLoadBalancer", "cloudProvider": "local",
                                        "credentials": "local", "region": region, "name": name,
                                        "listeners": [{"externalPort": port,
                                                       "externalProtocol": "HTTP"}],
                                        "healthCheck": {"path": "/health"}}])
            self.assertEqual(t["status"], "SUCCEEDED", t)
        with open(os.path.join(EXAMPLE, "pipeline.json")) as f:
            text = f.read().replace("REPO_PATH", self.repo).replace(
                "NOTIFY_URL", self.receiver.url + "/notify")
        status, body = srv.request("POST", "/pipelines", json.loads(text))
        self.assertEqual(status, 200, body)
        wait_until(lambda: log_has(srv, ": baseline ") or log_has(srv, "first seen"), timeout=20,
                   message="the git trigger's baseline taken when the pipeline was saved")
        status, listed = srv.request("GET", "/applications/seed/pipelines")
        self.assertEqual(listed, [], "the first look at a repository starts nothing")

        with open(os.path.join(self.repo, "version.txt"), "w") as f:
            f.write("1.1\n")
        git(self.repo, "commit", "-q", "-am", "version 1.1")
        commit = git(self.repo, "rev-parse", "HEAD")

        def started():
            _, execs = srv.request("GET", "/applications/seed/pipelines")
            return [e for e in execs if e["trigger"].get("hash") == commit]
        execs = wait_until(started, timeout=30, message="the commit to start the pipeline")
        self.assertEqual(len(execs), 1)
        exec_id = execs[0]["id"]
        e = get_execution(srv, exec_id)
        self.assertEqual(e["trigger"]["type"], "git")
        self.assertEqual(e["trigger"]["branch"], "main")

        e = wait_stage(srv, exec_id, "Manual Judgment", "RUNNING", timeout=180)
        self.assertEqual(fetch(staging).strip(), "site 1.1 %s" % commit)
        status, _ = srv.request("PATCH", "/pipelines/%s/stages/%s"
                                % (exec_id, stage(e, "Manual Judgment")["id"]),
                                {"judgmentStatus": "continue"})
        self.assertEqual(status, 200)
        e = wait_execution(srv, exec_id, timeout=180)
        self.assertEqual(e["status"], "SUCCEEDED", json.dumps(e)[:3000])
        self.assertEqual(fetch(prod).strip(), "site 1.1 %s" % commit)

        # The stages and tasks a Spinnaker user expects.
        build = stage(e, "Build")
        self.assertEqual(build["type"], "runJob")
        self.assertEqual(build["outputs"].get("VERSION"), "1.1")
        east, west = stage(e, "Bake in east"), stage(e, "Bake in west")
        for b in (east, west):
            self.assertEqual(b["syntheticStageOwner"], "STAGE_BEFORE")
            self.assertEqual(tasks_of(b)[:2], ["createBake", "monitorBake"])
        self.assertLess(east["startTime"], west["endTime"], "the bakes run side by side")
        self.assertLess(west["startTime"], east["endTime"], "the bakes run side by side")
        details = stage(e, "Bake")["outputs"]["deploymentDetails"]
        self.assertEqual(sorted(d["region"] for d in details), ["east", "west"])
        deploy = stage(e, "Deploy in east")
        self.assertEqual(deploy["type"], "createServerGroup")
        for t in ("createServerGroup", "monitorDeploy", "waitForUpInstances"):
            self.assertIn(t, tasks_of(deploy))
        self.assertEqual(deploy["context"]["deploy.server.groups"], {"east": ["seed-staging-v000"]})
        self.assertEqual(stage(e, "Deploy in west")["context"]["deploy.server.groups"],
                         {"west": ["seed-prod-v000"]})
        _, sgs = srv.request("GET", "/applications/seed/serverGroups")
        up = {sg["name"]: sg["instanceCounts"]["up"] for sg in sgs}
        self.assertEqual(up, {"seed-staging-v000": 2, "seed-prod-v000": 2})
        _, app = srv.request("GET", "/applications/seed")
        clusters = {c["name"]: c for c in app["clusters"]["local"]}
        self.assertEqual(clusters["seed-prod"]["serverGroups"], ["seed-prod-v000"])
        self.assertEqual(clusters["seed-prod"]["loadBalancers"], ["seed-prod"])
        self.assertEqual(clusters["seed-staging"]["provider"], "local")

        # Notifications: the pipeline started and completed.
        def notified():
            texts = [json.dumps(p) for p in self.receiver.posts("/notify")]
            return [t for t in texts if exec_id in t]
        sent = wait_until(lambda: len(notified()) >= 2 and notified(), timeout=20,
                          message="starting and complete notifications")
        self.assertTrue(any("complete" in t for t in sent), sent)

        # Exactly once: no second execution for the same commit.
        time.sleep(1)
        self.assertEqual(len(started()), 1)


if __name__ == "__main__":
    unittest.main()
