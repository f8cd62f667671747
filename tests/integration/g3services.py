"""Test services shared by the integration suites, each started by the
module or test that needs it and stopped by it:

  EsServer       the Elasticsearch test double tests/esd/es_test_server.py
                 in a subprocess (or the real cluster of GEN3DB_TEST_ES_URL)
  FakeApiServer  an HTTPS stand-in for the Kubernetes API server's Secret
                 PATCH, with make_cert() for its certificate
  S3Stack        s3rver behind the SigV4-verifying proxy (tests/s3/s3env.sh)
  HttpOrigin     the flaky HTTP origin tests/s3/flaky_http_server.py
  module_es(), module_s3(), module_api(): one of these for the whole test
  module, stopped by a module cleanup (unittest.addModuleCleanup).
A service that cannot start raises: a suite that needs it fails, never skips.
"""
import http.server
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

from g3test import ROOT, secret, wait_port_file

SERVER = os.path.join(ROOT, "tests", "esd", "es_test_server.py")
S3DIR = os.path.join(ROOT, "tests", "s3")
REAL_URL = os.environ.get("GEN3DB_TEST_ES_URL")

NAMESPACE = "gen3-test"
TOKEN = secret("eyJhbGciOiJSUzI1NiJ9.k8s-test-token.c2lnbmF0dXJl")


def make_cert(directory, name):
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    return key, crt


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class FakeApiServer:
    """HTTPS server answering PATCH /api/v1/namespaces/<ns>/secrets/<name>."""

    def __init__(self, key, crt):
        self.requests = []        # (method, path, headers dict, body bytes)
        self.secrets = {}         # name -> data dict (base64 values)
        self.forbidden = set()    # names the token may not patch
        self.flaky = {}           # name -> how many 503 answers before it works
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append((self.command, self.path, dict(self.headers), body))
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    return self.reply(401, status_body(401, "Unauthorized", "Unauthorized"))
                if self.command != "PATCH":
                    return self.reply(405, status_body(405, "MethodNotAllowed",
                                                       "method not allowed"))
                prefix = "/api/v1/namespaces/%s/secrets/" % NAMESPACE
                if not self.path.startswith(prefix):
                    return self.reply(404, status_body(404, "NotFound", "the server could not "
                                                       "find the requested resource"))
                name = self.path[len(prefix):]
                if self.headers.get("Content-Type") != "application/merge-patch+json":
                    return self.reply(415, status_body(415, "UnsupportedMediaType",
                                                       "the body of the request was in an "
                                                       "unknown format"))
                with outer.lock:
                    unavailable = outer.flaky.get(name, 0)
                    if unavailable:
                        outer.flaky[name] = unavailable - 1
                if unavailable:
                    return self.reply(503, status_body(503, "ServiceUnavailable",
                                                       "etcd is not ready"))
                if name in outer.forbidden:
                    return self.reply(403, status_body(
                        403, "Forbidden", 'secrets "%s" is forbidden: User "system:'
                        'serviceaccount:%s:gen3db" cannot patch resource "secrets" in API '
                        'group "" in the namespace "%s"' % (name, NAMESPACE, NAMESPACE)))
                with outer.lock:
                    if name not in outer.secrets:
                        return self.reply(404, status_body(404, "NotFound",
                                                           'secrets "%s" not found' % name))
                    patch = json.loads(body)
                    outer.secrets[name].update(patch["data"])
                    data = dict(outer.secrets[name])
                self.reply(200, {"kind": "Secret", "apiVersion": "v1",
                                 "metadata": {"name": name, "namespace": NAMESPACE},
                                 "data": data, "type": "Opaque"})

            do_PATCH = handle_any
            do_GET = handle_any
            do_POST = handle_any
            do_PUT = handle_any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients that refuse our certificate

        self.httpd = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                            do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reset(self, *names):
        with self.lock:
            self.requests = []
            self.secrets = {n: {"password": "eA=="} for n in names}
            self.forbidden = set()
            self.flaky = {}

    def patched(self):
        """The names of the secrets that received a valid dbcreated patch."""
        with self.lock:
            return [r[1].rsplit("/", 1)[1] for r in self.requests]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class EsServer:
    """The test double in a subprocess (or the real cluster of GEN3DB_TEST_ES_URL)."""

    def __init__(self, flavor="es7", mode="fast", extra=()):
        self.proc = None
        self.flavor = flavor
        if REAL_URL:
            self.url = REAL_URL.rstrip("/")
            return
        self.dir = tempfile.mkdtemp(prefix="g3esd-")
        port_file = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--port-file", port_file,
             "--flavor", flavor, "--mode", mode] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        port = wait_port_file(self.proc, port_file, "es_test_server (log: %s)" % self.log.name)
        scheme = "https" if "--tls-cert" in extra else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, port)

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def req(self, method, path, body=None, ok404=False):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(r, timeout=60) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            if ok404 and e.code == 404:
                return 404, (json.loads(raw) if raw else None)
            raise AssertionError("%s %s: HTTP %d %s" % (method, path, e.code, raw[:500]))

    def reset(self):
        if self.proc:
            self.req("POST", "/_test/reset")
            return
        for pat in ("dev_case*", "dev_file*", "dev_array-config*", "g3t_*"):
            _, out = self.req("GET", "/_alias/" + urllib.parse.quote(pat), ok404=True)
            for idx in (out or {}):
                if not idx.startswith("."):
                    self.req("DELETE", "/" + urllib.parse.quote(idx, safe=""), ok404=True)
            _, out = self.req("GET", "/" + urllib.parse.quote(pat) + "?expand_wildcards=open",
                              ok404=True)
            for idx in (out or {}):
                self.req("DELETE", "/" + urllib.parse.quote(idx, safe=""), ok404=True)

    def faults(self, **kw):
        self.req("POST", "/_test/faults", kw)

    def stats(self):
        return self.req("GET", "/_test/stats")[1]

    def indices(self):
        _, out = self.req("GET", "/_alias")
        return {k: sorted(v.get("aliases", {})) for k, v in out.items() if not k.startswith(".")}

    def docs(self, index):
        """Every document of index (alias or concrete) as {id: source}."""
        self.req("POST", "/%s/_refresh" % urllib.parse.quote(index, safe=""))
        _, out = self.req("POST", "/%s/_search" % urllib.parse.quote(index, safe=""),
                          {"size": 10000, "query": {"match_all": {}}})
        return {h["_id"]: h["_source"] for h in out["hits"]["hits"]}

    def get_doc(self, index, doc_id):
        path = "/%s/%s/%s" % (urllib.parse.quote(index, safe=""),
                              "_doc", urllib.parse.quote(doc_id, safe=""))
        return self.req("GET", path)[1]


def read_env(path):
    """The variables of a shell file of "export K='V'" lines."""
    env = {}
    with open(path) as f:
        for line in f:
            if line.startswith("export "):
                k, v = line[7:].strip().split("=", 1)
                env[k] = v.strip("'")
    return env


class S3Stack:
    """s3rver behind the SigV4 proxy, its state in directory; .env holds
    s3env.sh's variables (endpoint, bucket, region, credentials), whose
    secrets are registered so that no output may show them."""

    def __init__(self, directory):
        if not os.path.isfile(os.path.join(S3DIR, "node_modules", "s3rver", "package.json")):
            raise AssertionError("s3rver is not installed: run tests/s3/install.sh first")
        self.dir = directory
        subprocess.run([os.path.join(S3DIR, "s3env.sh"), "start", directory], check=True,
                       stdout=subprocess.DEVNULL)
        self.env = read_env(os.path.join(directory, "s3.env"))
        for k in ("AWS_SECRET_ACCESS_KEY", "TEMP_AWS_SECRET_ACCESS_KEY", "TEMP_AWS_SESSION_TOKEN"):
            if self.env.get(k):
                secret(self.env[k])

    def stop(self):
        subprocess.run([os.path.join(S3DIR, "s3env.sh"), "stop", self.dir], check=False,
                       stdout=subprocess.DEVNULL)


class HttpOrigin:
    """tests/s3/flaky_http_server.py serving root (faults set per request)."""

    def __init__(self, root, state_dir):
        os.makedirs(root, exist_ok=True)
        port_file = os.path.join(state_dir, "flaky.port")
        with open(os.path.join(state_dir, "flaky.log"), "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(S3DIR, "flaky_http_server.py"), "--root", root,
                 "--port-file", port_file, "--quiet"], stdout=log, stderr=log)
        self.root = root
        self.url = "http://127.0.0.1:%d" % wait_port_file(self.proc, port_file,
                                                          "flaky_http_server.py")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def module_es(flavor="es7", **kw):
    """An EsServer for the whole module, stopped when the module ends."""
    srv = EsServer(flavor, **kw)
    unittest.addModuleCleanup(srv.stop)
    return srv


def module_s3(directory):
    """An S3Stack for the whole module, stopped when the module ends."""
    s3 = S3Stack(directory)
    unittest.addModuleCleanup(s3.stop)
    return s3


def module_api(directory):
    """A FakeApiServer with its certificate in directory, and a service
    account folder (token, namespace, ca.crt) for gen3db's in-cluster
    configuration: (server, service account folder). Stopped when the
    module ends."""
    key, crt = make_cert(directory, "api")
    api = FakeApiServer(key, crt)
    unittest.addModuleCleanup(api.stop)
    sa = os.path.join(directory, "serviceaccount")
    os.mkdir(sa)
    with open(os.path.join(sa, "token"), "w") as f:
        f.write(TOKEN)
    with open(os.path.join(sa, "namespace"), "w") as f:
        f.write(NAMESPACE)
    shutil.copy(crt, os.path.join(sa, "ca.crt"))
    return api, sa
