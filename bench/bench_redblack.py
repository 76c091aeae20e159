"""bench/bench_redblack.py MIZZEN_BIN - red/black of 3 instances on the local
cloud: a mizzen server with a load balancer and v1 (3 instances) deployed,
then the red/black deploy of v2 timed from the trigger to SUCCEEDED, beside
bench/redblack_baseline.sh doing the same steps by hand in the same run.
Prints "mizzen_s baseline_s" (median of 3 rounds each). Everything it
starts is killed on exit."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("MIZZEN_BIN", sys.argv[1] if len(sys.argv) > 1 else "build/mizzen")

from mizzen_harness import Server, free_port  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution  # noqa: E402
from cloud_util import APP_DIR, cluster_spec, deploy_pipeline, kill_cloud, run_task  # noqa: E402

ROUNDS = 3


def mizzen_rounds():
    srv = Server(keep_data=True)
    times = []
    try:
        srv.start()
        create_app(srv, "bench")
        port = free_port()
        t = run_task(srv, "bench", [{"type": "upsertLoadBalancer", "credentials": "local",
                                     "region": "local", "name": "bench-web",
                                     "listeners": [{"externalPort": port}],
                                     "healthCheck": {"path": "/health"}}])
        assert t["status"] == "SUCCEEDED", t
        for i in range(ROUNDS + 1):
            strategy = "highlander" if i == 0 else "redblack"
            spec = cluster_spec("bench", "v%d" % i, strategy, "bench-web", maxRemainingAsgs=2)
            spec["application"] = "bench"
            save_pipeline(srv, deploy_pipeline("bench", "d%d" % i, spec))
            t0 = time.monotonic()
            eid = run_pipeline(srv, "bench", "d%d" % i)
            e = wait_execution(srv, eid, timeout=120)
            dt = time.monotonic() - t0
            assert e["status"] == "SUCCEEDED", e["status"]
            if i > 0:
                times.append(dt)
    finally:
        srv.stop()
        kill_cloud(srv.data_dir)
        shutil.rmtree(srv.data_dir, ignore_errors=True)
    return sorted(times)[len(times) // 2]


def baseline_rounds():
    times = []
    for _ in range(ROUNDS):
        work = tempfile.mkdtemp(prefix="mz-rb-baseline-")
        try:
            out = subprocess.run([os.path.join(ROOT, "bench", "redblack_baseline.sh"), APP_DIR,
                                  work], capture_output=True, text=True, timeout=120)
            times.append(float(out.stdout.strip().splitlines()[-1]))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return sorted(times)[len(times) // 2]


if __name__ == "__main__":
    b = baseline_rounds()
    m = mizzen_rounds()
    print("%.3f %.3f" % (m, b))
