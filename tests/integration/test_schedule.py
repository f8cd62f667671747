"""The restore's post-data schedule against a throwaway PostgreSQL: primary
keys and unique constraints of plain tables are built as CREATE UNIQUE
INDEX beside the table's other index builds, then attached with ALTER
TABLE ... USING INDEX. A restore (plain pg_dump and gen3db snapshot, --jobs
2 --trace) must end equal to the source: constraint and index names and
definitions, primary/unique/deferrable flags, foreign keys that reference
the keys, hostile quoted names, multi-column keys, INCLUDE, NULLS NOT
DISTINCT, WITH storage parameters, a deferrable unique key, and a
partitioned table and a small table (which keep ALTER TABLE ... ADD
CONSTRAINT). The trace shows the split (an "attach" record per split key)
and a key's build overlapping another index build of the same table. A
foreign key of a big plain table is added NOT VALID and then validated
(a "validate" record); one referencing a partitioned table, and one the
source holds NOT VALID with an orphan row, are added as written. With
--no-analyze no table is analyzed."""
import os
import re
import subprocess
import unittest

import g3test
from g3test import module_pg, module_tmp, read_trace, run

SERVICE_PASS = g3test.secret("svc-pass-Sch42")
PG = None
TMP = None

SCHEMA = '"Odd ""S"". x"'
TABLE = SCHEMA + '."Tàble, ""q"" . y"'
PKEY = '"pk ""Ω"" .z"'

SOURCE_SQL = r'''
CREATE SCHEMA %(schema)s;
CREATE TABLE %(table)s (a int NOT NULL, "B c" text NOT NULL, "v w" int, note text,
    CONSTRAINT %(pkey)s PRIMARY KEY (a, "B c"),
    CONSTRAINT "uniq incl" UNIQUE ("v w") INCLUDE (note) WITH (fillfactor = 70));
CREATE TABLE %(schema)s."Child" (id int PRIMARY KEY, a int, "B c" text,
    CONSTRAINT "child→parent" FOREIGN KEY (a, "B c") REFERENCES %(table)s (a, "B c"));
CREATE TABLE public.big (id bigint PRIMARY KEY, k int, s text, d int,
    CONSTRAINT big_k_s_key UNIQUE NULLS NOT DISTINCT (k, s));
CREATE INDEX big_s_idx ON public.big (s);
CREATE INDEX big_d_idx ON public.big (d, s);
CREATE TABLE public.deferred (id int, CONSTRAINT deferred_id_key UNIQUE (id)
    DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE public.parted (id int NOT NULL, day date NOT NULL,
    CONSTRAINT parted_pkey PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
CREATE TABLE public.parted_a PARTITION OF public.parted
    FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE public.parted_b PARTITION OF public.parted
    FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE public.refs_parted (id int, day date,
    FOREIGN KEY (id, day) REFERENCES public.parted (id, day));
CREATE TABLE public.small (id int PRIMARY KEY, v int UNIQUE);
INSERT INTO %(table)s SELECT g, 'b ' || g, g, 'n' || g || repeat('x', 250)
    FROM generate_series(1, 5000) g;
INSERT INTO %(schema)s."Child" SELECT g, 1 + g %% 5000, 'b ' || (1 + g %% 5000)
    FROM generate_series(1, 80000) g;
INSERT INTO public.big SELECT g, g %% 100000, md5(g::text), (g::bigint * 7919) %% 100003
    FROM generate_series(1, 400000) g;
INSERT INTO public.deferred SELECT g FROM generate_series(1, 250000) g;
INSERT INTO public.parted SELECT g, date '2020-01-01' + (g %% 700)
    FROM generate_series(1, 200000) g;
INSERT INTO public.small SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO public.refs_parted SELECT id, day FROM public.parted WHERE id %% 3 = 0;
CREATE TABLE public.nv (id int, big_id bigint, pad text);
INSERT INTO public.nv SELECT g, g, repeat('p', 20) FROM generate_series(1, 60000) g;
INSERT INTO public.nv VALUES (0, -5, 'an orphan: the key was never checked');
ALTER TABLE public.nv ADD CONSTRAINT nv_big_fkey FOREIGN KEY (big_id)
    REFERENCES public.big (id) NOT VALID;
''' % {"schema": SCHEMA, "table": TABLE, "pkey": PKEY}

# keys of plain tables (partitions too) of 1 MiB or more of data: built as
# unique indexes, then attached; the partitioned parent's parted_pkey and
# the small table's keys are not
SPLIT = {'pk "Ω" .z', "uniq incl", "Child_pkey", "big_pkey", "big_k_s_key",
         "deferred_id_key", "parted_a_pkey", "parted_b_pkey"}

CONSTRAINTS_SQL = r'''
SELECT string_agg(format('%s|%s|%s|%s|%s|%s', c.conrelid::regclass, c.conname, c.contype,
       pg_get_constraintdef(c.oid), c.condeferrable, c.condeferred), E'\n'
       ORDER BY c.conrelid::regclass::text, c.conname)
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.contype <> 'n'
'''
INDEXES_SQL = r'''
SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', i.indrelid::regclass, i.indexrelid::regclass,
       i.indisprimary, i.indisunique, i.indimmediate, i.indisvalid,
       pg_get_indexdef(i.indexrelid)), E'\n'
       ORDER BY i.indrelid::regclass::text, i.indexrelid::regclass::text)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
'''
NOT_NULL_SQL = r'''
SELECT string_agg(format('%s.%s', a.attrelid::regclass, a.attname), ','
       ORDER BY a.attrelid::regclass::text, a.attname)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND a.attnum > 0
  AND a.attnotnull AND c.relkind IN ('r', 'p')
'''


def setUpModule():
    global PG, TMP
    TMP = module_tmp("gen3db-schedule-test-")
    PG = module_pg()
    PG.psql("CREATE DATABASE src")
    PG.psql(SOURCE_SQL, db="src")


def fingerprint(db):
    """{table: "rows md5"} of every plain table of db (names with spaces:
    one a line)."""
    tables = PG.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                     "ORDER BY 1", db=db).split("\n")
    return {t: PG.psql("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' "
                       "ORDER BY t::text)), '') FROM %s t" % t, db=db) for t in tables}



class Schedule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dump = os.path.join(TMP, "src.sql")
        subprocess.run(["pg_dump", "-d", "src", "-f", cls.dump], env=PG.env(), check=True)
        cls.snap = os.path.join(TMP, "src.tar.zst")
        r = run(["dump", "--output", cls.snap, "--database", "src", "--quiet"], env=PG.env())
        assert r.code == 0, repr(r)

    def restore(self, source, db, args=(), **extra):
        PG.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
        trace = os.path.join(TMP, db + ".jsonl")
        env = g3test.pg_env(PG, SERVICE_PGPASS=SERVICE_PASS, **extra)
        r = run(["restore", source, "--database", db, "--jobs", "2", "--trace", trace,
                 "--quiet"] + list(args), env=env)
        self.assertEqual(r.code, 0, repr(r))
        return [t for t in read_trace(trace) if t.get("database") == db]

    def assertSameCatalog(self, db):
        for q in (CONSTRAINTS_SQL, INDEXES_SQL, NOT_NULL_SQL):
            self.assertEqual(PG.psql(q, db=db), PG.psql(q, db="src"), q)
        self.assertEqual(fingerprint(db), fingerprint("src"))

    def assertKeysWork(self, db):
        # the foreign keys reference the attached keys: a missing parent fails
        bad = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c",
             'INSERT INTO %s."Child" VALUES (999999, 1, \'no such\')' % SCHEMA],
            env=PG.env(), capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("child→parent", bad.stderr)
        dup = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c",
             "INSERT INTO public.big VALUES (1, -1, 'x', 0)"],
            env=PG.env(), capture_output=True, text=True)
        self.assertIn("big_pkey", dup.stderr)
        # the deferrable key is checked at commit, not per statement
        PG.psql("BEGIN; INSERT INTO public.deferred VALUES (1); "
                "DELETE FROM public.deferred WHERE ctid = (SELECT max(ctid) FROM "
                "public.deferred WHERE id = 1); COMMIT;", db=db)
        late = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c",
             "BEGIN; INSERT INTO public.deferred VALUES (2); SELECT 'inside'; COMMIT;"],
            env=PG.env(), capture_output=True, text=True)
        self.assertIn("inside", late.stdout)
        self.assertIn("deferred_id_key", late.stderr)

    def assertSplit(self, recs):
        attached = {r["object"] for r in recs if r["job"] == "attach"}
        self.assertEqual(attached, SPLIT)
        for r in recs:
            self.assertTrue(r["ok"], r)
            if r["job"] == "attach":
                self.assertIn(r["conn"], (1, 2), r)
        # each split key: its build, then its attach, then the table's ANALYZE
        for name in SPLIT:
            build = [r for r in recs if r["job"] == "constraint" and r["object"] == name]
            att = [r for r in recs if r["job"] == "attach" and r["object"] == name]
            self.assertEqual(len(build), 1, name)
            self.assertLessEqual(build[0]["end"], att[0]["start"], name)
            an = [r for r in recs if r["job"] == "analyze" and r["table"] == att[0]["table"]]
            if an:
                self.assertLessEqual(att[0]["end"], an[0]["start"], name)
        # the partitioned parent's key and a small table's keys kept ALTER
        # TABLE ... ADD CONSTRAINT
        for name in ("parted_pkey", "small_pkey", "small_v_key"):
            self.assertEqual([r["job"] for r in recs if r.get("object") == name],
                             ["constraint"], name)
        # a foreign key of a plain table of 1 MiB or more: added NOT VALID,
        # then validated; one to a partitioned table (a constraint per
        # partition, which VALIDATE would leave not valid) and one the
        # source never checked (it holds an orphan) are added as written
        jobs = lambda name: [r for r in recs if r.get("object") == name]
        add, check = jobs("child→parent")
        self.assertEqual((add["job"], check["job"]), ("fk", "validate"))
        self.assertLessEqual(add["end"], check["start"])
        for name in ("refs_parted_id_day_fkey", "nv_big_fkey"):
            self.assertEqual([r["job"] for r in jobs(name)], ["fk"], name)

    def assertOverlap(self, recs):
        """A key's build ran beside another build of the same table, on
        the other connection."""
        builds = [r for r in recs if r.get("table") == "public.big" and
                  r["job"] in ("index", "constraint")]
        pairs = [(a["object"], b["object"]) for a in builds for b in builds
                 if a["job"] == "constraint" and a["conn"] != b["conn"] and
                 a["start"] < b["end"] and b["start"] < a["end"]]
        self.assertTrue(pairs, "no key build of public.big overlapped another build: %r"
                        % builds)

    def test_build_memory(self):
        """With a budget (--maintenance-work-mem), each build's
        maintenance_work_mem: sized from its table (COPY bytes and a
        quarter, plus 1 MiB) when that is more than the server's, at most
        the budget's share per connection; none without a budget or with
        0. Seen in the server's statement log."""
        def sets(*args):
            with open(PG.log, "rb") as f:
                f.seek(0, 2)
                start = f.tell()
            self.restore(self.dump, "sch_mem", args)
            with open(PG.log, "rb") as f:
                f.seek(start)
                log = f.read().decode("utf-8", "replace")
            return sorted(int(m) for m in re.findall(
                r"SET LOCAL maintenance_work_mem = '(\d+)kB'", log))
        PG.psql("ALTER SYSTEM SET maintenance_work_mem = '1MB'")
        PG.psql("ALTER SYSTEM SET log_statement = 'all'")
        PG.psql("SELECT pg_reload_conf()")
        try:
            self.assertEqual(sets(), [])
            sized = sets("--maintenance-work-mem", "256MB")
            # public.big (about 21 MB of COPY data): its four builds
            big = [kb for kb in sized if kb > 16 * 1024]
            self.assertEqual(len(big), 4, sized)
            self.assertTrue(all(20 * 1024 < kb < 40 * 1024 for kb in big), sized)
            # a budget of 10MB: at most 5MB a connection (public.big's four
            # builds; the other tables want less)
            capped = sets("--maintenance-work-mem", "10MB")
            self.assertEqual([kb for kb in capped if kb >= 5 * 1024], [5 * 1024] * 4, capped)
            self.assertEqual(sets("--maintenance-work-mem", "0"), [])
        finally:
            PG.psql("ALTER SYSTEM RESET maintenance_work_mem")
            PG.psql("ALTER SYSTEM RESET log_statement")
            PG.psql("SELECT pg_reload_conf()")

    def test_plain_dump(self):
        recs = self.restore(self.dump, "sch_plain")
        self.assertSameCatalog("sch_plain")
        self.assertSplit(recs)
        self.assertOverlap(recs)
        self.assertKeysWork("sch_plain")

    def test_snapshot(self):
        recs = self.restore(self.snap, "sch_snap")
        self.assertSameCatalog("sch_snap")
        self.assertSplit(recs)
        self.assertOverlap(recs)
        self.assertKeysWork("sch_snap")

    def test_no_analyze(self):
        """--no-analyze: no ANALYZE job, no table analyzed by the restore
        (autovacuum may still do it: last_analyze counts only ANALYZE
        commands); without it every table is."""
        analyzed = ("SELECT count(*) FILTER (WHERE last_analyze IS NOT NULL) || '/' || count(*) "
                    "FROM pg_stat_user_tables")
        recs = self.restore(self.snap, "sch_noan", ["--no-analyze"])
        self.assertEqual([r for r in recs if r["job"] == "analyze"], [])
        self.assertTrue([r for r in recs if r["job"] == "copy"])
        self.assertEqual(PG.psql(analyzed, db="sch_noan"), "0/10")
        self.assertEqual(fingerprint("sch_noan"), fingerprint("src"))
        recs = self.restore(self.snap, "sch_an")
        self.assertEqual(len([r for r in recs if r["job"] == "analyze"]), 9)
        # the partitioned parent holds no rows of its own: its partitions are analyzed
        self.assertEqual(PG.psql(analyzed, db="sch_an"), "9/10")


if __name__ == "__main__":
    unittest.main()
