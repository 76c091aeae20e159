"""The data directory (issue 9): one server per data directory, and a
server whose disk is full neither spins nor lies and finishes its work once
space returns.
"""
import os
import sys
import subprocess
import tempfile
import time
import unittest

from mizzen_harness import Server, binary, free_port, wait_until
from mizzen_flow import create_app, get_execution, run_pipeline, save_pipeline, \
    wait_execution


class DataDirectoryLock(unittest.TestCase):

    def test_second_server_refuses_and_restart_after_crash_works(self):
        with Server(keep_data=True) as first:
            t0 = time.monotonic()
            proc = subprocess.run(
                [binary(), "serve", "--listen", "127.0.0.1:%d" % free_port(),
                 "--data", first.data_dir],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
            elapsed = time.monotonic() - t0
            self.assertNotEqual(proc.returncode, 0)
            err = proc.stderr.decode()
            self.assertIn("is in use by another mizzen server (pid %d)" % first.proc.pid,
                          err)
            self.assertIn(first.data_dir, err)
            self.assertLess(elapsed, 5.0, "the second server did not exit at once")
            # The first one is unharmed.
            status, body = first.request("GET", "/health")
            self.assertEqual(status, 200, body)
            # A crashed server leaves no lock that blocks a restart.
            first.restart(kill=True)
            status, _ = first.request("GET", "/health")
            self.assertEqual(status, 200)
        import shutil
        shutil.rmtree(first.data_dir, ignore_errors=True)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace").splitlines()


class DiskFull(unittest.TestCase):
    """A 5 MB tmpfs as the data directory, filled up while an execution
    runs: the server backs off (no spinning, a few log lines), /health says
    why it is DOWN, nothing reads SUCCEEDED that did not happen, and once
    space is freed the accepted execution finishes."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a 5 MB tmpfs (mount -t tmpfs)")
        self.mnt = tempfile.mkdtemp(prefix="mizzen-full-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", self.mnt],
                           capture_output=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.decode().strip())

    def tearDown(self):
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        os.rmdir(self.mnt)

    def fill(self):
        path = os.path.join(self.mnt, "filler")
        block = b"\0" * 65536
        with open(path, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(block)
            except OSError:
                pass
            small = b"\0" * 512
            try:
                while True:
                    f.write(small)
            except OSError:
                pass
        return path

    def test_full_disk_backs_off_and_resumes(self):
        data = os.path.join(self.mnt, "data")
        with Server(data_dir=data) as srv:
            create_app(srv, "full")
            save_pipeline(srv, {"application": "full", "name": "slow", "stages": [
                {"refId": "1", "type": "wait", "name": "Soak", "waitTime": 2},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "evaluateVariables",
                 "name": "After", "variables": [{"key": "done", "value": "yes"}]}]})
            exec_id = run_pipeline(srv, "full", "slow")
            lines_fill = len(log_lines(srv))
            filler = self.fill()
            # Writes now fail: a trigger is refused, not accepted and lost.
            status, body = srv.request("POST", "/pipelines/full/slow", {"type": "manual"})
            self.assertGreaterEqual(status, 500, body)
            self.assertIn(status, (503, 507), body)
            self.assertIn("error", body)

            lines0 = len(log_lines(srv))
            cpu0 = cpu_seconds(srv.proc.pid)
            time.sleep(5)  # the wait stage is due meanwhile
            cpu = cpu_seconds(srv.proc.pid) - cpu0
            new_lines = log_lines(srv)[lines0:]
            self.assertLess(cpu, 0.5, "the server used %.2fs of CPU in 5s with a full disk"
                            % cpu)
            self.assertLess(len(new_lines), 20, "\n".join(new_lines[:40]))
            status, health = srv.request("GET", "/health")
            self.assertEqual(status, 503, health)
            self.assertEqual(health["status"], "DOWN")
            self.assertIn("disk full", health["reason"])
            e = get_execution(srv, exec_id)
            self.assertNotEqual(e["status"], "SUCCEEDED")
            self.assertFalse([x for x in log_lines(srv)[lines_fill:] if "SUCCEEDED" in x],
                             "a SUCCEEDED was logged while nothing could be stored")

            os.unlink(filler)
            wait_until(lambda: srv.request("GET", "/health")[0] == 200, timeout=20,
                       message="/health 200 once space is back")
            e = wait_execution(srv, exec_id, timeout=30)
            self.assertEqual(e["status"], "SUCCEEDED", [
                (s["name"], s["status"], s["context"].get("exception")) for s in e["stages"]])
            self.assertEqual(e["stages"][1]["outputs"]["done"], "yes")
            # And new work is accepted again.
            e2 = wait_execution(srv, run_pipeline(srv, "full", "slow"), timeout=30)
            self.assertEqual(e2["status"], "SUCCEEDED")


class LockedDatabase(unittest.TestCase):
    """Another process holds SQLite's write lock for longer than the busy
    timeout (10 s): writes fail with 503, /health says the database is
    locked, the server does not spin, and work goes on once it is free.
    Writers of the server wait for that lock side by side, not one after
    the other: a trigger and a save sent together are both answered within
    two busy timeouts (a save's 503 comes after its audit row, written on
    its HTTP thread, waited one too; a second save could share that thread
    and wait for it, so there is one). Queued behind each other on the
    process's writer mutex, one busy timeout each, the save took 30 s or
    more, and under load a trigger queued behind the background writers
    (engine, event outbox, heartbeat, retention) timed out."""

    def test_locked_database(self):
        import sqlite3
        import threading
        with Server() as srv:
            create_app(srv, "locked")
            save_pipeline(srv, {"application": "locked", "name": "p", "stages": [
                {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]})
            db = sqlite3.connect(os.path.join(srv.data_dir, "mizzen.db"),
                                 isolation_level=None, timeout=0)
            db.execute("BEGIN IMMEDIATE")
            answers = {}

            def send(name, method, path, body):
                t = time.monotonic()
                try:
                    status, reply = srv.request(method, path, body, timeout=60)
                except Exception as e:  # a timeout: recorded, judged below
                    status, reply = None, repr(e)
                answers[name] = (status, reply, time.monotonic() - t)

            try:
                cpu0 = cpu_seconds(srv.proc.pid)
                t0 = time.monotonic()
                senders = [threading.Thread(target=send, args=(
                    "trigger", "POST", "/pipelines/locked/p", {"type": "manual"}))]
                senders.append(threading.Thread(target=send, args=(
                    "save", "POST", "/pipelines",
                    {"application": "locked", "name": "q", "stages": []})))
                senders[0].start()
                time.sleep(0.5)  # the trigger's writer waits first
                senders[1].start()
                for t in senders:
                    t.join()
                for name, (status, body, took) in sorted(answers.items()):
                    self.assertEqual(status, 503, (name, body))
                    self.assertIn("locked", body["message"], name)
                    self.assertEqual(body["status"], 503, name)
                    self.assertLess(took, 27, "%s answered after %.1fs: %s"
                                    % (name, took, answers))
                status, health = srv.request("GET", "/health")
                self.assertEqual(status, 503, health)
                self.assertIn("database locked", health["reason"])
                elapsed = time.monotonic() - t0
                cpu = cpu_seconds(srv.proc.pid) - cpu0
                self.assertLess(cpu, 0.1 * elapsed + 0.3,
                                "%.2fs of CPU in %.1fs with the database locked" % (cpu, elapsed))
            finally:
                db.execute("ROLLBACK")
                db.close()
            wait_until(lambda: srv.request("GET", "/health")[0] == 200, timeout=20,
                       message="/health 200 once the lock is gone")
            e = wait_execution(srv, run_pipeline(srv, "locked", "p"), timeout=30)
            self.assertEqual(e["status"], "SUCCEEDED")


class RelativeDataDirectory(unittest.TestCase):
    """`make run` starts `build/mizzen serve` with its default data
    directory, the relative `./var`. The local cloud's load balancers must
    work there too: HAProxy's configuration named its runtime socket
    `./var/cloud/haproxy/runtime.sock`, which HAProxy reads as an address
    without a port, so every `upsertLoadBalancer` failed."""

    def test_load_balancer_with_the_default_relative_data_dir(self):
        import shutil
        import socket
        from cloud_util import kill_cloud, run_task
        parent = tempfile.mkdtemp(prefix="mizzen-reldata-")
        cwd = os.getcwd()
        os.chdir(parent)
        srv = Server(data_dir="./var", keep_data=True)
        try:
            srv.start()
            create_app(srv, "reldata")
            port = free_port()
            task = run_task(srv, "reldata", [{
                "type": "upsertLoadBalancer", "cloudProvider": "local",
                "credentials": "local", "region": "local", "name": "reldata-web",
                "listeners": [{"externalPort": port, "externalProtocol": "HTTP"}],
                "healthCheck": {"path": "/health"}}])
            self.assertEqual(task["status"], "SUCCEEDED", json_text(task))
            status, lbs = srv.request("GET", "/applications/reldata/loadBalancers")
            self.assertEqual(status, 200, lbs)
            self.assertIn("reldata-web", [lb.get("name") for lb in lbs])

            def listening():
                with socket.socket() as s:
                    s.settimeout(1)
                    return s.connect_ex(("127.0.0.1", port)) == 0
            wait_until(listening, timeout=20,
                       message="HAProxy listening on the load balancer's port %d" % port)
        finally:
            srv.stop()
            # the cloud's processes are found by the absolute path only
            srv.data_dir = os.path.join(parent, "var")
            kill_cloud(srv.data_dir)
            srv.keep_data = False
            srv.close()
            os.chdir(cwd)
            shutil.rmtree(parent, ignore_errors=True)


def json_text(v):
    import json
    return json.dumps(v)[:2000]


if __name__ == "__main__":
    unittest.main()
