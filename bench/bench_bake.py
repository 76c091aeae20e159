"""bench/bench_bake.py MIZZEN_BIN - bake time for a 50 MB package on the
local bakery: the first bake (hash, copy, manifest, import into the image
store) and a cached bake of the same package (bake key hit), each timed from
the pipeline trigger to SUCCEEDED; beside a same-run baseline doing the
irreducible work by hand: `cp -a` of the package plus `sha256sum` of every
file. Prints "first_s cached_s baseline_s" (median of 3 rounds each)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("MIZZEN_BIN", sys.argv[1] if len(sys.argv) > 1 else "build/mizzen")

from mizzen_harness import Server  # noqa: E402
from mizzen_flow import create_app, run_pipeline, save_pipeline, wait_execution  # noqa: E402

ROUNDS = 3
MB = 50


def make_package(root):
    """50 MB in 50 files of random bytes (incompressible, as built code is
    in practice after compression) plus a start script."""
    os.makedirs(root)
    for i in range(MB):
        with open(os.path.join(root, "blob%02d.bin" % i), "wb") as f:
            f.write(os.urandom(1 << 20))
    with open(os.path.join(root, "server.py"), "w") as f:
        f.write("print('hello')\n")


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def baseline(pkg, tmp):
    times = []
    for i in range(ROUNDS):
        dst = os.path.join(tmp, "copy%d" % i)
        t = time.monotonic()
        subprocess.run(["cp", "-a", pkg, dst], check=True)
        files = sorted(os.path.join(dst, f) for f in os.listdir(dst))
        subprocess.run(["sha256sum"] + files, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["sync", "-f", dst], check=True)
        times.append(time.monotonic() - t)
        shutil.rmtree(dst)
    return median(times)


def main():
    tmp = tempfile.mkdtemp(prefix="mz-bench-bake-")
    # packages given as paths must lie under bakery.packageRoots
    cfg = os.path.join(tmp, "config.json")
    with open(cfg, "w") as f:
        json.dump({"bakery": {"packageRoots": [tmp]}}, f)
    srv = Server(extra_args=["--config", cfg])
    try:
        pkgs = []
        for i in range(ROUNDS):
            p = os.path.join(tmp, "pkg%d" % i)
            make_package(p)  # a distinct package per round: every first bake is real work
            pkgs.append(p)
        srv.start()
        create_app(srv, "bench")
        first, cached = [], []
        for i, p in enumerate(pkgs):
            name = "bake%d" % i
            save_pipeline(srv, {"application": "bench", "name": name, "stages": [
                {"type": "bake", "name": "Bake", "cloudProviderType": "local", "package": p,
                 "regions": ["local"], "startCommand": ["python3", "server.py"]}]})
            for bucket in (first, cached):
                t = time.monotonic()
                e = wait_execution(srv, run_pipeline(srv, "bench", name), timeout=300)
                bucket.append(time.monotonic() - t)
                assert e["status"] == "SUCCEEDED", e
        base = baseline(pkgs[0], tmp)
        print("%.3f %.3f %.3f" % (median(first), median(cached), base))
    finally:
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
