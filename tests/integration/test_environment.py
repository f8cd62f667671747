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
import sys
import tempfile
import time
import unittest

import yaml

from g3test import BIN, ROOT, pgcluster, run, secret
from test_es import EsServer
from test_k8s import NAMESPACE, TOKEN, FakeApiServer, make_cert

S3DIR = os.path.join(ROOT, "tests", "s3")
SERVICES = ["arborist", "fence", "indexd", "sheepdog"]
INDICES = ["dev_array-config", "dev_case", "dev_file"]
PREFIX = "myenv/v1"

PG = ES = API = None
TMP = DATA = LAYOUT = SA = None
S3 = {}
REF = {}      # service -> {table: fingerprint} of the psql -f load
DOCS = {}     # index -> {id: source} of its data file


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            if line.startswith("export "):
                k, v = line[7:].strip().split("=", 1)
                env[k] = v.strip("'")
    return env


def fingerprint(db):
    tables = PG.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                     "ORDER BY 1", db=db).split()
    return {t: PG.psql("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' "
                       "ORDER BY t::text)), '') FROM %s t" % t, db=db) for t in tables}


def file_docs(path):
    docs = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                hit = json.loads(line)
                docs[hit["_id"]] = hit["_source"]
    return docs


def setUpModule():
    global PG, ES, API, TMP, DATA, LAYOUT, SA
    if not os.path.isfile(os.path.join(S3DIR, "node_modules", "s3rver", "package.json")):
        raise AssertionError("s3rver is not installed: run tests/s3/install.sh first")
    TMP = tempfile.mkdtemp(prefix="gen3db-env-")
    PG = pgcluster.PgCluster().start()
    secret(PG.password)
    ES = EsServer("es7")
    subprocess.run([os.path.join(S3DIR, "s3env.sh"), "start", TMP], check=True,
                   stdout=subprocess.DEVNULL)
    S3.update(read_env(os.path.join(TMP, "s3.env")))
    secret(S3["AWS_SECRET_ACCESS_KEY"])
    key, crt = make_cert(TMP, "api")
    API = FakeApiServer(key, crt)
    SA = os.path.join(TMP, "serviceaccount")
    os.mkdir(SA)
    with open(os.path.join(SA, "token"), "w") as f:
        f.write(TOKEN)
    with open(os.path.join(SA, "namespace"), "w") as f:
        f.write(NAMESPACE)
    shutil.copy(crt, os.path.join(SA, "ca.crt"))

    DATA = os.path.join(TMP, "ds")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen3gen.py"), "--out", DATA,
                    "--size", "2MB", "--quiet"], check=True)
    # the gen3 layout, locally and in the bucket
    LAYOUT = os.path.join(TMP, "layout")
    os.makedirs(os.path.join(LAYOUT, "pgdumps"))
    os.makedirs(os.path.join(LAYOUT, "elasticsearch"))
    for s in SERVICES:
        shutil.copy(os.path.join(DATA, "pg", s + ".sql"), os.path.join(LAYOUT, "pgdumps"))
    for name in os.listdir(os.path.join(DATA, "es")):
        shutil.copy(os.path.join(DATA, "es", name), os.path.join(LAYOUT, "elasticsearch"))
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
        DOCS[ix] = file_docs(os.path.join(DATA, "es", ix + "__data.json"))


def tearDownModule():
    if API:
        API.stop()
    if ES:
        ES.stop()
    if TMP:
        subprocess.run([os.path.join(S3DIR, "s3env.sh"), "stop", TMP], check=False,
                       stdout=subprocess.DEVNULL)
    if PG:
        PG.stop()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


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
    for s in SERVICES:
        PG.psql('DROP DATABASE IF EXISTS "%s_%s" WITH (FORCE)' % (s, release))


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


if __name__ == "__main__":
    unittest.main()
