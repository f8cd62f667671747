/*
 * gen3db restore: options in, the kind of source chosen once, the kind's
 * run, its result mapped to the exit code.
 *
 * The kinds (kinds.h), each a file over the load core (load.h): a whole
 * environment (restore_env.c), an elasticdump directory
 * (restore_esdir.c), and a stream (restore_single.c) whose bytes tell a
 * snapshot (restore_snapshot.c) from a plain dump or a pg_dump archive
 * (restore_plain.c). This file includes the kinds; none of them includes
 * it.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands.h"
#include "../common/base/interrupt.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "../common/es/es.h"
#include "../common/es/esbulk.h"
#include "../common/gen3/k8s.h"
#include "../common/gen3/shard.h"
#include "../common/io/remoteopts.h"
#include "kinds.h"
#include "restore_filter.h"

#define MAX_JOBS 32

static g3_rc check_map(const struct restore_opts *o, const char *map, g3_err *err);

static g3_rc set_index(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	struct restore_opts *o = base;

	(void)row;
	if (g3_es_name_check(arg, "--index", err))
		return G3_USAGE;
	g3_strlist_add(&o->indices, &o->n_indices, arg);
	return G3_OK;
}

static g3_rc set_map(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	struct restore_opts *o = base;
	g3_rc rc;

	(void)row;
	if (!strchr(arg, '=') || arg[0] == '=' || !strchr(arg, '=')[1])
		return g3_err_set(err, G3_USAGE, "--map must be OLD=NEW, not \"%s\"", arg);
	if ((rc = check_map(o, arg, err)))
		return rc;
	g3_strlist_add(&o->maps, &o->n_maps, arg);
	return G3_OK;
}

static g3_rc set_filter(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	size_t list = (row->off - offsetof(struct restore_opts, patterns)) / sizeof(char **);

	return filter_add(base, (enum g3_tablefilter_list)list, arg, err);
}

/* --clean is --on-existing replace: one on_existing to print and use */
static g3_rc restore_after(void *opts, g3_err *err)
{
	struct restore_opts *o = opts;
	g3_rc rc;

	if ((rc = g3_on_existing_resolve(&o->clean, o->on_existing_given, &o->on_existing, err)))
		return rc;
	o->es.skip_existing = o->on_existing == G3_ON_EXISTING_SKIP;
	return G3_OK;
}

#define RO struct restore_opts
#define FILTER_ROW(name, l, key, help) \
	G3_ROW_SET(name, 0, G3_OPT_LIST, set_filter, RO, patterns[l], n_patterns[l], key, \
		   "PATTERN", help)

static const g3_opt restore_rows[] = {
	G3_ROW_LIST("service", 0, RO, services, n_services, "services", "NAME",
		    "only this service (repeatable; then no index\n"
		    "unless --index is given too)"),
	G3_ROW_SET("index", 0, G3_OPT_LIST, set_index, RO, indices, n_indices, "indices", "NAME",
		   "only this index (repeatable; default\n"
		   "GUPPY_INDICES and GUPPY_CONFIGINDEX, else all)"),
	G3_ROW_STR("shard", 0, RO, shard_arg, "shard", "I/N",
		   "restore only shard I of N: databases and indices\n"
		   "are assigned to shards by size, the same way in\n"
		   "every pod, so N pods restore all of it once"),
	G3_ROW_LONG("shards", 0, RO, shards, 1, 1000, "shards", "N",
		    "the same, with I from JOB_COMPLETION_INDEX"),
	G3_ROW_LONG("parallel-services", 0, RO, parallel, 1, MAX_JOBS, "parallel_services", "K",
		    "services restored at once, sharing --jobs\n"
		    "(default: jobs / 2, at least 1)"),
	G3_ROW_NOTE("\nCredentials and Secrets:\n"),
	G3_ROW_STR("credentials-dir", 0, RO, credentials_dir, "credentials_dir", "DIR",
		   "DIR/<service>/{database,username,password}, as\n"
		   "the helm chart mounts each <service>-dbcreds"),
	G3_ROW_STR("secret-out", 0, RO, secret_out, "secret_out", "FILE|-",
		   "Kubernetes Secrets <service>-dbcreds: a role's\n"
		   "password is read from its Secret in FILE (as\n"
		   "'gen3db create --secret-out' writes them); a\n"
		   "role that does not exist and has no password\n"
		   "is created with a generated one, merged into\n"
		   "FILE once its database is in place ('-': a\n"
		   "whole environment's Secrets to standard output)"),
	G3_ROW_FLAG("patch-secret", 0, RO, patch_secret, "patch_secret",
		    "in a Kubernetes pod, once a database is in place\n"
		    "and its role can log in, add dbcreated to its\n"
		    "Secret <service>-dbcreds"),
	G3_ROW_STR("secret-name", 0, RO, secret_name, "secret_name", "NAME",
		   "the Secret --patch-secret patches when SOURCE is\n"
		   "one dump or a one-database snapshot"),
	G3_ROW_NOTE("\nTargets:\n"),
	G3_ROW_STR("database", 0, RO, database, "database", "NAME",
		   "the database to restore into (a plain file or a\n"
		   "one-database snapshot; else SERVICE_PGDB, else\n"
		   "a snapshot's own database names)"),
	G3_ROW_SET("map", 0, G3_OPT_LIST, set_map, RO, maps, n_maps, "maps", "OLD=NEW",
		   "restore the snapshot's database OLD into NEW\n"
		   "(repeatable)"),
	G3_ROW_STR("release", 0, RO, release, "release", "NAME",
		   "targets <service>_<NAME> (a plain file: its\n"
		   "name without extensions is the service)"),
	G3_ROW_NOTE("  The role is SERVICE_PGUSER (default: named like the database) with the\n"
		    "  password in SERVICE_PGPASS; role and database are provisioned as\n"
		    "  'gen3db create' does, with only the extensions the dump creates. Without\n"
		    "  a password, a master that is a superuser or a member of an existing role\n"
		    "  loads through its own connections as that role (SET ROLE); a role that\n"
		    "  does not exist is created with a generated password when --secret-out\n"
		    "  FILE records it.\n"),
	G3_ROW_FLAG("clean", 0, RO, clean, NULL,
		    "replace a target that already has tables\n"
		    "(its content stays until the new one is complete)"),
	G3_ROW_CHOICE_GIVEN("on-existing", 0, RO, on_existing, on_existing_given,
			    g3_on_existing_names, "on_existing",
			    "a target database with tables, or an index or\n"
			    "alias that exists: refuse it (exit 2, the\n"
			    "default), skip it (left as it is, reported\n"
			    "\"skipped\", --patch-secret still done; a rerun\n"
			    "resumes a whole environment), or replace it\n"
			    "(= --clean)"),
	G3_ROW_FLAG("no-create", 0, RO, no_create, "no_create",
		    "do not create or change the role (it must exist)"),
	G3_ROW_NOTE("\nLoading:\n"),
	G3_ROW_LONG("jobs", 'j', RO, jobs, 1, MAX_JOBS, "jobs", "N",
		    "parallel connections for data and indexes\n"
		    "(default 2)"),
	G3_ROW_SIZE("maintenance-work-mem", 0, RO, build_memory, 0, 1L << 40,
		    "maintenance_work_mem", "SIZE",
		    "a memory budget for index builds, shared by the\n"
		    "--jobs connections: each build gets its table's\n"
		    "size (and a quarter) when that is more than the\n"
		    "server's maintenance_work_mem, at most its share\n"
		    "(default 0: the server's setting for every build)"),
	G3_ROW_FLAG("no-analyze", 0, RO, no_analyze, "no_analyze",
		    "do not ANALYZE the restored tables: the restore\n"
		    "ends sooner and autovacuum gathers the statistics\n"
		    "later (until it has, the planner guesses)"),
	G3_ROW_FLAG("sql-script", 0, RO, sql_script, "sql_script",
		    "accept a plain SQL file that pg_dump did not write\n"
		    "(without pg_dump's header and closing line; such a\n"
		    "file cut short cannot be told from a complete one).\n"
		    "pg_dump's output is always accepted, and one that\n"
		    "lacks its closing line is refused as truncated"),
	G3_ROW_FLAG("json", 0, RO, json, "json", "print a summary object on standard output"),
	G3_ROW_STR("trace", 0, RO, trace_path, "trace", "FILE",
		   "write each PostgreSQL job's start and end on its\n"
		   "connection to FILE, one JSON object a line (COPY,\n"
		   "index, constraint, foreign key, ANALYZE; pre-data\n"
		   "statements, provisioning, the swap into place);\n"
		   "FILE is replaced, a symbolic link refused;\n"
		   "Elasticsearch loads are not traced.\n"
		   "scripts/trace-gantt draws it as a timeline"),
	G3_ROW_NOTE("\nTables (a snapshot or one dump; as pg_dump's -t, -T, --exclude-table-data):\n"),
	FILTER_ROW("table", G3_FILTER_TABLE, "tables",
		   "restore only matching tables, with their indexes,\n"
		   "constraints, triggers and owned sequences\n"
		   "(repeatable)"),
	FILTER_ROW("exclude-table", G3_FILTER_EXCLUDE, "exclude_tables",
		   "leave matching tables out entirely (repeatable)"),
	FILTER_ROW("exclude-table-data", G3_FILTER_EXCLUDE_DATA, "exclude_table_data",
		   "restore matching tables without their rows\n"
		   "(repeatable)"),
	G3_ROW_NOTE("  PATTERN as psql's: * and ? wildcards, unquoted letters fold to lower case,\n"
		    "  \"...\" keeps case and wildcards literally, SCHEMA.TABLE (no schema: public).\n"
		    "  A foreign key to a table left out is not restored (a warning says so); a\n"
		    "  pattern that matches no table is an error (exit 2).\n"
		    "\n"),
	G3_ROWS_MASTER(RO, master_url, wait, "Master connection",
		       "postgresql://user@host:port/db (no password)", "the servers"),
	G3_ROW_NOTE("\nElasticsearch (a snapshot's es/ members, or a whole environment's indices,\n"
		    "--index above; SOURCE a directory or s3:// prefix with no such layout but\n"
		    "elasticdump's files is restored as 'gen3db restore-es' restores it, with\n"
		    "its options):\n"),
	G3_ROW_FLAG("no-es", 0, RO, no_es, "no_es",
		    "restore only the PostgreSQL databases of a snapshot\n"
		    "that holds indices"),
	G3_ROW_FLAG("no-alias", 0, RO, es.no_alias, "no_alias",
		    "restore into the concrete index NAME; by default\n"
		    "a new version NAME_<n> is created and alias NAME\n"
		    "is switched to it once it is complete (--clean\n"
		    "deletes an existing concrete index NAME first)"),
};

static const g3_opt restore_es_rows[] = {
	G3_ES_ROWS(RO, es_url, es_cacert),
};

static const g3_opt restore_gap[] = { G3_ROW_NOTE("\n") };

static const g3_opt restore_tail[] = {
	G3_ROW_NOTE("\nProgress: a status line on a terminal's stderr (off with --quiet, --log-format\n"
		    "json or when stderr is not a terminal); --log-format json logs events for each\n"
		    "database, table and index.\n"),
};

static const g3_opt_section restore_sections[] = {
	G3_SECTION(restore_rows, 0),
	G3_SECTION(restore_es_rows, 0),
	G3_ESRESTORE_SECTIONS(RO, es),
	G3_SECTION(restore_gap, 0),
	G3_SECTION(g3_remote_rows, offsetof(RO, remote)),
	G3_SECTION(restore_tail, 0),
};

const g3_cmd_spec cmd_restore_spec =
	G3_CMD_SPEC("restore", restore_sections, 'h', G3_BAD_HINT, restore_after, offsetof(RO, helm),
	"usage: gen3db restore SOURCE [options]\n"
	"       gen3db restore [s3://BUCKET/ENVIRONMENT/VERSION/ | DIR] --release NAME [options]\n"
	"\n"
	"Restore PostgreSQL databases from a gen3db snapshot (.tar.zst, written by\n"
	"'gen3db dump'), from a plain pg_dump SQL file (.sql, .sql.gz, .sql.zst;\n"
	"the kind and compression are told from the content) or from a pg_dump\n"
	"archive: custom (pg_dump -Fc, any source, compressed or not), directory\n"
	"(-Fd, a local directory) or tar (-Ft, uncompressed), archive format 1.12 to\n"
	"1.16 (pg_dump 9.0 to 17), turned into SQL by pg_restore (GEN3DB_PG_RESTORE,\n"
	"else the newest on PATH or in /usr/lib/postgresql/*/bin; one older than the\n"
	"archive is refused, naming the version needed); SOURCE '-' reads\n"
	"standard input. The data is loaded as the service role, so the restored\n"
	"objects belong to it, into a side database that replaces the target only\n"
	"when everything has loaded and verified: a failed or interrupted restore\n"
	"never leaves a database that looks complete.\n"
	"\n"
	"Whole environment: SOURCE an s3:// prefix ending in '/' or a directory, or no\n"
	"SOURCE with BUCKET, ENVIRONMENT and VERSION set (s3://$BUCKET/$ENVIRONMENT/\n"
	"$VERSION/), holding any of these layouts:\n"
	"  pgdumps/<service>.sql[.gz|.zst]     gen3-helm's dumps\n"
	"  <service>.sql[.gz|.zst]             cloud-automation's backups (top level)\n"
	"  elasticsearch/<index>__mapping.json and __data.json   elasticdump's files\n"
	"Every service dump is restored into <service>_<release> (a file whose name\n"
	"cannot be a service is refused) and every index into Elasticsearch; a failure\n"
	"is reported and the others still run; a table of results ends the run. Other\n"
	"files are ignored (--verbose lists them); finding nothing to restore is an\n"
	"error (exit 2) that lists what is there, and for an s3:// prefix with no\n"
	"object the versions beside it.\n",
	"\n"
	"exit codes: 0 restored, 1 failure (the target is unchanged), 2 usage or\n"
	"bad input (nothing was changed), 3 the server was unreachable within --wait\n");

/* A second --map of the same database, or into the same target, is a
 * mistake, not a choice between them. */
static g3_rc check_map(const struct restore_opts *o, const char *map, g3_err *err)
{
	const char *eq = strchr(map, '=');
	size_t from = (size_t)(eq - map);

	for (size_t i = 0; i < o->n_maps; i++) {
		const char *oeq = strchr(o->maps[i], '=');

		if ((size_t)(oeq - o->maps[i]) == from && !strncmp(o->maps[i], map, from))
			return g3_err_set(err, G3_USAGE, "--map %s and --map %s both map database "
					  "\"%.*s\"", o->maps[i], map, (int)from, map);
		if (!strcmp(oeq + 1, eq + 1))
			return g3_err_set(err, G3_USAGE, "--map %s and --map %s both restore into "
					  "\"%s\"", o->maps[i], map, eq + 1);
	}
	return G3_OK;
}

/* The options: *done when the command ends here (--help,
 * GEN3DB_PRINT_OPTIONS); o->source the argument. */
static g3_rc parse_options(int argc, char **argv, struct restore_opts *o, int *done, g3_err *err)
{
	int args = 0;
	g3_rc rc;

	if ((rc = g3_opts_parse(&cmd_restore_spec, o, argc, argv, &args, done, err)) || *done)
		return rc;
	if (args + 1 < argc)
		return g3_err_set(err, G3_USAGE, "unexpected argument \"%s\"", argv[args + 1]);
	o->source = args < argc ? argv[args] : NULL;
	return G3_OK;
}

/* --shard I/N, --shards N and JOB_COMPLETION_INDEX (the helm environment
 * read); --secret-name. */
static g3_rc check_options(struct restore_opts *o, g3_err *err)
{
	g3_rc rc;

	if (o->shard_arg) {
		long n = 0;

		if ((rc = g3_shard_parse(o->shard_arg, &o->shard, &n, err)))
			return rc;
		if (o->shards && o->shards != n)
			return g3_err_set(err, G3_USAGE, "--shard %s and --shards %ld disagree",
					  o->shard_arg, o->shards);
		o->shards = n;
	} else if (o->shards) {
		if (!o->helm.job_index) {
			rc = g3_err_set(err, G3_USAGE, "--shards %ld without a shard index", o->shards);
			g3_err_hint(err, "give --shard I/N, or run as an Indexed Job "
				    "(JOB_COMPLETION_INDEX)");
			return rc;
		}
		if ((rc = g3_parse_long("JOB_COMPLETION_INDEX", o->helm.job_index, 0, o->shards - 1,
					&o->shard, err)))
			return rc;
	}
	if (o->secret_name && !o->patch_secret)
		return g3_err_set(err, G3_USAGE, "--secret-name goes with --patch-secret");
	if (o->secret_name && !g3_k8s_name_ok(o->secret_name))
		return g3_err_set(err, G3_USAGE, "\"%s\" is not a valid Secret name (lowercase "
				  "letters, digits, '-' and '.')", o->secret_name);
	return G3_OK;
}

/* ---- the kinds ------------------------------------------------------------ */

static void catch_signals(void)
{
	g3_interrupt_install(G3_INTERRUPT_FLAG);
}

/* A location's kinds take no table patterns. */
static g3_rc check_location(struct restore_opts *o, const char *base, g3_err *err)
{
	(void)base;
	if (o->filter)
		return g3_err_set(err, G3_USAGE, "--table, --exclude-table and "
				  "--exclude-table-data apply to a snapshot or one dump");
	return G3_OK;
}

static g3_rc check_env(struct restore_opts *o, const char *base, g3_err *err)
{
	g3_rc rc;

	if ((rc = check_location(o, base, err)))
		return rc;
	if (o->trace_path && (rc = g3_trace_open(o->trace_path, &o->trace, err)))
		return rc;
	return G3_OK;
}

static g3_rc run_env(struct restore_opts *o, const char *base, g3_err *err)
{
	catch_signals();
	return env_restore(o, base, err);
}

static g3_rc run_esdir(struct restore_opts *o, const char *base, g3_err *err)
{
	return esdir_restore_opts(o, base, catch_signals, err);
}

static g3_rc run_stream(struct restore_opts *o, const char *base, g3_err *err)
{
	(void)base;
	return source_restore(o, catch_signals, err);
}

/* What restore reads, chosen once: check refuses what does not apply
 * before the kind's own I/O (its failure is the command's to report);
 * run reports its own failures (kinds.h). A stream's own kind (snapshot,
 * plain dump, pg_dump archive) is told from its bytes (restore_single.c). */
enum { RESTORE_ENV, RESTORE_ESDIR, RESTORE_STREAM };

static const struct restore_kind {
	const char *name;
	g3_rc (*check)(struct restore_opts *o, const char *base, g3_err *err);
	g3_rc (*run)(struct restore_opts *o, const char *base, g3_err *err);
} kinds[] = {
	[RESTORE_ENV] = { "whole environment", check_env, run_env },
	[RESTORE_ESDIR] = { "elasticdump directory", check_location, run_esdir },
	[RESTORE_STREAM] = { "snapshot, plain dump or pg_dump archive", NULL, run_stream },
};

/* A gen3 layout (a directory, an s3:// prefix, or BUCKET, ENVIRONMENT and
 * VERSION) is a whole environment, unless SOURCE holds no layout but
 * elasticdump's files; anything else is a stream. *base: the location. */
static const struct restore_kind *detect_kind(const struct restore_opts *o, char **base)
{
	if (!env_source(o->source, &o->helm, base))
		return &kinds[RESTORE_STREAM];
	if (o->source && !o->filter && esdir_source(*base))
		return &kinds[RESTORE_ESDIR];
	return &kinds[RESTORE_ENV];
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o;
	g3_err err;
	const struct restore_kind *kind = NULL;
	char *base = NULL;
	int done = 0, ran = 0;
	g3_rc rc;

	memset(&o, 0, sizeof(o));
	g3_remote_options_init(&o.remote);
	g3_err_init(&err);
	o.wait = 300;
	o.jobs = 2;
	g3_esrestore_opts_init(&o.es);
	if ((rc = parse_options(argc, argv, &o, &done, &err)) || done ||
	    (rc = check_options(&o, &err)))
		goto cleanup;
	g3_remote_options_apply(&o.remote);
	kind = detect_kind(&o, &base);
	if (kind->check && (rc = kind->check(&o, base, &err)))
		goto cleanup;
	ran = 1;
	rc = kind->run(&o, base, &err);
cleanup:
	g3_progress_finish();
	if (rc && err.msg[0])
		g3_log_err(&err);
	if (rc && o.json && !ran)
		source_json_failure(&o, rc, &err);
	g3_strlist_free(o.maps, o.n_maps);
	g3_strlist_free(o.services, o.n_services);
	g3_strlist_free(o.indices, o.n_indices);
	filter_free(&o);
	free(base);
	g3_remote_options_release(&o.remote);
	if (o.trace) {
		/* after every loader stopped: the last records are in */
		g3_err_init(&err);
		if (g3_trace_close(o.trace, &err))
			g3_log_err(&err);
	}
	return g3_exit_code(rc);
}
