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
on node 3 within a second; a deploy to east and west in parallel started
on node 3 runs east's instances under node 1 and west's under node 2, each
serving through its own node's HAProxy, and node 3's read API shows both
regions with the node of every instance and load balancer; with node 2
killed, a deploy to west (and an orchestration) says it waits for a node
hosting west and completes once node 2 is back, as does a deploy whose
node dies while its instances start."""
import json
import os
import tempfile
import threading
import time
import unittest

from cloud_util import cluster_spec, get, kill_cloud, run_task
from mizzen_flow import create_app, get_execution, save_pipeline, Recorder
from mizzen_harness import Server, free_port, wait_until
from pg_harness import Postgres
from trigger_helpers import GitRepo

APP = "fleet"
LEASE_S = 10  # the most a dead node may still be shown alive (DESIGN: <= 10 s)


class NodesBase(unittest.TestCase):
    """PostgreSQL and three nodes: east on node 1, west on node 2, node 3
    hosting none (test_nodes_seed.py uses it too)."""
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
        cls.db_url, cls.config, cls.env = url, config, env
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
            n.stop()
            kill_cloud(n.data_dir)  # instances and HAProxy outlive a node
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

    def node_ids(self):
        listed = self.node_list(self.nodes[2])
        return [listed[self.address(n)]["id"] for n in self.nodes]

    def finished(self, via, exec_id, timeout=120):
        def done():
            e = get_execution(via, exec_id)
            return e if e["status"] not in ("RUNNING", "NOT_STARTED") else None
        e = wait_until(done, timeout=timeout, interval=0.3, message="execution %s" % exec_id)
        bad = [(st["name"], st["status"], st["context"].get("exception"))
               for st in e["stages"] if st["status"] != "SUCCEEDED"]
        self.assertEqual(e["status"], "SUCCEEDED", bad)
        return e


class ThreeNodes(NodesBase):
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


    # -- regions on nodes -------------------------------------------------------

    def served(self, port):
        """The versions answering through a load balancer (a few requests)."""
        seen = set()
        for _ in range(6):
            status, body = get("http://127.0.0.1:%d/" % port)
            self.assertEqual(status, 200)
            seen.add(body.split()[0])
        return seen

    def deploy(self, via, name, clusters, timeout=120):
        save_pipeline(via, {"application": GEO, "name": name, "stages": [
            {"refId": "1", "type": "deploy", "name": "Deploy", "clusters": clusters}]})
        s, b = via.request("POST", "/pipelines/%s/%s" % (GEO, name), {"type": "manual"})
        self.assertEqual(s, 202, b)
        return b["ref"].split("/")[-1]

    def test_5_regions_run_on_their_nodes(self):
        n1, n2, n3 = self.nodes
        id1, id2, id3 = self.node_ids()
        ThreeNodes.lb_ports = {"east": free_port(), "west": free_port()}
        create_app(n3, GEO)
        # a load balancer per region, through node 3, which hosts neither
        for region, port in self.lb_ports.items():
            t = run_task(n3, GEO, [{
                "type": "upsertLoadBalancer", "cloudProvider": "local", "credentials": "local",
                "region": region, "name": "%s-%s" % (GEO, region),
                "listeners": [{"externalPort": port, "externalProtocol": "HTTP"}],
                "healthCheck": {"path": "/health"}}], timeout=60)
            self.assertEqual(t["status"], "SUCCEEDED", t)

        exec_id = self.deploy(n3, "spread", [
            cluster_spec(GEO, "v1", "highlander", "%s-%s" % (GEO, region), capacity=2,
                         region=region) for region in ("east", "west")])
        e = self.finished(n3, exec_id)
        deploys = [st for st in e["stages"] if st["type"] == "createServerGroup"]
        self.assertEqual(sorted(st["context"]["region"] for st in deploys), ["east", "west"])

        # each region's instances run under its node and serve through its HAProxy
        self.assertEqual(self.served(self.lb_ports["east"]), {"v1"})
        self.assertEqual(self.served(self.lb_ports["west"]), {"v1"})
        def all_up():  # node 1 and 2 publish their instances' health within ~0.1 s
            s, groups = n3.request("GET", "/applications/%s/serverGroups" % GEO)
            self.assertEqual(s, 200, groups)
            return groups if all(g["instanceCounts"]["up"] == 2 for g in groups) else None
        by_region = {g["region"]: g for g in wait_until(all_up, timeout=3)}
        self.assertEqual(sorted(by_region), ["east", "west"])
        for region, node, owner in (("east", id1, n1), ("west", id2, n2)):
            g = by_region[region]
            self.assertEqual(g["node"], node)
            self.assertEqual(g["instanceCounts"]["up"], 2, g)
            self.assertEqual({i["node"] for i in g["instances"]}, {node})
            for inst in g["instances"]:
                # the process is the hosting node's: its home is in that
                # node's data directory (the owner answers with it)
                s, full = owner.request("GET", "/instances/local/%s/%s" % (region, inst["id"]))
                self.assertEqual(s, 200, full)
                self.assertTrue(full["workdir"].startswith(owner.data_dir + "/"), full)
                s, seen = n3.request("GET", "/instances/local/%s/%s" % (region, inst["id"]))
                self.assertEqual((s, seen["node"], seen["healthState"]), (200, node, "Up"))
        for via in self.nodes:  # every node answers for both regions
            s, lbs = via.request("GET", "/applications/%s/loadBalancers" % GEO)
            self.assertEqual(s, 200, lbs)
            self.assertEqual({(lb["name"], lb["region"], lb["node"]) for lb in lbs},
                             {("%s-east" % GEO, "east", id1), ("%s-west" % GEO, "west", id2)})
            s, cl = via.request("GET", "/applications/%s/clusters" % GEO)
            self.assertEqual(cl, {"local": ["%s-web" % GEO]})
        s, cluster = n3.request("GET", "/applications/%s/clusters/local/%s-web" % (GEO, GEO))
        self.assertEqual(s, 200, cluster)
        self.assertEqual(sorted((g["region"], g["node"]) for g in cluster[0]["serverGroups"]),
                         [("east", id1), ("west", id2)])
        # node 3 hosts nothing and ran nothing: no instance, no HAProxy
        s, mine = n1.request("GET", "/serverGroups/local/west/" + by_region["west"]["name"])
        self.assertEqual((s, mine["node"]), (200, id2))
        self.assertFalse(os.path.exists(os.path.join(n3.data_dir, "cloud", "haproxy",
                                                     "haproxy.pid")))

    def test_6_a_region_without_a_live_node_waits(self):
        n1, n2, n3 = self.nodes
        id1, id2, id3 = self.node_ids()
        if not getattr(self, "lb_ports", None):
            self.skipTest("needs the load balancers of test_5")
        n2.kill9()  # its instances and HAProxy keep running
        wait_until(lambda: not self.node_list(n3)[self.address(n2)]["alive"],
                   timeout=LEASE_S + 2, interval=0.2, message="node 2 shown dead")
        try:
            exec_id = self.deploy(n3, "west-v2", [cluster_spec(
                GEO, "v2", "highlander", "%s-west" % GEO, capacity=2, region="west")])

            def waiting():
                e = get_execution(n3, exec_id)
                return next((st["context"]["waitingForHost"] for st in e["stages"]
                             if st["context"].get("waitingForHost")), None)
            why = wait_until(waiting, timeout=20, interval=0.2,
                             message="the deploy to say it waits for a node hosting west")
            self.assertIn("west", why)
            self.assertIn("not alive", why)
            # an orchestration (Deck's "task") for west says so in its task JSON
            s, b = n3.request("POST", "/applications/%s/tasks" % GEO, {
                "application": GEO, "description": "west's load balancer again", "job": [{
                    "type": "upsertLoadBalancer", "cloudProvider": "local",
                    "credentials": "local", "region": "west", "name": "%s-west" % GEO,
                    "listeners": [{"externalPort": self.lb_ports["west"],
                                   "externalProtocol": "HTTP"}],
                    "healthCheck": {"path": "/health"}}]})
            self.assertEqual(s, 200, b)
            task_id = b["ref"].split("/")[-1]

            def task_waiting():
                s, t = n3.request("GET", "/tasks/" + task_id)
                return next((v["value"] for v in t.get("variables", [])
                             if v["key"] == "waitingForHost" and v["value"]), None)
            self.assertIn("west", wait_until(task_waiting, timeout=20, interval=0.2,
                                             message="the task to say it waits for west"))
            time.sleep(2)
            e = get_execution(n1, exec_id)
            self.assertEqual(e["status"], "RUNNING")
            # west keeps serving v1 and is still listed, as node 2 last published it
            self.assertEqual(self.served(self.lb_ports["west"]), {"v1"})
            s, groups = n3.request("GET", "/applications/%s/serverGroups" % GEO)
            self.assertIn(("west", id2), {(g["region"], g["node"]) for g in groups})
        finally:
            n2.start()
        e = self.finished(n3, exec_id)
        s, t = wait_until(lambda: (lambda r: r if r[1].get("status") == "SUCCEEDED" else None)(
            n3.request("GET", "/tasks/" + task_id)), timeout=30, message="the task to finish")
        self.assertEqual(self.served(self.lb_ports["west"]), {"v2"})
        self.assertEqual(self.served(self.lb_ports["east"]), {"v1"})
        create = next(st for st in e["stages"] if st["type"] == "createServerGroup")
        self.assertIsNone(create["context"].get("waitingForHost"))
        s, groups = n3.request("GET", "/applications/%s/serverGroups" % GEO)
        west = [g for g in groups if g["region"] == "west"]
        self.assertEqual([(g["node"], g["instanceCounts"]["up"]) for g in west], [(id2, 2)])

    def test_7_instances_of_a_dead_node_are_waited_for(self):
        """A deploy whose node dies while its instances start: the wait says
        which node it waits for, and ends when that node is back."""
        n1, n2, n3 = self.nodes
        if not getattr(self, "lb_ports", None):
            self.skipTest("needs the load balancers of test_5")
        exec_id = self.deploy(n3, "west-slow", [cluster_spec(
            GEO, "v3", "highlander", "%s-west" % GEO, capacity=2, region="west",
            env={"VERSION": "v3", "START_DELAY": "4"})])

        def context():
            e = get_execution(n3, exec_id)
            return next((st["context"] for st in e["stages"]
                         if st["type"] == "createServerGroup"), {})
        wait_until(lambda: "instances Up" in (context().get("waitingFor") or ""), timeout=30,
                   interval=0.1, message="the deploy to wait for its instances")
        n2.kill9()
        try:
            why = wait_until(lambda: context().get("waitingForHost"), timeout=LEASE_S + 5,
                             interval=0.2, message="the wait to name node 2")
            self.assertIn(self.node_ids()[1], why)
            self.assertEqual(get_execution(n1, exec_id)["status"], "RUNNING")
        finally:
            n2.start()
        e = self.finished(n3, exec_id)
        self.assertIsNone(next(st for st in e["stages"]
                               if st["type"] == "createServerGroup")["context"]
                          .get("waitingForHost"))
        self.assertEqual(self.served(self.lb_ports["west"]), {"v3"})


GEO = "geo"


if __name__ == "__main__":
    unittest.main()
