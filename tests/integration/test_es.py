"""Integration tests of `gen3db restore-es`, `gen3db dump-es` and `gen3db dump
--es --output DIR/`.

They run the built binary (GEN3DB_BIN, default build/gen3db) against the
Elasticsearch test double tests/esd/es_test_server.py, one server per flavor
(es6, es7, es8, opensearch2) started in setUpModule, and check exit codes,
messages and every document that arrived.

With GEN3DB_TEST_ES_URL set, the tests run against that real cluster
instead (flavor-specific servers are replaced by it). Tests that need the
double's fault injection or special server options are then reported as
skipped with the reason "not applicable against a real cluster". The suite
deletes the indices it uses (dev_case*, dev_file*, dev_array-config*,
g3t_*) on that cluster.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from g3services import REAL_URL, EsServer, module_es  # noqa: E402
from g3test import gen3_dataset, module_tmp  # noqa: E402

INDICES = ["dev_case", "dev_file", "dev_array-config"]
FLAVORS = ["es6", "es7", "es8", "opensearch2"]
NA = "not applicable against a real cluster (GEN3DB_TEST_ES_URL): needs the test double's %s"


SERVERS = {}
FIXTURE = None


def server(flavor="es7"):
    if REAL_URL:
        flavor = "real"
    if flavor not in SERVERS:
        SERVERS[flavor] = module_es(flavor if flavor != "real" else "es7")
    return SERVERS[flavor]


def setUpModule():
    global FIXTURE
    FIXTURE = gen3_dataset(module_tmp("g3es-fixture-"), "2MB", seed=1, services=["fence"])


def read_ndjson(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                hit = json.loads(line)
                out[hit["_id"]] = hit["_source"]
    return out


def run(args, env=None, timeout=300):
    e = dict(os.environ)
    for k in ("ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "ES_USERNAME", "ES_PASSWORD",
              "ES_API_KEY"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=e, timeout=timeout)


class EsTestCase(unittest.TestCase):
    flavor = "es7"

    def setUp(self):
        self.es = server(self.flavor)
        self.es.reset()
        self.tmp = tempfile.mkdtemp(prefix="g3es-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def need_double(self, what="fault injection API"):
        if REAL_URL:
            self.skipTest(NA % what)

    def restore(self, *args, src=None, env=None, indices=INDICES):
        argv = ["restore-es", src or os.path.join(FIXTURE, "es"), "--es", self.es.url, "--wait", "5"]
        for i in indices:
            argv += ["--index", i]
        return run(argv + list(args), env=env)

    def copy_fixture(self, indices=INDICES):
        d = os.path.join(self.tmp, "src")
        os.makedirs(d, exist_ok=True)
        for i in indices:
            for kind in ("mapping", "settings", "data"):
                p = os.path.join(FIXTURE, "es", "%s__%s.json" % (i, kind))
                if os.path.exists(p):
                    shutil.copy(p, d)
        return d

    def write_docs(self, d, index, docs, mapping=None):
        """A small index in elasticdump files: docs is [(id, source)]."""
        os.makedirs(d, exist_ok=True)
        mapping = mapping or {"properties": {"name": {"type": "keyword"}, "n": {"type": "long"}}}
        with open(os.path.join(d, index + "__mapping.json"), "w") as f:
            json.dump({index + "_0": {"mappings": mapping}}, f)
        with open(os.path.join(d, index + "__data.json"), "w", encoding="utf-8") as f:
            for doc_id, src in docs:
                f.write(json.dumps({"_index": index + "_0", "_type": "_doc", "_id": doc_id,
                                    "_score": 1, "_source": src}, ensure_ascii=False) + "\n")

    def assert_fixture_restored(self, suffix="_0"):
        idx = self.es.indices()
        for name in INDICES:
            self.assertEqual(idx.get(name + suffix), [name], idx)
            want = read_ndjson(os.path.join(FIXTURE, "es", name + "__data.json"))
            got = self.es.docs(name)
            self.assertEqual(len(got), len(want), name)
            self.assertEqual(got, want, name)


def flavor_case(flavor):
    class FlavorRestore(EsTestCase):
        def test_restore_every_document(self):
            r = self.restore()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_fixture_restored()
            for name in INDICES:
                self.assertIn('restored index "%s" (%s_0)' % (name, name), r.stderr)
            # loading settings were put back
            _, st = self.es.req("GET", "/dev_case_0/_settings")
            s = st["dev_case_0"]["settings"]["index"]
            self.assertEqual(s["number_of_replicas"], "0")
            self.assertNotEqual(s.get("refresh_interval"), "-1")

        def test_dump_restore_dump_identical(self):
            r = self.restore()
            self.assertEqual(r.returncode, 0, r.stderr)
            d1, d2 = os.path.join(self.tmp, "d1"), os.path.join(self.tmp, "d2")
            args = ["dump-es", "--es", self.es.url, "--wait", "5", "--page-size", "100"]
            for i in INDICES:
                args += ["--index", i]
            r = run(args + ["--output", d1])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.es.reset()
            r = self.restore(src=d1)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run(args + ["--output", d2])
            self.assertEqual(r.returncode, 0, r.stderr)
            for i in INDICES:
                want = read_ndjson(os.path.join(FIXTURE, "es", i + "__data.json"))
                self.assertEqual(read_ndjson(os.path.join(d1, i + "__data.json")), want, i)
                self.assertEqual(read_ndjson(os.path.join(d2, i + "__data.json")), want, i)
                for kind in ("mapping", "settings", "alias"):
                    with open(os.path.join(d1, "%s__%s.json" % (i, kind))) as f1, \
                            open(os.path.join(d2, "%s__%s.json" % (i, kind))) as f2:
                        self.assertEqual(json.load(f1), json.load(f2), (i, kind))
                # elasticdump's encoding: settings and aliases as a JSON string
                with open(os.path.join(d1, i + "__alias.json")) as f:
                    self.assertIsInstance(json.load(f), str)
                with open(os.path.join(d1, i + "__settings.json")) as f:
                    s = json.loads(json.load(f))[i + "_0"]["settings"]["index"]
                for k in ("uuid", "creation_date", "version", "provided_name"):
                    self.assertNotIn(k, s)

    FlavorRestore.flavor = flavor
    FlavorRestore.__name__ = FlavorRestore.__qualname__ = "TestRestore_" + flavor
    return FlavorRestore


if REAL_URL:
    TestRestore_real = flavor_case("real")
else:
    for _f in FLAVORS:
        globals()["TestRestore_" + _f] = flavor_case(_f)
    del _f


class TestRestoreCommand(EsTestCase):
    """`gen3db restore DIR --es URL`: a directory of elasticdump files is
    restored as restore-es (its alias) restores it, with the same options,
    report and result."""

    def restore_cmd(self, *args, src=None, indices=INDICES):
        argv = ["restore", src or os.path.join(FIXTURE, "es"), "--es", self.es.url, "--wait", "5"]
        for i in indices:
            argv += ["--index", i]
        return run(argv + list(args))

    def state(self):
        return self.es.indices(), {name: self.es.docs(name) for name in INDICES}

    @staticmethod
    def report(out):
        rep = json.loads(out)
        for ix in rep["indices"]:
            ix.pop("seconds")
        return rep

    def test_same_result_as_restore_es(self):
        r = self.restore("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        want, want_report = self.state(), self.report(r.stdout)
        self.es.reset()
        r = self.restore_cmd("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_fixture_restored()
        self.assertEqual(self.state(), want)
        self.assertEqual(self.report(r.stdout), want_report)
        for name in INDICES:
            self.assertIn('restored index "%s" (%s_0)' % (name, name), r.stderr)
        # restore-es's options: a second version, no earlier one kept
        r = self.restore_cmd("--keep-versions", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        idx = self.es.indices()
        for name in INDICES:
            self.assertEqual(idx.get(name + "_1"), [name], idx)
            self.assertNotIn(name + "_0", idx)
            self.assertIn('deleted "%s_0", an earlier version of "%s" (--keep-versions 0)'
                          % (name, name), r.stderr)
        # a rerun with --on-existing skip leaves it as it is
        before = self.state()
        r = self.restore_cmd("--on-existing", "skip", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted((x["name"], x["status"]) for x in json.loads(r.stdout)["indices"]),
                         sorted((name, "skipped") for name in INDICES))
        self.assertEqual(self.state(), before)

    def test_every_index_of_the_directory(self):
        src = self.copy_fixture()
        r = run(["restore", src, "--es", self.es.url, "--wait", "5"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('restoring every index in "%s": %d found' % (src, len(INDICES)), r.stderr)
        self.assert_fixture_restored()

    def test_multielasticdump_files(self):
        d = os.path.join(self.tmp, "multi")
        os.makedirs(d)
        docs = [("a", {"name": "x", "n": 1}), ("b", {"name": "y", "n": 2})]
        with open(os.path.join(d, "g3t_multi.mapping.json"), "w") as f:
            json.dump({"g3t_multi": {"mappings": {"properties": {
                "name": {"type": "keyword"}, "n": {"type": "long"}}}}}, f)
        with open(os.path.join(d, "g3t_multi.json"), "w") as f:
            for doc_id, src in docs:
                f.write(json.dumps({"_index": "g3t_multi", "_type": "_doc", "_id": doc_id,
                                    "_source": src}) + "\n")
        r = run(["restore", d, "--es", self.es.url, "--wait", "5"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.docs("g3t_multi"), dict(docs))

    def test_options_that_do_not_apply(self):
        src = self.copy_fixture()
        for extra, option in ((["--database", "x"], "--database"),
                              (["--service", "fence"], "--service"),
                              (["--no-es"], "--no-es")):
            r = run(["restore", src, "--es", self.es.url, "--wait", "5"] + extra)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn('"%s" is a directory of elasticdump files (indices only): %s does not '
                          'apply to it' % (src, option), r.stderr)
        r = run(["restore", src, "--es", self.es.url, "--table", "node"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("apply to a snapshot or one dump", r.stderr)
        self.assertEqual(self.es.indices(), {})

    def test_a_gen3_layout_stays_a_whole_environment(self):
        # elasticdump files under elasticsearch/ are a whole environment's
        d = os.path.join(self.tmp, "env")
        shutil.copytree(self.copy_fixture(), os.path.join(d, "elasticsearch"))
        r = run(["restore", d, "--es", self.es.url, "--wait", "5"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no release name for a whole-environment restore", r.stderr)
        self.assertEqual(self.es.indices(), {})


class TestErrors(EsTestCase):
    def test_malformed_line_names_file_and_line(self):
        d = self.copy_fixture(["dev_case"])
        path = os.path.join(d, "dev_case__data.json")
        with open(path) as f:
            lines = f.readlines()
        lines[6] = lines[6][: len(lines[6]) // 2] + "\n"
        with open(path, "w") as f:
            f.writelines(lines)
        r = self.restore(src=d, indices=["dev_case"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('"%s" line 7 is not valid JSON' % path, r.stderr)
        self.assertIn('deleted the partial index "dev_case_0"', r.stderr)
        self.assertEqual(self.es.indices(), {})

    def test_mapping_not_json(self):
        d = self.copy_fixture(["dev_case", "dev_file"])
        path = os.path.join(d, "dev_file__mapping.json")
        with open(path, "w") as f:
            f.write('{"dev_file_0": {"mappings": {"properties": {"a": }}}}\n')
        r = self.restore(src=d, indices=["dev_case", "dev_file"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('"%s" is not valid JSON' % path, r.stderr)
        self.assertEqual(self.es.indices(), {}, "nothing may be written")

    def test_missing_files(self):
        r = self.restore(src=self.tmp, indices=["nothere"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('no mapping file for index "nothere"', r.stderr)

    def test_mapping_conflict_reports_ids(self):
        d = os.path.join(self.tmp, "src")
        docs = [("doc-%d" % i, {"name": "x%d" % i, "n": i}) for i in range(50)]
        docs[17] = ("bad-17", {"name": "y", "n": "not a number"})
        self.write_docs(d, "g3t_conflict", docs)
        r = self.restore(src=d, indices=["g3t_conflict"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('document "bad-17"', r.stderr)
        self.assertIn("mapper_parsing_exception", r.stderr)
        self.assertIn('index "g3t_conflict" was not restored', r.stderr)
        self.assertEqual(self.es.indices(), {})

    def test_existing_concrete_index_refused_then_clean(self):
        self.es.req("PUT", "/dev_case", {})
        self.es.req("PUT", "/dev_case/_doc/keep?refresh=true", {"x": 1})
        r = self.restore(indices=["dev_case"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('index "dev_case" already exists', r.stderr)
        self.assertIn("hint: give --clean", r.stderr)
        self.assertEqual(self.es.indices(), {"dev_case": []})
        r = self.restore("--clean", indices=["dev_case"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.indices(), {"dev_case_0": ["dev_case"]})

    def test_second_restore_switches_alias(self):
        self.assertEqual(self.restore().returncode, 0)
        r = self.restore()
        self.assertEqual(r.returncode, 0, r.stderr)
        idx = self.es.indices()
        for name in INDICES:
            self.assertEqual(idx[name + "_0"], [])
            self.assertEqual(idx[name + "_1"], [name])
        r = self.restore("--clean")
        self.assertEqual(r.returncode, 0, r.stderr)
        idx = self.es.indices()
        for name in INDICES:
            self.assertNotIn(name + "_1", idx)
            self.assertEqual(idx[name + "_2"], [name])

    def test_no_alias(self):
        r = self.restore("--no-alias")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.indices(), {n: [] for n in INDICES})
        self.assert_fixture_restored_concrete()

    def assert_fixture_restored_concrete(self):
        for name in INDICES:
            want = read_ndjson(os.path.join(FIXTURE, "es", name + "__data.json"))
            self.assertEqual(self.es.docs(name), want)

    def test_indices_from_helm_env(self):
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--wait", "5"],
                env={"ESHOST": self.es.url.replace("http://", ""),
                     "GUPPY_INDICES": "dev_case, dev_file", "GUPPY_CONFIGINDEX": "dev_array-config"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_fixture_restored()

    def test_every_index_in_the_directory(self):
        # neither --index nor GUPPY_*: every index DIR (here DIR/es) holds
        r = run(["restore-es", FIXTURE, "--es", self.es.url, "--wait", "5", "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(i["name"] for i in json.loads(r.stdout)["indices"]),
                         sorted(INDICES))
        self.assertIn('restoring every index in "%s": %d found' % (FIXTURE, len(INDICES)),
                      r.stderr)
        self.assert_fixture_restored()

    def test_no_index_in_the_directory(self):
        d = os.path.join(self.tmp, "nothing")
        os.makedirs(os.path.join(d, "es"))
        with open(os.path.join(d, "es", "dev_case.json"), "w") as f:
            f.write("{}\n")
        n = self.es.stats()["requests"] if not REAL_URL else None
        r = run(["restore-es", d, "--es", self.es.url])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, 'gen3db: no index to restore in "%s": it holds no '
                         '<index>__mapping.json, <index>__data.json, <index>.mapping.json '
                         'or <index>.index.json, nor does "%s/es"\n'
                         'hint: found instead: "dev_case.json"\n' % (d, d))
        if n is not None:
            # the only request since is this stats call
            self.assertEqual(self.es.stats()["requests"], n + 1, "no request for nothing")
        # a named index that is not there: the hint lists the ones that are
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--es", self.es.url, "--wait", "5",
                 "--index", "dev_nosuch"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('hint: indices found in "%s": %s\n' % (
            os.path.join(FIXTURE, "es"), ", ".join('"%s"' % i for i in sorted(INDICES))),
            r.stderr)
        self.assertEqual(self.es.indices(), {})

    def test_hostile_index_name_from_a_file_name(self):
        d = os.path.join(self.tmp, "hostile")
        os.makedirs(d)
        for kind in ("mapping", "data"):
            shutil.copy(os.path.join(FIXTURE, "es", "dev_case__%s.json" % kind),
                        os.path.join(d, "_all__%s.json" % kind))
        r = run(["restore-es", d, "--es", self.es.url, "--clean"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('invalid Elasticsearch index name "_all" (from a file name in "%s")' % d,
                      r.stderr)
        self.assertEqual(self.es.indices(), {})

    def test_awkward_ids(self):
        ids = ["a/b", "what?", "hash#tag", "100%", "with space", "ünïcødé ✓", "q\"uote",
               "back\\slash", "..", "a+b&c=d", "dg.4503/0f0e-…"]
        d = os.path.join(self.tmp, "src")
        self.write_docs(d, "g3t_ids", [(i, {"name": i, "n": k}) for k, i in enumerate(ids)])
        r = self.restore(src=d, indices=["g3t_ids"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for k, i in enumerate(ids):
            got = self.es.get_doc("g3t_ids", i)
            self.assertTrue(got["found"], i)
            self.assertEqual(got["_source"], {"name": i, "n": k})
        out = os.path.join(self.tmp, "out")
        r = run(["dump-es", "--es", self.es.url, "--index", "g3t_ids", "--output", out])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(read_ndjson(os.path.join(out, "g3t_ids__data.json"))), sorted(ids))

    def test_id_too_long(self):
        d = os.path.join(self.tmp, "src")
        self.write_docs(d, "g3t_longid", [("ok", {"n": 1}), ("x" * 600, {"n": 2})])
        r = self.restore(src=d, indices=["g3t_longid"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('g3t_longid__data.json" line 2: the _id "%s..." is longer than 512 bytes'
                      % ("x" * 40), r.stderr)
        self.assertEqual(self.es.indices(), {})

    def test_extra_aliases_restored(self):
        d = self.copy_fixture(["dev_array-config"])
        with open(os.path.join(d, "dev_array-config__alias.json"), "w") as f:
            json.dump({"dev_array-config_0": {"aliases": {
                "dev_array-config": {},
                "g3t_filtered": {"filter": {"term": {"array": "tags"}}}}}}, f)
        r = self.restore(src=d, indices=["dev_array-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.indices(),
                         {"dev_array-config_0": ["dev_array-config", "g3t_filtered"]})
        _, out = self.es.req("GET", "/_alias/g3t_filtered")
        self.assertEqual(out["dev_array-config_0"]["aliases"]["g3t_filtered"]["filter"],
                         {"term": {"array": "tags"}})

    def test_document_bigger_than_batch(self):
        d = os.path.join(self.tmp, "src")
        docs = [("d%d" % i, {"name": "x" * 100, "n": i}) for i in range(200)]
        docs[50] = ("big", {"name": "B" * 50000, "n": 50})
        self.write_docs(d, "g3t_big", docs)
        r = self.restore("--bulk-size", "4KB", "--verbose", src=d, indices=["g3t_big"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.docs("g3t_big"), dict(docs))
        self.assertIn("bulk request of 1 document,", r.stderr)

    def test_server_down_waits_then_exit_3(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t0 = time.time()
        r = run(["restore-es", FIXTURE, "--index", "dev_case", "--wait", "2",
                 "--es", "http://elastic:s3cret-pw@127.0.0.1:%d" % port])
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertGreaterEqual(time.time() - t0, 2.0)  # the whole --wait, not a backoff short
        self.assertIn('Elasticsearch at "http://127.0.0.1:%d" did not answer within 2 seconds'
                      % port, r.stderr)
        self.assertNotIn("s3cret", r.stderr + r.stdout)

    def test_no_target(self):
        r = run(["restore-es", FIXTURE, "--index", "dev_case"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("no Elasticsearch to talk to", r.stderr)

    def test_dump_to_a_directory_is_dump_es(self):
        """dump --es with --output DIR/ (or an existing directory) writes the
        files dump-es writes, byte for byte, and restore-es reads them back."""
        r = self.restore()
        self.assertEqual(r.returncode, 0, r.stderr)
        idx = sum([["--index", i] for i in INDICES], [])
        a, b, c = (os.path.join(self.tmp, n) for n in ("a", "b", "c"))
        r = run(["dump-es", "--es", self.es.url, "--wait", "5", "--output", a] + idx)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["dump", "--es", self.es.url, "--wait", "5", "--output", b + "/"] + idx)
        self.assertEqual(r.returncode, 0, r.stderr)
        for i in INDICES:
            self.assertIn('dumped index "%s" (%s_0)' % (i, i), r.stderr)
        os.makedirs(c)  # an existing directory, without the '/'
        r = run(["dump", "--es", self.es.url, "--wait", "5", "--output", c] + idx)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = sorted(os.listdir(a))
        self.assertEqual(names, sorted("%s__%s.json" % (i, k) for i in INDICES
                                       for k in ("mapping", "settings", "alias", "data")))
        for d in (b, c):
            self.assertEqual(sorted(os.listdir(d)), names)
            for n in names:
                with open(os.path.join(a, n), "rb") as f1, open(os.path.join(d, n), "rb") as f2:
                    self.assertEqual(f1.read(), f2.read(), (d, n))
        self.es.reset()
        r = self.restore(src=b)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_fixture_restored()

    def test_dump_to_a_directory_usage(self):
        """What a directory cannot take is exit 2, with nothing written."""
        snapdir = os.path.join(self.tmp, "s.tar.zst")
        os.makedirs(snapdir)
        es = ["--es", self.es.url, "--index", "dev_case"]
        cases = [
            (["--database", "fence", "--output", self.tmp + "/"] + es,
             'gen3db: --output "%s/" is a directory: databases are dumped into a snapshot '
             'file\nhint: give --output FILE.tar.zst (or -); a directory takes elasticdump '
             'files of --es --index only\n' % self.tmp),
            (["--database", "fence", "--output", self.tmp],
             'gen3db: --output "%s" is a directory: databases are dumped into a snapshot '
             'file\nhint: give --output FILE.tar.zst (or -); a directory takes elasticdump '
             'files of --es --index only\n' % self.tmp),
            (["--output", snapdir] + es,
             'gen3db: --output "%s" is a directory named like a snapshot file\nhint: give '
             '"%s/" for elasticdump files in it, or another FILE for a snapshot\n'
             % (snapdir, snapdir)),
            (["--output", self.tmp + "/d/", "--json"] + es,
             "gen3db: --json needs --output FILE: a directory gets elasticdump files, "
             "without a summary\n"),
        ]
        for argv, want in cases:
            r = run(["dump"] + argv)
            self.assertEqual((r.returncode, r.stderr), (2, want), argv)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["s.tar.zst"])
        self.assertEqual(self.es.indices(), {})



# One name per hostile class, with the rule gen3db names for it. A name such
# as _all, * or a,b in a DELETE path names other indices (ES 7 expands them
# by default): each must be refused with exit 2 before any request.
HOSTILE = [
    ("_all", "must not start with '_', '-' or '+'"),
    ("*", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("dev_*", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t_a,g3t_b", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("G3t_a", "must be lowercase"),
    ("-g3t_a", "must not start with '_', '-' or '+'"),
    ("+g3t_a", "must not start with '_', '-' or '+'"),
    (".", "must not be '.' or '..'"),
    ("..", "must not be '.' or '..'"),
    ("g3t a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t:a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t#a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t?a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t|a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ('g3t"a', 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t<a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t\\a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g3t/a", 'must not contain \\ / * ? " < > | , # : or a space'),
    ("g" * 256, "must be at most 255 bytes (UTF-8)"),
]


class TestIndexNames(EsTestCase):
    """Hostile index names from --index and GUPPY_INDICES: exit 2, no request."""

    def setUp(self):
        super().setUp()
        self.need_double("request statistics")
        # what a destructive request would hit: a version behind its alias,
        # concrete indices, and the two halves of "g3t_a,g3t_b"
        for name in ("dev_case_0", "dev_file", "g3t_a", "g3t_b", "g3t_other"):
            self.es.req("PUT", "/" + name, {})
        self.es.req("POST", "/_aliases", {"actions": [
            {"add": {"index": "dev_case_0", "alias": "dev_case"}}]})
        self.before = self.es.indices()

    def assert_refused(self, r, name, rule, origin):
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('invalid Elasticsearch index name "%s" (from %s): %s' % (name, origin, rule),
                      r.stderr)
        self.assertEqual(self.es.indices(), self.before, name)

    def test_hostile_index_option(self):
        for name, rule in HOSTILE:
            for extra in ([], ["--clean"], ["--clean", "--no-alias"]):
                n = self.es.stats()["requests"]
                r = self.restore(*extra, indices=["dev_file", name])
                # the statistics call itself is the only request
                self.assertEqual(self.es.stats()["requests"], n + 1, (name, extra))
                self.assert_refused(r, name, rule, "--index")

    def test_hostile_helm_env(self):
        for name, rule in HOSTILE:
            if any(c in name for c in ", \t"):
                continue  # separators of GUPPY_INDICES: split, not one name
            for var in ("GUPPY_INDICES", "GUPPY_CONFIGINDEX"):
                n = self.es.stats()["requests"]
                r = self.restore("--clean", indices=[],
                                 env={var: "dev_file,%s" % name if var == "GUPPY_INDICES" else name})
                self.assertEqual(self.es.stats()["requests"], n + 1, (name, var))
                self.assert_refused(r, name, rule, "GUPPY_INDICES/GUPPY_CONFIGINDEX")

    def test_dump_refuses_hostile_names(self):
        r = run(["dump-es", "--es", self.es.url, "--index", "_all", "--output",
                 os.path.join(self.tmp, "out")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('invalid Elasticsearch index name "_all" (from --index): must not start '
                      "with '_', '-' or '+'", r.stderr)

    def test_delete_names_one_concrete_index(self):
        # an alias named like the target's concrete index is not deleted
        # through: the existing index must be exactly that concrete index
        self.es.req("POST", "/_aliases", {"actions": [
            {"add": {"index": "g3t_other", "alias": "g3t_x"}}]})
        d = os.path.join(self.tmp, "src")
        self.write_docs(d, "g3t_x", [("a", {"name": "a", "n": 1})])
        r = run(["restore-es", d, "--es", self.es.url, "--index", "g3t_x", "--no-alias",
                 "--clean"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('"g3t_x" is an alias on the target', r.stderr)
        self.assertIn("g3t_other", self.es.indices())


class TestCrossVersion(unittest.TestCase):
    """A dump from one version restored into another (types added or dropped)."""

    def setUp(self):
        if REAL_URL:
            self.skipTest(NA % "servers of several versions")
        self.tmp = tempfile.mkdtemp(prefix="g3es-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check(self, src_flavor, dst_flavor):
        a, b = server(src_flavor), server(dst_flavor)
        a.reset()
        b.reset()
        fx = os.path.join(FIXTURE, "es")
        r = run(["restore-es", fx, "--es", a.url] + sum([["--index", i] for i in INDICES], []))
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, src_flavor)
        r = run(["dump-es", "--es", a.url, "--output", out] + sum([["--index", i] for i in INDICES], []))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["restore-es", out, "--es", b.url] + sum([["--index", i] for i in INDICES], []))
        self.assertEqual(r.returncode, 0, r.stderr)
        for i in INDICES:
            self.assertEqual(b.docs(i), read_ndjson(os.path.join(fx, i + "__data.json")), i)
        return out

    def test_es6_to_es8(self):
        out = self.check("es6", "es8")
        with open(os.path.join(out, "dev_case__mapping.json")) as f:
            self.assertIn("_doc", json.load(f)["dev_case_0"]["mappings"], "an ES 6 dump is typed")

    def test_es8_to_es6(self):
        self.check("es8", "es6")

    def test_opensearch2_to_es7(self):
        self.check("opensearch2", "es7")


class TestFaults(EsTestCase):
    def setUp(self):
        super().setUp()
        self.need_double()

    def test_429_storm_everything_arrives(self):
        # 0.3 ** 16: no document is refused 16 times in a row
        self.es.faults(reject_item_ratio=0.3, seed=7)
        r = self.restore("--bulk-size", "16KB", "--es-retries", "15", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(self.es.stats()["rejected_items"], 0)
        self.es.faults(reject_item_ratio=0.0)
        self.assert_fixture_restored()
        rep = json.loads(r.stdout)
        self.assertGreater(sum(i["retried_documents"] for i in rep["indices"]), 0)

    def test_429_retries_exhausted(self):
        self.es.faults(reject_item_ratio=1.0, seed=1)
        r = self.restore("--es-retries", "2", "--json", indices=["dev_case"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r'index "dev_case_0": \d+ documents were still refused '
                         r'\(429, too many requests\) after 3 attempts \(0 of 212 documents '
                         r'acknowledged\)')
        self.es.faults(reject_item_ratio=0.0)
        self.assertEqual(self.es.indices(), {})
        rep = json.loads(r.stdout)
        self.assertEqual(rep["indices"][0]["status"], "failed")
        self.assertEqual(rep["indices"][0]["documents_read"], 212)
        self.assertEqual((rep["status"], rep["exit_code"]), ("failed", 1))

    def test_json_reports_a_usage_error(self):
        r = subprocess.run([BIN, "restore-es", "--json"], capture_output=True, text=True,
                           env=dict(os.environ, GUPPY_INDICES="", GUPPY_CONFIGINDEX=""))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(json.loads(r.stdout), {
            "status": "failed", "exit_code": 2, "error": "no dump directory given",
            "hint": "gen3db restore-es DIR --index NAME"})

    def test_429_30_percent_on_20000_documents_with_defaults(self):
        d = os.path.join(self.tmp, "src")
        self.write_docs(d, "g3t_storm", [("doc-%05d" % i, {"name": "n%d" % i, "n": i})
                                         for i in range(20000)])
        self.es.faults(reject_item_ratio=0.3, seed=11)
        r = run(["restore-es", d, "--es", self.es.url, "--wait", "5", "--index", "g3t_storm",
                 "--json"])
        self.es.faults(reject_item_ratio=0.0)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(self.es.stats()["rejected_items"], 5000)
        self.assertEqual(self.es.indices(), {"g3t_storm_0": ["g3t_storm"]})
        _, c = self.es.req("GET", "/g3t_storm/_count")
        self.assertEqual(c["count"], 20000)

    def test_permanent_refusal_names_every_document(self):
        d = os.path.join(self.tmp, "src")
        ids = ["doc-%02d" % i for i in range(25)]
        self.write_docs(d, "g3t_refused", [(i, {"name": i, "n": 1}) for i in ids])
        self.es.faults(reject_item_ratio=1.0, seed=1)
        t0 = time.time()
        r = run(["restore-es", d, "--es", self.es.url, "--wait", "5", "--index", "g3t_refused",
                 "--es-retry-time", "3", "--json"])
        self.es.faults(reject_item_ratio=0.0)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(time.time() - t0, 30)
        self.assertRegex(r.stderr, r'index "g3t_refused_0": 25 documents were still refused '
                         r'\(429, too many requests\) after \d+ attempts \(0 of 25 documents '
                         r'acknowledged\); documents not loaded: "doc-00", "doc-01", "doc-02", '
                         r'"doc-03", "doc-04", "doc-05", "doc-06", "doc-07", "doc-08", "doc-09" '
                         r'and 15 more')
        self.assertIn('index "g3t_refused_0": the 25 documents not loaded: ' +
                      ", ".join('"%s"' % i for i in ids), r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["indices"][0]["documents_not_loaded"], ids)
        self.assertEqual(rep["indices"][0]["status"], "failed")
        self.assertEqual(self.es.indices(), {}, "no alias switch, no partial index")

    def test_whole_request_503_and_429_retried(self):
        self.es.faults(reject_requests_503=3, reject_requests_429=2, scope="bulk")
        r = self.restore("--bulk-size", "64KB")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = self.es.stats()
        self.assertEqual(st["rejected_requests_503"], 3)
        self.assertEqual(st["rejected_requests_429"], 2)
        self.assert_fixture_restored()

    def test_connection_closed_mid_response_retried(self):
        self.es.faults(close_mid_response=3)
        r = self.restore("--bulk-size", "64KB")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.stats()["closed_mid_response"], 3)
        self.assert_fixture_restored()

    def test_cluster_not_ready_is_waited_for(self):
        # every request (GET / and cluster health included) refused for a while
        self.es.faults(reject_requests_503=3, reject_requests_429=3, scope="all")
        r = self.restore("--wait", "30", indices=["dev_array-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.es.stats()["rejected_requests_503"], 3)

    def test_cluster_never_ready_exit_3(self):
        self.es.faults(reject_requests_503=100000, scope="all")
        r = run(["restore-es", FIXTURE, "--index", "dev_case", "--es", self.es.url, "--wait", "2"])
        self.es.faults(reject_requests_503=0)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn('Elasticsearch at "%s" did not answer within 2 seconds: HTTP 503' % self.es.url,
                      r.stderr)

    def test_gzip_bodies(self):
        r = self.restore("--es-gzip")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(self.es.stats()["gzip_requests"], 0)
        self.assert_fixture_restored()


class TestServerOptions(unittest.TestCase):
    """Servers started with special options (auth, size limit, cluster mode)."""

    def setUp(self):
        if REAL_URL:
            self.skipTest(NA % "server options")
        self.tmp = tempfile.mkdtemp(prefix="g3es-")
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_parallel_requests(self):
        self.srv = EsServer("es7", mode="cluster", extra=["--cluster-us-per-doc", "500"])
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--es", self.srv.url, "--index",
                 "dev_file", "--es-jobs", "4", "--bulk-size", "16KB"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(self.srv.stats()["max_concurrent_bulk"], 2)

    def test_sigterm_deletes_partial_index(self):
        self.srv = EsServer("es7", mode="cluster", extra=["--cluster-us-per-doc", "20000",
                                                          "--cluster-threads", "1"])
        e = dict(os.environ)
        p = subprocess.Popen([BIN, "restore-es", os.path.join(FIXTURE, "es"), "--es", self.srv.url,
                              "--index", "dev_file", "--bulk-size", "8KB", "--es-jobs", "1"],
                             stderr=subprocess.PIPE, text=True, env=e)
        deadline = time.time() + 20
        while self.srv.stats()["bulk_requests"] < 2 and time.time() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn('index "dev_file" was not restored: interrupted after', err)
        self.assertIn('deleted the partial index "dev_file_0"', err)
        _, out = self.srv.req("GET", "/_alias")
        self.assertEqual(out, {})

    def leftover_setup(self, name, n_docs=300):
        d = os.path.join(self.tmp, "src")
        EsTestCase.write_docs(None, d, name, [("d%04d" % i, {"name": "x" * 40, "n": i})
                                  for i in range(n_docs)])
        return d

    def kill_mid_bulk(self, d, name):
        p = subprocess.Popen([BIN, "restore-es", d, "--es", self.srv.url, "--index", name,
                              "--bulk-size", "4KB", "--es-jobs", "1"],
                             stderr=subprocess.DEVNULL)
        n0 = self.srv.stats()["bulk_requests"]
        deadline = time.time() + 20
        while self.srv.stats()["bulk_requests"] < n0 + 2 and time.time() < deadline:
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        # the requests the killed process had sent still run on the server
        # (and would auto-create the index again if it was deleted first)
        deadline = time.time() + 60
        while time.time() < deadline:
            st = self.srv.stats()
            if not st["current_bulk"] and not st["waiting_bulk"]:
                break
            time.sleep(0.05)

    def test_sigkill_leftover_removed_by_next_run(self):
        self.srv = EsServer("es7", mode="cluster", extra=["--cluster-us-per-doc", "5000",
                                                          "--cluster-threads", "1"])
        name = "g3t_left"
        d = self.leftover_setup(name)
        # not gen3db's: a concrete index of a version-like name, and an
        # incomplete-looking one that an alias points at
        self.srv.req("PUT", "/%s_7" % name, {"settings": {"index": {"refresh_interval": "-1"}}})
        self.srv.req("PUT", "/%s_8" % name, {
            "settings": {"index": {"refresh_interval": "-1"}},
            "mappings": {"_meta": {"gen3db": {"target": name, "complete": False}}},
            "aliases": {"g3t_keep": {}}})
        for clean in ([], ["--clean"]):
            self.kill_mid_bulk(d, name)
            _, out = self.srv.req("GET", "/%s_*" % name)
            left = [k for k, v in out.items() if not v["aliases"] and k not in
                    ("%s_7" % name, "%s_8" % name)
                    and not v["mappings"]["_meta"]["gen3db"]["complete"]]
            self.assertEqual(len(left), 1, out.keys())
            self.assertEqual(out[left[0]]["settings"]["index"]["refresh_interval"], "-1")
            r = run(["restore-es", d, "--es", self.srv.url, "--index", name] + clean)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('deleted "%s", an incomplete version of "%s" that an interrupted '
                          'restore left' % (left[0], name), r.stderr)
            idx = self.srv.indices()
            self.assertNotIn(left[0], idx)
            self.assertEqual(idx["%s_7" % name], [])
            self.assertEqual(idx["%s_8" % name], ["g3t_keep"])
            live = [k for k, v in idx.items() if v == [name]]
            self.assertEqual(len(live), 1, idx)
            _, m = self.srv.req("GET", "/%s/_mapping" % live[0])
            self.assertEqual(m[live[0]]["mappings"]["_meta"]["gen3db"],
                             {"target": name, "complete": True})
            _, c = self.srv.req("GET", "/%s/_count" % name)
            self.assertEqual(c["count"], 300)
        # the complete version of the first round is not a leftover: without
        # --clean it stayed, with --clean it went as a previous version
        self.assertEqual(sorted(k for k in self.srv.indices() if k.startswith(name)),
                         sorted([live[0], "%s_7" % name, "%s_8" % name]))

    def test_basic_auth_from_env_and_url(self):
        self.srv = EsServer("es8", extra=["--basic-auth", "elastic:pw-Secret9"])
        hostport = self.srv.url.replace("http://", "")
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--index", "dev_array-config",
                 "--es", self.srv.url], env={"ES_USERNAME": "elastic", "ES_PASSWORD": "pw-Secret9"})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--index", "dev_case",
                 "--es", "http://elastic:pw-Secret9@" + hostport])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('at "http://%s"' % hostport, r.stderr)
        self.assertNotIn("pw-Secret9", r.stderr + r.stdout)
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--index", "dev_file",
                 "--es", "http://elastic:wrong-Pass1@" + hostport])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('Elasticsearch at "http://%s" refused the login (HTTP 401)' % hostport,
                      r.stderr)
        self.assertNotIn("wrong-Pass1", r.stderr + r.stdout)

    def test_api_key(self):
        self.srv = EsServer("es7", extra=["--api-key", "a2V5OnNlY3JldA=="])
        r = run(["restore-es", os.path.join(FIXTURE, "es"), "--index", "dev_array-config",
                 "--es", self.srv.url], env={"ES_API_KEY": "a2V5OnNlY3JldA=="})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("a2V5OnNlY3JldA", r.stderr + r.stdout)

    def test_tls_verification(self):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        self.srv = EsServer("es7", extra=["--tls-cert", cert, "--tls-key", key])
        src = os.path.join(FIXTURE, "es")
        t0 = time.time()
        r = run(["restore-es", src, "--index", "dev_array-config", "--es", self.srv.url,
                 "--wait", "30"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(time.time() - t0, 15, "a certificate problem must not be waited on")
        self.assertIn('could not connect to Elasticsearch at "%s"' % self.srv.url, r.stderr)
        self.assertIn("hint: give the CA certificate with --es-cacert FILE or ES_CACERT", r.stderr)
        r = run(["restore-es", src, "--index", "dev_array-config", "--es", self.srv.url,
                 "--es-cacert", cert])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["restore-es", src, "--index", "dev_case", "--es", self.srv.url],
                env={"ES_CACERT": cert})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_413_names_document(self):
        self.srv = EsServer("es7", extra=["--max-content-length", "64kb"])
        d = os.path.join(self.tmp, "src")
        docs = [("d%d" % i, {"name": "x" * 1000, "n": i}) for i in range(100)]
        docs[30] = ("huge-one", {"name": "H" * 100000, "n": 30})
        EsTestCase.write_docs(None, d, "g3t_413", docs)
        r = run(["restore-es", d, "--index", "g3t_413", "--es", self.srv.url,
                 "--bulk-size", "1MB"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('document "huge-one"', r.stderr)
        self.assertIn("HTTP 413", r.stderr)
        _, out = self.srv.req("GET", "/_alias")
        self.assertEqual(out, {})


if __name__ == "__main__":
    unittest.main()
