"""The mizzen command-line client against the real server.

Every test runs `mizzen ...` as a user would (argv lists, no shell) and
checks the exit code, the JSON on stdout and the messages on stderr; the
server's own state is read back through the CLI or the HTTP API.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import ServerTestCase, binary, free_port, wait_until  # noqa: E402

CLI_TIMEOUT = 60


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def spin_json(value):
    """How spin (Go's json.MarshalIndent with one space, map keys sorted)
    prints value."""
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)


class CliTest(ServerTestCase):
    app = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="mizzen-cli-test-")
        cls.app = unique("cliapp")
        cls.env = cls.server.cli_env()  # signs in with admin's API token
        res = cls.run_cli_static(cls.server.url, "application", "save", "--application", cls.app,
                                 "--owner-email", "team@example.com", "--cloud-providers", "local")
        if res.returncode != 0:
            raise AssertionError("cannot create the test application: %s" % res.stderr)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # -- helpers ----------------------------------------------------------

    @classmethod
    def run_cli_static(cls, url, *args, env=None, timeout=CLI_TIMEOUT):
        argv = [binary(), "--url", url] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **dict(cls.env, **(env or {}))),
                              stdin=subprocess.DEVNULL)

    def cli(self, *args, **kw):
        return self.run_cli_static(self.server.url, *args, **kw)

    def ok(self, *args, **kw):
        """Runs the CLI, asserts exit 0, returns the CompletedProcess."""
        res = self.cli(*args, **kw)
        self.assertEqual(res.returncode, 0, "mizzen %s failed (%d):\nstdout: %s\nstderr: %s"
                         % (" ".join(args), res.returncode, res.stdout, res.stderr))
        return res

    def ok_json(self, *args, **kw):
        res = self.ok(*args, **kw)
        try:
            return json.loads(res.stdout)
        except ValueError:
            self.fail("mizzen %s printed no JSON: %r" % (" ".join(args), res.stdout))

    def fails(self, *args, code=1, **kw):
        """Runs the CLI, asserts exit code `code`, a message on stderr and
        nothing on stdout."""
        res = self.cli(*args, **kw)
        self.assertEqual(res.returncode, code, "mizzen %s: want exit %d, got %d\nstdout: %s\nstderr: %s"
                         % (" ".join(args), code, res.returncode, res.stdout, res.stderr))
        self.assertTrue(res.stderr.strip(), "mizzen %s failed without a message" % " ".join(args))
        self.assertEqual(res.stdout, "")
        return res

    def write_json(self, name, value):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(value, f)
        return path

    def save_pipeline(self, name, stages, **extra):
        pipeline = {
            "application": self.app,
            "name": name,
            "keepWaitingPipelines": False,
            "limitConcurrent": False,
            "triggers": [],
            "parameterConfig": [],
            "stages": stages,
        }
        pipeline.update(extra)
        path = self.write_json(name + ".json", pipeline)
        res = self.ok("pipeline", "save", "--file", path)
        self.assertIn("Pipeline save succeeded", res.stderr)
        return pipeline

    def execution(self, exec_id):
        return self.ok_json("pipeline-execution", "get", exec_id)

    def start(self, name, *extra):
        """pipeline execute without --wait; returns the execution id."""
        ref = self.ok_json("pipeline", "execute", "--application", self.app, "--name", name, *extra)
        self.assertTrue(ref["ref"].startswith("/pipelines/"), ref)
        return ref["ref"].rsplit("/", 1)[1]

    def stage_named(self, execution, name):
        for st in execution["stages"]:
            if st.get("name") == name:
                return st
        self.fail("no stage %r in %s" % (name, [s.get("name") for s in execution["stages"]]))

    def execute_in_background(self, name):
        """Starts `pipeline execute --wait` as its own process; returns
        (process, execution id) once the ref has been printed."""
        argv = [binary(), "--url", self.server.url, "pipeline", "execute",
                "-a", self.app, "-n", name, "--wait"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True,
                                env=dict(os.environ, **self.env))
        # The ref JSON is printed (and flushed) before the waiting starts.
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.rstrip() == "}":
                break
        try:
            ref = json.loads("".join(lines))["ref"]
        except (ValueError, KeyError):
            proc.kill()
            out, err = proc.communicate()
            self.fail("execute --wait printed no ref: %r %r %r" % ("".join(lines), out, err))
        # Drain stderr in the background so a chatty wait cannot block.
        errs = []
        t = threading.Thread(target=lambda: errs.append(proc.stderr.read()), daemon=True)
        t.start()
        proc.collected_stderr = (t, errs)
        return proc, ref.rsplit("/", 1)[1]

    def finish_background(self, proc, timeout=30):
        rc = proc.wait(timeout=timeout)
        t, errs = proc.collected_stderr
        t.join(timeout=5)
        rest = proc.stdout.read()
        proc.stdout.close()
        proc.stderr.close()
        return rc, "".join(errs), rest

    def wait_for_judgment(self, exec_id, stage_name):
        def running():
            st = self.stage_named(self.execution(exec_id), stage_name)
            return st["status"] == "RUNNING"
        wait_until(running, timeout=20, interval=0.1,
                   message="manual judgment stage %r RUNNING" % stage_name)

    # -- applications -----------------------------------------------------

    def test_application_save_list_get_delete(self):
        name = unique("lifecycle")
        res = self.ok("application", "save", "--application", name,
                      "--owner-email", "owner@example.com", "--cloud-providers", "local")
        self.assertIn("Application save succeeded", res.stderr)

        apps = self.ok_json("application", "list")
        self.assertIsInstance(apps, list)
        names = [a.get("name", "").lower() for a in apps]
        self.assertIn(name.lower(), names)

        res = self.ok("application", "get", name)
        attrs = json.loads(res.stdout)
        self.assertEqual(attrs.get("email"), "owner@example.com")
        self.assertEqual(attrs.get("name", "").lower(), name.lower())
        self.assertEqual(res.stdout.rstrip("\n"), spin_json(attrs),
                         "output is not spin's sorted, one-space-indented JSON")

        # The form `application get` prints is what `save --file` takes back.
        attrs["description"] = "saved from a file"
        path = self.write_json(name + "-app.json", attrs)
        self.ok("application", "save", "--file", path)
        again = self.ok_json("application", "get", "--application", name)
        self.assertEqual(again.get("description"), "saved from a file")

        res = self.ok("application", "delete", name)
        self.assertIn("Application deleted", res.stderr)
        wait_until(lambda: self.cli("application", "get", name).returncode == 1,
                   timeout=10, message="application %s gone" % name)
        res = self.fails("application", "delete", name)
        self.assertIn("does not exist", res.stderr)

    def test_application_save_needs_an_email(self):
        res = self.fails("application", "save", "--application", unique("noemail"))
        self.assertIn("email", res.stderr)

    # -- pipeline configs -------------------------------------------------

    def test_pipeline_save_list_get_update_delete(self):
        name = unique("pipe")
        self.save_pipeline(name, [{"refId": "1", "type": "wait", "name": "Pause",
                                   "waitTime": 1, "requisiteStageRefIds": []}])

        listed = self.ok_json("pipeline", "list", "--application", self.app)
        self.assertIn(name, [p.get("name") for p in listed])

        got = self.ok_json("pipeline", "get", "-a", self.app, "-n", name)
        self.assertEqual(got["name"], name)
        self.assertEqual(got["application"], self.app)
        self.assertTrue(got.get("id"), "a saved pipeline has an id")
        self.assertEqual(got["stages"][0]["type"], "wait")

        # Saving again updates the same config: the CLI reuses its id.
        self.save_pipeline(name, [{"refId": "1", "type": "wait", "name": "Pause",
                                   "waitTime": 2, "requisiteStageRefIds": []}],
                           description="second version")
        updated = self.ok_json("pipeline", "get", "-a", self.app, "-n", name)
        self.assertEqual(updated["id"], got["id"])
        self.assertEqual(updated["stages"][0]["waitTime"], 2)
        listed = self.ok_json("pipeline", "list", "-a", self.app)
        self.assertEqual([p.get("name") for p in listed].count(name), 1)

        res = self.ok("pipeline", "delete", "-a", self.app, "-n", name)
        self.assertIn("Pipeline deleted", res.stderr)
        self.fails("pipeline", "get", "-a", self.app, "-n", name)
        listed = self.ok_json("pipeline", "list", "-a", self.app)
        self.assertNotIn(name, [p.get("name") for p in listed])

    def test_pipeline_save_rejects_bad_files(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"name": "broken", "application": ')
        res = self.fails("pipeline", "save", "--file", bad)
        self.assertIn("bad.json", res.stderr)

        path = self.write_json("noname.json", {"application": self.app, "stages": []})
        res = self.fails("pipeline", "save", "-f", path)
        self.assertIn("name", res.stderr)

        res = self.fails("pipeline", "save", "-f", os.path.join(self.tmp, "missing.json"))
        self.assertIn("missing.json", res.stderr)

    # -- executions -------------------------------------------------------

    def test_execute_wait_succeeds(self):
        name = unique("waitpipe")
        self.save_pipeline(name, [{"refId": "1", "type": "wait", "name": "Short wait",
                                   "waitTime": 1, "requisiteStageRefIds": []}])
        res = self.ok("pipeline", "execute", "-a", self.app, "-n", name,
                      "-p", "env=prod", "--wait", timeout=60)
        ref = json.loads(res.stdout)["ref"]
        self.assertTrue(ref.startswith("/pipelines/"), ref)
        self.assertIn("stage Short wait (1): RUNNING", res.stderr)
        self.assertIn("stage Short wait (1): SUCCEEDED", res.stderr)
        self.assertIn("SUCCEEDED", res.stderr.strip().splitlines()[-1])

        exec_id = ref.rsplit("/", 1)[1]
        ex = self.execution(exec_id)
        self.assertEqual(ex["id"], exec_id)
        self.assertEqual(ex["status"], "SUCCEEDED")
        self.assertEqual(ex["trigger"]["type"], "manual")
        self.assertEqual(ex["trigger"]["parameters"]["env"], "prod")

        config_id = self.ok_json("pipeline", "get", "-a", self.app, "-n", name)["id"]
        listed = self.ok_json("pipeline-execution", "list", "--id", config_id, "--limit", "5")
        self.assertIn(exec_id, [e["id"] for e in listed])
        listed = self.ok_json("pipeline-execution", "list", "-a", self.app, "-n", name,
                              "--limit", "5", "--status", "SUCCEEDED")
        self.assertIn(exec_id, [e["id"] for e in listed])
        listed = self.ok_json("pipeline-execution", "list", "--id", config_id, "--limit", "5",
                              "--status", "RUNNING")
        self.assertNotIn(exec_id, [e["id"] for e in listed])

        # without --limit a pipeline's list is its newest execution only, as
        # spin's (Gate's limit defaults to 1): the README and --help say so
        second = json.loads(self.ok("pipeline", "execute", "-a", self.app, "-n", name,
                                    "--parameter", "env=qa").stdout)["ref"].rsplit("/", 1)[1]
        listed = self.ok_json("pipeline-execution", "list", "-a", self.app, "-n", name)
        self.assertEqual([e["id"] for e in listed], [second])
        listed = self.ok_json("pipeline-execution", "list", "-a", self.app, "-n", name,
                              "--limit", "10")
        self.assertEqual(sorted(e["id"] for e in listed), sorted([exec_id, second]))
        self.assertIn("the newest only", self.ok("pipeline-execution", "list", "--help").stdout
                      + self.cli("pipeline-execution", "list", "--help").stderr)

    def test_execute_wait_fails_when_judged_stop(self):
        name = unique("judgestop")
        self.save_pipeline(name, [
            {"refId": "1", "type": "manualJudgment", "name": "Approve",
             "requisiteStageRefIds": [], "judgmentInputs": [], "failPipeline": True},
            {"refId": "2", "type": "wait", "name": "After", "waitTime": 1,
             "requisiteStageRefIds": ["1"]},
        ])
        proc, exec_id = self.execute_in_background(name)
        try:
            self.wait_for_judgment(exec_id, "Approve")
            res = self.ok("pipeline-execution", "judge", "--id", exec_id,
                          "--stage", "Approve", "--stop", "--input", "no")
            self.assertIn("stop", res.stderr)
            rc, err, _ = self.finish_background(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertNotEqual(rc, 0, "execute --wait must fail when the pipeline is stopped:\n" + err)
        # The CLI polls every 500 ms: it may or may not have seen the stage
        # RUNNING before the judgment, but it reports the stage's end.
        self.assertIn("stage Approve (1): TERMINAL", err)
        self.assertIn("finished: TERMINAL", err)
        ex = self.execution(exec_id)
        self.assertIn(ex["status"], ("TERMINAL", "STOPPED", "CANCELED"))
        approve = self.stage_named(ex, "Approve")
        self.assertEqual(approve["context"].get("judgmentStatus"), "stop")
        self.assertNotEqual(self.stage_named(ex, "After")["status"], "SUCCEEDED")

    def test_execute_wait_succeeds_when_judged_continue(self):
        name = unique("judgego")
        self.save_pipeline(name, [
            {"refId": "1", "type": "manualJudgment", "name": "Approve",
             "requisiteStageRefIds": [], "judgmentInputs": [{"value": "yes"}]},
            {"refId": "2", "type": "wait", "name": "After", "waitTime": 1,
             "requisiteStageRefIds": ["1"]},
        ])
        proc, exec_id = self.execute_in_background(name)
        try:
            self.wait_for_judgment(exec_id, "Approve")
            # No --stage: the one waiting judgment is chosen.
            self.ok("pipeline-execution", "judge", exec_id, "--continue", "--input", "yes")
            rc, err, _ = self.finish_background(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(rc, 0, err)
        self.assertIn("stage After (2): SUCCEEDED", err)
        ex = self.execution(exec_id)
        self.assertEqual(ex["status"], "SUCCEEDED")
        self.assertEqual(self.stage_named(ex, "Approve")["context"].get("judgmentInput"), "yes")

    def test_pause_resume_cancel(self):
        name = unique("longwait")
        self.save_pipeline(name, [{"refId": "1", "type": "wait", "name": "Long wait",
                                   "waitTime": 300, "requisiteStageRefIds": []}])
        exec_id = self.start(name)
        wait_until(lambda: self.execution(exec_id)["status"] == "RUNNING", timeout=20,
                   message="execution RUNNING")

        self.ok("pipeline-execution", "pause", exec_id)
        wait_until(lambda: self.execution(exec_id)["status"] == "PAUSED", timeout=20,
                   message="execution PAUSED")
        self.ok("pipeline-execution", "resume", "--id", exec_id)
        wait_until(lambda: self.execution(exec_id)["status"] == "RUNNING", timeout=20,
                   message="execution RUNNING again")

        res = self.ok("pipeline-execution", "cancel", exec_id, "--reason", "test over")
        self.assertIn("canceled", res.stderr)
        wait_until(lambda: self.execution(exec_id)["status"] == "CANCELED", timeout=20,
                   message="execution CANCELED")

    def test_wait_reports_a_canceled_execution(self):
        name = unique("cancelwait")
        self.save_pipeline(name, [{"refId": "1", "type": "wait", "name": "Long wait",
                                   "waitTime": 300, "requisiteStageRefIds": []}])
        proc, exec_id = self.execute_in_background(name)
        try:
            wait_until(lambda: self.stage_named(self.execution(exec_id), "Long wait")["status"]
                       == "RUNNING", timeout=20, message="wait stage RUNNING")
            self.ok("pipeline-execution", "cancel", exec_id)
            rc, err, _ = self.finish_background(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertNotEqual(rc, 0, err)
        self.assertIn("finished: CANCELED", err)

    def test_wait_survives_a_server_crash(self):
        name = unique("crashwait")
        self.save_pipeline(name, [{"refId": "1", "type": "wait", "name": "Slow",
                                   "waitTime": 3, "requisiteStageRefIds": []}])
        proc, exec_id = self.execute_in_background(name)
        try:
            wait_until(lambda: self.stage_named(self.execution(exec_id), "Slow")["status"]
                       == "RUNNING", timeout=20, message="wait stage RUNNING")
            # Down long enough for a few polls to find nobody there.
            self.server.kill9()
            time.sleep(1.5)
            self.server.start()
            rc, err, _ = self.finish_background(proc, timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(rc, 0, err)
        self.assertIn("lost contact with mizzen", err)
        self.assertIn("reconnected", err)
        self.assertEqual(self.execution(exec_id)["status"], "SUCCEEDED")

    # -- server groups ----------------------------------------------------

    def test_server_group_list(self):
        groups = self.ok_json("server-group", "list", "--application", self.app)
        self.assertIsInstance(groups, list)

    # -- errors and usage -------------------------------------------------

    def test_unknown_pipeline(self):
        missing = unique("nosuch")
        self.fails("pipeline", "get", "-a", self.app, "-n", missing)
        self.fails("pipeline", "execute", "-a", self.app, "-n", missing)
        self.fails("pipeline-execution", "get", unique("noexec"))

    def test_unreachable_server(self):
        url = "http://127.0.0.1:%d" % free_port()
        res = subprocess.run([binary(), "--url", url, "application", "list"],
                             capture_output=True, text=True, timeout=CLI_TIMEOUT)
        self.assertEqual(res.returncode, 1)
        self.assertIn("Could not reach mizzen at " + url, res.stderr)

    def test_url_from_environment(self):
        res = subprocess.run([binary(), "application", "list"], capture_output=True, text=True,
                             timeout=CLI_TIMEOUT, env=dict(os.environ, **self.env))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(self.app.lower(), [a.get("name", "").lower() for a in json.loads(res.stdout)])

    def test_usage_errors(self):
        res = self.fails("pipeline", "get", "--application", self.app, code=2)
        self.assertIn("usage: mizzen pipeline get", res.stderr)
        self.fails("pipeline", "frobnicate", code=2)
        self.fails("no-such-group", code=2)
        self.fails("pipeline", "list", "--no-such-flag", code=2)
        self.fails("pipeline-execution", "judge", "someid", "--continue", "--stop", code=2)

        res = subprocess.run([binary(), "help"], capture_output=True, text=True,
                             timeout=CLI_TIMEOUT)
        self.assertEqual(res.returncode, 0)
        self.assertIn("pipeline-execution", res.stdout)
        res = subprocess.run([binary(), "pipeline", "--help"], capture_output=True, text=True,
                             timeout=CLI_TIMEOUT)
        self.assertEqual(res.returncode, 0)
        self.assertIn("execute", res.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
