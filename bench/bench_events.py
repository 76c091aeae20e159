"""bench/bench_events.py MIZZEN_BIN - the event stream at 5,000 subscribers
(issue 9; DESIGN.md target: >= 5,000 concurrent GET /events subscribers,
<= 60 MB more RSS, a change reaches all within 1 s).

Two servers of the same binary, one after the other, in the same run:
  memory:   RSS added by 5,000 subscribers, beside the RSS added by 5,000
            plain connections that sent half a request line (the cost of a
            connection as such; on a second, fresh server of the same
            binary, since freed memory stays in malloc's arenas);
  delivery: time from triggering a pipeline to the moment all 5,000
            subscribers have its first execution event, beside the same
            with one subscriber.
Subscribers connect from 127.0.0.1 to 127.0.0.4 (loopback accepts any
127/8 source), as many clients would, under the per-address cap.

Prints RESULT|figure|mizzen|baseline|ratio|target|met? lines for bench/run.
"""
import os
import selectors
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("MIZZEN_BIN", sys.argv[1] if len(sys.argv) > 1 else "build/mizzen")

import mizzen_harness  # noqa: E402
from mizzen_harness import Server  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution  # noqa: E402

SUBSCRIBERS = int(os.environ.get("MZ_BENCH_EVENT_SUBSCRIBERS", "5000"))
SOURCES = 4


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def auth_line(srv):
    make = getattr(mizzen_harness, "authorization", None)
    cred = getattr(srv, "credentials", None)
    value = make(cred) if make and cred else None
    return "Authorization: %s\r\n" % value if value else ""


def connect(srv, i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.%d" % (1 + i % SOURCES), 0))
    s.connect(("127.0.0.1", srv.port))
    return s


class Subscribers:
    def __init__(self, srv, n):
        self.sel = selectors.DefaultSelector()
        self.socks, self.data = [], {}
        req = ("GET /events?application=bench HTTP/1.1\r\nHost: x\r\n%s\r\n"
               % auth_line(srv)).encode()
        for i in range(n):
            s = connect(srv, i)
            s.sendall(req)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, i)
            self.socks.append(s)
            self.data[i] = b""

    def wait_for(self, marker, timeout=30):
        """Seconds until every subscriber has marker (None on timeout)."""
        t0 = time.monotonic()
        waiting = {i for i, d in self.data.items() if marker not in d}
        while waiting:
            if time.monotonic() - t0 > timeout:
                return None
            for key, _ in self.sel.select(0.2):
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    return None
                self.data[key.data] += chunk
                if marker in self.data[key.data]:
                    waiting.discard(key.data)
        return time.monotonic() - t0

    def close(self):
        for s in self.socks:
            self.sel.unregister(s)
            s.close()


def settle(pid, seconds=1.0):
    time.sleep(seconds)
    return rss_mb(pid)


def delivery_ms(srv, n, runs=3):
    """Median over runs of the time from triggering a pipeline to its first
    execution event at every one of n subscribers (None if one never came)."""
    times = []
    subs = Subscribers(srv, n)
    try:
        if subs.wait_for(b"event: hello") is None:
            return None
        for _ in range(runs):
            t0 = time.monotonic()
            exec_id = run_pipeline(srv, "bench", "tick")
            if subs.wait_for(exec_id.encode(), timeout=30) is None:
                return None
            times.append((time.monotonic() - t0) * 1000)
            wait_execution(srv, exec_id)
    finally:
        subs.close()
    return sorted(times)[len(times) // 2]


def main():
    with Server() as srv:
        pid = srv.proc.pid
        create_app(srv, "bench")
        save_pipeline(srv, {"application": "bench", "name": "tick",
                            "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]})

        # subscribers, first, on a server that never had that many
        # connections (memory freed later stays in malloc's arenas and would
        # flatter whatever comes after)
        before = settle(pid)
        subs = Subscribers(srv, SUBSCRIBERS)
        ok = subs.wait_for(b"event: hello") is not None
        sub_mb = settle(pid) - before if ok else None
        subs.close()

        one_ms = delivery_ms(srv, 1)
        all_ms = delivery_ms(srv, SUBSCRIBERS)

    # baseline memory, on a fresh server of the same binary: as many plain
    # connections that never finish their request line
    with Server() as srv:
        pid = srv.proc.pid
        before = settle(pid)
        idle = [connect(srv, i) for i in range(SUBSCRIBERS)]
        for s in idle:
            s.sendall(b"GET /events HTTP/1.1\r\n")
        idle_mb = settle(pid) - before
        for s in idle:
            s.close()

    print("RSS added by %d subscribers: %s MB; by %d half-open connections: %.1f MB"
          % (SUBSCRIBERS, "-" if sub_mb is None else "%.1f" % sub_mb, SUBSCRIBERS, idle_mb))
    print("one change reaches %d subscribers in %s ms; 1 subscriber in %s ms"
          % (SUBSCRIBERS, "-" if all_ms is None else "%.0f" % all_ms,
             "-" if one_ms is None else "%.0f" % one_ms))

    def fmt(v, spec):
        return "-" if v is None else spec % v

    def ratio(a, b):
        return "-" if a is None or b is None or b == 0 else "%.2f" % (a / b)
    print("RESULT|event stream: RSS added by %d subscribers (MB)|%s|%s (as many idle conns)|%s|"
          "<= 60 MB|%s" % (SUBSCRIBERS, fmt(sub_mb, "%.1f"), fmt(idle_mb, "%.1f"),
                           ratio(sub_mb, idle_mb),
                           "yes" if sub_mb is not None and sub_mb <= 60 else "NO"))
    print("RESULT|event stream: a change reaches %d subscribers (ms)|%s|%s (1 subscriber)|%s|"
          "<= 1000 ms|%s" % (SUBSCRIBERS, fmt(all_ms, "%.0f"), fmt(one_ms, "%.0f"),
                             ratio(all_ms, one_ms),
                             "yes" if all_ms is not None and all_ms <= 1000 else "NO"))


if __name__ == "__main__":
    main()
