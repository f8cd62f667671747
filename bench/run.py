#!/usr/bin/env python3
"""Side-by-side benchmarks: gen3db against the tools it replaces.

  make bench                      (SIZE=200MB RUNS=3 PARTS=pg,shapes,es,s3,mem)
  SIZE=1GB RUNS=5 PARTS=pg bench/run.py
  SHAPE_SIZE=100MB SHAPES=a,c PARTS=shapes bench/run.py

Everything runs in one session on one machine, against one throwaway
PostgreSQL cluster and one ES-compatible test server, each tool several
times with a fresh target; the tables report medians. Results (machine,
versions, every raw run) go to bench/results/<stamp>/ and the summary to
bench/results/latest.md. Parts:

  pg   psql -f, zstd|psql, pg_restore -j1/-j2 against gen3db restore (plain
       and snapshot), the server-side COPY ceiling; server CPU per run from
       the postmaster's /proc accounting (how many cores the server used)
  es   gen3db restore-es against elasticdump run as the helm job (npm,
       tests/elasticdump/install.sh) and the curl ceiling, in the ES test
       server's fast and cluster-like modes
  s3   streaming restore from s3rver (tests/s3/s3env.sh) against download
       then restore
  mem  gen3db's peak RSS restoring and dumping at each of MEM_SIZES
  shapes  per dataset shape of bench/shapes.py (SHAPES=a,b,c,d,e, each
       SHAPE_SIZE of COPY data: default SIZE when SIZE is set, else 64MB):
       gen3db restore (.sql.zst and snapshot, --jobs 2, traced) against
       psql -f, pg_restore -j 2 of -Fd and -Fc, pg_restore -j 2 then
       vacuumdb -Z -j 2; gen3db dump against pg_dump -Fc and -Fd -j 2;
       per phase of gen3db's restore (from its --trace) the wall time, the
       connections' busy share and the server's CPU (bench/tracestat.py),
       and a Gantt chart of each traced restore

Not part of `make check`: timings on shared
machines are noisy, so targets are judged here, from medians measured side
by side, never by timed tests.
"""
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import pgcluster  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "bench"))
import shapes  # noqa: E402
import tracestat  # noqa: E402

BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
SIZE = os.environ.get("SIZE", "200MB")
RUNS = int(os.environ.get("RUNS", "3"))
PARTS = os.environ.get("PARTS", "pg,shapes,es,s3,mem").split(",")
SHAPES = os.environ.get("SHAPES", "a,b,c,d,e").split(",")
SHAPE_SIZE = os.environ.get("SHAPE_SIZE") or os.environ.get("SIZE") or "64MB"
MEM_SIZES = os.environ.get("MEM_SIZES", "200MB,1GB").split(",")
SERVICES = ["sheepdog", "indexd", "fence", "arborist"]
CACHE = os.path.join(ROOT, "bench", ".cache")
DATA = os.path.join(ROOT, "bench", "data")
OUT = {}  # "dir": this run's bench/results/<stamp>/


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


SERVER = {}  # "pid": the postmaster of the current PostgreSQL part


def server_cpu():
    """CPU seconds of the PostgreSQL server so far: the postmaster's own and
    its reaped children's (cutime/cstime), plus its live children's."""
    pid = SERVER.get("pid")
    if not pid:
        return 0.0
    tck = os.sysconf("SC_CLK_TCK")

    def stat(p):
        with open("/proc/%s/stat" % p) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return v  # v[1] is ppid, v[11..14] utime stime cutime cstime

    total = sum(int(x) for x in stat(pid)[11:15])
    try:  # the kernel's list of the postmaster's children, else a scan of /proc
        with open("/proc/%s/task/%s/children" % (pid, pid)) as f:
            kids = f.read().split()
    except OSError:
        kids = [p for p in os.listdir("/proc") if p.isdigit()]
    for p in kids:
        try:
            v = stat(p)
        except OSError:
            continue
        if v[1] == str(pid):
            total += int(v[11]) + int(v[12])
    return total / tck


class CpuSampler:
    """server_cpu() every tracestat.SAMPLE_EVERY seconds in a thread, as
    (seconds since t0, CPU seconds) pairs, while a traced restore runs."""

    def __init__(self, t0):
        self.t0, self.samples, self.stop = t0, [(0.0, server_cpu())], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.wait(tracestat.SAMPLE_EVERY):
            self.samples.append((time.monotonic() - self.t0, server_cpu()))

    def finish(self):
        self.stop.set()
        self.thread.join()
        self.samples.append((time.monotonic() - self.t0, server_cpu()))
        return self.samples


def measure(argv, env=None, cwd=None, sample=False):
    """Runs argv under /usr/bin/time: wall seconds, client CPU, peak RSS, and
    the server's CPU seconds over the run when a server is watched (with
    sample, also "samples": the server's CPU every 100 ms, see CpuSampler)."""
    s0 = server_cpu()
    load0 = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.monotonic()
        sampler = CpuSampler(t0) if sample else None
        r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf.name] + argv,
                           env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.monotonic() - t0
        samples = sampler.finish() if sampler else None
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (argv[0], r.returncode,
                                                       r.stderr.decode()[-2000:]))
        rss, user, sys_ = tf.read().split()[-3:]
    return {"wall": wall, "rss_kb": int(rss), "cpu": float(user) + float(sys_),
            "server_cpu": server_cpu() - s0, "samples": samples,
            # other work on a shared machine shows here (1-minute load average)
            "load": max(load0, os.getloadavg()[0]),
            "stdout": r.stdout.decode(errors="replace")[-4000:],
            "stderr": r.stderr.decode(errors="replace")[-4000:]}


def median(runs, key):
    return statistics.median(r[key] for r in runs)


class Table:
    def __init__(self, title, unit):
        self.title, self.unit, self.rows = title, unit, []

    def add(self, name, runs, amount, note=""):
        self.rows.append({"name": name, "runs": runs, "amount": amount, "note": note})

    def markdown(self, ref, ref2=None):
        """The table, the speed-up against the row named ref (and, with
        ref2, a second column against that row)."""
        bases = [next((r for r in self.rows if r["name"] == x), None) for x in (ref, ref2) if x]
        heads = ["gen3db speed-up"] if not ref2 else ["speed-up vs %s" % x.replace("gen3db ", "")
                                                      for x in (ref, ref2)]
        out = ["### %s" % self.title, "",
               "| tool | median wall s | %s/s | MB/s | client CPU s | server CPU s (cores busy) "
               "| peak RSS MiB | load avg | %s |" % (self.unit, " | ".join(heads)),
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + " ---: |" * len(heads)]
        for r in self.rows:
            wall = median(r["runs"], "wall")
            ratios = []
            for base in bases:
                ratio = ""
                if base is not None:
                    ratio = "%.2f×" % (wall / median(base["runs"], "wall"))
                    if r is base:
                        ratio = "1.00 (gen3db)"
                ratios.append(ratio)
            scpu = statistics.median(x.get("server_cpu", 0.0) for x in r["runs"])
            out.append("| %s | %.2f | %.0f | %.1f | %.2f | %s | %.1f | %s | %s |" % (
                (r["name"] + (" " + r["note"] if r["note"] else "")).replace("|", "\\|"), wall,
                r["amount"]["count"] / wall, r["amount"]["bytes"] / wall / 1e6,
                median(r["runs"], "cpu"),
                "%.1f (%.2f)" % (scpu, scpu / wall) if scpu else "-",
                max(x["rss_kb"] for x in r["runs"]) / 1024,
                "%.1f" % max(x["load"] for x in r["runs"]) if "load" in r["runs"][0] else "-",
                " | ".join(ratios)))
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
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            SERVER["pid"] = f.readline().strip()
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


def per_service(runner, dbs=SERVICES):
    """Sums one run over the services (or databases): wall and CPU add up,
    RSS is the max."""
    total = {"wall": 0.0, "cpu": 0.0, "server_cpu": 0.0, "rss_kb": 0, "stdout": "", "phases": [],
             "load": 0.0}
    for svc in dbs:
        m = runner(svc)
        total["wall"] += m["wall"]
        total["cpu"] += m["cpu"]
        total["server_cpu"] += m["server_cpu"]
        total["load"] = max(total["load"], m["load"])
        total["phases"].append(phases(m.get("stderr", "")))
        total["rss_kb"] = max(total["rss_kb"], m["rss_kb"])
        total["stdout"] = m["stdout"]
        if "out_bytes" in m:
            total["out_bytes"] = total.get("out_bytes", 0) + m["out_bytes"]
    return total


def phases(stderr):
    """gen3db restore's own split: data and post-data seconds (0 if none)."""
    import re
    m = re.search(r"\(data ([\d.]+) s, indexes, constraints and analyze ([\d.]+) s", stderr)
    return {"data": float(m.group(1)), "post": float(m.group(2))} if m else {}


def gen3db_restorer(pg, env, src_of, extra, trace=None):
    """One database's gen3db restore into t_<db>, as its service user
    (with trace: --trace into that file and the server's CPU sampled)."""
    def run(svc):
        drop_db(pg, "t_" + svc)
        e = dict(env, SERVICE_PGPASS="bench-service-password", SERVICE_PGUSER="bench_" + svc,
                 SERVICE_PGDB="t_" + svc)
        argv = [BIN, "restore", src_of(svc)] + extra(svc)
        if trace is None:
            return measure(argv, env=e)
        m = measure(argv + ["--trace", trace], env=e, sample=True)
        m["trace"] = tracestat.load(trace)
        return m
    return run


def baseline_runner(pg, env, argv_of):
    """One database's restore by another tool into t_<db>: the helm job
    creates the database before psql -f, and gen3db's time includes
    creating its (side) database, so the baseline's time includes
    CREATE DATABASE."""
    def run(svc):
        drop_db(pg, "t_" + svc)
        return measure(["bash", "-c", 'psql -X -q -d postgres -c "CREATE DATABASE \\"$1\\"" '
                        '&& shift && exec "$@"', "_", "t_" + svc] + argv_of(svc), env=env)
    return run


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

    gen3db_restore = lambda src_of, extra: gen3db_restorer(pg, env, src_of, extra)
    baseline = lambda argv_of: baseline_runner(pg, env, argv_of)
    variants = [
        ("gen3db restore snapshot --jobs 2",
         gen3db_restore(lambda s: os.path.join(work, s + ".tar.zst"),
                        lambda s: ["--map", "src_%s=t_%s" % (s, s), "--jobs", "2"])),
        ("gen3db restore .sql.zst --jobs 2",
         gen3db_restore(lambda s: sql[s] + ".zst", lambda s: ["--jobs", "2"])),
        ("psql -f .sql (helm job)",
         baseline(lambda s: ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "t_" + s,
                             "-f", sql[s]])),
        ("zstd -dc .sql.zst | psql",
         baseline(lambda s: ["bash", "-c", 'zstd -dc "$1" | psql -X -q -v ON_ERROR_STOP=1 -d "$2"',
                             "_", sql[s] + ".zst", "t_" + s])),
        ("pg_restore -j 2",
         baseline(lambda s: ["pg_restore", "--no-owner", "-j", "2", "-d", "t_" + s,
                             os.path.join(work, s + ".dump")])),
        # psql and pg_restore do not ANALYZE; gen3db does (a restored
        # database needs statistics): the same tools followed by ANALYZE
        ("psql -f .sql, then vacuumdb -Z -j 2",
         baseline(lambda s: ["bash", "-c", 'psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" && '
                             'vacuumdb -q --analyze-only -j 2 -d "$1"', "_", "t_" + s, sql[s]])),
        ("pg_restore -j 2, then vacuumdb -Z -j 2",
         baseline(lambda s: ["bash", "-c", 'pg_restore --no-owner -j 2 -d "$1" "$2" && '
                             'vacuumdb -q --analyze-only -j 2 -d "$1"', "_", "t_" + s,
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
    results["pg"] = {k: [{kk: vv for kk, vv in r.items() if kk not in ("stdout", "stderr")}
                         for r in v] for k, v in raw.items()}
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
        tables = pg.psql("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
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


# ---------------------------------------------------------------- Elasticsearch
ES_INDICES = ["dev_case", "dev_file"]


def elasticdump_bin():
    """npm's elasticdump, the version the interoperability tests pin
    (tests/elasticdump/package.json), installed by tests/elasticdump/install.sh."""
    subprocess.run(["bash", os.path.join(ROOT, "tests", "elasticdump", "install.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, "tests", "elasticdump", "node_modules", ".bin", "elasticdump")


def es_server(mode, tmp):
    pf = os.path.join(tmp, mode + ".port")
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/esd/es_test_server.py"),
                          "--port", "0", "--port-file", pf, "--mode", mode],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(pf) and open(pf).read().strip():
            break
        time.sleep(0.05)
    return p, "http://127.0.0.1:%s" % open(pf).read().strip()


def es_timed(argv, url, env=None):
    """One ES run: the server is reset first; the curl ceiling reports only
    its posting phase (bodies are built beforehand) and its curls' CPU."""
    import re
    subprocess.run(["curl", "-sf", "-o", "/dev/null", "-XPOST", url + "/_test/reset"], check=True)
    m = measure(argv, env=env)
    out = m["stdout"] + m["stderr"]
    ceil = re.search(r"curl-ceiling wall=([\d.]+)", out)
    if ceil:
        cpu = re.search(r"curl-client user=([\d.]+) sys=([\d.]+)", out)
        m["wall"] = float(ceil.group(1))
        m["cpu"] = float(cpu.group(1)) + float(cpu.group(2))
    return m


def es_part(d, results):
    es_dir = os.path.join(d, "es")
    docs = sum(sum(1 for _ in open(os.path.join(es_dir, i + "__data.json"))) for i in ES_INDICES)
    nbytes = sum(os.path.getsize(os.path.join(es_dir, i + "__data.json")) for i in ES_INDICES)
    amount = {"count": docs, "bytes": nbytes}
    ed = elasticdump_bin()
    env = dict(os.environ, ELASTICDUMP=ed)
    tables, raw_all = [], {}
    tmp = tempfile.mkdtemp(prefix="gen3db-bench-es-")
    try:
        for mode in ("fast", "cluster"):
            proc, url = es_server(mode, tmp)
            try:
                tools = [
                    ("gen3db restore-es (--es-jobs 4, 10MB)",
                     [BIN, "restore-es", es_dir, "--es", url, "--quiet"]
                     + sum([["--index", i] for i in ES_INDICES], [])),
                    ("curl ceiling (4 in flight, 10MB bodies)",
                     [os.path.join(ROOT, "bench/es-curl-ceiling.sh"), url, es_dir,
                      " ".join(ES_INDICES), str(10 << 20), "4"]),
                    ("elasticdump (helm job: mapping, data --limit 10000)",
                     [os.path.join(ROOT, "bench/es-elasticdump.sh"), url, es_dir,
                      " ".join(ES_INDICES)]),
                ]
                raw = {}
                for i in range(RUNS):
                    for name, argv in tools:
                        log("es %s run %d/%d: %s" % (mode, i + 1, RUNS, name))
                        raw.setdefault(name, []).append(es_timed(argv, url, env))
            finally:
                proc.terminate()
                proc.wait()
            tbl = Table("Elasticsearch restore, test server mode %s (%d docs, %.0f MB NDJSON, %s)"
                        % (mode, docs, nbytes / 1e6, ", ".join(ES_INDICES)), "docs")
            for name, _ in tools:
                tbl.add(name, raw[name], amount)
            md = tbl.markdown(tools[0][0])
            md += "\nClient CPU per 1000 docs: %s\n" % ", ".join(
                "%s %.1f ms" % (n.split(" (")[0], 1e6 * median(raw[n], "cpu") / docs)
                for n, _ in tools)
            tables.append(md)
            raw_all[mode] = {k: [strip(r) for r in v] for k, v in raw.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["es"] = {"docs": docs, "bytes": nbytes, "runs": raw_all}
    return tables


def strip(r):
    return {k: v for k, v in r.items() if k not in ("stdout", "stderr", "samples", "trace")}


# ---------------------------------------------------------------- S3
def s3_put(upstream, bucket, key, path):
    """Stores a file in s3rver directly (no auth), streamed."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(upstream)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    with open(path, "rb") as f:
        conn.request("PUT", "/%s/%s" % (bucket, key), body=f,
                     headers={"Content-Length": str(os.path.getsize(path))})
        resp = conn.getresponse()
        resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError("s3rver PUT %s: %d" % (key, resp.status))


def read_env_file(path):
    out = subprocess.run(["bash", "-c", '. "$1"; env -0', "_", path], capture_output=True,
                         check=True).stdout
    return dict(x.decode().split("=", 1) for x in out.split(b"\0") if b"=" in x)


def s3_part(d, results):
    subprocess.run([os.path.join(ROOT, "tests/s3/install.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="gen3db-bench-s3-")
    s3env = os.path.join(ROOT, "tests/s3/s3env.sh")
    manifest = json.load(open(os.path.join(d, "manifest.json")))
    rows = sum(t["rows"] for s in SERVICES for t in manifest["services"][s]["tables"].values())
    nbytes = sum(t["bytes"] for s in SERVICES for t in manifest["services"][s]["tables"].values())
    tbl = Table("Restore from S3 (s3rver behind the SigV4 proxy), %s, the 4 services' "
                ".sql.zst" % SIZE, "rows")
    subprocess.run([s3env, "start", tmp], check=True, stdout=subprocess.DEVNULL)
    try:
        s3 = read_env_file(os.path.join(tmp, "s3.env"))
        bucket = s3["S3_PUBLIC_BUCKET"]  # anonymous GET for curl, as a presigned URL would be
        for svc in SERVICES:
            s3_put(s3["S3_UPSTREAM"], bucket, "bench/%s.sql.zst" % svc,
                   os.path.join(d, "pg", svc + ".sql.zst"))
        with pgcluster.PgCluster() as pg:
            env = pg.env()
            with open(os.path.join(pg.data, "postmaster.pid")) as f:
                SERVER["pid"] = f.readline().strip()
            genv = dict(env, SERVICE_PGPASS="bench-service-password",
                        AWS_ACCESS_KEY_ID=s3["AWS_ACCESS_KEY_ID"],
                        AWS_SECRET_ACCESS_KEY=s3["AWS_SECRET_ACCESS_KEY"],
                        AWS_REGION=s3["S3_REGION"], AWS_ENDPOINT_URL=s3["S3_ENDPOINT"])
            url = lambda svc: "%s/%s/bench/%s.sql.zst" % (s3["S3_ENDPOINT"], bucket, svc)
            local = os.path.join(tmp, "dl.sql.zst")

            def gen3db(svc):
                drop_db(pg, "t_" + svc)
                e = dict(genv, SERVICE_PGUSER="bench_" + svc, SERVICE_PGDB="t_" + svc)
                return measure([BIN, "restore", "s3://%s/bench/%s.sql.zst" % (bucket, svc),
                                "--jobs", "2", "--quiet"], env=e)

            def download_then(cmd):
                def run(svc):
                    drop_db(pg, "t_" + svc)
                    return measure(["bash", "-c", 'psql -X -q -d postgres -c "CREATE DATABASE '
                                    '\\"$3\\"" && curl -sf -o "$1" "$2" && ' + cmd, "_", local,
                                    url(svc), "t_" + svc, "bench_" + svc], env=genv)
                return run

            def dl_gen3db(svc):
                drop_db(pg, "t_" + svc)
                e = dict(genv, SERVICE_PGUSER="bench_" + svc, SERVICE_PGDB="t_" + svc)
                return measure(["bash", "-c", 'curl -sf -o "$1" "$2" && "$3" restore "$1" '
                                '--jobs 2 --quiet', "_", local, url(svc), BIN], env=e)

            variants = [
                ("gen3db restore s3://....sql.zst --jobs 2 (streaming)", gen3db),
                ("curl to a file, then zstd -dc | psql",
                 download_then('zstd -dc "$1" | psql -X -q -v ON_ERROR_STOP=1 -d "$3"')),
                ("curl to a file, then zstd -d, psql -f",
                 download_then('zstd -q -d -f "$1" -o "$1.sql" && '
                               'psql -X -q -v ON_ERROR_STOP=1 -d "$3" -f "$1.sql"; '
                               'r=$?; rm -f "$1.sql"; exit $r')),
                ("curl to a file, then gen3db restore FILE --jobs 2", dl_gen3db),
            ]
            raw = {}
            for i in range(RUNS):
                for name, runner in variants:
                    log("s3 run %d/%d: %s" % (i + 1, RUNS, name))
                    raw.setdefault(name, []).append(per_service(runner))
            SERVER.pop("pid", None)
    finally:
        subprocess.run([s3env, "stop", tmp], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    for name, _ in variants:
        tbl.add(name, raw[name], {"count": rows, "bytes": nbytes})
    results["s3"] = {k: [strip(r) for r in v] for k, v in raw.items()}
    return [tbl.markdown(variants[0][0])]


# ---------------------------------------------------------------- shapes
RESTORE_SNAP = "gen3db restore snapshot --jobs 2"
RESTORE_SQL = "gen3db restore .sql.zst --jobs 2"
RESTORE_NA = "gen3db restore snapshot --jobs 2 --no-analyze"
PSQL = "psql -f .sql (helm job)"
PGR_D = "pg_restore -j 2 (-Fd)"
PGR_C = "pg_restore -j 2 (-Fc)"
PGR_Z = "pg_restore -j 2 (-Fd), then vacuumdb -Z -j 2"
DUMP_G3 = "gen3db dump --jobs 2 (snapshot, zstd -3)"
DUMP_FC = "pg_dump -Fc (gzip -6)"
DUMP_FD = "pg_dump -Fd -j 2 (gzip -6 per table)"
DUMP_FDZ = "pg_dump -Fd -j 2 -Z 0, then tar | zstd -3"


def shape_dataset(shape):
    d = os.path.join(DATA, "shape-%s-%s-s1" % (shape, SHAPE_SIZE))
    if not os.path.exists(os.path.join(d, "manifest.json")):
        log("generating shape %s (%s) in %s" % (shape, SHAPE_SIZE, d))
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "shapes.py"), "--shape", shape,
                        "--out", d, "--size", SHAPE_SIZE, "--seed", "1", "--quiet"], check=True)
    with open(os.path.join(d, "manifest.json")) as f:
        return d, json.load(f)


def shapes_part(_d, results):
    """Every shape of SHAPES against one throwaway cluster, one after the other."""
    out = []
    with pgcluster.PgCluster() as pg:
        with open(os.path.join(pg.data, "postmaster.pid")) as f:
            SERVER["pid"] = f.readline().strip()
        try:
            for shape in SHAPES:
                work = tempfile.mkdtemp(prefix="gen3db-bench-shape-")
                os.chmod(work, 0o755)
                try:
                    out.append(shape_bench(pg, pg.env(), shape, work,
                                           results.setdefault("shapes", {})))
                finally:
                    shutil.rmtree(work, ignore_errors=True)
        finally:
            SERVER.pop("pid", None)
    return [shapes_overview(results["shapes"])] + out


def shapes_overview(shapes_res):
    """One row per shape: the restores' and dumps' medians side by side and
    the ratios the targets judge (a baseline's time ÷ gen3db's)."""
    out = ["### Shapes overview (median wall s; ratios: the baseline's time ÷ gen3db's)", "",
           "| shape | COPY MB | snapshot | .sql.zst | psql -f | pg_restore -j 2 -Fd / -Fc "
           "| + vacuumdb -Z | snapshot vs pg_restore + vacuumdb -Z \\| vs pg_restore | .sql.zst vs "
           "psql -f | least busy conn snapshot \\| .sql.zst | gen3db dump | pg_dump -Fd -j 2 "
           "gzip \\| -Z 0 + zstd | dump vs pg_dump -Fd -j 2 |",
           "| --- |" + " ---: |" * 12]
    for shape, s in shapes_res.items():
        w = lambda n: statistics.median(r["wall"] for r in s["runs"][n])

        def least(n):
            busy = [tracestat.busy(r["analysis"]) for r in s["runs"][n]]
            return 100 * min(statistics.median(x[c] for x in busy) for c in busy[0])
        out.append("| %s %s | %.0f | %.2f | %.2f | %.2f | %.2f / %.2f | %.2f | %.2f× \\| %.2f× "
                   "| %.2f× | %.0f %% \\| %.0f %% | %.2f | %.2f \\| %.2f | %.2f× |" % (
                       shape, s["name"], s["copy_bytes"] / 1e6, w(RESTORE_SNAP), w(RESTORE_SQL),
                       w(PSQL), w(PGR_D), w(PGR_C), w(PGR_Z), w(PGR_Z) / w(RESTORE_SNAP),
                       min(w(PGR_D), w(PGR_C)) / w(RESTORE_SNAP), w(PSQL) / w(RESTORE_SQL),
                       least(RESTORE_SNAP), least(RESTORE_SQL), w(DUMP_G3), w(DUMP_FD),
                       w(DUMP_FDZ), min(w(DUMP_FD), w(DUMP_FDZ)) / w(DUMP_G3)))
    return "\n".join(out) + "\n"


def shape_sources(pg, env, d, manifest, work):
    """Loads the shape's generated SQL into src_<db> and writes the plain
    file as the real pg_dump writes it (no owners, no privileges, as the
    helm job's input), and its .zst."""
    for db, info in manifest["databases"].items():
        fresh_db(pg, "src_" + db)
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "src_" + db, "-f",
                        os.path.join(d, info["file"])], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        sql = os.path.join(work, db + ".sql")
        subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "-f", sql, "src_" + db],
                       env=env, check=True)
        subprocess.run(["zstd", "-q", "-3", "-f", sql, "-o", sql + ".zst"], check=True)


def traced(runner, dbs):
    """A gen3db restore of each database in turn, its traces analysed and
    laid end to end on one time line."""
    def run():
        parts, recs = [], []

        def one(db):
            m = runner(db)
            parts.append(tracestat.analyze(m["trace"], m["wall"], 2, m["samples"]))
            recs.extend(tracestat.shifted(m["trace"], sum(p["wall"] for p in parts[:-1])))
            return m
        total = per_service(one, dbs)
        total["trace"], total["analysis"] = recs, tracestat.merge(parts)
        return total
    return run


def shape_bench(pg, env, shape, work, res):
    d, manifest = shape_dataset(shape)
    dbs = list(manifest["databases"])
    ntables = sum(len(x["tables"]) for x in manifest["databases"].values())
    rows = sum(t["rows"] for x in manifest["databases"].values() for t in x["tables"].values())
    amount = {"count": rows, "bytes": manifest["copy_bytes"]}
    what = "shape %s (%s), %s: %d database%s, %d tables, %d rows, %.0f MB of COPY data" % (
        shape, manifest["name"], SHAPE_SIZE, len(dbs), "s" if len(dbs) > 1 else "", ntables, rows,
        manifest["copy_bytes"] / 1e6)
    log(what)
    shape_sources(pg, env, d, manifest, work)
    path = lambda db, ext: os.path.join(work, db + ext)

    def dump(argv_of, output):
        def run(db):
            subprocess.run(["rm", "-rf", path(db, output)], check=True)
            m = measure(argv_of(db), env=env)
            m["out_bytes"] = int(subprocess.run(["du", "-sb", path(db, output)], check=True,
                                                capture_output=True, text=True).stdout.split()[0])
            return m
        return run

    dumps = [
        (DUMP_G3, dump(lambda db: [BIN, "dump", "--database", "src_" + db, "--output",
                                   path(db, ".tar.zst"), "--jobs", "2", "--quiet"], ".tar.zst")),
        (DUMP_FC, dump(lambda db: ["pg_dump", "-Fc", "-f", path(db, ".dump"), "src_" + db],
                       ".dump")),
        (DUMP_FD, dump(lambda db: ["pg_dump", "-Fd", "-j", "2", "-f", path(db, ".dir"),
                                   "src_" + db], ".dir")),
        (DUMP_FDZ, dump(lambda db: ["bash", "-c", 'set -o pipefail; pg_dump -Fd -j 2 -Z 0 -f "$1" '
                                    '"$2" && tar -C "$1" -cf - . | zstd -q -3 -f -o "$3"; r=$?; '
                                    'rm -rf "$1"; exit $r', "_", path(db, ".raw"), "src_" + db,
                                    path(db, ".dir.tar.zst")], ".dir.tar.zst")),
    ]
    trace = os.path.join(work, "trace.jsonl")
    base = lambda argv_of: baseline_runner(pg, env, argv_of)
    restores = [
        (RESTORE_SNAP, traced(gen3db_restorer(
            pg, env, lambda db: path(db, ".tar.zst"),
            lambda db: ["--map", "src_%s=t_%s" % (db, db), "--jobs", "2"], trace), dbs)),
        (RESTORE_SQL, traced(gen3db_restorer(pg, env, lambda db: path(db, ".sql.zst"),
                                             lambda db: ["--jobs", "2"], trace), dbs)),
        # the work bare pg_restore does: no statistics
        (RESTORE_NA, gen3db_restorer(
            pg, env, lambda db: path(db, ".tar.zst"),
            lambda db: ["--map", "src_%s=t_%s" % (db, db), "--jobs", "2", "--no-analyze"])),
        (PSQL, base(lambda db: ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "t_" + db,
                                "-f", path(db, ".sql")])),
        (PGR_D, base(lambda db: ["pg_restore", "--no-owner", "-j", "2", "-d", "t_" + db,
                                 path(db, ".dir")])),
        (PGR_C, base(lambda db: ["pg_restore", "--no-owner", "-j", "2", "-d", "t_" + db,
                                 path(db, ".dump")])),
        (PGR_Z, base(lambda db: ["bash", "-c", 'pg_restore --no-owner -j 2 -d "$1" "$2" && '
                                 'vacuumdb -q --analyze-only -j 2 -d "$1"', "_", "t_" + db,
                                 path(db, ".dir")])),
    ]
    raw = {}
    # interleaved run by run; each run's dumps are the next restores' input
    for i in range(RUNS):
        for name, runner in dumps + restores:
            log("shape %s run %d/%d: %s" % (shape, i + 1, RUNS, name))
            m = runner() if name in (RESTORE_SNAP, RESTORE_SQL) else per_service(runner, dbs)
            raw.setdefault(name, []).append(m)
        for name, tag in ((RESTORE_SNAP, "snapshot"), (RESTORE_SQL, "sql")):
            keep_trace(raw[name][-1]["trace"], "%s-%s-run%d" % (shape, tag, i + 1))
    for db in dbs:
        drop_db(pg, "src_" + db)
        drop_db(pg, "t_" + db)
    res[shape] = {"name": manifest["name"], "size": SHAPE_SIZE, "databases": dbs,
                  "tables": ntables, "rows": rows, "copy_bytes": manifest["copy_bytes"],
                  "runs": {k: [strip(r) for r in v] for k, v in raw.items()}}
    return shape_markdown(shape, what, res[shape], raw, amount, dumps, restores)


def keep_trace(recs, tag):
    """The trace into the results folder, and its Gantt chart beside it."""
    tdir = os.path.join(OUT["dir"], "traces")
    os.makedirs(tdir, exist_ok=True)
    f = os.path.join(tdir, tag + ".jsonl")
    with open(f, "w") as out:
        for r in recs:
            out.write(json.dumps(r) + "\n")
    subprocess.run([os.path.join(ROOT, "scripts", "trace-gantt"), f, "-o",
                    os.path.join(OUT["dir"], "gantt-%s.svg" % tag)], check=True)


def shape_markdown(shape, what, res, raw, amount, dumps, restores):
    dt = Table("Dump, %s" % what, "rows")
    for name, _ in dumps:
        mb = statistics.median(r["out_bytes"] for r in raw[name]) / 1e6
        dt.add(name, raw[name], amount, "→ %.1f MB" % mb)
    rt = Table("Restore, %s" % what, "rows")
    for name, _ in restores:
        rt.add(name, raw[name], amount)
    out = [dt.markdown(DUMP_G3), rt.markdown(RESTORE_SNAP, RESTORE_SQL)]
    for name, tag in ((RESTORE_SNAP, "snapshot"), (RESTORE_SQL, "sql")):
        out.append(phase_markdown(name, [r["analysis"] for r in raw[name]],
                                  "gantt-%s-%s-run%d.svg" % (shape, tag, RUNS)))
    return "\n".join(out)


def phase_markdown(name, analyses, gantt):
    """Per phase of gen3db's restore, medians over the runs: its jobs, wall
    (union of its jobs), job seconds, connections busy on average while it
    ran (job s / wall), and the server's CPU seconds (tracestat's split)."""
    med = lambda f: statistics.median(f(a) for a in analyses)
    phases = tracestat.ordered({p for a in analyses for p in a["phases"]})
    get = lambda a, p, k: a["phases"].get(p, {}).get(k, 0.0)
    out = ["#### %s: phases (medians of %d runs)" % (name, len(analyses)), "",
           "| phase | jobs | wall s | job s | connections busy | server CPU s | server cores |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in phases:
        wall, js, cpu = med(lambda a: get(a, p, "wall")), med(lambda a: get(a, p, "job_s")), \
            med(lambda a: get(a, p, "cpu"))
        out.append("| %s | %d | %.2f | %.2f | %s | %.2f | %s |" % (
            p, med(lambda a: get(a, p, "jobs")), wall, js, "%.2f" % (js / wall) if wall else "-",
            cpu, "%.2f" % (cpu / wall) if wall else "-"))
    busy = {c: med(lambda a: tracestat.busy(a).get(c, 0.0)) for c in analyses[0]["conns"]}
    sbusy = {c: med(lambda a: tracestat.busy(a, "span").get(c, 0.0)) for c in analyses[0]["conns"]}
    builds = {}
    for a in analyses:
        for k, v in a["builds"].items():
            builds.setdefault(k, []).append(v)
    top = sorted(builds.items(), key=lambda kv: -statistics.median(x["s"] for x in kv[1]))[:5]
    out += ["", "Worker connections busy: %s of the restore's wall time (%.2f s); %s of the "
            "load's span, first worker job to last (%.2f s)." % (
                ", ".join("conn %s %.0f %%" % (c, 100 * v) for c, v in sorted(busy.items())),
                med(lambda a: a["wall"]),
                ", ".join("conn %s %.0f %%" % (c, 100 * v) for c, v in sorted(sbusy.items())),
                med(lambda a: a["span"])),
            "Longest builds: %s." % ("; ".join("%s %.2f s (server CPU %.2f s)" % (
                k, statistics.median(x["s"] for x in v), statistics.median(x["cpu"] for x in v))
                for k, v in top) or "none"),
            "Gantt chart of the last run: `%s` in this run's results folder." % gantt]
    return "\n".join(out) + "\n"


def shape_targets(add, shapes_res):
    """The issue's per-shape targets, from the medians of each shape's runs."""
    for shape, s in shapes_res.items():
        runs = s["runs"]
        wall = lambda n: statistics.median(r["wall"] for r in runs[n])
        tag = "shape %s (%s): " % (shape, s["name"])
        snap, sql = wall(RESTORE_SNAP), wall(RESTORE_SQL)
        pgr = min(wall(PGR_D), wall(PGR_C))
        checks = [(wall(PGR_Z) / snap, 1.25, "snapshot vs pg_restore -j 2 + vacuumdb -Z"),
                  (pgr / snap, 1.05, "snapshot vs pg_restore -j 2 (faster of -Fd, -Fc)")]
        if RESTORE_NA in runs:    # not in results from before the option
            checks.append((pgr / wall(RESTORE_NA), 1.05,
                           "snapshot --no-analyze vs pg_restore -j 2 (the same work)"))
        checks.append((wall(PSQL) / sql, 1.5, ".sql.zst vs psql -f"))
        for x, goal, what in checks:
            add(tag + what, "%.2f×" % x, "≥ %.2f×" % goal, x >= goal)
        for n in (RESTORE_SNAP, RESTORE_SQL):
            busy = [tracestat.busy(r["analysis"]) for r in runs[n]]
            b = min(statistics.median(x[c] for x in busy) for c in busy[0])
            add(tag + "%s: least busy connection" % n.replace("gen3db restore ", ""),
                "%.0f %%" % (100 * b), "≥ 90 %", b >= 0.9)
        peak = max(r["rss_kb"] for n in (RESTORE_SNAP, RESTORE_SQL, DUMP_G3) for r in runs[n])
        add(tag + "gen3db peak RSS (restores, dump)", "%.1f MiB" % (peak / 1024), "< 64 MiB",
            peak < 64 * 1024)
        x = min(wall(DUMP_FD), wall(DUMP_FDZ)) / wall(DUMP_G3)
        add(tag + "gen3db dump vs pg_dump -Fd -j 2 (faster of gzip, -Z 0 + zstd)", "%.2f×" % x,
            "≥ 1×", x >= 1)


# ---------------------------------------------------------------- memory
def mem_part(d, results):
    """gen3db's peak RSS restoring (snapshot and .sql.zst, --jobs 2) and
    dumping, at each of MEM_SIZES: it should stay flat, under 64 MiB."""
    out = ["### gen3db peak RSS by data size (MiB, one run each)", "",
           "| size | COPY data MB | dump (snapshot) | restore snapshot --jobs 2 | "
           "restore .sql.zst --jobs 2 | restore .sql.zst --jobs 8 |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    res = {}
    for size in MEM_SIZES:
        dd = dataset(size)
        manifest = json.load(open(os.path.join(dd, "manifest.json")))
        nbytes = sum(t["bytes"] for s in SERVICES for t in manifest["services"][s]["tables"].values())
        peak = {"dump": 0, "snap": 0, "sql2": 0, "sql8": 0}
        work = tempfile.mkdtemp(prefix="gen3db-bench-mem-")
        try:
            with pgcluster.PgCluster() as pg:
                env = pg.env()
                genv = dict(env, SERVICE_PGPASS="bench-service-password")
                for svc in SERVICES:
                    log("mem %s: %s" % (size, svc))
                    fresh_db(pg, "src_" + svc)
                    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "src_" + svc,
                                    "-f", os.path.join(dd, "pg", svc + ".sql")], env=env,
                                   check=True, stdout=subprocess.DEVNULL)
                    snap = os.path.join(work, svc + ".tar.zst")
                    peak["dump"] = max(peak["dump"], measure(
                        [BIN, "dump", "--database", "src_" + svc, "--output", snap, "--quiet"],
                        env=env)["rss_kb"])
                    drop_db(pg, "src_" + svc)
                    e = dict(genv, SERVICE_PGUSER="bench_" + svc, SERVICE_PGDB="t_" + svc)
                    for key, argv in (("snap", [snap, "--map", "src_%s=t_%s" % (svc, svc),
                                                "--jobs", "2"]),
                                      ("sql2", [os.path.join(dd, "pg", svc + ".sql.zst"),
                                                "--jobs", "2"]),
                                      ("sql8", [os.path.join(dd, "pg", svc + ".sql.zst"),
                                                "--jobs", "8"])):
                        drop_db(pg, "t_" + svc)
                        peak[key] = max(peak[key], measure(
                            [BIN, "restore"] + argv + ["--quiet"], env=e)["rss_kb"])
                    drop_db(pg, "t_" + svc)
                    os.unlink(snap)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        res[size] = {"copy_bytes": nbytes, "peak_rss_kb": peak}
        out.append("| %s | %.0f | %.1f | %.1f | %.1f | %.1f |" % (
            size, nbytes / 1e6, peak["dump"] / 1024, peak["snap"] / 1024, peak["sql2"] / 1024,
            peak["sql8"] / 1024))
    results["mem"] = res
    return ["\n".join(out) + "\n"]


# ---------------------------------------------------------------- targets
def targets(results):
    """The issue's targets, each judged from this run's medians."""
    rows = []

    def add(name, value, goal, ok):
        verdict = ok if isinstance(ok, str) else ("met" if ok else "**missed**")
        rows.append("| %s | %s | %s | %s |" % (name.replace("|", "\\|"), value, goal, verdict))

    def wall(runs):
        return statistics.median(r["wall"] for r in runs)

    pg = results.get("pg")
    if pg:
        for g in ("gen3db restore snapshot --jobs 2", "gen3db restore .sql.zst --jobs 2"):
            gw = wall(pg[g])
            for ref, goal, what in (
                    ("psql -f .sql (helm job)", 1.5, "psql -f"),
                    ("pg_restore -j 2", 1.2, "pg_restore -j 2"),
                    ("psql -f .sql, then vacuumdb -Z -j 2", 1.5, "psql -f + ANALYZE"),
                    ("pg_restore -j 2, then vacuumdb -Z -j 2", 1.2, "pg_restore -j 2 + ANALYZE")):
                x = wall(pg[ref]) / gw
                add("%s vs %s" % (g.replace("gen3db restore ", ""), what), "%.2f×" % x,
                    "≥ %.1f×" % goal, x >= goal)
        data = statistics.median(sum(p.get("data", 0) for p in r["phases"])
                                 for r in pg["gen3db restore snapshot --jobs 2"])
        ceil = statistics.median(c["data"] for c in pg["ceiling"])
        if data:
            add("data phase (snapshot --jobs 2) vs server-side COPY ceiling",
                "%.0f %% (%.2f s vs %.2f s)" % (100 * ceil / data, data, ceil), "≥ 80 %",
                ceil / data >= 0.8)
    es = results.get("es")
    if es:
        g, c, e = ("gen3db restore-es (--es-jobs 4, 10MB)", "curl ceiling (4 in flight, 10MB bodies)",
                   "elasticdump (helm job: mapping, data --limit 10000)")
        for mode, runs in es["runs"].items():
            cpu = median(runs[e], "cpu") / max(median(runs[g], "cpu"), 1e-9)
            add("ES %s: client CPU/doc, elasticdump ÷ gen3db" % mode, "%.1f×" % cpu, "≥ 10×",
                cpu >= 10)
            x = wall(runs[c]) / wall(runs[g])
            add("ES %s: docs/s vs curl ceiling" % mode, "%.0f %%" % (100 * x), "≥ 80 %", x >= 0.8)
            if mode == "cluster":
                x = wall(runs[e]) / wall(runs[g])
                add("ES cluster: docs/s vs elasticdump", "%.1f×" % x, "≥ 5×", x >= 5)
    s3 = results.get("s3")
    if s3:
        names = list(s3)
        stream = wall(s3[names[0]])
        psqls = [n for n in names[1:] if "psql" in n]
        best = min(psqls, key=lambda n: wall(s3[n]))
        x = wall(s3[best]) / stream
        add("S3 streaming vs fastest download-then-psql (%s)" % best, "%.2f×" % x, "> 1×", x > 1)
        for n in names[1:]:
            if n not in psqls:
                x = wall(s3[n]) / stream
                add("S3 streaming vs %s" % n, "%.2f×" % x, "-", "for information")
    if results.get("shapes"):
        shape_targets(add, results["shapes"])
    mem = results.get("mem")
    if mem:
        peak = max(max(v["peak_rss_kb"].values()) for v in mem.values()) / 1024
        add("gen3db peak RSS over %s" % ", ".join(mem), "%.1f MiB" % peak, "< 64 MiB", peak < 64)
    return "\n".join(["### Targets", "", "| target | measured | goal | |",
                      "| --- | ---: | ---: | --- |"] + rows) + "\n"


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
    OUT["dir"] = outdir
    results = {"size": SIZE, "runs": RUNS, "machine": machine()}
    if "shapes" in PARTS:
        results["shape_size"] = SHAPE_SIZE
    tables = []
    for p in PARTS:
        if p not in ("pg", "shapes", "es", "s3", "mem"):
            raise SystemExit("bench: unknown part %r (PARTS: pg,shapes,es,s3,mem)" % p)
    for s in SHAPES:
        if s not in shapes.SHAPES:
            raise SystemExit("bench: unknown shape %r (SHAPES: %s)" % (s, ",".join(shapes.SHAPES)))
    d = dataset(SIZE) if set(PARTS) & {"pg", "es", "s3"} else None
    def write():
        with open(os.path.join(outdir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        summary = ("## Benchmarks (%s, %d runs each, medians)\n\nCommand: `make bench SIZE=%s "
                   "RUNS=%d PARTS=%s MEM_SIZES=%s%s`\n\nMachine: %s\n\n%s" % (
                       SIZE, RUNS, SIZE, RUNS, ",".join(PARTS), ",".join(MEM_SIZES),
                       " SHAPES=%s SHAPE_SIZE=%s" % (",".join(SHAPES), SHAPE_SIZE)
                       if "shapes" in PARTS else "",
                       json.dumps(results["machine"]), "\n".join(tables + [targets(results)])))
        with open(os.path.join(outdir, "summary.md"), "w") as f:
            f.write(summary)
        with open(os.path.join(outdir, "machine.txt"), "w") as f:
            f.write(subprocess.run(["bash", "-c", "uname -a; lscpu; free -m; nproc"],
                                   capture_output=True, text=True).stdout)
        shutil.copy(os.path.join(outdir, "summary.md"),
                    os.path.join(ROOT, "bench", "results", "latest.md"))
        return summary

    if "pg" in PARTS:
        tables.append(pg_bench(d, results).markdown("gen3db restore snapshot --jobs 2"))
        SERVER.pop("pid", None)
        write()
    for part in PARTS:
        fn = globals().get(part + "_part")
        if fn:
            tables.extend(fn(d, results))
            write()
    print(write())

def retarget(outdir):
    """bench/run.py --retarget DIR: the Targets table of DIR/summary.md
    judged again from DIR/results.json (after a change of this file's
    judging, without measuring again)."""
    with open(os.path.join(outdir, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(outdir, "summary.md")) as f:
        summary = f.read()
    summary = summary[:summary.index("### Targets")] + targets(results)
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--retarget":
        retarget(sys.argv[2])
    else:
        main()
