"""Shared helpers of the integration suites.

run() executes the gen3db binary (GEN3DB_BIN) and checks, on every call,
that no secret registered with secret() appears in its argv, stdout or
stderr: the suite's passwords are greped for in every output it sees.
"""
import os
import shutil
import subprocess
import sys
import tempfile
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
