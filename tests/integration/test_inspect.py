"""gen3db inspect and verify: a snapshot's contents and integrity, no server needed."""
import json
import io
import os
import subprocess
import tarfile

from g3test import PgTestCase, run, tempdir


def rewrite(src, dst, edit):
    """Decompresses a snapshot, lets edit(members) change [(TarInfo, bytes)], recompresses."""
    raw = subprocess.run(["zstd", "-dcq", src], check=True, capture_output=True).stdout
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        for m in t.getmembers():
            members.append((m, t.extractfile(m).read()))
    members = edit(members)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m, data in members:
            m.size = len(data)
            t.addfile(m, io.BytesIO(data))
    subprocess.run(["zstd", "-qf", "-", "-o", dst], input=out.getvalue(), check=True)


class InspectVerifyTest(PgTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempdir(cls, "gen3db-inspect-")
        cls.pg.psql("CREATE DATABASE insp")
        cls.pg.psql("CREATE TABLE \"User\" (id int PRIMARY KEY, name text); "
                    "INSERT INTO \"User\" SELECT g, 'u' || g FROM generate_series(1, 20000) g; "
                    "CREATE TABLE empty_one (x int); ANALYZE", db="insp")
        cls.snap = os.path.join(cls.tmp, "insp.tar.zst")
        r = run(["dump", "--database", "insp", "--output", cls.snap, "--chunk-size", "64K",
                 "--quiet"], env=cls.pg.env())
        assert r.code == 0, r

    def test_inspect_reads_the_manifest(self):
        r = run(["inspect", self.snap])
        self.assertEqual(r.code, 0, r)
        lines = r.out.splitlines()
        self.assertEqual(lines[0], "format:   gen3db-snapshot 1.2")
        self.assertEqual(lines[1], "checksums: every member (end.json's member_sums)")
        self.assertTrue(lines[2].startswith("created:  "))
        self.assertIn("source:   PostgreSQL 15", r.out)
        self.assertIn("database: insp (2 tables, ~20000 rows", r.out)
        self.assertIn("  public.User: ~20000 rows", r.out)
        # from standard input, as JSON
        with open(self.snap, "rb") as f:
            r = run(["inspect", "-", "--json"], input=f.read(), text=False)
        self.assertEqual(r.code, 0)
        self.assertIn(b'"format": "gen3db-snapshot"', r.out)

    def test_inspect_needs_only_the_first_member(self):
        # a snapshot cut right after its manifest still inspects
        cut = os.path.join(self.tmp, "cut.tar.zst")
        rewrite(self.snap, cut, lambda ms: ms[:1])
        self.assertEqual(run(["inspect", cut]).code, 0)
        r = run(["verify", cut])
        self.assertEqual(r.code, 1, r)
        self.assertEqual(r.err, 'gen3db: snapshot "%s" is truncated: it ends after 1 member '
                         'without end.json\n' % cut)

    def test_verify_intact(self):
        r = run(["verify", self.snap])
        self.assertEqual(r.code, 0, r)
        self.assertTrue(r.out.startswith("snapshot %s is intact: " % self.snap), r.out)
        self.assertIn("  insp: 20000 rows,", r.out)
        r = run(["verify", self.snap, "--json"])
        self.assertIn('"rows":20000', r.out)

    def test_verify_catches_a_changed_byte(self):
        bad = os.path.join(self.tmp, "bad.tar.zst")

        def flip(ms):
            out = []
            done = False
            for m, data in ms:
                if m.name.endswith(".copy") and data and not done:
                    data = data.replace(b"u1", b"u7", 1)
                    done = True
                out.append((m, data))
            return out
        rewrite(self.snap, bad, flip)
        r = run(["verify", bad])
        self.assertEqual(r.code, 1, r)
        self.assertRegex(r.err, r'^gen3db: member "pg/insp/data/0+\d\.copy" of table '
                         r'"public\.User" fails its sha256 check')

    def test_verify_catches_a_dropped_chunk(self):
        bad = os.path.join(self.tmp, "dropped.tar.zst")

        def drop(ms):
            # the second chunk of "User" (the dump interleaves the tables' chunks)
            names = [m.name[:-5] + ".copy" for m, d in ms if "/data/" in m.name
                     and m.name.endswith(".json") and json.loads(d)["table"] == "User"]
            victim = names[1]
            return [(m, d) for m, d in ms if m.name not in (victim, victim[:-5] + ".json")]
        rewrite(self.snap, bad, drop)
        r = run(["verify", bad])
        self.assertEqual(r.code, 1, r)
        self.assertRegex(r.err, r'^gen3db: member "pg/insp/data/0+\d\.json": table "public\.User" '
                         r'has part 3 where part 2 was expected\n$')

    def test_format_1_1_fixture(self):
        # the demo fixture was written in format 1.1: still verifies, and says what is unchecked
        fixture = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "fixtures", "demo", "gen3-demo.tar.zst")
        r = run(["inspect", fixture])
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.out.splitlines()[:2], [
            "format:   gen3db-snapshot 1.1",
            "checksums: data chunks only; manifest, pre-data, post-data, sequences and index "
            "definitions are unchecked (format 1.1)"])
        r = run(["verify", fixture])
        self.assertEqual(r.code, 0, r)
        self.assertIn("\n  unchecked (format 1.1 has no checksum for them): manifest.json "
                      "pg/fence_gen3/pre-data.sql pg/fence_gen3/post-data.sql "
                      "pg/fence_gen3/post-data.json pg/fence_gen3/sequences.sql ", r.out)
        self.assertIn(" es/dev_case/index.json es/dev_file/index.json "
                      "es/dev_array-config/index.json\n", r.out)
        r = run(["verify", fixture, "--json"])
        self.assertEqual(r.code, 0, r)
        self.assertIn('"member_sums":false,"unchecked":["manifest.json","pg/fence_gen3/pre-data.sql"',
                      r.out)

    def test_json_reports_a_failure(self):
        bad = os.path.join(self.tmp, "dropped-json.tar.zst")

        def drop(ms):
            # the second chunk of "User": the member order of the two tables' chunks
            # depends on which dump worker finishes first, so pick by table
            names = [m.name[:-5] + ".copy" for m, d in ms if "/data/" in m.name
                     and m.name.endswith(".json") and json.loads(d)["table"] == "User"]
            victim = names[1]
            return [(m, d) for m, d in ms if m.name not in (victim, victim[:-5] + ".json")]
        rewrite(self.snap, bad, drop)
        r = run(["verify", bad, "--json"])
        self.assertEqual(r.code, 1, r)
        rep = json.loads(r.out)
        self.assertEqual(rep["status"], "failed")
        self.assertEqual(rep["exit_code"], 1)
        self.assertEqual(rep["snapshot"], bad)
        # names the member where the gap shows (a part number or end.json)
        self.assertIn('member "pg/insp/data/', rep["error"])
        self.assertIn(rep["error"], r.err)
        self.assertGreater(rep["members_read"], 1)
        self.assertGreater(rep["chunks_verified"], 0)
        for cmd in ("inspect", "verify"):
            r = run([cmd, "/nonexistent.tar.zst", "--json"])
            self.assertEqual(r.code, 2)
            self.assertEqual(json.loads(r.out), {
                "snapshot": "/nonexistent.tar.zst", "status": "failed", "exit_code": 2,
                "error": 'could not open "/nonexistent.tar.zst": No such file or directory'}
                | ({"members_read": 1, "chunks_verified": 0} if cmd == "verify" else {}))

    def test_not_a_snapshot(self):
        plain = os.path.join(self.tmp, "plain.sql")
        with open(plain, "w") as f:
            f.write("CREATE TABLE x (a int);\n")
        r = run(["inspect", plain])
        self.assertEqual(r.code, 2, r)
        self.assertEqual(r.err, 'gen3db: "%s" is not a gen3db snapshot: it is a plain file, '
                         'not compressed and not a tar archive\nhint: a plain SQL dump is '
                         'restored as it is: gen3db restore FILE --database NAME\n' % plain)
        subprocess.run(["gzip", "-k", plain], check=True)
        r = run(["inspect", plain + ".gz"])
        self.assertEqual(r.code, 2, r)
        self.assertIn('gen3db: "%s.gz" is not a gen3db snapshot: it is one gzip-compressed '
                      'file, not a tar archive\n' % plain, r.err)
        r = run(["verify", "/nonexistent.tar.zst"])
        self.assertEqual(r.code, 2)
        self.assertIn('could not open "/nonexistent.tar.zst"', r.err)
