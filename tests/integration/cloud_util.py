"""Helpers for cloud integration tests: orchestrations (POST
/applications/{app}/tasks), deploy pipelines of the test web app, a client
that hammers a load balancer, and cleanup of every process a test's cloud
started (instances and HAProxy), found through the data directory."""
import json
import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request

from mizzen_harness import wait_until
from mizzen_flow import COMPLETE

HERE = os.path.dirname(os.path.abspath(__file__))
# the example web app (examples/webapp) is the deploy tests' app too
APP_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "webapp"))


def run_task(server, app, jobs, timeout=60, description="test"):
    """Starts an orchestration and waits for it; returns the task view."""
    status, body = server.request("POST", "/applications/%s/tasks" % app, {
        "application": app, "description": description, "job": jobs})
    assert status == 200, (status, body)
    task_id = body["ref"].split("/")[-1]

    def done():
        s, t = server.request("GET", "/tasks/" + task_id)
        return t if s == 200 and t.get("status") in COMPLETE else None
    return wait_until(done, timeout=timeout, interval=0.1, message="task %s" % task_id)


def cluster_spec(app, version, strategy, lb=None, capacity=3, **extra):
    spec = {
        "application": app, "stack": "web", "freeFormDetails": "",
        "account": "local", "cloudProvider": "local", "region": "local",
        "capacity": {"min": capacity, "max": capacity, "desired": capacity},
        "strategy": strategy, "image": APP_DIR,
        "command": ["python3", "$IMAGE_DIR/app.py"],
        "env": {"VERSION": version},
        "healthCheck": {"path": "/health"},
        "loadBalancers": [lb] if lb else [],
    }
    spec.update(extra)
    return spec


def deploy_pipeline(app, name, spec, **stage_extra):
    stage = {"refId": "1", "type": "deploy", "name": "Deploy", "clusters": [spec]}
    stage.update(stage_extra)
    return {"application": app, "name": name, "stages": [stage]}


def get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode()


class Client(threading.Thread):
    """Sends GET / through a load balancer continuously; counts failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = "http://127.0.0.1:%d/" % port
        self.ok = 0
        self.failed = []
        self.versions = []
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                status, body = get(self.url)
                if status == 200:
                    self.ok += 1
                    v = body.split()[0]
                    if not self.versions or self.versions[-1] != v:
                        self.versions.append(v)
                else:
                    self.failed.append(status)
            except (urllib.error.URLError, OSError) as e:
                self.failed.append(str(e))
            time.sleep(0.005)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.join(timeout=5)
        return False


def cloud_pids(data_dir):
    """Pids of the processes the cloud of data_dir runs (instances and
    HAProxy): every process whose command line or environment mentions the
    data directory, plus the recorded ones."""
    pids = set()
    root = os.path.join(data_dir, "cloud")
    for dirpath, _, files in os.walk(os.path.join(root, "servergroups")):
        for f in files:
            if f.endswith(".json"):
                try:
                    with open(os.path.join(dirpath, f)) as fh:
                        sg = json.load(fh)
                    for inst in sg.get("instances", []):
                        if inst.get("pid"):
                            pids.add(int(inst["pid"]))
                except (OSError, ValueError):
                    pass
    try:
        with open(os.path.join(root, "haproxy", "haproxy.pid")) as fh:
            pids.add(int(fh.read().split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    needle = data_dir.encode()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        for what in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (p, what), "rb") as fh:
                    if needle in fh.read():
                        pids.add(int(p))
                        break
            except OSError:
                pass
    return pids


def kill_cloud(data_dir):
    """SIGKILLs every process (and its process group) of data_dir's cloud."""
    for _ in range(3):
        pids = cloud_pids(data_dir)
        if not pids:
            return
        for pid in pids:
            for fn in (lambda: os.killpg(pid, signal.SIGKILL),
                       lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    fn()
                except (OSError, ProcessLookupError):
                    pass
        time.sleep(0.2)


def close_cloud_server(server, *dirs):
    """Stops a server started with keep_data=True, kills its cloud's
    processes, then removes its data directory and dirs (a test's config
    or repositories)."""
    server.stop()
    kill_cloud(server.data_dir)
    server.keep_data = False
    try:
        server.close()
    finally:
        shutil.rmtree(server.data_dir, ignore_errors=True)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
