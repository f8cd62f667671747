"""What can be checked of the Dockerfile without a container engine.

- Every shared library build/gen3db links directly (ELF NEEDED) belongs to
  a package that the runtime stage installs by name, or to the base image
  (Essential or Priority: required packages and what they depend on).
- Every library the binary loads at all (ldd, transitive ones included)
  belongs to a package the runtime list or the base image pulls in through
  Depends/Pre-Depends.
- Every pkg-config module the Makefile builds with has its -dev package in
  the build stage.
- The runtime stage has no compilers or -dev packages, has pg_dump's
  package, and does not run as root.

A library newly linked without its package in the runtime list fails here.
Package ownership comes from this machine's dpkg database: it runs Debian 12
(bookworm), the image's base.
"""
import os
import re
import shutil
import subprocess
import unittest

from g3test import ROOT

DOCKERFILE = os.path.join(ROOT, "Dockerfile")
# the binary as the image builds it (plain `make`), whichever build
# GEN3DB_BIN names: a sanitizer build links its runtimes as well
BIN = os.path.join(ROOT, "build", "gen3db")


def stages(text):
    """{stage name: [instructions]} with continuation lines joined."""
    text = re.sub(r"\\\n", " ", text)
    out, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            cur = m.group(2) or "stage%d" % len(out)
            out[cur] = [line]
        elif cur:
            out[cur].append(line)
    return out


def installed_packages(instructions):
    pkgs = []
    for ins in instructions:
        if not ins.upper().startswith("RUN"):
            continue
        for cmd in re.split(r"&&|;", ins[3:]):
            words = cmd.split()
            if words[:2] == ["apt-get", "install"]:
                pkgs += [w for w in words[2:] if not w.startswith("-")]
    return pkgs


def dpkg_owner(path):
    """The package owning a file, trying the /usr-merged variants."""
    cands = [path, os.path.realpath(path)]
    for p in list(cands):
        if p.startswith("/usr/lib/"):
            cands.append(p[4:])
        elif p.startswith("/lib/"):
            cands.append("/usr" + p)
    for p in cands:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    return None


def closure(pkgs):
    """pkgs and everything they (pre-)depend on, recursively."""
    if not pkgs:
        return set()
    r = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                        "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                        "--no-enhances"] + sorted(pkgs), capture_output=True, text=True,
                       check=True)
    out = set(pkgs)
    for line in r.stdout.splitlines():
        line = line.strip().lstrip("|")
        if not line:
            continue
        if ":" in line:
            kind, name = line.split(":", 1)
            if kind.strip() in ("Depends", "PreDepends"):
                out.add(name.strip().strip("<>").split(":")[0])
        else:
            out.add(line.strip("<>").split(":")[0])
    return out


def base_image():
    """Packages of a minbase bookworm image: Essential or Priority required."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Essential} ${Priority}\n"],
                       capture_output=True, text=True, check=True)
    base = set()
    for line in r.stdout.splitlines():
        name, essential, priority = (line.split() + ["", ""])[:3]
        if essential == "yes" or priority == "required":
            base.add(name)
    return closure(base)


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg", "dpkg-query", "apt-cache", "ldd", "readelf"):
            if not shutil.which(tool):
                raise AssertionError("%s is needed to check the Dockerfile" % tool)
        if not os.path.exists(BIN):
            raise AssertionError("%s is not built: run make first" % BIN)
        with open(DOCKERFILE) as f:
            cls.stages = stages(f.read())
        cls.build = installed_packages(cls.stages.get("build", []))
        cls.runtime = installed_packages(cls.stages.get("runtime", []))
        cls.base = base_image()

    def test_stages(self):
        self.assertEqual(list(self.stages), ["build", "runtime"])
        for name, ins in self.stages.items():
            self.assertRegex(ins[0], r"^FROM debian:bookworm(-slim)?(@sha256:\w+)?\b", name)
        self.assertIn("build-essential", self.build)
        self.assertTrue(any(i.startswith("COPY --from=build ") for i in self.stages["runtime"]))

    def test_runtime_stage_is_lean_and_not_root(self):
        self.assertIn("postgresql-client", self.runtime)   # pg_dump for gen3db dump
        self.assertIn("ca-certificates", self.runtime)
        for p in self.runtime:
            self.assertFalse(p.endswith("-dev") or p in ("build-essential", "gcc", "make",
                                                         "pkg-config"), p)
        users = [i.split()[1] for i in self.stages["runtime"] if i.upper().startswith("USER ")]
        self.assertTrue(users, "the runtime stage sets no USER")
        self.assertNotIn(users[-1].split(":")[0], ("root", "0"))
        run = " ".join(self.stages["runtime"])
        self.assertIn("apt-get update", run)
        self.assertIn("--no-install-recommends", run)
        self.assertIn("rm -rf /var/lib/apt/lists/*", run)

    def test_directly_linked_libraries_are_installed_by_name(self):
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                            subprocess.run(["readelf", "-d", BIN], capture_output=True,
                                           text=True, check=True).stdout)
        self.assertIn("libpq.so.5", needed)
        paths = self.ldd()
        missing = []
        for lib in needed:
            self.assertIn(lib, paths, "ldd did not resolve %s" % lib)
            owner = dpkg_owner(paths[lib])
            self.assertIsNotNone(owner, "no package owns %s" % paths[lib])
            if owner not in self.runtime and owner not in self.base:
                missing.append("%s (%s)" % (owner, lib))
        self.assertEqual(missing, [], "add these packages to the Dockerfile's runtime stage")

    def test_every_loaded_library_is_pulled_in(self):
        have = closure(set(self.runtime)) | self.base
        missing = []
        for lib, path in self.ldd().items():
            owner = dpkg_owner(path)
            self.assertIsNotNone(owner, "no package owns %s" % path)
            if owner not in have:
                missing.append("%s (%s)" % (owner, lib))
        self.assertEqual(missing, [], "the runtime stage does not pull these in")

    def test_build_stage_has_every_dev_package(self):
        with open(os.path.join(ROOT, "Makefile")) as f:
            m = re.search(r"^PKGS\s*:?=\s*(.+)$", f.read(), re.M)
        modules = m.group(1).split()
        self.assertIn("libpq", modules)
        missing = []
        for mod in modules:
            pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", mod],
                                   capture_output=True, text=True, check=True).stdout.strip()
            owner = dpkg_owner(os.path.join(pcdir, mod + ".pc"))
            self.assertIsNotNone(owner, "no package owns %s.pc" % mod)
            if owner not in self.build:
                missing.append("%s (%s)" % (owner, mod))
        self.assertEqual(missing, [], "add these packages to the Dockerfile's build stage")

    def ldd(self):
        out = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
        libs = {}
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line)
            if m:
                libs[m.group(1)] = m.group(2)
            elif "not found" in line:
                raise AssertionError("unresolved library: " + line.strip())
        return libs


if __name__ == "__main__":
    unittest.main()
