#!/usr/bin/env python3
"""Local HTTP file server that misbehaves on purpose, for download-resume tests.

Serves the files under --root (GET and HEAD) with ETag, Last-Modified,
Content-Length, ``Accept-Ranges: bytes`` and single-range support
(``bytes=N-``, ``bytes=N-M``, ``bytes=-S`` -> 206 with Content-Range;
unsatisfiable -> 416 with ``Content-Range: bytes */SIZE``).  ``If-Range`` (an
ETag) and ``If-Match`` are honoured, so a resuming client can make the server
refuse to splice a changed object.

Faults, per URL path:

* cut: the first M body-bearing responses of a path announce their full
  Content-Length but the connection is closed after K body bytes
  (``--cut-after K --cut-times M`` for every path, or per path via the
  control endpoint).
* change_etag_after N: after N requests (GET or HEAD) of the path the object
  "changes": every later response has another ETag and other content of the
  same size (each byte XOR 0x5A per generation), so only the ETag tells.

Control endpoint (JSON, on the same port):

  POST /_control {"path": "/f.bin", "cut_after": K, "times": M,
                  "change_etag_after": N}        set faults for one path
  POST /_control {"reset": true}                 forget all faults and counters
  GET  /_stats                                   per-path counters, ranges seen

Usage:
  flaky_http_server.py --root DIR [--listen-host 127.0.0.1] [--listen-port 0]
                       [--port-file FILE] [--cut-after K --cut-times M] [--quiet]
"""

from __future__ import annotations

import argparse
import email.utils
import http.server
import json
import os
import re
import socket
import sys
import threading
import urllib.parse

CHUNK = 64 * 1024
XOR_BYTE = 0x5A


class PathState:
    def __init__(self):
        self.requests = 0
        self.cut_after = None
        self.cut_times = 0
        self.cuts_done = 0
        self.change_etag_after = None
        self.ranges = []   # Range header of each request (None if absent)
        self.statuses = []

    def as_dict(self):
        return {"requests": self.requests, "cut_after": self.cut_after,
                "cut_times": self.cut_times, "cuts_done": self.cuts_done,
                "change_etag_after": self.change_etag_after,
                "ranges": self.ranges, "statuses": self.statuses}


class State:
    def __init__(self, default_cut_after=None, default_cut_times=0):
        self.lock = threading.Lock()
        self.paths: dict = {}
        self.default_cut_after = default_cut_after
        self.default_cut_times = default_cut_times

    def get(self, path) -> PathState:
        st = self.paths.get(path)
        if st is None:
            st = PathState()
            st.cut_after = self.default_cut_after
            st.cut_times = self.default_cut_times
            self.paths[path] = st
        return st


def _xor(data: bytes, generation: int) -> bytes:
    if generation == 0:
        return data
    key = (XOR_BYTE * generation) & 0xFF or 0xFF
    return bytes(b ^ key for b in data)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gen3db-flaky-http"
    root: str = "."
    state: State = None
    quiet = False

    def log_message(self, fmt, *args):
        if not self.quiet:
            sys.stderr.write("%s [%s] %s\n" % (self.address_string(),
                                               self.log_date_time_string(), fmt % args))

    # -- helpers -----------------------------------------------------------
    def _send_json(self, status, obj):
        body = json.dumps(obj, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _simple(self, status, text, extra=()):
        body = (text + "\n").encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _url_path(self):
        return urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)

    # -- control -------------------------------------------------------------
    def do_POST(self):
        if self._url_path() != "/_control":
            return self._simple(405, "method not allowed")
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self._simple(400, "bad json")
        with self.state.lock:
            if req.get("reset"):
                self.state.paths.clear()
                self.state.default_cut_after = None
                self.state.default_cut_times = 0
            if "path" in req:
                st = self.state.get(req["path"])
                if "cut_after" in req:
                    st.cut_after = req["cut_after"]
                    st.cut_times = int(req.get("times", 1))
                    st.cuts_done = 0
                if "change_etag_after" in req:
                    st.change_etag_after = req["change_etag_after"]
                if req.get("reset_counters"):
                    st.requests = st.cuts_done = 0
                    st.ranges, st.statuses = [], []
            result = {p: s.as_dict() for p, s in self.state.paths.items()}
        self._send_json(200, result)

    # -- files -----------------------------------------------------------------
    def do_HEAD(self):
        self._serve()

    def do_GET(self):
        if self._url_path() == "/_stats":
            with self.state.lock:
                result = {p: s.as_dict() for p, s in self.state.paths.items()}
            return self._send_json(200, result)
        self._serve()

    def _serve(self):
        path = self._url_path()
        rel = os.path.normpath(path.lstrip("/"))
        if rel.startswith("..") or os.path.isabs(rel):
            return self._simple(403, "forbidden")
        full = os.path.join(self.root, rel)
        if not os.path.isfile(full):
            return self._simple(404, "not found")
        st_file = os.stat(full)
        size = st_file.st_size
        rng = self.headers.get("Range")
        with self.state.lock:
            st = self.state.get(path)
            st.requests += 1
            generation = 0
            if st.change_etag_after is not None and st.requests > st.change_etag_after:
                generation = 1
            st.ranges.append(rng)
        etag = '"%x-%x-g%d"' % (st_file.st_mtime_ns, size, generation)
        headers = [("ETag", etag), ("Accept-Ranges", "bytes"),
                   ("Last-Modified", email.utils.formatdate(st_file.st_mtime, usegmt=True)),
                   ("Content-Type", "application/octet-stream")]

        if_match = self.headers.get("If-Match")
        if if_match and if_match.strip() != "*" and etag not in [
                t.strip() for t in if_match.split(",")]:
            self._record(path, 412)
            return self._simple(412, "precondition failed", headers)

        start, end, status = 0, size - 1, 200
        if rng is not None:
            if_range = self.headers.get("If-Range")
            if if_range is not None and if_range.strip() != etag:
                rng = None  # object changed: send it whole
        if rng is not None:
            m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", rng)
            if not m or (m.group(1) == "" and m.group(2) == ""):
                pass  # malformed or multi-range: ignore, send 200
            else:
                if m.group(1) == "":
                    suffix = int(m.group(2))
                    start, end = max(0, size - suffix), size - 1
                    ok = suffix > 0 and size > 0
                else:
                    start = int(m.group(1))
                    end = int(m.group(2)) if m.group(2) else size - 1
                    end = min(end, size - 1)
                    ok = start < size and start <= end
                if not ok:
                    self._record(path, 416)
                    return self._simple(416, "range not satisfiable",
                                        headers + [("Content-Range", "bytes */%d" % size)])
                status = 206
        length = end - start + 1 if size else 0
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self._record(path, status)
        if self.command == "HEAD":
            return

        limit = length
        cut = False
        with self.state.lock:
            if st.cut_after is not None and st.cuts_done < st.cut_times:
                st.cuts_done += 1
                if st.cut_after < length:
                    limit, cut = max(0, int(st.cut_after)), True
        sent = 0
        try:
            with open(full, "rb") as f:
                f.seek(start)
                while sent < limit:
                    data = f.read(min(CHUNK, limit - sent))
                    if not data:
                        break
                    self.wfile.write(_xor(data, generation))
                    sent += len(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        if cut:
            self.log_message("cut %s after %d of %d bytes", path, sent, length)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _record(self, path, status):
        with self.state.lock:
            self.state.get(path).statuses.append(status)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, socket.timeout)):
            return  # clients dropping connections is expected here
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="HTTP file server with injectable faults")
    ap.add_argument("--root", required=True, help="directory to serve")
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cut-after", type=int, metavar="K",
                    help="close the connection after K body bytes ...")
    ap.add_argument("--cut-times", type=int, default=1, metavar="M",
                    help="... for the first M responses of each path (default 1)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    Handler.root = os.path.abspath(args.root)
    Handler.quiet = args.quiet
    Handler.state = State(args.cut_after, args.cut_times if args.cut_after is not None else 0)
    srv = Server((args.listen_host, args.listen_port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stderr.write("flaky_http_server on http://%s:%d serving %s\n"
                     % (args.listen_host, port, Handler.root))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
