"""Config files for integration tests: write one, or start the real binary
with one that should be refused at start-up."""
import json
import os
import shutil
import subprocess
import tempfile

from mizzen_harness import binary, free_port


def config_file(settings):
    """A temporary JSON config file with settings; the caller unlinks it."""
    fd, path = tempfile.mkstemp(prefix="mizzen-config-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(settings, f)
    return path


def start_refused(settings, timeout=20):
    """Starts `mizzen serve` with settings, expecting it to stop at once;
    returns (exit status, stderr)."""
    cfg = config_file(settings)
    data = tempfile.mkdtemp(prefix="mizzen-config-data-")
    try:
        p = subprocess.run([binary(), "serve", "--listen", "127.0.0.1:%d" % free_port(),
                            "--data", data, "--config", cfg],
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stderr
    finally:
        os.unlink(cfg)
        shutil.rmtree(data, ignore_errors=True)
