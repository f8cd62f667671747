"""gen3db create --patch-secret against a local HTTPS stand-in for the
Kubernetes API server and the throwaway PostgreSQL.

The stand-in checks what a real API server would (method, path, content
type, bearer token, a JSON merge patch), answers with Kubernetes Status
bodies on errors, and records every request it received.
"""
import json
import os
import shutil
import tempfile

from g3services import NAMESPACE, TOKEN, FakeApiServer, make_cert
from g3test import PgTestCase, run, secret



class PatchSecretTest(PgTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="gen3db-k8s-")
        key, crt = make_cert(cls.tmp, "api")
        _, cls.other_crt = make_cert(cls.tmp, "other")
        cls.api = FakeApiServer(key, crt)
        cls.sa = os.path.join(cls.tmp, "serviceaccount")
        os.mkdir(cls.sa)
        with open(os.path.join(cls.sa, "token"), "w") as f:
            f.write(TOKEN)
        with open(os.path.join(cls.sa, "namespace"), "w") as f:
            f.write(NAMESPACE)
        shutil.copy(crt, os.path.join(cls.sa, "ca.crt"))

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def k8s_env(self, sa=None, **extra):
        e = self.env(**extra)
        for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "GEN3DB_K8S_API",
                  "GEN3DB_K8S_SA_DIR"):
            e.pop(k, None)
        e["GEN3DB_K8S_API"] = "https://127.0.0.1:%d" % self.api.port
        e["GEN3DB_K8S_SA_DIR"] = sa or self.sa
        return e

    def other_sa(self, token=TOKEN, ca=None):
        d = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(d, "token"), "w") as f:
            f.write(token + "\n")
        with open(os.path.join(d, "namespace"), "w") as f:
            f.write(NAMESPACE + "\n")
        shutil.copy(ca or os.path.join(self.sa, "ca.crt"), os.path.join(d, "ca.crt"))
        return d

    def test_patches_each_verified_service_once(self):
        self.api.reset("indexd-dbcreds", "peregrine-dbcreds", "unrelated-dbcreds")
        out = os.path.join(self.tmp, "secrets.yaml")
        r = run(["create", "--service", "indexd", "--service", "peregrine", "--release", "k1",
                 "--secret-out", out, "--patch-secret", "--extension", "ltree"],
                env=self.k8s_env())
        self.assertExit(r, 0)
        self.assertIn('gen3db: indexd: patched secret "indexd-dbcreds" in namespace "%s" '
                      '(dbcreated)\n' % NAMESPACE, r.err)
        self.assertIn('gen3db: peregrine: patched secret "peregrine-dbcreds" in namespace '
                      '"%s" (dbcreated)\n' % NAMESPACE, r.err)
        self.assertEqual(self.api.patched(), ["indexd-dbcreds", "peregrine-dbcreds"])
        for method, path, headers, body in self.api.requests:
            self.assertEqual(method, "PATCH")
            self.assertTrue(path.startswith("/api/v1/namespaces/gen3-test/secrets/"), path)
            self.assertEqual(headers["Content-Type"], "application/merge-patch+json")
            self.assertEqual(headers["Authorization"], "Bearer " + TOKEN)
            self.assertEqual(body, b'{"data":{"dbcreated":"dHJ1ZQ=="}}')
        self.assertEqual(self.api.secrets["indexd-dbcreds"],
                         {"password": "eA==", "dbcreated": "dHJ1ZQ=="})
        self.assertNotIn("dbcreated", self.api.secrets["unrelated-dbcreds"])
        # the login was verified before: the service user can log in
        self.assertEqual(self.sql("SELECT count(*) FROM pg_roles WHERE rolname IN "
                                  "('indexd_k1', 'peregrine_k1')"), "2")
        with open(out) as f:
            lines = f.readlines()
        for line in lines:
            if line.strip().startswith("password:"):
                secret(line.split(":", 1)[1].strip().strip('"'))

    def test_helm_environment_patches_also_when_database_exists(self):
        self.api.reset("fence-dbcreds")
        e = self.env(SERVICE_PGDB="fence_k2", SERVICE_PGUSER="fence_k2",
                     SERVICE_PGPASS=secret("fence-k2-password"))
        # the pod's own environment, not the test override
        e.update(KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(self.api.port),
                 GEN3DB_K8S_SA_DIR=self.sa)
        e.pop("GEN3DB_K8S_API", None)
        args = ["create", "--patch-secret", "--secret-name", "fence-dbcreds",
                "--extension", "ltree"]
        r = run(args, env=e)
        self.assertExit(r, 0)
        self.assertIn("gen3db: fence_k2: created role", r.err)
        r = run(args, env=e)
        self.assertExit(r, 0)
        self.assertIn("already present", r.err)
        self.assertIn('gen3db: fence_k2: patched secret "fence-dbcreds" in namespace '
                      '"gen3-test" (dbcreated)\n', r.err)
        self.assertEqual(self.api.patched(), ["fence-dbcreds", "fence-dbcreds"])

    def test_wrong_token_fails_naming_secret_and_status(self):
        self.api.reset("wrongtok-dbcreds")
        bad = secret("eyJ.wrong-token.xyz")
        pw = secret("wrongtok-pw")
        env = self.k8s_env(sa=self.other_sa(token=bad), SERVICE_PGDB="wrongtok_k3",
                           SERVICE_PGUSER="wrongtok_k3", SERVICE_PGPASS=pw)
        r = run(["create", "--patch-secret", "--secret-name", "wrongtok-dbcreds",
                 "--extension", "ltree"], env=env)
        self.assertExit(r, 1)
        self.assertIn('gen3db: wrongtok_k3: failed: could not patch secret "wrongtok-dbcreds" '
                      'in namespace "gen3-test": HTTP 401 Unauthorized: Unauthorized\n'
                      'hint: the service account token was refused; check that it is mounted '
                      'and not expired\n', r.err)
        # one attempt: a 4xx is not retried
        self.assertEqual(len(self.api.requests), 1)
        self.assertEqual(self.api.requests[0][2]["Authorization"], "Bearer " + bad)
        self.assertNotIn("dbcreated", self.api.secrets["wrongtok-dbcreds"])

    def test_forbidden_and_missing_secret_carry_the_status_message(self):
        self.api.reset("denied-dbcreds")
        self.api.forbidden.add("denied-dbcreds")
        pw = secret("denied-pw")
        pwfile = os.path.join(self.tmp, "denied-pw")
        with open(pwfile, "w") as f:
            f.write(pw)
        cfg = os.path.join(self.tmp, "k8s.json")
        with open(cfg, "w") as f:
            json.dump({"release": "k4", "services": [
                {"name": "denied", "password_file": pwfile},
                {"name": "absent", "password_file": pwfile}]}, f)
        r = run(["create", "--config", cfg, "--patch-secret", "--extension", "ltree"],
                env=self.k8s_env())
        self.assertExit(r, 1)
        self.assertIn('gen3db: denied: failed: could not patch secret "denied-dbcreds" in '
                      'namespace "gen3-test": HTTP 403 Forbidden: secrets "denied-dbcreds" is '
                      'forbidden: User "system:serviceaccount:gen3-test:gen3db" cannot patch '
                      'resource "secrets" in API group "" in the namespace "gen3-test"\n'
                      'hint: give the job\'s service account a Role allowing "get" and "patch" '
                      'on secrets in namespace "gen3-test"\n', r.err)
        self.assertIn('gen3db: absent: failed: could not patch secret "absent-dbcreds" in '
                      'namespace "gen3-test": HTTP 404 Not Found: secrets "absent-dbcreds" not '
                      'found\n', r.err)
        self.assertEqual(self.api.patched(), ["denied-dbcreds", "absent-dbcreds"])

    def test_unavailable_api_server_is_retried(self):
        self.api.reset("retry-dbcreds", "down-dbcreds")
        self.api.flaky["retry-dbcreds"] = 2
        self.api.flaky["down-dbcreds"] = 100
        pw = secret("retry-pw")
        pwfile = os.path.join(self.tmp, "retry-pw")
        with open(pwfile, "w") as f:
            f.write(pw)
        cfg = os.path.join(self.tmp, "k8.json")
        with open(cfg, "w") as f:
            json.dump({"release": "k8", "services": [
                {"name": "retry", "password_file": pwfile},
                {"name": "down", "password_file": pwfile}]}, f)
        r = run(["create", "--config", cfg, "--patch-secret", "--extension", "ltree"],
                env=self.k8s_env())
        self.assertExit(r, 1)
        self.assertIn('gen3db: retry: patched secret "retry-dbcreds"', r.err)
        self.assertIn('gen3db: down: failed: could not patch secret "down-dbcreds" in namespace '
                      '"gen3-test": HTTP 503 Service Unavailable: etcd is not ready\n', r.err)
        # two 503s then success; four attempts in all for the one that stays down
        self.assertEqual(self.api.patched(), ["retry-dbcreds"] * 3 + ["down-dbcreds"] * 4)
        self.assertEqual(self.api.secrets["retry-dbcreds"]["dbcreated"], "dHJ1ZQ==")

    def test_wrong_ca_is_a_tls_error(self):
        self.api.reset("tls-dbcreds")
        env = self.k8s_env(sa=self.other_sa(ca=self.other_crt), SERVICE_PGDB="tls_k5",
                           SERVICE_PGUSER="tls_k5", SERVICE_PGPASS=secret("tls-pw"))
        r = run(["create", "--patch-secret", "--secret-name", "tls-dbcreds",
                 "--extension", "ltree"], env=env)
        self.assertExit(r, 1)
        self.assertIn('gen3db: tls_k5: failed: could not patch secret "tls-dbcreds" in '
                      'namespace "gen3-test" at "https://127.0.0.1:%d": SSL certificate problem'
                      % self.api.port, r.err)
        self.assertIn('\nhint: the API server\'s certificate must chain to "', r.err)
        self.assertEqual(self.api.requests, [])

    def test_service_whose_login_fails_is_not_patched(self):
        self.api.reset("taken-dbcreds", "limited-dbcreds", "fine-dbcreds")
        pw = secret("limited-pw")
        self.sql("CREATE ROLE taken_k6 LOGIN PASSWORD 'taken-pw-%s'" % os.getpid())
        secret("taken-pw-%s" % os.getpid())
        # a role that exists with the right password but cannot log in
        self.sql("CREATE ROLE limited_k6 LOGIN CONNECTION LIMIT 0 PASSWORD '%s'" % pw)
        pwfile = os.path.join(self.tmp, "limited-pw")
        with open(pwfile, "w") as f:
            f.write(pw)
        cfg = os.path.join(self.tmp, "k6.json")
        with open(cfg, "w") as f:
            json.dump({"release": "k6", "services": [
                "taken", {"name": "limited", "password_file": pwfile},
                {"name": "fine", "password_file": pwfile}]}, f)
        r = run(["create", "--config", cfg, "--patch-secret", "--extension", "ltree",
                 "--secret-out", os.path.join(self.tmp, "k6.yaml")], env=self.k8s_env())
        self.assertExit(r, 1)
        self.assertIn("gen3db: taken: failed: ", r.err)
        self.assertIn("gen3db: limited: failed: ", r.err)
        self.assertIn("too many connections for role \"limited_k6\"", r.err)
        self.assertIn('gen3db: fine: patched secret "fine-dbcreds"', r.err)
        self.assertEqual(self.api.patched(), ["fine-dbcreds"])

    def test_outside_a_pod_nothing_is_changed(self):
        env = self.env(SERVICE_PGDB="outside_k7", SERVICE_PGUSER="outside_k7",
                       SERVICE_PGPASS=secret("outside-pw"))
        for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "GEN3DB_K8S_API"):
            env.pop(k, None)
        r = run(["create", "--patch-secret", "--secret-name", "outside-dbcreds"], env=env)
        self.assertExit(r, 2)
        self.assertEqual(r.err, "gen3db: not running in a Kubernetes pod "
                         "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)\n"
                         "hint: --patch-secret works inside the cluster; elsewhere use "
                         "--secret-out and kubectl apply\n")
        self.assertEqual(self.sql("SELECT count(*) FROM pg_roles WHERE rolname='outside_k7'"),
                         "0")
        # a missing service account token is a usage error too
        empty = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(empty, "namespace"), "w") as f:
            f.write(NAMESPACE)
        r = run(["create", "--patch-secret", "--secret-name", "outside-dbcreds"],
                env=self.k8s_env(sa=empty, SERVICE_PGDB="outside_k7",
                                 SERVICE_PGUSER="outside_k7", SERVICE_PGPASS="outside-pw"))
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: could not open the service account\'s token '
                         '"%s/token": No such file or directory\nhint: mount the service '
                         'account (automountServiceAccountToken) or set GEN3DB_K8S_SA_DIR\n'
                         % empty)
        self.assertEqual(self.sql("SELECT count(*) FROM pg_roles WHERE rolname='outside_k7'"),
                         "0")

    def test_secret_name_usage(self):
        env = self.k8s_env(SERVICE_PGDB="fence_gen3", SERVICE_PGUSER="fence_gen3",
                           SERVICE_PGPASS=secret("usage-pw"))
        r = run(["create", "--patch-secret"], env=env)
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: service name "fence_gen3" cannot name a Kubernetes '
                         'Secret (lowercase letters, digits, \'-\' and \'.\')\nhint: give the '
                         'Secret\'s name with --secret-name, e.g. --secret-name fence-dbcreds\n')
        r = run(["create", "--secret-name", "fence-dbcreds"], env=env)
        self.assertExit(r, 2)
        self.assertEqual(r.err, "gen3db: --secret-name goes with --patch-secret\n")
        r = run(["create", "--service", "a", "--service", "b", "--secret-out", "-",
                 "--patch-secret", "--secret-name", "a-dbcreds"], env=env)
        self.assertExit(r, 2)
        self.assertEqual(r.err, "gen3db: --secret-name names the Secret of one service, "
                         "not of 2\n")
        r = run(["create", "--patch-secret", "--secret-name", "Fence_dbcreds"], env=env)
        self.assertExit(r, 2)
        env["GEN3DB_K8S_API"] = "http://127.0.0.1:1"
        r = run(["create", "--patch-secret", "--secret-name", "fence-dbcreds"], env=env)
        self.assertExit(r, 2)
        self.assertEqual(r.err, 'gen3db: GEN3DB_K8S_API must be an https:// URL, not '
                         '"http://127.0.0.1:1"\n')


if __name__ == "__main__":
    import unittest
    unittest.main()
