"""Snapshots holding PostgreSQL databases and Elasticsearch indices.

A gen3gen fixture's indices are loaded with `restore-es` into one
Elasticsearch test double (tests/esd/es_test_server.py) and a small
database into a throwaway PostgreSQL; `gen3db dump --database --es --index`
writes one snapshot; inspect and verify read it; `gen3db restore` loads it
into a second test double and fresh databases, and every document, mapping,
alias and table is compared with the source.
"""

import io
import json
import os
import subprocess
import sys
import tarfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.path.insert(0, HERE)
import snapforge  # noqa: E402
from g3services import EsServer, module_es  # noqa: E402
from g3test import gen3_dataset, module_pg, module_tmp  # noqa: E402

BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
INDICES = ["dev_case", "dev_file", "dev_array-config"]
SERVICE_PASS = "svc-pass-Es42"
PG = None
TMP = None
SRC = None       # the source cluster
SNAP = None      # the snapshot of db "essrc" and the three indices


def run(cmd, env_extra=None, drop=("ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX")):
    env = PG.env()
    for k in drop:
        env.pop(k, None)
    env["SERVICE_PGPASS"] = SERVICE_PASS
    env.pop("SERVICE_PGDB", None)
    env.pop("SERVICE_PGUSER", None)
    env.update(env_extra or {})
    r = subprocess.run([BIN] + cmd, env=env, capture_output=True, text=True, timeout=600)
    for secret in (SERVICE_PASS, PG.password):
        assert secret not in r.stdout + r.stderr, "a password appeared in the output"
    return r


def setUpModule():
    global PG, TMP, SRC, SNAP
    TMP = module_tmp("gen3db-snapes-")
    PG = module_pg()
    fixture = gen3_dataset(os.path.join(TMP, "fx"), "2MB", seed=3, services=["fence"])
    SRC = module_es("es7")
    r = run(["restore-es", fixture, "--es", SRC.url] + sum([["--index", i] for i in INDICES], []))
    assert r.returncode == 0, r.stderr
    PG.psql('CREATE DATABASE "essrc"')
    PG.psql("CREATE TABLE public.t (id integer PRIMARY KEY, s text);"
            "INSERT INTO public.t SELECT g, 'row ' || g FROM generate_series(1, 500) g;"
            "CREATE TABLE public.u (k text);"
            "INSERT INTO public.u VALUES ('a'), ('b\tc'), (NULL);", db="essrc")
    SNAP = os.path.join(TMP, "snap.tar.zst")
    r = run(["dump", "--output", SNAP, "--database", "essrc", "--es", SRC.url,
             "--chunk-size", "64K"] + sum([["--index", i] for i in INDICES], []))
    assert r.returncode == 0, r.stderr


def members(path):
    out = {}
    # python's tarfile does not read zstd: tar(1) does
    names = subprocess.run(["tar", "--zstd", "-tf", path], capture_output=True, text=True,
                           check=True).stdout.split()
    for n in names:
        out[n] = subprocess.run(["tar", "--zstd", "-xOf", path, n], capture_output=True,
                                check=True).stdout
    return names, out


def pack(path, names, data):
    """Writes a snapshot from member bytes (order kept), zstd-compressed."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for n in names:
            ti = tarfile.TarInfo(n)
            ti.size = len(data[n])
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data[n]))
    subprocess.run(["zstd", "-q", "-f", "-o", path], input=raw.getvalue(), check=True)


def rows(db, table):
    return PG.psql("SELECT count(*) || ' ' || md5(string_agg(t::text, E'\\n' ORDER BY t::text)) "
                   "FROM public.%s t" % table, db=db)


def mapping_of(es, index):
    _, out = es.req("GET", "/%s/_mapping" % index)
    (v,) = out.values()
    return v["mappings"]


class SnapshotEsTest(unittest.TestCase):
    def setUp(self):
        self.dst = EsServer("es7")

    def tearDown(self):
        self.dst.stop()
        PG.psql('DROP DATABASE IF EXISTS "esdst" WITH (FORCE)')

    def test_layout_and_members(self):
        names, data = members(SNAP)
        self.assertEqual(names[0], "manifest.json")
        self.assertEqual(names[-1], "end.json")
        m = json.loads(data["manifest.json"])
        self.assertEqual(m["format_minor"], 2)
        self.assertEqual([x["name"] for x in m["indices"]], INDICES)
        self.assertEqual(m["indices"][0]["source_distribution"], "elasticsearch")
        self.assertEqual(m["indices"][0]["concrete"], "dev_case_0")
        end = json.loads(data["end.json"])
        for i, ix in enumerate(INDICES):
            e = end["indices"][i]
            self.assertEqual(e["name"], ix)
            self.assertEqual(e["docs"], len(SRC.docs(ix)))
            chunks = [n for n in names if n.startswith("es/%s/docs." % ix)
                      and n.endswith(".ndjson")]
            self.assertEqual(e["chunks"], len(chunks))
            # every chunk preceded by its header, within the chunk size
            for c in chunks:
                h = json.loads(data[c[:-len(".ndjson")] + ".json"])
                self.assertEqual(names.index(c) - 1, names.index(c[:-len(".ndjson")] + ".json"))
                self.assertEqual(h["bytes"], len(data[c]))
                self.assertEqual(h["docs"], data[c].count(b"\n"))
                self.assertLessEqual(len(data[c]), 64 * 1024)
                line = json.loads(data[c].split(b"\n")[0])
                self.assertEqual(sorted(line), ["_id", "_source"])
            self.assertGreater(len(chunks), 1 if ix != "dev_array-config" else 0)
            d = json.loads(data["es/%s/index.json" % ix])
            self.assertEqual(d["name"], ix)
            self.assertIn("properties", d["mappings"])
            self.assertNotIn("uuid", d["settings"].get("index", {}))

    def test_inspect_and_verify(self):
        r = run(["inspect", SNAP])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('index:    dev_case (%d documents, size unknown until the end: see gen3db '
                      'verify, from "' % len(SRC.docs("dev_case")), r.stdout)
        self.assertIn("database: essrc (2 tables, ~", r.stdout)
        self.assertNotIn("?", r.stdout)
        r = run(["verify", SNAP])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\n  index dev_array-config: 2 documents, \d+ bytes in "
                         r"1 chunk\n")
        r = run(["verify", "--json", SNAP])
        self.assertEqual(r.returncode, 0, r.stderr)
        v = json.loads(r.stdout)
        self.assertEqual([x["name"] for x in v["indices"]], INDICES)
        self.assertEqual(v["indices"][1]["docs"], len(SRC.docs("dev_file")))

    def test_restore_both_and_compare(self):
        r = run(["restore", SNAP, "--map", "essrc=esdst", "--es", self.dst.url, "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual([x["status"] for x in rep["indices"]], ["restored"] * 3)
        for ix in INDICES:
            self.assertEqual(self.dst.docs(ix), SRC.docs(ix), ix)
            self.assertEqual(mapping_of(self.dst, ix), mapping_of(SRC, ix), ix)
        self.assertEqual(self.dst.indices(), SRC.indices())
        for t in ("t", "u"):
            self.assertEqual(rows("esdst", t), rows("essrc", t))
        # dump -> restore -> dump: the same documents and definitions
        again = os.path.join(TMP, "again.tar.zst")
        r = run(["dump", "--output", again, "--es", self.dst.url, "--chunk-size", "64K"]
                + sum([["--index", i] for i in INDICES], []))
        self.assertEqual(r.returncode, 0, r.stderr)
        n1, d1 = members(SNAP)
        n2, d2 = members(again)
        es1 = [n for n in n1 if n.startswith("es/")]
        self.assertEqual(es1, [n for n in n2 if n.startswith("es/")])
        for n in es1:
            self.assertEqual(d1[n], d2[n], n)

    def test_eshost_and_index_narrowing(self):
        r = run(["restore", SNAP, "--no-es", "--map", "essrc=esdst"],
                env_extra={"ESHOST": self.dst.url.replace("http://", "")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.dst.indices(), {})
        PG.psql('DROP DATABASE "esdst" WITH (FORCE)')
        r = run(["restore", SNAP, "--map", "essrc=esdst", "--index", "dev_file"],
                env_extra={"ESHOST": self.dst.url.replace("http://", "")})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.dst.indices(), {"dev_file_0": ["dev_file"]})
        self.assertEqual(rows("esdst", "t"), rows("essrc", "t"))

    def test_missing_cluster_is_exit_2_before_anything(self):
        r = run(["restore", SNAP, "--map", "essrc=esdst"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('snapshot "%s" holds 3 Elasticsearch indices but no cluster is given'
                      % SNAP, r.stderr)
        self.assertIn("hint: give --es URL (or set ESHOST), or --no-es", r.stderr)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'esdst%'"),
                         "0")
        r = run(["restore", SNAP, "--es", self.dst.url, "--index", "nope", "--map", "essrc=esdst"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('--index nope: the snapshot has no index "nope"', r.stderr)

    def test_hostile_manifest_index_names_exit_2_before_anything(self):
        names, data = members(SNAP)
        # what a destructive request would hit
        for ix in ("dev_case_0", "dev_file", "g3t_a", "g3t_b"):
            self.dst.req("PUT", "/" + ix, {})
        self.dst.req("POST", "/_aliases", {"actions": [
            {"add": {"index": "dev_case_0", "alias": "dev_case"}}]})
        before = self.dst.indices()
        chars = 'must not contain \\ / * ? " < > | , # : or a space'
        for name, rule in (("_all", "must not start with '_', '-' or '+'"), ("*", chars),
                           ("g3t_a,g3t_b", chars), ("Dev_case", "must be lowercase"),
                           ("-dev", "must not start with '_', '-' or '+'"),
                           ("g3t a", chars), ("g" * 256, "must be at most 255 bytes (UTF-8)")):
            m = json.loads(data["manifest.json"])
            m["indices"][0]["name"] = name
            end = json.loads(data["end.json"])
            end["indices"][0]["name"] = name
            new_names, new_data = [], {}
            for n in names:
                # (a 256-byte member name does not fit a ustar header)
                nn = n.replace("es/dev_case/", "es/%s/" % name, 1) if len(name) < 80 else n
                new_names.append(nn)
                new_data[nn] = data[n]
            new_data["manifest.json"] = json.dumps(m).encode()
            new_data["end.json"] = json.dumps(end).encode()
            path = os.path.join(TMP, "hostile.tar.zst")
            pack(path, new_names, new_data)
            n0 = self.dst.stats()["requests"]
            for extra in ([], ["--clean"], ["--clean", "--no-alias"]):
                r = run(["restore", path, "--map", "essrc=esdst", "--es", self.dst.url] + extra)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn('invalid Elasticsearch index name "%s" (from the snapshot\'s '
                              'manifest): %s' % (name, rule), r.stderr)
            self.assertEqual(self.dst.stats()["requests"], n0 + 1, name)
            self.assertEqual(self.dst.indices(), before, name)
            self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE "
                                     "'esdst%'"), "0")
        r = run(["restore", SNAP, "--map", "essrc=esdst", "--es", self.dst.url, "--index",
                 "_all", "--clean"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('invalid Elasticsearch index name "_all" (from --index)', r.stderr)
        self.assertEqual(self.dst.indices(), before)

    def test_existing_index_refused_without_clean(self):
        self.dst.req("PUT", "/dev_case", {})
        r = run(["restore", SNAP, "--map", "essrc=esdst", "--es", self.dst.url])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('index "dev_case" already exists', r.stderr)
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'esdst%'"),
                         "0")

    def test_tampered_chunk_fails_its_index(self):
        names, data = members(SNAP)
        victim = "es/dev_file/docs.000002.ndjson"
        b = bytearray(data[victim])
        # a digit changed: still valid JSON, only the sha256 tells
        i = b.index(b'"_source":{')
        while not chr(b[i]).isdigit():
            i += 1
        b[i] = ord("1") if b[i] != ord("1") else ord("2")
        data[victim] = bytes(b)
        bad = os.path.join(TMP, "tampered.tar.zst")
        pack(bad, names, data)
        r = run(["verify", bad])
        self.assertEqual(r.returncode, 1)
        self.assertIn('member "%s" of index "dev_file" fails its sha256 check' % victim, r.stderr)
        r = run(["restore", bad, "--map", "essrc=esdst", "--es", self.dst.url])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('index "dev_file" was not restored: member "%s" of index "dev_file" '
                      'fails its sha256 check' % victim, r.stderr)
        got = self.dst.indices()
        self.assertNotIn("dev_file_0", got)       # deleted, never got the alias
        self.assertNotIn("dev_file", sum(got.values(), []))
        # the other indices are complete; the databases were not replaced
        self.assertEqual(self.dst.docs("dev_case"), SRC.docs("dev_case"))
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'esdst%'"),
                         "0")

    def test_header_count_mismatch_named(self):
        names, data = members(SNAP)
        h = "es/dev_case/docs.000001.json"
        j = json.loads(data[h])
        j["docs"] += 1
        data[h] = json.dumps(j).encode()
        bad = os.path.join(TMP, "count.tar.zst")
        pack(bad, names, data)
        r = run(["restore", bad, "--map", "essrc=esdst", "--es", self.dst.url])
        self.assertEqual(r.returncode, 1)
        self.assertIn('member "es/dev_case/docs.000001.ndjson" of index "dev_case" holds %d '
                      'documents, its header says %d' % (j["docs"] - 1, j["docs"]), r.stderr)
        self.assertNotIn("dev_case", sum(self.dst.indices().values(), []))

    def test_unknown_es_members_skipped(self):
        names, data = members(SNAP)
        extra = {"es/dev_case/settings.json": b"{}", "es/dev_case/future.bin": b"\x00\x01",
                 "es/dev_case/docs.000001.sig": b"x"}
        at = names.index("es/dev_case/index.json") + 1
        names[at:at] = list(extra)
        data.update(extra)
        # a newer writer lists them with the others
        ms = snapforge.refresh_end([(n, data[n]) for n in names])
        data["end.json"] = ms[-1][1]
        odd = os.path.join(TMP, "odd.tar.zst")
        pack(odd, names, data)
        r = run(["verify", odd])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run(["restore", odd, "--map", "essrc=esdst", "--es", self.dst.url])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.dst.docs("dev_case"), SRC.docs("dev_case"))

    def test_changed_index_definition_never_gets_the_alias(self):
        # index.json changed, still valid JSON: only end.json's member_sums tell, after the
        # documents are in; the index is deleted, the alias never moves, the databases stay
        names, data = members(SNAP)
        victim = "es/dev_file/index.json"
        d = json.loads(data[victim])
        d["settings"].setdefault("index", {})["max_result_window"] = "12345"
        data[victim] = json.dumps(d).encode()
        bad = os.path.join(TMP, "indexjson.tar.zst")
        pack(bad, names, data)
        want = 'member "%s" holds %d bytes, end.json says' % (victim, len(data[victim]))
        r = run(["verify", bad])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(want, r.stderr)
        r = run(["restore", bad, "--map", "essrc=esdst", "--es", self.dst.url])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('snapshot "%s": %s' % (bad, want), r.stderr)
        got = self.dst.indices()
        self.assertEqual(got, {}, got)      # no index kept, no alias moved
        self.assertEqual(PG.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'esdst%'"),
                         "0")

    def test_duplicated_documents_chunk(self):
        names, data = members(SNAP)
        h, c = "es/dev_case/docs.000001.json", "es/dev_case/docs.000001.ndjson"
        dup_h, dup_c = "es/dev_case/docs.000900.json", "es/dev_case/docs.000900.ndjson"
        at = names.index(c) + 1
        names[at:at] = [dup_h, dup_c]
        data[dup_h], data[dup_c] = data[h], data[c]
        ms = snapforge.refresh_end([(n, data[n]) for n in names])
        bad = os.path.join(TMP, "dupdocs.tar.zst")
        snapforge.write_members(bad, ms)
        r = run(["verify", bad])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('member "%s": part 1 of index "dev_case" appears twice' % dup_h, r.stderr)
        r = run(["restore", bad, "--map", "essrc=esdst", "--es", self.dst.url])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('index "dev_case" was not restored', r.stderr)
        self.assertNotIn("dev_case", sum(self.dst.indices().values(), []))

    def test_dump_usage(self):
        r = run(["dump", "--output", os.path.join(TMP, "x.tar.zst"), "--es", SRC.url])
        self.assertEqual(r.returncode, 2)
        self.assertIn("no index to dump: give --index NAME (or GUPPY_INDICES)", r.stderr)
        r = run(["dump", "--output", os.path.join(TMP, "x.tar.zst"), "--es", SRC.url,
                 "--index", "nope"])
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(TMP, "x.tar.zst")))


if __name__ == "__main__":
    unittest.main()
