"""Integration tests: s3rver behind sigv4_proxy.py, and flaky_http_server.py.

Needs tests/s3/node_modules/s3rver (run tests/s3/install.sh); without it the
tests FAIL, they are not skipped.

Run: python3 -m unittest tests/s3/test_proxy.py  (or from tests/s3).
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sigv4  # noqa: E402

S3RVER = os.path.join(HERE, "node_modules", "s3rver", "package.json")
NS = "{http://doc.s3.amazonaws.com/2006-03-01/}"
MIB = 1024 * 1024


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"export (\w+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2).strip("'")
    return env


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def xml(self):
        return ET.fromstring(self.body)

    def error_code(self):
        return self.xml().findtext("Code")

    def __repr__(self):
        return "<Resp %d %r>" % (self.status, self.body[:300])


class S3Client:
    """Minimal path-style S3 client signing with sigv4.py."""

    def __init__(self, endpoint, akid=None, secret=None, token=None, region="us-east-1"):
        u = urllib.parse.urlsplit(endpoint)
        self.host, self.port, self.netloc = u.hostname, u.port, u.netloc
        self.akid, self.secret, self.token, self.region = akid, secret, token, region

    @staticmethod
    def target(bucket, key=None, query=()):
        path = "/" + bucket + ("/" + sigv4.uri_encode(key, keep_slash=True)
                               if key is not None else "")
        q = sigv4.encode_query(query) if not isinstance(query, str) else query
        return path, q

    def request(self, method, bucket, key=None, query=(), headers=None, body=b"",
                unsigned=False, sign=True, amz_date=None, payload_hash=None):
        path, q = self.target(bucket, key, query)
        headers = dict(headers or {})
        if sign and self.akid:
            ph = payload_hash or (sigv4.UNSIGNED_PAYLOAD if unsigned
                                  else hashlib.sha256(body).hexdigest())
            signed = sigv4.sign(method, self.netloc, path, q, headers,
                                access_key=self.akid, secret_key=self.secret,
                                region=self.region, payload_hash=ph,
                                session_token=self.token, amz_date=amz_date)
            headers = signed.headers
        return self.raw(method, path + ("?" + q if q else ""), headers, body)

    def raw(self, method, target, headers, body=b""):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, target, body=body if body or method in
                         ("PUT", "POST") else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, r.getheaders(), data)
        finally:
            conn.close()


def start_s3env(tmp):
    subprocess.run(["bash", os.path.join(HERE, "s3env.sh"), "start", tmp],
                   check=True, stdout=subprocess.DEVNULL, timeout=60)
    return read_env(os.path.join(tmp, "s3.env"))


class S3ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(S3RVER):
            raise AssertionError(
                "s3rver is not installed (%s missing): run tests/s3/install.sh "
                "(npm install) before these tests" % S3RVER)
        cls.tmp = tempfile.mkdtemp(prefix="s3proxy-test-")
        try:
            cls.env = start_s3env(cls.tmp)
        except Exception:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        e = cls.env
        cls.bucket = e["S3_BUCKET"]
        cls.public = e["S3_PUBLIC_BUCKET"]
        cls.s3 = S3Client(e["S3_ENDPOINT"], e["AWS_ACCESS_KEY_ID"],
                          e["AWS_SECRET_ACCESS_KEY"], region=e["S3_REGION"])
        cls.temp = S3Client(e["S3_ENDPOINT"], e["TEMP_AWS_ACCESS_KEY_ID"],
                            e["TEMP_AWS_SECRET_ACCESS_KEY"], e["TEMP_AWS_SESSION_TOKEN"])
        cls.anon = S3Client(e["S3_ENDPOINT"])
        cls.upstream = S3Client(e["S3_UPSTREAM"])  # s3rver directly, unsigned

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", os.path.join(HERE, "s3env.sh"), "stop", cls.tmp],
                       timeout=30)
        with open(os.path.join(cls.tmp, "proxy.log"), errors="replace") as f:
            log = f.read()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if "Traceback" in log:
            raise AssertionError("the proxy logged an exception:\n" + log[-4000:])

    def assertError(self, resp, status, code):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.error_code(), code, resp)

    # -- basic object operations ------------------------------------------
    def test_put_get_head_range(self):
        data = bytes(range(256)) * 40
        r = self.s3.request("PUT", self.bucket, "dir/obj.bin", body=data)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(data).hexdigest())
        r = self.s3.request("GET", self.bucket, "dir/obj.bin")
        self.assertEqual((r.status, r.body), (200, data))
        self.assertEqual(r.header("Accept-Ranges"), "bytes")
        r = self.s3.request("HEAD", self.bucket, "dir/obj.bin")
        self.assertEqual((r.status, r.header("Content-Length"), r.body),
                         (200, str(len(data)), b""))
        r = self.s3.request("GET", self.bucket, "dir/obj.bin", headers={"Range": "bytes=0-9"})
        self.assertEqual((r.status, r.body), (206, data[:10]))
        self.assertEqual(r.header("Content-Range"), "bytes 0-9/%d" % len(data))
        r = self.s3.request("GET", self.bucket, "dir/obj.bin",
                            headers={"Range": "bytes=10000-"})
        self.assertEqual((r.status, r.body), (206, data[10000:]))
        r = self.s3.request("GET", self.bucket, "missing")
        self.assertError(r, 404, "NoSuchKey")

    def test_unsigned_payload_put(self):
        r = self.s3.request("PUT", self.bucket, "unsigned", body=b"abc", unsigned=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.s3.request("GET", self.bucket, "unsigned").body, b"abc")

    def test_payload_hash_mismatch_stores_nothing(self):
        r = self.s3.request("PUT", self.bucket, "bad-hash", body=b"abc",
                            payload_hash=hashlib.sha256(b"abd").hexdigest())
        self.assertError(r, 400, "XAmzContentSHA256Mismatch")
        self.assertError(self.s3.request("GET", self.bucket, "bad-hash"), 404, "NoSuchKey")

    def test_special_keys(self):
        keys = ["with space.txt", "unicod\u00e9/\u65e5\u672c.txt", "plus+sign",
                "eq=uals", "tilde~x", "mix +=~&%$@ ,;:!*'()[]"]
        for k in keys:
            with self.subTest(k):
                body = k.encode()
                r = self.s3.request("PUT", self.bucket, "special/" + k, body=body)
                self.assertEqual(r.status, 200, r)
                r = self.s3.request("GET", self.bucket, "special/" + k)
                self.assertEqual((r.status, r.body), (200, body))
        r = self.s3.request("GET", self.bucket,
                            query=[("list-type", "2"), ("prefix", "special/")])
        self.assertEqual(r.status, 200, r)
        listed = [c.findtext(NS + "Key") for c in r.xml().iter(NS + "Contents")]
        self.assertEqual(sorted(listed), sorted("special/" + k for k in keys))
        # Prefix with '+' and space must be percent-encoded to match.
        r = self.s3.request("GET", self.bucket,
                            query=[("list-type", "2"), ("prefix", "special/mix +=")])
        listed = [c.findtext(NS + "Key") for c in r.xml().iter(NS + "Contents")]
        self.assertEqual(listed, ["special/" + keys[5]])

    def test_list_more_than_1000_keys(self):
        n = 1030
        names = ["many/k%05d+/=" % i for i in range(n)]

        def put(name):  # fixture via s3rver directly, to keep the test fast
            path, _ = S3Client.target(self.bucket, name)
            return self.upstream.raw("PUT", path, {"Content-Length": "1"}, b"x").status

        with ThreadPoolExecutor(8) as ex:
            self.assertEqual(set(ex.map(put, names)), {200})

        def list_all(max_keys=None):
            keys, tokens, token = [], [], None
            while True:
                q = [("list-type", "2"), ("prefix", "many/")]
                if max_keys:
                    q.append(("max-keys", str(max_keys)))
                if token:
                    q.append(("continuation-token", token))
                r = self.s3.request("GET", self.bucket, query=q)
                self.assertEqual(r.status, 200, r)
                x = r.xml()
                keys += [c.findtext(NS + "Key") for c in x.iter(NS + "Contents")]
                if x.findtext(NS + "IsTruncated") != "true":
                    return keys, tokens
                token = x.findtext(NS + "NextContinuationToken")
                self.assertTrue(token)
                tokens.append(token)

        keys, tokens = list_all()
        self.assertEqual(keys, names)
        self.assertEqual(len(tokens), 1)
        keys, tokens = list_all(max_keys=100)
        self.assertEqual(keys, names)
        self.assertEqual(len(tokens), 10)
        self.assertTrue(any(set(t) & set("+/=") for t in tokens), tokens)
        # A token sent with a raw '+' is read as a space: s3rver then fails to
        # decrypt it and answers 500 InternalError (S3: 400 InvalidArgument).
        plus = [t for t in tokens if "+" in t]
        if plus:
            q = "list-type=2&prefix=many%2F&continuation-token=" + plus[0]
            r = self.s3.request("GET", self.bucket, query=q)
            self.assertIn(r.status, (400, 500), r)
            self.assertIn(r.error_code(), ("InvalidArgument", "InternalError"))

    def test_multipart_upload_and_abort(self):
        key = "mp/object.bin"
        r = self.s3.request("POST", self.bucket, key, query=[("uploads", "")])
        self.assertEqual(r.status, 200, r)
        upload_id = r.xml().findtext("UploadId")
        self.assertTrue(upload_id)
        part1 = os.urandom(5 * MIB)
        part2 = b"tail" * 1000
        etags = []
        for n, part in ((1, part1), (2, part2)):
            r = self.s3.request("PUT", self.bucket, key, body=part,
                                query=[("partNumber", str(n)), ("uploadId", upload_id)])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("ETag"), '"%s"' % hashlib.md5(part).hexdigest())
            etags.append(r.header("ETag"))
        xml = ("<CompleteMultipartUpload>" + "".join(
            "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>" % (i + 1, e)
            for i, e in enumerate(etags)) + "</CompleteMultipartUpload>").encode()
        r = self.s3.request("POST", self.bucket, key, body=xml,
                            query=[("uploadId", upload_id)])
        self.assertEqual(r.status, 200, r)
        r = self.s3.request("GET", self.bucket, key)
        self.assertEqual(r.body, part1 + part2)

        # Abort: the upload disappears; further parts get NoSuchUpload.
        r = self.s3.request("POST", self.bucket, "mp/aborted", query=[("uploads", "")])
        upload_id = r.xml().findtext("UploadId")
        r = self.s3.request("PUT", self.bucket, "mp/aborted", body=b"x" * 100,
                            query=[("partNumber", "1"), ("uploadId", upload_id)])
        self.assertEqual(r.status, 200, r)
        r = self.s3.request("DELETE", self.bucket, "mp/aborted",
                            query=[("uploadId", upload_id)])
        self.assertEqual(r.status, 204, r)
        r = self.s3.request("PUT", self.bucket, "mp/aborted", body=b"x",
                            query=[("partNumber", "2"), ("uploadId", upload_id)])
        self.assertError(r, 404, "NoSuchUpload")
        r = self.s3.request("DELETE", self.bucket, "mp/aborted",
                            query=[("uploadId", upload_id)])
        self.assertError(r, 404, "NoSuchUpload")
        self.assertError(self.s3.request("GET", self.bucket, "mp/aborted"), 404, "NoSuchKey")

    # -- authentication failures ------------------------------------------
    def test_wrong_secret(self):
        bad = S3Client(self.env["S3_ENDPOINT"], self.env["AWS_ACCESS_KEY_ID"], "wrong")
        r = bad.request("GET", self.bucket, "dir/obj.bin")
        self.assertError(r, 403, "SignatureDoesNotMatch")
        self.assertEqual(r.xml().findtext("Message"),
                         "The request signature we calculated does not match the "
                         "signature you provided. Check your key and signing method.")
        self.assertEqual(r.header("Content-Type"), "application/xml")
        self.assertIn("GET\n/gen3-test/dir/obj.bin\n", r.xml().findtext("CanonicalRequest"))
        r = bad.request("PUT", self.bucket, "x", body=b"1" * 1000)
        self.assertError(r, 403, "SignatureDoesNotMatch")

    def test_other_auth_errors(self):
        e = self.env
        r = S3Client(e["S3_ENDPOINT"], "AKIAUNKNOWN", "x").request("GET", self.bucket)
        self.assertError(r, 403, "InvalidAccessKeyId")
        r = S3Client(e["S3_ENDPOINT"], e["AWS_ACCESS_KEY_ID"], e["AWS_SECRET_ACCESS_KEY"],
                     region="eu-west-1").request("GET", self.bucket)
        self.assertError(r, 400, "AuthorizationHeaderMalformed")
        r = self.s3.request("GET", self.bucket, amz_date=sigv4.format_amz_date(
            time.time() - 3600))
        self.assertError(r, 403, "RequestTimeTooSkewed")
        r = self.s3.request("PUT", self.bucket, "stream", body=b"x",
                            payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        self.assertError(r, 501, "NotImplemented")
        # Unsigned x-amz-* header added after signing.
        path, q = S3Client.target(self.bucket, "dir/obj.bin")
        s = sigv4.sign("GET", self.s3.netloc, path, q, {}, access_key=e["AWS_ACCESS_KEY_ID"],
                       secret_key=e["AWS_SECRET_ACCESS_KEY"])
        h = dict(s.headers, **{"x-amz-meta-late": "1"})
        self.assertError(self.s3.raw("GET", path, h), 403, "AccessDenied")
        # Missing x-amz-content-sha256.
        h = {k: v for k, v in s.headers.items() if k.lower() != "x-amz-content-sha256"}
        self.assertError(self.s3.raw("GET", path, h), 400, "InvalidRequest")

    def test_chunked_request_rejected(self):
        conn = http.client.HTTPConnection(self.s3.host, self.s3.port, timeout=10)
        path, _ = S3Client.target(self.bucket, "chunked")
        s = sigv4.sign("PUT", self.s3.netloc, path, "", {}, access_key=self.s3.akid,
                       secret_key=self.s3.secret, payload_hash=sigv4.UNSIGNED_PAYLOAD)
        conn.request("PUT", path, body=iter([b"abc"]), headers=s.headers,
                     encode_chunked=True)
        r = conn.getresponse()
        self.assertEqual(r.status, 411)
        self.assertIn(b"MissingContentLength", r.read())
        conn.close()

    def test_expect_continue_rejected_before_body(self):
        path, _ = S3Client.target(self.bucket, "expect")
        s = sigv4.sign("PUT", self.s3.netloc, path, "", {}, access_key=self.s3.akid,
                       secret_key="wrong", payload_hash=sigv4.UNSIGNED_PAYLOAD)
        head = "PUT %s HTTP/1.1\r\n" % path + "".join(
            "%s: %s\r\n" % kv for kv in s.headers.items()) + \
            "Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
        with socket.create_connection((self.s3.host, self.s3.port), timeout=10) as sock:
            sock.sendall(head.encode())
            data = b""
            while True:  # the proxy closes after refusing the body
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 403"), data)
        self.assertIn(b"SignatureDoesNotMatch", data)
        # And a good one gets 100 Continue first.
        s = sigv4.sign("PUT", self.s3.netloc, path, "", {}, access_key=self.s3.akid,
                       secret_key=self.s3.secret, payload_hash=sigv4.UNSIGNED_PAYLOAD)
        head = "PUT %s HTTP/1.1\r\n" % path + "".join(
            "%s: %s\r\n" % kv for kv in s.headers.items()) + \
            "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        with socket.create_connection((self.s3.host, self.s3.port), timeout=10) as sock:
            sock.sendall(head.encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(1)
            self.assertEqual(data, b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(b"hello")
            data = b""
            while b"\r\n" not in data:
                data += sock.recv(1)
            self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"), data)

    def test_temporary_credentials(self):
        r = self.temp.request("PUT", self.bucket, "temp.txt", body=b"t")
        self.assertEqual(r.status, 200, r)
        e = self.env
        no_token = S3Client(e["S3_ENDPOINT"], e["TEMP_AWS_ACCESS_KEY_ID"],
                            e["TEMP_AWS_SECRET_ACCESS_KEY"])
        self.assertError(no_token.request("GET", self.bucket, "temp.txt"), 400, "InvalidToken")
        bad_token = S3Client(e["S3_ENDPOINT"], e["TEMP_AWS_ACCESS_KEY_ID"],
                             e["TEMP_AWS_SECRET_ACCESS_KEY"], "not-the-token")
        self.assertError(bad_token.request("GET", self.bucket, "temp.txt"), 400, "InvalidToken")

    def test_anonymous(self):
        self.s3.request("PUT", self.public, "pub.txt", body=b"public")
        r = self.anon.request("GET", self.public, "pub.txt")
        self.assertEqual((r.status, r.body), (200, b"public"))
        r = self.anon.request("GET", self.public, query=[("list-type", "2")])
        self.assertEqual(r.status, 200, r)
        self.assertError(self.anon.request("PUT", self.public, "x", body=b"1"),
                         403, "AccessDenied")
        self.assertError(self.anon.request("GET", self.bucket, "dir/obj.bin"),
                         403, "AccessDenied")

    def test_presigned(self):
        self.s3.request("PUT", self.bucket, "presigned name+.txt", body=b"presigned")
        path, _ = S3Client.target(self.bucket, "presigned name+.txt")
        p = sigv4.presign("GET", self.s3.netloc, path, "", access_key=self.s3.akid,
                          secret_key=self.s3.secret, expires=60)
        r = self.anon.raw("GET", path + "?" + p.headers["query"], {})
        self.assertEqual((r.status, r.body), (200, b"presigned"))
        p = sigv4.presign("GET", self.s3.netloc, path, "", access_key=self.s3.akid,
                          secret_key=self.s3.secret, expires=60,
                          amz_date=sigv4.format_amz_date(time.time() - 120))
        r = self.anon.raw("GET", path + "?" + p.headers["query"], {})
        self.assertError(r, 403, "AccessDenied")


class FlakyHttpServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="flaky-test-")
        cls.root = os.path.join(cls.tmp, "root")
        os.mkdir(cls.root)
        cls.data = os.urandom(300 * 1024)
        for name in ("a.bin", "b.bin", "c.bin", "d.bin"):
            with open(os.path.join(cls.root, name), "wb") as f:
                f.write(cls.data)
        cls.procs = []
        cls.port = cls._start([])
        cls.cli_port = cls._start(["--cut-after", "1000", "--cut-times", "2"])

    @classmethod
    def _start(cls, extra):
        pf = os.path.join(cls.tmp, "port-%d" % len(cls.procs))
        log = open(os.path.join(cls.tmp, "flaky-%d.log" % len(cls.procs)), "w")
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "flaky_http_server.py"),
                              "--root", cls.root, "--listen-port", "0", "--port-file", pf]
                             + extra, stdout=log, stderr=log)
        log.close()
        cls.procs.append(p)
        for _ in range(100):
            if os.path.exists(pf):
                with open(pf) as f:
                    return int(f.read())
            time.sleep(0.05)
        raise AssertionError("flaky_http_server.py did not start")

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            p.wait(10)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, path, headers=None, port=None, method="GET"):
        """Return (status, headers dict, body, complete?)."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            try:
                body, complete = r.read(), True
            except http.client.IncompleteRead as e:
                body, complete = e.partial, False
            return r.status, hdrs, body, complete
        finally:
            conn.close()

    def control(self, **kw):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/_control", body=json.dumps(kw),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        out = json.loads(r.read())
        conn.close()
        self.assertEqual(r.status, 200)
        return out

    def test_plain_and_ranges(self):
        st, h, body, ok = self.get("/a.bin")
        self.assertEqual((st, body, ok), (200, self.data, True))
        self.assertEqual(h["accept-ranges"], "bytes")
        self.assertEqual(h["content-length"], str(len(self.data)))
        self.assertTrue(h["etag"].startswith('"') and h["etag"].endswith('"'))
        st, h, body, _ = self.get("/a.bin", {"Range": "bytes=100-"})
        self.assertEqual((st, body), (206, self.data[100:]))
        self.assertEqual(h["content-range"], "bytes 100-%d/%d" % (len(self.data) - 1,
                                                                    len(self.data)))
        st, h, body, _ = self.get("/a.bin", {"Range": "bytes=5-9"})
        self.assertEqual((st, body), (206, self.data[5:10]))
        st, h, body, _ = self.get("/a.bin", {"Range": "bytes=-10"})
        self.assertEqual((st, body), (206, self.data[-10:]))
        st, h, _, _ = self.get("/a.bin", {"Range": "bytes=%d-" % len(self.data)})
        self.assertEqual((st, h["content-range"]), (416, "bytes */%d" % len(self.data)))
        st, h, body, _ = self.get("/a.bin", method="HEAD")
        self.assertEqual((st, body, h["content-length"]), (200, b"", str(len(self.data))))
        self.assertEqual(self.get("/nope")[0], 404)

    def test_cut_and_resume(self):
        self.control(path="/b.bin", cut_after=100000, times=2)
        st, h, part, ok = self.get("/b.bin")
        self.assertEqual((st, ok, len(part)), (200, False, 100000))
        etag = h["etag"]
        st, h, more, ok = self.get("/b.bin", {"Range": "bytes=%d-" % len(part),
                                              "If-Range": etag})
        self.assertEqual((st, ok, len(more)), (206, False, 100000))  # cut again
        got = part + more
        st, h, rest, ok = self.get("/b.bin", {"Range": "bytes=%d-" % len(got),
                                              "If-Range": etag})
        self.assertEqual((st, ok, h["etag"]), (206, True, etag))
        self.assertEqual(got + rest, self.data)
        stats = json.loads(self.get("/_stats")[2])["/b.bin"]
        self.assertEqual(stats["cuts_done"], 2)
        self.assertEqual(stats["ranges"], [None, "bytes=100000-", "bytes=200000-"])

    def test_cli_cut_options(self):
        for _ in range(2):
            st, h, body, ok = self.get("/c.bin", port=self.cli_port)
            self.assertEqual((st, ok, len(body)), (200, False, 1000))
        st, h, body, ok = self.get("/c.bin", port=self.cli_port)
        self.assertEqual((st, ok, body), (200, True, self.data))

    def test_etag_change(self):
        self.control(path="/d.bin", cut_after=50000, times=1, change_etag_after=1)
        st, h1, part, ok = self.get("/d.bin")
        self.assertEqual((st, ok), (200, False))
        # Resuming with If-Range: the server sends the new object whole.
        st, h2, body, ok = self.get("/d.bin", {"Range": "bytes=50000-",
                                               "If-Range": h1["etag"]})
        self.assertEqual((st, ok), (200, True))
        self.assertNotEqual(h2["etag"], h1["etag"])
        self.assertEqual(len(body), len(self.data))
        self.assertNotEqual(body, self.data)
        # Without If-Range the range is served, but its ETag gives it away.
        st, h3, tail, ok = self.get("/d.bin", {"Range": "bytes=50000-"})
        self.assertEqual(st, 206)
        self.assertNotEqual(h3["etag"], h1["etag"])
        self.assertNotEqual(tail, self.data[50000:])
        # If-Match with the old ETag fails.
        self.assertEqual(self.get("/d.bin", {"If-Match": h1["etag"]})[0], 412)


if __name__ == "__main__":
    unittest.main()
