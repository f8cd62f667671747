"""gen3db restore --trace FILE against a throwaway PostgreSQL: a database
with quoted mixed-case names, indexes, constraints and foreign keys is
dumped (plain pg_dump, pg_dump -Fc, gen3db dump) and restored with
--jobs 2 --trace; the trace is checked against the dump (every COPY once
with the table's rows, every index and constraint, ANALYZE per table),
against itself (start <= end, one job at a time per connection, conn in
1..jobs), on failure (the failed job's record, whole lines, no swap), for
a whole environment (one file, a database per record), for what it may
replace, and through scripts/trace-gantt (valid SVG)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import g3test
from g3test import read_trace, run

SERVICE_PASS = g3test.secret("svc-pass-Trc51")
GANTT = os.path.join(g3test.ROOT, "scripts", "trace-gantt")

SOURCE_SQL = r'''
CREATE SCHEMA "Lab";
CREATE TABLE public.subject (id int PRIMARY KEY, name text NOT NULL UNIQUE,
    age int CHECK (age >= 0));
CREATE TABLE "Lab"."Sample" (id bigint PRIMARY KEY,
    subject_id int NOT NULL REFERENCES public.subject(id), "Kind" text, props jsonb);
CREATE INDEX "Sample_kind_idx" ON "Lab"."Sample" ("Kind");
CREATE INDEX sample_props_gin ON "Lab"."Sample" USING gin (props);
CREATE TABLE public.file (id bigint PRIMARY KEY, sample_id bigint REFERENCES "Lab"."Sample"(id),
    size bigint, url text);
CREATE INDEX file_size_idx ON public.file (size);
CREATE INDEX file_lower_url_idx ON public.file (lower(url));
CREATE TABLE public.empty_one (id int PRIMARY KEY);
INSERT INTO public.subject SELECT g, 'subject ' || g, g % 90 FROM generate_series(1, 3000) g;
INSERT INTO "Lab"."Sample" SELECT g, 1 + g % 3000, 'kind' || (g % 7),
    jsonb_build_object('k', g % 11, 'tag', 't' || (g % 5)) FROM generate_series(1, 20000) g;
INSERT INTO public.file SELECT g, 1 + g % 20000, g * 10, 'https://example.org/' || g
    FROM generate_series(1, 30000) g;
'''

# what the dump holds: table -> rows; indexes and constraints built after data
ROWS = {"public.subject": 3000, "Lab.Sample": 20000, "public.file": 30000,
        "public.empty_one": 0}
INDEXES = {"Sample_kind_idx", "sample_props_gin", "file_size_idx", "file_lower_url_idx"}
CONSTRAINTS = {"subject_pkey", "subject_name_key", "Sample_pkey", "file_pkey", "empty_one_pkey"}
FKS = {"Sample_subject_id_fkey", "file_sample_id_fkey"}



class Trace(g3test.PgTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="gen3db-trace-test-")
        cls.pg.psql("CREATE DATABASE src")
        cls.pg.psql(SOURCE_SQL, db="src")
        cls.dump = os.path.join(cls.tmp, "src.sql")
        subprocess.run(["pg_dump", "-d", "src", "-f", cls.dump], env=cls.pg.env(), check=True)
        cls.custom = os.path.join(cls.tmp, "src.dump")
        subprocess.run(["pg_dump", "-Fc", "-d", "src", "-f", cls.custom], env=cls.pg.env(),
                       check=True)
        cls.snap = os.path.join(cls.tmp, "src.tar.zst")
        r = run(["dump", "--output", cls.snap, "--database", "src", "--quiet"],
                env=cls.pg.env())
        assert r.code == 0, repr(r)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def restore(self, source, *args):
        return run(["restore", source, "--quiet"] + list(args),
                   env=self.env(SERVICE_PGPASS=SERVICE_PASS))

    def drop(self, *dbs):
        for db in dbs:
            self.pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)

    def assertTimeline(self, recs, jobs):
        """start <= end; workers are 1..jobs and the leader 0; on each
        connection of each database one job at a time."""
        per_conn = {}
        for r in recs:
            self.assertIsInstance(r["start"], float, r)
            self.assertLessEqual(r["start"], r["end"], r)
            self.assertGreaterEqual(r["start"], 0.0, r)
            if r["job"] in ("copy", "index", "constraint", "attach", "fk", "validate", "analyze"):
                self.assertIn(r["conn"], range(1, jobs + 1), r)
            else:
                self.assertEqual(r["conn"], 0, r)
            per_conn.setdefault((r.get("database"), r["conn"]), []).append(r)
        for key, rs in per_conn.items():
            rs.sort(key=lambda r: (r["start"], r["end"]))
            for a, b in zip(rs, rs[1:]):
                self.assertLessEqual(a["end"], b["start"],
                                     "connection %r ran two jobs at once: %r %r" % (key, a, b))
        return per_conn

    def assertLoaded(self, recs, db, snapshot=False):
        """A snapshot holds no chunk of an empty table, and may load a
        table in several chunks: their rows add up."""
        loaded = {t: n for t, n in ROWS.items() if n or not snapshot}
        mine = [r for r in recs if r.get("database") == db]
        copies = [r for r in mine if r["job"] == "copy"]
        if not snapshot:
            self.assertEqual(sorted(r["object"] for r in copies), sorted(ROWS))
        rows = {}
        for r in copies:
            self.assertTrue(r["ok"], r)
            self.assertEqual(r["object"], r["table"])
            self.assertGreater(r["bytes"], 0 if ROWS[r["table"]] else -1, r)
            rows[r["table"]] = rows.get(r["table"], 0) + r["rows"]
        self.assertEqual(rows, loaded)
        by_job = {}
        for r in mine:
            self.assertTrue(r["ok"], r)
            by_job.setdefault(r["job"], []).append(r["object"] if "object" in r else None)
        self.assertEqual(sorted(by_job["index"]), sorted(INDEXES))
        self.assertEqual(sorted(by_job["constraint"]), sorted(CONSTRAINTS))
        # a key of a plain table of 1 MiB or more is built as a unique
        # index, then attached (test_schedule.py checks which and the result)
        self.assertLessEqual(set(by_job.get("attach", [])), CONSTRAINTS)
        self.assertEqual(sorted(by_job["fk"]), sorted(FKS))
        # a foreign key of a plain table of 1 MiB or more is added NOT VALID,
        # then validated (test_schedule.py checks which and the result)
        self.assertLessEqual(set(by_job.get("validate", [])), set(FKS))
        for name in by_job.get("validate", []):
            add = [r for r in mine if r["job"] == "fk" and r["object"] == name]
            check = [r for r in mine if r["job"] == "validate" and r["object"] == name]
            self.assertEqual((len(add), len(check)), (1, 1), name)
            self.assertLessEqual(add[0]["end"], check[0]["start"], name)
        self.assertEqual(sorted(by_job["analyze"]), sorted(loaded))
        self.assertIn("pre-data", by_job)
        self.assertEqual(len(by_job["prepare"]), 1)
        self.assertEqual(len(by_job["swap"]), 1)
        # the phases in order: provisioning, pre-data, data, swap
        first = {j: min(r["start"] for r in mine if r["job"] == j) for j in by_job}
        last = {j: max(r["end"] for r in mine if r["job"] == j) for j in by_job}
        self.assertLessEqual(last["prepare"], first["pre-data"])
        self.assertLessEqual(last["pre-data"], first["copy"])
        self.assertLessEqual(last["analyze"], first["swap"])
        # the index jobs name their tables
        for r in mine:
            if r["job"] in ("index", "constraint", "attach", "fk", "validate"):
                self.assertIn(r["table"], ROWS, r)

    def test_plain_dump(self):
        self.drop("tr_plain")
        trace = os.path.join(self.tmp, "plain.jsonl")
        # an existing file is replaced, not appended to
        with open(trace, "w") as f:
            f.write("old content, not json\n" * 1000)
        r = self.restore(self.dump, "--database", "tr_plain", "--jobs", "2", "--trace", trace)
        self.assertExit(r, 0)
        recs = read_trace(trace)
        self.assertTimeline(recs, 2)
        self.assertLoaded(recs, "tr_plain")
        # every table with rows was analyzed: pg_stats has its columns (and
        # the expression index's)
        self.assertEqual(self.pg.psql(
            "SELECT string_agg(DISTINCT schemaname || '.' || tablename, ',') FROM pg_stats "
            "WHERE schemaname IN ('public', 'Lab')", db="tr_plain"),
            "Lab.Sample,public.file,public.file_lower_url_idx,public.subject")
        # both connections worked
        self.assertEqual({r["conn"] for r in recs if r["job"] == "copy"} |
                         {r["conn"] for r in recs if r["job"] == "index"}, {1, 2})
        # without --trace nothing is written
        self.drop("tr_plain")
        os.unlink(trace)
        self.assertExit(self.restore(self.dump, "--database", "tr_plain", "--jobs", "2"), 0)
        self.assertFalse(os.path.exists(trace))

    def test_custom_archive_and_snapshot(self):
        self.drop("tr_custom", "tr_snap")
        for source, db in ((self.custom, "tr_custom"), (self.snap, "tr_snap")):
            trace = os.path.join(self.tmp, db + ".jsonl")
            r = self.restore(source, "--database", db, "--jobs", "3", "--trace", trace)
            self.assertExit(r, 0)
            recs = read_trace(trace)
            self.assertTimeline(recs, 3)
            self.assertLoaded(recs, db, snapshot=source == self.snap)

    def test_failed_restore_leaves_whole_trace(self):
        self.drop("tr_fail")
        bad = os.path.join(self.tmp, "bad.sql")
        with open(self.dump) as f:
            text = f.read()
        # a row of public.file (ids above Sample's) whose size is not a number
        head, sep, tail = text.partition("\n25000\t")
        self.assertTrue(sep)
        row, rest = tail.split("\n", 1)
        fields = row.split("\t")
        fields[1] = "not-a-number"
        text = head + sep + "\t".join(fields) + "\n" + rest
        with open(bad, "w") as f:
            f.write(text)
        trace = os.path.join(self.tmp, "fail.jsonl")
        r = self.restore(bad, "--database", "tr_fail", "--jobs", "2", "--trace", trace)
        self.assertExit(r, 1)
        self.assertIn('could not load table "public.file"', r.err)
        recs = read_trace(trace)
        self.assertTimeline(recs, 2)
        failed = [x for x in recs if not x["ok"]]
        self.assertTrue(failed, recs)
        self.assertEqual((failed[0]["job"], failed[0]["object"]), ("copy", "public.file"))
        self.assertIn('could not load table \\"public.file\\"', json.dumps(failed[0]["error"]))
        self.assertNotIn("rows", failed[0])
        self.assertNotIn("swap", [x["job"] for x in recs])
        self.assertEqual(self.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                                      "'tr_fail'"), "0")

    def test_refuses_links_and_directories(self):
        victim = os.path.join(self.tmp, "victim.txt")
        with open(victim, "w") as f:
            f.write("keep me\n")
        link = os.path.join(self.tmp, "link.jsonl")
        os.symlink(victim, link)
        r = self.restore(self.dump, "--database", "tr_link", "--trace", link)
        self.assertExit(r, 2)
        self.assertIn('trace "%s" is a symbolic link, not a regular file' % link, r.err)
        with open(victim) as f:
            self.assertEqual(f.read(), "keep me\n")
        r = self.restore(self.dump, "--database", "tr_link", "--trace", self.tmp)
        self.assertExit(r, 2)
        self.assertIn('trace "%s" is a directory, not a regular file' % self.tmp, r.err)
        r = self.restore(self.dump, "--database", "tr_link", "--trace",
                         os.path.join(self.tmp, "no", "such", "dir.jsonl"))
        self.assertExit(r, 2)
        self.assertIn("could not create trace", r.err)
        # nothing was touched
        self.assertEqual(self.pg.psql("SELECT count(*) FROM pg_database WHERE datname = "
                                      "'tr_link'"), "0")

    def test_whole_environment_one_file(self):
        self.drop("fence_trc", "indexd_trc")
        layout = os.path.join(self.tmp, "env")
        os.makedirs(os.path.join(layout, "pgdumps"), exist_ok=True)
        for s in ("fence", "indexd"):
            shutil.copy(self.dump, os.path.join(layout, "pgdumps", s + ".sql"))
        trace = os.path.join(self.tmp, "env.jsonl")
        r = run(["restore", layout + "/", "--release", "trc", "--jobs", "4", "--quiet",
                 "--trace", trace, "--secret-out", os.path.join(self.tmp, "env-secrets.yaml")],
                env=self.env())
        self.assertExit(r, 0)
        recs = read_trace(trace)
        self.assertEqual({x.get("database") for x in recs}, {"fence_trc", "indexd_trc"})
        self.assertTimeline(recs, 4)
        for db in ("fence_trc", "indexd_trc"):
            self.assertLoaded(recs, db)

    def test_gantt_renders_svg(self):
        self.drop("tr_gantt")
        trace = os.path.join(self.tmp, "gantt.jsonl")
        r = self.restore(self.dump, "--database", "tr_gantt", "--jobs", "2", "--trace", trace)
        self.assertExit(r, 0)
        recs = read_trace(trace)
        svg = os.path.join(self.tmp, "gantt.svg")
        p = subprocess.run([GANTT, trace, "-o", svg], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        root = ET.parse(svg).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        self.assertEqual(root.tag, ns + "svg")
        bars = [e for e in root.iter(ns + "rect") if e.get("class", "").startswith("job ")]
        self.assertEqual(len(bars), len(recs))
        # a bar per record, titled with its job and object, on its connection's row
        titles = sorted(e.find(ns + "title").text for e in bars)
        self.assertIn("copy Lab.Sample", " | ".join(titles))
        for e in bars:
            self.assertGreaterEqual(float(e.get("width")), 0)
        lanes = {t.text for t in root.iter(ns + "text") if t.get("class") == "lane"}
        self.assertEqual(lanes, {"tr_gantt conn %d" % c for c in (0, 1, 2)})
        # standard output, and a torn line is an error naming the line
        p = subprocess.run([GANTT, trace], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        ET.fromstring(p.stdout)
        torn = os.path.join(self.tmp, "torn.jsonl")
        with open(trace) as f, open(torn, "w") as g:
            g.write(f.read() + '{"conn": 1, "job": "co')
        p = subprocess.run([GANTT, torn], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line %d: not a JSON object" % (len(recs) + 1), p.stderr)


if __name__ == "__main__":
    unittest.main()
