"""The example chart in deploy/helm: its files parse as YAML once the
template actions are taken out, it passes the environment gen3-helm's jobs
pass, and the options its Jobs give gen3db exist in the built binary."""
import os
import re
import unittest

import yaml

from g3test import ROOT, run

CHART = os.path.join(ROOT, "deploy", "helm")
HELM_ENV = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "SERVICE_PGDB", "SERVICE_PGUSER",
            "SERVICE_PGPASS", "ESHOST", "GUPPY_INDICES", "GUPPY_CONFIGINDEX", "BUCKET",
            "ENVIRONMENT", "VERSION", "AWS_SHARED_CREDENTIALS_FILE"]


def strip_actions(text):
    """Drops lines that are only template actions; inline ones become X."""
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.S)
    out = []
    for line in text.splitlines():
        if re.fullmatch(r"\s*(\{\{-?.*?-?\}\}\s*)+", line):
            continue
        out.append(re.sub(r"\{\{-?.*?-?\}\}", "X", line))
    return "\n".join(out)


def read(*parts):
    with open(os.path.join(CHART, *parts)) as f:
        return f.read()


def templates():
    d = os.path.join(CHART, "templates")
    return sorted(f for f in os.listdir(d) if f.endswith(".yaml"))


class HelmChartTest(unittest.TestCase):
    def test_files_parse(self):
        self.assertEqual(yaml.safe_load(read("Chart.yaml"))["name"], "gen3db")
        values = yaml.safe_load(read("values.yaml"))
        self.assertIn("fence", values["services"])
        self.assertEqual(templates(), ["gen3db-dbcreate-job.yaml", "gen3db-restore-job.yaml",
                                       "serviceaccount.yaml"])
        kinds = []
        for name in templates():
            docs = [d for d in yaml.safe_load_all(strip_actions(read("templates", name))) if d]
            self.assertTrue(docs, name)
            kinds += [d["kind"] for d in docs]
        self.assertEqual(sorted(kinds), ["Job", "Job", "Job", "Job", "Role", "RoleBinding",
                                         "ServiceAccount"])

    def test_helm_environment_is_passed(self):
        text = read("templates", "_helpers.tpl") + "".join(
            read("templates", t) for t in templates())
        for var in HELM_ENV:
            self.assertRegex(text, r"- name: %s\n" % var, var)
        self.assertIn("mountPath: /home/gen3db/.aws/credentials", text)
        restore = read("templates", "gen3db-restore-job.yaml")
        self.assertIn("completionMode: Indexed", restore)
        self.assertIn("$(JOB_COMPLETION_INDEX)/", restore)
        rbac = yaml.safe_load_all(strip_actions(read("templates", "serviceaccount.yaml")))
        role = [d for d in rbac if d["kind"] == "Role"][0]
        self.assertEqual(role["rules"][0]["resources"], ["secrets"])
        self.assertEqual(role["rules"][0]["verbs"], ["get", "patch"])

    def options(self, template, command):
        job = [d for d in yaml.safe_load_all(strip_actions(read("templates", template)))
               if d and d["kind"] == "Job"]
        args = []
        for d in job:
            c = d["spec"]["template"]["spec"]["containers"][0]
            if c["args"][0] == command:
                args += [a for a in c["args"] if isinstance(a, str) and a.startswith("--")]
        return sorted(set(args))

    def test_dbcreate_options_exist(self):
        opts = self.options("gen3db-dbcreate-job.yaml", "create")
        self.assertIn("--patch-secret", opts)
        r = run(["create", "--help"])
        self.assertEqual(r.code, 0)
        for o in opts:
            self.assertRegex(r.out, r"\s%s\b" % re.escape(o), o)

    def test_restore_options_exist(self):
        r = run(["restore", "--help"])
        self.assertEqual(r.code, 0, r)
        for o in self.options("gen3db-restore-job.yaml", "restore"):
            self.assertRegex(r.out, r"\s%s\b" % re.escape(o), o)

    def test_restore_jobs_skip_what_is_in_place(self):
        """Every restore Job's pod may rerun (as gen3-helm's job, which
        skips a database that exists): each passes --on-existing skip."""
        jobs = [d for d in yaml.safe_load_all(strip_actions(read("templates",
                                                                 "gen3db-restore-job.yaml")))
                if d and d["kind"] == "Job"]
        restores = [d["spec"]["template"]["spec"]["containers"][0]["args"] for d in jobs]
        restores = [a for a in restores if a[0] in ("restore", "restore-es")]
        self.assertGreaterEqual(len(restores), 3)
        self.assertIn("restore-es", [a[0] for a in restores])
        for args in restores:
            i = args.index("--on-existing")
            self.assertEqual(args[i + 1], "skip", args)


if __name__ == "__main__":
    unittest.main()
