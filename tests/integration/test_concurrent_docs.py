"""Projects and pipeline templates are whole documents that every change
reads and writes back: concurrent writers through the API must all be
kept. Several clients at once create templates (POST
/v2/pipelineTemplates/create) and projects (the upsertProject task), on one
server with SQLite and on two nodes sharing one PostgreSQL, each client
alternating between the nodes; then every template and project is listed.
"""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mizzen_harness import Server  # noqa: E402
from mizzen_flow import create_app  # noqa: E402
from cloud_util import run_task  # noqa: E402
from pg_harness import Postgres  # noqa: E402

APP = "docsapp"
CLIENTS = 8
ROUNDS = 4


def write_all(nodes):
    """CLIENTS threads, each making ROUNDS templates and projects through
    the nodes in turn; returns the failures."""
    failures = []
    lock = threading.Lock()

    def client(n):
        for i in range(ROUNDS):
            srv = nodes[(n + i) % len(nodes)]
            tid = "tmpl-%d-%d" % (n, i)
            s, b = srv.request("POST", "/v2/pipelineTemplates/create", {
                "schema": "v2", "id": tid,
                "metadata": {"name": tid, "owner": "t@example.com", "scopes": ["global"]},
                "variables": [], "pipeline": {"stages": [
                    {"refId": "1", "type": "wait", "name": "w", "waitTime": 0}]}})
            if s != 202:
                with lock:
                    failures.append((tid, s, b))
            name = "proj-%d-%d" % (n, i)
            t = run_task(srv, APP, [{"type": "upsertProject", "project": {
                "name": name, "email": "t@example.com",
                "config": {"applications": [APP], "clusters": [], "pipelineConfigs": []}}}],
                timeout=60)
            if t["status"] != "SUCCEEDED":
                with lock:
                    failures.append((name, t["status"]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


class ConcurrentDocs:
    nodes = []

    def test_concurrent_writers_lose_nothing(self):
        create_app(self.nodes[0], APP)
        self.assertEqual(write_all(self.nodes), [])
        want_t = {"tmpl-%d-%d" % (n, i) for n in range(CLIENTS) for i in range(ROUNDS)}
        want_p = {"proj-%d-%d" % (n, i) for n in range(CLIENTS) for i in range(ROUNDS)}
        for via in self.nodes:
            s, tmpls = via.request("GET", "/v2/pipelineTemplates")
            self.assertEqual(s, 200, tmpls)
            self.assertEqual({t["id"] for t in tmpls} & want_t, want_t)
            s, projects = via.request("GET", "/projects")
            self.assertEqual(s, 200, projects)
            self.assertEqual({p["name"] for p in projects} & want_p, want_p)


class OnSQLite(ConcurrentDocs, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = [Server().start()]

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.close()


class OnPostgresTwoNodes(ConcurrentDocs, unittest.TestCase):
    pg = None

    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()
        url = cls.pg.createdb("docs")
        cls.nodes = []
        try:
            first = Server(extra_args=("--db", url)).start()
            cls.nodes.append(first)
            cls.nodes.append(Server(extra_args=("--db", url),
                                    credentials=first.credentials).start())
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


if __name__ == "__main__":
    unittest.main()
