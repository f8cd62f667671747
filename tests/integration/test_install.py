"""make install puts the binary and the manual page where they belong, the
manual page renders without warnings, and it documents every option of
every command the binary has."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from g3test import ROOT, run

MAN = os.path.join(ROOT, "docs", "gen3db.1")
KNOWN_MACROS = {"TH", "SH", "SS", "TP", "PP", "P", "LP", "IP", "B", "I", "BR", "BI", "IB",
                "IR", "RI", "RB", "SY", "YS", "EX", "EE", "in", "br", "sp", "nf", "fi",
                "RS", "RE", "UR", "UE", "\\\"", "HP"}


def roff_sanity(text):
    """Problems a man page formatter would stumble on, for machines without one."""
    problems = []
    lines = text.splitlines()
    if not any(l.startswith(".TH ") for l in lines[:5]):
        problems.append("no .TH near the top")
    if ".SH NAME" not in lines:
        problems.append("no NAME section")
    depth = {"SY": 0, "EX": 0}
    for n, line in enumerate(lines, 1):
        if line.startswith(".") or line.startswith("'"):
            m = re.match(r"[.'](\S+)", line)
            macro = m.group(1) if m else ""
            if macro not in KNOWN_MACROS:
                problems.append("line %d: unknown request %r" % (n, macro))
            for open_, close in (("SY", "YS"), ("EX", "EE")):
                depth[open_] += (macro == open_) - (macro == close)
                if depth[open_] < 0:
                    problems.append("line %d: .%s without .%s" % (n, close, open_))
        elif line.startswith(" ") and not depth["EX"]:
            problems.append("line %d: starts with a space" % n)
        if re.search(r"(?<!\\)\\(?![-e&\\\"fcs(*|^ ])", line):
            problems.append("line %d: unknown escape" % n)
    for open_, d in depth.items():
        if d:
            problems.append(".%s not closed" % open_)
    return problems


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gen3db-install-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_make_install(self):
        prefix = os.path.join(self.tmp, "prefix")
        r = subprocess.run(["make", "-C", ROOT, "install", "PREFIX=" + prefix, "DESTDIR="],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        binary = os.path.join(prefix, "bin", "gen3db")
        page = os.path.join(prefix, "share", "man", "man1", "gen3db.1")
        self.assertTrue(os.access(binary, os.X_OK))
        self.assertEqual(os.stat(page).st_mode & 0o777, 0o644)
        with open(page) as a, open(MAN) as b:
            self.assertEqual(a.read(), b.read())
        r = run(["--version"], binary=binary)
        self.assertEqual(r.code, 0)
        self.assertTrue(r.out.startswith("gen3db "))
        # DESTDIR stages the same tree under another root
        dest = os.path.join(self.tmp, "stage")
        r = subprocess.run(["make", "-C", ROOT, "install", "PREFIX=/usr/local", "DESTDIR=" + dest],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(dest, "usr/local/share/man/man1/gen3db.1")))
        self.render(page)

    def render(self, page):
        """Renders with man, else groff, else checks the roff by hand."""
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
        if shutil.which("man"):
            r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                               env=env)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            text = r.stdout
        elif shutil.which("groff"):
            r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", page], capture_output=True,
                               text=True, env=env)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            text = r.stdout
        else:
            with open(page) as f:
                self.assertEqual(roff_sanity(f.read()), [])
            return
        text = re.sub(r".\x08", "", text)
        for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "ENVIRONMENT", "EXIT STATUS",
                        "EXAMPLES"):
            self.assertRegex(text, r"(?m)^%s$" % heading)
        self.assertIn("gen3db create", text)

    def test_roff_sanity(self):
        with open(MAN) as f:
            self.assertEqual(roff_sanity(f.read()), [])
        self.assertNotEqual(roff_sanity(".TH X 1\n.SH NAME\n.XX bad\n \\q\n.EX\n"), [])

    def test_every_option_is_documented(self):
        with open(MAN) as f:
            page = f.read().replace("\\-", "-")
        r = run(["--help"])
        commands = re.findall(r"(?m)^  ([a-z][a-z-]*)\s", r.out)
        self.assertIn("create", commands)
        missing = []
        for cmd in commands:
            if cmd == "help":
                continue
            h = run([cmd, "--help"])
            self.assertEqual(h.code, 0, cmd)
            if not re.search(r"\bgen3db\s+%s\b" % re.escape(cmd), page) and \
                    not re.search(r"(?m)^\.B %s$" % re.escape(cmd), page):
                missing.append(cmd)
            for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", h.out))):
                if opt not in page:
                    missing.append("%s %s" % (cmd, opt))
        self.assertEqual(missing, [], "document these in docs/gen3db.1")


if __name__ == "__main__":
    unittest.main()
