"""gen3db restore --on-existing refuse|skip|replace and --keep-versions, against
the throwaway PostgreSQL, the Elasticsearch test double (tests/esd) and the
HTTPS stand-in for the Kubernetes API of test_k8s.

skip is what a Kubernetes Job needs when its pod reruns the same command: a
target that is in place is left exactly as it is (checked with row counts
and an md5 of every table, after changing the data so that a reload would
show), reported "skipped", and dbcreated is still patched; a restore that
failed or was killed half-way never leaves anything a rerun would skip.
--keep-versions deletes only earlier versions gen3db made for the alias.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import g3test
from g3services import module_api, module_es
from g3test import BIN, gen3_dataset, helm_layout, module_pg, module_tmp, psql_load, run, secret

SERVICES = ["arborist", "fence", "indexd"]
INDICES = ["dev_array-config", "dev_case", "dev_file"]

PG = ES = API = None
TMP = DATA = LAYOUT = SA = None
REF = {}      # service -> {table: fingerprint} of the psql -f load


def fingerprint(db):
    return g3test.fingerprint(PG, db)


def biggest_table(db):
    return PG.psql("SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables "
                   "ORDER BY n_live_tup DESC, relname LIMIT 1", db=db)


def tamper(db):
    """Deletes some rows of db's biggest table (no foreign key points at the
    rows chosen) so that a reload would show; returns the fingerprint."""
    t = biggest_table(db)
    PG.psql("ALTER TABLE %s DISABLE TRIGGER ALL" % t, db=db)
    PG.psql("DELETE FROM %s WHERE ctid IN (SELECT ctid FROM %s LIMIT 3)" % (t, t), db=db)
    PG.psql("ALTER TABLE %s ENABLE TRIGGER ALL" % t, db=db)
    return fingerprint(db)


def setUpModule():
    global PG, ES, API, TMP, DATA, LAYOUT, SA
    TMP = module_tmp("gen3db-onex-")
    PG = module_pg()
    ES = module_es("es7")
    API, SA = module_api(TMP)
    DATA = gen3_dataset(os.path.join(TMP, "ds"), "2MB", services=SERVICES)
    LAYOUT = helm_layout(DATA, os.path.join(TMP, "layout"), SERVICES)
    for s in SERVICES:
        psql_load(PG, "ref_" + s, os.path.join(DATA, "pg", s + ".sql"))
        REF[s] = fingerprint("ref_" + s)


def env(**extra):
    e = PG.env()
    for k in ("SERVICE_PGDB", "SERVICE_PGUSER", "SERVICE_PGPASS", "BUCKET", "ENVIRONMENT",
              "VERSION", "ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "JOB_COMPLETION_INDEX",
              "GEN3DB_K8S_API", "GEN3DB_K8S_SA_DIR", "KUBERNETES_SERVICE_HOST",
              "GEN3DB_PRINT_OPTIONS"):
        e.pop(k, None)
    e["HOME"] = TMP
    e.update({k: v for k, v in extra.items() if v is not None})
    return e


def k8s_env(**extra):
    return env(GEN3DB_K8S_API="https://127.0.0.1:%d" % API.port, GEN3DB_K8S_SA_DIR=SA, **extra)


def drop(*dbs):
    for db in dbs:
        for suffix in ("", "__gen3db_restore", "__gen3db_old"):
            PG.psql('DROP DATABASE IF EXISTS "%s%s" WITH (FORCE)' % (db, suffix))


class OnExistingPgTest(unittest.TestCase):
    def assertExit(self, r, code):
        self.assertEqual(r.code, code, repr(r))

    def dump(self, service):
        return os.path.join(LAYOUT, "pgdumps", service + ".sql")

    def restore(self, service, db, *args, password=None, envf=env):
        return run(["restore", self.dump(service), "--database", db] + list(args),
                   env=envf(SERVICE_PGPASS=secret(password or "Pw-%s-9qZ" % db)))

    def test_skip_refuse_replace_clean(self):
        db = "fence_onex"
        drop(db)
        self.assertExit(self.restore("fence", db), 0)
        self.assertEqual(fingerprint(db), REF["fence"])
        changed = tamper(db)
        self.assertNotEqual(changed, REF["fence"])

        # refuse, by default and by name: exit 2, untouched
        for extra in ([], ["--on-existing", "refuse"]):
            r = self.restore("fence", db, *extra)
            self.assertExit(r, 2)
            self.assertIn('database "%s" already has' % db, r.err)
            self.assertIn("--on-existing skip leaves it as it is", r.err)
            self.assertEqual(fingerprint(db), changed)

        # skip: exit 0, byte-identical, "skipped" on stderr and in --json,
        # dbcreated still patched (the role logs in)
        API.reset("fence-dbcreds")
        r = self.restore("fence", db, "--on-existing", "skip", "--json", "--patch-secret",
                         "--secret-name", "fence-dbcreds", envf=k8s_env)
        self.assertExit(r, 0)
        self.assertEqual(fingerprint(db), changed)
        self.assertIn('skipped database "%s"' % db, r.err)
        report = json.loads(r.out)
        self.assertEqual([(d["database"], d["status"]) for d in report["databases"]],
                         [(db, "skipped")])
        self.assertEqual(API.patched(), ["fence-dbcreds"])
        self.assertEqual(API.secrets["fence-dbcreds"]["dbcreated"], "dHJ1ZQ==")
        self.assertEqual(PG.psql("SELECT string_agg(datname, ',') FROM pg_database WHERE "
                                 "datname LIKE 'fence\\_onex\\_%'"), "")

        # replace: the dump's content again; --clean is the same
        r = self.restore("fence", db, "--on-existing", "replace", "--json")
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["databases"][0]["status"], "restored")
        self.assertEqual(fingerprint(db), REF["fence"])
        self.assertEqual(tamper(db), changed)
        self.assertExit(self.restore("fence", db, "--clean"), 0)
        self.assertEqual(fingerprint(db), REF["fence"])
        self.assertExit(self.restore("fence", db, "--clean", "--on-existing", "replace"), 0)
        self.assertEqual(fingerprint(db), REF["fence"])

    def test_usage_errors(self):
        for value in ("refuse", "skip"):
            r = self.restore("fence", "fence_usage", "--clean", "--on-existing", value)
            self.assertExit(r, 2)
            self.assertIn("--clean and --on-existing %s contradict each other" % value, r.err)
        r = self.restore("fence", "fence_usage", "--on-existing", "keep")
        self.assertExit(r, 2)
        self.assertIn('--on-existing must be refuse|skip|replace, not "keep"', r.err)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                 "'fence_usage%'"), "0")

    def test_empty_database_from_create_is_restored(self):
        db = "indexd_onexc"
        drop(db)
        pw = secret("Pw-%s-9qZ" % db)
        r = run(["create"], env=env(SERVICE_PGDB=db, SERVICE_PGUSER=db, SERVICE_PGPASS=pw))
        self.assertExit(r, 0)
        r = self.restore("indexd", db, "--on-existing", "skip", "--json", password=pw)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["databases"][0]["status"], "restored")
        self.assertEqual(fingerprint(db), REF["indexd"])

    def test_killed_restore_is_not_skipped(self):
        """SIGKILL half-way: only the side database has data; a rerun with
        skip restores (and drops what the killed run left)."""
        db = "arborist_onexk"
        drop(db)
        pw = secret("Pw-%s-9qZ" % db)
        with open(self.dump("arborist"), "rb") as f:
            data = f.read()
        # all but its closing lines: the load waits for the rest
        cut = data.rindex(b"\n\\.\n") + 4
        p = subprocess.Popen([BIN, "restore", "-", "--database", db], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env(SERVICE_PGPASS=pw))
        side = db + "__gen3db_restore"
        try:
            p.stdin.write(data[:cut])
            p.stdin.flush()
            deadline = time.time() + 60
            while time.time() < deadline:
                if PG.psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % side) == "1":
                    r = PG.psql("SELECT count(*) FROM pg_stat_user_tables", db=side, check=False)
                    if r.returncode == 0 and r.stdout.strip() not in ("", "0"):
                        break
                time.sleep(0.05)
            else:
                self.fail("the side database never appeared")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % db),
                         "0", "a killed run must not leave the target's name")
        r = self.restore("arborist", db, "--on-existing", "skip", "--json", password=pw)
        self.assertExit(r, 0)
        self.assertEqual(json.loads(r.out)["databases"][0]["status"], "restored")
        self.assertEqual(fingerprint(db), REF["arborist"])
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname = '%s'" % side),
                         "0")


class OnExistingEnvironmentTest(unittest.TestCase):
    def setUp(self):
        ES.reset()
        self.tmp = tempfile.mkdtemp(dir=TMP)

    def assertExit(self, r, code):
        self.assertEqual(r.code, code, repr(r))

    def statuses(self, r):
        report = json.loads(r.out)
        return {x["name"]: x["status"] for x in report["services"] + report["indices"]}

    def test_rerun_with_skip_resumes(self):
        release = "onexr"
        drop(*["%s_%s" % (s, release) for s in SERVICES])
        lay = os.path.join(self.tmp, "layout")
        shutil.copytree(LAYOUT, lay)
        broken = os.path.join(lay, "pgdumps", "indexd.sql")
        with open(broken, "a") as f:
            f.write("\nCOPY public.no_such_table (a) FROM stdin;\n1\n\\.\n")
        out = os.path.join(self.tmp, "secrets.yaml")
        args = ["restore", lay, "--release", release, "--es", ES.url, "--secret-out", out,
                "--json"]
        r = run(args, env=env())
        self.assertExit(r, 1)
        st = self.statuses(r)
        self.assertEqual(st.pop("indexd"), "failed")
        self.assertEqual(set(st.values()), {"restored"})
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                 "'indexd_%s%%'" % release), "0")
        # what the first run restored, changed so that a reload would show
        kept = {s: tamper("%s_%s" % (s, release)) for s in ("arborist", "fence")}
        ES.req("DELETE", "/dev_case_0/_doc/%s?refresh=true"
               % urllib.parse.quote(sorted(ES.docs("dev_case"))[0], safe=""))
        docs = {ix: ES.docs(ix) for ix in INDICES}
        before = ES.indices()

        shutil.copy(os.path.join(LAYOUT, "pgdumps", "indexd.sql"), broken)
        r = run(args + ["--on-existing", "skip"], env=env())
        self.assertExit(r, 0)
        self.assertEqual(self.statuses(r), {"arborist": "skipped", "fence": "skipped",
                                            "indexd": "restored", "dev_array-config": "skipped",
                                            "dev_case": "skipped", "dev_file": "skipped"})
        self.assertEqual(json.loads(r.out)["status"], "ok")
        self.assertRegex(r.err, r"service arborist\s+arborist_%s\s.*skipped" % release)
        self.assertRegex(r.err, r"index\s+dev_case\s.*skipped")
        for s, fp in kept.items():
            self.assertEqual(fingerprint("%s_%s" % (s, release)), fp)
        self.assertEqual(fingerprint("indexd_%s" % release), REF["indexd"])
        self.assertEqual({ix: ES.docs(ix) for ix in INDICES}, docs)
        self.assertEqual(ES.indices(), before)

        # a third run, in a pod with --patch-secret: all skipped, every
        # Secret still gets dbcreated
        API.reset(*["%s-dbcreds" % s for s in SERVICES])
        r = run(args + ["--on-existing", "skip", "--patch-secret"], env=k8s_env())
        self.assertExit(r, 0)
        self.assertEqual(set(self.statuses(r).values()), {"skipped"})
        self.assertEqual(sorted(API.patched()), ["%s-dbcreds" % s for s in SERVICES])

    def test_existing_concrete_index_skipped(self):
        lay = os.path.join(self.tmp, "esonly")
        os.makedirs(os.path.join(lay, "elasticsearch"))
        for kind in ("mapping", "data"):
            shutil.copy(os.path.join(LAYOUT, "elasticsearch", "dev_file__%s.json" % kind),
                        os.path.join(lay, "elasticsearch"))
        ES.req("PUT", "/dev_file", {})
        ES.req("PUT", "/dev_file/_doc/mine?refresh=true", {"x": 1})
        base = ["restore", lay, "--release", "onexi", "--es", ES.url, "--index", "dev_file",
                "--json"]
        r = run(base, env=env())
        self.assertExit(r, 1)
        self.assertEqual(self.statuses(r), {"dev_file": "failed"})
        self.assertIn('index "dev_file" already exists', r.err)
        r = run(base + ["--on-existing", "skip"], env=env())
        self.assertExit(r, 0)
        self.assertEqual(self.statuses(r), {"dev_file": "skipped"})
        self.assertEqual(ES.indices(), {"dev_file": []})
        self.assertEqual(ES.docs("dev_file"), {"mine": {"x": 1}})


class OnExistingSnapshotTest(unittest.TestCase):
    """A snapshot of two databases and an index: the targets in place are
    read through (every check still made) and left, the others restored."""

    def test_snapshot_skip_some(self):
        ES.reset()
        snap = os.path.join(TMP, "two.tar.zst")
        r = run(["restore-es", os.path.join(DATA, "es"), "--es", ES.url, "--index", "dev_case"],
                env=env())
        self.assertEqual(r.code, 0, repr(r))
        r = run(["dump", "--database", "ref_arborist", "--database", "ref_fence", "--es", ES.url,
                 "--index", "dev_case", "--output", snap, "--quiet"], env=env())
        self.assertEqual(r.code, 0, repr(r))
        ES.reset()
        drop("arborist_onexs", "fence_onexs")
        for role in ("arborist_onexs", "fence_onexs"):   # loaded through SET ROLE
            PG.psql("DO $$BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object "
                    "THEN NULL; END$$" % role)
        args = ["restore", snap, "--map", "ref_arborist=arborist_onexs", "--map",
                "ref_fence=fence_onexs", "--es", ES.url, "--json"]
        r = run(args, env=env())
        self.assertEqual(r.code, 0, repr(r))
        kept = tamper("arborist_onexs")
        drop("fence_onexs")
        ES.req("DELETE", "/dev_case_0/_doc/%s?refresh=true"
               % urllib.parse.quote(sorted(ES.docs("dev_case"))[0], safe=""))
        docs = ES.docs("dev_case")
        r = run(args + ["--on-existing", "skip"], env=env())
        self.assertEqual(r.code, 0, repr(r))
        report = json.loads(r.out)
        self.assertEqual({d["database"]: d["status"] for d in report["databases"]},
                         {"arborist_onexs": "skipped", "fence_onexs": "restored"})
        self.assertEqual([(i["name"], i["status"]) for i in report["indices"]],
                         [("dev_case", "skipped")])
        self.assertEqual(fingerprint("arborist_onexs"), kept)
        self.assertEqual(fingerprint("fence_onexs"), REF["fence"])
        self.assertEqual(ES.docs("dev_case"), docs)
        self.assertEqual(ES.indices(), {"dev_case_0": ["dev_case"]})
        # without skip the same run is refused before anything changes
        r = run(args, env=env())
        self.assertEqual(r.code, 2, repr(r))
        self.assertEqual(fingerprint("arborist_onexs"), kept)


def marker(target, complete=True):
    return {"mappings": {"_meta": {"gen3db": {"target": target, "complete": complete}},
                         "properties": {"x": {"type": "integer"}}}}


class KeepVersionsTest(unittest.TestCase):
    NAME = "dev_case"

    def setUp(self):
        ES.reset()

    def restore(self, *args):
        return run(["restore-es", os.path.join(DATA, "es"), "--es", ES.url, "--wait", "5",
                    "--index", self.NAME, "--json"] + list(args), env=env())

    def versions(self):
        return {k: v for k, v in ES.indices().items() if k.startswith(self.NAME + "_")}

    def test_default_keeps_the_previous_version(self):
        for i in range(4):
            r = self.restore()
            self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(self.versions(), {"dev_case_2": [], "dev_case_3": ["dev_case"]})
        self.assertEqual(json.loads(r.out)["indices"][0]["deleted_versions"], ["dev_case_1"])
        self.assertIn('deleted "dev_case_1", an earlier version of "dev_case"', r.err)

    def test_keep_zero_and_two(self):
        for i in range(4):
            self.assertEqual(self.restore("--keep-versions", "2").code, 0)
        self.assertEqual(self.versions(), {"dev_case_1": [], "dev_case_2": [],
                                           "dev_case_3": ["dev_case"]})
        r = self.restore("--keep-versions", "0")
        self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(self.versions(), {"dev_case_4": ["dev_case"]})
        self.assertEqual(sorted(json.loads(r.out)["indices"][0]["deleted_versions"]),
                         ["dev_case_1", "dev_case_2", "dev_case_3"])
        r = self.restore("--keep-versions", "-1")
        self.assertEqual(r.code, 2)
        self.assertIn("--keep-versions must be a whole number from 0 to 1000", r.err)

    def test_failed_restore_deletes_nothing(self):
        """Versions go only after the alias moved: a restore that fails
        (a data line that is not JSON) leaves every version."""
        for i in range(2):
            self.assertEqual(self.restore().code, 0)
        bad = tempfile.mkdtemp(dir=TMP)
        for kind in ("mapping", "data"):
            shutil.copy(os.path.join(DATA, "es", "dev_case__%s.json" % kind), bad)
        with open(os.path.join(bad, "dev_case__data.json"), "a") as f:
            f.write("{not json\n")
        r = run(["restore-es", bad, "--es", ES.url, "--wait", "5", "--index", self.NAME,
                 "--keep-versions", "0"], env=env())
        self.assertEqual(r.code, 1, repr(r))
        self.assertEqual(self.versions(), {"dev_case_0": [], "dev_case_1": ["dev_case"]})

    def test_whole_environment_restore_keeps_versions_too(self):
        args = ["restore", LAYOUT, "--release", "onexv", "--es", ES.url, "--index", self.NAME,
                "--json"]
        for i in range(3):
            r = run(args, env=env())
            self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(self.versions(), {"dev_case_1": [], "dev_case_2": ["dev_case"]})
        r = run(args + ["--keep-versions", "0"], env=env())
        self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(self.versions(), {"dev_case_3": ["dev_case"]})

    def test_foreign_indices_are_never_deleted(self):
        # NAME_7 without a marker, NAME_8 with gen3db's marker for another
        # name, NAME_9 incomplete (another restore may be loading it),
        # NAME_10 ours but also behind another alias
        ES.req("PUT", "/dev_case_7", {"mappings": {"properties": {"x": {"type": "integer"}}}})
        ES.req("PUT", "/dev_case_8", marker("dev_file"))
        ES.req("PUT", "/dev_case_9", marker("dev_case", complete=False))
        ES.req("PUT", "/dev_case_10", marker("dev_case"))
        ES.req("POST", "/_aliases", {"actions": [
            {"add": {"index": "dev_case_10", "alias": "g3t_other"}}]})
        ES.req("POST", "/_aliases", {"actions": [   # not a leftover: it has an alias
            {"add": {"index": "dev_case_9", "alias": "g3t_busy"}}]})
        for i in range(3):
            r = self.restore("--keep-versions", "0")
            self.assertEqual(r.code, 0, repr(r))
        v = self.versions()
        self.assertEqual(v["dev_case_7"], [])
        self.assertEqual(v["dev_case_8"], [])
        self.assertEqual(v["dev_case_9"], ["g3t_busy"])
        self.assertEqual(v["dev_case_10"], ["g3t_other"])
        # numbered above the highest: 11, 12, 13; only the last is left of ours
        self.assertEqual(sorted(k for k in v if k not in ("dev_case_7", "dev_case_8",
                                                          "dev_case_9", "dev_case_10")),
                         ["dev_case_13"])
        self.assertEqual(v["dev_case_13"], ["dev_case"])


if __name__ == "__main__":
    unittest.main()
