#!/usr/bin/env python3
"""Two gen3db builds restoring the same shapes side by side, interleaved
run by run (the order alternates), against one throwaway cluster: for
measuring a change to the restore's schedule on a shared machine, where
only numbers taken in the same minutes compare.

  bench/ab.py --old OLD/gen3db --new build/gen3db [--shapes a,c] [--size 20MB]
              [--runs 3] [--source sql|snapshot] [--old-env K=V] [--new-env K=V]

Per shape and build: the median wall seconds of `gen3db restore --jobs 2`
(summed over the shape's databases) and of its post-data (first index,
constraint, key or ANALYZE job's start to the last one's end, from the
trace). Python standard library only."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import pgcluster  # noqa: E402

POST = ("index", "constraint", "attach", "fk", "validate", "analyze")


def restore(pg, binary, extra, src, db, trace):
    pg.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
    env = dict(pg.env(), SERVICE_PGPASS="ab-service-password", SERVICE_PGUSER="ab_" + db,
               SERVICE_PGDB=db, **extra)
    t0 = time.monotonic()
    subprocess.run([binary, "restore", src, "--database", db, "--jobs", "2", "--quiet",
                    "--trace", trace], env=env, check=True)
    wall = time.monotonic() - t0
    with open(trace) as f:
        recs = [json.loads(x) for x in f if x.strip()]
    post = [r for r in recs if r["job"] in POST]
    return wall, (max(r["end"] for r in post) - min(r["start"] for r in post)) if post else 0.0


def shape_sources(pg, shape, size, work, new_bin, source):
    d = os.path.join(work, "gen")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "shapes.py"), "--shape", shape,
                    "--out", d, "--size", size, "--seed", "1", "--quiet"], check=True)
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    srcs = {}
    for db, info in manifest["databases"].items():
        pg.psql('CREATE DATABASE "src_%s"' % db)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "src_" + db, "-f",
                        os.path.join(d, info["file"])], env=pg.env(), check=True,
                       stdout=subprocess.DEVNULL)
        if source == "sql":
            out = os.path.join(work, db + ".sql")
            subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "-f", out, "src_" + db],
                           env=pg.env(), check=True)
        else:
            out = os.path.join(work, db + ".tar.zst")
            subprocess.run([new_bin, "dump", "--output", out, "--database", "src_" + db,
                            "--quiet"], env=pg.env(), check=True)
        srcs[db] = out
    shutil.rmtree(d)
    return srcs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--shapes", default="a,c")
    ap.add_argument("--size", default="20MB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--source", choices=("sql", "snapshot"), default="sql")
    ap.add_argument("--old-env", action="append", default=[], help="K=V for the old build")
    ap.add_argument("--new-env", action="append", default=[], help="K=V for the new build")
    a = ap.parse_args()
    bins = {"old": os.path.abspath(a.old), "new": os.path.abspath(a.new)}
    envs = {"old": dict(x.split("=", 1) for x in a.old_env),
            "new": dict(x.split("=", 1) for x in a.new_env)}
    print("| shape | build | restore wall s (median of %d) | post-data s | runs |" % a.runs)
    print("| --- | --- | ---: | ---: | --- |")
    with pgcluster.PgCluster() as pg:
        for shape in a.shapes.split(","):
            work = tempfile.mkdtemp(prefix="gen3db-ab-")
            os.chmod(work, 0o755)
            try:
                srcs = shape_sources(pg, shape, a.size, work, bins["new"], a.source)
                res = {k: [] for k in bins}
                for i in range(a.runs):
                    for k in (("old", "new") if i % 2 == 0 else ("new", "old")):
                        wall = post = 0.0
                        for db, src in srcs.items():
                            w, p = restore(pg, bins[k], envs[k], src, "t_" + db,
                                           os.path.join(work, "trace.jsonl"))
                            wall += w
                            post += p
                        res[k].append((wall, post))
                for k in bins:
                    print("| %s | %s | %.2f | %.2f | %s |" % (
                        shape, k, statistics.median(w for w, _ in res[k]),
                        statistics.median(p for _, p in res[k]),
                        " ".join("%.2f/%.2f" % r for r in res[k])), flush=True)
                for db in srcs:
                    pg.psql('DROP DATABASE IF EXISTS "src_%s" WITH (FORCE)' % db)
            finally:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
