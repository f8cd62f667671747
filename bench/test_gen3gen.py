#!/usr/bin/env python3
"""Tests for bench/gen3gen.py (fast: --size 2MB).

Run: python3 -m unittest bench/test_gen3gen.py -v

The load test starts a throwaway PostgreSQL 15 cluster as the `postgres`
system user on a free 127.0.0.1 port, loads every pg/<service>.sql with
`psql -v ON_ERROR_STOP=1`, and compares row counts with manifest.json.
It is skipped when PostgreSQL binaries are missing.
"""

import filecmp
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "gen3gen.py")
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
SIZE = os.environ.get("GEN3GEN_TEST_SIZE", "2MB")  # the load test can be run bigger


def generate(out, seed, *extra):
    subprocess.run([sys.executable, GEN, "--out", out, "--size", SIZE, "--seed", str(seed),
                    "--quiet", *extra], check=True)
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def all_files(root):
    out = []
    for d, _, files in os.walk(root):
        for fn in files:
            out.append(os.path.relpath(os.path.join(d, fn), root))
    return sorted(out)


COPY_RE = re.compile(r'^COPY public\.("(?:[^"]|"")+"|[a-z_][a-z0-9_]*) \((.*)\) FROM stdin;$')


def copy_blocks(path):
    """Yield (table, columns, rows_checked, bad_lines) for each COPY block."""
    with open(path, "rb") as f:
        table = None
        for raw in f:
            line = raw.decode("utf-8")
            assert line.endswith("\n"), "unterminated line in %s" % path
            line = line[:-1]
            if table is None:
                m = COPY_RE.match(line)
                if m:
                    table = m.group(1)
                    if table.startswith('"'):
                        table = table[1:-1].replace('""', '"')
                    columns = [c.strip().strip('"') for c in m.group(2).split(",")]
                    rows, bad = 0, []
                continue
            if line == "\\.":
                yield table, columns, rows, bad
                table = None
                continue
            rows += 1
            fields = line.split("\t")
            if len(fields) != len(columns) or "\r" in line:
                bad.append(line[:200])
        assert table is None, "unterminated COPY block in %s" % path


class GenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gen3gen-test-")
        cls.a = os.path.join(cls.tmp, "a")
        cls.b = os.path.join(cls.tmp, "b")
        cls.c = os.path.join(cls.tmp, "c")
        cls.manifest = generate(cls.a, 1)
        generate(cls.b, 1)
        generate(cls.c, 2)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_deterministic_same_seed(self):
        fa, fb = all_files(self.a), all_files(self.b)
        self.assertEqual(fa, fb)
        self.assertIn("manifest.json", fa)
        match, mismatch, errors = filecmp.cmpfiles(self.a, self.b, fa, shallow=False)
        self.assertEqual(mismatch, [])
        self.assertEqual(errors, [])

    def test_different_seed_differs(self):
        for rel in ["pg/indexd.sql", "pg/sheepdog.sql", "pg/fence.sql", "pg/arborist.sql",
                    "es/dev_case__data.json", "es/dev_file__data.json"]:
            self.assertFalse(filecmp.cmp(os.path.join(self.a, rel), os.path.join(self.c, rel),
                                         shallow=False), rel)

    def test_no_spool_leftovers(self):
        self.assertEqual(sorted(os.listdir(os.path.join(self.a, "pg"))),
                         ["arborist.sql", "fence.sql", "indexd.sql", "sheepdog.sql"])

    def test_size_roughly_respected(self):
        total = self.manifest["totals"]["copy_bytes"]
        self.assertGreater(total, 1.5 * 2**20)
        self.assertLess(total, 3.0 * 2**20)

    def test_es_json_lines(self):
        es = self.manifest["es"]
        self.assertEqual(set(es), {"dev_case", "dev_file", "dev_array-config"})
        for alias, info in es.items():
            concrete = info["concrete_index"]
            for kind in ("mapping", "settings"):
                with open(os.path.join(self.a, info[kind]), encoding="utf-8") as f:
                    doc = json.load(f)
                self.assertEqual(list(doc), [concrete])
            with open(os.path.join(self.a, info["mapping"]), encoding="utf-8") as f:
                self.assertIn("properties", json.load(f)[concrete]["mappings"])
            with open(os.path.join(self.a, info["settings"]), encoding="utf-8") as f:
                idx = json.load(f)[concrete]["settings"]["index"]
            self.assertIn("ngram_analyzer", idx["analysis"]["analyzer"])
            for k in ("uuid", "creation_date", "version"):
                self.assertNotIn(k, idx)
            n = 0
            ids = set()
            with open(os.path.join(self.a, info["data"]), "rb") as f:
                for raw in f:
                    hit = json.loads(raw.decode("utf-8"))
                    self.assertEqual(hit["_index"], concrete)
                    self.assertEqual(hit["_type"], "_doc")
                    self.assertIsInstance(hit["_id"], str)
                    self.assertIsInstance(hit["_source"], dict)
                    ids.add(hit["_id"])
                    n += 1
            self.assertEqual(n, info["docs"], alias)
            self.assertEqual(len(ids), n, "duplicate _id in " + alias)
            if alias == "dev_file":
                self.assertTrue(any(c in i for i in ids for c in " ?#%"), "no awkward ids")
            if alias == "dev_array-config":
                self.assertEqual(ids, {"dev_case", "dev_file"})

    def test_copy_format(self):
        for svc, info in self.manifest["services"].items():
            seen = {}
            for table, columns, rows, bad in copy_blocks(os.path.join(self.a, info["file"])):
                self.assertEqual(bad, [], "%s.%s: field count mismatch" % (svc, table))
                seen[table] = rows
            self.assertEqual(seen, {t: v["rows"] for t, v in info["tables"].items()}, svc)
            for t, v in info["tables"].items():
                self.assertGreater(v["rows"], 0, "%s.%s is empty" % (svc, t))

    def test_awkward_escapes_present(self):
        with open(os.path.join(self.a, "pg", "indexd.sql"), encoding="utf-8") as f:
            text = f.read()
        for esc in ("\\t", "\\n", "\\\\", "\\N"):
            self.assertIn(esc, text)
        self.assertRegex(text, "[^\x00-\x7f]")

    def test_cli_errors(self):
        p = subprocess.run([sys.executable, GEN, "--out", os.path.join(self.tmp, "x"),
                            "--size", "1MB", "--services", "nope"],
                           capture_output=True)
        self.assertNotEqual(p.returncode, 0)

    def test_es_docs_option(self):
        out = os.path.join(self.tmp, "d")
        m = generate(out, 3, "--services", "fence", "--es-docs", "25")
        self.assertEqual(list(m["services"]), ["fence"])
        self.assertEqual(m["es"]["dev_case"]["docs"], 25)
        self.assertEqual(m["es"]["dev_file"]["docs"], 25)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(os.path.exists(os.path.join(PG_BIN, "initdb")) and shutil.which("psql"),
                     "PostgreSQL binaries not found")
class PsqlLoadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gen3gen-pg-")
        os.chmod(cls.tmp, 0o755)
        cls.out = os.path.join(cls.tmp, "out")
        cls.manifest = generate(cls.out, 7, "--services", "fence,indexd,arborist,sheepdog,metadata")
        cls.pgdata = os.path.join(cls.tmp, "pgdata")
        cls.log = os.path.join(cls.tmp, "pg.log")
        os.makedirs(cls.pgdata)
        as_pg = []
        if os.geteuid() == 0:
            shutil.chown(cls.pgdata, "postgres")
            shutil.chown(cls.tmp, "postgres")
            as_pg = ["runuser", "-u", "postgres", "--"]
        cls.as_pg = as_pg
        cls.started = False
        subprocess.run(as_pg + [os.path.join(PG_BIN, "initdb"), "-D", cls.pgdata, "-A", "trust",
                                "-U", "postgres", "-E", "UTF8", "--locale=C"],
                       check=True, stdout=subprocess.DEVNULL)
        for _attempt in range(5):
            cls.port = free_port()
            p = subprocess.run(as_pg + [os.path.join(PG_BIN, "pg_ctl"), "-D", cls.pgdata, "-l", cls.log,
                                        "-w", "-t", "60", "-o",
                                        "-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off"
                                        % (cls.port, cls.tmp), "start"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if p.returncode == 0:
                cls.started = True
                break
            time.sleep(0.5)
        if not cls.started:
            with open(cls.log, errors="replace") as f:
                log = f.read()
            cls.tearDownClass()
            raise RuntimeError("could not start postgres:\n" + log)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "started", False):
            subprocess.run(cls.as_pg + [os.path.join(PG_BIN, "pg_ctl"), "-D", cls.pgdata,
                                        "-m", "fast", "-w", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cls.started = False
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def psql(self, db, *args, **kw):
        return subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                               "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", *args],
                              capture_output=True, text=True, **kw)

    def scalar(self, db, sql):
        p = self.psql(db, "-At", "-c", sql)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def test_load_all_services(self):
        for svc, info in self.manifest["services"].items():
            with self.subTest(service=svc):
                db = "gen3_" + svc
                p = self.psql("postgres", "-c", "CREATE DATABASE %s" % db)
                self.assertEqual(p.returncode, 0, p.stderr)
                p = self.psql(db, "-c", "CREATE EXTENSION ltree")
                self.assertEqual(p.returncode, 0, p.stderr)
                p = self.psql(db, "-f", os.path.join(self.out, info["file"]))
                self.assertEqual(p.returncode, 0, "%s: %s" % (svc, p.stderr[-3000:]))
                self.assertNotIn("ERROR", p.stderr)
                for table, t in info["tables"].items():
                    q = '"%s"' % table.replace('"', '""')
                    n = int(self.scalar(db, "SELECT count(*) FROM public.%s" % q))
                    self.assertEqual(n, t["rows"], "%s.%s" % (svc, table))
                # Constraints from the post-data section exist.
                npk = int(self.scalar(db, "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n "
                                          "ON n.oid = c.connamespace WHERE n.nspname = 'public' "
                                          "AND c.contype = 'p'"))
                self.assertEqual(npk, len(info["tables"]))

    def test_specific_values(self):
        dbs = {"fence": "fence_chk", "arborist": "arborist_chk", "sheepdog": "sheepdog_chk"}
        for svc, db in dbs.items():
            self.assertEqual(self.psql("postgres", "-c", "CREATE DATABASE %s" % db).returncode, 0)
            self.assertEqual(self.psql(db, "-c", "CREATE EXTENSION ltree").returncode, 0)
            p = self.psql(db, "-f", os.path.join(self.out, "pg", svc + ".sql"))
            self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        # Sequences were set past the loaded ids.
        nxt = int(self.scalar("fence_chk", "SELECT nextval('public.\"User_id_seq\"')"))
        mx = int(self.scalar("fence_chk", 'SELECT max(id) FROM public."User"'))
        self.assertEqual(nxt, mx + 1)
        # ltree paths and the GiST index.
        self.assertEqual(self.scalar("arborist_chk",
                                     "SELECT count(*) > 0 FROM public.resource "
                                     "WHERE path <@ 'programs'::public.ltree AND nlevel(path) = 4"), "t")
        self.assertEqual(self.scalar("arborist_chk",
                                     "SELECT indexdef LIKE '%gist%' FROM pg_indexes "
                                     "WHERE indexname = 'resource_path_idx'"), "t")
        # jsonb props are queryable, GIN index exists.
        self.assertEqual(self.scalar("sheepdog_chk",
                                     "SELECT count(*) > 0 FROM public.node_file "
                                     "WHERE _props ? 'md5sum' AND (_props->>'file_size')::bigint > 0"), "t")
        self.assertEqual(self.scalar("sheepdog_chk",
                                     "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%gin (_props)%'"),
                         "5")


if __name__ == "__main__":
    unittest.main()
