#!/usr/bin/env python3
"""Reverse proxy that enforces AWS Signature V4 in front of s3rver.

s3rver implements S3's REST protocol but does not check V4 signatures.  This
proxy verifies every request (Authorization header or presigned URL) against
the configured credentials and answers failures the way S3 does (403/400 with
an XML <Error> body).  Verified requests are forwarded to s3rver, path-style,
with the client's auth replaced by a placeholder for s3rver's built-in
"S3RVER" account (s3rver only checks that the key id exists).

Bodies are never held whole in memory:

* UNSIGNED-PAYLOAD (and anonymous) request bodies are streamed to s3rver in
  64 KiB pieces as they arrive.
* A body whose x-amz-content-sha256 is a hex digest is first spooled (64 KiB
  at a time, to memory up to 1 MiB and to a temporary file beyond) while it is
  hashed; if the digest differs the proxy answers 400
  XAmzContentSHA256Mismatch and nothing reaches s3rver, as with S3.  Otherwise
  the spool is streamed to s3rver.  The spool size is capped by --max-spool.
* Responses are relayed piecewise; a response without Content-Length is
  re-chunked to the client.

s3rver 3.7 lacks AbortMultipartUpload (DELETE ?uploadId= answers 405) and
accepts parts for upload ids that do not exist.  Given --s3rver-data (its
data directory), the proxy answers those itself as S3 does: abort removes
the upload (204), and abort, UploadPart and CompleteMultipartUpload of an
unknown upload id get 404 NoSuchUpload.

Requests with ``Transfer-Encoding: chunked`` get 411 MissingContentLength and
``STREAMING-*`` payload hashes (aws-chunked uploads) get 501 NotImplemented.
``Expect: 100-continue`` is honoured after the headers have been verified, so
a rejected upload is refused before its body is sent.

Usage:
  sigv4_proxy.py --upstream http://127.0.0.1:PORT [--listen-host 127.0.0.1]
                 [--listen-port 0] [--port-file FILE]
                 [--cred AKID:SECRET]... [--temp-cred AKID:SECRET:TOKEN]...
                 [--region us-east-1] [--allow-anonymous-bucket NAME]...
                 [--max-skew SECONDS | --no-time-check] [--max-spool BYTES]
                 [--s3rver-data DIR] [--quiet]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.server
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sigv4  # noqa: E402

CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
DRAIN_LIMIT = 64 * 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade",
              "proxy-connection"}
# Request headers never forwarded upstream (besides hop-by-hop ones).
DROP_UPSTREAM = HOP_BY_HOP | {"host", "authorization", "x-amz-security-token",
                              "expect", "content-length"}
UPSTREAM_AKID = "S3RVER"  # s3rver's built-in account


class Config:
    def __init__(self, args):
        self.creds = {}
        for spec in args.cred or []:
            akid, sep, secret = spec.partition(":")
            if not sep or not akid or not secret:
                raise SystemExit("--cred wants AKID:SECRET, got %r" % spec)
            self.creds[akid] = sigv4.Credential(akid, secret)
        for spec in args.temp_cred or []:
            akid, sep, rest = spec.partition(":")
            secret, sep2, token = rest.rpartition(":")
            if not sep or not sep2 or not akid or not secret or not token:
                raise SystemExit("--temp-cred wants AKID:SECRET:TOKEN, got %r" % spec)
            self.creds[akid] = sigv4.Credential(akid, secret, token)
        self.region = args.region
        self.anonymous = set(args.allow_anonymous_bucket or [])
        self.max_skew = None if args.no_time_check else args.max_skew
        self.max_spool = args.max_spool
        up = urllib.parse.urlsplit(args.upstream)
        if up.scheme != "http" or not up.hostname:
            raise SystemExit("--upstream must be http://HOST:PORT")
        self.up_host = up.hostname
        self.up_port = up.port or 80
        self.up_netloc = up.netloc
        self.quiet = args.quiet
        self.s3rver_data = args.s3rver_data


class ClientGone(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gen3db-sigv4-proxy"
    config: Config = None  # set on the class by main()

    # -- plumbing ----------------------------------------------------------
    def log_message(self, fmt, *args):
        if not self.config.quiet:
            sys.stderr.write("%s [%s] %s\n" % (self.address_string(),
                                               self.log_date_time_string(), fmt % args))

    def parse_request(self):
        self._expect_continue = False
        return super().parse_request()

    def handle_expect_100(self):
        # Defer "100 Continue" until the headers have been authenticated.
        self._expect_continue = True
        return True

    def do_GET(self):
        self._handle()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def _send_continue(self):
        if getattr(self, "_expect_continue", False):
            self._expect_continue = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()

    # -- errors --------------------------------------------------------------
    def _send_error_xml(self, code, message, status, extra=None, body_pending=0):
        request_id = uuid.uuid4().hex[:16].upper()
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
                 "<Code>%s</Code>" % escape(code),
                 "<Message>%s</Message>" % escape(message)]
        for k, v in (extra or {}).items():
            parts.append("<%s>%s</%s>" % (k, escape(str(v)), k))
        parts.append("<RequestId>%s</RequestId><HostId>%s</HostId></Error>"
                     % (request_id, "gen3db-test-proxy"))
        body = "".join(parts).encode("utf-8")
        close = False
        if body_pending:
            # Read an unread body so the client sees the answer rather than a
            # reset; if it was never sent (Expect: 100-continue) or is huge,
            # close the connection instead.
            if getattr(self, "_expect_continue", False) or body_pending > DRAIN_LIMIT:
                close = True
            else:
                try:
                    self._drain(body_pending)
                except (OSError, ClientGone):
                    close = True
        self._expect_continue = False
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log_message("auth-error %s %s", code, message[:80])

    def _drain_chunked(self):
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ClientGone()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            total += size
            if total > DRAIN_LIMIT:
                raise ClientGone()
            self._drain(size + 2)
        while True:  # trailers
            line = self.rfile.readline(8192)
            if line in (b"\r\n", b"\n", b""):
                return

    def _drain(self, n):
        while n > 0:
            data = self.rfile.read(min(CHUNK, n))
            if not data:
                raise ClientGone()
            n -= len(data)

    # -- main path ------------------------------------------------------------
    def _handle(self):
        cfg = self.config
        target = self.path
        if target.startswith(("http://", "https://")):
            sp = urllib.parse.urlsplit(target)
            target = sp.path + ("?" + sp.query if sp.query else "")
        raw_path, _, raw_query = target.partition("?")
        raw_path_b = raw_path.encode("latin-1")
        raw_query_b = raw_query.encode("latin-1")
        # Header values arrive as latin-1 text; recover their UTF-8 meaning.
        headers = [(k, v.encode("latin-1", "replace").decode("utf-8", "surrogateescape"))
                   for k, v in self.headers.items()]
        lower = {}
        for k, v in headers:
            lower.setdefault(k.lower(), v)

        te = lower.get("transfer-encoding", "").lower()
        try:
            length = int(lower.get("content-length", "0") or "0")
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            return self._send_error_xml("InvalidArgument", "Invalid Content-Length", 400)
        if te and te != "identity":
            self.close_connection = True
            if te == "chunked" and not self._expect_continue:
                try:  # read the body so the client gets to see the answer
                    self._drain_chunked()
                except (OSError, ValueError, ClientGone):
                    pass
            return self._send_error_xml("MissingContentLength",
                                        "You must provide the Content-Length HTTP header.",
                                        411)

        qnames = {n for n, _ in sigv4.parse_query(raw_query_b)}
        authenticated = ("authorization" in lower or b"X-Amz-Algorithm" in qnames
                         or b"X-Amz-Signature" in qnames)
        verified = None
        if authenticated:
            try:
                verified = sigv4.verify(self.command, raw_path_b, raw_query_b, headers,
                                        lookup=cfg.creds.get, region=cfg.region,
                                        service="s3", max_skew=cfg.max_skew)
            except sigv4.S3AuthError as e:
                return self._send_error_xml(e.code, e.message, e.status, e.extra, length)
        else:
            segs = urllib.parse.unquote(raw_path).lstrip("/").split("/", 1)
            bucket = segs[0]
            if not (bucket and bucket in cfg.anonymous
                    and self.command in ("GET", "HEAD")):
                return self._send_error_xml("AccessDenied", "Access Denied", 403,
                                            None, length)

        if self._multipart_emulation(raw_path, raw_query_b, length):
            return

        spool = None
        sha = verified.payload_hash if verified else sigv4.UNSIGNED_PAYLOAD
        if sha != sigv4.UNSIGNED_PAYLOAD:
            if length > cfg.max_spool:
                return self._send_error_xml(
                    "EntityTooLarge", "Your proposed upload exceeds the maximum allowed "
                    "size of this test proxy for signed payloads (--max-spool); use "
                    "UNSIGNED-PAYLOAD.", 400, {"ProposedSize": length,
                                                "MaxSizeAllowed": cfg.max_spool}, length)
            self._send_continue()
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
            h = hashlib.sha256()
            left = length
            try:
                while left > 0:
                    data = self.rfile.read(min(CHUNK, left))
                    if not data:
                        raise ClientGone()
                    h.update(data)
                    spool.write(data)
                    left -= len(data)
            except (OSError, ClientGone):
                spool.close()
                self.close_connection = True
                return
            if h.hexdigest() != sha.lower():
                spool.close()
                return self._send_error_xml(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what "
                    "was computed.", 400,
                    {"ClientComputedContentSHA256": sha,
                     "S3ComputedContentSHA256": h.hexdigest()})
            spool.seek(0)
        else:
            self._send_continue()

        try:
            self._forward(raw_path, raw_query, headers, length, spool, verified)
        finally:
            if spool is not None:
                spool.close()

    def _multipart_emulation(self, raw_path, raw_query_b, length):
        """Fill s3rver's multipart gaps; True if the request was answered."""
        data = self.config.s3rver_data
        if not data:
            return False
        q = dict((n.decode("latin-1"), v.decode("latin-1"))
                 for n, v in sigv4.parse_query(raw_query_b))
        upload_id = q.get("uploadId")
        if upload_id is None or self.command not in ("DELETE", "PUT", "POST"):
            return False
        segs = urllib.parse.unquote(raw_path).lstrip("/").split("/", 1)
        if len(segs) != 2 or not segs[1]:
            return False
        bucket = segs[0]
        updir = None
        if re.fullmatch(r"[0-9A-Za-z]{1,128}", upload_id) and re.fullmatch(
                r"[0-9A-Za-z.\-_]{1,255}", bucket):
            updir = os.path.join(data, bucket, "._S3rver_uploads", upload_id)
        if updir is None or not os.path.isfile(os.path.join(updir, "key")):
            self._send_error_xml(
                "NoSuchUpload", "The specified upload does not exist. The upload ID "
                "may be invalid, or the upload may have been aborted or completed.",
                404, {"UploadId": upload_id}, length)
            return True
        if self.command != "DELETE":
            return False
        self._send_continue()
        if length:
            self._drain(length)
        shutil.rmtree(updir, ignore_errors=True)
        self.send_response(204)
        self.send_header("x-amz-request-id", "ABORT" + upload_id[:11].upper())
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _forward(self, raw_path, raw_query, headers, length, spool, verified):
        cfg = self.config
        query = raw_query
        if verified is not None and verified.presigned:
            keep = [p for p in raw_query.split("&") if p and
                    not urllib.parse.unquote(p.partition("=")[0]).startswith("X-Amz-")]
            query = "&".join(keep)
        target = raw_path + ("?" + query if query else "")
        conn = http.client.HTTPConnection(cfg.up_host, cfg.up_port, timeout=120)
        try:
            conn.putrequest(self.command, target, skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader("Host", cfg.up_netloc)
            for k, v in headers:
                kl = k.lower()
                if kl in DROP_UPSTREAM:
                    continue
                if verified is not None and kl in ("x-amz-date", "x-amz-content-sha256"):
                    continue
                conn.putheader(k, v.encode("utf-8", "surrogateescape"))
            if verified is not None:
                now = sigv4.format_amz_date()
                conn.putheader("x-amz-date", now)
                conn.putheader("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD)
                conn.putheader("Authorization",
                               "AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/s3/aws4_request,"
                               " SignedHeaders=host, Signature=%s"
                               % (UPSTREAM_AKID, now[:8], "0" * 64))
            if length or self.command in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(length))
            conn.endheaders()
            left = length
            while left > 0:
                data = (spool.read(min(CHUNK, left)) if spool is not None
                        else self.rfile.read(min(CHUNK, left)))
                if not data:
                    self.close_connection = True
                    return
                conn.send(data)
                left -= len(data)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            self.log_message("upstream error: %r", e)
            if length and left > 0:
                self.close_connection = True
            return self._send_error_xml("InternalError", "Upstream s3rver failed: %s" % e,
                                        502 if not isinstance(e, socket.timeout) else 504)
        try:
            self._relay(resp)
        finally:
            conn.close()

    def _relay(self, resp):
        no_body = (self.command == "HEAD" or resp.status in (204, 304)
                   or 100 <= resp.status < 200)
        self.send_response_only(resp.status, resp.reason)
        has_length = False
        for k, v in resp.getheaders():
            kl = k.lower()
            if kl in HOP_BY_HOP:
                continue
            if kl == "content-length":
                has_length = True
            self.send_header(k, v)
        chunked = not no_body and not has_length
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if resp.will_close and not has_length and not no_body and not chunked:
            self.close_connection = True
        self.end_headers()
        if no_body:
            return
        try:
            while True:
                data = resp.read1(CHUNK) if hasattr(resp, "read1") else resp.read(CHUNK)
                if not data:
                    break
                if chunked:
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (OSError, http.client.HTTPException) as e:
            # Client went away or upstream broke mid-body: the connection is
            # no longer in a known state.
            self.log_message("relay aborted: %r", e)
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, socket.timeout)):
            sys.stderr.write("%s: client connection lost (%s)\n"
                             % (client_address[0], type(exc).__name__))
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="SigV4-verifying reverse proxy for s3rver")
    ap.add_argument("--upstream", required=True, help="s3rver URL, http://HOST:PORT")
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--listen-port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--cred", action="append", metavar="AKID:SECRET",
                    help="permanent credentials (repeatable)")
    ap.add_argument("--temp-cred", action="append", metavar="AKID:SECRET:TOKEN",
                    help="temporary credentials requiring x-amz-security-token")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--allow-anonymous-bucket", action="append", metavar="NAME",
                    help="bucket readable (GET/HEAD) without credentials")
    ap.add_argument("--max-skew", type=float, default=sigv4.DEFAULT_MAX_SKEW,
                    help="allowed x-amz-date skew in seconds (default 900)")
    ap.add_argument("--no-time-check", action="store_true",
                    help="do not check x-amz-date freshness or presign expiry")
    ap.add_argument("--max-spool", type=int, default=5 * 1024 ** 3,
                    help="largest signed-payload body accepted (spooled to disk)")
    ap.add_argument("--s3rver-data", metavar="DIR",
                    help="s3rver's data directory: enables AbortMultipartUpload and "
                         "NoSuchUpload checks")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    cfg = Config(args)
    if not cfg.creds:
        ap.error("give at least one --cred or --temp-cred")
    Handler.config = cfg
    srv = Server((args.listen_host, args.listen_port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write("sigv4_proxy listening on http://%s:%d -> %s\n"
                     % (args.listen_host, port, args.upstream))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
