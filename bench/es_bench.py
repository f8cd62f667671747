#!/usr/bin/env python3
"""ES restore benchmark against the test double: gen3db restore-es vs the
curl ceiling (pre-built bulk bodies, xargs -P) vs elasticdump (optional).

  python3 bench/es_bench.py --dir bench/data/es50/es [--runs 3] [--elasticdump PATH]

Starts es_test_server.py in fast and in cluster mode, resets it between runs,
and prints the median wall seconds, docs/s, client CPU seconds (user+sys of
the client processes, from /usr/bin/time) and max RSS per tool. For the curl
ceiling only the posting phase counts (bodies are built beforehand), and
its RSS is that of the body-building script, not of curl.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INDICES = ["dev_case", "dev_file"]


def start(mode, tmp):
    pf = os.path.join(tmp, mode + ".port")
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/esd/es_test_server.py"),
                          "--port", "0", "--port-file", pf, "--mode", mode],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(pf):
        time.sleep(0.05)
    return p, "http://127.0.0.1:%s" % open(pf).read().strip()


def reset(url):
    subprocess.run(["curl", "-sf", "-o", "/dev/null", "-XPOST", url + "/_test/reset"], check=True)


def timed(cmd, env=None):
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %U %S %M"] + cmd, capture_output=True,
                       text=True, env=env)
    wall = time.monotonic() - t0
    if r.returncode:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    m = re.findall(r"TIME ([\d.]+) ([\d.]+) (\d+)", r.stderr)[-1]
    out = r.stdout + r.stderr
    ceil = re.search(r"curl-ceiling wall=([\d.]+)", out)
    if ceil:  # only the posting phase, not building the bodies
        cpu = re.search(r"curl-client user=([\d.]+) sys=([\d.]+)", out)
        return float(ceil.group(1)), float(cpu.group(1)) + float(cpu.group(2)), int(m[2])
    return wall, float(m[0]) + float(m[1]), int(m[2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/gen3db"))
    ap.add_argument("--elasticdump")
    a = ap.parse_args()
    docs = sum(sum(1 for _ in open(os.path.join(a.dir, i + "__data.json"))) for i in INDICES)
    mb = sum(os.path.getsize(os.path.join(a.dir, i + "__data.json")) for i in INDICES) / 2**20
    print("data: %d documents, %.1f MiB (%s)" % (docs, mb, ", ".join(INDICES)))
    tmp = tempfile.mkdtemp()
    for mode in ("fast", "cluster"):
        proc, url = start(mode, tmp)
        tools = []
        for bs in ("10MB", "2MB"):
            tools.append(("gen3db --bulk-size %s" % bs,
                          [a.bin, "restore-es", a.dir, "--es", url, "--quiet", "--bulk-size", bs]
                          + sum([["--index", i] for i in INDICES], [])))
        for bs in (10 << 20, 2 << 20):
            tools.append(("curl ceiling %dMB" % (bs >> 20),
                          [os.path.join(ROOT, "bench/es-curl-ceiling.sh"), url, a.dir,
                           " ".join(INDICES), str(bs), "4"]))
        if a.elasticdump:
            tools.append(("elasticdump (helm job)", [os.path.join(ROOT, "bench/es-elasticdump.sh"),
                                                     url, a.dir, " ".join(INDICES)]))
        res = {name: [] for name, _ in tools}
        env = dict(os.environ, ELASTICDUMP=a.elasticdump or "elasticdump")
        for _ in range(a.runs):
            for name, cmd in tools:  # interleaved: noise hits every tool alike
                reset(url)
                res[name].append(timed(cmd, env))
        print("\nmode %s (median of %d runs)" % (mode, a.runs))
        print("%-26s %8s %9s %9s %9s" % ("tool", "wall s", "docs/s", "CPU s", "RSS MiB"))
        for name, _ in tools:
            w = statistics.median(x[0] for x in res[name])
            c = statistics.median(x[1] for x in res[name])
            m = max(x[2] for x in res[name]) / 1024
            print("%-26s %8.2f %9.0f %9.2f %9.1f" % (name, w, docs / w, c, m))
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
