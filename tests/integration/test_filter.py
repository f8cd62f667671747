"""gen3db restore --table / --exclude-table / --exclude-table-data against a
throwaway PostgreSQL: a database with several schemas, mixed-case quoted
names, foreign keys, a trigger and an audit table is dumped whole (plain
pg_dump and gen3db dump), restored with a filter, and the target's pg_dump
is compared with pg_dump of the source given the same filter (up to order)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import g3test
from g3test import run

SERVICE_PASS = g3test.secret("svc-pass-Flt42")

SOURCE_SQL = r'''
CREATE SCHEMA app;
CREATE SCHEMA "Audit";
CREATE TABLE public.users (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE app."Orders" (id serial PRIMARY KEY,
    user_id int NOT NULL REFERENCES public.users(id), total numeric);
CREATE INDEX "Orders_total_idx" ON app."Orders" (total);
CREATE TABLE public.audit_log (id bigserial PRIMARY KEY,
    user_id int REFERENCES public.users(id), msg text);
CREATE INDEX audit_log_user_idx ON public.audit_log (user_id);
COMMENT ON TABLE public.audit_log IS 'who did what';
CREATE FUNCTION public.audit_stamp() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.msg := coalesce(NEW.msg, '-'); RETURN NEW; END $$;
CREATE TRIGGER audit_stamp BEFORE INSERT ON public.audit_log
    FOR EACH ROW EXECUTE FUNCTION public.audit_stamp();
CREATE TABLE "Audit"."Events" (id int PRIMARY KEY, payload text);
CREATE TABLE app.big_blob (id int PRIMARY KEY, data text);
CREATE TABLE app.tags (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
INSERT INTO app.tags (label) SELECT 'tag ' || g FROM generate_series(1, 7) g;
CREATE VIEW app.order_totals AS SELECT user_id, sum(total) AS total FROM app."Orders" GROUP BY 1;
INSERT INTO public.users (name) SELECT 'user ' || g FROM generate_series(1, 50) g;
INSERT INTO app."Orders" (user_id, total) SELECT 1 + g % 50, g * 1.5 FROM generate_series(1, 300) g;
INSERT INTO public.audit_log (user_id, msg) SELECT 1 + g % 50, 'event ' || g FROM generate_series(1, 2000) g;
INSERT INTO "Audit"."Events" SELECT g, 'p' || g FROM generate_series(1, 40) g;
INSERT INTO app.big_blob SELECT g, repeat('x', 1000) FROM generate_series(1, 100) g;
'''


def normalized(text):
    """pg_dump output as a sorted list of statements and COPY data lines,
    without comments, the random \\restrict keys and the extensions the
    target's provisioning adds (as 'gen3db create' does)."""
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


class Filter(g3test.PgTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="gen3db-filter-test-")
        cls.sql("CREATE DATABASE src")
        cls.sql(SOURCE_SQL, db="src")
        cls.dump = os.path.join(cls.tmp, "src.sql")
        subprocess.run(["pg_dump", "-d", "src", "-f", cls.dump], env=cls.pg.env(), check=True)
        cls.snap = os.path.join(cls.tmp, "src.tar.zst")
        r = run(["dump", "--output", cls.snap, "--database", "src", "--quiet"], env=cls.pg.env())
        assert r.code == 0, repr(r)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def sql(cls, q, db="postgres"):
        return cls.pg.psql(q, db=db)

    def pg_dump(self, db, *args):
        r = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "-d", db] + list(args),
                           env=self.pg.env(), capture_output=True, text=True, check=True)
        return r.stdout

    def restore(self, source, db, *args, quiet=True):
        return run(["restore", source, "--database", db] + (["--quiet"] if quiet else []) +
                   list(args),
                   env=self.env(SERVICE_PGPASS=SERVICE_PASS))

    def tables(self, db):
        out = self.sql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE "
                       "schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", db=db)
        return [t for t in out.split("\n") if t]

    def assertSameAsPgDump(self, db, *filter_args, target_args=()):
        """The target's pg_dump equals pg_dump of the source with the filter."""
        got = normalized(self.pg_dump(db, *target_args))
        want = normalized(self.pg_dump("src", *filter_args))
        self.assertEqual(got, want)

    def test_exclude_table_plain(self):
        r = self.restore(self.dump, "t_excl_plain", "--exclude-table", "audit*", "--json",
                         quiet=False)
        self.assertEqual(r.code, 0, repr(r))
        self.assertSameAsPgDump("t_excl_plain", "--exclude-table", "audit*")
        self.assertNotIn("public.audit_log", self.tables("t_excl_plain"))
        s = json.loads(r.out)["databases"][0]
        # pg_dump's -T matches sequences too: audit* takes audit_log_id_seq
        self.assertEqual(s["excluded_tables"], ["public.audit_log", "public.audit_log_id_seq"])
        self.assertIn('gen3db: left out (--table, --exclude-table) of database "t_excl_plain" '
                      '(2): "public.audit_log", "public.audit_log_id_seq"\n', r.err)
        self.assertEqual(s["excluded_table_data"], [])
        self.assertEqual(s["dropped_foreign_keys"], 0)
        self.assertNotIn("public.audit_log", [t["name"] for t in s["tables"]])

    def test_exclude_table_snapshot(self):
        r = self.restore(self.snap, "t_excl_snap", "--exclude-table", "public.audit_log",
                         "--exclude-table", '"Audit"."Events"')
        self.assertEqual(r.code, 0, repr(r))
        self.assertSameAsPgDump("t_excl_snap", "--exclude-table", "public.audit_log",
                                "--exclude-table", '"Audit"."Events"')

    def test_exclude_table_data_plain_and_snapshot(self):
        filt = ["--exclude-table-data", "app.big*", "--exclude-table-data", '"Audit".*']
        for source, db in ((self.dump, "t_nodata_plain"), (self.snap, "t_nodata_snap")):
            r = self.restore(source, db, "--json", *filt)
            self.assertEqual(r.code, 0, repr(r))
            # the target's empty COPY blocks left aside, as pg_dump leaves the source's
            self.assertSameAsPgDump(db, *filt, target_args=filt)
            self.assertEqual(self.sql('SELECT count(*) FROM app.big_blob', db=db), "0")
            self.assertEqual(self.sql('SELECT count(*) FROM "Audit"."Events"', db=db), "0")
            self.assertEqual(self.sql('SELECT count(*) FROM app."Orders"', db=db), "300")
            s = json.loads(r.out)["databases"][0]
            self.assertEqual(sorted(s["excluded_table_data"]), ["Audit.Events", "app.big_blob"])
            self.assertEqual(s["excluded_tables"], [])

    def test_table_restricts(self):
        filt = ["--table", "app.*", "--table", "USERS"]
        for source, db in ((self.dump, "t_only_plain"), (self.snap, "t_only_snap")):
            r = self.restore(source, db, *filt)
            self.assertEqual(r.code, 0, repr(r))
            self.assertEqual(self.tables(db), ['app."Orders"', "app.big_blob", "app.tags",
                                               "public.users"])
            self.assertSameAsPgDump(db, *filt, target_args=filt)
            # the serial columns' sequences came with their tables
            self.assertEqual(self.sql("SELECT nextval('public.users_id_seq')", db=db), "51")
            self.assertEqual(self.sql("SELECT nextval('app.\"Orders_id_seq\"')", db=db), "301")
            # and an identity column's
            self.assertEqual(self.sql("SELECT nextval('app.tags_id_seq')", db=db), "8")
            self.assertEqual(self.sql("SELECT count(*) FROM pg_class WHERE relname = "
                                      "'audit_log_id_seq'", db=db), "0")

    def test_table_keeps_identity_sequence_value(self):
        # the pattern names the table only: its identity sequence's value follows
        r = self.restore(self.dump, "t_identity", "--table", "app.tags")
        self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(self.tables("t_identity"), ["app.tags"])
        self.assertSameAsPgDump("t_identity", "--table", "app.tags",
                                target_args=("--table", "app.tags"))
        self.assertEqual(self.sql("SELECT nextval('app.tags_id_seq')", db="t_identity"), "8")

    def test_excluded_referenced_table_drops_foreign_keys(self):
        r = self.restore(self.dump, "t_fk", "--exclude-table", "users", "--json")
        self.assertEqual(r.code, 0, repr(r))
        self.assertIn('gen3db: warning: foreign key "Orders_user_id_fkey" of table '
                      '"app.Orders" references table "public.users", which is left out: '
                      'the foreign key is not restored\n', r.err)
        self.assertEqual(json.loads(r.out)["databases"][0]["dropped_foreign_keys"], 2)
        self.assertEqual(self.sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f'",
                                  db="t_fk"), "0")
        # all else as pg_dump -T users, whose foreign keys to users could not load
        want = [x for x in normalized(self.pg_dump("src", "--exclude-table", "users"))
                if "FOREIGN KEY" not in x]
        self.assertEqual(normalized(self.pg_dump("t_fk")), want)

    def test_pattern_matching_nothing_is_an_error(self):
        cases = [
            (self.dump, ["--exclude-table", "Audit.Events"],
             'gen3db: --exclude-table "Audit.Events" matches no table\n'),
            (self.snap, ["--exclude-table", "Audit.Events"],
             'gen3db: --exclude-table "Audit.Events" matches no table\n'),
            (self.snap, ["--table", "users", "--exclude-table-data", "nope*"],
             'gen3db: --exclude-table-data "nope*" matches no table\n'),
            (self.dump, ["--table", "a.b.c"],
             'gen3db: --table: improper qualified name (too many dotted names): "a.b.c"\n'),
        ]
        for source, args, msg in cases:
            r = self.restore(source, "t_nomatch", *args)
            self.assertEqual(r.code, 2, repr(r))
            self.assertIn(msg, r.err)
            self.assertEqual(self.sql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                      "'%t_nomatch%'"), "0")

    def test_dump_exclude_table_and_data(self):
        path = os.path.join(self.tmp, "filtered.tar.zst")
        filt = ["--exclude-table", "audit*", "--exclude-table-data", "app.big*"]
        r = run(["dump", "--output", path, "--database", "src", "--json"] + filt,
                env=self.pg.env())
        self.assertEqual(r.code, 0, repr(r))
        s = json.loads(r.out)["databases"][0]
        self.assertEqual(s["excluded_tables"], ["public.audit_log"])
        self.assertEqual(s["excluded_table_data"], ["app.big_blob"])
        self.assertIn('gen3db: left out (--table, --exclude-table) of database "src" (1): '
                      '"public.audit_log"\n', r.err)
        self.assertNotIn("public.audit_log", [t["schema"] + "." + t["name"] for t in s["tables"]])
        r = run(["verify", path], env=self.pg.env())
        self.assertEqual(r.code, 0, repr(r))
        r = self.restore(path, "t_dump_excl")
        self.assertEqual(r.code, 0, repr(r))
        self.assertSameAsPgDump("t_dump_excl", *filt,
                                target_args=("--exclude-table-data", "app.big*"))
        self.assertEqual(self.sql("SELECT count(*) FROM app.big_blob", db="t_dump_excl"), "0")
        self.assertNotIn("public.audit_log", self.tables("t_dump_excl"))

    def test_dump_table(self):
        path = os.path.join(self.tmp, "users.tar.zst")
        r = run(["dump", "--output", path, "--database", "src", "--quiet", "--table", "Users"],
                env=self.pg.env())
        self.assertEqual(r.code, 0, repr(r))
        r = self.restore(path, "t_dump_only")
        self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(self.tables("t_dump_only"), ["public.users"])
        self.assertSameAsPgDump("t_dump_only", "--table", "users")
        self.assertEqual(self.sql("SELECT nextval('public.users_id_seq')", db="t_dump_only"), "51")

    def test_dump_pattern_matching_nothing(self):
        path = os.path.join(self.tmp, "none.tar.zst")
        r = run(["dump", "--output", path, "--database", "src", "--exclude-table",
                 '"Users"'], env=self.pg.env())
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn('gen3db: --exclude-table ""Users"" matches no table\n', r.err)
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(path + ".partial"))

    def test_whole_environment_refused(self):
        d = os.path.join(self.tmp, "env", "pgdumps")
        os.makedirs(d, exist_ok=True)
        shutil.copy(self.dump, os.path.join(d, "fence.sql"))
        r = run(["restore", os.path.dirname(d) + "/", "--release", "x", "--exclude-table", "t"],
                env=self.env(SERVICE_PGPASS=SERVICE_PASS))
        self.assertEqual(r.code, 2, repr(r))
        self.assertEqual(r.err, "gen3db: --table, --exclude-table and --exclude-table-data "
                         "apply to a snapshot or one dump\n")


if __name__ == "__main__":
    unittest.main()
