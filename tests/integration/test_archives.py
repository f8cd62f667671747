"""gen3db restore and inspect of pg_dump's archive formats (-Fc custom, -Fd
directory, -Ft tar), read through pg_restore: a database with partitions,
triggers, a domain, a materialized view, sequences, foreign keys and a large
object restores equal to the source (pg_dump of source and target compared)
from each format, from standard input, over http and compressed; a truncated archive
fails with the target untouched; a missing or too old pg_restore is named
with the version needed."""
import functools
import gzip
import http.server
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import g3test
from g3test import run

SERVICE_PASS = g3test.secret("svc-pass-Arch7")

SOURCE_SQL = r'''
CREATE SCHEMA app;
CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
CREATE TABLE app.customers (id serial PRIMARY KEY, name text NOT NULL,
    credit app.positive DEFAULT 1);
CREATE TABLE app.events (id bigint NOT NULL, at date NOT NULL,
    customer_id int REFERENCES app.customers(id), note text,
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.events_2023 PARTITION OF app.events
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE app.events_2024 PARTITION OF app.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_customer_idx ON app.events (customer_id);
CREATE SEQUENCE app.ticket_seq START 1000;
CREATE TABLE app.audit (id bigserial PRIMARY KEY, msg text, stamped timestamptz);
CREATE FUNCTION app.stamp() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.stamped := '2024-05-01 00:00:00+00'; RETURN NEW; END $$;
CREATE TRIGGER audit_stamp BEFORE INSERT ON app.audit
    FOR EACH ROW EXECUTE FUNCTION app.stamp();
INSERT INTO app.customers (name, credit) SELECT 'customer ' || g, g FROM generate_series(1, 40) g;
INSERT INTO app.events SELECT g, DATE '2023-06-01' + (g % 400), 1 + g % 40, 'e' || g
    FROM generate_series(1, 3000) g;
INSERT INTO app.audit (msg) SELECT 'm' || g FROM generate_series(1, 500) g;
SELECT nextval('app.ticket_seq') FROM generate_series(1, 7);
CREATE MATERIALIZED VIEW app.events_per_customer AS
    SELECT customer_id, count(*) AS n FROM app.events GROUP BY 1;
CREATE UNIQUE INDEX events_per_customer_idx ON app.events_per_customer (customer_id);
COMMENT ON TABLE app.events IS 'partitioned by year';
SELECT lo_from_bytea(0, '\x6c61726765206f626a656374');
'''

ARCHIVE_FORMATS = {"c": "custom", "d": "directory", "t": "tar"}


def normalized(text):
    """pg_dump output as a sorted list of statements and COPY data lines,
    without comments, the \\restrict keys, the large objects' OIDs (the
    target allocates its own) and the extensions provisioning adds."""
    out, cur, copying = [], [], False
    for line in text.splitlines():
        if copying:
            copying = line != "\\."
            out.append(line)
            continue
        if not cur and (not line.strip() or line.startswith("--") or
                        line.startswith("\\restrict") or line.startswith("\\unrestrict")):
            continue
        cur.append(line)
        if line.endswith(";"):
            stmt = "\n".join(cur)
            cur = []
            copying = stmt.startswith("COPY ") and stmt.endswith("FROM stdin;")
            if " EXTENSION " not in stmt:
                out.append(stmt)
    return sorted(out)


def pg_major(program):
    out = subprocess.run([program, "--version"], capture_output=True, text=True,
                         check=True).stdout
    return int(re.search(r"\) (\d+)", out).group(1))


class Archives(g3test.PgTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="gen3db-archive-test-")
        cls.pg_dump = os.path.join(cls.pg.bin, "pg_dump")
        cls.pg.psql("CREATE DATABASE src")
        cls.pg.psql(SOURCE_SQL, db="src")
        cls.archives = {}
        for flag, name in ARCHIVE_FORMATS.items():
            path = os.path.join(cls.tmp, "src." + name)
            subprocess.run([cls.pg_dump, "-F" + flag, "-d", "src", "-f", path],
                           env=cls.pg.env(), check=True)
            cls.archives[name] = path
        # the archive version pg_dump writes and the pg_restore it needs
        # (pg_backup_archiver.h: 1.14 from 12, 1.15 from 16, 1.16 from 17)
        major = pg_major(cls.pg_dump)
        cls.need = 17 if major >= 17 else 16 if major == 16 else 12
        cls.version = {17: "1.16", 16: "1.15", 12: "1.14"}[cls.need]
        cls.want = cls.dump("src")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def dump(cls, db):
        r = subprocess.run([cls.pg_dump, "--no-owner", "--no-privileges", "-d", db],
                           env=cls.pg.env(), capture_output=True, text=True, check=True)
        return normalized(re.sub(r"lo_create\('\d+'\)|LARGE OBJECT \d+|lo_open\('\d+'",
                                 "LO", r.stdout))

    def restore(self, source, db, *args, env=None, input=None, text=True):
        e = self.env(SERVICE_PGPASS=SERVICE_PASS)
        e.update(env or {})
        return run(["restore", source, "--database", db, "--quiet"] + list(args), env=e,
                   input=input, text=text)

    def exists(self, db):
        return self.pg.psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % db) == "1"

    def owners(self, db):
        out = self.pg.psql("SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'",
                           db=db)
        return sorted(x for x in out.split("\n") if x)

    def test_every_format_restores_equal(self):
        for name, path in self.archives.items():
            with self.subTest(format=name):
                db = "t_" + name
                r = self.restore(path, db, "--json", "--jobs", "3")
                self.assertExit(r, 0)
                rep = json.loads(r.out)
                self.assertEqual(rep["format"], "pg_dump-" + name)
                self.assertEqual(rep["databases"][0]["database"], db)
                self.assertEqual(self.dump(db), self.want)
                # loaded as the service role, as a plain dump is
                self.assertEqual(self.owners(db), [db])
                self.assertEqual(self.pg.psql("SELECT count(*) FROM app.events_2024", db=db),
                                 self.pg.psql("SELECT count(*) FROM app.events_2024", db="src"))
                # the materialized view was refreshed, the trigger and domain work
                self.assertEqual(self.pg.psql("SELECT count(*) FROM app.events_per_customer",
                                              db=db), "40")
                self.assertEqual(self.pg.psql("INSERT INTO app.audit (msg) VALUES ('x') "
                                              "RETURNING stamped = '2024-05-01 00:00:00+00'",
                                              db=db), "t")
                self.assertNotEqual(self.pg.psql("INSERT INTO app.customers (name, credit) "
                                              "VALUES ('x', 0)", db=db, check=False).returncode, 0)
                self.assertEqual(self.pg.psql("SELECT convert_from(lo_get(oid), 'UTF8') FROM "
                                              "pg_largeobject_metadata", db=db), "large object")
                self.assertFalse(self.exists(db + "__gen3db_restore"))

    def test_custom_from_stdin_and_compressed(self):
        with open(self.archives["custom"], "rb") as f:
            data = f.read()
        r = self.restore("-", "t_stdin", input=data, text=False)
        self.assertExit(r, 0)
        self.assertEqual(self.dump("t_stdin"), self.want)
        gz = os.path.join(self.tmp, "src.dump.gz")
        with gzip.open(gz, "wb") as g:
            g.write(data)
        r = self.restore(gz, "t_gz", "--json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["compression"], "gzip")
        self.assertEqual(self.dump("t_gz"), self.want)
        # pg_dump -Fc writing to a pipe (no data offsets in its table of contents)
        piped = subprocess.run([self.pg_dump, "-Fc", "-d", "src"], env=self.pg.env(),
                               capture_output=True, check=True).stdout
        r = self.restore("-", "t_piped", input=piped, text=False)
        self.assertExit(r, 0)
        self.assertEqual(self.dump("t_piped"), self.want)

    def test_custom_over_http(self):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=self.tmp)
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        url = "http://127.0.0.1:%d/src.custom" % srv.server_address[1]
        r = self.restore(url, "t_http", "--json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["format"], "pg_dump-custom")
        self.assertEqual(self.dump("t_http"), self.want)
        # a tar archive streams through pg_restore's standard input too
        r = self.restore(url.replace("src.custom", "src.tar"), "t_http_tar", "--json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["format"], "pg_dump-tar")
        self.assertEqual(self.dump("t_http_tar"), self.want)

    def test_table_filter(self):
        # --exclude-table-data and --table work on an archive as on a plain dump
        r = self.restore(self.archives["custom"], "t_filter", "--exclude-table-data", "app.audit")
        self.assertExit(r, 0)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM app.audit", db="t_filter"), "0")
        self.assertEqual(self.pg.psql("SELECT count(*) FROM app.customers", db="t_filter"), "40")

    def test_truncated_custom_archive(self):
        with open(self.archives["custom"], "rb") as f:
            data = f.read()
        cut = os.path.join(self.tmp, "cut.dump")
        with open(cut, "wb") as f:
            f.write(data[:len(data) * 2 // 3])
        r = self.restore(cut, "t_cut")
        self.assertExit(r, 1)
        self.assertRegex(r.err, 'gen3db: pg_restore could not read archive "%s": [^\n]+\n'
                         'hint: nothing was changed; an archive cut short or damaged fails so: '
                         'copy or download the whole archive again\n' % re.escape(cut))
        self.assertFalse(self.exists("t_cut"))
        self.assertFalse(self.exists("t_cut__gen3db_restore"))
        # --clean: the old database stays as it was
        self.assertExit(self.restore(self.archives["custom"], "t_cut_old"), 0)
        for source, data_in in ((cut, None), ("-", data[:len(data) // 2])):
            with self.subTest(source=source):
                r = self.restore(source, "t_cut_old", "--clean", input=data_in, text=False)
                self.assertExit(r, 1)
                self.assertIn(b"pg_restore could not read archive", r.err)
                self.assertEqual(self.dump("t_cut_old"), self.want)
                self.assertFalse(self.exists("t_cut_old__gen3db_restore"))

    def test_damaged_header(self):
        bad = os.path.join(self.tmp, "bad.dump")
        with open(bad, "wb") as f:
            f.write(b"PGDMP\x01\x0e")
        r = self.restore(bad, "t_bad")
        self.assertExit(r, 2)
        self.assertIn('gen3db: "%s" is a damaged pg_dump archive: its header is cut short\n'
                      % bad, r.err)
        self.assertFalse(self.exists("t_bad"))

    def fake_pg_restore(self, version):
        p = os.path.join(self.tmp, "fake-%s" % version, "pg_restore")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho 'pg_restore (PostgreSQL) %s'\n" % version)
        os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
        return p

    def test_pg_restore_too_old(self):
        old = self.fake_pg_restore("11.22")
        for name, path in self.archives.items():
            with self.subTest(format=name):
                r = self.restore(path, "t_old", env={"GEN3DB_PG_RESTORE": old})
                self.assertExit(r, 2)
                self.assertIn('is a pg_dump %s archive (format %s, PostgreSQL ' %
                              (name, self.version), r.err)
                self.assertIn('which needs pg_restore %d or newer; GEN3DB_PG_RESTORE "%s" is '
                              'version 11.22\n' % (self.need, old), r.err)
                self.assertIn("hint: install PostgreSQL %d's client tools (or newer), or set "
                              "GEN3DB_PG_RESTORE to its pg_restore\n" % self.need, r.err)
                self.assertFalse(self.exists("t_old"))

    def test_pg_restore_missing(self):
        missing = os.path.join(self.tmp, "no-such-dir", "pg_restore")
        r = self.restore(self.archives["custom"], "t_missing",
                         env={"GEN3DB_PG_RESTORE": missing})
        self.assertExit(r, 2)
        self.assertIn('gen3db: could not run GEN3DB_PG_RESTORE "%s"' % missing, r.err)
        self.assertIn("which needs pg_restore %d or newer" % self.need, r.err)
        self.assertFalse(self.exists("t_missing"))
        # a bare name is looked up on PATH
        r = self.restore(self.archives["custom"], "t_missing",
                         env={"GEN3DB_PG_RESTORE": "no-such-pg_restore"})
        self.assertExit(r, 2)
        self.assertIn('gen3db: no GEN3DB_PG_RESTORE "no-such-pg_restore" on PATH; ', r.err)
        self.assertFalse(self.exists("t_missing"))
        old = self.fake_pg_restore("10.1")
        r = self.restore(self.archives["custom"], "t_missing",
                         env={"GEN3DB_PG_RESTORE": "pg_restore",
                              "PATH": os.path.dirname(old) + ":" + os.environ["PATH"]})
        self.assertExit(r, 2)
        self.assertIn('GEN3DB_PG_RESTORE "%s" is version 10.1\n' % old, r.err)

    def test_newest_pg_restore_is_chosen(self):
        # a pg_restore on PATH newer than the others is the one that runs: a
        # wrapper that says 99.0, leaves a mark and runs the real one
        real = os.path.join(self.pg.bin, "pg_restore")
        d = os.path.join(self.tmp, "newest")
        os.makedirs(d, exist_ok=True)
        mark = os.path.join(self.tmp, "newest.ran")
        w = os.path.join(d, "pg_restore")
        with open(w, "w") as f:
            f.write('#!/bin/sh\nif [ "$1" = --version ]; then echo "pg_restore (PostgreSQL) '
                    '99.0"; exit 0; fi\ntouch "%s"\nexec "%s" "$@"\n' % (mark, real))
        os.chmod(w, 0o755)
        e = {"PATH": d + ":" + os.environ.get("PATH", "")}
        e_full = self.env(SERVICE_PGPASS=SERVICE_PASS)
        e_full.update(e)
        e_full.pop("GEN3DB_PG_RESTORE", None)
        r = run(["restore", self.archives["custom"], "--database", "t_newest", "--quiet"],
                env=e_full)
        self.assertExit(r, 0)
        self.assertTrue(os.path.exists(mark))
        self.assertEqual(self.dump("t_newest"), self.want)

    def test_pg_restore_killed(self):
        # a pg_restore that dies halfway: the restore fails, nothing is left
        real = os.path.join(self.pg.bin, "pg_restore")
        w = os.path.join(self.tmp, "dying", "pg_restore")
        os.makedirs(os.path.dirname(w), exist_ok=True)
        with open(w, "w") as f:
            f.write('#!/bin/sh\nif [ "$1" = --version ]; then exec "%s" --version; fi\n'
                    '"%s" "$@" | head -c 20000\nkill -9 $$\n' % (real, real))
        os.chmod(w, 0o755)
        r = self.restore(self.archives["custom"], "t_killed", env={"GEN3DB_PG_RESTORE": w})
        self.assertExit(r, 1)
        self.assertIn('gen3db: pg_restore ("%s") was killed by signal 9 while reading archive '
                      '"%s"\n' % (w, self.archives["custom"]), r.err)
        self.assertFalse(self.exists("t_killed"))
        self.assertFalse(self.exists("t_killed__gen3db_restore"))

    def test_sigterm_while_the_source_stalls(self):
        # standard input stops sending (and stays open) halfway through the
        # COPY data: SIGTERM still ends the restore at once, nothing left
        self.pg.psql("CREATE DATABASE stall_src")
        self.pg.psql("CREATE TABLE big AS SELECT g, md5(g::text) AS m "
                     "FROM generate_series(1, 300000) g", db="stall_src")
        data = subprocess.run([self.pg_dump, "-Fc", "-Z0", "-d", "stall_src"], env=self.pg.env(),
                              capture_output=True, check=True).stdout
        e = self.env(SERVICE_PGPASS=SERVICE_PASS)
        p = subprocess.Popen([g3test.BIN, "restore", "-", "--database", "t_stall", "--quiet"],
                             env=e, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        try:
            p.stdin.write(data[:len(data) // 2])
            p.stdin.flush()
            end = time.time() + 60
            while time.time() < end and self.pg.psql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                    "'t_stall__gen3db_restore' AND query LIKE 'COPY%'") == "0":
                time.sleep(0.1)
            time.sleep(0.5)
            t0 = time.time()
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=60)
            took = time.time() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()
        err = p.stderr.read().decode()
        p.stderr.close()
        self.assertEqual(code, 1, err)
        self.assertLess(took, 20, err)
        self.assertIn("gen3db: interrupted", err)
        self.assertFalse(self.exists("t_stall"))
        self.assertFalse(self.exists("t_stall__gen3db_restore"))

    def test_tar_from_stdin_and_compressed(self):
        with open(self.archives["tar"], "rb") as f:
            data = f.read()
        r = self.restore("-", "t_tar_stdin", "--json", input=data, text=False)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["format"], "pg_dump-tar")
        self.assertEqual(self.dump("t_tar_stdin"), self.want)
        # pg_restore does not read a compressed tar: refused before anything is touched
        gz = os.path.join(self.tmp, "src.tar.gz")
        with gzip.open(gz, "wb") as g:
            g.write(data)
        r = self.restore(gz, "t_tar_gz")
        self.assertExit(r, 2)
        self.assertIn('gen3db: "%s" is a compressed pg_dump tar archive, which pg_restore does '
                      'not read\n' % gz, r.err)
        self.assertFalse(self.exists("t_tar_gz"))
        # a tar cut short (on which pg_restore itself loops forever) fails,
        # the target untouched, the old one with --clean kept
        self.assertExit(self.restore(self.archives["tar"], "t_tar_old"), 0)
        cut_at = (len(data) // 2, len(data) - 1024, 512 * 3 + 100)
        for n in cut_at:
            cut = os.path.join(self.tmp, "cut%d.tar" % n)
            with open(cut, "wb") as f:
                f.write(data[:n])
            for source, db, extra, data_in in ((cut, "t_tar_cut", (), None),
                                               ("-", "t_tar_cut", (), data[:n]),
                                               (cut, "t_tar_old", ("--clean",), None)):
                with self.subTest(cut=n, source=source, target=db):
                    r = self.restore(source, db, *extra, input=data_in, text=False)
                    self.assertExit(r, 1)
                    name = cut if source == cut else "standard input"
                    self.assertIn(('gen3db: pg_dump tar archive "%s" is incomplete (truncated): '
                                   'it ends at byte %d\nhint: nothing was changed; copy or '
                                   'download the whole archive again\n' % (name, n)).encode(),
                                  r.err)
                    self.assertFalse(self.exists("t_tar_cut"))
                    self.assertFalse(self.exists(db + "__gen3db_restore"))
        self.assertEqual(self.dump("t_tar_old"), self.want)

    def test_inspect(self):
        for name, path in self.archives.items():
            with self.subTest(format=name):
                r = run(["inspect", path])
                self.assertExit(r, 0)
                self.assertRegex(r.out, r"^format:   pg_dump %s archive \(format %s, PostgreSQL "
                                 r"[0-9.]+, pg_dump [0-9.]+\)\n"
                                 % (name, re.escape(self.version)))
                self.assertIn("database: src\n", r.out)
                self.assertIn("read by:  pg_restore %d or newer" % self.need, r.out)
                j = json.loads(run(["inspect", path, "--json"]).out)
                self.assertEqual(j["format"], "pg_dump")
                self.assertEqual(j["archive_format"], name)
                self.assertEqual(j["archive_version"], self.version)
                self.assertEqual(j["database"], "src")
                self.assertEqual(j["pg_restore_needed"], self.need)
                self.assertEqual(j["compression"], "none" if name == "tar" else "gzip")
                r = run(["verify", path])
                self.assertExit(r, 2)
                self.assertIn('gen3db: "%s" is not a gen3db snapshot: it is a pg_dump %s archive'
                              % (path, name), r.err)
        with open(self.archives["custom"], "rb") as f:
            r = run(["inspect", "-"], input=f.read(), text=False)
        self.assertExit(r, 0)
        self.assertIn(b"format:   pg_dump custom archive", r.out)


if __name__ == "__main__":
    unittest.main()
