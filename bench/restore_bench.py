#!/usr/bin/env python3
"""Restore benchmark: psql -f vs gen3db restore (plain SQL) vs gen3db restore
(snapshot) of a gen3gen dataset, each into fresh databases of one throwaway
PostgreSQL cluster; median of N runs; peak RSS of gen3db (/usr/bin/time -v).

  python3 bench/restore_bench.py --size 200MB --runs 3 [--jobs 2] [--data bench/data/s200]

The dataset is generated (gen3gen, seed 1) into --data unless it is there.
Times cover all four service files (fence, indexd, arborist, sheepdog):
each file restored into its own fresh database, one after another.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import pgcluster  # noqa: E402

SERVICES = ["fence", "indexd", "arborist", "sheepdog"]
PASS = "bench-pass-123"


def timed(argv, env, rss=False):
    if rss:
        argv = ["/usr/bin/time", "-v"] + argv
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (argv, r.stderr[-2000:]))
    peak = None
    if rss:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        peak = int(m.group(1)) if m else None
    return dt, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="200MB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "gen3db"))
    a = ap.parse_args()
    data = a.data or os.path.join(ROOT, "bench", "data", "s" + a.size.lower())
    if not os.path.exists(os.path.join(data, "manifest.json")):
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen3gen.py"), "--out", data,
                        "--size", a.size, "--seed", "1", "--quiet"], check=True)
    files = [os.path.join(data, "pg", s + ".sql") for s in SERVICES]
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    results = {"psql -f": [], "gen3db restore (sql)": [], "gen3db restore (snapshot)": []}
    rss = {"gen3db restore (sql)": [], "gen3db restore (snapshot)": []}
    # autovacuum off: it would analyze what one method loaded while the
    # next one is timed (2 cores); gen3db runs ANALYZE itself, psql -f not
    with pgcluster.PgCluster(settings={"autovacuum": "off"}) as pg:
        env = pg.env()
        genv = dict(env, SERVICE_PGPASS=PASS)
        # the snapshot: the four databases loaded once, dumped once
        for s in SERVICES:
            pg.psql('CREATE DATABASE "%s_src"' % s)
            subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", s + "_src", "-f",
                            os.path.join(data, "pg", s + ".sql")], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        snap = os.path.join(data, "all.tar.zst")
        argv = [a.bin, "dump", "--output", snap, "--quiet"]
        for s in SERVICES:
            argv += ["--database", s + "_src"]
        subprocess.run(argv, env=env, check=True)
        def run_psql(run):
            total = 0.0
            for s, f in zip(SERVICES, files):
                db = "%s_psql%d" % (s, run)
                pg.psql('CREATE DATABASE "%s"' % db)
                dt, _ = timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", f], env)
                total += dt
            results["psql -f"].append(total)

        def run_sql(run):
            total, peak = 0.0, 0
            for s, f in zip(SERVICES, files):
                dt, p = timed([a.bin, "restore", f, "--database", "%s_sql%d" % (s, run),
                               "--jobs", str(a.jobs), "--quiet"], genv, rss=True)
                total += dt
                peak = max(peak, p or 0)
            results["gen3db restore (sql)"].append(total)
            rss["gen3db restore (sql)"].append(peak)

        def run_snap(run):
            argv = [a.bin, "restore", snap, "--jobs", str(a.jobs), "--quiet"]
            for s in SERVICES:
                argv += ["--map", "%s_src=%s_snap%d" % (s, s, run)]
            dt, p = timed(argv, genv, rss=True)
            results["gen3db restore (snapshot)"].append(dt)
            rss["gen3db restore (snapshot)"].append(p)

        methods = [run_psql, run_sql, run_snap]
        for run in range(a.runs):
            # the order rotates from run to run: a background load or a
            # checkpoint does not always fall on the same method
            for m in methods[run % 3:] + methods[:run % 3]:
                pg.psql("CHECKPOINT")
                m(run)
            # keep the cluster's size in check between runs
            for s in SERVICES:
                for k in ("psql", "sql", "snap"):
                    pg.psql('DROP DATABASE "%s_%s%d"' % (s, k, run))
    print("cluster: PostgreSQL %s, fsync off, autovacuum off, CHECKPOINT before each method"
          % subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.split()[2])
    print("dataset: gen3gen --size %s --seed 1, %.0f MB of SQL in %d files; jobs %d; %d runs"
          % (a.size, mb, len(files), a.jobs, a.runs))
    print("| method | median wall time (s) | fastest (s) | runs (s) | peak RSS of gen3db (MB) |")
    print("| --- | ---: | ---: | --- | ---: |")
    for k, v in results.items():
        r = rss.get(k)
        print("| %s | %.1f | %.1f | %s | %s |" % (
            k, statistics.median(v), min(v), ", ".join("%.1f" % x for x in v),
            "%.0f" % (max(r) / 1024) if r else "-"))


if __name__ == "__main__":
    main()
