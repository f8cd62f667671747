"""make demo's script end to end: what a newcomer runs first."""
import os
import subprocess
import unittest

from g3test import BIN, ROOT, check_no_secrets, tempdir


class DemoTest(unittest.TestCase):
    def test_demo_start_and_stop(self):
        parent = tempdir(self, "gen3db-demo-test-")
        os.chmod(parent, 0o755)  # the server runs as an unprivileged user
        d = os.path.join(parent, "demo")
        env = dict(os.environ, GEN3DB_DEMO_DIR=d, GEN3DB_BIN=BIN)
        for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "ESHOST"):
            env.pop(k, None)
        script = os.path.join(ROOT, "scripts", "demo")
        try:
            r = subprocess.run([script, "start"], env=env, capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(d, "pg.env")) as f:
                pw = [l.split("=", 1)[1].strip() for l in f if "PGPASSWORD" in l][0]
            check_no_secrets(r.stdout, r.stderr)
            self.assertNotIn(pw, r.stdout + r.stderr)
            # the demo's dumps need no vector: no warning about it
            self.assertNotIn("vector", r.stderr)
            out = r.stdout
            self.assertIn("gen3db demo is running:", out)
            for db, rows in (("sheepdog_demo", 3197), ("indexd_demo", 11346),
                             ("fence_demo", 1999), ("arborist_demo", 8762),
                             ("metadata_demo", 1323)):
                line = [l for l in out.splitlines() if l.startswith("  postgres") and " %s " % db in l]
                self.assertEqual(len(line), 1, out)
                self.assertTrue(line[0].rstrip().endswith("%d rows" % rows), line[0])
            for idx, docs in (("dev_case", 400), ("dev_file", 400), ("dev_array-config", 2)):
                line = [l for l in out.splitlines() if " %s " % idx in l]
                self.assertEqual(len(line), 1, out)
                self.assertIn("%d documents" % docs, line[0])
            self.assertIn("make demo-stop", out)
        finally:
            r = subprocess.run([script, "stop"], env=env, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(d))
