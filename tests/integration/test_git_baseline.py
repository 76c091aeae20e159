"""The baseline of a polled git trigger (issue 9): it is the branch head when
the pipeline is saved, so a commit pushed 0.1 s after the save starts the
pipeline exactly once, against a real git repository. (It used to be taken
by the first poll, which then saw that commit as the baseline and started
nothing.) A pipeline saved from a pipelineRepos repository is saved when
the sync applies its commit: its trigger's baseline is taken then too.
"""
import json
import os
import time
import unittest

from config_util import config_file
from mizzen_harness import Server, wait_until
from mizzen_flow import create_app
from trigger_helpers import GitRepo, log_has

POLL_MS = 2000
REPO_POLL_MS = 1000   # the pipelineRepos sync and the poller


def executions(srv, app):
    status, body = srv.request("GET", "/applications/%s/pipelines" % app)
    assert status == 200, (status, body)
    return body


class GitBaseline(unittest.TestCase):

    def test_commit_right_after_save_starts_once(self):
        with Server(env={"MZ_POLL_INTERVAL_MS": str(POLL_MS)}) as srv:
            for round_ in range(3):
                app = "gitbase%d" % round_
                create_app(srv, app)
                repo = GitRepo()
                try:
                    status, body = srv.request("POST", "/pipelines", {
                        "application": app, "name": "on-commit",
                        "triggers": [{"type": "git", "source": "git", "url": repo.path,
                                      "branch": "main", "enabled": True}],
                        "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]})
                    self.assertEqual(status, 200, body)
                    time.sleep(0.1)
                    head = repo.commit("pushed right after the save")
                    execs = wait_until(lambda: executions(srv, app), timeout=POLL_MS / 1000 * 4,
                                       interval=0.1, message="the commit's execution")
                    # Two more polls see the same head: still one.
                    time.sleep(POLL_MS * 2.2 / 1000)
                    execs = executions(srv, app)
                    self.assertEqual(len(execs), 1, [e["trigger"] for e in execs])
                    self.assertEqual(execs[0]["trigger"]["hash"], head)
                    self.assertEqual(execs[0]["trigger"]["type"], "git")
                finally:
                    repo.close()


class GitBaselineFromPipelineRepos(unittest.TestCase):

    def test_commit_right_after_the_sync_starts_once(self):
        configs, watched = GitRepo(), GitRepo()
        self.addCleanup(configs.close)
        self.addCleanup(watched.close)
        cfg = config_file({"pipelineRepos": [
            {"url": configs.path, "branch": "main", "path": "pipelines"}]})
        self.addCleanup(os.unlink, cfg)
        srv = Server(extra_args=("--config", cfg),
                     env={"MZ_POLL_INTERVAL_MS": str(REPO_POLL_MS)})
        self.addCleanup(srv.close)
        srv.start()
        create_app(srv, "gitrepobase")
        os.makedirs(os.path.join(configs.path, "pipelines"))
        with open(os.path.join(configs.path, "pipelines", "on-commit.json"), "w") as f:
            json.dump({"application": "gitrepobase", "name": "on-commit",
                       "triggers": [{"type": "git", "source": "git", "url": watched.path,
                                     "branch": "main", "enabled": True}],
                       "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]}, f)
        configs._git("add", "-A")
        configs._git("commit", "-q", "-m", "a pipeline watching the other repository")
        # the sync saves it (a push webhook makes it sync at once) and takes
        # the watched branch's head as the baseline right after
        s, body = srv.request("POST", "/webhooks/git/github", {
            "repository": {"name": "pipelines", "owner": {"name": "team"}},
            "ref": "refs/heads/main", "after": "x"})
        self.assertEqual(s, 200, body)
        wait_until(lambda: log_has(srv, "baseline %s taken" % watched._git("rev-parse", "HEAD")),
                   timeout=REPO_POLL_MS / 1000 * 4, interval=0.05,
                   message="the baseline taken when the sync saved the pipeline")
        time.sleep(0.1)
        head = watched.commit("pushed right after the sync")
        execs = wait_until(lambda: executions(srv, "gitrepobase"), timeout=REPO_POLL_MS / 1000 * 4,
                           interval=0.1, message="the commit's execution")
        time.sleep(REPO_POLL_MS * 2.2 / 1000)
        execs = executions(srv, "gitrepobase")
        self.assertEqual(len(execs), 1, [e["trigger"] for e in execs])
        self.assertEqual(execs[0]["trigger"]["hash"], head)


if __name__ == "__main__":
    unittest.main()
