"""The seed flow across three nodes on one PostgreSQL (the set-up of
test_nodes.py: east hosted by node 1, west by node 2, node 3 hosting
none).

What it shows: a build runs on whichever node takes it; the bake of each
region runs on the node hosting that region, reading the build's artifact
from the database when the build ran elsewhere; the red/black deploy of
each region runs on its node and serves through its node's HAProxy; a
second run replaces the first in both regions. With node 2 down, west's
bake says it waits for a node hosting west and the flow completes once
node 2 is back. A build canceled through another node than the one that
runs it is killed on its node. A second node hosting east deploys an
image node 1 baked, reading it from the database while node 1 is down.
A build whose node is killed waits for it and completes when it returns;
a cancel does not wait for the dead node, which kills the job on return.
A build whose artifact the database cannot take yet waits and publishes
it once it can. An image baked on one node is found, tagged (by the
routes and by the findImageFromTags and upsertImageTags stages) and
deleted through the others, while the node that baked it is down; once
deleted, no node lists or deploys it, and one a server group of another
node uses is not deleted."""
import json
import os
import shutil
import subprocess
import time
import unittest

from cloud_util import get, run_task
from mizzen_flow import create_app, get_execution, save_pipeline
from mizzen_harness import Server, free_port, wait_until
from pg_harness import pg_bin
from test_nodes import LEASE_S, NodesBase
from trigger_helpers import GitRepo

SEED = "seedn"
SEED_APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                        "seed-flow", "app")


def seed_pipeline(repo):
    return {"application": SEED, "name": "ship", "stages": [
        {"refId": "build", "type": "runJob", "name": "Build", "cloudProvider": "local",
         "account": "local", "git": {"url": repo, "ref": "main"},
         "command": ["./build.sh"], "timeoutSeconds": 120,
         "outputArtifacts": [{"name": "seed-app", "path": "dist"}],
         "propertyFile": "build.properties"},
        {"refId": "bake", "type": "bake", "name": "Bake", "requisiteStageRefIds": ["build"],
         "cloudProviderType": "local", "package": "seed-app", "regions": ["east", "west"],
         "command": ["sh", "-c", "date -u > baked-at.txt"],
         "startCommand": ["python3", "$IMAGE_DIR/server.py"],
         "healthCheck": {"path": "/health"}},
        {"refId": "deploy", "type": "deploy", "name": "Deploy",
         "requisiteStageRefIds": ["bake"], "clusters": [
             {"application": SEED, "stack": "web", "freeFormDetails": "",
              "account": "local", "cloudProvider": "local", "region": region,
              "capacity": {"min": 2, "max": 2, "desired": 2},
              "strategy": "redblack", "maxRemainingAsgs": 2,
              "healthCheck": {"path": "/health"},
              "loadBalancers": ["%s-%s" % (SEED, region)]}
             for region in ("east", "west")]}]}


class SeedAcrossNodes(NodesBase):
    repo = None
    ports = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.repo = GitRepo()
        for name in ("build.sh", "server.py"):
            shutil.copy(os.path.join(SEED_APP, name), cls.repo.path)

    @classmethod
    def tearDownClass(cls):
        if cls.repo:
            cls.repo.close()
        super().tearDownClass()

    def commit(self, version):
        with open(os.path.join(self.repo.path, "version.txt"), "w") as f:
            f.write(version + "\n")
        self.repo._git("add", "-A")
        self.repo._git("commit", "-q", "-m", version)

    def sites(self, port):
        """What a load balancer serves ("site <version>"), over a few requests."""
        seen = set()
        for _ in range(6):
            status, body = get("http://127.0.0.1:%d/" % port)
            self.assertEqual(status, 200)
            seen.add(" ".join(body.split()[:2]))
        return seen

    def ship(self, via):
        s, b = via.request("POST", "/pipelines/%s/ship" % SEED, {"type": "manual"})
        self.assertEqual(s, 202, b)
        return b["ref"].split("/")[-1]

    def check_run(self, e, version):
        ids = self.node_ids()
        by_name = {st["name"]: st for st in e["stages"]}
        build = by_name["Build"]
        self.assertIn(build["node"], ids)
        self.assertEqual(build["outputs"]["VERSION"], version)
        # each region's bake ran on the node hosting it
        self.assertEqual(by_name["Bake in east"]["node"], ids[0])
        self.assertEqual(by_name["Bake in west"]["node"], ids[1])
        # the build ran on one node: at least one bake read its artifact
        # from the database, and both baking nodes hold it now
        art = build["outputs"]["artifacts"][0]["reference"]
        for n in self.nodes[:2]:
            self.assertTrue(os.path.exists(os.path.join(n.data_dir, "artifacts", art)),
                            "node %s (%s) has artifact %s" % (n.port, n.data_dir, art))
        details = by_name["Bake"]["outputs"]["deploymentDetails"]
        self.assertEqual(sorted(d["region"] for d in details), ["east", "west"])
        SeedAcrossNodes.images = {d["region"]: d["imageId"] for d in details}
        for region, port in self.ports.items():
            self.assertEqual(self.sites(port), {"site " + version},
                             "%s serves %s only" % (region, version))
        print("%s: built on node %d, baked east on node 1 and west on node 2" %
              (version, ids.index(build["node"]) + 1))

    def test_1_seed_flow_across_nodes(self):
        n1, n2, n3 = self.nodes
        id1, id2, _ = self.node_ids()
        SeedAcrossNodes.ports = {"east": free_port(), "west": free_port()}
        create_app(n3, SEED)
        for region, port in self.ports.items():
            t = run_task(n3, SEED, [{
                "type": "upsertLoadBalancer", "cloudProvider": "local", "credentials": "local",
                "region": region, "name": "%s-%s" % (SEED, region),
                "listeners": [{"externalPort": port, "externalProtocol": "HTTP"}],
                "healthCheck": {"path": "/health"}}], timeout=60)
            self.assertEqual(t["status"], "SUCCEEDED", t)
        save_pipeline(n3, seed_pipeline(self.repo.path))

        # started through node 1, then node 3 (which hosts no region)
        for version, via in (("v1", n1), ("v2", n3)):
            self.commit(version)
            e = self.finished(n3, self.ship(via), timeout=240)
            self.check_run(e, version)
        s, groups = n3.request("GET", "/applications/%s/serverGroups" % SEED)
        self.assertEqual(s, 200, groups)
        # red/black: v1's groups stay, disabled, on their region's node
        self.assertEqual(sorted((g["region"], g["node"], g["isDisabled"]) for g in groups),
                         [("east", id1, False), ("east", id1, True),
                          ("west", id2, False), ("west", id2, True)])

    def test_2_a_bake_waits_for_its_region(self):
        """With node 2 down, west's bake says so and waits; east goes on."""
        n1, n2, n3 = self.nodes
        if not self.ports:
            self.skipTest("needs the load balancers and pipeline of test_1")
        n2.kill9()
        wait_until(lambda: not self.node_list(n3)[self.address(n2)]["alive"],
                   timeout=LEASE_S + 2, interval=0.2, message="node 2 shown dead")
        try:
            self.commit("v3")
            exec_id = self.ship(n3)

            def west_bake():
                e = get_execution(n3, exec_id)
                return next((st for st in e["stages"] if st["name"] == "Bake in west"), None)
            why = wait_until(lambda: (west_bake() or {}).get("context", {})
                             .get("waitingForHost"), timeout=120, interval=0.3,
                             message="west's bake to say it waits for a node hosting west")
            self.assertIn("region west", why)
            self.assertEqual(west_bake()["status"], "RUNNING")
            def east_bake():
                e = get_execution(n1, exec_id)
                return next((st for st in e["stages"] if st["name"] == "Bake in east"
                             and st["status"] == "SUCCEEDED"), None)
            east = wait_until(east_bake, timeout=120, interval=0.3,
                              message="east's bake to finish meanwhile")
            self.assertEqual(east["node"], self.node_ids()[0])
        finally:
            n2.start()
        e = self.finished(n3, exec_id, timeout=240)
        west = next(st for st in e["stages"] if st["name"] == "Bake in west")
        self.assertIsNone(west["context"].get("waitingForHost"))
        self.check_run(e, "v3")

    def test_3_another_node_of_the_region_deploys_its_image(self):
        """Node 4 also hosts east; with node 1 (which baked east's image)
        down, a new cluster in east is deployed by node 4, which reads the
        image from the database."""
        n1, n2, n3 = self.nodes[:3]
        if not getattr(self, "images", None):
            self.skipTest("needs the bakes of test_1")
        image = self.images["east"]
        n4 = Server(extra_args=("--db", self.db_url, "--config", self.config,
                                "--host-regions", "east"), env=self.env).start()
        self.nodes.append(n4)
        n1.kill9()
        try:
            wait_until(lambda: not self.node_list(n3)[self.address(n1)]["alive"],
                       timeout=LEASE_S + 2, interval=0.2, message="node 1 shown dead")
            self.assertFalse(os.path.exists(os.path.join(n4.data_dir, "cloud", "images",
                                                         image)))
            save_pipeline(n3, {"application": SEED, "name": "canary", "stages": [
                {"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [
                    {"application": SEED, "stack": "canary", "freeFormDetails": "",
                     "account": "local", "cloudProvider": "local", "region": "east",
                     "capacity": {"min": 1, "max": 1, "desired": 1},
                     "strategy": "highlander", "image": image,
                     "healthCheck": {"path": "/health"}}]}]})
            s, b = n3.request("POST", "/pipelines/%s/canary" % SEED, {"type": "manual"})
            self.assertEqual(s, 202, b)
            self.finished(n3, b["ref"].split("/")[-1], timeout=120)
            id4 = self.node_list(n3)[self.address(n4)]["id"]

            def canary():
                s, groups = n3.request("GET", "/applications/%s/serverGroups" % SEED)
                return next((g for g in groups if g["cluster"] == "%s-canary" % SEED and
                             g["instanceCounts"]["up"] == 1), None)
            g = wait_until(canary, timeout=10, message="the canary group Up on node 4")
            self.assertEqual((g["region"], g["node"]), ("east", id4))
            self.assertTrue(os.path.exists(os.path.join(n4.data_dir, "cloud", "images", image)))
            # Up by its HTTP health check, a process of node 4
            s, full = n4.request("GET", "/instances/local/east/%s" % g["instances"][0]["id"])
            self.assertEqual(s, 200, full)
            self.assertTrue(full["workdir"].startswith(n4.data_dir + "/"), full)
        finally:
            n1.start()
            wait_until(lambda: self.node_list(n3)[self.address(n1)]["alive"], timeout=10,
                       message="node 1 alive again")

    def test_4_cancel_reaches_the_build_on_its_node(self):
        n1, n2, n3 = self.nodes[:3]
        save_pipeline(n3, {"application": SEED, "name": "long-build", "stages": [
            {"refId": "1", "type": "runJob", "name": "Build", "cloudProvider": "local",
             "account": "local", "command": ["sleep", "300"], "timeoutSeconds": 600}]})
        s, b = n3.request("POST", "/pipelines/%s/long-build" % SEED, {"type": "manual"})
        self.assertEqual(s, 202, b)
        exec_id = b["ref"].split("/")[-1]

        def started():
            st = get_execution(n3, exec_id)["stages"][0]
            return st if st.get("node") and st["context"].get("jobId") else None
        st = wait_until(started, timeout=60, interval=0.2, message="the build to start")
        ids = self.node_ids()
        runner = self.nodes[ids.index(st["node"])]
        other = next(n for n in self.nodes if n is not runner)
        job_dir = os.path.join(runner.data_dir, "jobs", st["context"]["jobId"])
        self.assertTrue(os.path.exists(os.path.join(job_dir, "job.json")), job_dir)
        # the log is read through the node that runs the job; another node
        # answers with the job as its stage knows it and where the log is
        job_path = "/applications/%s/jobs/local/local/%s" % (SEED, st["context"]["jobId"])
        s, text = runner.request("GET", job_path + "/logs")
        self.assertEqual(s, 200, text)
        self.assertIn("$ sleep 300", text)
        s, text = other.request("GET", job_path + "/logs")
        self.assertEqual(s, 200, text)
        self.assertIn("runs on node %s (%s)" % (st["node"], self.address(runner)), text)
        s, job = other.request("GET", job_path)
        self.assertEqual((s, job["node"], job["jobState"]), (200, st["node"], "Running"), job)
        s, b = other.request("PUT", "/pipelines/%s/cancel" % exec_id)
        self.assertIn(s, (200, 202), b)
        wait_until(lambda: get_execution(n3, exec_id)["status"] == "CANCELED", timeout=30,
                   interval=0.2, message="the execution to be canceled")
        exit_file = os.path.join(job_dir, "exit")
        wait_until(lambda: os.path.exists(exit_file), timeout=30, interval=0.2,
                   message="the job on node %d to be killed" % (ids.index(st["node"]) + 1))
        with open(exit_file) as f:
            self.assertIn("canceled", f.read())
        with open(os.path.join(job_dir, "job.json")) as f:
            pid = json.load(f)["pid"]
        def gone():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().split()[2] == "Z"
            except OSError:
                return True
        wait_until(gone, timeout=10, message="the job's processes to be gone")


    # -- a build's node dies --------------------------------------------------

    def start_build(self, name, command):
        save_pipeline(self.nodes[2], {"application": SEED, "name": name, "stages": [
            {"refId": "1", "type": "runJob", "name": "Build", "cloudProvider": "local",
             "account": "local", "command": command, "timeoutSeconds": 600}]})
        s, b = self.nodes[2].request("POST", "/pipelines/%s/%s" % (SEED, name),
                                     {"type": "manual"})
        self.assertEqual(s, 202, b)
        exec_id = b["ref"].split("/")[-1]

        def started():
            st = get_execution(self.nodes[2], exec_id)["stages"][0]
            return st if st.get("node") and st["context"].get("jobId") else None
        st = wait_until(started, timeout=60, interval=0.2, message="the build to start")
        runner = self.nodes[self.node_ids().index(st["node"])]
        job_dir = os.path.join(runner.data_dir, "jobs", st["context"]["jobId"])
        return exec_id, st, runner, job_dir

    def reader(self, runner):
        """A node other than runner (to read and act through)."""
        return next(n for n in self.nodes if n is not runner)

    def test_5_a_build_waits_for_its_node(self):
        """The node running a build is killed: the build says it waits for
        that node, whose job runs on, and completes when the node is back."""
        exec_id, st, runner, job_dir = self.start_build(
            "slow-build", ["sh", "-c", "sleep 3; echo built > out.txt"])
        other = self.reader(runner)
        runner.kill9()
        try:
            def waiting():
                return get_execution(other, exec_id)["stages"][0]["context"].get(
                    "waitingForHost")
            why = wait_until(waiting, timeout=LEASE_S + 10, interval=0.2,
                             message="the build to say it waits for its node")
            self.assertIn(st["node"], why)
            self.assertIn("not alive", why)
            self.assertEqual(get_execution(other, exec_id)["status"], "RUNNING")
            # the job itself outlives the node (a detached process chain)
            wait_until(lambda: os.path.exists(os.path.join(job_dir, "exit")), timeout=30,
                       message="the job to finish on its own")
        finally:
            runner.start()
        e = self.finished(other, exec_id, timeout=60)
        build = e["stages"][0]
        self.assertEqual(build["node"], st["node"])
        self.assertIsNone(build["context"].get("waitingForHost"))
        self.assertEqual(build["context"]["jobExitCode"], 0)

    def test_6_a_cancel_does_not_wait_for_a_dead_node(self):
        """A build is canceled while its node is dead: the execution is
        CANCELED at once, and the job is killed when its node returns."""
        exec_id, st, runner, job_dir = self.start_build("stuck-build", ["sleep", "120"])
        other = self.reader(runner)
        with open(os.path.join(job_dir, "job.json")) as f:
            pid = json.load(f)["pid"]
        runner.kill9()
        try:
            wait_until(lambda: not self.node_list(other)[self.address(runner)]["alive"],
                       timeout=LEASE_S + 2, interval=0.2, message="the runner shown dead")
            s, b = other.request("PUT", "/pipelines/%s/cancel" % exec_id)
            self.assertIn(s, (200, 202), b)
            wait_until(lambda: get_execution(other, exec_id)["status"] == "CANCELED",
                       timeout=15, interval=0.2,
                       message="the cancel to end the execution without the node")
            self.assertFalse(os.path.exists(os.path.join(job_dir, "exit")))
            # a node that may never return: the stage restarted runs afresh
            # on a live node (and is canceled again, not to sleep on)
            s, b = other.request("PUT", "/pipelines/%s/stages/%s/restart" % (exec_id, st["id"]),
                                 {})
            self.assertIn(s, (200, 202), b)

            def rerun():
                e = get_execution(other, exec_id)
                b2 = e["stages"][0]
                return b2 if (b2.get("node") and b2["context"].get("jobId") and
                              b2["context"].get("jobStartTime", 0) >
                              st["context"].get("jobStartTime", 0)) else None
            again = wait_until(rerun, timeout=60, interval=0.2,
                               message="the restarted build to start on a live node")
            self.assertNotEqual(again["node"], st["node"])
            listed = self.node_list(other)  # node 3 may be the dead one
            live = next(n for n in self.nodes
                        if listed[self.address(n)]["id"] == again["node"])
            s, b = other.request("PUT", "/pipelines/%s/cancel" % exec_id)
            self.assertIn(s, (200, 202), b)
            again_exit = os.path.join(live.data_dir, "jobs", again["context"]["jobId"], "exit")
            wait_until(lambda: os.path.exists(again_exit), timeout=30, interval=0.2,
                       message="the restarted build killed on its live node")
        finally:
            runner.start()
            try:
                exit_file = os.path.join(job_dir, "exit")
                wait_until(lambda: os.path.exists(exit_file), timeout=30, interval=0.2,
                           message="the job killed once its node is back")
                with open(exit_file) as f:
                    self.assertIn("canceled", f.read())
            finally:
                try:
                    os.killpg(pid, 9)  # whatever the outcome, no sleep is left behind
                except OSError:
                    pass

    def sql(self, statement):
        out = subprocess.run([pg_bin("psql"), "-h", self.pg.dir, "-p", str(self.pg.port),
                              "-U", self.pg.user, "-d", "nodes", "-v", "ON_ERROR_STOP=1",
                              "-Atc", statement], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    def test_7_a_build_publishes_once_the_database_takes_it(self):
        """The shared copy of a build's artifact cannot be written (its
        table is away): the build waits, saying so, and publishes once it
        can; another node then serves the artifact."""
        n3 = self.nodes[2]
        save_pipeline(n3, {"application": SEED, "name": "publish", "stages": [
            {"refId": "1", "type": "runJob", "name": "Build", "cloudProvider": "local",
             "account": "local", "command": ["sh", "-c", "date +%s%N > out.txt"],
             "outputArtifacts": [{"name": "stamp", "path": "out.txt"}]}]})
        self.sql("ALTER TABLE blob_chunks RENAME TO blob_chunks_away")
        try:
            s, b = n3.request("POST", "/pipelines/%s/publish" % SEED, {"type": "manual"})
            self.assertEqual(s, 202, b)
            exec_id = b["ref"].split("/")[-1]

            def waiting():
                ctx = get_execution(n3, exec_id)["stages"][0]["context"]
                return ctx.get("waitingFor")
            why = wait_until(waiting, timeout=60, interval=0.2,
                             message="the build to wait for the shared store")
            self.assertIn("output artifact stamp", why)
            self.assertEqual(get_execution(n3, exec_id)["status"], "RUNNING")
        finally:
            self.sql("ALTER TABLE blob_chunks_away RENAME TO blob_chunks")
        e = self.finished(n3, exec_id, timeout=60)
        build = e["stages"][0]
        self.assertIsNone(build["context"].get("waitingFor"))
        art = build["outputs"]["artifacts"][0]
        self.assertEqual(self.sql("SELECT count(*) FROM blobs WHERE sha256 = '%s'" %
                                  art["reference"]), "1")
        runner = self.nodes[self.node_ids().index(build["node"])]
        other = self.reader(runner)
        s, body = other.request("GET", "/artifacts/local/%s" % art["reference"])
        self.assertEqual(s, 200, body)
        with open(os.path.join(runner.data_dir, "artifacts", art["reference"])) as f:
            self.assertEqual(str(body).strip(), f.read().strip())

    def image_via(self, node, image_id):
        return node.request("GET", "/images/local/east/%s?single=true" % image_id)

    def test_8_images_across_nodes(self):
        """An image baked in east (node 1 or 4) is seen, tagged and deleted
        through nodes that never had it, with the baker down."""
        n2, n3 = self.nodes[1], self.nodes[2]
        stamp = str(time.time_ns())
        save_pipeline(n3, {"application": SEED, "name": "bake-only", "stages": [
            {"refId": "build", "type": "runJob", "name": "Build", "cloudProvider": "local",
             "account": "local", "command": ["sh", "-c", "mkdir -p dist && echo %s > "
                                             "dist/stamp.txt" % stamp],
             "outputArtifacts": [{"name": "imgs-app", "path": "dist"}]},
            {"refId": "bake", "type": "bake", "name": "Bake", "requisiteStageRefIds": ["build"],
             "cloudProviderType": "local", "package": "imgs-app", "regions": ["east"],
             "startCommand": ["sleep", "600"]}]})
        s, b = n3.request("POST", "/pipelines/%s/bake-only" % SEED, {"type": "manual"})
        self.assertEqual(s, 202, b)
        e = self.finished(n3, b["ref"].split("/")[-1], timeout=180)
        bake = next(st for st in e["stages"] if st["name"] == "Bake in east")
        image = bake["outputs"]["deploymentDetails"][0]["imageId"]
        baker = self.nodes[self.node_ids().index(bake["node"])]
        others = [n for n in self.nodes if n is not baker]
        have = [n.port for n in others
                if os.path.exists(os.path.join(n.data_dir, "cloud", "images", image))]
        self.assertEqual(have, [], "only the baker has image %s" % image)
        self.assertTrue(os.path.exists(os.path.join(baker.data_dir, "cloud", "images", image)))

        baker.kill9()
        try:
            wait_until(lambda: not self.node_list(n3)[self.address(baker)]["alive"],
                       timeout=LEASE_S + 2, interval=0.2, message="the baker shown dead")
            # the routes of a node that never had it
            s, found = n2.request("GET", "/images/find?provider=local&q=imgs-app")
            self.assertEqual(s, 200, found)
            self.assertIn(image, [im["imageId"] for im in found])
            s, im = self.image_via(n2, image)
            self.assertEqual(s, 200, im)
            self.assertEqual((im["imageId"], im["package"], im["tags"]), (image, "imgs-app", {}))
            s, im = n2.request("PUT", "/images/local/east/%s/tags" % image,
                               {"tags": {"stage": "canary", "owner": "ops"}})
            self.assertEqual(s, 200, im)
            self.assertEqual(im["tags"], {"stage": "canary", "owner": "ops"})
            s, im = self.image_via(n3, image)
            self.assertEqual((s, im["tags"]), (200, {"stage": "canary", "owner": "ops"}), im)

            # the stages, on nodes without the image (the baker is down)
            save_pipeline(n3, {"application": SEED, "name": "promote", "stages": [
                {"refId": "find", "type": "findImageFromTags", "name": "Find",
                 "cloudProvider": "local", "packageName": "imgs-app",
                 "tags": {"stage": "canary"}, "regions": ["east"]},
                {"refId": "tag", "type": "upsertImageTags", "name": "Tag",
                 "requisiteStageRefIds": ["find"], "cloudProvider": "local",
                 "tags": {"stage": "prod", "owner": None}}]})
            s, b = n2.request("POST", "/pipelines/%s/promote" % SEED, {"type": "manual"})
            self.assertEqual(s, 202, b)
            e = self.finished(n2, b["ref"].split("/")[-1], timeout=120)
            find = next(st for st in e["stages"] if st["name"] == "Find")
            self.assertEqual(find["context"]["imageId"], image)
            for via in (n2, n3):
                s, im = self.image_via(via, image)
                self.assertEqual((s, im["tags"]), (200, {"stage": "prod"}), im)
        finally:
            baker.start()
            wait_until(lambda: self.node_list(n3)[self.address(baker)]["alive"], timeout=20,
                       message="the baker alive again")
        # the database's record is the truth on the baker too
        s, im = self.image_via(baker, image)
        self.assertEqual((s, im["tags"]), (200, {"stage": "prod"}), im)

        # an image a server group of another node uses is not deleted
        if getattr(self, "images", None):
            s, body = n2.request("DELETE", "/images/local/east/%s" % self.images["east"])
            self.assertEqual(s, 409, body)
            s, body = self.image_via(n3, self.images["east"])
            self.assertEqual(s, 200, body)

        # deleteImage through another node: gone for every node
        save_pipeline(n3, {"application": SEED, "name": "drop", "stages": [
            {"refId": "1", "type": "deleteImage", "name": "Delete", "cloudProvider": "local",
             "imageIds": [image]}]})
        s, b = n2.request("POST", "/pipelines/%s/drop" % SEED, {"type": "manual"})
        self.assertEqual(s, 202, b)
        self.finished(n2, b["ref"].split("/")[-1], timeout=120)
        for via in self.nodes:
            s, body = self.image_via(via, image)
            self.assertEqual(s, 404, body)
            s, found = via.request("GET", "/images/find?provider=local&q=imgs-app")
            self.assertNotIn(image, [im["imageId"] for im in found])
        s, body = n3.request("DELETE", "/images/local/east/%s" % image)
        self.assertEqual(s, 404, body)
        # and no node deploys it: the deploy fails, the baker's copy goes
        save_pipeline(n3, {"application": SEED, "name": "ghost", "stages": [
            {"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [
                {"application": SEED, "stack": "ghost", "freeFormDetails": "",
                 "account": "local", "cloudProvider": "local", "region": "east",
                 "capacity": {"min": 1, "max": 1, "desired": 1},
                 "strategy": "highlander", "image": image}]}]})
        s, b = n3.request("POST", "/pipelines/%s/ghost" % SEED, {"type": "manual"})
        self.assertEqual(s, 202, b)
        exec_id = b["ref"].split("/")[-1]
        e = wait_until(lambda: (lambda x: x if x["status"] not in ("RUNNING", "NOT_STARTED")
                                else None)(get_execution(n3, exec_id)),
                       timeout=120, interval=0.3, message="the ghost deploy to end")
        self.assertEqual(e["status"], "TERMINAL", e["stages"])
        self.assertIn("deleted", json.dumps(e["stages"]))
        s, groups = n3.request("GET", "/applications/%s/serverGroups" % SEED)
        self.assertEqual(s, 200, groups)
        self.assertEqual([g["name"] for g in groups if g["cluster"] == "%s-ghost" % SEED], [])


if __name__ == "__main__":
    unittest.main()
