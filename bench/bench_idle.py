"""bench/bench_idle.py MIZZEN_BIN - the idle cost of triggers (issue 9).

Two servers of the same binary in the same run:
  baseline: one pipeline config (with one webhook trigger);
  loaded:   the same config plus 2,000 configs with triggers (cron schedules
            that do not fire during the run, webhooks of other sources, git
            webhooks, pipeline triggers).
For each: CPU time (utime + stime from /proc) over an idle window, as a
percentage of one core; then the time to dispatch 200 webhook events that
start that one pipeline (posted back to back, until the last one is
processed), per event.

Prints RESULT|figure|mizzen|baseline|ratio|target|met? lines for bench/run.
"""
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("MIZZEN_BIN", sys.argv[1] if len(sys.argv) > 1 else "build/mizzen")

from mizzen_harness import Server, wait_until  # noqa: E402
from mizzen_flow import create_app, save_pipeline  # noqa: E402

CONFIGS = int(os.environ.get("MZ_BENCH_IDLE_CONFIGS", "2000"))
IDLE_SECONDS = float(os.environ.get("MZ_BENCH_IDLE_SECONDS", "20"))
EVENTS = 200
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def trigger_for(i):
    kind = i % 4
    if kind == 0:
        # Fires on 1 January at 03:00 only: never during the run.
        return {"type": "cron", "enabled": True, "cronExpression": "0 0 3 1 1 ? *"}
    if kind == 1:
        return {"type": "webhook", "enabled": True, "source": "other-%d" % i}
    if kind == 2:
        return {"type": "git", "enabled": True, "source": "github",
                "project": "org", "slug": "repo-%d" % i, "branch": "main"}
    return {"type": "pipeline", "enabled": True, "pipeline": "no-such-pipeline-%d" % i,
            "status": ["successful"]}


def prepare(srv, configs):
    create_app(srv, "idle")
    save_pipeline(srv, {"application": "idle", "name": "target",
                        "triggers": [{"type": "webhook", "enabled": True, "source": "bench"}],
                        "stages": [{"refId": "1", "type": "wait", "waitTime": 0}]})
    for i in range(configs):
        status, body = srv.request("POST", "/pipelines", {
            "application": "idle", "name": "p%04d" % i, "triggers": [trigger_for(i)],
            "stages": [{"refId": "1", "type": "wait", "waitTime": 1}]})
        assert status == 200, (status, body)


def idle_cpu(srv):
    time.sleep(3)  # let the index build and the save burst settle
    c0, t0 = cpu_seconds(srv.proc.pid), time.monotonic()
    time.sleep(IDLE_SECONDS)
    c1, t1 = cpu_seconds(srv.proc.pid), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0)


def dispatch_ms(srv):
    ids = []
    t0 = time.monotonic()
    for i in range(EVENTS):
        status, body = srv.request("POST", "/webhooks/webhook/bench", {"n": i})
        assert status == 200, (status, body)
        ids.append(body["eventId"])

    def processed():
        status, body = srv.request("GET", "/webhooks/events/" + ids[-1])
        return status == 200 and body.get("processed")
    wait_until(processed, timeout=120, interval=0.01, message="the last event processed")
    elapsed = time.monotonic() - t0
    status, body = srv.request("GET", "/webhooks/events/" + ids[0])
    assert len(body["result"]["executions"]) == 1, body
    return 1000.0 * elapsed / EVENTS


def measure(configs):
    srv = Server(start_timeout=30)
    try:
        srv.start()
        prepare(srv, configs)
        cpu = idle_cpu(srv)
        per_event = dispatch_ms(srv)
        return cpu, per_event
    finally:
        srv.close()


def main():
    base_cpu, base_ev = measure(0)
    print("baseline (1 config): idle CPU %.2f%% of a core; %.2f ms per webhook event"
          % (base_cpu, base_ev))
    cpu, ev = measure(CONFIGS)
    print("%d configs with triggers: idle CPU %.2f%% of a core; %.2f ms per webhook event"
          % (CONFIGS, cpu, ev))

    def ratio(a, b):
        return "%.2f" % (a / b) if b > 0 else "-"
    print("RESULT|idle CPU, %d configs with triggers (%% of a core)|%.2f|%.2f (1 config)|%s|"
          "<= 1 %%|%s" % (CONFIGS, cpu, base_cpu, ratio(cpu, base_cpu),
                          "yes" if cpu <= 1.0 else "NO"))
    print("RESULT|webhook event dispatch, %d configs (ms/event) [info]|%.2f|%.2f (1 config)|%s|"
          "(info)|-" % (CONFIGS, ev, base_ev, ratio(ev, base_ev)))


if __name__ == "__main__":
    main()
