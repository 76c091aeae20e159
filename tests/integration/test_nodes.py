"""Several nodes on one PostgreSQL: a throwaway PostgreSQL (pg_harness) and
three `mizzen serve` processes on loopback with their own data directories,
node 1 hosting region east, node 2 west, node 3 none.

What it shows: every node registers and GET /nodes on any of them lists
all three, a node killed with kill -9 is shown dead within the lease and
its work is taken over; 300 executions of a five-stage pipeline started
through all three nodes finish SUCCEEDED exactly once while node 1 is
killed mid-way and restarted, each execution's webhook called once (one
idempotency key); a git commit polled by all three nodes starts exactly one
execution; a change made through node 1 reaches an event-stream subscriber
on node 3 within a second."""
import json
import os
import tempfile
import threading
import time
import unittest

from mizzen_flow import create_app, get_execution, save_pipeline, Recorder
from mizzen_harness import Server, wait_until
from pg_harness import Postgres
from trigger_helpers import GitRepo

APP = "fleet"
LEASE_S = 10  # the most a dead node may still be shown alive (DESIGN: <= 10 s)


class ThreeNodes(unittest.TestCase):
    pg = None
    nodes = []

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()
        url = cls.pg.createdb("nodes")
        cls.config_dir = tempfile.mkdtemp(prefix="mizzen-nodes-cfg-")
        config = os.path.join(cls.config_dir, "config.json")
        with open(config, "w") as f:
            # 300 executions of one pipeline are counted below: more than
            # retention keeps by default (200 per pipeline).
            json.dump({"providers": {"local": {"accounts": [
                {"name": "local", "regions": ["east", "west"]}]}},
                "retention": {"executionsPerPipeline": 1000}}, f)
        env = {"MZ_POLL_INTERVAL_MS": "300"}
        cls.nodes = []
        try:
            for regions in ("east", "west", ""):
                cls.nodes.append(Server(extra_args=("--db", url, "--config", config,
                                                    "--host-regions", regions),
                                        env=env).start())
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.close()
        cls.nodes = []
        if cls.pg:
            cls.pg.stop()
            cls.pg = None

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            for n in self.nodes:
                import sys
                sys.stderr.write(n.log_tail(6000))
        return out

    def node_list(self, via):
        status, body = via.request("GET", "/nodes")
        self.assertEqual(status, 200, body)
        return {n["address"]: n for n in body}

    def address(self, node):
        return "127.0.0.1:%d" % node.port

    # -- the registry ------------------------------------------------------

    def test_1_every_node_registers(self):
        n1, n2, n3 = self.nodes
        for via in self.nodes:
            listed = self.node_list(via)
            self.assertEqual(set(listed), {self.address(n) for n in self.nodes})
            self.assertEqual(listed[self.address(n1)]["hostRegions"], ["east"])
            self.assertEqual(listed[self.address(n2)]["hostRegions"], ["west"])
            self.assertEqual(listed[self.address(n3)]["hostRegions"], [])
            for n in listed.values():
                self.assertTrue(n["alive"], n)
                self.assertEqual(set(n), {"id", "address", "hostRegions", "lastSeen", "alive"})
        ids = {n["id"] for n in self.node_list(n3).values()}
        self.assertEqual(len(ids), 3)

    # -- 300 executions, node 1 killed mid-way -----------------------------

    def test_2_executions_survive_a_node_kill(self):
        n1, n2, n3 = self.nodes
        with Recorder() as rec:
            create_app(n3, APP)
            save_pipeline(n1, {"application": APP, "name": "five", "stages": [
                {"refId": "1", "type": "wait", "name": "start", "waitTime": 0},
                {"refId": "2", "requisiteStageRefIds": ["1"], "type": "evaluateVariables",
                 "name": "plan", "variables": [{"key": "n", "value": "${1 + 1}"}]},
                {"refId": "3", "requisiteStageRefIds": ["2"], "type": "webhook",
                 "name": "call", "method": "POST", "url": rec.url + "/hook",
                 "payload": {"tag": "${execution.id}"}, "waitForCompletion": False},
                {"refId": "4", "requisiteStageRefIds": ["3"], "type": "wait", "name": "soak",
                 "waitTime": 1},
                {"refId": "5", "requisiteStageRefIds": ["4"], "type": "evaluateVariables",
                 "name": "done", "variables": [{"key": "ok", "value": "${n == 2}"}]}]})

            started = []

            def start(via, count):
                for _ in range(count):
                    s, b = via.request("POST", "/pipelines/%s/five" % APP, {"type": "manual"})
                    self.assertEqual(s, 202, b)
                    started.append(b["ref"].split("/")[-1])

            for _ in range(50):  # 150 through all three
                for via in self.nodes:
                    start(via, 1)
            wait_until(lambda: len(rec.posts) >= 30, timeout=30,
                       message="webhooks called before the kill")
            n1.kill9()
            killed_at = time.monotonic()
            for _ in range(75):  # 150 more while node 1 is down
                start(n2, 1)
                start(n3, 1)

            # node 1 is shown dead within the lease; its claims go to others
            def dead():
                n = self.node_list(n3)[self.address(n1)]
                return not n["alive"]
            wait_until(dead, timeout=LEASE_S + 2, interval=0.2,
                       message="node 1 shown dead in GET /nodes")
            self.assertLessEqual(time.monotonic() - killed_at, LEASE_S + 1)
            n1.start()
            wait_until(lambda: self.node_list(n2)[self.address(n1)]["alive"], timeout=5,
                       message="node 1 alive again")

            self.assertEqual(len(started), 300)

            def all_done():
                s, body = n2.request("GET", "/applications/%s/pipelines?limit=400&statuses="
                                     "RUNNING,NOT_STARTED,PAUSED,SUSPENDED" % APP)
                return s == 200 and body == []
            wait_until(all_done, timeout=120, interval=0.5, message="300 executions to finish")

            s, listed = n3.request("GET", "/applications/%s/pipelines?limit=400" % APP)
            self.assertEqual(s, 200)
            self.assertEqual(sorted(e["id"] for e in listed), sorted(started))
            self.assertEqual({e["status"] for e in listed}, {"SUCCEEDED"},
                             [e for e in listed if e["status"] != "SUCCEEDED"][:3])
            for exec_id in started[::37]:
                e = get_execution(n1, exec_id)
                self.assertEqual([st["status"] for st in e["stages"]], ["SUCCEEDED"] * 5)
                done = next(st for st in e["stages"] if st["name"] == "done")
                self.assertEqual(done["outputs"], {"ok": True})

            effects = rec.effects()
            for exec_id in started:
                keys = effects.get(exec_id, set())
                self.assertEqual(len(keys), 1, "execution %s: webhook keys %s" % (exec_id, keys))
            replays = sum(rec.raw_count(i) - 1 for i in started)
            print("300 executions on three nodes, node 1 killed: webhook calls replayed "
                  "with the same key: %d" % replays)

    # -- once per cluster ----------------------------------------------------

    def test_3_one_commit_starts_one_execution(self):
        n1, n2, n3 = self.nodes
        repo = GitRepo()
        try:
            create_app(n1, "gitfleet")
            save_pipeline(n2, {"application": "gitfleet", "name": "on-commit", "stages": [
                {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}],
                "triggers": [{"type": "git", "source": "git", "url": repo.path,
                              "branch": "main", "enabled": True}]})

            def baseline():
                return any("git %s main: baseline" % repo.path in n.log_tail(200000) or
                           "git %s main: first seen" % repo.path in n.log_tail(200000)
                           for n in self.nodes)
            wait_until(baseline, timeout=20, message="the trigger's baseline")
            head = repo.commit("second")

            def executions():
                s, body = n3.request("GET", "/applications/gitfleet/pipelines?limit=50")
                return body if s == 200 else []
            wait_until(lambda: len(executions()) >= 1, timeout=20, message="one execution")
            time.sleep(2)  # every node polls several times meanwhile
            execs = executions()
            self.assertEqual(len(execs), 1, execs)
            self.assertEqual(execs[0]["trigger"]["hash"], head)
        finally:
            repo.close()

    # -- the event stream across nodes ------------------------------------------

    def test_4_event_on_node_1_reaches_node_3(self):
        n1, n2, n3 = self.nodes
        create_app(n1, "streamed")
        save_pipeline(n1, {"application": "streamed", "name": "judged", "stages": [
            {"refId": "1", "type": "manualJudgment", "name": "Approve"}]})
        seen = []
        ready = threading.Event()

        def listen():
            resp = n3.stream("/events?application=streamed", timeout=20)
            try:
                event = None
                for raw in resp:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        event = line[7:]
                        if event == "hello":
                            ready.set()
                    elif line.startswith("data: ") and event == "execution":
                        seen.append((time.monotonic(), json.loads(line[6:])))
                    if len(seen) > 50:
                        break
            except OSError:
                pass
            finally:
                resp.close()
        t = threading.Thread(target=listen, daemon=True)
        t.start()
        self.assertTrue(ready.wait(10), "the event stream on node 3 opened")
        s, b = n1.request("POST", "/pipelines/streamed/judged", {"type": "manual"})
        self.assertEqual(s, 202, b)
        exec_id = b["ref"].split("/")[-1]
        # wait until it runs (the judgment waits), then change it through node 1
        wait_until(lambda: get_execution(n1, exec_id)["status"] == "RUNNING", timeout=10)
        time.sleep(0.3)
        sent = time.monotonic()
        s, b = n1.request("PUT", "/pipelines/%s/cancel" % exec_id)
        self.assertIn(s, (200, 202), b)

        def canceled_seen():
            return next((at for at, e in seen
                         if e.get("id") == exec_id and e.get("status") == "CANCELED"), None)
        at = wait_until(canceled_seen, timeout=5, interval=0.02,
                        message="node 3's subscriber to see the cancel made on node 1")
        self.assertLess(at - sent, 1.0, "the change reached node 3 within 1 s")


if __name__ == "__main__":
    unittest.main()
