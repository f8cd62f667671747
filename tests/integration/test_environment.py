"""gen3db restore of a whole environment (the gen3 bucket layout) from
s3rver behind the SigV4-verifying proxy (tests/s3/s3env.sh) and from a
directory, into the throwaway PostgreSQL and the Elasticsearch test double
(tests/esd/es_test_server.py); --patch-secret against the HTTPS stand-in
for the Kubernetes API of test_k8s.

Every table is compared with a psql -f load of the same dump and every
index's documents with the data file. All services start in setUpModule;
without s3rver (tests/s3/install.sh) the module fails, it never skips.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import unittest

import yaml

import g3test
from g3services import EsServer, module_api, module_es, module_s3
from g3test import BIN, gen3_dataset, helm_layout, module_pg, module_tmp, run, secret

SERVICES = ["arborist", "fence", "indexd", "sheepdog"]
INDICES = ["dev_array-config", "dev_case", "dev_file"]
PREFIX = "myenv/v1"

PG = ES = API = None
TMP = DATA = LAYOUT = SA = CA = None
# gen3 cloud-automation's backups: <service>.sql[.gz|.zst] at the top level
CA_FILES = {"indexd": "indexd.sql", "sheepdog": "sheepdog.sql.gz",
            "metadata": "metadata.sql.zst"}
CA_PREFIX = "backups/2024-05-01T00-00"
S3 = {}
REF = {}      # service -> {table: fingerprint} of the psql -f load
DOCS = {}     # index -> {id: source} of its data file


def fingerprint(db):
    return g3test.fingerprint(PG, db)


def setUpModule():
    global PG, ES, API, TMP, DATA, LAYOUT, SA, CA
    TMP = module_tmp("gen3db-env-")
    PG = module_pg()
    ES = module_es("es7")
    S3.update(module_s3(TMP).env)
    API, SA = module_api(TMP)

    DATA = gen3_dataset(os.path.join(TMP, "ds"), "2MB")
    # the gen3 layout, locally and in the bucket
    LAYOUT = helm_layout(DATA, os.path.join(TMP, "layout"), SERVICES)
    for sub in ("pgdumps", "elasticsearch"):
        for name in sorted(os.listdir(os.path.join(LAYOUT, sub))):
            url = "s3://%s/%s/%s/%s" % (S3["S3_BUCKET"], PREFIX, sub, name)
            r = run(["fetch", os.path.join(LAYOUT, sub, name), "-o", url], env=s3_env())
            if r.code != 0:
                raise AssertionError("upload failed: %r" % r)
    # the reference: psql -f of the same files
    for s in SERVICES:
        db = "ref_" + s
        PG.psql('CREATE DATABASE "%s"' % db)
        subprocess.run(["psql", "-X", "-q", "-d", db, "-f", os.path.join(DATA, "pg", s + ".sql")],
                       env=PG.env(), check=True, capture_output=True)
        REF[s] = fingerprint(db)
    for ix in INDICES:
        DOCS[ix] = g3test.file_docs(os.path.join(DATA, "es", ix + "__data.json"))
    # the cloud-automation layout: pg_dump's plain output of reference
    # databases, compressed by the gzip and zstd tools
    PG.psql('CREATE DATABASE "ref_metadata"')
    PG.psql("CREATE TABLE metadata (guid text PRIMARY KEY, data jsonb NOT NULL, authz text[]); "
            "INSERT INTO metadata SELECT 'dg.4503/' || md5(i::text), "
            "jsonb_build_object('n', i, 'note', repeat('x', i % 7), 'q', E'a\\tb\\\\c'), "
            "ARRAY['/programs/p' || (i % 3)] FROM generate_series(1, 500) i; "
            "CREATE INDEX metadata_data_idx ON metadata USING gin (data)", db="ref_metadata")
    REF["metadata"] = fingerprint("ref_metadata")
    CA = os.path.join(TMP, "cloudauto")
    os.mkdir(CA)
    for s, name in CA_FILES.items():
        dump = subprocess.run(["pg_dump", "-d", "ref_" + s], env=PG.env(), check=True,
                              capture_output=True).stdout
        if name.endswith(".gz"):
            dump = subprocess.run(["gzip", "-c"], input=dump, check=True,
                                  capture_output=True).stdout
        elif name.endswith(".zst"):
            dump = subprocess.run(["zstd", "-q", "-c"], input=dump, check=True,
                                  capture_output=True).stdout
        with open(os.path.join(CA, name), "wb") as f:
            f.write(dump)
        url = "s3://%s/%s/%s" % (S3["S3_BUCKET"], CA_PREFIX, name)
        r = run(["fetch", os.path.join(CA, name), "-o", url], env=s3_env())
        if r.code != 0:
            raise AssertionError("upload failed: %r" % r)


def s3_env(**extra):
    e = PG.env() if PG else dict(os.environ)
    for k in ("SERVICE_PGDB", "SERVICE_PGUSER", "SERVICE_PGPASS", "BUCKET", "ENVIRONMENT",
              "VERSION", "ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "JOB_COMPLETION_INDEX",
              "AWS_PROFILE", "AWS_SESSION_TOKEN", "GEN3DB_K8S_API", "GEN3DB_K8S_SA_DIR",
              "KUBERNETES_SERVICE_HOST"):
        e.pop(k, None)
    e["HOME"] = TMP
    e["AWS_ACCESS_KEY_ID"] = S3["AWS_ACCESS_KEY_ID"]
    e["AWS_SECRET_ACCESS_KEY"] = S3["AWS_SECRET_ACCESS_KEY"]
    e["AWS_REGION"] = S3["S3_REGION"]
    e["AWS_ENDPOINT_URL"] = S3["S3_ENDPOINT"]
    e.update({k: v for k, v in extra.items() if v is not None})
    return e


def prefix_url():
    return "s3://%s/%s/" % (S3["S3_BUCKET"], PREFIX)


def drop_release(release):
    for s in SERVICES + list(CA_FILES):
        PG.psql('DROP DATABASE IF EXISTS "%s_%s" WITH (FORCE)' % (s, release))


def release_dbs(release):
    return PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '%%\\_%s'" % release)


class EnvironmentRestoreTest(unittest.TestCase):
    def setUp(self):
        ES.reset()
        self.tmp = tempfile.mkdtemp(dir=TMP)

    def restore(self, args, env=None):
        return run(["restore"] + args, env=env or s3_env())

    def assertExit(self, r, code):
        self.assertEqual(r.code, code, repr(r))

    def assertService(self, service, release):
        self.assertEqual(fingerprint("%s_%s" % (service, release)), REF[service], service)

    def assertIndex(self, index):
        self.assertEqual(ES.docs(index), DOCS[index], index)

    def secret_out(self):
        return os.path.join(self.tmp, "secrets.yaml")

    def test_whole_environment_from_s3_prefix(self):
        drop_release("s3a")
        out = self.secret_out()
        r = self.restore([prefix_url(), "--release", "s3a", "--es", ES.url, "--jobs", "4",
                          "--secret-out", out, "--json"])
        self.assertExit(r, 0)
        report = json.loads(r.out)
        self.assertEqual(report["status"], "ok")
        self.assertEqual([s["name"] for s in report["services"]], SERVICES)
        self.assertEqual([i["name"] for i in report["indices"]], INDICES)
        for s in SERVICES:
            self.assertService(s, "s3a")
            self.assertEqual(PG.psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE "
                                     "datname = '%s_s3a'" % s), "%s_s3a" % s)
        for ix in INDICES:
            self.assertIndex(ix)
        # the summary table on stderr
        for s in SERVICES:
            self.assertRegex(r.err, r"service %s\s+%s_s3a\s+\d+\s+\d+\s+[\d.]+\s+restored"
                             % (s, s))
        for ix in INDICES:
            self.assertRegex(r.err, r"index\s+%s\s+%s_0\s+%d\s" % (ix, ix, len(DOCS[ix])))
        # generated passwords recorded, and they log in
        self.assertEqual(oct(os.stat(out).st_mode & 0o777), "0o600")
        first = self.read_secrets(out)
        self.assertEqual(sorted(first), ["%s-dbcreds" % s for s in SERVICES])
        pw = secret(first["fence-dbcreds"]["password"])
        self.assertEqual(first["fence-dbcreds"]["dbcreated"], "true")
        self.assertEqual(PG.psql("SELECT current_user", db="fence_s3a", user="fence_s3a",
                                 password=pw), "fence_s3a")
        # a second run with the same --secret-out reuses the password (the
        # role exists with it; --clean replaces the database)
        r = self.restore([prefix_url(), "--release", "s3a", "--service", "fence", "--clean",
                          "--secret-out", out])
        self.assertExit(r, 0)
        self.assertEqual(self.read_secrets(out)["fence-dbcreds"]["password"], pw)
        self.assertService("fence", "s3a")

    def read_secrets(self, path):
        with open(path) as f:
            doc = yaml.safe_load(f)
        items = doc["items"] if doc.get("kind") == "List" else [doc]
        return {i["metadata"]["name"]: {k: base64.b64decode(v).decode()
                                        for k, v in i["data"].items()} for i in items}

    def test_whole_environment_from_helm_variables(self):
        drop_release("helm")
        creds = self.credentials_dir("helm")
        env = s3_env(BUCKET=S3["S3_BUCKET"], ENVIRONMENT="myenv", VERSION="v1",
                     ESHOST=ES.url.split("://")[1], GUPPY_INDICES="dev_case,dev_file",
                     GUPPY_CONFIGINDEX="dev_array-config")
        r = self.restore(["--release", "helm", "--credentials-dir", creds, "--json"], env=env)
        self.assertExit(r, 0)
        for s in SERVICES:
            self.assertService(s, "helm")
            # the role and password of the mounted Secret log in
            with open(os.path.join(creds, s, "password")) as f:
                pw = f.read()
            self.assertEqual(PG.psql("SELECT current_user", db="%s_helm" % s,
                                     user="%s_helm_user" % s, password=pw), "%s_helm_user" % s)
        for ix in INDICES:
            self.assertIndex(ix)

    def credentials_dir(self, release):
        d = os.path.join(self.tmp, "creds-" + release)
        for s in SERVICES:
            os.makedirs(os.path.join(d, s))
            for key, value in (("database", "%s_%s" % (s, release)),
                               ("username", "%s_%s_user" % (s, release)),
                               ("password", secret("Pw-%s-%s-7Hq" % (s, release)))):
                with open(os.path.join(d, s, key), "w") as f:
                    f.write(value)
        return d

    def test_local_directory_and_narrowing(self):
        drop_release("dir")
        r = self.restore([LAYOUT + "/", "--release", "dir", "--service", "fence", "--service",
                          "indexd", "--index", "dev_case", "--es", ES.url, "--secret-out",
                          self.secret_out(), "--json"])
        self.assertExit(r, 0)
        report = json.loads(r.out)
        done = sorted(x["name"] for x in report["services"] + report["indices"]
                      if x["status"] == "restored")
        self.assertEqual(done, ["dev_case", "fence", "indexd"])
        self.assertService("fence", "dir")
        self.assertService("indexd", "dir")
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname IN "
                                 "('arborist_dir', 'sheepdog_dir')"), "0")
        self.assertIndex("dev_case")
        self.assertNotIn("dev_file", " ".join(ES.indices()))
        # a name that is not there is bad input: nothing changed
        r = self.restore([LAYOUT, "--release", "dir", "--service", "nosuch", "--secret-out",
                          self.secret_out()])
        self.assertExit(r, 2)
        self.assertIn('"nosuch"', r.err)

    def test_one_failing_service_others_restored(self):
        drop_release("bad")
        bad = os.path.join(self.tmp, "layout")
        shutil.copytree(LAYOUT, bad)
        with open(os.path.join(bad, "pgdumps", "fence.sql"), "a") as f:
            f.write("\nCOPY public.no_such_table (a) FROM stdin;\n1\n\\.\n")
        r = self.restore([bad, "--release", "bad", "--es", ES.url, "--secret-out",
                          self.secret_out(), "--json"])
        self.assertExit(r, 1)
        report = json.loads(r.out)
        status = {x["name"]: x["status"] for x in report["services"] + report["indices"]}
        self.assertEqual(status.pop("fence"), "failed")
        self.assertEqual(set(status.values()), {"restored"})
        self.assertRegex(r.err, r"service fence\s+.*failed")
        self.assertIn('service "fence" was not restored', r.err)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                 "'fence_bad%'"), "0")
        for s in ("arborist", "indexd", "sheepdog"):
            self.assertService(s, "bad")
        self.assertIndex("dev_file")
        # the role created for the failed service is dropped, and its
        # generated password not recorded; the others' are
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'fence_bad'"),
                         "0")
        got = self.read_secrets(self.secret_out())
        self.assertEqual(sorted(got), ["%s-dbcreds" % s for s in ("arborist", "indexd",
                                                                   "sheepdog")])
        for s in ("arborist", "indexd", "sheepdog"):
            self.assertEqual(got["%s-dbcreds" % s]["dbcreated"], "true")
            pw = secret(got["%s-dbcreds" % s]["password"])
            self.assertNotIn(pw, r.out + r.err)

    def test_existing_role_without_password_set_role(self):
        # a role that exists, no password for it anywhere: the superuser
        # master loads as it (SET ROLE); nothing to record for it
        drop_release("sro")
        PG.psql("DROP ROLE IF EXISTS fence_sro")
        PG.psql("CREATE ROLE fence_sro NOLOGIN")
        out = self.secret_out()
        r = self.restore([LAYOUT, "--release", "sro", "--service", "fence", "--service",
                          "indexd", "--secret-out", out, "--json"])
        self.assertExit(r, 0)
        self.assertService("fence", "sro")
        self.assertEqual(PG.psql("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                                 "WHERE relnamespace = 'public'::regnamespace",
                                 db="fence_sro"), "fence_sro")
        self.assertEqual(sorted(self.read_secrets(out)), ["indexd-dbcreds"])
        # the same without --secret-out; a role that does not exist is
        # still refused before anything changes
        r = self.restore([LAYOUT, "--release", "sro", "--service", "fence", "--clean"])
        self.assertExit(r, 0)
        self.assertService("fence", "sro")
        r = self.restore([LAYOUT, "--release", "sro", "--service", "fence", "--service",
                          "arborist"])
        self.assertExit(r, 2)
        self.assertIn('gen3db: no password for service "arborist" (role "arborist_sro" does '
                      'not exist)\nhint: give --credentials-dir DIR', r.err)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname = "
                                 "'arborist_sro'"), "0")

    def test_shards_are_disjoint_and_complete(self):
        drop_release("sh")
        done = []
        for i in range(2):
            r = self.restore([prefix_url(), "--release", "sh", "--es", ES.url, "--shard",
                              "%d/2" % i, "--secret-out", self.secret_out(), "--json"])
            self.assertExit(r, 0)
            report = json.loads(r.out)
            mine = [x["name"] for x in report["services"] + report["indices"]
                    if x["status"] == "restored"]
            self.assertTrue(mine, "shard %d got nothing" % i)
            done.append(set(mine))
        self.assertFalse(done[0] & done[1])
        self.assertEqual(done[0] | done[1], set(SERVICES + INDICES))
        for s in SERVICES:
            self.assertService(s, "sh")
        for ix in INDICES:
            self.assertIndex(ix)
        # --shards N takes I from the Indexed Job's JOB_COMPLETION_INDEX: the same split
        drop_release("sh2")
        r = self.restore([prefix_url(), "--release", "sh2", "--shards", "2", "--json",
                          "--secret-out", self.secret_out()],
                         env=s3_env(JOB_COMPLETION_INDEX="1"))
        self.assertExit(r, 0)
        report = json.loads(r.out)
        self.assertEqual(report["shard"], "1/2")
        self.assertEqual({x["name"] for x in report["services"] if x["status"] == "restored"},
                         done[1] & set(SERVICES))
        r = self.restore([LAYOUT, "--release", "sh", "--shards", "2"])
        self.assertExit(r, 2)
        self.assertIn("JOB_COMPLETION_INDEX", r.err)

    def test_patch_secret_for_each_restored_service(self):
        drop_release("k8s")
        API.reset(*["%s-dbcreds" % s for s in SERVICES])
        env = s3_env(GEN3DB_K8S_API="https://127.0.0.1:%d" % API.port, GEN3DB_K8S_SA_DIR=SA)
        r = self.restore([prefix_url(), "--release", "k8s", "--service", "fence", "--service",
                          "arborist", "--credentials-dir", self.credentials_dir("k8s"),
                          "--patch-secret"], env=env)
        self.assertExit(r, 0)
        self.assertEqual(sorted(API.patched()), ["arborist-dbcreds", "fence-dbcreds"])
        self.assertEqual(API.secrets["fence-dbcreds"]["dbcreated"], "dHJ1ZQ==")
        # a single dump: the Secret is named by --secret-name
        API.reset("indexd-dbcreds")
        PG.psql('DROP DATABASE IF EXISTS "indexd_one" WITH (FORCE)')
        r = self.restore([os.path.join(LAYOUT, "pgdumps", "indexd.sql"), "--database",
                          "indexd_one", "--patch-secret"],
                         env=dict(env, SERVICE_PGPASS=secret("Pw-indexd-one-3x")))
        self.assertExit(r, 2)
        self.assertIn("--secret-name", r.err)
        r = self.restore([os.path.join(LAYOUT, "pgdumps", "indexd.sql"), "--database",
                          "indexd_one", "--patch-secret", "--secret-name", "indexd-dbcreds"],
                         env=dict(env, SERVICE_PGPASS=secret("Pw-indexd-one-3x")))
        self.assertExit(r, 0)
        self.assertEqual(API.patched(), ["indexd-dbcreds"])

    def test_hostile_index_names_from_files_and_env(self):
        # what a destructive request would hit
        for ix in ("dev_case_0", "g3t_a", "g3t_b"):
            ES.req("PUT", "/" + ix, {})
        before = ES.indices()
        lay = os.path.join(self.tmp, "hostile")
        os.makedirs(os.path.join(lay, "elasticsearch"))
        for kind in ("mapping", "data"):
            shutil.copy(os.path.join(DATA, "es", "dev_case__%s.json" % kind),
                        os.path.join(lay, "elasticsearch", "_all__%s.json" % kind))
        n = ES.stats()["requests"]
        for extra in ([], ["--clean"], ["--clean", "--no-alias"]):
            r = self.restore([lay, "--release", "h", "--es", ES.url] + extra)
            self.assertExit(r, 2)
            self.assertIn('invalid Elasticsearch index name "_all" (from the file name "%s/'
                          'elasticsearch/_all__mapping.json"): must not start with \'_\', \'-\' '
                          "or '+'" % lay, r.err)
        self.assertEqual(ES.stats()["requests"], n + 1)
        self.assertEqual(ES.indices(), before)
        for env in ({"GUPPY_INDICES": "dev_case,*"}, {"GUPPY_CONFIGINDEX": "G3t_a"}):
            r = self.restore([LAYOUT, "--release", "h", "--es", ES.url, "--clean"],
                             env=s3_env(**env))
            self.assertExit(r, 2)
            self.assertIn("(from GUPPY_INDICES/GUPPY_CONFIGINDEX)", r.err)
        r = self.restore([LAYOUT, "--release", "h", "--es", ES.url, "--clean", "--index",
                          "g3t_a,g3t_b"])
        self.assertExit(r, 2)
        self.assertIn('invalid Elasticsearch index name "g3t_a,g3t_b" (from --index)', r.err)
        self.assertEqual(ES.indices(), before)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '%_h'"),
                         "0")

    def test_narrowed_runs_keep_other_services_secrets(self):
        drop_release("nar")
        out = self.secret_out()
        r = self.restore([LAYOUT, "--release", "nar", "--service", "fence", "--secret-out", out])
        self.assertExit(r, 0)
        first = self.read_secrets(out)
        secret(first["fence-dbcreds"]["password"])
        os.chmod(out, 0o644)
        r = self.restore([LAYOUT, "--release", "nar", "--service", "indexd", "--secret-out", out])
        self.assertExit(r, 0)
        both = self.read_secrets(out)
        secret(both["indexd-dbcreds"]["password"])
        self.assertEqual(sorted(both), ["fence-dbcreds", "indexd-dbcreds"])
        self.assertEqual(both["fence-dbcreds"], first["fence-dbcreds"])
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        for s in ("fence", "indexd"):
            c = both[s + "-dbcreds"]
            self.assertEqual(PG.psql("SELECT current_user", db=c["database"], user=c["username"],
                                     password=c["password"]), c["username"])
        # a file it cannot read back is refused before anything, byte for byte
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("apiVersion: v1\nkind: Secret\nsurprise: yes\n")
        r = self.restore([LAYOUT, "--release", "nar2", "--service", "fence", "--secret-out", bad])
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: secrets file "%s" is malformed: line 3: unknown key; '
                         'it was left as it is\nhint: give another --secret-out file, or repair '
                         'or move this one\n' % bad)
        with open(bad) as f:
            self.assertEqual(f.read(), "apiVersion: v1\nkind: Secret\nsurprise: yes\n")
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                 "'%_nar2%'"), "0")
        drop_release("nar")

    def test_system_database_from_credentials_is_refused(self):
        creds = self.credentials_dir("sysdb")
        with open(os.path.join(creds, "fence", "database"), "w") as f:
            f.write("template1\n")
        r = self.restore([LAYOUT, "--release", "sysdb", "--credentials-dir", creds])
        self.assertExit(r, 2)
        self.assertTrue(r.err.endswith('\ngen3db: database "template1" cannot be a target: it '
                                       "is the template every new database is copied from\n"
                                       "hint: name the service's own database\n"), r.err)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                 "'%_sysdb%'"), "0")
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_class WHERE relnamespace = "
                                 "'public'::regnamespace", db="template1"), "0")

    def test_json_reports_a_usage_error(self):
        r = self.restore([LAYOUT, "--json"])
        self.assertExit(r, 2)
        self.assertEqual(json.loads(r.out), {
            "status": "failed", "exit_code": 2,
            "error": "no release name for a whole-environment restore",
            "hint": "give --release NAME: each service goes to <service>_<NAME>, e.g. "
                    "--release gen3"})

    def test_usage_errors_change_nothing(self):
        r = self.restore([LAYOUT])
        self.assertExit(r, 2)
        self.assertIn("--release", r.err)
        r = self.restore([LAYOUT, "--release", "u"])
        self.assertExit(r, 2)
        self.assertIn('no password for service "arborist"', r.err)
        r = self.restore([LAYOUT, "--release", "u", "--index", "dev_case", "--secret-out",
                          self.secret_out()])
        self.assertExit(r, 2)
        self.assertIn("no Elasticsearch", r.err)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '%_u'"),
                         "0")
        r = self.restore(["--release", "u"])
        self.assertExit(r, 2)
        self.assertIn("no source", r.err)

    def test_json_events_parse_and_hold_no_secret(self):
        drop_release("ev")
        r = self.restore([prefix_url(), "--release", "ev", "--es", ES.url, "--log-format",
                          "json", "--credentials-dir", self.credentials_dir("ev")],
                         env=s3_env(GEN3DB_PROGRESS_INTERVAL="0.05"))
        self.assertExit(r, 0)
        events = [json.loads(line) for line in r.err.splitlines() if line.strip()]
        # progress over the S3 objects' sizes: the dumps and data files (not
        # the mappings), every byte of them by the final event
        progress = [e for e in events if e.get("event") == "progress"]
        total = sum(os.path.getsize(os.path.join(LAYOUT, "pgdumps", s + ".sql"))
                    for s in SERVICES)
        total += sum(os.path.getsize(os.path.join(LAYOUT, "elasticsearch", ix + "__data.json"))
                     for ix in INDICES)
        self.assertTrue(progress and progress[-1]["final"], r.err[-2000:])
        self.assertTrue(all(e["total"] == total for e in progress))
        self.assertEqual(progress[-1]["bytes"], total)
        self.assertEqual(progress[-1]["items_done"], len(SERVICES) + len(INDICES))
        kinds = [e.get("event") for e in events]
        for k in ("database_start", "database_end", "table_start", "table_end", "index_start",
                  "index_end"):
            self.assertIn(k, kinds)
        self.assertEqual(kinds.count("database_end"), len(SERVICES))
        self.assertEqual(kinds.count("index_end"), len(INDICES))
        ends = [e for e in events if e.get("event") == "table_end"]
        self.assertTrue(all(int(e["rows"]) >= 0 for e in ends))
        self.assertNotIn("\r", r.err)
        for s in SERVICES:
            self.assertNotIn("Pw-%s-ev-7Hq" % s, r.err + r.out)

    def test_progress_line_only_on_a_terminal(self):
        drop_release("tty")
        ES.faults(delay_ms=400)
        try:
            args = [BIN, "restore", LAYOUT, "--release", "tty", "--es", ES.url,
                    "--credentials-dir", self.credentials_dir("tty")]
            master, slave = os.openpty()
            p = subprocess.Popen(args, env=s3_env(TERM="xterm"), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=slave)
            os.close(slave)
            err = b""
            while True:
                ready, _, _ = select.select([master], [], [], 60)
                if not ready:
                    break
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                err += chunk
            p.wait(120)
            os.close(master)
        finally:
            ES.faults(delay_ms=0)
        text = err.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, text)
        self.assertIn("\x1b[K", text)
        self.assertRegex(text, r"\d+/%d done" % (len(SERVICES) + len(INDICES)))
        # no terminal: no progress line
        drop_release("tty2")
        ES.reset()
        ES.faults(delay_ms=400)
        try:
            r = self.restore([LAYOUT, "--release", "tty2", "--es", ES.url,
                              "--credentials-dir", self.credentials_dir("tty2")])
        finally:
            ES.faults(delay_ms=0)
        self.assertExit(r, 0)
        self.assertNotIn("\r", r.err)
        self.assertNotIn("\x1b[K", r.err)


class RestoreEsFromS3Test(unittest.TestCase):
    """restore-es over an s3:// prefix of elasticdump files, as the helm
    job runs it (s3://$BUCKET/$ENVIRONMENT/$VERSION/elasticsearch/), and
    its --on-existing skip for a rerun of that Job."""

    def setUp(self):
        self.es = EsServer("es7")
        self.addCleanup(self.es.stop)
        self.url = "s3://%s/%s/elasticsearch/" % (S3["S3_BUCKET"], PREFIX)

    def restore_es(self, *args, **env):
        return run(["restore-es", self.url, "--es", self.es.url, "--wait", "5"] + list(args),
                   env=s3_env(**env))

    def test_guppy_indices_as_the_helm_job(self):
        r = self.restore_es("--json", GUPPY_INDICES="dev_case,dev_file",
                            GUPPY_CONFIGINDEX="dev_array-config")
        self.assertEqual(r.code, 0, repr(r))
        for ix in INDICES:
            self.assertEqual(self.es.docs(ix), DOCS[ix], ix)
        report = json.loads(r.out)
        self.assertEqual(sorted((x["name"], x["status"]) for x in report["indices"]),
                         [(ix, "restored") for ix in INDICES])
        # a rerun of the Job: what is in place is skipped, left as it is
        before = self.es.indices()
        r = self.restore_es("--on-existing", "skip", "--json", GUPPY_INDICES="dev_case,dev_file",
                            GUPPY_CONFIGINDEX="dev_array-config")
        self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(sorted((x["name"], x["status"]) for x in json.loads(r.out)["indices"]),
                         [(ix, "skipped") for ix in INDICES])
        self.assertIn('skipped index "dev_case": it already exists (--on-existing skip)', r.err)
        self.assertEqual(self.es.indices(), before)
        # without skip it is refused, nothing changed
        r = self.restore_es("--index", "dev_case", "--no-alias")
        self.assertEqual(r.code, 2, repr(r))
        self.assertEqual(self.es.indices(), before)
        r = self.restore_es("--clean", "--on-existing", "skip")
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn("contradict", r.err)

    def test_every_index_of_the_prefix(self):
        r = self.restore_es()
        self.assertEqual(r.code, 0, repr(r))
        self.assertIn('restoring every index in "%s": %d found' % (self.url, len(INDICES)), r.err)
        for ix in INDICES:
            self.assertEqual(self.es.docs(ix), DOCS[ix], ix)

    def test_restore_of_the_prefix_as_restore_es(self):
        # gen3db restore s3://.../ --es: the same indices, documents and report
        r = self.restore_es("--json")
        self.assertEqual(r.code, 0, repr(r))
        want = (self.es.indices(), {ix: self.es.docs(ix) for ix in INDICES})
        want_report = json.loads(r.out)
        self.es.reset()
        r = run(["restore", self.url, "--es", self.es.url, "--wait", "5", "--json"],
                env=s3_env())
        self.assertEqual(r.code, 0, repr(r))
        self.assertIn('restoring every index in "%s": %d found' % (self.url, len(INDICES)), r.err)
        self.assertEqual((self.es.indices(), {ix: self.es.docs(ix) for ix in INDICES}), want)
        for ix in INDICES:
            self.assertEqual(self.es.docs(ix), DOCS[ix], ix)
        got_report = json.loads(r.out)
        for rep in (got_report, want_report):
            for x in rep["indices"]:
                x.pop("seconds")
        self.assertEqual(got_report, want_report)
        # the prefix above it is a whole environment, as before
        r = run(["restore", prefix_url(), "--es", self.es.url, "--wait", "5"], env=s3_env())
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn("no release name for a whole-environment restore", r.err)

    def test_missing_index_and_empty_prefix(self):
        r = self.restore_es("--index", "dev_nothere")
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn('no files for index "dev_nothere" under "%s"' % self.url, r.err)
        empty = "s3://%s/%s/nothing-here/" % (S3["S3_BUCKET"], PREFIX)
        r = run(["restore-es", empty, "--es", self.es.url, "--wait", "5"], env=s3_env())
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn('no index to restore in "%s"' % empty, r.err)
        # the prefix's pgdumps/ are not elasticdump files
        parent = "s3://%s/%s/" % (S3["S3_BUCKET"], PREFIX)
        r = run(["restore-es", parent, "--es", self.es.url, "--wait", "5"], env=s3_env())
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn("found instead:", r.err)
        r = run(["restore-es", "http://127.0.0.1:1/es/", "--es", self.es.url], env=s3_env())
        self.assertEqual(r.code, 2, repr(r))
        self.assertEqual(self.es.indices(), {})


class OtherLayoutsTest(unittest.TestCase):
    """gen3 cloud-automation's <service>.sql[.gz|.zst] at the top level, the
    names taken from files, and finding nothing: an error, never an empty
    environment."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(dir=TMP)

    def restore(self, args, env=None):
        return run(["restore"] + args, env=env or s3_env())

    def assertExit(self, r, code):
        self.assertEqual(r.code, code, repr(r))

    def assertCaRestored(self, release):
        for s in CA_FILES:
            self.assertEqual(fingerprint("%s_%s" % (s, release)), REF[s], s)

    def test_cloud_automation_backup_from_directory(self):
        drop_release("ca")
        d = os.path.join(self.tmp, "2024-05-01T00-00")
        shutil.copytree(CA, d)
        # what no layout takes: ignored, counted, listed with --verbose
        with open(os.path.join(d, "README.txt"), "w") as f:
            f.write("backup of 2024-05-01\n")
        os.makedirs(os.path.join(d, "logs"))
        shutil.copy(os.path.join(CA, "indexd.sql"), os.path.join(d, "logs", "old.sql"))
        r = self.restore([d, "--release", "ca", "--secret-out", os.path.join(self.tmp, "s.yaml"),
                          "--json", "--verbose"])
        self.assertExit(r, 0)
        report = json.loads(r.out)
        self.assertEqual([(x["name"], x["database"], x["status"]) for x in report["services"]],
                         [(s, s + "_ca", "restored") for s in sorted(CA_FILES)])
        self.assertCaRestored("ca")
        self.assertIn('ignoring 2 entries in "%s" that no layout takes (--verbose lists them)'
                      % d, r.err)
        self.assertIn('not part of a layout, ignored: "%s/README.txt"' % d, r.err)
        self.assertIn('not part of a layout, ignored: "%s/logs/"' % d, r.err)
        # the same service in pgdumps/ too is ambiguous: refused, nothing changed
        os.makedirs(os.path.join(d, "pgdumps"))
        shutil.copy(os.path.join(LAYOUT, "pgdumps", "indexd.sql"), os.path.join(d, "pgdumps"))
        r = self.restore([d, "--release", "ca2", "--secret-out", os.path.join(self.tmp, "s.yaml")])
        self.assertExit(r, 2)
        self.assertIn('gen3db: service "indexd" has more than one dump: "%s/indexd.sql" and '
                      '"%s/pgdumps/indexd.sql"' % (d, d), r.err)
        self.assertEqual(release_dbs("ca2"), "0")
        drop_release("ca")

    def test_cloud_automation_backup_from_s3(self):
        drop_release("cas")
        prefix = "s3://%s/%s/" % (S3["S3_BUCKET"], CA_PREFIX)
        r = run(["ls", "--gen3-layout", prefix], env=s3_env())
        self.assertExit(r, 0)
        self.assertEqual(r.out.splitlines(), ["service\t%s\t%s%s" % (s, prefix, CA_FILES[s])
                                              for s in sorted(CA_FILES)])
        r = self.restore([prefix, "--release", "cas", "--jobs", "3", "--secret-out",
                          os.path.join(self.tmp, "s.yaml"), "--json"])
        self.assertExit(r, 0)
        self.assertEqual([(x["name"], x["status"]) for x in json.loads(r.out)["services"]],
                         [(s, "restored") for s in sorted(CA_FILES)])
        self.assertCaRestored("cas")
        drop_release("cas")

    def test_hostile_file_names_are_refused(self):
        d = os.path.join(self.tmp, "hostile")
        os.makedirs(d)
        shutil.copy(os.path.join(CA, "indexd.sql"), d)
        hostile = ["a;b.sql", "template1.sql", "postgres.sql.gz", "pg_authid.sql", "-x.sql",
                   "a b.sql", "%s.sql" % ("L" * 70), 'q".sql', "x\ny.sql"]
        for name in hostile:
            shutil.copy(os.path.join(CA, "indexd.sql"), os.path.join(d, name))
        out = os.path.join(self.tmp, "s.yaml")
        r = self.restore([d, "--release", "hx", "--secret-out", out, "--verbose"])
        self.assertExit(r, 2)
        self.assertRegex(r.err, r'\ngen3db: refusing the dump "[^"\n]+" in "%s/": [^\n]+ \(and '
                         r'more: --verbose lists them\)\nhint: rename the file, or name the '
                         r'services to restore with --service NAME\n$' % d)
        # listed with --verbose, quotes and control bytes shown as '?'
        for name in hostile:
            self.assertIn('refused "%s/%s": ' % (d, name.replace('"', "?").replace("\n", "?")),
                          r.err)
        self.assertNotIn("\ny.sql", r.err)
        self.assertIn('refused "%s/template1.sql": it is the name of a PostgreSQL system '
                      'database' % d, r.err)
        self.assertIn('refused "%s/pg_authid.sql": names starting with "pg_" are reserved' % d,
                      r.err)
        self.assertIn('refused "%s/%s.sql": a service name is at most 61 bytes' % (d, "L" * 70),
                      r.err)
        self.assertEqual(release_dbs("hx"), "0")
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                 "'%%hx%%' OR datname LIKE 'a;b%%'"), "0")
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE '%%hx'"), "0")
        self.assertFalse(os.path.exists(out))
        # the services asked for are restored; the refused files stay refused
        r = self.restore([d, "--release", "hx", "--service", "indexd", "--secret-out", out])
        self.assertExit(r, 0)
        self.assertIn('leaving %d dumps in "%s" whose names cannot be services (--verbose lists '
                      'them)' % (len(hostile), d), r.err)
        self.assertEqual(fingerprint("indexd_hx"), REF["indexd"])
        r = self.restore([d, "--release", "hx", "--service", "a;b", "--secret-out", out])
        self.assertExit(r, 2)
        self.assertIn('no dump for service "a;b"', r.err)
        self.assertIn('hint: services found: "indexd"\n', r.err)
        self.assertEqual(release_dbs("hx"), "1")
        drop_release("hx")
        # a service name that cannot name the Secret written for it
        d2 = os.path.join(self.tmp, "secretname")
        os.makedirs(d2)
        shutil.copy(os.path.join(CA, "indexd.sql"), os.path.join(d2, "Index_D.sql"))
        r = self.restore([d2, "--release", "hy", "--secret-out", out])
        self.assertExit(r, 2)
        self.assertIn('gen3db: service "Index_D" (from "%s/Index_D.sql") cannot name a '
                      'Kubernetes Secret: "Index_D-dbcreds" is not lowercase letters, digits, '
                      "'-' and '.'\n" % d2, r.err)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname = "
                                 "'Index_D_hy'"), "0")

    def test_nothing_to_restore_is_an_error(self):
        looked_for = ("it holds no pgdumps/<service>.sql[.gz|.zst], <service>.sql[.gz|.zst] or "
                      "elasticsearch/<index>__mapping.json with __data.json")
        empty = os.path.join(self.tmp, "empty")
        os.makedirs(empty)
        r = self.restore([empty, "--release", "no", "--secret-out",
                          os.path.join(self.tmp, "s.yaml")])
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: nothing to restore in "%s/": %s\nhint: "%s/" is '
                         'empty\n' % (empty, looked_for, empty))
        # the environment's folder instead of a version's: what is there
        env_dir = os.path.join(self.tmp, "myenv")
        os.makedirs(os.path.join(env_dir, "2024-05-01"))
        with open(os.path.join(env_dir, "notes.txt"), "w") as f:
            f.write("x\n")
        r = self.restore([env_dir, "--release", "no", "--json"])
        self.assertExit(r, 2)
        report = json.loads(r.out)
        self.assertEqual(report["error"], 'nothing to restore in "%s/": %s' % (env_dir,
                                                                              looked_for))
        self.assertIn('"2024-05-01/"', report["hint"])
        self.assertIn('"notes.txt"', report["hint"])
        self.assertTrue(report["hint"].startswith("found instead: "), report["hint"])
        # an s3 prefix that does not exist (gen3-helm renders VERSION 0.0.0
        # from a chart checkout): the versions under the environment
        bucket = S3["S3_BUCKET"]
        # (s3rver reports a folder in a delimited listing only when an object
        # sits directly in it, so each version here has one; S3 lists them all)
        for key in ("helmenv/v1/pgdumps/indexd.sql", "helmenv/v1/manifest.json",
                    "helmenv/2024-06-01/indexd.sql"):
            r = run(["fetch", os.path.join(CA, "indexd.sql"), "-o",
                     "s3://%s/%s" % (bucket, key)], env=s3_env())
            self.assertExit(r, 0)
        r = self.restore(["--release", "no", "--secret-out", os.path.join(self.tmp, "s.yaml")],
                         env=s3_env(BUCKET=bucket, ENVIRONMENT="helmenv", VERSION="0.0.0"))
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: nothing to restore in "s3://%s/helmenv/0.0.0/": %s\n'
                         'hint: there is no object under it; versions under "s3://%s/helmenv/": '
                         '"2024-06-01", "v1"\n' % (bucket, looked_for, bucket))
        # a name asked for there: the location is what is wrong, said the same way
        r = self.restore(["s3://%s/helmenv/0.0.0/" % bucket, "--release", "no", "--service",
                          "indexd", "--index", "dev_case", "--es", ES.url])
        self.assertExit(r, 2)
        self.assertIn('hint: there is no object under it; versions under "s3://%s/helmenv/": '
                      '"2024-06-01", "v1"\n' % bucket, r.err)
        r = self.restore(["s3://%s/backups/0.0.0/" % bucket, "--release", "no"])
        self.assertExit(r, 2)
        self.assertIn('hint: there is no object under it; versions under "s3://%s/backups/": '
                      '"2024-05-01T00-00"\n' % bucket, r.err)
        r = self.restore(["s3://%s/noenv/0.0.0/" % bucket, "--release", "no"])
        self.assertExit(r, 2)
        self.assertIn('hint: there is no object under it, and no folder under "s3://%s/noenv/"'
                      % bucket, r.err)
        # indices only, and no Elasticsearch to put them in
        es_only = os.path.join(self.tmp, "es-only")
        shutil.copytree(os.path.join(LAYOUT, "elasticsearch"),
                        os.path.join(es_only, "elasticsearch"))
        r = self.restore([es_only, "--release", "no"])
        self.assertExit(r, 2)
        self.assertIn('gen3db: nothing to restore in "%s": the 3 indices found are skipped, and '
                      'no Elasticsearch was given\nhint: give --es URL' % es_only, r.err)
        r = self.restore([es_only, "--release", "no", "--no-es"])
        self.assertExit(r, 2)
        self.assertIn("--no-es skips them", r.err)
        self.assertEqual(release_dbs("no"), "0")


if __name__ == "__main__":
    unittest.main()
