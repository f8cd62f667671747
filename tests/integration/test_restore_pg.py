"""gen3db restore against a throwaway PostgreSQL: plain SQL dumps (plain,
gzip, zstd, stdin) compared with the same file loaded by psql, awkward data
through pg_dump, ownership, bad input with exact messages, and the safety
of the side database (SIGKILL halfway, --clean keeping old data)."""
import base64
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import snapforge  # noqa: E402
sys.path.insert(0, HERE)
from g3test import gen3_dataset, module_pg, module_tmp  # noqa: E402

BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
PG = None
TMP = None
DATA = None
SERVICE_PASS = "svc-pass-Zq81"


def setUpModule():
    global PG, TMP, DATA
    TMP = module_tmp("gen3db-restore-test-")
    PG = module_pg()
    DATA = gen3_dataset(os.path.join(TMP, "gen"), "2MB", seed=1)


def run(args, db=None, user=None, stdin=None, env_extra=None, input_bytes=None):
    env = PG.env()
    env["SERVICE_PGPASS"] = SERVICE_PASS
    if user:
        env["SERVICE_PGUSER"] = user
    env.pop("SERVICE_PGDB", None)
    if env_extra:
        env.update(env_extra)
    argv = [BIN, "restore"] + args
    if db:
        argv += ["--database", db]
    r = subprocess.run(argv, env=env, stdin=stdin, input=input_bytes, capture_output=True,
                       timeout=600)
    # passwords never in argv, output or messages
    for secret in (SERVICE_PASS, PG.password):
        for text in [r.stdout, r.stderr] + [x.encode() for x in argv]:
            assert secret.encode() not in text, "a password appeared in the output"
    return r


def psql_file(path, db):
    PG.psql('CREATE DATABASE "%s"' % db)
    env = PG.env()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", path],
                   env=env, check=True, capture_output=True)


def exists(db):
    return PG.psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % db) == "1"


def tables(db):
    out = PG.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                  "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", db=db)
    return [t for t in out.split("\n") if t]


def fingerprint(db):
    """md5 of every table's ordered rows, sequence values, constraints and indexes."""
    fp = {}
    for t in tables(db):
        fp[t] = PG.psql("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' "
                        "ORDER BY t::text)), '') FROM %s t" % t, db=db)
    seqs = PG.psql("SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences "
                   "ORDER BY 1", db=db)
    for s in [x for x in seqs.split("\n") if x]:
        fp["seq " + s] = PG.psql("SELECT last_value || ' ' || is_called FROM %s" % s, db=db)
    fp["constraints"] = PG.psql("SELECT string_agg(d, E'\\n' ORDER BY d) FROM (SELECT "
                                "conrelid::regclass || ' ' || conname || ' ' || "
                                "pg_get_constraintdef(oid) AS d FROM pg_constraint "
                                "WHERE connamespace::regnamespace::text NOT IN "
                                "('pg_catalog', 'information_schema')) x", db=db)
    fp["indexes"] = PG.psql("SELECT string_agg(indexdef, E'\\n' ORDER BY indexdef) FROM pg_indexes "
                            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", db=db)
    return fp


def owners(db):
    out = PG.psql("SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                  "JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                  "AND n.nspname NOT LIKE 'pg_toast%' AND c.relkind IN ('r','S','i','v','m')", db=db)
    return sorted(x for x in out.split("\n") if x)


def drop(db):
    PG.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)


def slow_dump(path, rows=4000, sleep_ms=1):
    """A dump whose one COPY is slowed by a trigger: time to act mid-COPY."""
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


def wait_for(pred, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def copy_running(db):
    return PG.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                   "AND query LIKE 'COPY%%' AND state = 'active'" % db) != "0"


class PlainSqlTest(unittest.TestCase):
    def compare_with_psql(self, service, source, target, stdin=None, input_bytes=None, jobs=2):
        ref = "ref_" + target
        drop(ref)
        drop(target)
        psql_file(os.path.join(DATA, "pg", service + ".sql"), ref)
        r = run([source, "--jobs", str(jobs), "--json"], db=target, user=target, stdin=stdin,
                input_bytes=input_bytes)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        summary = json.loads(r.stdout)
        self.assertEqual(summary["format"], "sql")
        self.assertEqual(summary["databases"][0]["database"], target)
        self.assertEqual(fingerprint(target), fingerprint(ref))
        self.assertEqual(owners(target), [target])
        self.assertFalse(exists(target + "__gen3db_restore"))
        with open(os.path.join(DATA, "manifest.json")) as f:
            manifest = json.load(f)
        rows = sum(t["rows"] for t in manifest["services"][service]["tables"].values()) \
            if isinstance(manifest["services"][service]["tables"], dict) else None
        if rows is not None:
            self.assertEqual(summary["rows"], rows)
        drop(ref)
        return summary, r.stderr.decode()

    def test_every_service_matches_psql(self):
        for svc in ("fence", "indexd", "arborist", "sheepdog"):
            with self.subTest(service=svc):
                self.compare_with_psql(svc, os.path.join(DATA, "pg", svc + ".sql"), svc + "_gen3")
                drop(svc + "_gen3")

    def test_gzip(self):
        path = os.path.join(TMP, "fence.sql.gz")
        with open(os.path.join(DATA, "pg", "fence.sql"), "rb") as f, gzip.open(path, "wb") as g:
            g.write(f.read())
        summary, _ = self.compare_with_psql("fence", path, "fence_gz")
        self.assertEqual(summary["compression"], "gzip")
        drop("fence_gz")

    def test_zstd(self):
        path = os.path.join(TMP, "indexd.sql.zst")
        subprocess.run(["zstd", "-q", "-f", os.path.join(DATA, "pg", "indexd.sql"), "-o", path],
                       check=True)
        summary, _ = self.compare_with_psql("indexd", path, "indexd_zst")
        self.assertEqual(summary["compression"], "zstd")
        drop("indexd_zst")

    def test_stdin(self):
        with open(os.path.join(DATA, "pg", "arborist.sql"), "rb") as f:
            self.compare_with_psql("arborist", "-", "arborist_stdin", stdin=f)
        drop("arborist_stdin")

    def test_single_job(self):
        self.compare_with_psql("sheepdog", os.path.join(DATA, "pg", "sheepdog.sql"), "sheepdog_j1",
                               jobs=1)
        drop("sheepdog_j1")

    def test_eight_jobs(self):
        for svc in ("indexd", "sheepdog"):
            self.compare_with_psql(svc, os.path.join(DATA, "pg", svc + ".sql"), svc + "_j8", jobs=8)
            drop(svc + "_j8")

    def test_report_on_stderr(self):
        drop("fence_rep")
        r = run([os.path.join(DATA, "pg", "fence.sql")], db="fence_rep", user="fence_rep")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        err = r.stderr.decode()
        self.assertRegex(err, r'gen3db:   public\.User: \d+ rows, [0-9.]+ MB in [0-9.]+ s')
        self.assertRegex(err, r'gen3db: restored database "fence_rep" from ".*fence\.sql": \d+ rows')
        self.assertEqual(r.stdout, b"")
        self.assertNotIn(SERVICE_PASS, err)
        drop("fence_rep")


AWKWARD_SQL = r"""
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE SCHEMA other;
CREATE TABLE public."User" (id serial PRIMARY KEY, name text, "odd ""col"" name" text);
CREATE TABLE public.awk (
  id bigserial PRIMARY KEY, t text, b bytea, arr text[], j jsonb, n numeric,
  ts timestamptz, tags ltree, user_id integer REFERENCES public."User"(id));
CREATE TABLE other.awk (id integer PRIMARY KEY, v text);
CREATE INDEX awk_n ON public.awk (n);
CREATE INDEX awk_tags ON public.awk USING gist (tags);
INSERT INTO public."User" (name, "odd ""col"" name") VALUES ('a', NULL), ('', 'x'), (NULL, '');
INSERT INTO public.awk (t, b, arr, j, n, ts, tags, user_id) VALUES
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('', '\x'::bytea, '{}', '{}', 0, 'epoch', 'a', 1),
  (E'back\\slash \\N tab\there new\nline cr\rend', '\x00ff5c0a'::bytea,
   ARRAY['NULL', '', 'back\slash', 'quo"te', NULL], '{"k": "v\\n\"q\"", "u": "\u00e9"}',
   123456789012345678901234567890.123456789012345678901234567890,
   '2024-02-29 23:59:59.999999+05:30', 'top.mid.leaf', 2),
  ('unicode ✓ 𝄞 日本 😀', decode(repeat('ab', 100), 'hex'), ARRAY['✓'], '[1, 2.50, null]', -1e-20,
   'infinity', 'x.y', 3);
INSERT INTO public.awk (t) SELECT repeat('0123456789', 1048576);
INSERT INTO other.awk VALUES (1, 'other schema'), (2, E'\\.');
SELECT setval('public.awk_id_seq', 1000);
COMMENT ON TABLE public.awk IS 'awkward; data';
CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $body$ SELECT 'a;b' $body$;
"""


class AwkwardDataTest(unittest.TestCase):
    def test_pg_dump_round_trip(self):
        drop("awk_src")
        drop("awk_dst")
        PG.psql("CREATE DATABASE awk_src")
        PG.psql(AWKWARD_SQL, db="awk_src")
        dump = os.path.join(TMP, "awk.sql")
        subprocess.run(["pg_dump", "-d", "awk_src", "-f", dump], env=PG.env(), check=True)
        with open(dump) as f:
            text = f.read()
        self.assertIn("COMMENT ON EXTENSION", text)   # the statement only its owner may run
        self.assertIn("\\restrict ", text)          # pg_dump 15.14+ guard lines
        r = run([dump, "--verbose"], db="awk_dst", user="awk_dst")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn('skipped "COMMENT ON EXTENSION ltree', r.stderr.decode())   # a note
        self.assertEqual(fingerprint("awk_dst"), fingerprint("awk_src"))
        self.assertEqual(owners("awk_dst"), ["awk_dst"])
        self.assertEqual(PG.psql("SELECT length(t) FROM public.awk WHERE length(t) > 1000",
                                 db="awk_dst"), "10485760")
        self.assertEqual(PG.psql("SELECT public.f()", db="awk_dst"), "a;b")
        drop("awk_src")
        drop("awk_dst")


class BadInputTest(unittest.TestCase):
    def write(self, name, text):
        path = os.path.join(TMP, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertFails(self, r, code, message):
        self.assertEqual(r.returncode, code, r.stderr.decode())
        self.assertIn(message, r.stderr.decode())

    def test_corrupt_zstd(self):
        src = os.path.join(TMP, "c.sql.zst")
        subprocess.run(["zstd", "-q", "-f", os.path.join(DATA, "pg", "fence.sql"), "-o", src],
                       check=True)
        with open(src, "rb") as f:
            data = bytearray(f.read())
        trunc = os.path.join(TMP, "trunc.sql.zst")
        with open(trunc, "wb") as f:
            f.write(data[:len(data) // 2])
        r = run([trunc], db="bad_trunc")
        # it ends before its first bytes decode: bad input found before
        # anything was done with it (exit 2)
        self.assertFails(r, 2, 'gen3db: could not read snapshot "%s": truncated' % trunc)
        self.assertFalse(exists("bad_trunc"))
        self.assertFalse(exists("bad_trunc__gen3db_restore"))
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0x55
        corrupt = os.path.join(TMP, "corrupt.sql.zst")
        with open(corrupt, "wb") as f:
            f.write(data)
        r = run([corrupt], db="bad_corrupt")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('gen3db: could not read snapshot "%s"' % corrupt, r.stderr.decode())
        self.assertFalse(exists("bad_corrupt"))

    def test_wrong_column_count(self):
        p = self.write("cols.sql", "CREATE TABLE public.t (a integer, b text);\n"
                       "COPY public.t (a, b) FROM stdin;\n1\tx\n2\ty\n3\n\\.\n")
        r = run([p, "--sql-script"], db="bad_cols")
        self.assertFails(r, 1, 'gen3db: could not load table "public.t": line 3: '
                         'missing data for column "b" (line 5)')
        self.assertFalse(exists("bad_cols"))

    def test_bad_value(self):
        p = self.write("val.sql", "CREATE TABLE public.node_case (a integer);\n\n"
                       "COPY public.node_case (a) FROM stdin;\n1\n2\nx\n\\.\n")
        r = run([p, "--sql-script"], db="bad_val")
        self.assertFails(r, 1, 'gen3db: could not load table "public.node_case": line 3: '
                         'invalid input syntax for type integer: "x" (line 6)')

    def test_bad_escape(self):
        p = self.write("esc.sql", "CREATE TABLE public.t (a bytea);\n"
                       "COPY public.t (a) FROM stdin;\n\\\\x00\n\\\\xZZ\n\\.\n")
        r = run([p, "--sql-script"], db="bad_esc")
        self.assertFails(r, 1, 'gen3db: could not load table "public.t": line 2: '
                         'invalid hexadecimal digit: "Z" (line 4)')

    def test_failing_ddl(self):
        p = self.write("ddl.sql", "SET client_min_messages = warning;\n\n"
                       "CREATE TABLE public.t (a integer);\n"
                       "CREATE TABLE public.u (a no_such_type);\n")
        r = run([p, "--sql-script"], db="bad_ddl")
        self.assertFails(r, 1, 'gen3db: line 4: could not run "CREATE TABLE public.u (a '
                         'no_such_type);": type "no_such_type" does not exist')
        self.assertFalse(exists("bad_ddl"))

    def test_failing_index(self):
        p = self.write("idx.sql", "CREATE TABLE public.t (a integer);\n"
                       "COPY public.t (a) FROM stdin;\n1\n1\n\\.\n"
                       "CREATE UNIQUE INDEX t_a ON public.t USING btree (a);\n")
        r = run([p, "--sql-script"], db="bad_idx")
        self.assertFails(r, 1, 'gen3db: line 6: could not run "CREATE UNIQUE INDEX t_a ON '
                         'public.t USING btree (a);": could not create unique index "t_a"')

    def test_unknown_meta_command(self):
        p = self.write("meta.sql", "\\restrict abc\nSELECT 1;\n\\set ON_ERROR_STOP on\n")
        r = run([p, "--sql-script"], db="bad_meta")
        self.assertFails(r, 2, 'gen3db: line 3: unsupported psql meta-command "\\set"')
        self.assertFalse(exists("bad_meta"))

    def test_connect_refused(self):
        p = self.write("conn.sql", "SELECT 1;\n\\connect fence\n")
        r = run([p, "--sql-script"], db="bad_conn")
        self.assertFails(r, 2, 'gen3db: line 2: "\\connect fence" switches databases')

    def test_unterminated_copy(self):
        p = self.write("trunc.sql", "CREATE TABLE public.t (a integer);\n"
                       "COPY public.t (a) FROM stdin;\n1\n2\n")
        r = run([p, "--sql-script"], db="bad_tcopy")
        self.assertFails(r, 2, "gen3db: line 5: unexpected end of input in the data of the "
                         "COPY statement at line 2")

    def test_no_password(self):
        env = {"SERVICE_PGPASS": ""}
        r = run([os.path.join(DATA, "pg", "fence.sql")], db="nopass", env_extra=env)
        self.assertFails(r, 2, 'gen3db: no password for role "nopass"')

    def test_target_with_tables_refused(self):
        drop("busy")
        PG.psql("CREATE DATABASE busy")
        PG.psql("CREATE TABLE keep (x int); INSERT INTO keep VALUES (42)", db="busy")
        r = run([os.path.join(DATA, "pg", "fence.sql")], db="busy")
        self.assertFails(r, 2, 'gen3db: database "busy" already has 1 table or other relation')
        self.assertIn("hint: --clean replaces it", r.stderr.decode())
        self.assertEqual(PG.psql("SELECT x FROM keep", db="busy"), "42")
        self.assertFalse(exists("busy__gen3db_restore"))
        # --clean replaces it
        r = run([os.path.join(DATA, "pg", "fence.sql"), "--clean"], db="busy", user="busy")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertNotIn("public.keep", tables("busy"))
        self.assertIn('public."User"', tables("busy"))
        drop("busy")

    def test_clean_failure_keeps_old_content(self):
        drop("keepold")
        PG.psql("CREATE DATABASE keepold")
        PG.psql("CREATE TABLE keep (x int); INSERT INTO keep VALUES (7)", db="keepold")
        p = self.write("fail.sql", "CREATE TABLE public.t (a integer);\n"
                       "COPY public.t (a) FROM stdin;\nx\n\\.\n")
        r = run([p, "--clean", "--sql-script"], db="keepold")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(PG.psql("SELECT x FROM keep", db="keepold"), "7")
        self.assertFalse(exists("keepold__gen3db_restore"))
        drop("keepold")

    def test_connection_terminated_mid_copy(self):
        p = os.path.join(TMP, "slow.sql")
        slow_dump(p, rows=20000)
        env = PG.env()
        env["SERVICE_PGPASS"] = SERVICE_PASS
        proc = subprocess.Popen([BIN, "restore", p, "--sql-script", "--database", "term"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertTrue(wait_for(lambda: copy_running("term__gen3db_restore")))
            PG.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = 'term__gen3db_restore' AND query LIKE 'COPY%'")
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(proc.returncode, 1, err.decode())
        self.assertRegex(err.decode(), r'gen3db: could not load table "public\.slow": line \d+: '
                         r'terminating connection due to administrator command \(line \d+\)')
        self.assertFalse(exists("term"))
        self.assertFalse(exists("term__gen3db_restore"))

    def test_sigterm_cleans_up(self):
        p = os.path.join(TMP, "slow3.sql")
        slow_dump(p, rows=20000)
        env = PG.env()
        env["SERVICE_PGPASS"] = SERVICE_PASS
        proc = subprocess.Popen([BIN, "restore", p, "--sql-script", "--database", "termed"],
                                env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertTrue(wait_for(lambda: copy_running("termed__gen3db_restore")))
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(proc.returncode, 1, err.decode())
        self.assertIn("gen3db: interrupted", err.decode())
        self.assertFalse(exists("termed"))
        self.assertFalse(exists("termed__gen3db_restore"))

    def test_sigkill_halfway(self):
        p = os.path.join(TMP, "slow2.sql")
        slow_dump(p, rows=20000)
        for clean in (False, True):
            with self.subTest(clean=clean):
                drop("killed")
                if clean:
                    PG.psql("CREATE DATABASE killed")
                    PG.psql("CREATE TABLE keep (x int); INSERT INTO keep VALUES (9)", db="killed")
                env = PG.env()
                env["SERVICE_PGPASS"] = SERVICE_PASS
                argv = [BIN, "restore", p, "--sql-script", "--database", "killed"] + \
                    (["--clean"] if clean else [])
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                self.assertTrue(wait_for(lambda: copy_running("killed__gen3db_restore")))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                if clean:
                    self.assertEqual(PG.psql("SELECT x FROM keep", db="killed"), "9")
                else:
                    self.assertFalse(exists("killed"))
                # the next run drops the leftover and restores
                r = run([os.path.join(DATA, "pg", "arborist.sql")] + (["--clean"] if clean else []),
                        db="killed")
                self.assertEqual(r.returncode, 0, r.stderr.decode())
                self.assertFalse(exists("killed__gen3db_restore"))
                self.assertIn("public.resource", tables("killed"))
        drop("killed")

def role_exists(role):
    return PG.psql("SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % role) == "1"


def server_objects():
    """Every role and database name: what a refused run must not change."""
    return (PG.psql("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles"),
            PG.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"))


TRUNC_SRC_SQL = """
CREATE TABLE public.parent (id serial PRIMARY KEY, name text UNIQUE);
CREATE TABLE public.child (id bigserial PRIMARY KEY,
                           parent_id integer REFERENCES public.parent(id), v text);
CREATE INDEX child_v ON public.child (v);
INSERT INTO public.parent (name) SELECT 'p' || g FROM generate_series(1, 50) g;
INSERT INTO public.child (parent_id, v) SELECT 1 + g % 50, 'v' || g FROM generate_series(1, 500) g;
"""


class TruncatedDumpTest(unittest.TestCase):
    """Real pg_dump output cut at statement boundaries: refused as incomplete
    (exit 1) when its end is reached, whatever the transport, and nothing
    changes: no target, no side database, no role this run created; with
    --clean the old database keeps its content."""

    @classmethod
    def setUpClass(cls):
        drop("trunc_src")
        PG.psql("CREATE DATABASE trunc_src")
        PG.psql(TRUNC_SRC_SQL, db="trunc_src")
        cls.full = os.path.join(TMP, "trunc_full.sql")
        subprocess.run(["pg_dump", "-d", "trunc_src", "-f", cls.full], env=PG.env(), check=True)
        with open(cls.full) as f:
            cls.text = f.read()
        t = cls.text
        assert t.startswith("--\n-- PostgreSQL database dump\n--\n"), t[:100]
        at = t.index("Type: CONSTRAINT;")
        cls.cuts = {
            "after CREATE TABLE": t.index(");\n", t.index("CREATE TABLE ")) + 3,
            "after a COPY block": t.index("\n\\.\n") + 4,
            "before the post-data": t.rindex("--\n-- Name: ", 0, at),
            "before the trailer": t.index("--\n-- PostgreSQL database dump complete"),
        }
        for name, cut in cls.cuts.items():
            assert t[cut - 1] == "\n", name
        cls.src_fp = fingerprint("trunc_src")

    @classmethod
    def tearDownClass(cls):
        drop("trunc_src")

    # every cut as a .sql file and through at least one other transport;
    # every transport with at least two cuts
    TRANSPORTS = {"after CREATE TABLE": ("gz",), "after a COPY block": ("zst",),
                  "before the post-data": ("stdin",),
                  "before the trailer": ("gz", "zst", "stdin")}

    def sources(self, cut_name):
        """(argv source, name in messages, stdin bytes) for the cut's transports."""
        text = self.text[:self.cuts[cut_name]].encode()
        base = os.path.join(TMP, "cut-" + cut_name.replace(" ", "-"))
        with open(base + ".sql", "wb") as f:
            f.write(text)
        out = [(base + ".sql", base + ".sql", None)]
        for t in self.TRANSPORTS[cut_name]:
            if t == "gz":
                with gzip.open(base + ".sql.gz", "wb") as g:
                    g.write(text)
                out.append((base + ".sql.gz", base + ".sql.gz", None))
            elif t == "zst":
                subprocess.run(["zstd", "-q", "-f", base + ".sql", "-o", base + ".sql.zst"],
                               check=True)
                out.append((base + ".sql.zst", base + ".sql.zst", None))
            else:
                out.append(("-", "standard input", text))
        return out

    def message(self, name, cut_name):
        line = self.text[:self.cuts[cut_name]].count("\n")
        return ('gen3db: dump "%s" is incomplete (truncated): it ends at line %d without '
                'pg_dump\'s closing line "-- PostgreSQL database dump complete"\n'
                'hint: nothing was changed; copy or download the whole dump again\n'
                % (name, line))

    def test_new_target(self):
        drop("trunc_new")
        PG.psql("DROP ROLE IF EXISTS trunc_new_role")
        for cut_name in self.cuts:
            for source, name, data in self.sources(cut_name):
                with self.subTest(cut=cut_name, source=source):
                    r = run([source], db="trunc_new", user="trunc_new_role", input_bytes=data)
                    self.assertEqual(r.returncode, 1, r.stderr.decode())
                    self.assertIn(self.message(name, cut_name), r.stderr.decode())
                    self.assertIn('dropped role "trunc_new_role", which this restore had '
                                  'created', r.stderr.decode())
                    self.assertFalse(exists("trunc_new"))
                    self.assertFalse(exists("trunc_new__gen3db_restore"))
                    # the role this run created went with it
                    self.assertFalse(role_exists("trunc_new_role"))

    def test_clean_keeps_old_database(self):
        drop("trunc_old")
        r = run([self.full], db="trunc_old", user="trunc_old")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("trunc_old"), self.src_fp)
        for cut_name in self.cuts:
            for source, name, data in self.sources(cut_name):
                with self.subTest(cut=cut_name, source=source):
                    r = run([source, "--clean"], db="trunc_old", user="trunc_old",
                            input_bytes=data)
                    self.assertEqual(r.returncode, 1, r.stderr.decode())
                    self.assertIn(self.message(name, cut_name), r.stderr.decode())
                    self.assertNotIn("dropped role", r.stderr.decode())
                    self.assertEqual(fingerprint("trunc_old"), self.src_fp)
                    self.assertFalse(exists("trunc_old__gen3db_restore"))
                    # the role existed before the run: it stays
                    self.assertTrue(role_exists("trunc_old"))
        # the whole dump still replaces it
        r = run([self.full, "--clean"], db="trunc_old", user="trunc_old")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("trunc_old"), self.src_fp)
        drop("trunc_old")

    def test_unrestrict_after_trailer_is_complete(self):
        # pg_dump 15.14+ ends with \unrestrict KEY after the trailer
        self.assertRegex(self.text, r"dump complete\n--\n\n\\unrestrict \w+\n\n$")
        drop("trunc_whole")
        r = run(["-"], db="trunc_whole", user="trunc_whole", input_bytes=self.text.encode())
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("trunc_whole"), self.src_fp)
        drop("trunc_whole")


class SniffTest(unittest.TestCase):
    """Input that is empty or not SQL is refused (exit 2) before the server is
    touched: no role, no database."""

    def check(self, args, message, input_bytes=None):
        before = server_objects()
        r = run(args, db="sniff_db", user="sniff_role", input_bytes=input_bytes)
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertEqual(r.stderr.decode(), message)
        self.assertEqual(server_objects(), before)
        self.assertFalse(role_exists("sniff_role"))

    def write(self, name, data):
        path = os.path.join(TMP, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_empty(self):
        p = self.write("empty.sql", b"")
        self.check([p], 'gen3db: "%s" is empty\n' % p)
        self.check(["/dev/null"], 'gen3db: "/dev/null" is empty\n')
        self.check(["-"], 'gen3db: "standard input" is empty\n', input_bytes=b"")
        gz = os.path.join(TMP, "empty.sql.gz")
        with gzip.open(gz, "wb"):
            pass
        self.check([gz], 'gen3db: "%s" is empty once decompressed (gzip)\n' % gz)

    def test_not_sql(self):
        with open("/etc/passwd", "rb") as f:
            first = f.readline().decode().rstrip("\n")
        self.check(["/etc/passwd"], 'gen3db: "/etc/passwd" is not a SQL dump or a gen3db '
                   'snapshot: it is text that does not start like SQL (line 1: "%s")\n' % first)
        jpeg = self.write("photo.sql", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + os.urandom(200))
        self.check([jpeg], 'gen3db: "%s" is not a SQL dump or a gen3db snapshot: it is a '
                   'JPEG image\n' % jpeg)
        z = os.path.join(TMP, "dump.zip")
        import zipfile
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("fence.sql", "SELECT 1;\n")
        self.check([z], 'gen3db: "%s" is not a SQL dump or a gen3db snapshot: it is a zip '
                   'archive\n' % z)
        rnd = bytes((i * 7919 + 13) % 256 for i in range(4096))
        self.check(["-"], 'gen3db: "standard input" is not a SQL dump or a gen3db snapshot: '
                   'it is binary data\n', input_bytes=rnd)
        gz = os.path.join(TMP, "binary.sql.gz")
        with gzip.open(gz, "wb") as g:
            g.write(rnd)
        self.check([gz], 'gen3db: "%s" is not a SQL dump or a gen3db snapshot: it is binary '
                   'data\n' % gz)

    def test_hand_written_sql_needs_option(self):
        sql = b"CREATE TABLE public.t (a integer);\nINSERT INTO public.t VALUES (1);\n"
        p = self.write("hand.sql", sql)
        hint = "hint: give --sql-script to restore a SQL script that pg_dump did not write\n"
        self.check([p], 'gen3db: "%s" is not pg_dump output (no "-- PostgreSQL database dump" '
                   "header), so whether it is complete cannot be told\n%s" % (p, hint))
        self.check(["-"], 'gen3db: "standard input" is not pg_dump output (no "-- PostgreSQL '
                   'database dump" header), so whether it is complete cannot be told\n%s' % hint,
                   input_bytes=sql)
        self.check([self.write("comments.sql", b"-- nothing here\n"), "--sql-script"],
                   'gen3db: "%s" holds only comments, no SQL statements\n'
                   % os.path.join(TMP, "comments.sql"))
        drop("hand_db")
        r = run([p, "--sql-script"], db="hand_db", user="hand_db")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(PG.psql("SELECT a FROM public.t", db="hand_db"), "1")
        drop("hand_db")


class CreateOptionDumpTest(unittest.TestCase):
    """pg_dump --create output: its CREATE DATABASE, the database's own
    settings, comment and grants, and its \\connect are about the dump's
    database; the data goes to the target the restore names."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=TMP)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.src = "Src DB-%d" % os.getpid()
        PG.psql('DROP DATABASE IF EXISTS "%s"' % self.src)
        PG.psql('CREATE DATABASE "%s"' % self.src)
        self.addCleanup(PG.psql, 'DROP DATABASE IF EXISTS "%s"' % self.src)
        PG.psql("CREATE TABLE t (id int PRIMARY KEY, v text); "
                "INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 300) i; "
                "CREATE TABLE u (id int REFERENCES t); INSERT INTO u VALUES (1), (2)",
                db=self.src)
        PG.psql('ALTER DATABASE "%s" SET work_mem TO \'5MB\'' % self.src)
        PG.psql('COMMENT ON DATABASE "%s" IS \'the source\'' % self.src)
        PG.psql('GRANT CONNECT ON DATABASE "%s" TO PUBLIC' % self.src)

    def dump(self, *extra):
        path = os.path.join(self.tmp, "create.sql")
        with open(path, "wb") as f:
            subprocess.run(["pg_dump", "--create", "-d", self.src] + list(extra), env=PG.env(),
                           check=True, stdout=f)
        return path

    def test_restored_into_the_target(self):
        path = self.dump()
        with open(path) as f:
            text = f.read()
        self.assertIn("CREATE DATABASE", text)
        self.assertEqual(text.count("\\connect"), 2)  # before and after the settings
        drop("create_target")
        r = run([path, "--json"], db="create_target", user="create_target")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        err = r.stderr.decode()
        self.assertIn('a pg_dump --create file: its database is restored as "create_target"', err)
        self.assertIn("not applied: \"ALTER DATABASE", err)
        report = json.loads(r.stdout)["databases"][0]
        self.assertEqual(report["skipped_database_statements"], 4)
        self.assertEqual(fingerprint("create_target"), fingerprint(self.src))
        self.assertEqual(owners("create_target"), ["create_target"])
        # the source database is untouched: no CREATE, no ALTER ran against it
        self.assertEqual(PG.psql("SELECT count(*) FROM t", db=self.src), "300")
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'Src DB%'"),
                         "1")
        drop("create_target")

    def test_a_second_database_is_refused(self):
        path = self.dump()
        with open(path, "a") as f:
            f.write("\\connect other\nCREATE TABLE x (a int);\n")
        drop("create_two")
        r = run([path, "--sql-script"], db="create_two", user="create_two")
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn('"\\connect other" switches databases', r.stderr.decode())
        self.assertFalse(exists("create_two"))

    def test_connect_without_create_database_is_refused(self):
        path = os.path.join(self.tmp, "c.sql")
        with open(path, "w") as f:
            f.write("SELECT 1;\n\\connect fence\n")
        r = run([path, "--sql-script"], db="create_none")
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertFalse(exists("create_none"))


class NewerPgDumpTest(unittest.TestCase):
    """A newer pg_dump's session settings on an older server: pg_dump 17
    writes SET transaction_timeout = 0, which PostgreSQL 15 does not know.
    Unknown to the server, it cannot change how the data is read: skipped
    with a warning. A known setting with a bad value still fails."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=TMP)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def dump_with(self, line):
        with open(os.path.join(DATA, "pg", "indexd.sql")) as f:
            text = f.read()
        self.assertIn("SET lock_timeout = 0;\n", text)
        text = text.replace("SET lock_timeout = 0;\n", "SET lock_timeout = 0;\n" + line + "\n", 1)
        path = os.path.join(self.tmp, "newer.sql")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_unknown_setting_skipped(self):
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_settings WHERE name = "
                                 "'transaction_timeout'"), "0", "the server knows it")
        path = self.dump_with("SET transaction_timeout = 0;")
        drop("newer_dump")
        drop("ref_newer")
        psql_file(os.path.join(DATA, "pg", "indexd.sql"), "ref_newer")
        r = run([path, "--json", "--jobs", "2"], db="newer_dump", user="newer_dump")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn('skipped "SET transaction_timeout = 0;": the server does not know this '
                      'setting', r.stderr.decode())
        self.assertEqual(json.loads(r.stdout)["databases"][0]["skipped_unknown_settings"], 1)
        self.assertEqual(fingerprint("newer_dump"), fingerprint("ref_newer"))
        drop("newer_dump")
        drop("ref_newer")

    def test_bad_value_of_a_known_setting_fails(self):
        path = self.dump_with("SET lock_timeout = 'not a time';")
        drop("newer_bad")
        r = run([path], db="newer_bad", user="newer_bad")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn("lock_timeout", r.stderr.decode())
        self.assertFalse(exists("newer_bad"))


class PgDumpVariantsTest(unittest.TestCase):
    """pg_dump's plain output as other people write it: INSERT statements
    instead of COPY, no owners or privileges, every identifier quoted,
    triggers disabled around the data; over identity and generated columns,
    an enum, inheritance, an unlogged table, row level security, quoted
    mixed-case names, arrays, jsonb, bytea and escapes."""

    SRC = "variants_src"

    @classmethod
    def setUpClass(cls):
        drop(cls.SRC)
        PG.psql('CREATE DATABASE "%s"' % cls.SRC)
        PG.psql(r"""
            CREATE SCHEMA "Weird Schema";
            CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE "Weird Schema"."Mixed Case" (
                id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "Name" text, m mood,
                g int GENERATED ALWAYS AS (id * 2) STORED);
            INSERT INTO "Weird Schema"."Mixed Case" ("Name", m)
                SELECT 'n' || i || E'\ttab\\back\nnl''q', 'ok' FROM generate_series(1, 700) i;
            CREATE TABLE parent (id int, v text);
            CREATE TABLE child (extra int) INHERITS (parent);
            INSERT INTO parent VALUES (1, 'p'); INSERT INTO child VALUES (2, 'c', 3);
            CREATE UNLOGGED TABLE ul (x int);
            INSERT INTO ul SELECT generate_series(1, 10);
            CREATE TABLE rls (id int PRIMARY KEY, owner text);
            ALTER TABLE rls ENABLE ROW LEVEL SECURITY;
            CREATE POLICY p ON rls USING (owner = current_user);
            INSERT INTO rls VALUES (1, 'x');
            CREATE TABLE arr (id serial PRIMARY KEY, a int[], j jsonb, b bytea,
                              t timestamptz DEFAULT '2024-01-01 00:00:00+00',
                              p int REFERENCES rls);
            INSERT INTO arr (a, j, b, p) SELECT ARRAY[i, NULL], jsonb_build_object('k', i, 'u', 'é'),
                '\xdeadbeef00', CASE WHEN i % 2 = 0 THEN 1 END FROM generate_series(1, 500) i;
            CREATE VIEW v AS SELECT * FROM arr WHERE id < 10;
            CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql AS $$ SELECT x + 1; $$;
            CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN NEW.v := NEW.v || '!'; RETURN NEW; END $$;
            CREATE TRIGGER t BEFORE INSERT ON parent FOR EACH ROW EXECUTE FUNCTION trg();
            """, db=cls.SRC)

    @classmethod
    def tearDownClass(cls):
        drop(cls.SRC)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=TMP)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def check(self, name, options):
        path = os.path.join(self.tmp, name + ".sql")
        with open(path, "wb") as f:
            subprocess.run(["pg_dump", "-d", self.SRC] + options, env=PG.env(), check=True,
                           stdout=f)
        target = "variant_" + name
        drop(target)
        r = run([path, "--jobs", "2"], db=target, user=target)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint(target), fingerprint(self.SRC))
        self.assertEqual(owners(target), [target])
        # the trigger came after the data: rows were not changed twice
        self.assertEqual(PG.psql("SELECT v FROM parent ORDER BY id", db=target),
                         PG.psql("SELECT v FROM parent ORDER BY id", db=self.SRC))
        self.assertEqual(PG.psql("SELECT relpersistence FROM pg_class WHERE relname = 'ul'",
                                 db=target), "u")
        drop(target)

    def test_inserts(self):
        self.check("inserts", ["--inserts", "--rows-per-insert=7"])

    def test_column_inserts_without_owners_or_privileges(self):
        self.check("colins", ["--column-inserts", "-O", "-x"])

    def test_quoted_identifiers_and_disabled_triggers(self):
        self.check("quoted", ["--quote-all-identifiers", "--disable-triggers"])


class RoleCleanupTest(unittest.TestCase):
    """A failed run drops the role it created, and only that."""
    FAIL_SQL = b"CREATE TABLE public.t (a integer);\nCREATE TABLE public.u (a no_such_type);\n"

    def test_created_role_dropped(self):
        p = os.path.join(TMP, "role_fail.sql")
        with open(p, "wb") as f:
            f.write(self.FAIL_SQL)
        PG.psql("DROP ROLE IF EXISTS rc_new")
        r = run([p, "--sql-script"], db="rc_new_db", user="rc_new")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn('type "no_such_type" does not exist', r.stderr.decode())
        self.assertIn('dropped role "rc_new", which this restore had created',
                      r.stderr.decode())
        self.assertFalse(role_exists("rc_new"))
        self.assertFalse(exists("rc_new_db"))
        self.assertFalse(exists("rc_new_db__gen3db_restore"))

    def test_existing_role_kept(self):
        p = os.path.join(TMP, "role_fail.sql")
        with open(p, "wb") as f:
            f.write(self.FAIL_SQL)
        drop("rc_owned")
        PG.psql("DROP ROLE IF EXISTS rc_old")
        PG.psql("CREATE ROLE rc_old LOGIN PASSWORD '%s'" % SERVICE_PASS)
        PG.psql("CREATE DATABASE rc_owned OWNER rc_old")
        r = run([p, "--sql-script"], db="rc_old_db", user="rc_old")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertNotIn("dropped role", r.stderr.decode())
        self.assertTrue(role_exists("rc_old"))
        self.assertTrue(exists("rc_owned"))
        self.assertFalse(exists("rc_old_db__gen3db_restore"))
        drop("rc_owned")
        PG.psql("DROP ROLE rc_old")


def dump(db, path):
    r = subprocess.run([BIN, "dump", "--database", db, "--output", path, "--quiet"],
                       env=PG.env(), capture_output=True)
    assert r.returncode == 0, r.stderr.decode()


def tar_members(path):
    """The members of a .tar.zst in order: [(name, bytes)]."""
    raw = subprocess.run(["zstd", "-q", "-d", "-c", path], check=True, capture_output=True).stdout
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as t:
        for m in t.getmembers():
            out.append((m.name, t.extractfile(m).read()))
    return out


def write_snapshot(path, members):
    """Writes members as a ustar and compresses it with the zstd CLI."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    subprocess.run(["zstd", "-q", "-f", "-o", path], input=buf.getvalue(), check=True)


class SnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.snap = os.path.join(TMP, "sheepdog.tar.zst")
        drop("sheepdog_src")
        psql_file(os.path.join(DATA, "pg", "sheepdog.sql"), "sheepdog_src")
        dump("sheepdog_src", cls.snap)

    def test_round_trip(self):
        drop("sheepdog_snap")
        r = run([self.snap, "--map", "sheepdog_src=sheepdog_snap", "--json", "--jobs", "2"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        summary = json.loads(r.stdout)
        self.assertEqual(summary["format"], "snapshot")
        self.assertEqual(summary["databases"][0]["from"], "sheepdog_src")
        self.assertEqual(fingerprint("sheepdog_snap"), fingerprint("sheepdog_src"))
        self.assertEqual(owners("sheepdog_snap"), ["sheepdog_snap"])
        drop("sheepdog_snap")

    def test_awkward_round_trip(self):
        drop("awks_src")
        drop("awks_dst")
        PG.psql("CREATE DATABASE awks_src")
        PG.psql(AWKWARD_SQL, db="awks_src")
        snap = os.path.join(TMP, "awk.tar.zst")
        dump("awks_src", snap)
        r = run([snap, "--database", "awks_dst"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("awks_dst"), fingerprint("awks_src"))
        self.assertEqual(owners("awks_dst"), ["awks_dst"])
        drop("awks_src")
        drop("awks_dst")

    def tampered(self, name, edit):
        members = tar_members(self.snap)
        members = edit(members)
        path = os.path.join(TMP, name)
        write_snapshot(path, members)
        return path

    def test_checksum_mismatch(self):
        def edit(members):
            out = []
            done = False
            for name, data in members:
                if name.endswith(".copy") and len(data) > 10 and not done:
                    data = data[:5] + (b"X" if data[5:6] != b"X" else b"Y") + data[6:]
                    done = name
                out.append((name, data))
            self.member = done
            return out
        path = self.tampered("sum.tar.zst", edit)
        r = run([path, "--database", "tampered"])
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn('"%s"' % self.member, r.stderr.decode())
        self.assertIn("sha256", r.stderr.decode())
        self.assertFalse(exists("tampered"))
        self.assertFalse(exists("tampered__gen3db_restore"))

    def test_row_count_mismatch(self):
        def edit(members):
            out = []
            done = False
            for name, data in members:
                if name.endswith(".json") and "/data/" in name and not done:
                    h = json.loads(data)
                    if h["rows"] > 0:
                        h["rows"] += 1
                        data = json.dumps(h).encode()
                        done = name[:-5] + ".copy"
                out.append((name, data))
            self.member = done
            return out
        path = self.tampered("rows.tar.zst", edit)
        r = run([path, "--database", "tampered2"])
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn('"%s"' % self.member, r.stderr.decode())
        self.assertIn("rows", r.stderr.decode())
        self.assertFalse(exists("tampered2"))

    def test_bad_row_names_member(self):
        import hashlib

        def edit(members):
            out = []
            target = None
            for i, (name, data) in enumerate(members):
                if name.endswith(".json") and "/data/" in name and target is None:
                    h = json.loads(data)
                    if h["table"] == "node_case" and h["rows"] > 2:
                        copy = members[i + 1][1].split(b"\n")
                        copy[1] = b"\t".join([b"not-a-number"] + copy[1].split(b"\t")[1:])
                        body = b"\n".join(copy)
                        h["sha256"] = hashlib.sha256(body).hexdigest()
                        h["bytes"] = len(body)
                        target = (name[:-5] + ".copy", body)
                        data = json.dumps(h).encode()
                elif target and name == target[0]:
                    data = target[1]
                out.append((name, data))
            self.member = target[0]
            return out
        path = self.tampered("row.tar.zst", edit)
        r = run([path, "--database", "badrow"])
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertRegex(r.stderr.decode(), r'gen3db: could not load table "public\.node_case": '
                         r'line 2 of "%s": .*"not-a-number"' % self.member)
        self.assertFalse(exists("badrow"))

    def test_unknown_format_version(self):
        def edit(members):
            m = json.loads(members[0][1])
            m["format_version"] = 2
            return [("manifest.json", json.dumps(m).encode())] + members[1:]
        path = self.tampered("v2.tar.zst", edit)
        r = run([path, "--database", "future"])
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn("unsupported snapshot format_version 2 (this gen3db reads 1)",
                      r.stderr.decode())
        self.assertFalse(exists("future"))
        self.assertFalse(exists("future__gen3db_restore"))

    def test_missing_end(self):
        path = self.tampered("noend.tar.zst", lambda m: [x for x in m if x[0] != "end.json"])
        r = run([path, "--database", "noend"])
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn('snapshot "%s" ends without end.json: it is truncated' % path,
                      r.stderr.decode())
        self.assertFalse(exists("noend"))

    def test_two_databases(self):
        for d in ("fence_src", "fence_two", "sheepdog_two"):
            drop(d)
        psql_file(os.path.join(DATA, "pg", "fence.sql"), "fence_src")
        snap = os.path.join(TMP, "two.tar.zst")
        r = subprocess.run([BIN, "dump", "--database", "fence_src", "--database", "sheepdog_src",
                            "--output", snap, "--quiet"], env=PG.env(), capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        r = run([snap, "--database", "one"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--database names one target but the snapshot holds 2 databases",
                      r.stderr.decode())
        r = run([snap, "--release", "two", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        summary = json.loads(r.stdout)
        self.assertEqual([d["database"] for d in summary["databases"]],
                         ["fence_two", "sheepdog_two"])
        self.assertEqual(fingerprint("fence_two"), fingerprint("fence_src"))
        self.assertEqual(fingerprint("sheepdog_two"), fingerprint("sheepdog_src"))
        self.assertEqual(owners("fence_two"), ["fence_two"])
        self.assertEqual(owners("sheepdog_two"), ["sheepdog_two"])
        for d in ("fence_src", "fence_two", "sheepdog_two"):
            drop(d)

    def test_map_twice(self):
        drop("twice_b")
        r = run([self.snap, "--map", "sheepdog_src=twice_b", "--map", "sheepdog_src=twice_c"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(), 'gen3db: --map sheepdog_src=twice_b and --map '
                         'sheepdog_src=twice_c both map database "sheepdog_src"\n')
        r = run([self.snap, "--map", "sheepdog_src=twice_b", "--map", "other=twice_b"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.decode(), 'gen3db: --map sheepdog_src=twice_b and --map '
                         'other=twice_b both restore into "twice_b"\n')
        self.assertFalse(exists("twice_b"))
        self.assertFalse(exists("twice_c"))

    def test_json_reports_a_failure(self):
        r = run([self.snap, "--map", "sheepdog_src=template1", "--json"])
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        rep = json.loads(r.stdout)
        self.assertEqual(rep, {
            "source": self.snap, "status": "failed", "exit_code": 2,
            "databases": [{"database": "template1", "from": "sheepdog_src", "restored": False}],
            "error": 'database "template1" cannot be a target: it is the template every new '
                     "database is copied from",
            "hint": "name the service's own database"})
        missing = os.path.join(TMP, "nope.tar.zst")
        r = run([missing, "--json"], db="x")
        self.assertEqual(r.returncode, 2)
        rep = json.loads(r.stdout)
        self.assertEqual((rep["status"], rep["exit_code"], rep["databases"]), ("failed", 2, []))
        self.assertIn('could not open "%s"' % missing, rep["error"])

    def test_map_unknown_database(self):
        r = run([self.snap, "--map", "nope=x"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('--map nope=x: the snapshot has no database "nope"', r.stderr.decode())


class SnapshotIntegrityTest(unittest.TestCase):
    """Format 1.2: every member's size and sha256 in end.json, each table's parts 1..n once."""

    @classmethod
    def setUpClass(cls):
        drop("integ_src")
        PG.psql("CREATE DATABASE integ_src")
        PG.psql("CREATE TABLE events (id serial, note text); "
                "INSERT INTO events (note) SELECT 'event number ' || g || repeat('x', 40) "
                "FROM generate_series(1, 6000) g; "
                "CREATE TABLE tags (name text PRIMARY KEY); INSERT INTO tags VALUES ('a'), ('b')",
                db="integ_src")
        cls.snap = os.path.join(TMP, "integ.tar.zst")
        r = subprocess.run([BIN, "dump", "--database", "integ_src", "--output", cls.snap,
                            "--chunk-size", "64K", "--quiet"], env=PG.env(), capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        cls.members = snapforge.read_members(cls.snap)

    def events_parts(self, members):
        """{part: index of its header} of table public.events."""
        return {h["part"]: i for i, _, h in snapforge.chunk_headers(members)
                if h["table"] == "events"}

    def refused(self, members, needle, name):
        path = os.path.join(TMP, name + ".tar.zst")
        snapforge.write_members(path, members)
        drop(name)
        r = run([path, "--database", name, "--jobs", "2"])
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn(needle, r.stderr.decode())
        self.assertFalse(exists(name))
        self.assertFalse(exists(name + "__gen3db_restore"))
        v = subprocess.run([BIN, "verify", path], capture_output=True)
        self.assertEqual(v.returncode, 1, v.stdout.decode())
        self.assertIn(needle, v.stderr.decode())
        return r.stderr.decode()

    def test_intact(self):
        drop("integ_ok")
        r = run([self.snap, "--database", "integ_ok", "--jobs", "2"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("integ_ok"), fingerprint("integ_src"))
        self.assertEqual(json.loads(dict(self.members)["manifest.json"])["format_minor"], 2)
        v = subprocess.run([BIN, "verify", self.snap], capture_output=True)
        self.assertEqual(v.returncode, 0, v.stderr.decode())
        self.assertIn("  every member checked against end.json's member_sums\n", v.stdout.decode())
        drop("integ_ok")

    def test_duplicated_chunk(self):
        ms = list(self.members)
        i = self.events_parts(ms)[2]
        self.assertTrue(ms[i + 1][0].endswith(".copy"))
        dup = [("pg/integ_src/data/000900.json", ms[i][1]),
               ("pg/integ_src/data/000900.copy", ms[i + 1][1])]
        ms = snapforge.refresh_end(ms[:i + 2] + dup + ms[i + 2:])
        err = self.refused(ms, 'member "pg/integ_src/data/000900.json": part 2 of table '
                           '"public.events" appears twice', "integ_dup")
        self.assertIn('snapshot "%s' % os.path.join(TMP, "integ_dup"), err)

    def test_part_missing(self):
        ms = list(self.members)
        parts = self.events_parts(ms)
        i = parts[2]
        ms = snapforge.refresh_end(ms[:i] + ms[i + 2:])
        self.refused(ms, 'member "%s": table "public.events" has part 3 where part 2 was '
                     'expected' % ms[i][0], "integ_gap")

    def test_last_part_missing(self):
        ms = list(self.members)
        parts = self.events_parts(ms)
        n = max(parts)
        i = parts[n]
        ms = snapforge.refresh_end(ms[:i] + ms[i + 2:])
        self.refused(ms, 'table "public.events" ends after part %d, which is not its last'
                     % (n - 1), "integ_nolast")

    def test_parts_out_of_order(self):
        ms = list(self.members)
        parts = self.events_parts(ms)
        a, b = parts[2], parts[3]
        ms[a:a + 2], ms[b:b + 2] = ms[b:b + 2], ms[a:a + 2]
        ms = snapforge.refresh_end(ms)
        self.refused(ms, 'member "%s": table "public.events" has part 3 where part 2 was '
                     'expected' % ms[a][0], "integ_order")

    def test_repeated_part_number(self):
        ms = list(self.members)
        i = self.events_parts(ms)[3]
        h = json.loads(ms[i][1])
        h["part"] = 2
        ms[i] = (ms[i][0], json.dumps(h).encode())
        ms = snapforge.refresh_end(ms)
        self.refused(ms, 'member "%s": part 2 of table "public.events" appears twice'
                     % ms[i][0], "integ_rep")

    def edited(self, member, old, new):
        ms = list(self.members)
        names = [n for n, _ in ms]
        i = names.index(member)
        self.assertIn(old, ms[i][1])
        ms[i] = (member, ms[i][1].replace(old, new, 1))
        return ms

    def test_changed_pre_data(self):
        # still valid SQL: only the checksum can tell
        ms = self.edited("pg/integ_src/pre-data.sql", b"-- PostgreSQL database dump",
                         b"-- PostgreSQL database dumq")
        self.refused(ms, 'member "pg/integ_src/pre-data.sql" fails its sha256 check (end.json)',
                     "integ_pre")

    def test_changed_post_data(self):
        ms = self.edited("pg/integ_src/post-data.sql", b"-- PostgreSQL database dump",
                         b"-- PostgreSQL database dumq")
        self.refused(ms, 'member "pg/integ_src/post-data.sql" fails its sha256 check (end.json)',
                     "integ_post")

    def test_changed_sequences(self):
        ms = self.edited("pg/integ_src/sequences.sql", b"6000, true", b"6001, true")
        self.refused(ms, 'member "pg/integ_src/sequences.sql" fails its sha256 check (end.json)',
                     "integ_seq")

    def test_member_listed_twice(self):
        ms = list(self.members)
        e = json.loads(ms[-1][1])
        e["member_sums"].insert(2, e["member_sums"][1])
        e["members"] += 1
        ms[-1] = ("end.json", json.dumps(e).encode())
        self.refused(ms, 'end.json lists member "%s" twice' % e["member_sums"][1]["name"],
                     "integ_listed2")

    def test_unknown_member(self):
        ms = list(self.members)
        ms = ms[:-1] + [("pg/integ_src/extra.sql", b"SELECT 1;\n")] + ms[-1:]
        self.refused(ms, 'member "pg/integ_src/extra.sql" is not listed in end.json',
                     "integ_unknown")

    def test_missing_member(self):
        ms = [m for m in self.members if m[0] != "pg/integ_src/post-data.json"]
        self.refused(ms, 'end.json lists member "pg/integ_src/post-data.json", which the '
                     'snapshot does not hold', "integ_missing")

    def test_member_twice_in_archive(self):
        ms = list(self.members)
        seq = [m for m in ms if m[0] == "pg/integ_src/sequences.sql"]
        ms = ms[:-1] + seq + ms[-1:]
        self.refused(ms, 'member "pg/integ_src/sequences.sql" appears twice', "integ_twice")

    def test_format_1_1_still_restores(self):
        path = os.path.join(TMP, "integ11.tar.zst")
        snapforge.write_members(path, snapforge.as_format_1_1(self.members))
        drop("integ_11")
        r = run([path, "--database", "integ_11", "--jobs", "2"])
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("integ_11"), fingerprint("integ_src"))
        drop("integ_11")
        v = subprocess.run([BIN, "verify", path], capture_output=True)
        self.assertEqual(v.returncode, 0, v.stderr.decode())
        self.assertIn("  unchecked (format 1.1 has no checksum for them): manifest.json "
                      "pg/integ_src/pre-data.sql pg/integ_src/post-data.sql "
                      "pg/integ_src/post-data.json pg/integ_src/sequences.sql\n",
                      v.stdout.decode())
        # the parts are checked in 1.1 snapshots too
        ms = snapforge.as_format_1_1(self.members)
        i = self.events_parts(ms)[2]
        ms = snapforge.refresh_end(ms[:i + 2] + [("pg/integ_src/data/000900.json", ms[i][1]),
                                                  ("pg/integ_src/data/000900.copy", ms[i + 1][1])]
                                   + ms[i + 2:])
        self.refused(ms, 'part 2 of table "public.events" appears twice', "integ_11dup")

    def test_1_2_without_member_sums(self):
        ms = list(self.members)
        e = json.loads(ms[-1][1])
        del e["member_sums"]
        ms[-1] = ("end.json", json.dumps(e).encode())
        self.refused(ms, "end.json has no member_sums (format 1.2 requires them)",
                     "integ_nosums")


class NoCreateTest(unittest.TestCase):
    def test_existing_role(self):
        drop("nocreate")
        PG.psql("DROP ROLE IF EXISTS nc_role")
        PG.psql("CREATE ROLE nc_role LOGIN PASSWORD '%s'" % SERVICE_PASS)
        r = run([os.path.join(DATA, "pg", "fence.sql"), "--no-create"], db="nocreate",
                user="nc_role")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(owners("nocreate"), ["nc_role"])
        self.assertNotIn("vector", r.stderr.decode())   # nothing provisioned
        drop("nocreate")

    def test_missing_role(self):
        r = run([os.path.join(DATA, "pg", "fence.sql"), "--no-create"], db="nocreate2",
                user="no_such_role")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn('could not create database "nocreate2__gen3db_restore": '
                      'role "no_such_role" does not exist', r.stderr.decode())
        self.assertFalse(exists("nocreate2__gen3db_restore"))


class SetRoleTest(unittest.TestCase):
    """No password for the role: a master that may act as it (a superuser,
    or a member) loads through its own connections with SET ROLE; the
    objects still belong to the role."""
    MASTER_PASS = "master-pass-Hq27"

    @classmethod
    def setUpClass(cls):
        cls.snap = os.path.join(TMP, "setrole.tar.zst")
        drop("sr_src")
        psql_file(os.path.join(DATA, "pg", "fence.sql"), "sr_src")
        PG.psql("CREATE VIEW public.sr_view AS SELECT 1 AS one", db="sr_src")
        dump("sr_src", cls.snap)

    def role(self, name, extra=""):
        PG.psql("DROP ROLE IF EXISTS %s" % name)
        PG.psql("CREATE ROLE %s %s" % (name, extra))

    def relkinds(self, db):
        return PG.psql("SELECT string_agg(DISTINCT c.relkind::text, '' ORDER BY c.relkind::text) "
                       "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = 'public'", db=db)

    def test_superuser_existing_role(self):
        drop("sr_b")
        self.role("sr_b", "NOLOGIN")
        r = run([self.snap, "--map", "sr_src=sr_b"], env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(fingerprint("sr_b"), fingerprint("sr_src"))
        # tables, indexes, sequences and the view all belong to the role
        self.assertEqual(self.relkinds("sr_b"), "Sirv")
        self.assertEqual(owners("sr_b"), ["sr_b"])
        self.assertEqual(PG.psql("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                 "WHERE datname = 'sr_b'"), "sr_b")
        drop("sr_b")

    def test_member_master(self):
        drop("sr_m")
        self.role("sr_m", "NOLOGIN")
        self.role("sr_master", "LOGIN CREATEDB PASSWORD '%s'" % self.MASTER_PASS)
        PG.psql("GRANT sr_m TO sr_master")
        r = run([os.path.join(DATA, "pg", "fence.sql")], db="sr_m",
                env_extra={"SERVICE_PGPASS": "", "PGUSER": "sr_master",
                           "PGPASSWORD": self.MASTER_PASS})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(owners("sr_m"), ["sr_m"])
        self.assertNotIn(self.MASTER_PASS.encode(), r.stderr)
        drop("sr_m")
        PG.psql("DROP ROLE sr_master")

    def test_neither(self):
        drop("sr_n")
        self.role("sr_n", "NOLOGIN")
        self.role("sr_plain", "LOGIN CREATEDB PASSWORD '%s'" % self.MASTER_PASS)
        r = run([os.path.join(DATA, "pg", "fence.sql")], db="sr_n",
                env_extra={"SERVICE_PGPASS": "", "PGUSER": "sr_plain",
                           "PGPASSWORD": self.MASTER_PASS})
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertEqual(r.stderr.decode(),
                         'gen3db: no password for role "sr_n"\n'
                         "hint: set SERVICE_PGPASS: the data is loaded as the service role, "
                         "and the master is neither a superuser nor a member of it\n")
        self.assertFalse(exists("sr_n"))
        self.assertFalse(exists("sr_n__gen3db_restore"))
        PG.psql("DROP ROLE sr_plain")

    def test_role_change_in_dump_refused(self):
        self.role("sr_esc", "NOLOGIN")
        for i, stmt in enumerate(["RESET ROLE;", "SET ROLE postgres;",
                                  "SET SESSION AUTHORIZATION DEFAULT;",
                                  "SELECT pg_catalog.set_config('role', 'none', false);",
                                  "DISCARD ALL;"]):
            p = os.path.join(TMP, "escape%d.sql" % i)
            with open(p, "w") as f:
                f.write("CREATE TABLE public.a (x integer);\n%s\n"
                        "CREATE TABLE public.b (x integer);\n" % stmt)
            r = run([p, "--sql-script"], db="sr_esc", env_extra={"SERVICE_PGPASS": ""})
            self.assertEqual(r.returncode, 2, r.stderr.decode())
            self.assertIn('gen3db: line 2: "%s" changes the role the data is loaded as'
                          % stmt, r.stderr.decode())
            self.assertFalse(exists("sr_esc"))
            self.assertFalse(exists("sr_esc__gen3db_restore"))


def secret_yaml(name, fields):
    """One Secret as gen3db writes it (base64 data, name quoted)."""
    out = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: "%s"\ntype: Opaque\ndata:\n' % name
    for k, v in fields:
        out += "  %s: %s\n" % (k, base64.b64encode(v.encode()).decode())
    return out


def read_secrets(path):
    """{name: {key: value}} of a Secrets file (a Secret or a List of them)."""
    with open(path) as f:
        doc = yaml.safe_load(f)
    items = doc["items"] if doc.get("kind") == "List" else [doc]
    return {i["metadata"]["name"]: {k: base64.b64decode(v).decode()
                                    for k, v in i["data"].items()} for i in items}


class GeneratedPasswordTest(unittest.TestCase):
    """No password for a role that does not exist: with --secret-out FILE
    the role is created with a generated password, recorded in FILE once
    the database is in place; a failed run drops the role and leaves FILE
    as it was; without --secret-out the error says so."""
    OTHER = [("database", "other_db"), ("username", "other_user"),
             ("password", "other-Pw-41k"), ("host", "db.example"), ("port", "5432")]

    @classmethod
    def setUpClass(cls):
        cls.snap = os.path.join(TMP, "genpw.tar.zst")
        drop("genpw_src")
        psql_file(os.path.join(DATA, "pg", "fence.sql"), "genpw_src")
        dump("genpw_src", cls.snap)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=TMP)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def absent(self, *names):
        for n in names:
            drop(n)
            PG.psql("DROP ROLE IF EXISTS %s" % n)

    def role_exists(self, name):
        return PG.psql("SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % name) == "1"

    def secrets_file(self):
        path = os.path.join(self.tmp, "secrets.yaml")
        with open(path, "w") as f:
            f.write(secret_yaml("other-dbcreds", self.OTHER))
        os.chmod(path, 0o600)
        return path

    def test_absent_role_created_and_recorded(self):
        self.absent("genpw_a")
        out = self.secrets_file()
        r = run([self.snap, "--map", "genpw_src=genpw_a", "--secret-out", out, "--json"],
                env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        got = read_secrets(out)
        # the other Secret is kept as it was
        self.assertEqual(got["other-dbcreds"], dict(self.OTHER))
        self.assertEqual(sorted(got), ["genpw-dbcreds", "other-dbcreds"])
        mine = got["genpw-dbcreds"]
        pw = mine["password"]
        self.assertRegex(pw, r"^[A-Za-z0-9]{32,}$")
        self.assertEqual((mine["database"], mine["username"], mine["dbcreated"]),
                         ("genpw_a", "genpw_a", "true"))
        self.assertEqual(mine["host"], "127.0.0.1")
        self.assertEqual(oct(os.stat(out).st_mode & 0o777), "0o600")
        # never shown
        for text in (r.stdout, r.stderr):
            self.assertNotIn(pw.encode(), text)
        self.assertEqual(json.loads(r.stdout)["databases"][0]["secret"], "genpw-dbcreds")
        self.assertIn('created role "genpw_a" with a generated password, recorded in Secret '
                      '"genpw-dbcreds" in "%s"' % out, r.stderr.decode())
        # a login with it over TCP (scram-sha-256 for every host connection)
        self.assertEqual(PG.psql("SELECT current_user", db="genpw_a", user="genpw_a",
                                 password=pw), "genpw_a")
        self.assertEqual(PG.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                                 "WHERE rolname = 'genpw_a'"), "t")
        self.assertEqual(fingerprint("genpw_a"), fingerprint("genpw_src"))
        self.assertEqual(owners("genpw_a"), ["genpw_a"])
        # a second run reads it back: nothing generated, the file not rewritten
        before = self.read(out)
        mtime = os.stat(out).st_mtime_ns
        r = run([self.snap, "--map", "genpw_src=genpw_a", "--secret-out", out, "--clean"],
                env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertNotIn(b"generated", r.stderr)
        self.assertEqual(self.read(out), before)
        self.assertEqual(os.stat(out).st_mtime_ns, mtime)
        self.assertEqual(PG.psql("SELECT current_user", db="genpw_a", user="genpw_a",
                                 password=pw), "genpw_a")
        self.absent("genpw_a")

    def test_plain_dump_new_file(self):
        self.absent("genpw_p")
        out = os.path.join(self.tmp, "new.yaml")
        r = run([os.path.join(DATA, "pg", "fence.sql"), "--secret-out", out, "--verbose"],
                db="genpw_p", env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        # a plain file names its service
        pw = read_secrets(out)["fence-dbcreds"]["password"]
        # not even in the debug messages
        self.assertIn(b'role "genpw_p" does not exist: it is created with a generated password',
                      r.stderr)
        self.assertNotIn(pw.encode(), r.stdout + r.stderr)
        self.assertEqual(PG.psql("SELECT count(*) FROM public.\"User\"", db="genpw_p",
                                 user="genpw_p", password=pw), PG.psql(
                                     "SELECT count(*) FROM public.\"User\"", db="genpw_src"))
        self.assertEqual(owners("genpw_p"), ["genpw_p"])
        self.absent("genpw_p")

    def assertUntouched(self, out, before, mtime):
        self.assertEqual(self.read(out), before)
        self.assertEqual(os.stat(out).st_mtime_ns, mtime)
        self.assertEqual(sorted(os.listdir(self.tmp)), [os.path.basename(out)])

    def failing(self, source, args, target, needle):
        self.absent(target)
        out = self.secrets_file()
        before = self.read(out)
        mtime = os.stat(out).st_mtime_ns
        time.sleep(0.01)
        r = run([source, "--secret-out", out, "--json"] + args,
                env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertIn(needle, r.stderr.decode())
        self.assertIn('dropped role "%s", which this restore had created' % target,
                      r.stderr.decode())
        self.assertFalse(self.role_exists(target))
        self.assertFalse(exists(target))
        self.assertFalse(exists(target + "__gen3db_restore"))
        self.assertUntouched(out, before, mtime)
        self.assertEqual(json.loads(r.stdout)["status"], "failed")

    def test_truncated_plain_dump_drops_role(self):
        with open(os.path.join(DATA, "pg", "fence.sql"), "rb") as f:
            text = f.read()
        cut = text[:text.rindex(b"-- PostgreSQL database dump complete")]
        # a plain file's name is its service, the Secret "genpw-dbcreds"
        path = os.path.join(TMP, "genpw.sql")
        with open(path, "wb") as f:
            f.write(cut)
        self.failing(path, ["--database", "genpw_cut"], "genpw_cut",
                     "is incomplete (truncated)")

    def test_invalid_secret_name_refused(self):
        self.absent("Genpw_Up")
        out = self.secrets_file()
        before = self.read(out)
        r = run([self.snap, "--map", "genpw_src=Genpw_Up", "--secret-out", out],
                env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn('gen3db: "Genpw-dbcreds" (for database "Genpw_Up") is not a valid Secret '
                      'name\nhint: the Secret is named after the service', r.stderr.decode())
        self.assertFalse(self.role_exists("Genpw_Up"))
        self.assertEqual(self.read(out), before)

    def test_corrupt_later_chunk_drops_role(self):
        ms = snapforge.read_members(self.snap)
        last = max(i for i, (n, d) in enumerate(ms) if n.endswith(".copy") and d)
        name, data = ms[last]
        ms[last] = (name, data[:-2] + bytes([data[-2] ^ 0x01]) + data[-1:])
        path = os.path.join(TMP, "genpw_corrupt.tar.zst")
        snapforge.write_members(path, ms)
        self.failing(path, ["--map", "genpw_src=genpw_bad"], "genpw_bad", name)

    def test_existing_role_set_role_file_untouched(self):
        self.absent("genpw_e")
        PG.psql("CREATE ROLE genpw_e NOLOGIN")
        out = self.secrets_file()
        before = self.read(out)
        mtime = os.stat(out).st_mtime_ns
        r = run([self.snap, "--map", "genpw_src=genpw_e", "--secret-out", out],
                env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(owners("genpw_e"), ["genpw_e"])
        self.assertUntouched(out, before, mtime)
        self.absent("genpw_e")

    def test_without_secret_out(self):
        self.absent("genpw_n")
        r = run([self.snap, "--map", "genpw_src=genpw_n"], env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertEqual(r.stderr.decode(),
                         'gen3db: no password for role "genpw_n"\n'
                         "hint: the role does not exist: set SERVICE_PGPASS to create it with "
                         "that password, or give --secret-out FILE to generate one and record "
                         "it in FILE\n")
        self.assertFalse(self.role_exists("genpw_n"))
        self.assertFalse(exists("genpw_n"))
        self.assertFalse(exists("genpw_n__gen3db_restore"))

    def test_malformed_file_refused_before_any_change(self):
        self.absent("genpw_m")
        out = os.path.join(self.tmp, "bad.yaml")
        with open(out, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\n")
        r = run([self.snap, "--map", "genpw_src=genpw_m", "--secret-out", out],
                env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn('secrets file "%s" is malformed' % out, r.stderr.decode())
        self.assertFalse(self.role_exists("genpw_m"))
        self.assertFalse(exists("genpw_m"))
        with open(out) as f:
            self.assertEqual(f.read(), "apiVersion: v1\nkind: ConfigMap\n")

    def test_two_roles_one_secret_refused(self):
        self.absent("genpw_x", "genpw_y")
        out = os.path.join(self.tmp, "two.yaml")
        snap = os.path.join(TMP, "genpw_two.tar.zst")
        for db in ("genpw_x", "genpw_y"):
            PG.psql('CREATE DATABASE "%s"' % db)
        r = subprocess.run([BIN, "dump", "--database", "genpw_x", "--database", "genpw_y",
                            "--output", snap, "--quiet"], env=PG.env(), capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.absent("genpw_x", "genpw_y")
        r = run([snap, "--secret-out", out], env_extra={"SERVICE_PGPASS": ""})
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn('gen3db: databases "genpw_x" and "genpw_y" have different roles but one '
                      'Secret "genpw-dbcreds" in --secret-out', r.stderr.decode())
        self.assertFalse(os.path.exists(out))
        self.assertFalse(exists("genpw_x"))


class ExtensionNoiseTest(unittest.TestCase):
    """Restore provides only the extensions the dump creates: no warning
    about vector (absent from this server) for a dump without it."""
    LTREE_SQL = ("CREATE EXTENSION IF NOT EXISTS ltree WITH SCHEMA public;\n"
                 "COMMENT ON EXTENSION ltree IS 'data type for hierarchical tree-like "
                 "structures';\n"
                 "CREATE TABLE public.t (p public.ltree);\n"
                 "COPY public.t (p) FROM stdin;\na.b\n\\.\n")

    def write(self, name, text):
        p = os.path.join(TMP, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_no_vector_warning(self):
        drop("ext_plain")
        r = run([os.path.join(DATA, "pg", "fence.sql")], db="ext_plain")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertNotIn(b"vector", r.stderr)
        self.assertNotIn(b"warning", r.stderr)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'",
                                 db="ext_plain"), "0")
        drop("ext_plain")

    def test_needed_extension_created_comment_note_verbose_only(self):
        p = self.write("ext_ltree.sql", self.LTREE_SQL)
        for verbose in (False, True):
            drop("ext_ltree")
            r = run([p, "--sql-script"] + (["--verbose"] if verbose else []), db="ext_ltree")
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertNotIn(b"vector", r.stderr)
            self.assertEqual(PG.psql("SELECT extname FROM pg_extension WHERE extname = 'ltree'",
                                     db="ext_ltree"), "ltree")
            self.assertEqual(PG.psql("SELECT p::text FROM public.t", db="ext_ltree"), "a.b")
            note = b'line 2: skipped "COMMENT ON EXTENSION ltree IS'
            if verbose:
                self.assertIn(note, r.stderr)
            else:
                self.assertNotIn(note, r.stderr)
        drop("ext_ltree")

    def test_missing_extension_names_package(self):
        p = self.write("ext_vector.sql", "CREATE TABLE public.a (x integer);\n"
                       "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;\n"
                       "CREATE TABLE public.v (e public.vector(3));\n")
        r = run([p, "--sql-script"], db="ext_vec")
        self.assertEqual(r.returncode, 1, r.stderr.decode())
        self.assertEqual(r.stderr.decode(),
                         'gen3db: line 2: the dump needs extension "vector", which is not '
                         "available on the server\n"
                         "hint: install the package postgresql-15-pgvector on the database "
                         "server\n"
                         'gen3db: dropped role "ext_vec", which this restore had created\n')
        self.assertFalse(exists("ext_vec"))
        self.assertFalse(exists("ext_vec__gen3db_restore"))


class UsageTest(unittest.TestCase):
    def test_no_source(self):
        r = run([])
        self.assertEqual(r.returncode, 2)
        self.assertIn("gen3db: no source", r.stderr.decode())

    def test_missing_file(self):
        r = run([os.path.join(TMP, "nope.sql")], db="x")
        self.assertEqual(r.returncode, 2)
        self.assertIn('could not open "%s"' % os.path.join(TMP, "nope.sql"), r.stderr.decode())

    def test_no_target(self):
        r = run([os.path.join(DATA, "pg", "fence.sql")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("gen3db: no target database", r.stderr.decode())

    def test_bad_jobs(self):
        r = run([os.path.join(DATA, "pg", "fence.sql"), "--jobs", "0"], db="x")
        self.assertEqual(r.returncode, 2)


SYSTEM_WHY = {
    "template0": "it is PostgreSQL's pristine template database",
    "template1": "it is the template every new database is copied from",
    "postgres": "it is PostgreSQL's default maintenance database",
}


class LookAlikeTest(unittest.TestCase):
    """Databases that merely have the names a restore uses on the side are
    never dropped: only those gen3db marked as its own leftovers."""

    def make(self, db, comment=None):
        drop(db)
        PG.psql('CREATE DATABASE "%s"' % db)
        PG.psql("CREATE TABLE mine (x int); INSERT INTO mine VALUES (5)", db=db)
        if comment is not None:
            PG.psql("COMMENT ON DATABASE \"%s\" IS '%s'" % (db, comment))

    def test_look_alikes_refused_untouched(self):
        plain = os.path.join(DATA, "pg", "arborist.sql")
        for suffix, extra in (("__gen3db_restore", []), ("__gen3db_old", ["--clean"])):
            with self.subTest(suffix=suffix):
                drop("lookalike")
                if suffix == "__gen3db_old":
                    PG.psql("CREATE DATABASE lookalike")
                # no marker, and a marker of another target
                for comment in (None, 'gen3db: restore in progress of "other"',
                                'gen3db: previous content of "other"'):
                    self.make("lookalike" + suffix, comment)
                    r = run([plain] + extra, db="lookalike")
                    self.assertEqual(r.returncode, 2, r.stderr.decode())
                    self.assertIn('gen3db: database "lookalike%s" exists, but it is not a '
                                  'database that a restore of "lookalike" left behind; it was '
                                  'not touched\n' % suffix, r.stderr.decode())
                    self.assertEqual(PG.psql("SELECT x FROM mine", db="lookalike" + suffix), "5")
                drop("lookalike" + suffix)
        drop("lookalike")

    def test_marked_leftovers_dropped(self):
        plain = os.path.join(DATA, "pg", "arborist.sql")
        drop("marked")
        PG.psql("CREATE DATABASE marked")
        self.make("marked__gen3db_restore", 'gen3db: restore in progress of "marked"')
        self.make("marked__gen3db_old", 'gen3db: previous content of "marked"')
        r = run([plain, "--clean"], db="marked")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertFalse(exists("marked__gen3db_restore"))
        self.assertFalse(exists("marked__gen3db_old"))
        self.assertIn("public.resource", tables("marked"))
        # the restored database carries no marker: it is nobody's leftover
        self.assertEqual(PG.psql("SELECT coalesce(shobj_description(oid, 'pg_database'), '-') "
                                 "FROM pg_database WHERE datname = 'marked'"), "-")
        drop("marked")


def refused_db(db, why):
    return ('gen3db: database "%s" cannot be a target: %s\n'
            "hint: name the service's own database\n" % (db, why))


class SystemTargetTest(unittest.TestCase):
    """System databases, the master's own database and roles are never targets."""

    @classmethod
    def setUpClass(cls):
        cls.snap = os.path.join(TMP, "systarget.tar.zst")
        drop("systarget_src")
        PG.psql("CREATE DATABASE systarget_src")
        PG.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)", db="systarget_src")
        dump("systarget_src", cls.snap)
        drop("admin_home")
        PG.psql("CREATE DATABASE admin_home")
        PG.psql("CREATE TABLE keep (id int); INSERT INTO keep VALUES (7)", db="admin_home")

    def state(self):
        """What a refused restore must not change."""
        return (tables("template1"), tables("postgres"), tables("admin_home"),
                PG.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
                PG.psql("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles"))

    def assertRefused(self, r, expected, before):
        self.assertEqual(r.returncode, 2, r.stderr.decode())
        self.assertIn(expected, r.stderr.decode())
        self.assertEqual(r.stdout, b"")
        self.assertEqual(self.state(), before)

    def test_system_databases_through_every_path(self):
        plain = os.path.join(DATA, "pg", "fence.sql")
        before = self.state()
        for db, why in SYSTEM_WHY.items():
            with self.subTest(db=db):
                msg = refused_db(db, why)
                self.assertRefused(run([plain, "--clean"], db=db), msg, before)
                self.assertRefused(run([plain], env_extra={"SERVICE_PGDB": db}), msg, before)
                self.assertRefused(run([self.snap, "--clean"], db=db), msg, before)
                self.assertRefused(run([self.snap, "--map", "systarget_src=" + db]), msg, before)
                self.assertRefused(run([self.snap], env_extra={"SERVICE_PGDB": db}), msg, before)
        # a new database copied from template1 is empty
        drop("after_refusal")
        PG.psql("CREATE DATABASE after_refusal")
        self.assertEqual(tables("after_refusal"), [])
        drop("after_refusal")

    def test_the_masters_own_database(self):
        plain = os.path.join(DATA, "pg", "fence.sql")
        before = self.state()
        msg = ('gen3db: database "admin_home" cannot be a target: it is the database the '
               "master connection uses\nhint: name the service's own database\n")
        home = {"PGDATABASE": "admin_home"}
        self.assertRefused(run([plain, "--clean"], db="admin_home", env_extra=home), msg, before)
        self.assertRefused(run([self.snap, "--clean", "--map", "systarget_src=admin_home"],
                               env_extra=home), msg, before)
        self.assertEqual(PG.psql("SELECT id FROM keep", db="admin_home"), "7")
        # names compare exactly: another spelling is another database
        drop("Admin_Home")
        r = run([self.snap, "--database", "Admin_Home"], env_extra=home)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertEqual(tables("Admin_Home"), ["public.t"])
        drop("Admin_Home")
        PG.psql('DROP ROLE IF EXISTS "Admin_Home"')

    def test_system_and_master_roles(self):
        plain = os.path.join(DATA, "pg", "fence.sql")
        before = self.state()
        r = run([plain], db="role_target", user="postgres")
        self.assertRefused(r, 'gen3db: role "postgres" cannot be a service role: it is '
                           "PostgreSQL's default superuser\nhint: name the service's own role\n",
                           before)
        PG.psql("DROP ROLE IF EXISTS boss")
        PG.psql("CREATE ROLE boss SUPERUSER LOGIN PASSWORD '%s'" % SERVICE_PASS)
        before = self.state()
        r = run([plain], db="role_target", user="boss",
                env_extra={"PGUSER": "boss", "PGPASSWORD": SERVICE_PASS})
        self.assertRefused(r, 'gen3db: role "boss" cannot be a service role: it is the master '
                           "connection's own role\nhint: name the service's own role\n", before)
        self.assertFalse(exists("role_target"))
        PG.psql("DROP ROLE boss")


if __name__ == "__main__":
    unittest.main()
