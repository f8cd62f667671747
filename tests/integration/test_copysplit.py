"""A big COPY of a plain dump split over the connections: with --jobs 2,
the data of a text-format COPY ... FROM stdin is cut at a row's end every
8 MiB while the other connection is idle, each segment a COPY of its own.
Against a throwaway PostgreSQL:

- a 20 MB table with every escape COPY's text format has (tab, newline,
  carriage return and backslash inside values, values ending in a
  backslash, NULLs, multi-byte text) and a hostile quoted name restores
  equal to the source, in several segments on both connections, and its
  rows are counted once;
- a CSV COPY of over 12 MB is never split (only text format's rows end
  at every unescaped newline) and restores equal;
- a bad value deep in the table (a later segment) fails the restore naming
  the line of the file and of the COPY, and no target database is left;
- a snapshot chunk bigger than a segment is cut the same way;
- with --jobs 1 nothing is split.
"""
import json
import os
import subprocess
import unittest

import g3test
from g3test import module_pg, module_tmp, read_trace, run

SERVICE_PASS = g3test.secret("svc-pass-Split7")
PG = None
TMP = None

TABLE = 'public."Big, ""split"" \\ tàble"'
KEY = 'public.Big, "split" \\ tàble'

SOURCE_SQL = r'''
CREATE TABLE %(t)s (id int PRIMARY KEY, s text, n int, tail text);
INSERT INTO %(t)s
SELECT g,
       CASE g %% 5 WHEN 0 THEN E'tab\there\nnewline\r\\back' || repeat('é', g %% 40)
                   WHEN 1 THEN repeat('x', 150) || E'\\'
                   WHEN 2 THEN NULL
                   ELSE md5(g::text) || repeat('-', 120) END,
       g * 3,
       CASE WHEN g %% 7 = 0 THEN E'ends in a backslash \\' ELSE 'plain' END
FROM generate_series(1, 170000) g;
CREATE INDEX big_n ON %(t)s (n);
''' % {"t": TABLE}


def setUpModule():
    global PG, TMP
    TMP = module_tmp("gen3db-copysplit-test-")
    PG = module_pg()
    PG.psql("CREATE DATABASE src")
    PG.psql(SOURCE_SQL, db="src")


def contents(db, table=TABLE):
    return PG.psql("SELECT count(*) || ' ' || md5(string_agg(t::text, E'\\n' ORDER BY t.id)) "
                   "FROM %s t" % table, db=db)



class CopySplit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dump = os.path.join(TMP, "src.sql")
        subprocess.run(["pg_dump", "-d", "src", "-f", cls.dump], env=PG.env(), check=True)
        cls.size = os.path.getsize(cls.dump)

    def restore(self, source, db, args=(), code=0):
        PG.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
        trace = os.path.join(TMP, db + ".jsonl")
        env = g3test.pg_env(PG, SERVICE_PGPASS=SERVICE_PASS)
        r = run(["restore", source, "--database", db, "--trace", trace, "--json"] +
                list(args), env=env)
        self.assertEqual(r.code, code, repr(r))
        return r, [t for t in read_trace(trace) if t.get("database") == db]

    def test_split_restores_equal(self):
        self.assertGreater(self.size, 18 * 1024 * 1024)
        r, recs = self.restore(self.dump, "split_plain", ["--jobs", "2"])
        self.assertEqual(contents("split_plain"), contents("src"))
        copies = [t for t in recs if t["job"] == "copy" and t["table"] == KEY]
        # 20 MB in segments of at least 8 MiB: two or three, on both connections
        self.assertGreaterEqual(len(copies), 2, copies)
        self.assertEqual({c["conn"] for c in copies}, {1, 2}, copies)
        self.assertTrue(all(c["ok"] for c in copies))
        self.assertEqual(sum(c["rows"] for c in copies), 170000)
        # every segment but the last holds 8 MiB or more (records come in
        # the order the segments ended, so the last may not be last here)
        self.assertLessEqual(len([c for c in copies if c["bytes"] < 8 * 1024 * 1024]), 1,
                             copies)
        # two segments ran at the same time
        self.assertTrue(any(a["start"] < b["end"] and b["start"] < a["end"]
                            for a in copies for b in copies if a is not b), copies)
        # the report counts the table's rows once
        rep = json.loads(r.out)
        tables = [t for d in rep.get("databases", [rep]) for t in d.get("tables", [])]
        big = [t for t in tables if t.get("table", t.get("name")) in (KEY, "Big, \"split\" \\ tàble")]
        self.assertEqual([t["rows"] for t in big], [170000], tables)
        # the index and ANALYZE ran after every segment
        last = max(c["end"] for c in copies)
        for t in recs:
            if t["job"] in ("index", "constraint", "analyze") and t["table"] == KEY:
                self.assertGreaterEqual(t["start"], last, t)

    def test_big_snapshot_chunk(self):
        # a snapshot written with a chunk bigger than a segment: its chunk
        # is cut the same way, and the chunk's row count still holds
        snap = os.path.join(TMP, "big-chunk.tar.zst")
        r = run(["dump", "--database", "src", "--output", snap, "--chunk-size", "64M",
                 "--quiet"], env=PG.env())
        self.assertEqual(r.code, 0, repr(r))
        _, recs = self.restore(snap, "split_snap", ["--jobs", "2"])
        self.assertEqual(contents("split_snap"), contents("src"))
        copies = [t for t in recs if t["job"] == "copy" and t["table"] == KEY]
        self.assertGreaterEqual(len(copies), 2, copies)
        self.assertEqual(sum(c["rows"] for c in copies), 170000)

    def test_one_job_is_one_stream(self):
        _, recs = self.restore(self.dump, "split_one", ["--jobs", "1"])
        self.assertEqual(contents("split_one"), contents("src"))
        self.assertEqual(len([t for t in recs if t["job"] == "copy" and t["table"] == KEY]), 1)

    def test_csv_is_not_split(self):
        # only text format is cut: a CSV row's end is not every newline
        # (a quoted field may hold one) and its escapes differ
        path = os.path.join(TMP, "csv.sql")
        rows = 90000
        with open(path, "w", encoding="utf-8") as f:
            f.write("CREATE TABLE public.csvt (id int, body text);\n")
            f.write("COPY public.csvt (id, body) FROM stdin WITH (FORMAT csv);\n")
            for i in range(rows):
                f.write('%d,"one %s, ""quoted"" \\%s"\n' % (i, "a" * 120, "b" * (i % 50)))
            f.write("\\.\n")
        self.assertGreater(os.path.getsize(path), 12 * 1024 * 1024)
        _, recs = self.restore(path, "split_csv", ["--jobs", "2", "--sql-script"])
        copies = [t for t in recs if t["job"] == "copy"]
        self.assertEqual(len(copies), 1, copies)
        self.assertEqual(PG.psql("SELECT count(*), count(DISTINCT id), "
                                 "count(*) FILTER (WHERE strpos(body, ', \"quoted\" ' || chr(92)) > 0) "
                                 "FROM public.csvt", db="split_csv"),
                         "%d|%d|%d" % (rows, rows, rows))

    def test_error_in_a_later_segment_names_its_line(self):
        with open(self.dump, encoding="utf-8") as f:
            lines = f.read().split("\n")
        start = next(i for i, l in enumerate(lines) if l.startswith("COPY public.\"Big"))
        # the row with id 150000, well past the first 8 MiB: its n becomes text
        row = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("150000\t"))
        cols = lines[row].split("\t")
        cols[2] = "not-a-number"
        lines[row] = "\t".join(cols)
        bad = os.path.join(TMP, "bad.sql")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        r, recs = self.restore(bad, "split_bad", ["--jobs", "2"], code=1)
        file_line, copy_line = row + 1, row - start
        self.assertIn('could not load table "%s": line %d: ' % (KEY, copy_line), r.err)
        self.assertIn("(line %d)" % file_line, r.err)
        self.assertIn("not-a-number", r.err)
        self.assertGreaterEqual(len([t for t in recs if t["job"] == "copy"]), 2)
        # nothing half-done: no target database
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname "
                                 "LIKE 'split_bad%'"), "0")


if __name__ == "__main__":
    unittest.main()
