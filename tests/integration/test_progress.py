"""Progress of every long command: the JSON events of --log-format json
(phase, bytes, total, rate, eta, items done/total; periodic, then one
final), the line rewritten in place on a terminal (a pty), nothing with
--quiet, and GEN3DB_PROGRESS_INTERVAL's checks.

One PostgreSQL cluster and one Elasticsearch test double for the module;
the data is bench/gen3gen.py's (8 MB of COPY data, four services, three
indices). Totals are checked against what the files and snapshots on disk
hold, not against numbers written here.
"""
import json
import os
import re
import select
import subprocess
import tempfile
import unittest

from g3services import module_es
from g3test import BIN, gen3_dataset, helm_layout, module_pg, module_tmp, psql_load, run, secret

SERVICES = ["arborist", "fence", "indexd", "sheepdog"]
INDICES = ["dev_array-config", "dev_case", "dev_file"]
INTERVAL = "0.02"

PG = ES = None
TMP = DATA = LAYOUT = None


def setUpModule():
    global PG, ES, TMP, DATA, LAYOUT
    TMP = module_tmp("gen3db-progress-")
    PG = module_pg()
    ES = module_es("es7")
    DATA = gen3_dataset(os.path.join(TMP, "ds"), "8MB")
    LAYOUT = helm_layout(DATA, os.path.join(TMP, "layout"), SERVICES)
    # a source database for dump
    psql_load(PG, "src", os.path.join(DATA, "pg", "indexd.sql"))


def env(**extra):
    e = PG.env()
    for k in ("SERVICE_PGDB", "SERVICE_PGUSER", "SERVICE_PGPASS", "BUCKET", "ENVIRONMENT",
              "VERSION", "ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "JOB_COMPLETION_INDEX",
              "GEN3DB_PROGRESS_INTERVAL"):
        e.pop(k, None)
    e["HOME"] = TMP
    e["SERVICE_PGPASS"] = secret("Pw-progress-3Kd")
    e.update({k: v for k, v in extra.items() if v is not None})
    return e


def progress_events(stderr):
    events = []
    for line in stderr.splitlines():
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        if o.get("event") == "progress":
            events.append(o)
    return events


def table_rows(db):
    tables = PG.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
                     db=db).split()
    return sum(int(PG.psql("SELECT count(*) FROM %s" % t, db=db)) for t in tables)


def drop(*dbs):
    for db in dbs:
        PG.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)


def run_pty(args, environ, timeout=120):
    """Runs gen3db with stderr on a pty; returns (exit code, stderr text)."""
    master, slave = os.openpty()
    p = subprocess.Popen([BIN] + args, env=environ, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    p.wait(timeout)
    os.close(master)
    return p.returncode, err.decode("utf-8", "replace")


class ProgressTest(unittest.TestCase):
    def setUp(self):
        ES.reset()
        ES.faults(delay_ms=0)
        self.tmp = tempfile.mkdtemp(dir=TMP)

    def assertExit(self, r, code):
        self.assertEqual(r.code, code, repr(r))

    def assertEvents(self, r, phase, total=None, items_total=None, final_bytes=None,
                     min_events=3):
        """The events of one run: periodic ones, then one final; bytes and
        items never go back; the final one's bytes are the total."""
        evs = progress_events(r.err)
        self.assertGreaterEqual(len(evs), min_events, r.err[-2000:])
        self.assertEqual([e["final"] for e in evs], [False] * (len(evs) - 1) + [True])
        keys = {"phase", "bytes", "total", "rate", "eta", "items_done", "items_total", "rows",
                "docs", "elapsed", "final", "msg", "ts", "level", "event"}
        for e in evs:
            self.assertEqual(set(e), keys)
            self.assertEqual(e["phase"], phase)
            self.assertEqual(e["level"], "info")
            self.assertEqual(e["total"], total)
            self.assertEqual(e["items_total"], items_total)
            self.assertGreaterEqual(e["rate"], 0)
            if total is None:
                self.assertIsNone(e["eta"])
            elif e["eta"] is not None:
                self.assertGreaterEqual(e["eta"], 0)
        for a, b in zip(evs, evs[1:]):
            self.assertLessEqual(a["bytes"], b["bytes"])
            self.assertLessEqual(a["items_done"], b["items_done"])
            self.assertLessEqual(a["elapsed"], b["elapsed"])
        last = evs[-1]
        self.assertGreater(last["bytes"], 0)
        if total is not None:
            self.assertEqual(last["bytes"], total)
            self.assertEqual(last["eta"], 0)
        if final_bytes is not None:
            self.assertEqual(last["bytes"], final_bytes)
        if items_total is not None:
            self.assertEqual(last["items_done"], items_total)
        return evs

    # ---- each command ----------------------------------------------------

    def test_restore_plain_dump(self):
        drop("p_plain")
        path = os.path.join(DATA, "pg", "sheepdog.sql")
        r = run(["restore", path, "--database", "p_plain", "--log-format", "json"],
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        self.assertExit(r, 0)
        evs = self.assertEvents(r, "restore", total=os.path.getsize(path))
        self.assertGreater(evs[-1]["rows"], 0)
        self.assertEqual(evs[-1]["rows"], table_rows("p_plain"))

    def test_snapshot_dump_and_restore(self):
        snap = os.path.join(self.tmp, "s.tar.zst")
        ES.req("PUT", "/p_idx", {"mappings": {"properties": {"n": {"type": "long"}}}})
        lines = []
        for i in range(3000):
            lines.append(json.dumps({"index": {"_index": "p_idx", "_id": str(i)}}))
            lines.append(json.dumps({"n": i, "text": "x" * 100}))
        data = ("\n".join(lines) + "\n").encode()
        self.bulk(data)
        ES.faults(delay_ms=20)
        r = run(["dump", "--output", snap, "--database", "src", "--es", ES.url,
                 "--index", "p_idx", "--chunk-size", "64K", "--json", "--log-format", "json"],
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        ES.faults(delay_ms=0)
        self.assertExit(r, 0)
        summary = json.loads(r.out)
        tables = sum(len(d["tables"]) for d in summary["databases"])
        copy_bytes = sum(t["bytes"] for d in summary["databases"] for t in d["tables"])
        doc_bytes = sum(i["bytes"] for i in summary["indices"])
        # dump: COPY data and documents written; the total is unknown before
        evs = self.assertEvents(r, "dump", total=None, items_total=tables + 1,
                                final_bytes=copy_bytes + doc_bytes)
        self.assertEqual(evs[-1]["docs"], 3000)
        self.assertEqual(evs[-1]["rows"], table_rows("src"))

        # verify reads every byte of it
        r = run(["verify", snap, "--log-format", "json"],
                env=env(GEN3DB_PROGRESS_INTERVAL="0.01"))
        self.assertExit(r, 0)
        self.assertEvents(r, "verify", total=os.path.getsize(snap), min_events=1)

        # the snapshot back: every byte of the file, every table and index
        drop("p_snap")
        ES.reset()
        r = run(["restore", snap, "--map", "src=p_snap", "--es", ES.url, "--log-format", "json"],
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        self.assertExit(r, 0)
        evs = self.assertEvents(r, "restore", total=os.path.getsize(snap),
                                items_total=tables + 1)
        self.assertEqual(evs[-1]["docs"], 3000)
        self.assertEqual(evs[-1]["rows"], table_rows("p_snap"))

    def bulk(self, data):
        import urllib.request
        req = urllib.request.Request(ES.url + "/_bulk?refresh=true", data=data, method="POST",
                                     headers={"Content-Type": "application/x-ndjson"})
        with urllib.request.urlopen(req) as resp:
            self.assertFalse(json.loads(resp.read())["errors"])

    def test_whole_environment_overall(self):
        for s in SERVICES:
            drop("%s_penv" % s)
        ES.faults(delay_ms=20)
        r = run(["restore", LAYOUT, "--release", "penv", "--es", ES.url,
                 "--credentials-dir", self.credentials("penv"), "--log-format", "json"],
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        ES.faults(delay_ms=0)
        self.assertExit(r, 0)
        total = sum(os.path.getsize(os.path.join(LAYOUT, "pgdumps", s + ".sql"))
                    for s in SERVICES)
        total += sum(os.path.getsize(os.path.join(LAYOUT, "elasticsearch", ix + "__data.json"))
                     for ix in INDICES)
        evs = self.assertEvents(r, "restore", total=total,
                                items_total=len(SERVICES) + len(INDICES))
        # tables are parts of their service: rows counted once, and not
        # items of their own
        self.assertEqual(evs[-1]["rows"], sum(table_rows("%s_penv" % s) for s in SERVICES))
        self.assertGreater(evs[-1]["docs"], 0)
        # the overall meter moves while services and indices are loading
        self.assertTrue(any(0 < e["bytes"] < total for e in evs), r.err[-2000:])

    def credentials(self, release):
        d = os.path.join(self.tmp, "creds-" + release)
        for s in SERVICES:
            os.makedirs(os.path.join(d, s))
            for key, value in (("database", "%s_%s" % (s, release)),
                               ("username", "%s_%s_user" % (s, release)),
                               ("password", secret("Pw-%s-%s-5Zq" % (s, release)))):
                with open(os.path.join(d, s, key), "w") as f:
                    f.write(value)
        return d

    def test_restore_es_and_dump_es(self):
        ES.faults(delay_ms=30)
        es_dir = os.path.join(LAYOUT, "elasticsearch")
        r = run(["restore-es", es_dir, "--es", ES.url, "--log-format", "json"]
                + sum([["--index", ix] for ix in INDICES], []),
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        self.assertExit(r, 0)
        total = sum(os.path.getsize(os.path.join(es_dir, ix + "__data.json")) for ix in INDICES)
        evs = self.assertEvents(r, "restore-es", total=total, items_total=len(INDICES))
        self.assertGreater(evs[-1]["docs"], 0)

        out = os.path.join(self.tmp, "esout")
        r = run(["dump-es", "--es", ES.url, "--output", out, "--page-size", "200",
                 "--log-format", "json"] + sum([["--index", ix] for ix in INDICES], []),
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        ES.faults(delay_ms=0)
        self.assertExit(r, 0)
        written = sum(os.path.getsize(os.path.join(out, ix + "__data.json")) for ix in INDICES)
        evs = self.assertEvents(r, "dump-es", total=None, items_total=len(INDICES),
                                final_bytes=written)
        docs = 0
        for ix in INDICES:
            with open(os.path.join(out, ix + "__data.json")) as f:
                docs += sum(1 for line in f if line.strip())
        self.assertEqual(evs[-1]["docs"], docs)

    def test_fetch(self):
        src = os.path.join(self.tmp, "big.bin")
        with open(src, "wb") as f:
            for _ in range(64):
                f.write(os.urandom(1 << 20))
        r = run(["fetch", src, "--output", os.path.join(self.tmp, "copy.bin"),
                 "--log-format", "json"], env=env(GEN3DB_PROGRESS_INTERVAL="0.01"))
        self.assertExit(r, 0)
        # at least one event while copying, then the final one
        self.assertEvents(r, "fetch", total=64 << 20, min_events=2)

    # ---- how and when it shows ---------------------------------------------

    def test_terminal_line_with_rate_and_eta_cleared_before_the_summary(self):
        for s in SERVICES:
            drop("%s_ptty" % s)
        ES.faults(delay_ms=60)
        code, text = run_pty(["restore", LAYOUT, "--release", "ptty", "--es", ES.url,
                              "--credentials-dir", self.credentials("ptty")],
                             env(TERM="xterm", GEN3DB_PROGRESS_INTERVAL="0.05"))
        ES.faults(delay_ms=0)
        self.assertEqual(code, 0, text[-3000:])
        lines = [seg.split("\x1b[K")[0] for seg in text.split("\r") if "\x1b[K" in seg]
        drawn = [l for l in lines if l]
        self.assertGreater(len(drawn), 2, text[-3000:])
        # bytes of the known total, a rate and an ETA on one line
        self.assertTrue(any(
            re.search(r"^\S+ \S*B / \S+ \S*B \d+%  \S+ \S*B/s .*ETA \S+", l)
            for l in drawn), drawn[-20:])
        self.assertTrue(any("/7 done" in l for l in drawn), drawn[-20:])
        # the line is cleared before the summary table, and never drawn after
        summary = text.index("gen3db: KIND")
        self.assertEqual(text.rindex("\x1b[K"), text.rindex("\r\x1b[K") + 1)
        self.assertLess(text.rindex("\r\x1b[K"), summary)
        self.assertTrue(text[:summary].rstrip(" ").endswith(("\r\x1b[K", "\n")))

    def test_quiet_shows_nothing(self):
        drop("p_quiet", "p_quiet2")
        path = os.path.join(DATA, "pg", "indexd.sql")
        r = run(["restore", path, "--database", "p_quiet", "--log-format", "json", "--quiet"],
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        self.assertExit(r, 0)
        self.assertEqual(progress_events(r.err), [])
        code, text = run_pty(["restore", path, "--database", "p_quiet2", "--quiet"],
                             env(TERM="xterm", GEN3DB_PROGRESS_INTERVAL=INTERVAL))
        self.assertEqual(code, 0, text)
        self.assertNotIn("\r", text.replace("\r\n", "\n"))
        self.assertNotIn("\x1b[K", text)

    def test_plain_logs_off_a_terminal_show_nothing(self):
        drop("p_notty")
        path = os.path.join(DATA, "pg", "indexd.sql")
        r = run(["restore", path, "--database", "p_notty"],
                env=env(GEN3DB_PROGRESS_INTERVAL=INTERVAL, TERM="xterm"))
        self.assertExit(r, 0)
        self.assertNotIn("\r", r.err)
        self.assertNotIn("\x1b[K", r.err)
        self.assertNotIn('"progress"', r.err)

    def test_default_json_interval_gives_only_the_final_event(self):
        # a run far shorter than the 5 s default: one event, the last
        src = os.path.join(self.tmp, "small.bin")
        with open(src, "wb") as f:
            f.write(b"x" * 1000)
        r = run(["fetch", src, "--output", os.path.join(self.tmp, "out.bin"),
                 "--log-format", "json"], env=env())
        self.assertExit(r, 0)
        evs = progress_events(r.err)
        self.assertEqual(len(evs), 1)
        self.assertTrue(evs[0]["final"])
        self.assertEqual((evs[0]["bytes"], evs[0]["total"]), (1000, 1000))

    def test_bad_interval_is_a_usage_error(self):
        src = os.path.join(self.tmp, "x.bin")
        with open(src, "wb") as f:
            f.write(b"x")
        for bad in ("abc", "0", "-1", "nan", "inf", "1e9", "0.5s", " 1", "0x"):
            out = os.path.join(self.tmp, "never.bin")
            r = run(["fetch", src, "--output", out], env=env(GEN3DB_PROGRESS_INTERVAL=bad))
            self.assertExit(r, 2)
            self.assertIn('gen3db: GEN3DB_PROGRESS_INTERVAL "%s" is not a number of seconds '
                          'from 0.01 to 86400' % bad, r.err)
            self.assertIn("hint: ", r.err)
            self.assertFalse(os.path.exists(out), bad)
        for good in ("0.01", "2", "86400", "1.5"):
            r = run(["fetch", src, "--output", os.path.join(self.tmp, "ok.bin")],
                    env=env(GEN3DB_PROGRESS_INTERVAL=good))
            self.assertExit(r, 0)


if __name__ == "__main__":
    unittest.main()
