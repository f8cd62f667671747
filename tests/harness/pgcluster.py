#!/usr/bin/env python3
"""A throwaway PostgreSQL cluster for tests, the demo and the benchmarks.

initdb into a fresh directory, run the server as an unprivileged user
(initdb and postgres refuse root, and CI runs as root), listen on TCP
127.0.0.1 on a free port, and require scram-sha-256 passwords for every
login so password handling is really exercised.

As a library: `with PgCluster() as pg: ...` (stopped on exit, also on
SIGTERM/SIGINT through the caller's handlers). As a command:
  pgcluster.py start DIR   writes DIR/pg.env (export PGHOST=... lines); the
                           cluster itself lives in a temporary directory
                           (DIR/pg.base names it) the server user can reach
  pgcluster.py stop DIR
The superuser's password is random per cluster and is only ever written
to DIR/pg.env (mode 0600) and the environment of the processes that need
it, never printed.
"""
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN_CANDIDATES = ["/usr/lib/postgresql/%d/bin" % v for v in (17, 16, 15, 14, 13)]


def pg_bin():
    env = os.environ.get("GEN3DB_PG_BIN")
    if env:
        return env
    for d in PG_BIN_CANDIDATES:
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("no PostgreSQL server binaries found under /usr/lib/postgresql "
                       "(install Debian's postgresql package: scripts/install-deps)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_user():
    """The unprivileged user that runs the server when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user to run PostgreSQL as")


class PgCluster:
    def __init__(self, base=None, settings=None):
        self.bin = pg_bin()
        self.own_base = base is None
        self.base = base or tempfile.mkdtemp(prefix="gen3db-pg-")
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.log = os.path.join(self.base, "server.log")
        self.port = None
        self.user = "postgres"
        self.password = secrets.token_hex(16)
        self.settings = settings or {}
        self.running = False

    # -- helpers ---------------------------------------------------------
    def _as_user(self, argv, **kw):
        u = run_user()
        if u is None:
            return subprocess.run(argv, check=True, **kw)
        return subprocess.run(["runuser", "-u", u.pw_name, "--"] + argv, check=True, **kw)

    def env(self):
        """Environment for a client connecting as the superuser."""
        e = dict(os.environ)
        e.update({"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": self.user,
                  "PGPASSWORD": self.password, "PGDATABASE": "postgres"})
        e.pop("PGPASSFILE", None)
        e.pop("PGSERVICE", None)
        return e

    def psql(self, sql, db="postgres", user=None, password=None, check=True):
        e = self.env()
        if user:
            e["PGUSER"] = user
            e["PGPASSWORD"] = password or ""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", db, "-c", sql], env=e, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed: %s" % r.stderr.strip())
        return r.stdout.strip() if check else r

    # -- lifecycle -------------------------------------------------------
    def start(self):
        u = run_user()
        os.makedirs(self.sock, exist_ok=True)
        pwfile = os.path.join(self.base, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if u is not None:
            for p in (self.base, self.sock, pwfile):
                os.chown(p, u.pw_uid, u.pw_gid)
        os.chmod(pwfile, 0o600)
        self._as_user([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user,
                       "--pwfile", pwfile, "--auth-host=scram-sha-256",
                       "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                       "--no-sync"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.unlink(pwfile)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "'%s'" % self.sock,
            "password_encryption": "'scram-sha-256'",
            "fsync": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "'128MB'",
        }
        conf.update(self.settings)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
        for attempt in range(5):
            self.port = free_port()
            try:
                self._as_user([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log,
                               "-o", "-p %d" % self.port, "-w", "-t", "60", "start"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                break
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise RuntimeError("could not start PostgreSQL: see %s" % self.log)
        self.running = True
        return self

    def stop(self):
        if self.running:
            try:
                self._as_user([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m",
                               "immediate", "-w", "stop"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
            except subprocess.CalledProcessError:
                pass
            self.running = False
        if self.own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        sys.stderr.write("usage: pgcluster.py start|stop DIR\n")
        return 2
    base = os.path.abspath(argv[2])
    envfile = os.path.join(base, "pg.env")
    basefile = os.path.join(base, "pg.base")
    if argv[1] == "start":
        os.makedirs(base, exist_ok=True)
        # the cluster lives in a directory of its own under the system's
        # temporary directory: DIR may sit below a home directory that the
        # server's unprivileged user cannot enter (/root)
        pgbase = tempfile.mkdtemp(prefix="gen3db-pg-")
        with open(basefile, "w") as f:
            f.write(pgbase + "\n")
        c = PgCluster(base=pgbase)
        c.start()
        fd = os.open(envfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("export PGHOST=127.0.0.1\nexport PGPORT=%d\nexport PGUSER=%s\n"
                    "export PGPASSWORD=%s\nexport PGDATABASE=postgres\n"
                    "export GEN3DB_PG_DATA=%s\n" % (c.port, c.user, c.password, c.data))
        sys.stderr.write("PostgreSQL running on 127.0.0.1:%d (data in %s)\n" % (c.port, c.data))
        return 0
    if os.path.exists(basefile):
        with open(basefile) as f:
            pgbase = f.read().strip()
        if pgbase and os.path.exists(os.path.join(pgbase, "data")):
            c = PgCluster(base=pgbase)
            c.running = True
            c.stop()
        shutil.rmtree(pgbase, ignore_errors=True)
        os.unlink(basefile)
    if os.path.exists(envfile):
        os.unlink(envfile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
