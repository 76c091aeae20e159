"""The HTTP server's limits, against the real binary: many idle sockets from
one address leave other clients served; slow headers and bodies are
dropped at their deadlines; half-sent 8 MB bodies cannot take the memory;
1,000 event-stream subscribers all get a change; a closed stream frees its
connection at once.

Ordinary requests go through the harness (srv.request); the slow and idle
clients are raw sockets, which sign in with the header the harness uses.
"""
import json
import os
import selectors
import socket
import time
import unittest

import mizzen_harness
from config_util import config_file, start_refused
from mizzen_harness import Server, wait_until
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution


def auth_line(srv):
    """The Authorization header line the harness signs in with ("" while the
    server has no authentication)."""
    make = getattr(mizzen_harness, "authorization", None)
    cred = getattr(srv, "credentials", None)
    value = make(cred) if make and cred else None
    return "Authorization: %s\r\n" % value if value else ""


def connect(srv, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", srv.port))
    return s


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def open_sockets(pid):
    """How many sockets the server process holds."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def raw_get(srv, path, source):
    """GET over a raw socket from another source address; (status, seconds)."""
    t0 = time.monotonic()
    s = connect(srv, source)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
               % (path, auth_line(srv))).encode())
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ")[1]), time.monotonic() - t0


class Streams:
    """n raw GET /events subscribers, read together with one selector."""

    def __init__(self, srv, n, app):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.data = {}
        request = ("GET /events?application=%s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                   % (app, auth_line(srv))).encode()
        for i in range(n):
            s = connect(srv, "127.0.0.1")
            s.sendall(request)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, i)
            self.socks.append(s)
            self.data[i] = b""

    def read_until(self, marker, timeout):
        """Reads until every stream has received marker; returns the time
        it took, or raises naming how many did."""
        t0 = time.monotonic()
        waiting = {i for i in self.data if marker not in self.data[i]}
        while waiting:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise AssertionError("%d of %d streams did not receive %r within %.1f s"
                                     % (len(waiting), len(self.data), marker, timeout))
            for key, _ in self.sel.select(min(left, 0.5)):
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise AssertionError("stream %d was closed by the server" % key.data)
                self.data[key.data] += chunk
                if marker in self.data[key.data]:
                    waiting.discard(key.data)
        return time.monotonic() - t0

    def close(self):
        for s in self.socks:
            self.sel.unregister(s)
            s.close()
        self.socks = []


class DefaultLimitsTest(unittest.TestCase):
    """One server with the default limits."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()
        create_app(cls.server, "limits")
        save_pipeline(cls.server, {
            "application": "limits", "name": "tick",
            "stages": [{"refId": "1", "type": "wait", "name": "Wait", "waitTime": 0}]})

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_idle_connections_from_one_address_leave_others_served(self):
        idle = [connect(self.server, "127.0.0.1") for _ in range(1100)]
        try:
            # half a request line on each, never finished
            for s in idle:
                s.sendall(b"GET /applications HTTP/1.1\r\n")
            status, took = raw_get(self.server, "/health", "127.0.0.2")
            self.assertEqual(status, 200)
            self.assertLess(took, 1.0)
            t0 = time.monotonic()
            status, _ = self.server.request("GET", "/applications")
            self.assertEqual(status, 200)
            self.assertLess(time.monotonic() - t0, 1.0)
        finally:
            for s in idle:
                s.close()

    def test_half_sent_bodies_do_not_take_the_memory(self):
        pid = self.server.proc.pid
        before = rss_mb(pid)
        size = 8 * 1024 * 1024 - 1024
        head = ("POST /pipelines HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (auth_line(self.server), size)).encode()
        half = b"[" + b" " * (size // 2)
        socks, refused = [], 0
        try:
            for _ in range(100):
                s = connect(self.server, "127.0.0.1")
                socks.append(s)
                try:
                    s.sendall(head)
                    s.sendall(half)
                except OSError:
                    refused += 1  # answered and closed before the body was read
            peak = rss_mb(pid)
            status, _ = self.server.request("GET", "/health")
            self.assertEqual(status, 200)
            # the refused ones got a JSON 503
            answers = []
            for s in socks:
                s.setblocking(False)
                try:
                    answers.append(s.recv(4096))
                except OSError:
                    pass
            busy = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
            self.assertGreater(len(busy) + refused, 50, answers[:3])
            if busy:
                body = json.loads(busy[0].split(b"\r\n\r\n", 1)[1] or b"{}")
                self.assertEqual(body.get("status"), 503, busy[0])
                self.assertIn("bodyMemoryMB", body.get("message", ""))
        finally:
            for s in socks:
                s.close()
        # 64 MiB of bodies in flight at most, plus what the server had
        self.assertLess(peak - before, 160, "RSS %.0f MB -> %.0f MB" % (before, peak))
        status, _ = self.server.request("GET", "/applications")
        self.assertEqual(status, 200)

    def test_a_thousand_subscribers_all_get_a_change(self):
        streams = Streams(self.server, 1000, "limits")
        try:
            streams.read_until(b"event: hello", 20)
            exec_id = run_pipeline(self.server, "limits", "tick")
            took = streams.read_until(exec_id.encode(), 10)
            self.assertLess(took, 5.0)
            wait_execution(self.server, exec_id)
        finally:
            streams.close()

    def settled_sockets(self):
        """The server's socket count once it stopped changing (other tests'
        connections closing)."""
        pid = self.server.proc.pid
        last = [None]

        def same():
            n = open_sockets(pid)
            done = n == last[0]
            last[0] = n
            return done
        wait_until(same, timeout=10, interval=0.2, message="the socket count to settle")
        return last[0]

    def test_closed_streams_free_their_connections_at_once(self):
        pid = self.server.proc.pid
        base = self.settled_sockets()
        # one stream: its connection goes as soon as the client closes it
        one = Streams(self.server, 1, "limits")
        one.read_until(b"event: hello", 10)
        self.assertEqual(open_sockets(pid), base + 1)
        t0 = time.monotonic()
        one.close()
        wait_until(lambda: open_sockets(pid) <= base, timeout=5, interval=0.005,
                   message="the server to close the stream")
        self.assertLess(time.monotonic() - t0, 0.5)
        # and 200 at once
        streams = Streams(self.server, 200, "limits")
        try:
            streams.read_until(b"event: hello", 20)
            self.assertGreaterEqual(open_sockets(pid), base + 200)
        finally:
            t0 = time.monotonic()
            streams.close()
        wait_until(lambda: open_sockets(pid) <= base, timeout=5, interval=0.02,
                   message="the server to close the 200 streams")
        self.assertLess(time.monotonic() - t0, 1.5)


class DeadlinesTest(unittest.TestCase):
    """Short deadlines, to see them act."""

    @classmethod
    def setUpClass(cls):
        cls.cfg = config_file({"server": {"headerTimeoutSeconds": 2,
                                          "bodyTimeoutSeconds": 3}})
        cls.server = Server(extra_args=["--config", cls.cfg]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        os.unlink(cls.cfg)

    def closed_after(self, s, trickle=None, limit=10.0):
        """Seconds until the server closes s; trickle bytes are sent one by
        one every 0.4 s meanwhile (activity that an idle timeout would
        count)."""
        t0 = time.monotonic()
        s.settimeout(0.4)
        i = 0
        while time.monotonic() - t0 < limit:
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            except OSError:
                return time.monotonic() - t0
            if trickle and i < len(trickle):
                try:
                    s.send(trickle[i:i + 1])
                except OSError:
                    return time.monotonic() - t0
                i += 1
        return None

    def test_slow_headers_are_dropped(self):
        s = connect(self.server)
        took = self.closed_after(s, trickle=b"GET /applications HTTP/1.1\r\nX-Slow: " + b"a" * 100)
        s.close()
        self.assertIsNotNone(took, "a client trickling its headers was never dropped")
        self.assertGreater(took, 1.5)
        self.assertLess(took, 4.0)

    def test_slow_body_is_dropped(self):
        s = connect(self.server)
        s.sendall(("POST /pipelines HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                   "Content-Length: 1000\r\n\r\n{" % auth_line(self.server)).encode())
        took = self.closed_after(s, trickle=b" " * 100)
        s.close()
        self.assertIsNotNone(took, "a client trickling its body was never dropped")
        self.assertGreater(took, 2.5)
        self.assertLess(took, 5.0)

    def test_idle_keep_alive_is_closed_and_fast_requests_are_not(self):
        s = connect(self.server)
        req = ("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").encode()
        for _ in range(3):
            s.sendall(req)
            data = s.recv(4096)
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
            time.sleep(1)  # well inside the header deadline each time
        took = self.closed_after(s)
        s.close()
        self.assertIsNotNone(took)
        self.assertLess(took, 4.0)

    def test_bad_server_settings_stop_start_up(self):
        for bad, field in (({"maxConnectionsPerAddress": 0}, "maxConnectionsPerAddress"),
                           ({"connectionMemoryKB": 4}, "connectionMemoryKB"),
                           ({"bodyMemoryMB": "lots"}, "bodyMemoryMB")):
            status, stderr = start_refused({"server": bad})
            self.assertEqual(status, 2, stderr)
            self.assertIn("server." + field, stderr)


if __name__ == "__main__":
    unittest.main()
