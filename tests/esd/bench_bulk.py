#!/usr/bin/env python3
"""Measure the test double's _bulk throughput (docs/s) in fast mode.

Why: the double must be fast enough that a C client's efficiency shows in
timing tests.  Posts pre-built ~10 MiB bulk bodies from N concurrent
keep-alive clients to an in-process server and prints docs/s.

    python3 tests/esd/bench_bulk.py [--clients 4] [--bodies 8] [--mib 10]
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import es_test_server as esd  # noqa: E402


def build_body(start, mib):
    parts, size, i = [], 0, start
    while size < mib << 20:
        a = b'{"index":{"_index":"bench","_id":"%d"}}\n' % i
        d = json.dumps({"node_id": "n%d" % i, "count": i, "score": i / 7.0, "ok": i % 2 == 0,
                        "project": "proj-%d" % (i % 50)}).encode() + b"\n"
        parts += [a, d]
        size += len(a) + len(d)
        i += 1
    return b"".join(parts), i - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--bodies", type=int, default=8, help="bodies per client")
    ap.add_argument("--mib", type=int, default=10)
    a = ap.parse_args()
    cfg = esd.make_parser().parse_args(["--port", "0"])
    srv = esd.build_server(cfg)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    bodies = [build_body(n * 10 ** 7, a.mib) for n in range(a.clients * a.bodies)]
    total_docs = sum(n for _, n in bodies)

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for body, _ in bodies[k::a.clients]:
            c.request("POST", "/_bulk?filter_path=errors", body=body,
                      headers={"Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            out = json.loads(r.read())
            assert r.status == 200 and out == {"errors": False}, out
        c.close()

    ts = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    mib = sum(len(b) for b, _ in bodies) / (1 << 20)
    print("%d docs, %.0f MiB, %d clients: %.2f s, %.0f docs/s, %.1f MiB/s"
          % (total_docs, mib, a.clients, dt, total_docs / dt, mib / dt))
    srv.shutdown()


if __name__ == "__main__":
    main()
