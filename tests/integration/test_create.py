"""gen3db create against a real PostgreSQL (scram-sha-256 over TCP)."""
import json
import os
import base64
import stat
import time

from g3test import PgTestCase, run, secret, pgcluster, tempdir


def lit(s):
    return "'" + s.replace("'", "''") + "'"


class CreateTest(PgTestCase):
    def setUp(self):
        self.tmp = tempdir(self, "gen3db-create-")

    def can_login(self, db, user, password):
        r = self.pg.psql("SELECT current_user", db=db, user=user, password=password, check=False)
        return r.returncode == 0 and r.stdout.strip() == user

    def pwfile(self, password, name="pw"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(password + "\n")
        return path

    def read_secrets(self, path):
        """Parses the Secret manifests gen3db writes: {name: {key: value}}."""
        out, cur, in_data = {}, None, False
        with open(path) as f:
            lines = f.readlines()
        for line in lines:
            s = line.strip().lstrip("- ").strip()
            if s.startswith("name:"):
                cur = out.setdefault(s.split(":", 1)[1].strip().strip('"'), {})
                in_data = False
            elif s.split(":")[0] in ("apiVersion", "kind", "metadata", "type"):
                in_data = False
            elif s == "data:":
                in_data = True
            elif in_data and cur is not None and ":" in s:
                k, v = s.split(":", 1)
                cur[k.strip()] = base64.b64decode(v.strip()).decode()
        return out

    def test_one_service_from_helm_environment(self):
        pw = secret("Svc-pw-1 with 'quote\" and \\ back")
        env = self.env(SERVICE_PGDB="fence_gen3", SERVICE_PGUSER="fence_gen3", SERVICE_PGPASS=pw)
        r = run(["create", "--wait", "5"], env=env)
        self.assertExit(r, 0)
        self.assertIn('gen3db: fence_gen3: created role "fence_gen3", database "fence_gen3", '
                      'extensions ltree; login verified', r.err)
        self.assertIn('gen3db: warning: fence_gen3: extension "vector" is not available on the '
                      'server; install the package postgresql-15-pgvector on the database server',
                      r.err)
        self.assertEqual(r.out, "")
        self.assertTrue(self.can_login("fence_gen3", "fence_gen3", pw))
        self.assertEqual(self.sql("SELECT pg_get_userbyid(datdba) FROM pg_database "
                                  "WHERE datname='fence_gen3'"), "fence_gen3")
        self.assertEqual(self.sql("SELECT nspowner::regrole FROM pg_namespace WHERE "
                                  "nspname='public'", db="fence_gen3"), "fence_gen3")
        self.assertEqual(self.sql("SELECT extname FROM pg_extension WHERE extname='ltree'",
                                  db="fence_gen3"), "ltree")
        self.assertEqual(self.sql("SELECT rolcanlogin FROM pg_roles WHERE rolname='fence_gen3'"),
                         "t")
        # the password reached the server as a SCRAM verifier
        self.assertTrue(self.sql("SELECT rolpassword FROM pg_authid WHERE rolname='fence_gen3'")
                        .startswith("SCRAM-SHA-256$"))
        self.assertIn("fence_gen3=CTc/fence_gen3",
                      self.sql("SELECT datacl::text FROM pg_database WHERE datname='fence_gen3'"))
        self.assertEqual(self.sql("SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n "
                                  "ON n.oid=d.defaclnamespace WHERE n.nspname='public' AND "
                                  "d.defaclrole='fence_gen3'::regrole", db="fence_gen3"), "2")
        # idempotent: a second run changes nothing and says so
        r = run(["create", "--wait", "5"], env=env)
        self.assertExit(r, 0)
        self.assertIn('gen3db: fence_gen3: already present (database "fence_gen3", role '
                      '"fence_gen3"); login verified', r.err)

    def test_many_services_generate_passwords_and_secrets(self):
        out = os.path.join(self.tmp, "secrets.yaml")
        args = ["create", "--service", "indexd", "--service", "metadata-service",
                "--release", "rel", "--secret-out", out, "--host-for-secret", "postgres-svc"]
        r = run(args, env=self.env())
        self.assertExit(r, 0)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            text = f.read()
        self.assertTrue(text.startswith("apiVersion: v1\nkind: List\nitems:\n"), text)
        secrets = self.read_secrets(out)
        self.assertEqual(sorted(secrets), ["indexd-dbcreds", "metadata-service-dbcreds"])
        s = secrets["metadata-service-dbcreds"]
        secret(s["password"])
        secret(secrets["indexd-dbcreds"]["password"])
        self.assertEqual(s["database"], "metadata-service_rel")
        self.assertEqual(s["username"], "metadata-service_rel")
        self.assertEqual(s["host"], "postgres-svc")
        self.assertEqual(s["port"], str(self.pg.port))
        self.assertEqual(s["dbcreated"], "true")
        self.assertEqual(len(s["password"]), 32)
        self.assertTrue(s["password"].isalnum())
        self.assertNotEqual(s["password"], secrets["indexd-dbcreds"]["password"])
        self.assertTrue(self.can_login("metadata-service_rel", "metadata-service_rel",
                                       s["password"]))
        # re-running with the same --secret-out keeps the recorded passwords
        r = run(args, env=self.env())
        self.assertExit(r, 0)
        self.assertIn('gen3db: indexd: already present', r.err)
        self.assertEqual(self.read_secrets(out), secrets)

    def test_single_secret_is_not_a_list(self):
        r = run(["create", "--service", "peregrine", "--release", "one", "--secret-out", "-"],
                env=self.env())
        self.assertExit(r, 0)
        self.assertTrue(r.out.startswith("apiVersion: v1\nkind: Secret\nmetadata:\n"
                                         "  name: \"peregrine-dbcreds\"\n"), r.out)

    def test_config_file(self):
        pw = secret("config-file-password")
        cfg = os.path.join(self.tmp, "gen3db.json")
        with open(cfg, "w") as f:
            json.dump({"release": "cfg", "services": [
                {"name": "arborist", "password_file": self.pwfile(pw),
                 "extensions": ["ltree"]},
                {"name": "sheepdog", "database": "sheep_db", "username": "sheep_user",
                 "password_file": self.pwfile(pw, "pw2")}]}, f)
        r = run(["create", "--config", cfg, "--extension", "ltree"], env=self.env())
        self.assertExit(r, 0)
        self.assertTrue(self.can_login("arborist_cfg", "arborist_cfg", pw))
        self.assertTrue(self.can_login("sheep_db", "sheep_user", pw))
        self.assertNotIn("vector", r.err)

    def test_unreachable_server_exits_3_naming_host_and_port(self):
        port = pgcluster.free_port()
        env = self.env(PGPORT=str(port), SERVICE_PGDB="x", SERVICE_PGUSER="x",
                       SERVICE_PGPASS=secret("unreachable-pw"))
        t0 = time.monotonic()
        r = run(["create", "--wait", "1"], env=env)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertExit(r, 3)
        self.assertEqual(r.err,
                         'gen3db: could not reach PostgreSQL at "127.0.0.1:%d" within 1 second: '
                         'Connection refused\nhint: check the host and port, or wait longer '
                         'with --wait\n' % port)

    def test_wait_lasts_the_whole_budget(self):
        """--wait 3 tries until 3 seconds passed (the last try at the deadline),
        not until the next backoff would pass it (about 1.75 s)."""
        port = pgcluster.free_port()
        env = self.env(PGPORT=str(port), SERVICE_PGDB="x", SERVICE_PGUSER="x",
                       SERVICE_PGPASS=secret("unreachable-pw"))
        t0 = time.monotonic()
        r = run(["create", "--wait", "3"], env=env)
        elapsed = time.monotonic() - t0
        self.assertExit(r, 3)
        self.assertGreaterEqual(elapsed, 3.0)
        self.assertLess(elapsed, 8.0)
        self.assertIn('could not reach PostgreSQL at "127.0.0.1:%d" within 3 seconds: '
                      'Connection refused\n' % port, r.err)

    def test_wrong_master_password(self):
        env = self.env(PGPASSWORD=secret("not-the-master-password"), SERVICE_PGDB="x",
                       SERVICE_PGUSER="x", SERVICE_PGPASS=secret("wrong-master-svc"))
        r = run(["create", "--wait", "5"], env=env)
        self.assertExit(r, 1)
        self.assertEqual(r.err, 'gen3db: could not connect to "127.0.0.1:%d": password '
                         'authentication failed for user "postgres"\n' % self.pg.port)

    def test_existing_role_with_another_password_changes_nothing(self):
        self.sql("CREATE ROLE other_gen3 LOGIN PASSWORD %s" % lit(secret("the-real-one")))
        env = self.env(SERVICE_PGDB="other_gen3", SERVICE_PGUSER="other_gen3",
                       SERVICE_PGPASS=secret("a-different-one"))
        r = run(["create"], env=env)
        self.assertExit(r, 1)
        self.assertEqual(r.err, 'gen3db: other_gen3: failed: role "other_gen3" exists with a '
                         'different password\nhint: give its password (SERVICE_PGPASS or '
                         '--password-file), or set a new one with --reset-password\n')
        self.assertEqual(self.sql("SELECT count(*) FROM pg_database WHERE datname='other_gen3'"),
                         "0")
        self.assertTrue(self.can_login("postgres", "other_gen3", "the-real-one"))
        r = run(["create", "--reset-password"], env=env)
        self.assertExit(r, 0)
        self.assertIn('created password of role "other_gen3", database "other_gen3"', r.err)
        self.assertTrue(self.can_login("other_gen3", "other_gen3", "a-different-one"))

    def test_hostile_names_are_created_exactly(self):
        pw = secret("hostile-pw")
        for name in ['we"ird; DROP TABLE x; --', "sp ace's", "ünï-cødé_数据", "Mixed-Case"]:
            r = run(["create", "--database", name, "--username", name, "--password-file",
                     self.pwfile(pw), "--extension", "ltree"], env=self.env())
            self.assertExit(r, 0)
            self.assertEqual(self.sql("SELECT datname FROM pg_database WHERE datname=%s"
                                      % lit(name)), name)
            self.assertEqual(self.sql("SELECT rolname FROM pg_roles WHERE rolname=%s"
                                      % lit(name)), name)
            self.assertTrue(self.can_login(name, name, pw))

    def test_names_over_63_bytes_are_refused(self):
        name = "d" * 64
        r = run(["create", "--database", name, "--username", "u", "--password-file",
                 self.pwfile(secret("long-name-pw"))], env=self.env())
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: database name "%s" is 64 bytes long; PostgreSQL '
                         'allows at most 63\n' % name)
        # multibyte: 21 three-byte characters and "_x" are 65 bytes
        r = run(["create", "--service", "数" * 21, "--release", "x", "--dry-run"],
                env=self.env())
        self.assertExit(r, 2)
        self.assertIn("bytes long; PostgreSQL allows at most 63", r.err)
        self.assertEqual(self.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'ddd%'"),
                         "0")

    def test_control_characters_are_refused(self):
        r = run(["create", "--database", "a\nb", "--username", "u", "--dry-run"],
                env=self.env())
        self.assertExit(r, 2)
        self.assertIn("database name holds a control character (byte 0x0a)", r.err)

    def test_non_superuser_master(self):
        mpw = secret("manager-pw")
        self.sql("CREATE ROLE manager LOGIN CREATEDB CREATEROLE PASSWORD %s" % lit(mpw))
        pw = secret("managed-svc-pw")
        env = self.env(PGUSER="manager", PGPASSWORD=mpw, SERVICE_PGDB="managed_gen3",
                       SERVICE_PGUSER="managed_gen3", SERVICE_PGPASS=pw)
        r = run(["create"], env=env)
        self.assertExit(r, 0)
        self.assertIn("login verified", r.err)
        self.assertEqual(self.sql("SELECT nspowner::regrole FROM pg_namespace WHERE "
                                  "nspname='public'", db="managed_gen3"), "managed_gen3")
        self.assertTrue(self.can_login("managed_gen3", "managed_gen3", pw))
        r = run(["create"], env=env)
        self.assertExit(r, 0)
        self.assertIn("already present", r.err)

    def test_dry_run_prints_sql_masked_and_changes_nothing(self):
        pw = secret("dry-run-password")
        env = self.env(SERVICE_PGDB="dry_gen3", SERVICE_PGUSER="dry_gen3", SERVICE_PGPASS=pw)
        r = run(["create", "--dry-run"], env=env)
        self.assertExit(r, 0)
        self.assertEqual(r.out.splitlines()[:4], [
            "\\connect postgres",
            'CREATE ROLE "dry_gen3" LOGIN PASSWORD \'********\';',
            'CREATE DATABASE "dry_gen3" OWNER "dry_gen3";',
            'GRANT ALL ON DATABASE "dry_gen3" TO "dry_gen3";'])
        self.assertIn('\\connect dry_gen3\nALTER SCHEMA public OWNER TO "dry_gen3";\n', r.out)
        self.assertIn('CREATE EXTENSION IF NOT EXISTS "ltree";', r.out)
        self.assertNotIn("SCRAM", r.out)
        self.assertEqual(self.sql("SELECT count(*) FROM pg_roles WHERE rolname='dry_gen3'"), "0")

    def test_require_extension_fails_on_missing_extension(self):
        env = self.env(SERVICE_PGDB="req_gen3", SERVICE_PGUSER="req_gen3",
                       SERVICE_PGPASS=secret("req-pw"))
        r = run(["create", "--require-extension"], env=env)
        self.assertExit(r, 1)
        self.assertIn('gen3db: req_gen3: failed: extension "vector" is not available on the '
                      'server\nhint: install the package postgresql-15-pgvector on the database '
                      'server\n', r.err)

    def test_one_failure_does_not_stop_the_others(self):
        self.sql("CREATE ROLE taken_x LOGIN PASSWORD %s" % lit(secret("taken-pw")))
        out = os.path.join(self.tmp, "s.yaml")
        r = run(["create", "--service", "taken", "--service", "fine", "--release", "x",
                 "--secret-out", out], env=self.env())
        self.assertExit(r, 1)
        self.assertIn('gen3db: taken: failed: role "taken_x" exists and no password was given '
                      'for it', r.err)
        self.assertIn("gen3db: fine: created", r.err)
        self.assertEqual(sorted(self.read_secrets(out)), ["fine-dbcreds"])
        for v in self.read_secrets(out)["fine-dbcreds"].values():
            secret(v) if len(v) == 32 else None

    def test_generated_password_needs_somewhere_to_go(self):
        r = run(["create", "--service", "lost", "--release", "x"], env=self.env())
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: service "lost" has no password and a generated one '
                         'would be lost\nhint: give --secret-out FILE to record generated '
                         'passwords, or the password with --password-file or SERVICE_PGPASS\n')

    def test_password_in_master_url_is_refused(self):
        r = run(["create", "--master", "postgresql://postgres:%s@127.0.0.1:%d/postgres"
                 % ("in-argv", self.pg.port), "--service", "a", "--dry-run"], env=self.env())
        self.assertExit(r, 2)
        self.assertIn("refusing a password in the connection string", r.err)
        self.assertNotIn("in-argv", r.err)

    def test_master_url_without_password(self):
        env = self.env(SERVICE_PGDB="url_gen3", SERVICE_PGUSER="url_gen3",
                       SERVICE_PGPASS=secret("url-pw"))
        env["PGHOST"] = "/nonexistent"
        r = run(["create", "--master", "postgresql://postgres@127.0.0.1:%d/postgres"
                 % self.pg.port, "--extension", "ltree"], env=env)
        self.assertExit(r, 0)

    def test_usage_errors(self):
        r = run(["create"], env=self.env())
        self.assertExit(r, 2)
        self.assertIn("nothing to create", r.err)
        r = run(["create", "--wait", "soon"], env=self.env())
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: --wait must be a whole number from 0 to 86400, not '
                         '"soon"\n')
        r = run(["create", "--service", "a", "--database", "b"], env=self.env())
        self.assertExit(r, 2)
        r = run(["create", "--service", "Bad_Name", "--secret-out", "-"], env=self.env())
        self.assertExit(r, 2)
        self.assertIn("cannot name a Kubernetes Secret", r.err)
        r = run(["create", "--password-file", "/nonexistent/pw", "--database", "a",
                 "--username", "a"], env=self.env())
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: could not open password file "/nonexistent/pw": '
                         'No such file or directory\n')

    SYSTEM_WHY = {
        "template0": "it is PostgreSQL's pristine template database",
        "template1": "it is the template every new database is copied from",
        "postgres": "it is PostgreSQL's default maintenance database",
    }

    def cluster_state(self):
        return (self.sql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
                self.sql("SELECT string_agg(rolname || ':' || coalesce(rolpassword, ''), ',' "
                         "ORDER BY rolname) FROM pg_authid"),
                self.sql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
                         db="template1"),
                self.sql("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"))

    def assertRefused(self, r, msg, before):
        self.assertExit(r, 2)
        self.assertEqual(r.err, msg)
        self.assertEqual(r.out, "")
        self.assertEqual(self.cluster_state(), before)

    def test_system_databases_are_refused_on_every_path(self):
        pw = secret("system-db-pw")
        before = self.cluster_state()
        for db, why in self.SYSTEM_WHY.items():
            with self.subTest(db=db):
                msg = ('gen3db: database "%s" cannot be a target: %s\n'
                       "hint: name the service's own database\n" % (db, why))
                env = self.env(SERVICE_PGDB=db, SERVICE_PGUSER="sysdb_user", SERVICE_PGPASS=pw)
                self.assertRefused(run(["create", "--wait", "5"], env=env), msg, before)
                self.assertRefused(run(["create", "--wait", "5", "--reset-password"], env=env),
                                   msg, before)
                self.assertRefused(run(["create", "--database", db, "--username", "sysdb_user",
                                        "--password-file", self.pwfile(pw)], env=self.env()),
                                   msg, before)
                cfg = os.path.join(self.tmp, "sys.json")
                with open(cfg, "w") as f:
                    # a good service first: nothing of it is made either
                    json.dump({"services": [
                        {"name": "goodsvc", "password_file": self.pwfile(pw)},
                        {"name": "bad", "database": db, "username": "sysdb_user",
                         "password_file": self.pwfile(pw)}]}, f)
                self.assertRefused(run(["create", "--config", cfg], env=self.env()), msg, before)
        # CREATE DATABASE copies template1, which is still empty
        self.sql("CREATE DATABASE after_refusal")
        self.assertEqual(self.sql("SELECT count(*) FROM pg_class WHERE relnamespace = "
                                  "'public'::regnamespace", db="after_refusal"), "0")
        self.sql("DROP DATABASE after_refusal")

    def test_the_masters_own_database_and_role(self):
        pw = secret("boss-pw-4411")
        self.sql("CREATE ROLE boss SUPERUSER LOGIN PASSWORD %s" % lit(pw))
        self.sql("CREATE DATABASE fence_home")
        self.sql("CREATE TABLE keep (id int)", db="fence_home")
        before = self.cluster_state()
        env = self.env(PGDATABASE="fence_home")
        msg = ('gen3db: database "fence_home" cannot be a target: it is the database the '
               "master connection uses\nhint: name the service's own database\n")
        # --service derives <service>_<release>
        self.assertRefused(run(["create", "--service", "fence", "--release", "home",
                                "--secret-out", os.path.join(self.tmp, "s.yaml")], env=env),
                           msg, before)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "s.yaml")))
        self.assertRefused(run(["create"], env=self.env(PGDATABASE="fence_home",
                                                        SERVICE_PGDB="fence_home",
                                                        SERVICE_PGUSER="fh",
                                                        SERVICE_PGPASS=pw)), msg, before)
        # the master's role, whatever its name, and postgres never get a new password
        for role, who, env in (
                ("boss", "the master connection's own role",
                 self.env(PGUSER="boss", PGPASSWORD=pw)),
                ("postgres", "PostgreSQL's default superuser", self.env())):
            with self.subTest(role=role):
                r = run(["create", "--reset-password"], env=dict(
                    env, SERVICE_PGDB="roles_db", SERVICE_PGUSER=role,
                    SERVICE_PGPASS=secret("new-pw-for-" + role)))
                self.assertRefused(r, 'gen3db: role "%s" cannot be a service role: it is %s\n'
                                   "hint: name the service's own role\n" % (role, who), before)
        self.assertTrue(self.can_login("postgres", "boss", pw))
        self.sql("DROP DATABASE fence_home")
        self.sql("DROP ROLE boss")

    def test_secret_out_keeps_other_services(self):
        out = os.path.join(self.tmp, "merge.yaml")
        with open(out, "w"):
            pass
        os.chmod(out, 0o644)
        r = run(["create", "--service", "aa", "--service", "bb", "--release", "m",
                 "--secret-out", out], env=self.env())
        self.assertExit(r, 0)
        first = self.read_secrets(out)
        for s in first.values():
            secret(s["password"])
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        r = run(["create", "--service", "cc", "--release", "m", "--secret-out", out],
                env=self.env())
        self.assertExit(r, 0)
        merged = self.read_secrets(out)
        secret(merged["cc-dbcreds"]["password"])
        self.assertEqual(sorted(merged), ["aa-dbcreds", "bb-dbcreds", "cc-dbcreds"])
        self.assertEqual(merged["aa-dbcreds"], first["aa-dbcreds"])
        self.assertEqual(merged["bb-dbcreds"], first["bb-dbcreds"])
        for svc in ("aa", "bb", "cc"):
            s = merged[svc + "-dbcreds"]
            self.assertTrue(self.can_login(s["database"], s["username"], s["password"]), svc)
        # a service failing in this run keeps its old entry; the others are replaced
        self.sql("ALTER ROLE bb_m NOLOGIN")
        os.chmod(out, 0o644)
        r = run(["create", "--service", "bb", "--service", "cc", "--release", "m",
                 "--secret-out", out, "--host-for-secret", "new-host"], env=self.env())
        self.assertExit(r, 1)
        self.assertIn('gen3db: bb: failed: role "bb_m" exists but may not log in', r.err)
        again = self.read_secrets(out)
        self.assertEqual(again["bb-dbcreds"], first["bb-dbcreds"])
        self.assertEqual(again["aa-dbcreds"], first["aa-dbcreds"])
        self.assertEqual(again["cc-dbcreds"]["host"], "new-host")
        self.assertEqual(again["cc-dbcreds"]["password"], merged["cc-dbcreds"]["password"])
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        self.assertEqual([f for f in os.listdir(self.tmp) if ".tmp." in f], [])

    def test_malformed_secret_out_is_left_untouched(self):
        out = os.path.join(self.tmp, "bad.yaml")
        text = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
        with open(out, "wb") as f:
            f.write(text)
        os.chmod(out, 0o644)
        r = run(["create", "--service", "mal", "--release", "x", "--secret-out", out],
                env=self.env())
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: secrets file "%s" is malformed: line 2: kind is not '
                         'Secret; it was left as it is\nhint: give another --secret-out file, '
                         'or repair or move this one\n' % out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), text)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o644)
        self.assertEqual(self.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'mal_x'"), "0")

    def test_help_and_version(self):
        r = run(["create", "--help"])
        self.assertExit(r, 0)
        self.assertIn("exit codes: 0 all services ready", r.out)
        r = run(["--version"])
        self.assertExit(r, 0)
        self.assertTrue(r.out.startswith("gen3db "))
        r = run(["help", "create"])
        self.assertExit(r, 0)
        self.assertIn("usage: gen3db create", r.out)
        r = run(["frobnicate"])
        self.assertExit(r, 2)
