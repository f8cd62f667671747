"""Remote sources and sinks end to end: `gen3db fetch` and `gen3db ls` against
s3rver behind the SigV4-verifying proxy (tests/s3/s3env.sh), and against
tests/s3/flaky_http_server.py for resumed downloads.

Every captured output (stdout and stderr) is checked for the test secrets.
Needs tests/s3/install.sh to have been run: without s3rver the module fails.
"""

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("GEN3DB_BIN", os.path.join(ROOT, "build", "gen3db"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from g3services import HttpOrigin, module_s3  # noqa: E402
from g3test import module_tmp  # noqa: E402

ENV = {}
TMP = None
SECRETS = []
FLAKY = {}

AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")


def setUpModule():
    global TMP, ENV
    if not os.access(BIN, os.X_OK):
        raise AssertionError("%s is not built: run make" % BIN)
    TMP = module_tmp("gen3db-remote-")
    ENV = module_s3(TMP).env
    SECRETS.extend([ENV["AWS_SECRET_ACCESS_KEY"], ENV["TEMP_AWS_SECRET_ACCESS_KEY"],
                    ENV["TEMP_AWS_SESSION_TOKEN"], "wrongSecretForTheTest/0123456789+abc"])
    # the flaky HTTP origin
    origin = HttpOrigin(os.path.join(TMP, "www"), TMP)
    unittest.addModuleCleanup(origin.stop)
    FLAKY["root"] = origin.root
    FLAKY["url"] = origin.url


def base_env(creds=True):
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
    env["HOME"] = TMP  # no ~/.aws of the machine
    env["AWS_REGION"] = ENV["S3_REGION"]
    if creds:
        env["AWS_ACCESS_KEY_ID"] = ENV["AWS_ACCESS_KEY_ID"]
        env["AWS_SECRET_ACCESS_KEY"] = ENV["AWS_SECRET_ACCESS_KEY"]
    return env


def upstream_put(key, data, bucket=None):
    """Stores an object directly in s3rver (no auth), for fixtures."""
    u = urllib.parse.urlsplit(ENV["S3_UPSTREAM"])
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    path = "/%s/%s" % (bucket or ENV["S3_BUCKET"], urllib.parse.quote(key, safe="/~"))
    conn.request("PUT", path, body=data, headers={"Content-Length": str(len(data))})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 200:
        raise AssertionError("fixture PUT %s: %d" % (key, resp.status))


def flaky_control(**kw):
    req = urllib.request.Request(FLAKY["url"] + "/_control", data=json.dumps(kw).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def flaky_stats(path):
    with urllib.request.urlopen(FLAKY["url"] + "/_stats", timeout=10) as resp:
        return json.load(resp).get(path, {})


class RemoteTest(unittest.TestCase):
    def run_bin(self, *args, env=None, endpoint=True):
        argv = [BIN] + list(args)
        if endpoint:
            argv += ["--s3-endpoint", ENV["S3_ENDPOINT"]]
        for s in SECRETS:
            self.assertNotIn(s, " ".join(argv))
        p = subprocess.run(argv, capture_output=True, env=env if env is not None else base_env(),
                           timeout=300)
        for s in SECRETS:
            self.assertNotIn(s.encode(), p.stderr, "secret in stderr")
            self.assertNotIn(s.encode(), p.stdout, "secret in stdout")
        return p

    def out(self, name):
        return os.path.join(TMP, name)

    def assert_fetch_equal(self, url, data, env=None, extra=(), endpoint=True):
        dest = self.out("fetched-%s" % hashlib.sha1(url.encode()).hexdigest())
        p = self.run_bin("fetch", url, "--output", dest, *extra, env=env, endpoint=endpoint)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        with open(dest, "rb") as f:
            got = f.read()
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "fetched bytes differ")
        self.assertFalse(os.path.exists(dest + ".partial"))
        os.unlink(dest)

    def ls(self, url, env=None, *extra):
        p = self.run_bin("ls", url, *extra, env=env)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode("utf-8").splitlines()


class S3Get(RemoteTest):
    def test_fetch_compares_bytes(self):
        data = os.urandom(3 * 1024 * 1024 + 17)
        upstream_put("get/blob.bin", data)
        self.assert_fetch_equal("s3://gen3-test/get/blob.bin", data)
        # to standard output as well
        p = self.run_bin("fetch", "s3://gen3-test/get/blob.bin")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertTrue(p.stdout == data)

    def test_fetch_progress_total_is_the_object_size(self):
        data = os.urandom(24 * 1024 * 1024 + 5)
        upstream_put("get/progress.bin", data)
        env = base_env()
        env["GEN3DB_PROGRESS_INTERVAL"] = "0.01"
        p = self.run_bin("fetch", "s3://gen3-test/get/progress.bin", "--output",
                         self.out("progress.bin"), "--log-format", "json", env=env)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        events = [json.loads(line) for line in p.stderr.decode().splitlines()
                  if line.startswith("{") and '"event":"progress"' in line]
        self.assertGreaterEqual(len(events), 2, p.stderr.decode()[-2000:])
        self.assertTrue(all(e["total"] == len(data) for e in events))
        self.assertEqual([e["bytes"] for e in events], sorted(e["bytes"] for e in events))
        self.assertTrue(events[-1]["final"])
        self.assertEqual(events[-1]["bytes"], len(data))
        os.unlink(self.out("progress.bin"))

    def test_special_keys(self):
        keys = ["special/with space.txt", "special/ünïcödé €.txt", "special/a+b.txt",
                "special/k=v.txt", "special/tilde~x.txt", "special/mix +=~ &x.txt"]
        blobs = {}
        for i, k in enumerate(keys):
            blobs[k] = ("payload %d of %s\n" % (i, k)).encode() * 50
            upstream_put(k, blobs[k])
        for k in keys:
            self.assert_fetch_equal("s3://gen3-test/" + k, blobs[k])
        self.assertEqual(self.ls("s3://gen3-test/special/"), sorted(keys))

    def test_listing_over_1000_keys(self):
        keys = ["many/k%05d+x=y" % i for i in range(1234)]
        u = urllib.parse.urlsplit(ENV["S3_UPSTREAM"])
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        for k in keys:
            conn.request("PUT", "/gen3-test/" + urllib.parse.quote(k, safe="/"), body=b"x",
                         headers={"Content-Length": "1"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        conn.close()
        listed = self.ls("s3://gen3-test/many/")
        self.assertEqual(len(listed), 1234)
        self.assertEqual(listed, sorted(keys))
        long_lines = self.ls("s3://gen3-test/many/k0000", None, "--long")
        self.assertEqual(len(long_lines), 10)
        size, etag, modified, key = long_lines[0].split("\t")
        self.assertEqual((size, etag, key),
                         ("1", hashlib.md5(b"x").hexdigest(), "many/k00000+x=y"))

    def test_wrong_secret(self):
        upstream_put("auth/obj.txt", b"hello")
        env = base_env()
        env["AWS_SECRET_ACCESS_KEY"] = "wrongSecretForTheTest/0123456789+abc"
        p = self.run_bin("fetch", "s3://gen3-test/auth/obj.txt", env=env)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn('gen3db: could not download "s3://gen3-test/auth/obj.txt": HTTP 403 '
                      'SignatureDoesNotMatch', err)
        self.assertIn("hint: check the secret key", err)
        self.assertEqual(p.stdout, b"")
        p = self.run_bin("ls", "s3://gen3-test/auth/", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn('gen3db: could not list "s3://gen3-test/auth/": HTTP 403 '
                      'SignatureDoesNotMatch', p.stderr.decode())

    def test_unknown_access_key(self):
        env = base_env()
        env["AWS_ACCESS_KEY_ID"] = "AKIANOSUCHKEY0000000"
        p = self.run_bin("fetch", "s3://gen3-test/auth/obj.txt", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("HTTP 403 InvalidAccessKeyId", p.stderr.decode())

    def test_missing_key(self):
        p = self.run_bin("fetch", "s3://gen3-test/no/such/key.bin")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().splitlines()[0],
                         'gen3db: could not download "s3://gen3-test/no/such/key.bin": '
                         'HTTP 404 NoSuchKey: The specified key does not exist')
        dest = self.out("missing.bin")
        p = self.run_bin("fetch", "s3://gen3-test/no/such/key.bin", "-o", dest)
        self.assertEqual(p.returncode, 1)
        self.assertFalse(os.path.exists(dest) or os.path.exists(dest + ".partial"))

    def test_missing_bucket(self):
        p = self.run_bin("ls", "s3://no-such-bucket-gen3/")
        self.assertEqual(p.returncode, 1)
        self.assertIn("HTTP 404 NoSuchBucket", p.stderr.decode())

    def test_session_token(self):
        data = b"temporary credentials work\n"
        upstream_put("temp/obj.txt", data)
        env = base_env(creds=False)
        env["AWS_ACCESS_KEY_ID"] = ENV["TEMP_AWS_ACCESS_KEY_ID"]
        env["AWS_SECRET_ACCESS_KEY"] = ENV["TEMP_AWS_SECRET_ACCESS_KEY"]
        env["AWS_SESSION_TOKEN"] = ENV["TEMP_AWS_SESSION_TOKEN"]
        self.assert_fetch_equal("s3://gen3-test/temp/obj.txt", data, env=env)
        self.assertEqual(self.ls("s3://gen3-test/temp/", env), ["temp/obj.txt"])
        del env["AWS_SESSION_TOKEN"]
        p = self.run_bin("fetch", "s3://gen3-test/temp/obj.txt", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn('could not download "s3://gen3-test/temp/obj.txt": HTTP 400 InvalidToken',
                      p.stderr.decode())

    def test_shared_credentials_file(self):
        data = b"from a profile\n"
        upstream_put("profile/obj.txt", data)
        creds = self.out("credentials")
        with open(creds, "w") as f:
            f.write("# test credentials\n[default]\naws_access_key_id = AKIAWRONGDEFAULT0000\n"
                    "aws_secret_access_key = wrongSecretForTheTest/0123456789+abc\n\n"
                    "[gen3test]\naws_access_key_id=%s\n  aws_secret_access_key = %s  \n"
                    % (ENV["AWS_ACCESS_KEY_ID"], ENV["AWS_SECRET_ACCESS_KEY"]))
        env = base_env(creds=False)
        env["AWS_SHARED_CREDENTIALS_FILE"] = creds
        env["AWS_PROFILE"] = "gen3test"
        self.assert_fetch_equal("s3://gen3-test/profile/obj.txt", data, env=env)
        # the default profile holds wrong keys
        del env["AWS_PROFILE"]
        p = self.run_bin("fetch", "s3://gen3-test/profile/obj.txt", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("InvalidAccessKeyId", p.stderr.decode())
        # ~/.aws/credentials is the default file
        os.makedirs(os.path.join(TMP, ".aws"), exist_ok=True)
        shutil.copy(creds, os.path.join(TMP, ".aws", "credentials"))
        del env["AWS_SHARED_CREDENTIALS_FILE"]
        env["AWS_PROFILE"] = "gen3test"
        self.assert_fetch_equal("s3://gen3-test/profile/obj.txt", data, env=env)
        os.unlink(os.path.join(TMP, ".aws", "credentials"))
        env["AWS_PROFILE"] = "nosuchprofile"
        env["AWS_SHARED_CREDENTIALS_FILE"] = creds
        p = self.run_bin("fetch", "s3://gen3-test/profile/obj.txt", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.decode().splitlines()[0],
                         'gen3db: AWS profile "nosuchprofile" not found in "%s"' % creds)

    def test_no_credentials(self):
        p = self.run_bin("fetch", "s3://gen3-test/get/blob.bin", env=base_env(creds=False))
        self.assertEqual(p.returncode, 2)
        self.assertIn("gen3db: no AWS credentials found", p.stderr.decode())
        self.assertIn("--no-sign-request", p.stderr.decode())

    def test_no_sign_request_public_bucket(self):
        data = b"public data\n" * 1000
        upstream_put("pub/obj.txt", data, bucket=ENV["S3_PUBLIC_BUCKET"])
        env = base_env(creds=False)
        self.assert_fetch_equal("s3://gen3-public/pub/obj.txt", data, env=env,
                                extra=("--no-sign-request",))
        p = self.run_bin("fetch", "s3://gen3-test/get/blob.bin", "--no-sign-request", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("HTTP 403 AccessDenied", p.stderr.decode())

    def test_endpoint_from_environment(self):
        data = b"endpoint from AWS_ENDPOINT_URL\n"
        upstream_put("envep/obj.txt", data)
        env = base_env()
        env["AWS_ENDPOINT_URL"] = ENV["S3_ENDPOINT"]
        p = self.run_bin("fetch", "s3://gen3-test/envep/obj.txt", env=env, endpoint=False)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(p.stdout, data)

    def test_usage_errors(self):
        p = self.run_bin("fetch", "s3:///nobucket")
        self.assertEqual(p.returncode, 2)
        self.assertIn('"s3:///nobucket" has no bucket name', p.stderr.decode())
        p = self.run_bin("fetch", "s3://gen3-test/dir/")
        self.assertEqual(p.returncode, 2)
        self.assertIn("names a prefix, not an object", p.stderr.decode())
        p = self.run_bin("fetch", "ftp://user:pw@host/x", endpoint=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn('unsupported source "ftp://host/x"', p.stderr.decode())
        self.assertNotIn("pw", p.stderr.decode())


class Gen3Layout(RemoteTest):
    def test_layout_plan_from_s3(self):
        base = "layout/qa/2024-05/"
        for k in ("pgdumps/fence.sql", "pgdumps/indexd.sql.gz", "pgdumps/notes.txt",
                  "elasticsearch/etl_0__mapping.json", "elasticsearch/etl_0__data.json",
                  "elasticsearch/file_0__mapping.json", "elasticsearch/file_0__data.json",
                  "elasticsearch/file_0__alias.json", "gen3-snap.tar.zst"):
            upstream_put(base + k, b"{}")
        upstream_put("layout/qa/2024-05x/pgdumps/other.sql", b"x")
        p = self.run_bin("ls", "--gen3-layout", "s3://gen3-test/layout/qa/2024-05")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        u = "s3://gen3-test/" + base
        self.assertEqual(p.stdout.decode().splitlines(), [
            "service\tfence\t%spgdumps/fence.sql" % u,
            "service\tindexd\t%spgdumps/indexd.sql.gz" % u,
            "index\tetl_0\t%selasticsearch/etl_0__mapping.json\t%selasticsearch/etl_0__data.json"
            % (u, u),
            "index\tfile_0\t%selasticsearch/file_0__mapping.json\t%selasticsearch/file_0__data.json"
            % (u, u),
            "snapshot\t%sgen3-snap.tar.zst" % u])
        p = self.run_bin("ls", "--gen3-layout", "s3://gen3-test/" + base, "--service", "indexd",
                         "--index", "file_0")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual([ln.split("\t")[1] for ln in p.stdout.decode().splitlines()],
                         ["indexd", "file_0", u + "gen3-snap.tar.zst"])
        p = self.run_bin("ls", "--gen3-layout", "s3://gen3-test/" + base, "--service", "peregrine")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.decode().splitlines(), [
            'gen3db: no dump for service "peregrine" in "%s": no pgdumps/peregrine.sql[.gz|.zst] '
            'or peregrine.sql[.gz|.zst]' % u,
            'hint: services found: "fence", "indexd"'])
        # the planned sources open as sources
        p = self.run_bin("fetch", u + "pgdumps/fence.sql")
        self.assertEqual((p.returncode, p.stdout), (0, b"{}"))


HTTPS_SERVER = r"""
import http.server, ssl, sys, functools
root, cert, key, port_file = sys.argv[1:5]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
handler = functools.partial(Quiet, directory=root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
"""


class Https(RemoteTest):
    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(TMP, "tls")
        os.makedirs(os.path.join(cls.dir, "www"))
        cls.cert = os.path.join(cls.dir, "cert.pem")
        key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cls.cert], check=True, capture_output=True)
        port_file = os.path.join(cls.dir, "port")
        cls.proc = subprocess.Popen([sys.executable, "-c", HTTPS_SERVER,
                                     os.path.join(cls.dir, "www"), cls.cert, key, port_file])
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("https test server did not start")
        with open(port_file) as f:
            cls.url = "https://127.0.0.1:%s" % f.read().strip()

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(10)

    def test_tls_verified(self):
        data = os.urandom(300000)
        with open(os.path.join(self.dir, "www", "tls.bin"), "wb") as f:
            f.write(data)
        p = self.run_bin("fetch", self.url + "/tls.bin", "--retries", "0", endpoint=False)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn('gen3db: could not download "%s/tls.bin": SSL certificate problem' % self.url,
                      err)
        self.assert_fetch_equal(self.url + "/tls.bin", data, extra=("--ca-file", self.cert))


class DumpToS3(RemoteTest):
    """`gen3db dump --output s3://...` streams the snapshot as a multipart
    upload (the endpoint from AWS_ENDPOINT_URL); the fetched object is a
    complete .tar.zst."""

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
        import pgcluster
        cls.pg = pgcluster.PgCluster().start()
        cls.pg.psql("CREATE DATABASE remote_src")
        cls.pg.psql("CREATE TABLE t (id int PRIMARY KEY, payload text); "
                    "INSERT INTO t SELECT g, md5(g::text) || repeat(md5((g*7)::text), 20) "
                    "FROM generate_series(1, 40000) g", db="remote_src")

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()

    def test_dump_to_s3(self):
        env = base_env()
        env.update(self.pg.env())
        env["AWS_ENDPOINT_URL"] = ENV["S3_ENDPOINT"]
        p = self.run_bin("dump", "--output", "s3://gen3-test/snapshots/remote_src.tar.zst",
                         "--database", "remote_src", "--level", "1", env=env, endpoint=False)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertEqual(uploads_left(), [])
        dest = self.out("remote_src.tar.zst")
        p = self.run_bin("fetch", "s3://gen3-test/snapshots/remote_src.tar.zst", "-o", dest)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        names = subprocess.run(["tar", "--zstd", "-tf", dest], check=True,
                               capture_output=True).stdout.decode().splitlines()
        self.assertTrue(any("manifest" in n for n in names), names)
        self.assertTrue(any("end.json" in n for n in names), names)
        # a dump that fails leaves no object: an unknown database
        p = self.run_bin("dump", "--output", "s3://gen3-test/snapshots/bad.tar.zst",
                         "--database", "no_such_db", "--wait", "1", env=env, endpoint=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(self.ls("s3://gen3-test/snapshots/bad"), [])
        self.assertEqual(uploads_left(), [])


def uploads_left(bucket="gen3-test"):
    d = os.path.join(TMP, "s3data", bucket, "._S3rver_uploads")
    return os.listdir(d) if os.path.isdir(d) else []


class S3Upload(RemoteTest):
    def test_multipart_upload(self):
        data = os.urandom(21 * 1024 * 1024 + 12345)
        src = self.out("big-upload.bin")
        with open(src, "wb") as f:
            f.write(data)
        p = self.run_bin("fetch", src, "--output", "s3://gen3-test/up/big file+1.bin",
                         "--verbose")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        err = p.stderr.decode()
        self.assertIn('uploaded part 3 of "s3://gen3-test/up/big file+1.bin"', err)
        self.assertIn("in 3 parts", err)
        self.assertEqual(uploads_left(), [])
        self.assert_fetch_equal("s3://gen3-test/up/big file+1.bin", data)
        line = self.ls("s3://gen3-test/up/big", None, "--long")
        self.assertEqual(len(line), 1)
        self.assertEqual(line[0].split("\t")[0], str(len(data)))

    def test_small_upload_is_one_put(self):
        data = b"small\n" * 10
        src = self.out("small.txt")
        with open(src, "wb") as f:
            f.write(data)
        p = self.run_bin("fetch", src, "--output", "s3://gen3-test/up/small.txt")
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assert_fetch_equal("s3://gen3-test/up/small.txt", data)

    def test_failed_upload_leaves_nothing(self):
        # a 14 MiB source that breaks after 12 MiB, with no resume allowed:
        # one 8 MiB part is uploaded, then the upload must be aborted
        data = os.urandom(14 * 1024 * 1024)
        with open(os.path.join(FLAKY["root"], "abort-src.bin"), "wb") as f:
            f.write(data)
        flaky_control(path="/abort-src.bin", cut_after=12 * 1024 * 1024, times=10)
        p = self.run_bin("fetch", FLAKY["url"] + "/abort-src.bin", "--retries", "0",
                         "--output", "s3://gen3-test/up/aborted.bin", "--verbose")
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn('uploaded part 1 of "s3://gen3-test/up/aborted.bin"', err)
        self.assertIn('aborted the multipart upload of "s3://gen3-test/up/aborted.bin"', err)
        self.assertIn('could not download "%s/abort-src.bin"' % FLAKY["url"], err)
        self.assertEqual(self.ls("s3://gen3-test/up/aborted"), [])
        self.assertEqual(uploads_left(), [])

    def test_upload_with_wrong_secret(self):
        env = base_env()
        env["AWS_SECRET_ACCESS_KEY"] = "wrongSecretForTheTest/0123456789+abc"
        src = self.out("small2.txt")
        with open(src, "wb") as f:
            f.write(b"x" * 100)
        p = self.run_bin("fetch", src, "--output", "s3://gen3-test/up/denied.txt", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn('could not upload "s3://gen3-test/up/denied.txt": HTTP 403 '
                      'SignatureDoesNotMatch', p.stderr.decode())
        self.assertEqual(self.ls("s3://gen3-test/up/denied"), [])


class HttpResume(RemoteTest):
    def put_file(self, name, data):
        with open(os.path.join(FLAKY["root"], name), "wb") as f:
            f.write(data)

    def test_plain_download(self):
        data = os.urandom(2 * 1024 * 1024)
        self.put_file("plain.bin", data)
        self.assert_fetch_equal(FLAKY["url"] + "/plain.bin", data)

    def test_resume_after_cuts(self):
        data = os.urandom(5 * 1024 * 1024 + 3)
        self.put_file("cut.bin", data)
        flaky_control(path="/cut.bin", cut_after=1024 * 1024 + 7, times=3)
        self.assert_fetch_equal(FLAKY["url"] + "/cut.bin", data)
        st = flaky_stats("/cut.bin")
        self.assertEqual(st["cuts_done"], 3)
        self.assertEqual(st["ranges"][0], None)
        self.assertEqual(len(st["ranges"]), 4)
        for r in st["ranges"][1:]:
            self.assertRegex(r, r"^bytes=\d+-$")
        # each resume starts where the previous response stopped
        starts = [int(r[6:-1]) for r in st["ranges"][1:]]
        self.assertEqual(starts, sorted(starts))
        self.assertTrue(all(s > 0 for s in starts))

    def test_s3_source_resumes(self):
        # the flaky origin as a path-style "S3 endpoint": /bucket/key is a
        # file; every resumed request of the s3 source is signed anew with
        # its Range header
        data = os.urandom(3 * 1024 * 1024 + 5)
        os.makedirs(os.path.join(FLAKY["root"], "bkt"), exist_ok=True)
        self.put_file("bkt/obj.bin", data)
        flaky_control(path="/bkt/obj.bin", cut_after=700 * 1024, times=2)
        self.assert_fetch_equal("s3://bkt/obj.bin", data,
                                extra=("--s3-endpoint", FLAKY["url"]), endpoint=False)
        st = flaky_stats("/bkt/obj.bin")
        self.assertEqual(st["cuts_done"], 2)
        self.assertEqual(st["ranges"][0], None)
        self.assertEqual(len(st["ranges"]), 3)
        self.put_file("bkt/chg.bin", data)
        flaky_control(path="/bkt/chg.bin", cut_after=700 * 1024, times=2, change_etag_after=1)
        p = self.run_bin("fetch", "s3://bkt/chg.bin", "--s3-endpoint", FLAKY["url"],
                         endpoint=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('gen3db: could not download "s3://bkt/chg.bin": object changed during '
                      'download', p.stderr.decode())

    def test_too_many_cuts(self):
        data = os.urandom(3 * 1024 * 1024)
        self.put_file("cut-many.bin", data)
        flaky_control(path="/cut-many.bin", cut_after=512 * 1024, times=10)
        dest = self.out("cut-many.out")
        p = self.run_bin("fetch", FLAKY["url"] + "/cut-many.bin", "--retries", "2",
                         "-o", dest)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn('gen3db: could not download "%s/cut-many.bin"' % FLAKY["url"], err)
        self.assertIn("hint: gave up after 2 resume attempts", err)
        self.assertFalse(os.path.exists(dest) or os.path.exists(dest + ".partial"))

    def test_object_changed_during_download(self):
        data = os.urandom(4 * 1024 * 1024)
        self.put_file("changing.bin", data)
        flaky_control(path="/changing.bin", cut_after=1024 * 1024, times=5,
                      change_etag_after=1)
        dest = self.out("changing.out")
        p = self.run_bin("fetch", FLAKY["url"] + "/changing.bin", "-o", dest)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode().splitlines()[-2],
                         'gen3db: could not download "%s/changing.bin": object changed during '
                         'download' % FLAKY["url"])
        self.assertFalse(os.path.exists(dest) or os.path.exists(dest + ".partial"))

    def test_http_error_names_url_without_credentials(self):
        url = FLAKY["url"].replace("http://", "http://user:%s@" % "pa55word") + \
            "/missing.bin?X-Amz-Signature=deadbeefsig&X-Amz-Credential=AKIA%2Fx&part=1"
        p = self.run_bin("fetch", url, endpoint=False)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertEqual(err.splitlines()[0],
                         'gen3db: could not download "%s/missing.bin?part=1": HTTP 404'
                         % FLAKY["url"])
        for s in ("pa55word", "deadbeefsig", "AKIA", "user:"):
            self.assertNotIn(s, err)

    def test_unreachable_server(self):
        p = self.run_bin("fetch", "http://127.0.0.1:9/x.bin", "--retries", "1", endpoint=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('gen3db: could not download "http://127.0.0.1:9/x.bin"', p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
