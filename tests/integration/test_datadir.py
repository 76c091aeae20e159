"""The data directory (issue 9): one server per data directory, and a
server whose disk is full neither spins nor lies and finishes its work once
space returns.
"""
import os
import subprocess
import time
import unittest

from mizzen_harness import Server, binary, free_port


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


if __name__ == "__main__":
    unittest.main()
