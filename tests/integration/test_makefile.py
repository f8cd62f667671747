"""The Makefile on a machine without the -dev packages: `make demo` (the
README's first command), `make check` and `make bench` install them with
`make deps`, and must build only afterwards. make reads PKG_CFLAGS and
PKG_LIBS from pkg-config when it starts, so a build in the same make as
deps compiled without the headers (`libpq-fe.h: No such file or
directory`) on the first run.

The first run is replayed here: a pkg-config wrapper first in PATH answers
nothing until a marker exists, and INSTALL_DEPS is a stand-in for
scripts/install-deps that creates the marker, as installing the packages
would make pkg-config answer."""
import os
import re
import subprocess
import unittest

from g3test import ROOT, tempdir


class FirstRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempdir(self, "gen3db-makefile-")
        self.marker = os.path.join(self.tmp, "deps-installed")
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        real = subprocess.run(["sh", "-c", "command -v pkg-config"], capture_output=True,
                              text=True).stdout.strip()
        self.assertTrue(real, "pkg-config is needed")
        with open(os.path.join(bindir, "pkg-config"), "w") as f:
            f.write('#!/bin/sh\n[ -e "%s" ] || exit 1\nexec "%s" "$@"\n' % (self.marker, real))
        os.chmod(os.path.join(bindir, "pkg-config"), 0o755)
        self.deps = os.path.join(self.tmp, "install-deps")
        with open(self.deps, "w") as f:
            f.write('#!/bin/sh\necho "deps: installing" >&2\ntouch "%s"\n' % self.marker)
        os.chmod(self.deps, 0o755)
        self.build = os.path.join(self.tmp, "build")
        self.env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PGHOST", "PGPORT", "PGUSER",
                  "PGPASSWORD", "PGDATABASE", "ESHOST"):
            self.env.pop(k, None)

    def make(self, *args, env=None, timeout=1200):
        return subprocess.run(["make", "-C", ROOT, "BUILD=" + self.build,
                               "INSTALL_DEPS=" + self.deps] + list(args),
                              env=env or self.env, capture_output=True, text=True,
                              timeout=timeout)

    def test_wrapper_withholds_the_packages(self):
        """Without deps the build fails as on a machine without -dev packages:
        the stand-in is honest."""
        r = self.make("-j2", "all")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("libpq-fe.h: No such file or directory", r.stderr)
        self.assertFalse(os.path.exists(self.marker))

    def test_demo_first_run(self):
        """make demo from scratch: deps, then the build, then the demo; and
        make demo-stop says what it stopped."""
        parent = tempdir(self, "gen3db-makefile-demo-")
        os.chmod(parent, 0o755)  # the server runs as an unprivileged user
        env = dict(self.env, GEN3DB_DEMO_DIR=os.path.join(parent, "demo"),
                   GEN3DB_BIN=os.path.join(self.build, "gen3db"))
        try:
            r = self.make("-j2", "demo", env=env)
            self.assertEqual(r.returncode, 0, (r.stdout + r.stderr)[-3000:])
            self.assertIn("deps: installing", r.stderr)
            self.assertTrue(os.access(os.path.join(self.build, "gen3db"), os.X_OK))
            self.assertIn("gen3db demo is running:", r.stdout)
        finally:
            s = self.make("demo-stop", env=env)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertRegex(s.stdout, r"demo: stopped PostgreSQL \(port \d+\) and the test search "
                         r"server \(port \d+\), removed .*/demo\n")
        self.assertFalse(os.path.exists(env["GEN3DB_DEMO_DIR"]))
        s = self.make("demo-stop", env=env)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertIn("demo: nothing was running (no %s)" % env["GEN3DB_DEMO_DIR"], s.stdout)

    def test_targets_after_deps_build_in_a_new_make(self):
        """check, demo and bench (and any target needing deps) have deps as
        their only prerequisite and build through $(MAKE), after deps ran."""
        r = subprocess.run(["make", "-C", ROOT, "-pRrq", "-f", "Makefile", "--no-print-directory",
                            "deps"], capture_output=True, text=True, env=self.env)
        rules = {}
        target = None
        for line in r.stdout.splitlines():
            m = re.match(r"^([a-z][\w-]*):(?!=)\s*(.*)$", line)
            if m:
                target = m.group(1)
                rules[target] = {"prereqs": m.group(2).split(), "recipe": []}
            elif line.startswith("\t") and target:
                rules[target]["recipe"].append(line.strip())
            elif not line.strip():
                target = None
        after_deps = sorted(t for t, v in rules.items() if "deps" in v["prereqs"])
        for t in ("bench", "check", "demo"):
            self.assertIn(t, after_deps)
        for t in after_deps:
            self.assertEqual(rules[t]["prereqs"], ["deps"], "make %s builds before deps ran" % t)
            self.assertTrue(any("$(MAKE)" in l for l in rules[t]["recipe"]), t)


class RunUnitTest(unittest.TestCase):
    def test_names_each_binary_and_ends_with_totals(self):
        tmp = tempdir(self, "gen3db-rununit-")
        good, bad = os.path.join(tmp, "test_good"), os.path.join(tmp, "test_bad")
        with open(good, "w") as f:
            f.write('#!/bin/sh\necho "[  PASSED  ] 3 test(s)." >&2\n')
        with open(bad, "w") as f:
            f.write('#!/bin/sh\necho "[  PASSED  ] 1 test(s)."\n'
                    'echo "[  FAILED  ] 2 test(s), listed below:"\nexit 2\n')
        os.chmod(good, 0o755)
        os.chmod(bad, 0o755)
        script = os.path.join(ROOT, "scripts", "run-unit")
        r = subprocess.run([script, good], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("== test_good\n"), r.stdout)
        self.assertTrue(r.stdout.endswith("\nunit: 3 passed, 0 failed\n"), r.stdout)
        r = subprocess.run([script, good, bad, "/bin/false"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("== test_bad\n", r.stdout)
        self.assertIn("== false\n", r.stdout)
        self.assertTrue(r.stdout.endswith("\nunit: 4 passed, 3 failed\n"), r.stdout)
        self.assertIn("unit test failed: %s (exit 2)" % bad, r.stderr)


if __name__ == "__main__":
    unittest.main()
