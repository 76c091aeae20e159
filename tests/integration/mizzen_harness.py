"""Shared helpers for mizzen's integration tests (Python 3 standard library).

Server starts the real binary on a free port with a fresh data directory,
waits for GET /health, and can be killed (-9) and restarted on the same
port and data. Its stdout and stderr go to a log file that ServerTestCase
prints when a test fails.

    with Server() as srv:
        status, body = srv.request("GET", "/applications")

Authentication is on: after the start the harness reads the first admin's
password from DATA/initial-admin-password, and every call made through
srv.request() or http() to that server signs in as admin (HTTP Basic),
unless it says otherwise with auth=:

    srv.request("GET", "/applications", auth=None)           # anonymous
    srv.request("GET", "/applications", auth=("dev", "pw"))  # Basic as dev
    srv.request("GET", "/applications", auth=token)          # Bearer token
    pw = srv.add_user("dev", ["dev"])                         # a new user
    subprocess.run([...], env=dict(os.environ, **srv.cli_env()))  # the CLI

A deploy's image given as a path must lie under providers.local.imageRoots:
every Server adds the repository's examples/ directory (the web app the
deploy tests run) to its config's list, unless image_roots= says otherwise;
a test's own --config file is merged into a copy, never changed.

The binary is $MIZZEN_BIN (set by ctest), else build/mizzen in the
repository.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Where the deploy tests' images lie (providers.local.imageRoots).
EXAMPLES = os.path.join(REPO, "examples")


def binary():
    """Path of the mizzen executable under test."""
    path = os.environ.get("MIZZEN_BIN") or os.path.join(REPO, "build", "mizzen")
    if not os.access(path, os.X_OK):
        raise RuntimeError("mizzen binary not found at %s (set MIZZEN_BIN)" % path)
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Calls predicate until it returns something truthy, which is returned.
    Raises AssertionError naming message after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a transient failure: keep trying
            last_exc = exc
        if time.monotonic() >= deadline:
            extra = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise AssertionError("timed out after %.1fs waiting for %s%s"
                                 % (timeout, message, extra))
        time.sleep(interval)


# base URL of each running Server -> (user, password) it signs in with
_CREDENTIALS = {}
# --db URL -> the credentials of the first node that started on it: the
# other nodes sharing that database have no initial-admin-password file
_DB_CREDENTIALS = {}
DEFAULT = object()


def authorization(auth):
    """The Authorization header value for auth: (user, password) is HTTP
    Basic, a string is a bearer token, None is nothing."""
    if auth is None:
        return None
    if isinstance(auth, tuple):
        raw = ("%s:%s" % auth).encode()
        return "Basic " + base64.b64encode(raw).decode()
    return "Bearer " + auth


def _default_auth(url):
    for base, cred in _CREDENTIALS.items():
        if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
            return cred
    return None


def http(method, url, body=None, headers=None, timeout=10.0, auth=DEFAULT):
    """One HTTP request. body (not bytes/str) is sent as JSON. Returns
    (status, parsed JSON or text, response headers). A request to a
    running Server signs in as its admin unless auth says otherwise (see
    the module's doc)."""
    data = None
    hdrs = {"Accept": "application/json"}
    value = authorization(_default_auth(url) if auth is DEFAULT else auth)
    if value:
        hdrs["Authorization"] = value
    if body is not None:
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif method in ("POST", "PUT", "PATCH"):
        data = b""
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw, rhdrs = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as exc:
        status, raw, rhdrs = exc.code, exc.read(), exc.headers
    text = raw.decode("utf-8", "replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, parsed, rhdrs


def http_stream(url, headers=None, timeout=10.0, auth=DEFAULT):
    """Opens a GET whose answer streams (the server-sent events of
    GET /events); returns the open response: read lines from it, close it.
    Signs in like http()."""
    hdrs = {"Accept": "text/event-stream"}
    value = authorization(_default_auth(url) if auth is DEFAULT else auth)
    if value:
        hdrs["Authorization"] = value
    hdrs.update(headers or {})
    req = urllib.request.Request(url, method="GET", headers=hdrs)
    return urllib.request.urlopen(req, timeout=timeout)


class Server:
    """The real mizzen server on 127.0.0.1:<free port> with its own data
    directory (removed on stop unless keep_data)."""

    def __init__(self, extra_args=(), data_dir=None, env=None, keep_data=False,
                 start_timeout=15.0, credentials=None, image_roots=(EXAMPLES,)):
        self.bin = binary()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="mizzen-test-")
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.keep_data = keep_data
        self.start_timeout = start_timeout
        self.proc = None
        # (user, password) every call signs in with: read from
        # DATA/initial-admin-password after the first start, unless given
        # (a second node on a shared database has no such file).
        self.credentials = credentials
        self._token = None
        self.log_path = os.path.join(tempfile.gettempdir(),
                                     "mizzen-server-%d.log" % self.port)
        self._log = None
        self.image_roots = list(image_roots)
        self._config_copy = None

    def _args(self):
        """extra_args with the image roots added to the config (a copy of
        the test's own --config file, or a new one)."""
        args = list(self.extra_args)
        if not self.image_roots:
            return args
        settings, at = {}, None
        for i, a in enumerate(args):
            if a == "--config" and i + 1 < len(args):
                at = (i, i + 2)
                path = args[i + 1]
            elif a.startswith("--config="):
                at = (i, i + 1)
                path = a[len("--config="):]
            else:
                continue
            try:
                with open(path) as f:
                    settings = json.load(f)
            except (OSError, ValueError):
                return args   # a config the test means to be refused: as it is
        if not isinstance(settings, dict):
            return args
        local = settings.setdefault("providers", {})
        local = local.setdefault("local", {}) if isinstance(local, dict) else None
        roots = local.setdefault("imageRoots", []) if isinstance(local, dict) else None
        if not isinstance(roots, list):
            return args
        roots += [r for r in self.image_roots if r not in roots]
        if self._config_copy is None:
            fd, self._config_copy = tempfile.mkstemp(prefix="mizzen-harness-config-",
                                                     suffix=".json")
            os.close(fd)
        with open(self._config_copy, "w") as f:
            json.dump(settings, f)
        if at:
            args[at[0]:at[1]] = ["--config", self._config_copy]
        else:
            args += ["--config", self._config_copy]
        return args

    # -- lifecycle --------------------------------------------------------

    def start(self):
        if self.proc and self.proc.poll() is None:
            return self
        if self._log:
            self._log.close()
        self._log = open(self.log_path, "ab")
        argv = [self.bin, "serve", "--listen", "127.0.0.1:%d" % self.port,
                "--data", self.data_dir] + self._args()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env,
                                     start_new_session=True)
        try:
            wait_until(self._healthy, timeout=self.start_timeout, interval=0.02,
                       message="GET /health 200 from %s" % " ".join(argv))
            if self.credentials is None:
                self.credentials = _DB_CREDENTIALS.get(self._db())
            if self.credentials is None:
                wait_until(self._read_credentials, timeout=self.start_timeout, interval=0.02,
                           message="%s/initial-admin-password" % self.data_dir)
            if self.credentials and self._db():
                _DB_CREDENTIALS.setdefault(self._db(), self.credentials)
        except AssertionError:
            sys.stderr.write(self.log_tail())
            self.stop()
            raise
        if self.credentials:
            _CREDENTIALS[self.url] = self.credentials
        return self

    def _db(self):
        """The --db argument, if any (several nodes may share it)."""
        args = self.extra_args
        for i, a in enumerate(args):
            if a == "--db" and i + 1 < len(args):
                return args[i + 1]
            if a.startswith("--db="):
                return a[5:]
        return None

    def _read_credentials(self):
        """The first admin's password, once the server has written it; True
        without one when authentication is off (anonymous calls work)."""
        try:
            with open(os.path.join(self.data_dir, "initial-admin-password")) as f:
                password = f.read().strip()
        except OSError:
            password = None
        if password:
            self.credentials = ("admin", password)
            return True
        status, _, _ = http("GET", self.url + "/auth/user", auth=None, timeout=1.0)
        return status == 200

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("server exited with %s" % self.proc.returncode)
        try:
            status, _, _ = http("GET", self.url + "/health", timeout=1.0)
        except OSError:
            return False
        return status == 200

    def kill9(self):
        """SIGKILL, no chance to clean up: what a crash looks like."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill9()
        if self._log:
            self._log.close()
            self._log = None

    def restart(self, kill=False):
        """Stops (or kill -9s) and starts again on the same port and data."""
        if kill:
            self.kill9()
        self.stop()
        return self.start()

    SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: ")

    def sanitizer_report(self):
        """The server log from the first sanitizer report on, or None. The
        ASan/UBSan build reports memory errors, leaks (at a graceful exit)
        and undefined behaviour there."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return None
        hits = [text.find(m) for m in self.SANITIZER_MARKS if m in text]
        return text[min(hits):][:6000] if hits else None

    def close(self):
        self.stop()
        _CREDENTIALS.pop(self.url, None)
        if self._config_copy:
            try:
                os.unlink(self._config_copy)
            except OSError:
                pass
            self._config_copy = None
        report = self.sanitizer_report()
        if self._own_dir and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if not self.keep_data:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
        if report:
            raise AssertionError("the server reported a sanitizer error:\n" + report)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            sys.stderr.write(self.log_tail())
        self.close()
        return False

    # -- talking to it ----------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10.0, auth=DEFAULT):
        """Returns (status, parsed JSON or text). Signs in as admin unless
        auth says otherwise: None (anonymous), (user, password), a token."""
        status, parsed, _ = http(method, self.url + path, body, headers, timeout,
                                 auth=self.credentials if auth is DEFAULT else auth)
        return status, parsed

    def stream(self, path, headers=None, timeout=10.0, auth=DEFAULT):
        """A streaming GET (see http_stream); signs in as admin unless auth
        says otherwise."""
        return http_stream(self.url + path, headers, timeout,
                           auth=self.credentials if auth is DEFAULT else auth)

    def add_user(self, name, roles=(), password=None):
        """Creates a user (as admin) and returns its password."""
        password = password or "pw-%s-%s" % (name, os.urandom(6).hex())
        status, body = self.request("POST", "/auth/users", {
            "username": name, "password": password, "roles": list(roles)})
        if status != 201:
            raise AssertionError("cannot create user %s: %s %s" % (name, status, body))
        return password

    @property
    def token(self):
        """An API token of admin's (made on first use)."""
        if self._token is None:
            status, body = self.request("POST", "/auth/tokens",
                                        {"name": "harness-%s" % os.urandom(4).hex()})
            if status != 201:
                raise AssertionError("cannot create an API token: %s %s" % (status, body))
            self._token = body["token"]
        return self._token

    def cli_env(self):
        """Environment for running the CLI against this server as admin."""
        env = {"MIZZEN_URL": self.url}
        if self.credentials:
            env["MIZZEN_TOKEN"] = self.token
        return env

    def log_tail(self, limit=20000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        text = data[-limit:].decode("utf-8", "replace")
        return "\n----- mizzen server log (%s) -----\n%s\n----- end of log -----\n" % (
            self.log_path, text)


class ServerTestCase(unittest.TestCase):
    """A TestCase with one Server for the whole class (self.server), whose
    log is printed after any failing test."""

    server_args = ()
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(extra_args=cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.close()
        super().tearDownClass()

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and self.server is not None:
            if len(result.failures) + len(result.errors) > before:
                sys.stderr.write(self.server.log_tail())
        return out
