"""Shared helpers of the integration suites.

run() executes the gen3db binary (GEN3DB_BIN) and checks, on every call,
that no secret registered with secret() appears in its argv, stdout or
stderr: the suite's passwords are greped for in every output it sees.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))

import pgcluster  # noqa: E402

BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
_SECRETS = set()


def secret(value):
    """Registers a password or key that must never be printed."""
    if value:
        _SECRETS.add(value)
    return value


def tempdir(owner, prefix="gen3db-test-"):
    """A temporary directory removed when owner ends: a test (its cleanups)
    or a test class (its class cleanups, after tearDownClass)."""
    d = tempfile.mkdtemp(prefix=prefix)
    if isinstance(owner, type):
        owner.addClassCleanup(shutil.rmtree, d, True)
    else:
        owner.addCleanup(shutil.rmtree, d, True)
    return d


class Result:
    def __init__(self, cp):
        self.code = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr

    def __repr__(self):
        return "exit %d\n--- stdout\n%s\n--- stderr\n%s" % (self.code, self.out, self.err)


def check_no_secrets(*texts):
    for s in _SECRETS:
        for t in texts:
            if t and s in t:
                raise AssertionError("a secret appeared in gen3db's output or argv")


def run(args, env=None, input=None, timeout=600, binary=None, text=True):
    argv = [binary or BIN] + list(args)
    check_no_secrets(*argv)
    cp = subprocess.run(argv, env=env, input=input, capture_output=True, timeout=timeout,
                        text=text)
    if text:
        check_no_secrets(cp.stdout, cp.stderr)
    else:
        check_no_secrets(cp.stdout.decode("utf-8", "replace"), cp.stderr.decode("utf-8", "replace"))
    if cp.returncode == 99 or "Sanitizer" in (cp.stderr if text else cp.stderr.decode("utf-8", "replace")):
        raise AssertionError("sanitizer report:\n%s" % (cp.stderr,))
    return Result(cp)


class PgTestCase(unittest.TestCase):
    """A test case with one throwaway PostgreSQL cluster per class."""
    pg = None

    @classmethod
    def setUpClass(cls):
        cls.pg = pgcluster.PgCluster().start()
        secret(cls.pg.password)

    @classmethod
    def tearDownClass(cls):
        if cls.pg:
            cls.pg.stop()

    def env(self, **extra):
        e = self.pg.env()
        for k in ("SERVICE_PGDB", "SERVICE_PGUSER", "SERVICE_PGPASS"):
            e.pop(k, None)
        e.update({k: v for k, v in extra.items() if v is not None})
        return e

    def sql(self, q, db="postgres", **kw):
        return self.pg.psql(q, db=db, **kw)

    def assertExit(self, res, code):
        self.assertEqual(res.code, code, repr(res))


def wait_port_file(proc, path, what, timeout=20):
    """The port a server started as proc writes to path once it listens;
    raises naming what when proc ends or timeout passes first."""
    deadline = time.time() + timeout
    while True:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError("%s did not start" % what)
        time.sleep(0.05)


def module_tmp(prefix="gen3db-test-"):
    """A temporary directory for the whole test module, removed when the
    module ends (after every service the module started is stopped)."""
    d = tempfile.mkdtemp(prefix=prefix)
    unittest.addModuleCleanup(shutil.rmtree, d, True)
    return d


def module_pg():
    """A throwaway PostgreSQL cluster for the whole test module, stopped
    when the module ends; its superuser password is registered as a secret."""
    pg = pgcluster.PgCluster().start()
    unittest.addModuleCleanup(pg.stop)
    secret(pg.password)
    return pg


HELM_VARS = ("SERVICE_PGDB", "SERVICE_PGUSER", "SERVICE_PGPASS", "BUCKET", "ENVIRONMENT",
             "VERSION", "ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "JOB_COMPLETION_INDEX")


def pg_env(pg, drop=HELM_VARS, **extra):
    """pg's libpq environment without the helm Jobs' variables (drop), so a
    test sets exactly the ones it means; extra added (None: left out)."""
    e = pg.env()
    for k in drop:
        e.pop(k, None)
    e.update({k: v for k, v in extra.items() if v is not None})
    return e


def gen3_dataset(out, size, seed=None, services=None):
    """A gen3-like dataset from bench/gen3gen.py in out: pg/<service>.sql
    and es/<index>__{mapping,data}.json."""
    argv = [sys.executable, os.path.join(ROOT, "bench", "gen3gen.py"), "--out", out,
            "--size", size, "--quiet"]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if services:
        argv += ["--services", ",".join(services)]
    subprocess.run(argv, check=True)
    return out


def helm_layout(data, layout, services, es=True):
    """The gen3 helm layout of a dataset: layout/pgdumps/<service>.sql and,
    with es, layout/elasticsearch/ with every elasticdump file."""
    os.makedirs(os.path.join(layout, "pgdumps"))
    for s in services:
        shutil.copy(os.path.join(data, "pg", s + ".sql"), os.path.join(layout, "pgdumps"))
    if es:
        shutil.copytree(os.path.join(data, "es"), os.path.join(layout, "elasticsearch"))
    return layout


def fingerprint(pg, db):
    """{schema.table: "rows md5"} of every user table of db: equal
    fingerprints mean equal contents."""
    tables = pg.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                     "ORDER BY 1", db=db).split()
    return {t: pg.psql("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' "
                       "ORDER BY t::text)), '') FROM %s t" % t, db=db) for t in tables}


def file_docs(path):
    """{_id: _source} of an elasticdump data file."""
    docs = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                hit = json.loads(line)
                docs[hit["_id"]] = hit["_source"]
    return docs


def psql_load(pg, db, path):
    """Creates database db and loads the SQL file path into it with psql
    -f, the way the helm Job does: the reference a restore is held to."""
    pg.psql('CREATE DATABASE "%s"' % db.replace('"', '""'))
    subprocess.run(["psql", "-X", "-q", "-d", db, "-f", path], env=pg.env(), check=True,
                   capture_output=True)


def read_trace(path):
    """A --trace file's records; it ends with a newline (no torn record)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n"), "the trace does not end with a whole line"
    return [json.loads(line) for line in data.decode("utf-8").split("\n")[:-1]]
