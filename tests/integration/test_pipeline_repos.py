"""Pipelines from git (DESIGN.md "pipelines from git") against a real git
repository: every *.json under the path is a config, created, updated (one
history version per commit, recording it) and deleted per commit; configs
are locked (API saves and deletes: 409); a push webhook syncs at once; an
invalid file is reported (log and GET /pipelineRepos) and leaves the
previous version."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server, wait_until  # noqa: E402
from mizzen_flow import create_app, run_pipeline, wait_execution  # noqa: E402
from trigger_helpers import GitRepo, log_has  # noqa: E402

APP = "gitops"


def config(name, wait=0, **extra):
    cfg = {"application": APP, "name": name, "stages": [
        {"refId": "1", "type": "wait", "name": "Wait", "waitTime": wait}]}
    cfg.update(extra)
    return cfg


class PipelineRepos(unittest.TestCase):

    def setUp(self):
        self.repo = GitRepo()
        self.addCleanup(self.repo.close)
        self.conf_dir = tempfile.mkdtemp(prefix="mizzen-repos-")
        conf = os.path.join(self.conf_dir, "config.json")
        with open(conf, "w") as f:
            # a long interval: only the first look and the webhooks sync
            json.dump({"pollers": {"intervalSeconds": 3600}, "pipelineRepos": [
                {"url": self.repo.path, "branch": "main", "path": "pipelines"}]}, f)
        self.srv = Server(extra_args=["--config", conf])
        self.addCleanup(self.srv.close)
        self.srv.start()
        create_app(self.srv, APP)

    def write(self, rel, doc):
        path = os.path.join(self.repo.path, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
        self.repo._git("add", "-A")

    def commit(self, msg):
        self.repo._git("commit", "-q", "-m", msg)
        return self.repo._git("rev-parse", "HEAD")

    def push(self):
        s, body = self.srv.request("POST", "/webhooks/git/github", {
            "repository": {"name": "pipelines", "owner": {"name": "team"}},
            "ref": "refs/heads/main", "after": "x"})
        self.assertEqual(s, 200, body)

    def status(self):
        s, body = self.srv.request("GET", "/pipelineRepos")
        self.assertEqual(s, 200, body)
        return body[0]

    def synced(self, commit):
        wait_until(lambda: self.status()["commit"] == commit, timeout=20,
                   message="sync to %s" % commit[:12])
        return self.status()

    def cfg(self, name):
        s, body = self.srv.request("GET", "/applications/%s/pipelineConfigs/%s" % (APP, name))
        return body if s == 200 else None

    def history(self, cid):
        s, body = self.srv.request("GET", "/pipelineConfigs/%s/history?limit=100" % cid)
        self.assertEqual(s, 200, body)
        return body

    def test_configs_follow_the_repository(self):
        # commit 1: two pipelines (and a file that is not JSON config: ignored)
        self.write("pipelines/deploy.json", config("deploy"))
        self.write("pipelines/team/smoke.json", config("smoke"))
        self.write("README.md", "not a pipeline")
        c1 = self.commit("two pipelines")
        self.push()
        st = self.synced(c1)
        self.assertEqual(st["configs"], 2)
        self.assertEqual(st["invalidFiles"], [])
        deploy = self.cfg("deploy")
        self.assertEqual(deploy["managedBy"]["commit"], c1)
        self.assertEqual(deploy["managedBy"]["file"], "pipelines/deploy.json")
        self.assertFalse(deploy["locked"]["allowUnlockUi"])
        self.assertTrue(deploy["locked"]["ui"])
        self.assertEqual(len(self.history(deploy["id"])), 1)

        # it runs like any other
        e = wait_execution(self.srv, run_pipeline(self.srv, APP, "deploy"))
        self.assertEqual(e["status"], "SUCCEEDED", e)

        # locked: the API may not save or delete it; nor take over its name
        s, body = self.srv.request("POST", "/pipelines", dict(deploy, description="edited"))
        self.assertEqual(s, 409, body)
        self.assertIn("git", body["message"])
        # the same file saved again by name, without the id: still git's
        s, body = self.srv.request("POST", "/pipelines", config("deploy"))
        self.assertEqual(s, 409, body)
        self.assertIn("managed in git", body["message"])
        s, body = self.srv.request("DELETE", "/pipelines/%s/deploy" % APP)
        self.assertEqual(s, 409, body)
        self.assertIsNotNone(self.cfg("deploy"))

        # commits 2 and 3 arrive together: each is one history version
        self.write("pipelines/deploy.json", config("deploy", wait=1))
        c2 = self.commit("longer wait")
        self.write("pipelines/deploy.json", config("deploy", wait=2))
        c3 = self.commit("longer still")
        self.push()
        self.synced(c3)
        hist = self.history(deploy["id"])
        self.assertEqual([h["managedBy"]["commit"] for h in hist], [c3, c2, c1])
        self.assertEqual(self.cfg("deploy")["stages"][0]["waitTime"], 2)
        # the smoke config did not change: still one version
        self.assertEqual(len(self.history(self.cfg("smoke")["id"])), 1)

        # an invalid file: reported, the previous version stays
        self.write("pipelines/deploy.json", '{"application": "gitops", "name": "deploy", '
                   '"stages": [{"refId": "1", "type": "wait"}, {"refId": "1", "type": "wait"}]}')
        self.write("pipelines/broken.json", "{not json")
        c4 = self.commit("oops")
        self.push()
        st = self.synced(c4)
        bad = {f["file"]: f for f in st["invalidFiles"]}
        self.assertEqual(set(bad), {"pipelines/deploy.json", "pipelines/broken.json"})
        self.assertIn("refId '1' is used by more than one stage",
                      bad["pipelines/deploy.json"]["message"])
        self.assertEqual(bad["pipelines/deploy.json"]["commit"], c4)
        self.assertIn("not JSON", bad["pipelines/broken.json"]["message"])
        self.assertEqual(self.cfg("deploy")["stages"][0]["waitTime"], 2)
        self.assertEqual(len(self.history(deploy["id"])), 3)
        self.assertTrue(log_has(self.srv, "pipelines/broken.json"))

        # fixed, and a file removed: the config goes
        self.write("pipelines/deploy.json", config("deploy", wait=3))
        os.unlink(os.path.join(self.repo.path, "pipelines/broken.json"))
        os.unlink(os.path.join(self.repo.path, "pipelines/team/smoke.json"))
        self.repo._git("add", "-A")
        c5 = self.commit("fix, drop smoke")
        self.push()
        st = self.synced(c5)
        self.assertEqual(st["invalidFiles"], [])
        self.assertEqual(st["configs"], 1)
        self.assertIsNone(self.cfg("smoke"))
        self.assertEqual(self.cfg("deploy")["stages"][0]["waitTime"], 3)
        self.assertEqual(len(self.history(deploy["id"])), 4)

        # a restart neither replays nor duplicates anything
        self.srv.restart()
        self.synced(c5)
        self.assertEqual(len(self.history(deploy["id"])), 4)

    def test_name_taken_by_an_api_config(self):
        s, body = self.srv.request("POST", "/pipelines", config("mine"))
        self.assertEqual(s, 200, body)
        self.write("pipelines/mine.json", config("mine", wait=5))
        c1 = self.commit("collide")
        self.push()
        st = self.synced(c1)
        self.assertIn("not managed by this repository", st["invalidFiles"][0]["message"])
        self.assertNotIn("managedBy", self.cfg("mine"))
        s, body = self.srv.request("POST", "/pipelines", dict(self.cfg("mine"), description="x"))
        self.assertEqual(s, 200, body)


class StaleMirrors(unittest.TestCase):
    """A repository removed from pipelineRepos: its mirror in
    DATA/pipeline-repos goes when the server next starts; the mirror of one
    still configured, and files that are no mirror, stay."""

    def conf(self, repos):
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump({"pollers": {"intervalSeconds": 3600}, "pipelineRepos": [
                {"url": r.path, "branch": "main", "path": "pipelines"} for r in repos]}, f)
        self.addCleanup(os.unlink, path)
        return path

    def test_mirrors_of_removed_repositories_go(self):
        kept, dropped = GitRepo(), GitRepo()
        self.addCleanup(kept.close)
        self.addCleanup(dropped.close)
        first = Server(extra_args=["--config", self.conf([kept, dropped])], keep_data=True)
        self.addCleanup(lambda: __import__("shutil").rmtree(first.data_dir, ignore_errors=True))
        first.start()
        try:
            def synced():
                s, body = first.request("GET", "/pipelineRepos")
                return s == 200 and len(body) == 2 and all(r.get("lastSync") for r in body)
            wait_until(synced, timeout=30, message="both repositories synced")
        finally:
            first.close()
        mirrors = os.path.join(first.data_dir, "pipeline-repos")
        before = sorted(os.listdir(mirrors))
        self.assertEqual(len(before), 2, before)
        with open(os.path.join(mirrors, "notes.txt"), "w") as f:
            f.write("not a mirror\n")
        second = Server(extra_args=["--config", self.conf([kept])], data_dir=first.data_dir,
                        keep_data=True, credentials=first.credentials)
        second.start()
        try:
            after = sorted(os.listdir(mirrors))
            self.assertEqual(len(after), 2, after)
            self.assertIn("notes.txt", after)
            left = [m for m in after if m != "notes.txt"][0]
            self.assertIn(left, before)
            self.assertTrue(log_has(second, "the mirror of a repository no longer configured"))
            # the one kept is the configured repository's: it still syncs
            s, body = second.request("GET", "/pipelineRepos")
            self.assertEqual(s, 200, body)
            self.assertEqual([r["url"] for r in body], [kept.path])
        finally:
            second.close()


if __name__ == "__main__":
    unittest.main()
