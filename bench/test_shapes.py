#!/usr/bin/env python3
"""Tests for bench/shapes.py (the benchmark's dataset shapes, at a tiny
size) and bench/tracestat.py (phases, busy connections and CPU per phase
from a restore trace).

Run: python3 -m unittest bench/test_shapes.py -v

The load test starts a throwaway PostgreSQL cluster (tests/harness) and
checks the shapes in the catalog; it is skipped without PostgreSQL.
"""
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "harness"))
import shapes  # noqa: E402
import tracestat  # noqa: E402

SIZE = 400 << 10
SMALL = "abcd"  # e is gen3gen.py's own mix, tested by test_gen3gen.py


def sql_of(out, m, db):
    with open(os.path.join(out, m["databases"][db]["file"]), encoding="utf-8") as f:
        return f.read()


def indexes(sql, table):
    """(method, columns) of each CREATE INDEX on public.<table>."""
    return re.findall(r"CREATE INDEX \S+ ON public\.%s USING (\w+) \(([^)]*)\);" % table, sql)


def fks(sql):
    """(table, referenced table) of each foreign key."""
    return re.findall(r"ALTER TABLE ONLY public\.(\w+)\n    ADD CONSTRAINT \S+ FOREIGN KEY "
                      r"\([^)]*\) REFERENCES public\.(\w+)\(", sql)


def pkeys(sql):
    return re.findall(r"ALTER TABLE ONLY public\.(\w+)\n    ADD CONSTRAINT \S+ PRIMARY KEY", sql)


class ShapesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="shapes-test-")
        cls.m = {}
        for s in SMALL:
            for seed, tag in ((1, "a"), (1, "b"), (2, "c")):
                m = shapes.generate(s, os.path.join(cls.tmp, tag, s), SIZE, seed)
                if tag == "a":
                    cls.m[s] = m

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def out(self, s, tag="a"):
        return os.path.join(self.tmp, tag, s)

    def sql(self, s):
        m = self.m[s]
        return sql_of(self.out(s), m, next(iter(m["databases"])))

    def tables(self, s):
        return next(iter(self.m[s]["databases"].values()))["tables"]

    def test_deterministic(self):
        for s in SMALL:
            files = sorted(os.listdir(os.path.join(self.out(s), "pg"))) + ["manifest.json"]
            same = ["manifest.json"] + ["pg/" + f for f in files[:-1]]
            match, mismatch, errors = filecmp.cmpfiles(self.out(s), self.out(s, "b"), same,
                                                       shallow=False)
            self.assertEqual((mismatch, errors), ([], []), s)
            self.assertEqual(len(match), len(same), s)
            for f in same[1:]:
                self.assertFalse(filecmp.cmp(os.path.join(self.out(s), f),
                                             os.path.join(self.out(s, "c"), f), shallow=False),
                                 "seed 2 gives the same %s" % f)

    def test_size_roughly_respected(self):
        for s in SMALL:
            self.assertGreater(self.m[s]["copy_bytes"], 0.8 * SIZE, s)
            self.assertLess(self.m[s]["copy_bytes"], 1.3 * SIZE, s)

    def test_a_dominant_table(self):
        sql, t = self.sql("a"), self.tables("a")
        self.assertEqual(set(t), {"record", "record_url", "record_hash"})
        self.assertGreater(t["record"]["bytes"], 0.6 * sum(x["bytes"] for x in t.values()))
        self.assertIn("record", pkeys(sql))
        self.assertGreaterEqual(len([i for i in indexes(sql, "record") if i[0] == "btree"]), 4)
        self.assertEqual(sorted(fks(sql)), [("record_hash", "record"), ("record_url", "record")])

    def test_b_many_small_tables(self):
        sql, t = self.sql("b"), self.tables("b")
        self.assertGreaterEqual(len(t), 200)
        self.assertEqual(len(pkeys(sql)), len(t))
        self.assertGreaterEqual(len(fks(sql)), 100)
        self.assertTrue(all(x["rows"] >= 1 for x in t.values()))
        self.assertLess(max(x["bytes"] for x in t.values()), 0.02 * SIZE)

    def test_c_jsonb_gin_biggest_and_ltree_gist(self):
        sql, t = self.sql("c"), self.tables("c")
        self.assertEqual(max(t, key=lambda n: t[n]["bytes"]), "node")
        self.assertGreater(t["node"]["bytes"], 0.5 * sum(x["bytes"] for x in t.values()))
        self.assertIn("_props jsonb", sql)
        self.assertIn(("gin", "_props"), indexes(sql, "node"))
        self.assertIn("path public.ltree NOT NULL", sql)
        self.assertIn(("gist", "path"), indexes(sql, "resource"))
        self.assertIn("CREATE EXTENSION IF NOT EXISTS ltree", sql)
        self.assertEqual(fks(sql), [("edge", "node"), ("edge", "node")])

    def test_d_wide_toasted_rows(self):
        sql, t = self.sql("d"), self.tables("d")
        doc = t["document"]
        self.assertGreater(doc["bytes"] / doc["rows"], 4000)  # above TOAST's 2 kB
        self.assertGreater(doc["max_row_bytes"], 8000)
        self.assertGreater(doc["bytes"], 0.9 * sum(x["bytes"] for x in t.values()))
        self.assertEqual(fks(sql), [("document_tag", "document")])

    def test_e_is_the_gen3gen_mix(self):
        out = os.path.join(self.tmp, "e")
        m = shapes.generate("e", out, SIZE, 1)
        self.assertEqual(sorted(m["databases"]), ["arborist", "fence", "indexd", "sheepdog"])
        for db, info in m["databases"].items():
            self.assertTrue(os.path.getsize(os.path.join(out, info["file"])) > 0, db)
            self.assertTrue(info["tables"], db)
        self.assertEqual(m["copy_bytes"], sum(x["copy_bytes"] for x in m["databases"].values()))
        self.assertGreater(m["copy_bytes"], 0.8 * SIZE)

    def test_loads_into_postgres(self):
        try:
            import pgcluster
            pgcluster.pg_bin()
        except (ImportError, RuntimeError) as e:
            self.skipTest("no PostgreSQL: %s" % e)
        with pgcluster.PgCluster() as pg:
            env = pg.env()
            for s in SMALL:
                m = self.m[s]
                db = "shape_" + s
                pg.psql('CREATE DATABASE "%s"' % db)
                subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f",
                                os.path.join(self.out(s), next(iter(m["databases"].values()))[
                                    "file"])], env=env, check=True, stdout=subprocess.DEVNULL)
                q = lambda sql: pg.psql(sql, db=db).strip()
                for name, info in self.tables(s).items():
                    if s != "b" or name.endswith("0"):
                        self.assertEqual(int(q("SELECT count(*) FROM public.%s" % name)),
                                         info["rows"], name)
                nfk = int(q("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"))
                self.assertEqual(nfk, len(fks(self.sql(s))), s)
                if s == "a":
                    self.assertEqual(q("SELECT count(*) FROM pg_indexes WHERE tablename = "
                                       "'record'"), "5")
                if s == "c":
                    self.assertEqual(q("SELECT string_agg(DISTINCT am.amname, ',' ORDER BY "
                                       "am.amname) FROM pg_class c JOIN pg_am am ON "
                                       "am.oid = c.relam WHERE c.relkind = 'i' AND "
                                       "c.relnamespace = 'public'::regnamespace"),
                                     "btree,gin,gist")
                if s == "d":
                    # the bodies live in the TOAST table, not the heap
                    heap, toast = q("SELECT pg_relation_size(c.oid) || ' ' || "
                                    "pg_total_relation_size(c.reltoastrelid) FROM pg_class c "
                                    "WHERE c.relname = 'document'").split()
                    self.assertGreater(int(toast), 2 * int(heap))


def rec(conn, job, start, end, obj=None):
    r = {"conn": conn, "job": job, "start": start, "end": end, "ok": True}
    if obj:
        r["object"] = obj
    return r


# A two-connection restore: provisioning, pre-data, two COPYs, an index, a
# primary key, a foreign key, an ANALYZE and the swap; the process ran 4 s.
TRACE = [
    rec(0, "prepare", 0.0, 1.0),
    rec(0, "pre-data", 1.0, 1.2),
    rec(1, "copy", 1.2, 2.2, "public.a"),
    rec(2, "copy", 1.2, 1.8, "public.b"),
    rec(2, "index", 1.8, 2.6, "b_idx"),
    rec(1, "constraint", 2.2, 3.0, "a_pkey"),
    rec(2, "fk", 2.6, 2.8, "b_a_fkey"),
    rec(1, "analyze", 3.0, 3.2, "public.a"),
    rec(0, "swap", 3.2, 3.5),
]
SAMPLES = [(0.0, 0.0), (1.0, 0.5), (1.2, 0.5), (1.8, 1.7), (2.2, 2.5), (3.5, 3.8), (4.0, 4.0)]


class TraceStatTest(unittest.TestCase):
    def test_union(self):
        self.assertAlmostEqual(tracestat.union([(0, 1), (0.5, 2), (3, 4), (3.5, 3.6)]), 3.0)
        self.assertEqual(tracestat.union([]), 0.0)

    def test_busy_connections(self):
        a = tracestat.analyze(TRACE, 4.0, 2)
        self.assertAlmostEqual(a["conns"]["1"], 2.0)   # 1.2 to 3.2 without a gap
        self.assertAlmostEqual(a["conns"]["2"], 1.6)   # 1.2 to 2.8
        self.assertAlmostEqual(a["span"], 2.0)
        b = tracestat.busy(a)
        self.assertAlmostEqual(b["1"], 0.5)
        self.assertAlmostEqual(b["2"], 0.4)
        b = tracestat.busy(a, "span")
        self.assertAlmostEqual(b["1"], 1.0)
        self.assertAlmostEqual(b["2"], 0.8)

    def test_phases(self):
        p = tracestat.analyze(TRACE, 4.0, 2)["phases"]
        self.assertEqual(p["data"]["jobs"], 2)
        self.assertAlmostEqual(p["data"]["wall"], 1.0)     # union of 1.2-2.2 and 1.2-1.8
        self.assertAlmostEqual(p["data"]["job_s"], 1.6)
        for name, wall in (("index", 0.8), ("constraint", 0.8), ("fk", 0.2), ("analyze", 0.2),
                           ("prepare", 1.0), ("pre-data", 0.2), ("swap", 0.3)):
            self.assertAlmostEqual(p[name]["wall"], wall, msg=name)
        self.assertEqual(tracestat.ordered(p), ["prepare", "pre-data", "data", "index",
                                                "constraint", "fk", "analyze", "swap"])

    def test_cpu_per_phase(self):
        a = tracestat.analyze(TRACE, 4.0, 2, SAMPLES)
        cpu = {k: v["cpu"] for k, v in a["phases"].items()}
        # 0-1 s only the leader's prepare runs; 1.2-1.8 both COPYs share
        # 1.2 s; 1.8-2.2 a's COPY and the index share 0.8 s; 2.2-3.5 the
        # worker jobs share 1.3 s by time run in it (the swap, a leader
        # record, gets none while workers run); 3.5-4 nothing runs: other
        expect = {"prepare": 0.5, "data": 1.2 + 0.4, "index": 0.4 + 1.3 * 0.4 / 1.6,
                  "constraint": 1.3 * 0.8 / 1.6, "fk": 1.3 * 0.2 / 1.6,
                  "analyze": 1.3 * 0.2 / 1.6, "pre-data": 0.0, "swap": 0.0, "other": 0.2}
        self.assertEqual(set(cpu), set(expect))
        for k, v in expect.items():
            self.assertAlmostEqual(cpu[k], v, msg=k)
        self.assertAlmostEqual(sum(cpu.values()), SAMPLES[-1][1])
        self.assertAlmostEqual(a["builds"]["index b_idx"]["cpu"], 0.4 + 1.3 * 0.4 / 1.6)
        self.assertAlmostEqual(a["builds"]["index b_idx"]["s"], 0.8)
        self.assertNotIn("copy public.a", a["builds"])

    def test_merge_of_databases_run_in_turn(self):
        one = tracestat.analyze(TRACE, 4.0, 2, SAMPLES)
        two = tracestat.analyze([dict(r, database="x") for r in TRACE], 4.0, 2, SAMPLES)
        m = tracestat.merge([one, two])
        self.assertAlmostEqual(m["wall"], 8.0)
        self.assertAlmostEqual(m["conns"]["1"], 4.0)
        self.assertAlmostEqual(tracestat.busy(m)["2"], 0.4)
        self.assertAlmostEqual(m["phases"]["data"]["cpu"], 3.2)
        self.assertIn("x: index b_idx", m["builds"])
        laid = tracestat.shifted(TRACE, 4.0)
        self.assertEqual((laid[0]["start"], laid[-1]["end"]), (4.0, 7.5))
        self.assertEqual(TRACE[0]["start"], 0.0)

    def test_reads_a_trace_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for r in TRACE:
                f.write(json.dumps(r) + "\n")
            f.write("\n")
        try:
            self.assertEqual(tracestat.load(f.name), TRACE)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
