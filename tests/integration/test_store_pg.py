"""The store's unit tests (tests/unit/test_store.c) against a throwaway
PostgreSQL: every operation is written once over two drivers, and this
runs all of them on the second."""
import os
import subprocess
import unittest

from pg_harness import Postgres


def store_test_binary():
    # build/mizzen -> build/tests/test_store
    path = os.path.join(os.path.dirname(os.environ.get("MIZZEN_BIN", "build/mizzen")),
                        "tests", "test_store")
    return path if os.access(path, os.X_OK) else None


class StoreOnPostgres(unittest.TestCase):
    def test_every_operation(self):
        binary = store_test_binary()
        if not binary:
            self.skipTest("tests/test_store not built (cmocka missing)")
        pg = Postgres().start()
        try:
            url = pg.createdb("store")
            env = dict(os.environ, MZ_TEST_STORE_URL=url)
            proc = subprocess.run([binary], env=env, capture_output=True, text=True,
                                  timeout=120)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn("PASSED", proc.stdout + proc.stderr)
        finally:
            pg.stop()


if __name__ == "__main__":
    unittest.main()
