"""The same pipeline flows and kill -9 test, with the store in PostgreSQL
(`mizzen serve --db postgres://...`) instead of SQLite."""
import unittest

import test_crash
import test_pipelines
from pg_harness import Postgres

PG = None


def setUpModule():
    global PG
    PG = Postgres().start()


def tearDownModule():
    if PG:
        PG.stop()


class PipelineFlowsOnPostgres(test_pipelines.PipelineFlows):
    @classmethod
    def setUpClass(cls):
        cls.server_args = ("--db", PG.createdb("flows"))
        super().setUpClass()


class KillNineOnPostgres(test_crash.KillNine):
    def setUp(self):
        self.server_args = ("--db", PG.createdb("crash"))


def load_tests(loader, tests, pattern):
    # only the PostgreSQL variants, not the imported SQLite classes
    suite = unittest.TestSuite()
    for cls in (PipelineFlowsOnPostgres, KillNineOnPostgres):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite


if __name__ == "__main__":
    unittest.main()
