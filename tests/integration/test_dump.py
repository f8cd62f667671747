"""gen3db dump against a throwaway PostgreSQL: layout of the snapshot, every
chunk checked independently (sha256, rows, bytes), COPY data equal to the
source's for awkward values, consistency while the source takes writes,
and failures that leave no output behind."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.path.insert(0, HERE)
from g3test import module_pg, module_tmp, pgcluster  # noqa: E402

BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
PG = None
TMP = None

AWKWARD_SQL = r'''
CREATE EXTENSION ltree;
CREATE SCHEMA other;
CREATE TABLE public."User" (id serial PRIMARY KEY, "na me ""q""" text, email varchar(255));
CREATE TABLE public.things (
    id bigserial PRIMARY KEY,
    s text, b bytea, arr text[], j jsonb, n numeric, ts timestamptz, path ltree,
    user_id int REFERENCES public."User"(id));
CREATE INDEX things_path_idx ON public.things USING gist (path);
CREATE TABLE other.things (id int PRIMARY KEY, data text);
CREATE TABLE public.big (id int, payload text);
CREATE TABLE public.empty (id int);
CREATE TABLE public.gen (a int, b int GENERATED ALWAYS AS (a * 2) STORED);
CREATE TABLE public.nocols ();
CREATE SEQUENCE other.counter;
SELECT setval('other.counter', 42);
INSERT INTO public."User" ("na me ""q""", email) VALUES
    (NULL, ''), ('', NULL), (E'tab\there', 'new\nline'), (E'back\\slash', 'crlf' || chr(13) || chr(10)),
    ('ünïcødé ✓ 日本語 🚀', 'x@y');
INSERT INTO public.things (s, b, arr, j, n, ts, path, user_id) VALUES
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    ('', '\x', '{}', '{}', 0, '2020-01-01 00:00:00+00', 'top', 1),
    (E'a\tb\nc\\d', '\x00ff10', ARRAY['x', NULL, 'y"z', E'back\\slash', ''], '{"k": "v\n", "a": [1, null, "\u00e9"]}',
     123456789012345678901234567890.123456789012345678901234567890, '1999-12-31 23:59:59.999999-08',
     'top.mid.leaf', 3),
    (repeat('x', 5000), decode(repeat('00ff', 1000), 'hex'), ARRAY['ü'], '[]', -1e-30, 'infinity', 'a.b', 5);
INSERT INTO other.things SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
INSERT INTO public.big VALUES (1, repeat('0123456789', 1024 * 1024)), (2, 'small'), (3, 'small too');
INSERT INTO public.gen (a) VALUES (1), (2), (NULL);
INSERT INTO public.nocols DEFAULT VALUES;
INSERT INTO public.nocols DEFAULT VALUES;
'''


def setUpModule():
    global PG, TMP
    PG = module_pg()
    TMP = module_tmp("gen3db-dump-test-")
    PG.psql("CREATE DATABASE awk")
    PG.psql(AWKWARD_SQL, db="awk")
    PG.psql("CREATE DATABASE second")
    PG.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)", db="second")


def gen3db(*args, env=None, **kw):
    return subprocess.run([BIN] + list(args), env=env or PG.env(), capture_output=True, **kw)


def psql_copy(db, sql):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                       env=PG.env(), capture_output=True, check=True)
    return r.stdout


def read_snapshot(path):
    """[(name, bytes)] in archive order, decompressed with the zstd CLI."""
    raw = subprocess.run(["zstd", "-q", "-dc", path], capture_output=True, check=True).stdout
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for m in tf:
            assert m.isfile(), m.name
            out.append((m.name, tf.extractfile(m).read()))
    return out


def quote_ident(s):
    return '"' + s.replace('"', '""') + '"'


class DumpAwkward(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.path = os.path.join(TMP, "awk.tar.zst")
        cls.dump_result = gen3db("dump", "--output", cls.path, "--database", "awk",
                         "--database", "second", "--chunk-size", "64K", "--jobs", "3")
        cls.members = read_snapshot(cls.path) if cls.dump_result.returncode == 0 else []
        cls.by_name = dict(cls.members)

    def test_exit_and_summary(self):
        self.assertEqual(self.dump_result.returncode, 0, self.dump_result.stderr.decode())
        err = self.dump_result.stderr.decode()
        self.assertIn('gen3db: awk: "public.big" 3 rows', err)
        self.assertRegex(err, r'gen3db: dumped 2 databases: \d+ rows, .* written to ".*awk.tar.zst"')
        self.assertFalse(os.path.exists(self.path + ".partial"))

    def test_tar_listing_order(self):
        names = subprocess.run(["tar", "--zstd", "-tf", self.path], capture_output=True,
                               check=True, text=True).stdout.split()
        self.assertEqual(names[0], "manifest.json")
        self.assertEqual(names[-1], "end.json")
        self.assertEqual(names[1], "pg/awk/pre-data.sql")
        i_post = names.index("pg/awk/post-data.sql")
        self.assertEqual(names[i_post + 1], "pg/awk/post-data.json")
        self.assertEqual(names[i_post + 2], "pg/awk/sequences.sql")
        self.assertEqual(names[i_post + 3], "pg/second/pre-data.sql")
        data = [n for n in names if "/data/" in n]
        for i in range(0, len(data), 2):
            self.assertTrue(data[i].endswith(".json"))
            self.assertEqual(data[i + 1], data[i][:-5] + ".copy")
        self.assertEqual(names, [n for n, _ in self.members])

    def test_chunks_verify_independently(self):
        manifest = json.loads(self.by_name["manifest.json"])
        end = json.loads(self.by_name["end.json"])
        self.assertEqual(end["members"], len(self.members) - 1)
        sums = {}
        last_seen = {}
        prev = None
        numbers = {}
        for name, data in self.members:
            if name.endswith(".json") and "/data/" in name:
                prev = (name, json.loads(data))
                continue
            if not name.endswith(".copy"):
                continue
            hname, h = prev
            self.assertEqual(hname[:-5], name[:-5])
            db = name.split("/")[1]
            num = int(name.split("/")[-1][:-5])
            self.assertEqual(num, numbers.get(db, 0) + 1)
            numbers[db] = num
            self.assertEqual(h["bytes"], len(data))
            self.assertEqual(h["rows"], data.count(b"\n"))
            self.assertEqual(h["sha256"], hashlib.sha256(data).hexdigest())
            if h["rows"] > 1:
                self.assertLessEqual(len(data), 64 * 1024)
            key = (db, h["schema"], h["table"])
            self.assertEqual(h["part"], last_seen.get(key, 0) + 1)
            last_seen[key] = h["part"]
            s = sums.setdefault(db, {"rows": 0, "bytes": 0, "chunks": 0})
            s["rows"] += h["rows"]
            s["bytes"] += h["bytes"]
            s["chunks"] += 1
            t = sums.setdefault(key, {"rows": 0, "last": False})
            t["rows"] += h["rows"]
            self.assertFalse(t["last"])
            t["last"] = h["last"]
        for d in end["databases"]:
            self.assertEqual({k: d[k] for k in ("rows", "bytes", "chunks")}, sums[d["name"]])
            for t in d["tables"]:
                self.assertEqual(t["rows"], sums[(d["name"], t["schema"], t["name"])]["rows"])
                self.assertTrue(sums[(d["name"], t["schema"], t["name"])]["last"])
        # every table of the manifest has data chunks, the empty one too
        for d in manifest["databases"]:
            for t in d["tables"]:
                self.assertIn((d["name"], t["schema"], t["name"]), sums)

    def test_big_row_has_own_chunk(self):
        heads = [json.loads(d) for n, d in self.members if n.endswith(".json") and "/data/" in n]
        big = [h for h in heads if h["table"] == "big"]
        sizes = sorted((h["rows"], h["bytes"]) for h in big)
        self.assertIn((1, len("1\t") + 10 * 1024 * 1024 + len("\n")), sizes)
        self.assertEqual(sum(r for r, _ in sizes), 3)

    def test_copy_data_matches_source(self):
        manifest = json.loads(self.by_name["manifest.json"])
        chunks = {}
        prev = None
        for name, data in self.members:
            if name.endswith(".json") and "/data/" in name:
                prev = json.loads(data)
            elif name.endswith(".copy"):
                db = name.split("/")[1]
                chunks.setdefault((db, prev["schema"], prev["table"]), []).append((prev["part"], data))
        checked = 0
        for d in manifest["databases"]:
            for t in d["tables"]:
                cols = ", ".join(quote_ident(c["name"]) for c in t["columns"])
                target = quote_ident(t["schema"]) + "." + quote_ident(t["name"])
                sql = "COPY %s%s TO STDOUT" % (target, " (%s)" % cols if cols else "")
                want = psql_copy(d["name"], sql)
                got = b"".join(data for _, data in sorted(chunks[(d["name"], t["schema"], t["name"])]))
                self.assertEqual(got, want, "%s.%s" % (t["schema"], t["name"]))
                checked += 1
        self.assertEqual(checked, 8)

    def test_manifest(self):
        m = json.loads(self.by_name["manifest.json"])
        self.assertEqual(m["format"], "gen3db-snapshot")
        self.assertEqual(m["format_version"], 1)
        self.assertTrue(m["source"]["pg_dump_version"].startswith("pg_dump (PostgreSQL)"))
        self.assertGreaterEqual(m["source"]["server_version_num"], 150000)
        self.assertEqual(m["indices"], [])
        awk = m["databases"][0]
        self.assertEqual(awk["name"], "awk")
        self.assertEqual(awk["encoding"], "UTF8")
        tables = {(t["schema"], t["name"]): t for t in awk["tables"]}
        self.assertEqual(sorted(tables), [("other", "things"), ("public", "User"), ("public", "big"),
                                          ("public", "empty"), ("public", "gen"), ("public", "nocols"),
                                          ("public", "things")])
        self.assertEqual([c["name"] for c in tables[("public", "User")]["columns"]],
                         ["id", 'na me "q"', "email"])
        self.assertEqual(tables[("public", "User")]["columns"][2]["type"], "character varying(255)")
        # generated columns are not in COPY
        self.assertEqual([c["name"] for c in tables[("public", "gen")]["columns"]], ["a"])
        self.assertEqual(tables[("public", "things")]["columns"][7]["type"], "ltree")

    def test_schema_sections(self):
        pre = self.by_name["pg/awk/pre-data.sql"].decode()
        post = self.by_name["pg/awk/post-data.sql"].decode()
        for text in (pre, post):
            self.assertFalse([l for l in text.splitlines() if l.startswith("\\")])
            self.assertNotIn("OWNER TO", text)
            self.assertNotIn("GRANT ", text)
        self.assertIn('CREATE TABLE public."User"', pre)
        self.assertIn("CREATE SEQUENCE other.counter", pre)
        self.assertNotIn("setval", pre)
        self.assertIn("FOREIGN KEY", post)
        pd = json.loads(self.by_name["pg/awk/post-data.json"])
        kinds = {(i["kind"], i["table_schema"], i["table"]) for i in pd["items"]}
        self.assertIn(("FK CONSTRAINT", "public", "things"), kinds)
        self.assertIn(("CONSTRAINT", "public", "User"), kinds)
        self.assertIn(("CONSTRAINT", "other", "things"), kinds)
        self.assertIn(("INDEX", "public", "things"), kinds)
        self.assertIn("search_path", pd["preamble"])
        for i in pd["items"]:
            self.assertNotIn("SET default_", i["sql"])
            self.assertTrue(i["sql"].strip())
        seq = self.by_name["pg/awk/sequences.sql"].decode()
        self.assertIn("SELECT pg_catalog.setval('\"other\".\"counter\"', 42, true);", seq)
        self.assertIn("SELECT pg_catalog.setval('\"public\".\"User_id_seq\"', 5, true);", seq)

    def test_schema_loads_with_psql(self):
        """pre-data + data (COPY) + post-data + sequences rebuild the database."""
        PG.psql("DROP DATABASE IF EXISTS awk_copy")
        PG.psql("CREATE DATABASE awk_copy")
        work = os.path.join(TMP, "load.sql")
        prev = None
        with open(work, "wb") as f:
            f.write(self.by_name["pg/awk/pre-data.sql"])
            for name, data in self.members:
                if not name.startswith("pg/awk/data/"):
                    continue
                if name.endswith(".json"):
                    prev = json.loads(data)
                    continue
                cols = ", ".join(quote_ident(c) for c in prev["columns"])
                f.write(("COPY %s.%s%s FROM stdin;\n" % (quote_ident(prev["schema"]), quote_ident(prev["table"]),
                                                       " (%s)" % cols if cols else "")).encode())
                f.write(data + b"\\.\n")
            f.write(self.by_name["pg/awk/post-data.sql"])
            f.write(self.by_name["pg/awk/sequences.sql"])
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "awk_copy", "-f", work],
                       env=PG.env(), check=True, capture_output=True)
        for t in ('public."User"', "public.things", "other.things", "public.big", "public.gen"):
            self.assertEqual(psql_copy("awk_copy", "COPY %s TO STDOUT" % t),
                             psql_copy("awk", "COPY %s TO STDOUT" % t), t)
        self.assertEqual(PG.psql("SELECT last_value FROM other.counter", db="awk_copy"), "42")


class DumpBehaviour(unittest.TestCase):
    def test_stdout_and_json(self):
        out = os.path.join(TMP, "stdout.tar.zst")
        with open(out, "wb") as f:
            r = subprocess.run([BIN, "dump", "--output", "-", "--database", "second", "--quiet"],
                               env=PG.env(), stdout=f, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"")
        names = [n for n, _ in read_snapshot(out)]
        self.assertEqual(names[0], "manifest.json")
        self.assertEqual(names[-1], "end.json")
        path = os.path.join(TMP, "j.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "second", "--json", "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = json.loads(r.stdout)
        self.assertEqual(s["output"], path)
        self.assertEqual(s["output_bytes"], os.path.getsize(path))
        self.assertEqual(s["databases"][0]["tables"][0]["rows"], 2)

    def test_json_reports_a_failure(self):
        path = os.path.join(TMP, "fail.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "no_such_db", "--json", "--quiet")
        self.assertEqual(r.returncode, 1, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["status"], "failed")
        self.assertEqual(rep["exit_code"], 1)
        self.assertEqual(rep["output"], path)
        self.assertEqual(rep["output_written"], False)
        self.assertEqual(rep["databases"], ["no_such_db"])
        self.assertIn('"no_such_db"', rep["error"])
        self.assertIn(rep["error"], r.stderr.decode())
        self.assertFalse(os.path.exists(path))

    def test_pg_dump_gets_password_from_environment_only(self):
        log = os.path.join(TMP, "pg_dump.log")
        wrapper = os.path.join(TMP, "pg_dump_wrapper")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$*" >> %s\n'
                    '[ -n "$PGPASSWORD" ] && echo "PGPASSWORD set" >> %s\n'
                    'exec pg_dump "$@"\n' % (log, log))
        os.chmod(wrapper, 0o755)
        env = PG.env()
        env["GEN3DB_PG_DUMP"] = wrapper
        path = os.path.join(TMP, "wrapped.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "second", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            text = f.read()
        self.assertNotIn(PG.password, text)
        self.assertIn("--section=pre-data --no-owner --no-privileges --snapshot=", text)
        self.assertIn("--section=post-data", text)
        self.assertEqual(text.count("PGPASSWORD set"), 3)   # --version, pre, post
        self.assertNotIn(PG.password.encode(), r.stderr)
        for _, data in read_snapshot(path):
            self.assertNotIn(PG.password.encode(), data)

    def sections_wrapper(self, name, script):
        """A pg_dump stand-in: logs "<section> start|end <time>", then runs
        script (shell, $section set) before or instead of pg_dump."""
        log = os.path.join(TMP, name + ".log")
        wrapper = os.path.join(TMP, name)
        with open(wrapper, "w") as f:
            f.write('#!/bin/bash\nsection=version\nfor a; do case "$a" in --section=*) '
                    'section=${a#--section=};; esac; done\n'
                    'echo "$section start $(date +%%s.%%N)" >> %s\n'
                    '%s\n'
                    'pg_dump "$@"; rc=$?\n'
                    'echo "$section end $(date +%%s.%%N)" >> %s\nexit $rc\n'
                    % (log, script, log))
        os.chmod(wrapper, 0o755)
        env = PG.env()
        env["GEN3DB_PG_DUMP"] = wrapper
        return env, log

    def test_sections_run_beside_each_other(self):
        # each database's pre-data and post-data pg_dump run at once, and
        # the next database's start while this one's data is read
        env, log = self.sections_wrapper(
            "slow_sections", 'if [ "$section" = post-data ]; then sleep 1.5; else sleep 0.3; fi')
        path = os.path.join(TMP, "sections.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "second", "--database", "awk",
                   "--quiet", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            ev = [l.split() for l in f.read().splitlines()]
        times = [(s, what, float(t)) for s, what, t in ev if s != "version"]
        self.assertEqual(len(times), 8, ev)
        # (post-data is the slow one here) the first database's two
        # sections start, its pre-data ends, the second database's start
        # beside the first one's data and post-data, then the rest end
        order = [(s, what) for s, what, _ in sorted(times, key=lambda e: e[2])]
        self.assertEqual(sorted(order[:2]), [("post-data", "start"), ("pre-data", "start")], ev)
        self.assertEqual(order[2], ("pre-data", "end"), ev)
        self.assertEqual(sorted(order[3:5]), [("post-data", "start"), ("pre-data", "start")], ev)
        self.assertEqual(sorted(order[5:]), [("post-data", "end")] * 2 + [("pre-data", "end")],
                         ev)
        # and the snapshot is whole: members in order, sums checked
        v = gen3db("verify", path)
        self.assertEqual(v.returncode, 0, v.stderr)
        names = [n for n, _ in read_snapshot(path)]
        for db in ("second", "awk"):
            i = names.index("pg/%s/pre-data.sql" % db)
            j = names.index("pg/%s/post-data.sql" % db)
            self.assertTrue(all(i < k < j for k, n in enumerate(names)
                                if n.startswith("pg/%s/data/" % db)), names)

    def test_a_failed_section_fails_the_dump(self):
        for failing, other in (("post-data", "pre-data"), ("pre-data", "post-data")):
            # the failing section ends at once; the other one is slow, and
            # the dump waits for it before it removes its output
            env, log = self.sections_wrapper(
                "fail_" + failing,
                'if [ "$section" = %s ]; then echo "pg_dump: error: boom in %s" >&2; exit 1; fi\n'
                'if [ "$section" = %s ]; then sleep 1; fi' % (failing, failing, other))
            path = os.path.join(TMP, "fail-%s.tar.zst" % failing)
            r = gen3db("dump", "--output", path, "--database", "second", env=env)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(('gen3db: pg_dump --section=%s of database "second" failed: '
                           'boom in %s' % (failing, failing)).encode(), r.stderr)
            self.assertFalse(os.path.exists(path))
            self.assertFalse(os.path.exists(path + ".partial"))
            with open(log) as f:
                text = f.read()
            # the slow section's pg_dump was waited for, not left running
            self.assertIn("%s end" % other, text)

    def test_missing_pg_dump(self):
        # asked while the databases are opened: the dump still fails with
        # its message and leaves nothing
        env = PG.env()
        env["GEN3DB_PG_DUMP"] = "/nonexistent/pg_dump"
        path = os.path.join(TMP, "nopgdump.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "second", env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.decode(), 'gen3db: could not run "/nonexistent/pg_dump"\n'
                         'hint: install PostgreSQL\'s client tools or set GEN3DB_PG_DUMP\n')
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(path + ".partial"))

    def test_usage_errors(self):
        cases = [
            (["dump", "--database", "x"], 'gen3db: give --output FILE (or - for standard output)\n'),
            (["dump", "--output", "x"], 'gen3db: nothing to dump: give --database NAME\n'),
            (["dump", "--output", "-", "--database", "x", "--json"],
             'gen3db: --json needs --output FILE: standard output holds the snapshot\n'),
            (["dump", "--output", "x", "--database", "x", "--chunk-size", "1K"],
             'gen3db: --chunk-size must be a size from 64K to 1G (bytes, or with K, M, G), not "1K"\n'),
            (["dump", "--output", "x", "--database", "a/b"],
             'gen3db: database name "a/b" cannot be a snapshot member name ("/" or "..")\n'),
            (["dump", "--output", "x", "--database", "x", "--jobs", "0"],
             'gen3db: --jobs must be a whole number from 1 to 64, not "0"\n'),
        ]
        for args, msg in cases:
            r = gen3db(*args, cwd=TMP)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stderr.decode(), msg)
            self.assertFalse(os.path.exists(os.path.join(TMP, "x")))

    def test_missing_database_leaves_nothing(self):
        path = os.path.join(TMP, "missing.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "second", "--database", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.decode(),
                         'gen3db: could not connect to "127.0.0.1:%d": database "nope" does not exist\n' % PG.port)
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(path + ".partial"))

    def test_unreachable_exit_3(self):
        env = PG.env()
        env["PGPORT"] = str(pgcluster.free_port())
        path = os.path.join(TMP, "unreach.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "second", "--wait", "1", env=env)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("could not reach PostgreSQL at", r.stderr.decode())
        self.assertFalse(os.path.exists(path + ".partial"))

    def _kill_when(self, condition_sql, timeout=30):
        """Terminates the first gen3db backend matching the condition."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid = PG.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'gen3db dump' "
                          "AND %s LIMIT 1" % condition_sql)
            if pid:
                PG.psql("SELECT pg_terminate_backend(%s)" % pid)
                return
            time.sleep(0.02)
        self.fail("no gen3db backend matched %s" % condition_sql)

    def test_killed_leader_leaves_nothing(self):
        path = os.path.join(TMP, "killed.tar.zst")
        locker = subprocess.Popen(["psql", "-X", "-q", "-d", "awk", "-c",
                                   "BEGIN; LOCK TABLE other.things IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);"],
                                  env=PG.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            p = subprocess.Popen([BIN, "dump", "--output", path, "--database", "awk"], env=PG.env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self._kill_when("wait_event_type = 'Lock'")
            _, err = p.communicate(timeout=60)
        finally:
            locker.terminate()
            locker.wait()
        self.assertEqual(p.returncode, 1)
        self.assertEqual(err.decode(),
                         'gen3db: could not lock table "other.things" of database "awk": '
                         'terminating connection due to administrator command\n')
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(path + ".partial"))

    def test_killed_worker_leaves_nothing(self):
        PG.psql("DROP DATABASE IF EXISTS slow")
        PG.psql("CREATE DATABASE slow")
        PG.psql("CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v "
                "FROM generate_series(1, 600000) g", db="slow")
        path = os.path.join(TMP, "killed2.tar.zst")
        # level 19 makes the writer slow, so the bounded pool holds the COPY open
        p = subprocess.Popen([BIN, "dump", "--output", path, "--database", "slow", "--level", "19",
                              "--jobs", "1", "--chunk-size", "64K"], env=PG.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._kill_when("query LIKE 'COPY%'")
        _, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, 1)
        # a backend killed while blocked sending COPY data cannot say why
        self.assertRegex(err.decode(),
                         r'^gen3db: could not dump table "public\.bulk" of database "slow": '
                         r'(terminating connection due to administrator command|'
                         r'server closed the connection unexpectedly)\n$')
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(path + ".partial"))


class DumpSignals(unittest.TestCase):
    def test_sigterm_removes_partial_output(self):
        PG.psql("DROP DATABASE IF EXISTS sig")
        PG.psql("CREATE DATABASE sig")
        PG.psql("CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || md5((g * 3)::text) AS v "
                "FROM generate_series(1, 400000) g", db="sig")
        path = os.path.join(TMP, "sig.tar.zst")
        p = subprocess.Popen([BIN, "dump", "--output", path, "--database", "sig", "--level", "19",
                              "--chunk-size", "64K"], env=PG.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while not os.path.exists(path + ".partial") and time.time() < deadline:
            time.sleep(0.01)
        self.assertTrue(os.path.exists(path + ".partial"))
        time.sleep(0.2)
        p.terminate()
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, -15)
        self.assertFalse(os.path.exists(path + ".partial"))
        self.assertFalse(os.path.exists(path))

    def test_hyphenated_database_name(self):
        PG.psql('DROP DATABASE IF EXISTS "fence-gen3"')
        PG.psql('CREATE DATABASE "fence-gen3"')
        PG.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('x')", db="fence-gen3")
        path = os.path.join(TMP, "hy.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "fence-gen3")
        self.assertEqual(r.returncode, 0, r.stderr)
        names = dict(read_snapshot(path))
        self.assertIn("CREATE TABLE public.t", names["pg/fence-gen3/pre-data.sql"].decode())
        self.assertEqual(names["pg/fence-gen3/data/000001.copy"], b"x\n")


class DumpConsistency(unittest.TestCase):
    def test_concurrent_inserts(self):
        """Each transaction inserts the same id into two tables (and a big
        third table keeps the dump busy): a consistent snapshot has the same
        ids in both, with no gaps, and none inserted after the snapshot."""
        PG.psql("DROP DATABASE IF EXISTS live")
        PG.psql("CREATE DATABASE live")
        PG.psql("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);"
                "CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 8) AS v "
                "FROM generate_series(1, 150000) g;"
                "INSERT INTO a SELECT generate_series(1, 100); INSERT INTO b SELECT generate_series(1, 100);",
                db="live")
        stop = threading.Event()
        script = os.path.join(TMP, "inserts.sql")
        with open(script, "w") as f:
            for i in range(101, 40101):
                f.write("BEGIN; INSERT INTO a VALUES (%d); INSERT INTO b VALUES (%d); COMMIT;\n" % (i, i))
        inserter = subprocess.Popen(["psql", "-X", "-q", "-d", "live", "-f", script], env=PG.env(),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def wait_started():
            while not stop.is_set() and int(PG.psql("SELECT count(*) FROM a", db="live")) < 300:
                time.sleep(0.01)
        wait_started()
        path = os.path.join(TMP, "live.tar.zst")
        r = gen3db("dump", "--output", path, "--database", "live", "--jobs", "2", "--chunk-size", "64K")
        after = int(PG.psql("SELECT count(*) FROM a", db="live"))
        inserter.terminate()
        inserter.wait()
        stop.set()
        self.assertEqual(r.returncode, 0, r.stderr)
        members = read_snapshot(path)
        ids = {"a": [], "b": []}
        prev = None
        for name, data in members:
            if name.endswith(".json") and "/data/" in name:
                prev = json.loads(data)
            elif name.endswith(".copy") and prev["table"] in ids:
                ids[prev["table"]] += [int(x) for x in data.split()]
        self.assertEqual(sorted(ids["a"]), sorted(ids["b"]))
        n = len(ids["a"])
        self.assertEqual(sorted(ids["a"]), list(range(1, n + 1)))
        self.assertGreater(n, 300)
        self.assertLess(n, after, "rows inserted after the snapshot must not appear")


if __name__ == "__main__":
    unittest.main()
