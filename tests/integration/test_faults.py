"""The fault suite: gen3db against faults and hostile inputs, case by case.

Every class below generates its cases from a table (truncations at every
member or statement boundary, byte flips at pseudo-random offsets, hostile
names, signals, server faults) and runs each against a throwaway
PostgreSQL (one cluster per class) or the Elasticsearch test double. For
each case it records: the exit code, whether the message names what failed
(the file, member, line, database or index), whether a registered password
leaked, and whether nothing was lost: the target's old content, the other
databases, roles and indices are what they were before, and no side
database, role or index is left over.

Each case states its expected outcome and the test fails when it does not
hold. A case whose guard is still missing names it in `needs`; with
GEN3DB_FAULTS_PENDING_OK=1 such a failing case is reported as pending
instead of failing (the default is strict).

The results go to GEN3DB_FAULTS_JSON (default build/reliability/faults.json);
scripts/reliability-report renders docs/RELIABILITY.md from them
(`make reliability` does both).
"""
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import g3test  # noqa: E402
import pgcluster  # noqa: E402
from g3services import EsServer  # noqa: E402

ROOT = g3test.ROOT
PENDING_OK = os.environ.get("GEN3DB_FAULTS_PENDING_OK") == "1"
OUT = os.environ.get("GEN3DB_FAULTS_JSON",
                     os.path.join(ROOT, "build", "reliability", "faults.json"))
SEED = 20261202
N_RANDOM = 4          # pseudo-random offsets per generator
MAX_BOUNDARIES = 8    # statement boundaries tried in a plain dump
MAX_MEMBERS = 8       # tar member boundaries / members damaged
SERVICE_PASS = g3test.secret("fault-svc-pass-Hq27")
RESULTS = []
PREVIOUS = None      # the results file as it was when this run began

# What a case needs that this tree may not have yet (the items);
# none now: every case is strict.
NEEDS = {}


def setUpModule():
    global TMP
    TMP = g3test.module_tmp("gen3db-faults-")


def tearDownModule():
    write_results()


def write_results():
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    doc = {"commit": commit + ("+changes" if dirty else ""), "pending_ok": PENDING_OK,
           "seed": SEED, "needs": NEEDS, "cases": RESULTS,
           "binary": os.path.relpath(g3test.BIN, ROOT)}
    global PREVIOUS
    if PREVIOUS is None:
        # several runs (-k, one class at a time) add up: a class re-run
        # replaces its rows
        PREVIOUS = []
        try:
            with open(OUT) as f:
                PREVIOUS = json.load(f).get("cases", [])
        except (OSError, ValueError):
            pass
    ran = {c["class"] for c in RESULTS}
    doc["cases"] = [c for c in PREVIOUS if c["class"] not in ran] + RESULTS
    with open(OUT + ".tmp", "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    os.replace(OUT + ".tmp", OUT)


class Case:
    """One case: run argv (or action()), expect an outcome.

    expect: "refused" (exit code in codes, nothing changed), "ok" (exit 0,
    ok_check() holds) or "either" (a clean refusal or a correct success:
    for damage that may fall on bytes nothing reads)."""

    def __init__(self, cid, argv=None, env=None, expect="refused", codes=(2,), names=(),
                 needs=None, action=None, ok_check=None, note=""):
        self.id = cid
        self.argv = argv
        self.env = env or {}
        self.expect = expect
        self.codes = tuple(codes)
        self.names = tuple(names)
        self.needs = needs
        self.action = action
        self.ok_check = ok_check
        self.note = note


def run_bin(argv, env, timeout=45):
    """gen3db through g3test.run (which checks argv and output for every
    registered secret); returns (code, stderr, leaked). A run longer than
    timeout is killed and has no exit code."""
    try:
        r = g3test.run(argv, env=env, timeout=timeout, text=False)
    except subprocess.TimeoutExpired:
        return None, "still running after %d s: killed" % timeout, False
    except AssertionError as e:
        if "secret" in str(e):
            return None, "", True
        raise
    return r.code, r.err.decode("utf-8", "replace"), False


class FaultCase(unittest.TestCase):
    klass = None

    def state(self):
        raise NotImplementedError

    def restore_baseline(self):
        raise NotImplementedError

    def run_cases(self, cases):
        failures = []
        for c in cases:
            before = self.state()
            if c.action:
                code, err, leaked = c.action(self)
            else:
                env = self.base_env()
                env.update(c.env)
                code, err, leaked = run_bin(c.argv, env)
            after = self.state()
            problems = []
            if leaked:
                problems.append("a password appeared in argv or output")
            specific = None
            succeeded = code == 0
            if c.expect == "ok" or (c.expect == "either" and succeeded):
                if not succeeded:
                    problems.append("exit %s, expected 0" % code)
                kept = c.ok_check(self, before, after) if c.ok_check else before == after
                if kept is not True:
                    problems.append(kept or "state changed beyond the restored target")
            else:
                if code not in c.codes:
                    problems.append("exit %s, expected %s" % (code, "/".join(map(str, c.codes))))
                specific = bool(err.strip()) and (not c.names or any(n in err for n in c.names))
                if not specific:
                    problems.append("message does not name %s" % " or ".join(
                        repr(n[:60]) for n in c.names))
                if before != after:
                    problems.append("changed: %s" % diff(before, after))
            if problems:
                status = "pending" if (c.needs and PENDING_OK) else "fail"
            else:
                status = "ok"
            RESULTS.append({"class": self.klass, "case": c.id, "exit": code,
                            "expect": c.expect, "expected_exit": list(c.codes),
                            "specific": specific, "leaked": leaked,
                            "nothing_lost": not any(p.startswith("changed") or "state" in p
                                                    for p in problems),
                            "status": status, "needs": c.needs, "problems": problems,
                            "message": error_line(err), "note": c.note})
            if status == "fail":
                failures.append("%s: %s\n    %s" % (c.id, "; ".join(problems), err.strip()[:400]))
            if before != after:
                self.restore_baseline()
        write_results()     # after every class: an interrupted run keeps what it saw
        self.assertEqual(failures, [], "\n".join(failures))


def error_line(err):
    """The line that says what failed: the last one that is not a hint
    (warnings and progress come first)."""
    lines = [x for x in err.strip().split("\n")
             if x and not x.startswith(("hint:", "gen3db: hint"))]
    return lines[-1][:300] if lines else ""


def diff(a, b):
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            out.append("%s %r -> %r" % (k, str(a.get(k))[:80], str(b.get(k))[:80]))
    return ", ".join(out)[:400]


# ---- PostgreSQL ---------------------------------------------------------------

SEED_SQL = """
CREATE TABLE public.node (id integer PRIMARY KEY, name text, tags text[]);
CREATE TABLE public."Edge ""odd"" x" (src integer REFERENCES public.node(id), dst integer);
CREATE SEQUENCE public.counter START 40;
CREATE INDEX node_name ON public.node (name);
INSERT INTO public.node SELECT g, 'node ' || g || E'\\t;''', ARRAY['a', NULL]
  FROM generate_series(1, 300) g;
INSERT INTO public."Edge ""odd"" x" SELECT g, g % 300 + 1 FROM generate_series(1, 300) g;
CREATE TABLE public.big (id integer, payload text);
INSERT INTO public.big SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 2000) g;
"""


class PgFaultCase(FaultCase):
    """One cluster per class with: victim (the target, with content, owned
    by role victim), bystander (another database), victim_seed (victim's
    content, to put it back between cases) and snapsrc (a snapshot's
    source)."""
    pg = None

    @classmethod
    def setUpClass(cls):
        cls.pg = pgcluster.PgCluster().start()
        g3test.secret(cls.pg.password)
        cls.tmp = tempfile.mkdtemp(prefix="gen3db-faults-pg-", dir=TMP)
        p = cls.pg.psql
        p("CREATE ROLE victim LOGIN PASSWORD '%s'" % SERVICE_PASS)
        for db in ("victim_seed", "bystander", "snapsrc"):
            p('CREATE DATABASE "%s"' % db)
        p("CREATE TABLE keep (x integer, s text); INSERT INTO keep "
          "SELECT g, 'old ' || g FROM generate_series(1, 50) g", db="victim_seed")
        p("CREATE TABLE other (x integer); INSERT INTO other VALUES (1), (2)", db="bystander")
        p(SEED_SQL, db="snapsrc")
        cls.snap = os.path.join(cls.tmp, "snap.tar.zst")
        r = subprocess.run([g3test.BIN, "dump", "--database", "snapsrc", "--output", cls.snap,
                            "--quiet"], env=cls.pg.env(), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.plain = os.path.join(cls.tmp, "snapsrc.sql")
        subprocess.run(["pg_dump", "-d", "snapsrc", "-f", cls.plain, "--no-owner"],
                       env=cls.pg.env(), check=True)
        cls.fp_src = cls.fingerprint("snapsrc")
        cls.reset_victim()
        cls.baseline = None

    @classmethod
    def tearDownClass(cls):
        if cls.pg:
            cls.pg.stop()

    @classmethod
    def reset_victim(cls):
        cls.pg.psql('DROP DATABASE IF EXISTS victim WITH (FORCE)')
        cls.pg.psql("CREATE DATABASE victim TEMPLATE victim_seed OWNER victim")

    @classmethod
    def fingerprint(cls, db):
        tables = cls.pg.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                             "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                             "ORDER BY 1", db=db)
        fp = []
        for t in [x for x in tables.split("\n") if x]:
            fp.append(t + " " + cls.pg.psql("SELECT count(*) || ' ' || coalesce(md5(string_agg("
                                            "t::text, E'\\n' ORDER BY t::text)), '') FROM %s t"
                                            % t, db=db))
        return "\n".join(fp)

    def fingerprinted(self):
        return ("victim", "bystander", "postgres")

    def state(self):
        dbs = self.pg.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")
        st = {"databases": dbs,
              "roles": self.pg.psql("SELECT string_agg(rolname, ',' ORDER BY rolname) "
                                    "FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'")}
        for db in self.fingerprinted():
            st["db " + db] = self.fingerprint(db) if db in dbs.split(",") else None
        return st

    def restore_baseline(self):
        dbs = self.pg.psql("SELECT datname FROM pg_database WHERE datname NOT IN "
                           "('postgres', 'template0', 'template1', 'victim_seed', 'bystander', "
                           "'snapsrc', 'victim')").split("\n")
        for db in [d for d in dbs if d]:
            self.pg.psql('DROP DATABASE "%s" WITH (FORCE)' % db.replace('"', '""'))
        roles = self.pg.psql("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' "
                             "AND rolname NOT IN ('postgres', 'victim')").split("\n")
        for r in [x for x in roles if x]:
            self.pg.psql('DROP ROLE "%s"' % r.replace('"', '""'))
        self.reset_victim()

    def base_env(self):
        e = self.pg.env()
        e.pop("SERVICE_PGDB", None)
        e["SERVICE_PGUSER"] = "victim"
        e["SERVICE_PGPASS"] = SERVICE_PASS
        return e

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def restore_into_victim(self, cid, path, extra=(), **kw):
        kw.setdefault("names", (path,))
        return Case(cid, ["restore", path, "--database", "victim", "--clean", "--wait", "2"] +
                    list(extra), **kw)

    # a successful --clean restore replaced victim with the source's content
    def replaced_by_source(self, before, after):
        if after["db victim"] != self.fp_src:
            return "victim does not hold the source's content"
        rest = {k: v for k, v in before.items() if k != "db victim"}
        if rest != {k: v for k, v in after.items() if k != "db victim"}:
            return "changed: %s" % diff(before, after)
        return True


def tar_of(snap):
    raw = subprocess.run(["zstd", "-q", "-d", "-c", snap], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as t:
        members = [(m.name, m.offset, m.offset_data + ((m.size + 511) // 512) * 512)
                   for m in t.getmembers()]
    return raw, members


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, check=True,
                          capture_output=True).stdout


class SnapshotFaults(PgFaultCase):
    klass = "snapshot damage"

    def test_truncated_and_flipped(self):
        rnd = random.Random(SEED)
        raw, members = tar_of(self.snap)
        with open(self.snap, "rb") as f:
            comp = f.read()
        cases = []
        # the tar cut at every member boundary (a valid zstd stream around it)
        step = max(1, len(members) // MAX_MEMBERS)
        for i, (name, start, end) in enumerate(members):
            if i == 0 or (i % step and i != len(members) - 1):
                continue
            p = self.write("cut-before-%d.tar.zst" % i, zstd(raw[:start]))
            cases.append(self.restore_into_victim("tar cut before member %d (%s)" % (i, name), p,
                                                  codes=(1, 2), names=(p,)))
        # the compressed file cut at pseudo-random offsets
        for off in sorted(rnd.sample(range(1, len(comp)), min(N_RANDOM, len(comp) - 1))):
            p = self.write("zcut-%d.tar.zst" % off, comp[:off])
            cases.append(self.restore_into_victim("compressed file cut at byte %d of %d"
                                                  % (off, len(comp)), p, codes=(1, 2)))
        # one flipped byte of the compressed file
        for off in sorted(rnd.sample(range(len(comp)), N_RANDOM)):
            b = bytearray(comp)
            b[off] ^= 0x20
            p = self.write("zflip-%d.tar.zst" % off, bytes(b))
            cases.append(self.restore_into_victim("compressed byte %d flipped" % off, p,
                                                  expect="either", codes=(1, 2),
                                                  names=(p, 'member "'),
                                                  ok_check=PgFaultCase.replaced_by_source))
        # one flipped byte inside a member's content (the zstd stream is valid)
        copies = [(i, m) for i, m in enumerate(members) if m[0].endswith(".copy")]
        for i, (name, start, end) in copies[:MAX_MEMBERS // 2]:
            size = end - start - 512
            if size <= 0:
                continue
            off = start + 512 + rnd.randrange(min(size, 2048))
            b = bytearray(raw)
            b[off] ^= 0x01
            p = self.write("mflip-%d.tar.zst" % i, zstd(bytes(b)))
            cases.append(self.restore_into_victim("byte flipped in member %s" % name, p,
                                                  codes=(1, 2), names=(name,),
                                                  expect="either",
                                                  ok_check=PgFaultCase.replaced_by_source,
                                                  note="padding bytes may be hit"))
        # a member header's byte flipped (tar header checksum)
        for i, (name, start, end) in enumerate(members[:3]):
            b = bytearray(raw)
            b[start + 100 + rnd.randrange(8)] ^= 0x07    # the mode field
            p = self.write("hflip-%d.tar.zst" % i, zstd(bytes(b)))
            cases.append(self.restore_into_victim("tar header of %s damaged" % name, p,
                                                  codes=(1, 2)))
        # a data member dropped or duplicated (contiguous part numbers)
        datam = [m for m in members if m[0].endswith(".copy")]
        if datam:
            name, start, end = datam[0]
            hstart = [m for m in members if m[2] == start]
            cut0 = hstart[0][1] if hstart else start
            p = self.write("drop-part.tar.zst", zstd(raw[:cut0] + raw[end:]))
            cases.append(self.restore_into_victim("data member %s and its header dropped" % name,
                                                  p, codes=(1, 2)))
            p = self.write("dup-part.tar.zst", zstd(raw[:end] + raw[cut0:end] + raw[end:]))
            cases.append(self.restore_into_victim("data member %s given twice" % name, p,
                                                  codes=(1, 2)))
        self.run_cases(cases)


def statement_ends(text):
    """Byte offsets just after each top-level statement of a pg_dump file
    (a line ending in ';' outside COPY data, or the COPY data's '\\.')."""
    ends, pos, in_copy = [], 0, False
    for line in text.splitlines(keepends=True):
        pos += len(line.encode())
        s = line.rstrip("\n")
        if in_copy:
            if s == "\\.":
                in_copy = False
                ends.append(pos)
            continue
        if s.startswith("COPY ") and s.endswith("FROM stdin;"):
            in_copy = True
            continue
        if s.endswith(";") and not s.startswith("--"):
            ends.append(pos)
    return ends


class PlainDumpFaults(PgFaultCase):
    klass = "plain dump cut"

    def test_cut_at_statement_boundaries(self):
        with open(self.plain, "rb") as f:
            data = f.read()
        ends = statement_ends(data.decode())
        self.assertIn(b"-- PostgreSQL database dump complete", data[ends[-1]:])
        step = max(1, len(ends) // MAX_BOUNDARIES)
        picked = ends[::step][:MAX_BOUNDARIES]
        if ends[-1] not in picked:
            picked.append(ends[-1])
        cases = []
        for n, off in enumerate(picked):
            p = self.write("cut-%d.sql" % off, data[:off])
            cases.append(self.restore_into_victim(
                "cut after statement %d (byte %d of %d)" % (ends.index(off) + 1, off, len(data)),
                p, codes=(1, 2)))
        # mid-line cuts inside COPY data
        rnd = random.Random(SEED)
        copy_at = data.find(b"COPY public.big")
        for off in sorted(rnd.sample(range(copy_at + 200, data.find(b"\\.", copy_at)), 3)):
            p = self.write("midcopy-%d.sql" % off, data[:off])
            cases.append(self.restore_into_victim("cut inside COPY data at byte %d" % off, p,
                                                  codes=(1, 2), names=(p, "line ")))
        cases.append(self.restore_into_victim("the whole dump (control)", self.plain,
                                              expect="ok", ok_check=PgFaultCase.replaced_by_source))
        self.run_cases(cases)


class BadInputFaults(PgFaultCase):
    klass = "not a dump"

    def test_inputs(self):
        rnd = random.Random(SEED)
        inputs = [
            ("empty file", self.write("empty.sql", b"")),
            ("/dev/null", "/dev/null"),
            ("text, not SQL", self.write("readme.sql", b"This is a README.\nNothing to see.\n")),
            ("binary noise", self.write("noise.bin", bytes(rnd.randrange(256)
                                                           for _ in range(4096)))),
            ("gzip of noise", self.write("noise.sql.gz", b"\x1f\x8b\x08\x00" + bytes(64))),
            ("zstd of nothing", self.write("nothing.sql.zst", zstd(b""))),
            ("only comments", self.write("comments.sql", b"--\n-- Written by hand\n--\n")),
            ("a tar that is not a snapshot", self.write("other.tar.zst", zstd(self._tar()))),
            ("missing file", os.path.join(self.tmp, "does-not-exist.sql")),
            ("a directory", self.tmp),
        ]
        cases = [self.restore_into_victim(name, p, codes=(2,), names=(p,)) for name, p in inputs]
        # pg_dump's opening lines and nothing else: a dump cut short (exit 1)
        p = self.write("header-only.sql", b"--\n-- PostgreSQL database dump\n--\n")
        cases.append(self.restore_into_victim("pg_dump's header only", p, codes=(1,),
                                              names=(p, "truncated")))
        self.run_cases(cases)

    def _tar(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:") as t:
            info = tarfile.TarInfo("hello.txt")
            info.size = 5
            t.addfile(info, io.BytesIO(b"hello"))
        return buf.getvalue()


HOSTILE_NAMES = [
    ('quote "x', "ok"), ("semi;colon", "ok"), ("drop table x; --", "ok"), ("space name", "ok"),
    ("unicode é日本😀", "ok"), ("Upper", "ok"), ("x'; DROP DATABASE bystander; --", "ok"),
    ("a" * 64, "refused"), ("a" * 48, "refused"), ("tab\tname", "refused"), ("", "refused"),
]
# what a refusal names when the name itself cannot be printed
NAME_TOLD = {"tab\tname": "control character", "": "database"}


class PgNameFaults(PgFaultCase):
    klass = "hostile PostgreSQL names"

    def created_exactly(self, name):
        def check(test, before, after):
            n = test.pg.psql("SELECT count(*) FROM pg_database WHERE datname = $$%s$$" % name)
            if n != "1":
                return "database %r not created" % name
            if test.fingerprint_of(name) != test.fp_src:
                return "database %r does not hold the source" % name
            b = {k: v for k, v in before.items() if k not in ("databases", "roles")}
            a = {k: v for k, v in after.items() if k not in ("databases", "roles")}
            if a != b:
                return "changed: %s" % diff(b, a)
            extra = set(after["databases"].split(",")) - set(before["databases"].split(","))
            if extra != {name}:
                return "databases added: %r" % sorted(extra)
            return True
        return check

    def fingerprint_of(self, name):
        return self.fingerprint(name)

    def test_names(self):
        cases = []
        for n, (name, expect) in enumerate(HOSTILE_NAMES):
            codes = (2,)
            # --map goes through the same name check: three of them suffice
            for how in ("--database", "--map") if n % 4 == 0 else ("--database",):
                argv = ["restore", self.snap if how == "--map" else self.plain, "--wait", "2"]
                argv += ["--map", "snapsrc=" + name] if how == "--map" else ["--database", name]
                env = {"SERVICE_PGUSER": "victim"}
                cases.append(Case("%s %r" % (how, name if len(name) < 20 else
                                             name[:8] + "...(%d bytes)" % len(name)),
                                  argv, env=env, expect=expect, codes=codes,
                                  names=(NAME_TOLD.get(name, name),) if how == "--database"
                                  else (NAME_TOLD.get(name, name), "--map"),
                                  ok_check=self.created_exactly(name)))
        self.run_cases(cases)


class SystemDbFaults(PgFaultCase):
    klass = "system databases as targets"

    def fingerprinted(self):
        return ("victim", "bystander", "postgres", "template1", "masterdb")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg.psql("CREATE DATABASE masterdb")
        cls.pg.psql("CREATE TABLE m (x integer); INSERT INTO m VALUES (5)", db="masterdb")

    def restore_baseline(self):
        # a case that got through may have renamed or replaced a system
        # database: start again from a fresh cluster
        cls = type(self)
        cls.pg.stop()
        cls.setUpClass()

    def test_targets(self):
        cases = []
        for db in ("template0", "template1", "postgres", "masterdb"):
            for clean in (False, True):
                argv = ["restore", self.plain, "--database", db, "--wait", "2"]
                argv += ["--clean"] if clean else []
                env = {"PGDATABASE": "masterdb"} if db == "masterdb" else {}
                cases.append(Case("%s%s" % (db, " --clean" if clean else ""), argv, env=env,
                                  codes=(2,), names=('"%s"' % db,),
                                  note="master connects to masterdb" if env else ""))
        self.run_cases(cases)


def slow_dump(path, rows=20000, sleep_ms=1):
    with open(path, "w") as f:
        f.write("SET client_min_messages = warning;\n"
                "CREATE TABLE public.slow (id integer, s text);\n"
                "CREATE FUNCTION public.slow_down() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN PERFORM pg_sleep(%f); RETURN NEW; END $$;\n"
                "CREATE TRIGGER slow_down BEFORE INSERT ON public.slow FOR EACH ROW "
                "EXECUTE FUNCTION public.slow_down();\n"
                "COPY public.slow (id, s) FROM stdin;\n" % (sleep_ms / 1000.0))
        for i in range(rows):
            f.write("%d\trow %d\n" % (i, i))
        f.write("\\.\n")


class InterruptFaults(PgFaultCase):
    klass = "interrupted restore"

    def copy_running(self, db):
        return self.pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                            "AND query LIKE 'COPY%%' AND state = 'active'" % db) != "0"

    def interrupt(self, how, clean):
        def action(test):
            p = os.path.join(test.tmp, "slow.sql")
            if not os.path.exists(p):
                slow_dump(p)
            env = test.base_env()
            argv = [g3test.BIN, "restore", p, "--sql-script", "--database",
                    "victim"] + (["--clean"] if clean else [])
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                end = time.time() + 60
                while not test.copy_running("victim__gen3db_restore") and time.time() < end:
                    time.sleep(0.05)
                if how == "terminate":
                    test.pg.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                 "datname = 'victim__gen3db_restore' AND query LIKE 'COPY%'")
                else:
                    proc.send_signal(how)
                out, err = proc.communicate(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            err = err.decode("utf-8", "replace")
            g3test.check_no_secrets(err, out.decode("utf-8", "replace"))
            code = proc.returncode
            if how == signal.SIGKILL:
                # killed: nothing can be said; the next run must clean up
                # what it left (the side database) and keep victim
                code = 1 if code == -signal.SIGKILL else code
                err = "killed"
            return code, err, False
        return action

    def test_interrupts(self):
        cases = []
        for clean in (True,):
            cases.append(Case("SIGTERM mid-COPY", action=self.interrupt(signal.SIGTERM, clean),
                              codes=(1,), names=("interrupted",)))
            cases.append(Case("pg_terminate_backend mid-COPY",
                              action=self.interrupt("terminate", clean), codes=(1,),
                              names=('"public.slow"',)))
            cases.append(Case("SIGINT mid-COPY", action=self.interrupt(signal.SIGINT, clean),
                              codes=(1,), names=("interrupted",)))
        self.run_cases(cases)

    def test_sigkill_then_rerun(self):
        """SIGKILL leaves the side database; victim keeps its content, and the
        next run removes the leftover."""
        cases = [Case("SIGKILL mid-COPY, then a failing run", action=self.kill_and_rerun,
                      codes=(1,), names=('"public.t"',))]
        self.run_cases(cases)

    def kill_and_rerun(self, test):
        code, _, _ = self.interrupt(signal.SIGKILL, True)(test)
        if self.fingerprint("victim") != self.fingerprint("victim_seed"):
            return code, "victim changed by a SIGKILL", False
        # the next run (here one that fails on a bad row) drops the leftover
        # side database and still keeps victim
        bad = self.write("fail.sql", b"CREATE TABLE public.t (a integer);\n"
                         b"COPY public.t (a) FROM stdin;\nx\n\\.\n")
        return run_bin(["restore", bad, "--sql-script", "--database", "victim", "--clean",
                        "--wait", "2"],
                       self.base_env())


class PgAccessFaults(PgFaultCase):
    klass = "wrong password, unreachable server"

    def test_access(self):
        port = pgcluster.free_port()
        cases = [
            self.restore_into_victim("wrong master password", self.plain, codes=(1,),
                                     env={"PGPASSWORD": g3test.secret("not-the-password-1x")},
                                     names=('"127.0.0.1:%d"' % self.pg.port,)),
            self.restore_into_victim("wrong service password", self.plain, codes=(1, 2),
                                     env={"SERVICE_PGPASS": g3test.secret("wrong-svc-pass-2y")},
                                     names=('"victim"',)),
            self.restore_into_victim("unreachable server", self.plain, codes=(3,),
                                     env={"PGPORT": str(port)},
                                     names=("127.0.0.1:%d" % port,)),
            Case("dump from unreachable server", ["dump", "--database", "victim", "--output",
                                                   os.path.join(self.tmp, "x.tar.zst"),
                                                   "--wait", "1"],
                 env={"PGPORT": str(port)}, codes=(3,), names=("127.0.0.1:%d" % port,)),
        ]
        self.run_cases(cases)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.tar.zst")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.tar.zst.partial")))


class SwapFaults(PgFaultCase):
    """--clean replaces exactly its target: databases whose names share
    its prefix, or look like its side database, are left alone."""
    klass = "database swap (--clean)"
    NEIGHBOURS = ("victim2", "victim_gen3db_restore", "Victim", "victim__gen3db_restor")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for db in cls.NEIGHBOURS:
            cls.pg.psql('CREATE DATABASE "%s" TEMPLATE bystander' % db)

    def fingerprinted(self):
        return ("victim", "bystander", "postgres") + self.NEIGHBOURS

    def restore_baseline(self):
        for db in self.NEIGHBOURS:
            self.pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
        super().restore_baseline()
        for db in self.NEIGHBOURS:
            self.pg.psql('CREATE DATABASE "%s" TEMPLATE bystander' % db)

    def test_swap(self):
        bad = self.write("bad-row.sql", b"CREATE TABLE public.t (a integer);\n"
                         b"COPY public.t (a) FROM stdin;\n1\nx\n\\.\n")
        cases = [
            self.restore_into_victim("plain dump --clean", self.plain, expect="ok",
                                     ok_check=PgFaultCase.replaced_by_source),
            self.restore_into_victim("snapshot --clean", self.snap, expect="ok",
                                     ok_check=PgFaultCase.replaced_by_source),
            self.restore_into_victim("bad row --clean", bad, extra=["--sql-script"], codes=(1,),
                                     names=('"public.t"',)),
            Case("plain dump without --clean into a database with tables",
                 ["restore", self.plain, "--database", "victim", "--wait", "2"],
                 codes=(2,), names=('"victim"',)),
        ]
        self.run_cases(cases)


class OutputFileFaults(PgFaultCase):
    """A failing dump, dump-es or create leaves an existing output as it
    was and no .partial or temporary file beside it."""
    klass = "existing output files"

    def state(self):
        st = {}
        for name in sorted(os.listdir(self.out)):
            p = os.path.join(self.out, name)
            with open(p, "rb") as f:
                st[name] = hashlib.sha256(f.read()).hexdigest()
        return st

    def restore_baseline(self):
        shutil.rmtree(self.out, ignore_errors=True)
        os.makedirs(self.out)
        for name in ("out.tar.zst", "secrets.yaml", "dev_case__data.json",
                     "dev_case__mapping.json"):
            with open(os.path.join(self.out, name), "wb") as f:
                f.write(b"old content of " + name.encode() + b"\n")

    def test_outputs(self):
        self.out = os.path.join(self.tmp, "out")
        self.restore_baseline()
        port = pgcluster.free_port()
        o = lambda n: os.path.join(self.out, n)  # noqa: E731
        cases = [
            Case("dump of a missing database over an existing file",
                 ["dump", "--database", "no_such_db", "--output", o("out.tar.zst")],
                 codes=(1, 2), names=('"no_such_db"',)),
            Case("dump from an unreachable server over an existing file",
                 ["dump", "--database", "victim", "--output", o("out.tar.zst"), "--wait", "1"],
                 env={"PGPORT": str(port)}, codes=(3,), names=("127.0.0.1:%d" % port,)),
            Case("dump-es from an unreachable server into a directory with files",
                 ["dump-es", "--es", "http://127.0.0.1:%d" % port, "--wait", "1",
                  "--index", "dev_case", "--output", self.out],
                 codes=(3,), names=("127.0.0.1:%d" % port,)),
            # a --secret-out that is not a Secrets file is refused before
            # any connection, and left as it was
            Case("create with an existing --secret-out that is not a Secrets file",
                 ["create", "--service", "fence", "--release", "x", "--wait", "1",
                  "--secret-out", o("secrets.yaml")],
                 env={"PGPORT": str(port)}, codes=(2,), names=(o("secrets.yaml"),)),
        ]
        self.run_cases(cases)


# ---- Elasticsearch ---------------------------------------------------------------

class EsFaultCase(FaultCase):
    """The test double with: keep_0 (aliased keep, 3 documents, never named
    by a case) and dev_case (an alias on dev_case_0 from a first restore)."""
    es = None

    @classmethod
    def setUpClass(cls):
        cls.es = EsServer("es7")
        cls.tmp = tempfile.mkdtemp(prefix="gen3db-faults-es-", dir=TMP)
        cls.src = os.path.join(cls.tmp, "src")
        cls.write_index(cls.src, "dev_case", 40)
        cls.write_index(cls.src, "keep", 3)

    @classmethod
    def tearDownClass(cls):
        if cls.es:
            cls.es.stop()

    @staticmethod
    def write_index(d, index, n):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, index + "__mapping.json"), "w") as f:
            json.dump({index + "_0": {"mappings": {"properties": {"n": {"type": "long"}}}}}, f)
        with open(os.path.join(d, index + "__data.json"), "w") as f:
            for i in range(n):
                f.write(json.dumps({"_index": index + "_0", "_type": "_doc", "_id": "d%d" % i,
                                    "_source": {"n": i}}) + "\n")

    def setUp(self):
        self.restore_baseline()

    def restore_baseline(self):
        self.es.req("DELETE", "/_test/faults")
        self.es.reset()
        for index in ("keep", "dev_case"):
            r = subprocess.run([g3test.BIN, "restore-es", self.src, "--es", self.es.url,
                                "--wait", "5", "--index", index], env=self.base_env(),
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stderr

    def state(self):
        st = {}
        _, out = self.es.req("GET", "/_alias")
        for idx, v in sorted(out.items()):
            if idx.startswith("."):
                continue
            _, c = self.es.req("GET", "/%s/_count" % urllib.parse.quote(idx, safe=""))
            st[idx] = "%s docs=%d" % (sorted(v.get("aliases", {})), c["count"])
        return st

    def base_env(self):
        e = dict(os.environ)
        for k in ("ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "ES_USERNAME", "ES_PASSWORD",
                  "ES_API_KEY"):
            e.pop(k, None)
        return e


HOSTILE_INDICES = ["_all", "*", "keep*", "a,keep", "Upper", "..", "-dash", "x" * 256,
                   "keep_0", "dev_case/../keep"]


class EsNameFaults(EsFaultCase):
    klass = "hostile ES index names"

    def test_names(self):
        cases = []
        for name in HOSTILE_INDICES:
            d = os.path.join(self.tmp, "h%d" % HOSTILE_INDICES.index(name))
            try:
                self.write_index(d, name, 2)
            except OSError:
                os.makedirs(d, exist_ok=True)     # a name no file can carry
            short = name if len(name) < 20 else name[:6] + "...(%d bytes)" % len(name)
            cases.append(Case("--index %r --clean" % short,
                              ["restore-es", d, "--es", self.es.url, "--wait", "2",
                               "--index", name, "--clean"],
                              codes=(2,), names=(name,)))
            host = self.es.url.replace("http://", "")
            # GUPPY_INDICES is a comma-separated list: "a,keep" names index
            # "a" (whose files are missing) and index "keep"
            told = name.split(",")[0] if "," in name else name
            cases.append(Case("GUPPY_INDICES=%r" % short,
                              ["restore-es", d, "--wait", "2", "--clean"],
                              env={"ESHOST": host, "GUPPY_INDICES": name},
                              codes=(2,), names=(told,)))
        self.run_cases(cases)


class EsServerFaults(EsFaultCase):
    klass = "ES server faults"

    def faulted(self, cid, faults, args, codes=(1,), expect="refused", needs=None, names=None):
        def action(test):
            test.es.faults(**faults)
            try:
                env = test.base_env()
                return run_bin(["restore-es", test.src, "--es", test.es.url, "--wait", "2",
                                "--index", "dev_case", "--clean"] + args, env)
            finally:
                test.es.req("DELETE", "/_test/faults")
        return Case(cid, action=action, codes=codes, expect=expect, needs=needs,
                    names=names or ('"dev_case',), ok_check=self.new_version)

    def new_version(self, test, before, after):
        want = dict(before)
        want.pop("dev_case_0", None)
        want["dev_case_1"] = "['dev_case'] docs=40"
        return True if after == want else "changed: %s" % diff(want, after)

    def test_faults(self):
        port = pgcluster.free_port()
        cases = [
            self.faulted("every item 429, retries exhausted", {"reject_item_ratio": 1.0,
                                                               "seed": 1},
                         ["--es-retries", "2"]),
            self.faulted("30% of items 429 (retried)", {"reject_item_ratio": 0.3, "seed": 7},
                         ["--es-retries", "15"], expect="ok"),
            self.faulted("bulk requests 503 then 429 (retried)",
                         {"reject_requests_503": 3, "reject_requests_429": 2, "scope": "bulk"},
                         [], expect="ok"),
            self.faulted("every bulk request 503, --es-retries 3",
                         {"reject_requests_503": 100000, "scope": "bulk"},
                         ["--es-retries", "3"], codes=(1,)),
            self.faulted("every bulk request 503, --es-retries 1000 --es-retry-time 10 "
                         "(the budget ends it within 45 s)",
                         {"reject_requests_503": 100000, "scope": "bulk"},
                         ["--es-retries", "1000", "--es-retry-time", "10"], codes=(1,)),
            self.faulted("connection closed mid-response", {"close_mid_response": 3}, [],
                         expect="ok"),
            Case("unreachable server", ["restore-es", self.src, "--es",
                                        "http://127.0.0.1:%d" % port, "--wait", "1",
                                        "--index", "dev_case"],
                 codes=(3,), names=("127.0.0.1:%d" % port,)),
        ]
        self.run_cases(cases)


if __name__ == "__main__":
    unittest.main()
