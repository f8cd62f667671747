"""Every option a command's --help lists lands in its own field, and only there.

GEN3DB_PRINT_OPTIONS=1 makes a command print what it parsed as one JSON
object ({"command", "options", "args"}) and exit 0, right after parsing and
before any file, network or server access (docs/DECISIONS.md, "Options").
For every command `gen3db --help` lists, every option its --help lists (long
and short forms) is fed a distinctive value; the printed options must differ
from the command's defaults in exactly the expected field, with the expected
value. That catches two options sharing an id (one landing in the other's
field, or crashing on a missing argument) and an option nobody handles.

OPTIONS is the expectation table, one row per option:
    (commands, option, argument, field, value)
  commands  the commands whose --help lists it, space-separated
  option    the long form; a short form on the same help line ("-o, --output")
            is fed the same way and must land the same way
  argument  what to feed it (None for a flag)
  field     the field of "options" it must change, and value what it must
            become there
A command's --help listing an option that has no row here fails the test, so
a new option cannot go untested: add one line. A row naming a command whose
--help does not list the option fails too.
"""
import json
import os
import re
import unittest

from g3test import run

MASTER = "postgresql://opt-user@opt-host:5439/optdb"
COMMON = "create restore dump inspect verify fetch ls restore-es dump-es"
REMOTE = "restore fetch ls"
ES = "restore dump restore-es dump-es"
BULK = "restore restore-es"

OPTIONS = [
    # every command (opts.h)
    (COMMON, "--log-format", "json", "log_format", "json"),
    (COMMON, "--quiet", None, "quiet", True),
    (COMMON, "--verbose", None, "verbose", True),
    # remote data (remoteopts.h)
    (REMOTE, "--s3-endpoint", "http://opt-s3:9123", "s3_endpoint", "http://opt-s3:9123"),
    (REMOTE, "--region", "opt-region-1", "s3_region", "opt-region-1"),
    (REMOTE, "--no-sign-request", None, "no_sign_request", True),
    (REMOTE, "--ca-file", "/opt/ca-file.pem", "ca_file", "/opt/ca-file.pem"),
    (REMOTE, "--retries", "11", "retries", 11),
    (REMOTE, "--s3-part-size", "6", "s3_part_size", 6 << 20),
    # Elasticsearch connection (es.h) and bulk loader (esbulk.h)
    (ES, "--es", "http://opt-es:9299", "es", "http://opt-es:9299"),
    (ES, "--es-cacert", "/opt/es-ca.pem", "es_cacert", "/opt/es-ca.pem"),
    (BULK, "--es-jobs", "7", "es_jobs", 7),
    (BULK, "--bulk-size", "3MB", "bulk_size", 3 << 20),
    (BULK, "--es-retries", "13", "es_retries", 13),
    (BULK, "--es-retry-time", "90", "es_retry_time", 90),
    (BULK, "--es-gzip", None, "es_gzip", True),
    # options of several commands
    ("create restore dump", "--master", MASTER, "master", MASTER),
    ("create restore dump restore-es dump-es", "--wait", "123", "wait", 123),
    ("create restore ls", "--service", "opt-svc", "services", ["opt-svc"]),
    ("restore dump ls restore-es dump-es", "--index", "opt-index", "indices", ["opt-index"]),
    ("create restore", "--release", "optrel", "release", "optrel"),
    ("create restore", "--secret-out", "/opt/secrets.yaml", "secret_out", "/opt/secrets.yaml"),
    ("create restore", "--patch-secret", None, "patch_secret", True),
    ("create restore", "--secret-name", "opt-secret", "secret_name", "opt-secret"),
    ("create restore", "--database", "opt_db", "database", "opt_db"),
    ("dump", "--database", "opt_db", "databases", ["opt_db"]),
    ("restore dump inspect verify restore-es", "--json", None, "json", True),
    ("restore restore-es", "--clean", None, "on_existing", "replace"),
    ("restore restore-es", "--on-existing", "skip", "on_existing", "skip"),
    ("restore restore-es", "--keep-versions", "3", "keep_versions", 3),
    ("restore restore-es", "--no-alias", None, "no_alias", True),
    ("restore dump", "--jobs", "5", "jobs", 5),
    ("restore", "--maintenance-work-mem", "96MB", "maintenance_work_mem", 96 << 20),
    ("dump dump-es fetch", "--output", "/opt/out.tar.zst", "output", "/opt/out.tar.zst"),
    # create
    ("create", "--username", "opt_user", "username", "opt_user"),
    ("create", "--password-file", "/opt/pw", "password_file", "/opt/pw"),
    ("create", "--config", "/opt/create.json", "config", "/opt/create.json"),
    ("create", "--extension", "opt_ext", "extensions", ["opt_ext"]),
    ("create", "--require-extension", None, "require_extension", True),
    ("create", "--reset-password", None, "reset_password", True),
    ("create", "--dry-run", None, "dry_run", True),
    ("create", "--host-for-secret", "opt-host.example", "host_for_secret", "opt-host.example"),
    # restore
    ("restore", "--shard", "2/9", "shard", "2/9"),
    ("restore", "--shards", "9", "shards", 9),
    ("restore", "--parallel-services", "3", "parallel_services", 3),
    ("restore", "--credentials-dir", "/opt/creds", "credentials_dir", "/opt/creds"),
    ("restore", "--map", "old=new", "maps", ["old=new"]),
    ("restore", "--no-create", None, "no_create", True),
    ("restore", "--sql-script", None, "sql_script", True),
    ("restore", "--no-analyze", None, "no_analyze", True),
    ("restore", "--trace", "/opt/trace.jsonl", "trace", "/opt/trace.jsonl"),
    ("restore", "--no-es", None, "no_es", True),
    ("restore dump", "--table", "app.*", "tables", ["app.*"]),
    ("restore dump", "--exclude-table", '"Audit".log', "exclude_tables", ['"Audit".log']),
    ("restore dump", "--exclude-table-data", "big*", "exclude_table_data", ["big*"]),
    # dump
    ("dump", "--level", "17", "level", 17),
    ("dump", "--compress-threads", "6", "compress_threads", 6),
    ("dump", "--chunk-size", "5M", "chunk_size", 5 << 20),
    # dump-es
    ("dump-es", "--page-size", "250", "page_size", 250),
    # ls
    ("ls", "--long", None, "long", True),
    ("ls", "--gen3-layout", None, "gen3_layout", True),
]

# An option line of a --help text: "  -o, --output FILE  ..." or "      --quiet  ..."
HELP_LINE = re.compile(r"^(?:  (-[A-Za-z]), |      )(--[a-z0-9][a-z0-9-]*)(?: (\S+))?(?:\s{2,}|$)")


def env_print():
    e = dict(os.environ)
    e["GEN3DB_PRINT_OPTIONS"] = "1"
    return e


def commands():
    r = run(["--help"])
    assert r.code == 0, repr(r)
    return [c for c in re.findall(r"(?m)^  ([a-z][a-z-]*)\s", r.out) if c != "help"]


def listed_options(cmd):
    """{long option: (short option or None, metavar or None)} of cmd's --help."""
    r = run([cmd, "--help"])
    assert r.code == 0, "%s --help: %r" % (cmd, r)
    found = {}
    for line in r.out.splitlines():
        m = HELP_LINE.match(line)
        if m:
            found[m.group(2)] = (m.group(1), m.group(3))
    return found


def table():
    """{(command, option): (argument, field, value)}; duplicate rows are an error."""
    rows = {}
    for cmds, opt, arg, field, value in OPTIONS:
        for cmd in cmds.split():
            assert (cmd, opt) not in rows, "two rows for %s %s" % (cmd, opt)
            rows[(cmd, opt)] = (arg, field, value)
    return rows


def printed(args):
    """The options object a command prints for args (exit 0 required)."""
    r = run(args, env=env_print())
    if r.code != 0:
        raise AssertionError("gen3db %s: %r" % (" ".join(args), r))
    got = json.loads(r.out)
    if got.get("command") != args[0]:
        raise AssertionError("gen3db %s printed command %r" % (" ".join(args), got.get("command")))
    return got["options"]


def changed(before, after):
    return sorted(k for k in set(before) | set(after) if before.get(k, "<absent>") != after.get(k, "<absent>"))


class OptionsTest(unittest.TestCase):
    maxDiff = None

    def test_table_matches_every_help(self):
        rows = table()
        cmds = commands()
        self.assertIn("restore", cmds)
        problems = []
        for cmd, opt in sorted(rows):
            if cmd not in cmds:
                problems.append("%s: in the table but not a command of 'gen3db --help'" % cmd)
        for cmd in cmds:
            listed = listed_options(cmd)
            self.assertIn("--log-format", listed, cmd)
            for opt, (short, metavar) in sorted(listed.items()):
                if (cmd, opt) not in rows:
                    problems.append("%s %s: listed by --help but has no row in OPTIONS" % (cmd, opt))
                    continue
                arg = rows[(cmd, opt)][0]
                if (arg is None) != (metavar is None):
                    problems.append("%s %s: --help shows %s but the row feeds %r" %
                                    (cmd, opt, metavar or "no argument", arg))
            for (c, opt) in sorted(rows):
                if c == cmd and opt not in listed:
                    problems.append("%s %s: has a row in OPTIONS but --help does not list it" % (cmd, opt))
        self.assertEqual(problems, [])

    def test_every_listed_option_lands_in_its_field_only(self):
        rows = table()
        problems = []
        fed = 0
        for cmd in commands():
            defaults = printed([cmd])
            for opt, (short, _) in sorted(listed_options(cmd).items()):
                if (cmd, opt) not in rows:
                    continue  # reported by test_table_matches_every_help
                arg, field, value = rows[(cmd, opt)]
                self.assertIn(field, defaults, "%s prints no field %r" % (cmd, field))
                self.assertNotEqual(defaults[field], value,
                                    "%s %s: the value must differ from the default" % (cmd, opt))
                for form in [opt] + ([short] if short else []):
                    args = [cmd, form] + ([arg] if arg is not None else [])
                    fed += 1
                    r = run(args, env=env_print())
                    if r.code != 0:
                        problems.append("gen3db %s: exit %d: %s" %
                                        (" ".join(args), r.code, " ".join(r.err.split())))
                        continue
                    got = json.loads(r.out)["options"]
                    diff = changed(defaults, got)
                    if diff != [field] or got[field] != value:
                        problems.append("gen3db %s: expected only %s = %r, changed %s" %
                                        (" ".join(args), field, value,
                                         ", ".join("%s = %r" % (k, got.get(k)) for k in diff) or
                                         "nothing"))
        self.assertGreater(fed, 100)
        self.assertEqual(problems, [])

    def test_es_jobs_is_not_the_s3_endpoint(self):
        before = printed(["restore"])
        got = printed(["restore", "--es-jobs", "8"])
        self.assertEqual(changed(before, got), ["es_jobs"])
        self.assertEqual(got["es_jobs"], 8)
        # and a real run gets past the options to the source
        r = run(["restore", "--es-jobs", "8", "/nonexistent/opt-dump.sql"])
        self.assertNotIn("--s3-endpoint", r.err)
        self.assertIn("/nonexistent/opt-dump.sql", r.err)

    def test_es_gzip_sets_gzip_and_does_not_crash(self):
        before = printed(["restore"])
        r = run(["restore", "--es-gzip"], env=env_print())
        self.assertEqual(r.code, 0, repr(r))
        got = json.loads(r.out)["options"]
        self.assertEqual(changed(before, got), ["es_gzip"])
        self.assertIs(got["es_gzip"], True)
        env = dict(os.environ)
        for k in ("BUCKET", "ENVIRONMENT", "VERSION"):
            env.pop(k, None)
        r = run(["restore", "--es-gzip"], env=env)
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn("gen3db: no source", r.err)

    def test_bulk_size_and_es_retries_leave_s3_alone(self):
        for cmd in ("restore", "restore-es"):
            before = printed([cmd])
            got = printed([cmd, "--bulk-size", "2MB", "--es-retries", "3"])
            self.assertEqual(changed(before, got), ["bulk_size", "es_retries"], cmd)
            self.assertEqual((got["bulk_size"], got["es_retries"]), (2 << 20, 3))
            if cmd == "restore":
                self.assertIsNone(got["s3_region"])
                self.assertIs(got["no_sign_request"], False)

    def test_passwords_are_masked(self):
        # (given on the command line only to check they are not printed: the
        # suite's run() refuses registered secrets in argv)
        pw = ("opt-Pw-one", "opt-Pw-two", "opt-Pw-three")
        r = run(["restore", "--master", "postgresql://u:%s@h/db?password=%s" % pw[:2],
                 "--es", "http://elastic:%s@h:9200" % pw[2]], env=env_print())
        self.assertEqual(r.code, 0, repr(r))
        got = json.loads(r.out)["options"]
        self.assertEqual(got["master"], "postgresql://u:****@h/db?password=****")
        self.assertEqual(got["es"], "http://elastic:****@h:9200")
        r2 = run(["create", "--master", "host=h password='%s x' user=u" % pw[0]], env=env_print())
        self.assertEqual(json.loads(r2.out)["options"]["master"], "host=h password=**** user=u")
        for p in pw:
            self.assertNotIn(p, r.out + r.err + r2.out + r2.err)

    def test_printed_before_any_io(self):
        # a config file that does not exist is never opened, no server is asked
        r = run(["create", "--config", "/nonexistent/opt.json"], env=env_print())
        self.assertEqual(r.code, 0, repr(r))
        self.assertEqual(r.err, "")
        r = run(["fetch", "http://127.0.0.1:9/opt", "-o", "/nonexistent/dir/out"], env=env_print())
        self.assertEqual(r.code, 0, repr(r))
        got = json.loads(r.out)
        self.assertEqual(got["args"], ["http://127.0.0.1:9/opt"])
        self.assertEqual(got["options"]["output"], "/nonexistent/dir/out")

    def test_bad_value_is_still_a_usage_error(self):
        r = run(["restore", "--es-jobs", "0"], env=env_print())
        self.assertEqual(r.code, 2, repr(r))
        self.assertIn("--es-jobs must be a whole number from 1 to 64, not \"0\"", r.err)
        self.assertEqual(r.out, "")


if __name__ == "__main__":
    unittest.main()
