"""A throwaway PostgreSQL server for tests: initdb into a temporary
directory as the postgres user (initdb refuses root), listening only on a
unix socket in that directory, stopped and removed by stop().

Users: the first mizzen node started on a fresh database creates `admin`
and writes its password to its own data directory; mizzen_harness.Server
remembers it per --db URL, so further nodes on the same database sign in
with it (or pass Server(credentials=first.credentials))."""
import os
import pwd
import shutil
import subprocess
import tempfile

from mizzen_harness import free_port


def pg_bin(name):
    base = "/usr/lib/postgresql"
    for version in sorted(os.listdir(base), reverse=True) if os.path.isdir(base) else []:
        path = os.path.join(base, version, "bin", name)
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError("PostgreSQL server binaries not found under %s "
                       "(scripts/install-deps --test installs them)" % base)


class Postgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mizzen-pg-")
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, argv):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self):
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run([pg_bin("initdb"), "-D", self.data, "-A", "trust", "-U", self.user])
        self._run([pg_bin("pg_ctl"), "-D", self.data, "-w", "-l",
                   os.path.join(self.dir, "log"), "-o",
                   "-k %s -c listen_addresses= -p %d -c fsync=off" % (self.dir, self.port),
                   "start"])
        return self

    def createdb(self, name):
        self._run([pg_bin("createdb"), "-h", self.dir, "-p", str(self.port), "-U", self.user,
                   name])
        return self.url(name)

    def url(self, db):
        return "postgres://%s@/%s?host=%s&port=%d" % (self.user, db, self.dir, self.port)

    def stop(self):
        try:
            self._run([pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop"])
        except (subprocess.CalledProcessError, RuntimeError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
