"""The baseline of a polled git trigger (issue 9): it is the branch head when
the pipeline is saved, so a commit pushed 0.1 s after the save starts the
pipeline exactly once, against a real git repository. (It used to be taken
by the first poll, which then saw that commit as the baseline and started
nothing.)
"""
import time
import unittest

from mizzen_harness import Server, wait_until
from mizzen_flow import create_app
from trigger_helpers import GitRepo

POLL_MS = 2000


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


if __name__ == "__main__":
    unittest.main()
