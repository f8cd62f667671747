#!/usr/bin/env python3
"""Side-by-side benchmarks: gen3db against the tools it replaces.

  make bench                      (SIZE=200MB RUNS=3 PARTS=pg,es,s3,mem)
  SIZE=1GB RUNS=5 PARTS=pg bench/run.py

Everything runs in one session on one machine, against one throwaway
PostgreSQL cluster and one ES-compatible test server, each tool several
times with a fresh target; the tables report medians. Results (machine,
versions, every raw run) go to bench/results/<stamp>/ and the summary to
bench/results/latest.md. Not part of `make check`: timings on shared
machines are noisy, so targets are judged here, from medians measured side
by side, never by timed tests.
"""
import glob
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import pgcluster  # noqa: E402

BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
SIZE = os.environ.get("SIZE", "200MB")
RUNS = int(os.environ.get("RUNS", "3"))
PARTS = os.environ.get("PARTS", "pg,es,s3,mem").split(",")
MEM_SIZES = os.environ.get("MEM_SIZES", "200MB,1GB").split(",")
SERVICES = ["sheepdog", "indexd", "fence", "arborist"]
CACHE = os.path.join(ROOT, "bench", ".cache")
DATA = os.path.join(ROOT, "bench", "data")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def dataset(size):
    d = os.path.join(DATA, "gen3-%s-s1" % size)
    if not os.path.exists(os.path.join(d, "manifest.json")):
        log("generating %s dataset in %s" % (size, d))
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen3gen.py"), "--out", d,
                        "--size", size, "--seed", "1", "--quiet"], check=True)
    for svc in SERVICES:
        sql = os.path.join(d, "pg", svc + ".sql")
        if not os.path.exists(sql + ".zst"):
            subprocess.run(["zstd", "-q", "-T0", "-3", "-f", sql, "-o", sql + ".zst"], check=True)
    return d


def measure(argv, env=None, cwd=None):
    """Runs argv under /usr/bin/time: wall seconds, client CPU, peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name] + argv,
                           env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (argv[0], r.returncode,
                                                       r.stderr.decode()[-2000:]))
        rss, user, sys_ = tf.read().split()[-3:]
    return {"wall": wall, "rss_kb": int(rss), "cpu": float(user) + float(sys_),
            "stdout": r.stdout.decode(errors="replace")[-4000:]}


def median(runs, key):
    return statistics.median(r[key] for r in runs)


class Table:
    def __init__(self, title, unit):
        self.title, self.unit, self.rows = title, unit, []

    def add(self, name, runs, amount, note=""):
        self.rows.append({"name": name, "runs": runs, "amount": amount, "note": note})

    def markdown(self, ref):
        base = next((r for r in self.rows if r["name"] == ref), None)
        out = ["### %s" % self.title, "",
               "| tool | median wall s | %s/s | MB/s | client CPU s | peak RSS MiB | gen3db speed-up |"
               % self.unit, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in self.rows:
            wall = median(r["runs"], "wall")
            ratio = ""
            if base is not None:
                ratio = "%.2f×" % (wall / median(base["runs"], "wall"))
                if r is base:
                    ratio = "1.00 (gen3db)"
            out.append("| %s | %.2f | %.0f | %.1f | %.2f | %.1f | %s |" % (
                r["name"] + (" " + r["note"] if r["note"] else ""), wall,
                r["amount"]["count"] / wall, r["amount"]["bytes"] / wall / 1e6,
                median(r["runs"], "cpu"), max(x["rss_kb"] for x in r["runs"]) / 1024, ratio))
        out.append("")
        out.append("Speed-up: the tool's median wall time divided by gen3db's (above 1: gen3db is faster).")
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------- PostgreSQL
def pg_bench(d, results):
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    rows = sum(t["rows"] for s in SERVICES for t in manifest["services"][s]["tables"].values())
    nbytes = sum(t["bytes"] for s in SERVICES for t in manifest["services"][s]["tables"].values())
    amount = {"count": rows, "bytes": nbytes}
    tbl = Table("PostgreSQL restore, %s (%d rows, %.0f MB of COPY data, %s)"
                % (SIZE, rows, nbytes / 1e6, ", ".join(SERVICES)), "rows")
    with pgcluster.PgCluster() as pg:
        env = pg.env()
        work = tempfile.mkdtemp(prefix="gen3db-bench-")
        os.chmod(work, 0o755)
        try:
            pg_variants(pg, env, d, work, tbl, amount, results)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tbl


def fresh_db(pg, name):
    pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    pg.psql('CREATE DATABASE "%s"' % name)


def drop_db(pg, name):
    pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def per_service(runner):
    """Sums one run over the services: wall and CPU add up, RSS is the max."""
    total = {"wall": 0.0, "cpu": 0.0, "rss_kb": 0, "stdout": ""}
    for svc in SERVICES:
        m = runner(svc)
        total["wall"] += m["wall"]
        total["cpu"] += m["cpu"]
        total["rss_kb"] = max(total["rss_kb"], m["rss_kb"])
        total["stdout"] = m["stdout"]
    return total


def pg_variants(pg, env, d, work, tbl, amount, results):
    sql = {s: os.path.join(d, "pg", s + ".sql") for s in SERVICES}
    # sources for pg_dump custom format, gen3db snapshots and the ceiling
    for s in SERVICES:
        fresh_db(pg, "src_" + s)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "src_" + s, "-f",
                        sql[s]], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["pg_dump", "-Fc", "-Z", "3", "-f", os.path.join(work, s + ".dump"),
                        "src_" + s], env=env, check=True)
        snap = os.path.join(work, s + ".tar.zst")
        r = subprocess.run([BIN, "dump", "--database", "src_" + s, "--output", snap],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("gen3db dump failed: %s" % r.stderr)

    svc_env = dict(env)
    svc_env["SERVICE_PGPASS"] = "bench-service-password"

    def gen3db_restore(src_of, extra):
        def run(svc):
            drop_db(pg, "t_" + svc)
            e = dict(svc_env, SERVICE_PGUSER="bench_" + svc, SERVICE_PGDB="t_" + svc)
            return measure([BIN, "restore", src_of(svc), "--quiet"] + extra(svc), env=e)
        return run

    def baseline(argv_of):
        def run(svc):
            fresh_db(pg, "t_" + svc)
            return measure(argv_of(svc), env=env)
        return run

    variants = [
        ("gen3db restore snapshot --jobs 2",
         gen3db_restore(lambda s: os.path.join(work, s + ".tar.zst"),
                        lambda s: ["--map", "src_%s=t_%s" % (s, s), "--jobs", "2"])),
        ("gen3db restore snapshot --jobs 1",
         gen3db_restore(lambda s: os.path.join(work, s + ".tar.zst"),
                        lambda s: ["--map", "src_%s=t_%s" % (s, s), "--jobs", "1"])),
        ("gen3db restore .sql.zst --jobs 2",
         gen3db_restore(lambda s: sql[s] + ".zst", lambda s: ["--jobs", "2"])),
        ("psql -f .sql (helm job)",
         baseline(lambda s: ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "t_" + s,
                             "-f", sql[s]])),
        ("zstd -dc .sql.zst | psql",
         baseline(lambda s: ["bash", "-c", 'zstd -dc "$1" | psql -X -q -v ON_ERROR_STOP=1 -d "$2"',
                             "_", sql[s] + ".zst", "t_" + s])),
        ("pg_restore -j 1",
         baseline(lambda s: ["pg_restore", "--no-owner", "-j", "1", "-d", "t_" + s,
                             os.path.join(work, s + ".dump")])),
        ("pg_restore -j 2",
         baseline(lambda s: ["pg_restore", "--no-owner", "-j", "2", "-d", "t_" + s,
                             os.path.join(work, s + ".dump")])),
    ]
    raw = {}
    # interleave the tools run by run so drift on a shared machine hits all alike
    for i in range(RUNS):
        for name, runner in variants:
            log("run %d/%d: %s" % (i + 1, RUNS, name))
            raw.setdefault(name, []).append(per_service(runner))
        raw.setdefault("ceiling", []).append(ceiling(pg, env, work))
    for name, _ in variants:
        tbl.add(name, raw[name], amount)
    data_runs = [{"wall": c["data"], "cpu": 0.0, "rss_kb": 0} for c in raw["ceiling"]]
    idx_runs = [{"wall": c["post"], "cpu": 0.0, "rss_kb": 0} for c in raw["ceiling"]]
    tbl.add("ceiling: server-side COPY FROM 'file', no indexes", data_runs, amount,
            "(data phase only)")
    tbl.add("ceiling: post-data (indexes, constraints) alone", idx_runs, amount,
            "(pg_restore --section=post-data -j 2)")
    results["pg"] = {k: [{kk: vv for kk, vv in r.items() if kk != "stdout"} for r in v]
                     for k, v in raw.items()}
    results["pg_gen3db_json"] = [r.get("stdout", "") for r in raw["gen3db restore snapshot --jobs 2"]]


def ceiling(pg, env, work):
    """Server-side COPY of the uncompressed data into tables without indexes,
    then the post-data section timed apart."""
    data_t = post_t = 0.0
    files = os.path.join(work, "copyfiles")
    if not os.path.isdir(files):
        os.makedirs(files)
        u = pgcluster.run_user()
        if u:
            os.chown(files, u.pw_uid, u.pw_gid)
    for s in SERVICES:
        tables = pg.psql("SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables "
                         "WHERE schemaname NOT IN ('pg_catalog','information_schema')",
                         db="src_" + s).split("\n")
        for t in tables:
            f = os.path.join(files, "%s.%s.copy" % (s, t.replace('"', "")))
            if not os.path.exists(f):
                pg.psql("COPY %s TO '%s'" % (t, f), db="src_" + s)
        fresh_db(pg, "c_" + s)
        subprocess.run(["pg_restore", "--no-owner", "--section=pre-data", "-d", "c_" + s,
                        os.path.join(work, s + ".dump")], env=env, check=True)
        t0 = time.monotonic()
        for t in tables:
            f = os.path.join(files, "%s.%s.copy" % (s, t.replace('"', "")))
            pg.psql("COPY %s FROM '%s'" % (t, f), db="c_" + s)
        data_t += time.monotonic() - t0
        t0 = time.monotonic()
        subprocess.run(["pg_restore", "--no-owner", "--section=post-data", "-j", "2", "-d",
                        "c_" + s, os.path.join(work, s + ".dump")], env=env, check=True)
        post_t += time.monotonic() - t0
        drop_db(pg, "c_" + s)
    return {"data": data_t, "post": post_t}


# ---------------------------------------------------------------- main
def machine():
    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "not found"
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                               if l.startswith("model name")), "?"),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "postgres": out(["psql", "--version"]), "gen3db": out([BIN, "--version"]),
            "zstd": out(["zstd", "--version"]), "node": out(["node", "--version"])}


def main():
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(ROOT, "bench", "results", "%s-%s" % (stamp, SIZE))
    os.makedirs(outdir, exist_ok=True)
    results = {"size": SIZE, "runs": RUNS, "machine": machine()}
    tables = []
    d = dataset(SIZE)
    if "pg" in PARTS:
        tables.append(pg_bench(d, results).markdown("gen3db restore snapshot --jobs 2"))
    for part in PARTS:
        fn = globals().get(part + "_part")
        if fn:
            tables.extend(fn(d, results))
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    summary = "## Benchmarks (%s, %d runs each, medians)\n\nMachine: %s\n\n%s" % (
        SIZE, RUNS, json.dumps(results["machine"]), "\n".join(tables))
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(summary)
    shutil.copy(os.path.join(outdir, "summary.md"), os.path.join(ROOT, "bench", "results", "latest.md"))
    print(summary)


if __name__ == "__main__":
    main()
