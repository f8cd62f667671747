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
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands.h"
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

enum {
	OPT_DATABASE = G3_OPT_COMMAND_FIRST, OPT_MAP, OPT_JOBS, OPT_CLEAN,
	OPT_NO_CREATE, OPT_JSON, OPT_MASTER, OPT_WAIT, OPT_RELEASE, OPT_HELP,
	OPT_SERVICE, OPT_INDEX, OPT_PARALLEL, OPT_SHARD, OPT_SHARDS, OPT_CREDENTIALS_DIR,
	OPT_SECRET_OUT, OPT_PATCH_SECRET, OPT_SECRET_NAME, OPT_NO_ES, OPT_NO_ALIAS,
	OPT_SQL_SCRIPT, OPT_ON_EXISTING, OPT_TRACE,
	/* in the order of enum g3_tablefilter_list */
	OPT_TABLE, OPT_EXCLUDE_TABLE, OPT_EXCLUDE_TABLE_DATA
};

static const struct option long_options[] = {
	{ "database", required_argument, NULL, OPT_DATABASE },
	{ "map", required_argument, NULL, OPT_MAP },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "clean", no_argument, NULL, OPT_CLEAN },
	{ "no-create", no_argument, NULL, OPT_NO_CREATE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "master", required_argument, NULL, OPT_MASTER },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "release", required_argument, NULL, OPT_RELEASE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "parallel-services", required_argument, NULL, OPT_PARALLEL },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "credentials-dir", required_argument, NULL, OPT_CREDENTIALS_DIR },
	{ "secret-out", required_argument, NULL, OPT_SECRET_OUT },
	{ "patch-secret", no_argument, NULL, OPT_PATCH_SECRET },
	{ "secret-name", required_argument, NULL, OPT_SECRET_NAME },
	{ "no-es", no_argument, NULL, OPT_NO_ES },
	{ "no-alias", no_argument, NULL, OPT_NO_ALIAS },
	{ "sql-script", no_argument, NULL, OPT_SQL_SCRIPT },
	{ "on-existing", required_argument, NULL, OPT_ON_EXISTING },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "exclude-table", required_argument, NULL, OPT_EXCLUDE_TABLE },
	{ "exclude-table-data", required_argument, NULL, OPT_EXCLUDE_TABLE_DATA },
	G3_ES_LONG_OPTIONS,
	G3_ESBULK_LONG_OPTIONS,
	G3_ESRESTORE_LONG_OPTIONS,
	G3_REMOTE_LONG_OPTIONS,
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
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
	"object the versions beside it.\n"
	"      --service NAME           only this service (repeatable; then no index\n"
	"                               unless --index is given too)\n"
	"      --index NAME             only this index (repeatable; default\n"
	"                               GUPPY_INDICES and GUPPY_CONFIGINDEX, else all)\n"
	"      --shard I/N              restore only shard I of N: databases and indices\n"
	"                               are assigned to shards by size, the same way in\n"
	"                               every pod, so N pods restore all of it once\n"
	"      --shards N               the same, with I from JOB_COMPLETION_INDEX\n"
	"      --parallel-services K    services restored at once, sharing --jobs\n"
	"                               (default: jobs / 2, at least 1)\n"
	"\n"
	"Credentials and Secrets:\n"
	"      --credentials-dir DIR    DIR/<service>/{database,username,password}, as\n"
	"                               the helm chart mounts each <service>-dbcreds\n"
	"      --secret-out FILE|-      Kubernetes Secrets <service>-dbcreds: a role's\n"
	"                               password is read from its Secret in FILE (as\n"
	"                               'gen3db create --secret-out' writes them); a\n"
	"                               role that does not exist and has no password\n"
	"                               is created with a generated one, merged into\n"
	"                               FILE once its database is in place ('-': a\n"
	"                               whole environment's Secrets to standard output)\n"
	"      --patch-secret           in a Kubernetes pod, once a database is in place\n"
	"                               and its role can log in, add dbcreated to its\n"
	"                               Secret <service>-dbcreds\n"
	"      --secret-name NAME       the Secret --patch-secret patches when SOURCE is\n"
	"                               one dump or a one-database snapshot\n"
	"\n"
	"Targets:\n"
	"      --database NAME          the database to restore into (a plain file or a\n"
	"                               one-database snapshot; else SERVICE_PGDB, else\n"
	"                               a snapshot's own database names)\n"
	"      --map OLD=NEW            restore the snapshot's database OLD into NEW\n"
	"                               (repeatable)\n"
	"      --release NAME           targets <service>_<NAME> (a plain file: its\n"
	"                               name without extensions is the service)\n"
	"  The role is SERVICE_PGUSER (default: named like the database) with the\n"
	"  password in SERVICE_PGPASS; role and database are provisioned as\n"
	"  'gen3db create' does, with only the extensions the dump creates. Without\n"
	"  a password, a master that is a superuser or a member of an existing role\n"
	"  loads through its own connections as that role (SET ROLE); a role that\n"
	"  does not exist is created with a generated password when --secret-out\n"
	"  FILE records it.\n"
	"      --clean                  replace a target that already has tables\n"
	"                               (its content stays until the new one is complete)\n"
	"      --on-existing refuse|skip|replace\n"
	"                               a target database with tables, or an index or\n"
	"                               alias that exists: refuse it (exit 2, the\n"
	"                               default), skip it (left as it is, reported\n"
	"                               \"skipped\", --patch-secret still done; a rerun\n"
	"                               resumes a whole environment), or replace it\n"
	"                               (= --clean)\n"
	"      --no-create              do not create or change the role (it must exist)\n"
	"\n"
	"Loading:\n"
	"      --jobs N                 parallel connections for data and indexes\n"
	"                               (default 2)\n"
	"      --sql-script             accept a plain SQL file that pg_dump did not write\n"
	"                               (without pg_dump's header and closing line; such a\n"
	"                               file cut short cannot be told from a complete one).\n"
	"                               pg_dump's output is always accepted, and one that\n"
	"                               lacks its closing line is refused as truncated\n"
	"      --json                   print a summary object on standard output\n"
	"      --trace FILE             write each PostgreSQL job's start and end on its\n"
	"                               connection to FILE, one JSON object a line (COPY,\n"
	"                               index, constraint, foreign key, ANALYZE; pre-data\n"
	"                               statements, provisioning, the swap into place);\n"
	"                               FILE is replaced, a symbolic link refused;\n"
	"                               Elasticsearch loads are not traced.\n"
	"                               scripts/trace-gantt draws it as a timeline\n"
	"\n"
	"Tables (a snapshot or one dump; as pg_dump's -t, -T, --exclude-table-data):\n"
	"      --table PATTERN          restore only matching tables, with their indexes,\n"
	"                               constraints, triggers and owned sequences\n"
	"                               (repeatable)\n"
	"      --exclude-table PATTERN  leave matching tables out entirely (repeatable)\n"
	"      --exclude-table-data PATTERN\n"
	"                               restore matching tables without their rows\n"
	"                               (repeatable)\n"
	"  PATTERN as psql's: * and ? wildcards, unquoted letters fold to lower case,\n"
	"  \"...\" keeps case and wildcards literally, SCHEMA.TABLE (no schema: public).\n"
	"  A foreign key to a table left out is not restored (a warning says so); a\n"
	"  pattern that matches no table is an error (exit 2).\n"
	"\n"
	"Master connection (libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE,\n"
	"PGSSLMODE, ... or):\n"
	"      --master URL             postgresql://user@host:port/db (no password)\n"
	"      --wait SECONDS           keep trying this long for the servers, the last\n"
	"                               try when it has passed (default 300)\n"
	"\n"
	"Elasticsearch (a snapshot's es/ members, or a whole environment's indices;\n"
	"SOURCE a directory or s3:// prefix with no such layout but elasticdump's\n"
	"files is restored as 'gen3db restore-es' restores it, with its options):\n"
	"      --index NAME             restore only this index (repeatable)\n"
	"      --no-es                  restore only the PostgreSQL databases of a snapshot\n"
	"                               that holds indices\n"
	"      --no-alias               restore into the concrete index NAME; by default\n"
	"                               a new version NAME_<n> is created and alias NAME\n"
	"                               is switched to it once it is complete (--clean\n"
	"                               deletes an existing concrete index NAME first)\n"
	G3_ESRESTORE_HELP
	G3_ES_HELP
	G3_ESBULK_HELP
	"\n"
	G3_REMOTE_HELP
	"\n"
	"Progress: a status line on a terminal's stderr (off with --quiet, --log-format\n"
	"json or when stderr is not a terminal); --log-format json logs events for each\n"
	"database, table and index.\n"
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 restored, 1 failure (the target is unchanged), 2 usage or\n"
	"bad input (nothing was changed), 3 the server was unreachable within --wait\n";

const g3_cmd_options cmd_restore_options = { "restore", long_options, usage_text };

/* GEN3DB_PRINT_OPTIONS (opts.h): what was parsed, before any I/O. */
static int print_options(const struct restore_opts *o, const char *shard,
			 const g3_remote_opts *ro, int argc, char **argv)
{
	json_object *j = json_object_new_object();

	g3_opt_json_str(j, "database", o->database);
	g3_opt_json_list(j, "maps", o->maps, o->n_maps);
	g3_opt_json_int(j, "jobs", o->jobs);
	/* --clean is --on-existing replace */
	g3_opt_json_str(j, "on_existing", g3_on_existing_names[o->on_existing]);
	g3_opt_json_int(j, "keep_versions", o->es.keep_versions);
	g3_opt_json_bool(j, "no_create", o->no_create);
	g3_opt_json_bool(j, "sql_script", o->sql_script);
	g3_opt_json_str(j, "trace", o->trace_path);
	g3_opt_json_bool(j, "json", o->json);
	g3_opt_json_url(j, "master", o->master_url);
	g3_opt_json_int(j, "wait", o->wait);
	g3_opt_json_str(j, "release", o->release);
	g3_opt_json_list(j, "services", o->services, o->n_services);
	g3_opt_json_int(j, "parallel_services", o->parallel);
	g3_opt_json_str(j, "shard", shard);
	g3_opt_json_int(j, "shards", o->shards);
	g3_opt_json_str(j, "credentials_dir", o->credentials_dir);
	g3_opt_json_str(j, "secret_out", o->secret_out);
	g3_opt_json_bool(j, "patch_secret", o->patch_secret);
	g3_opt_json_str(j, "secret_name", o->secret_name);
	g3_opt_json_url(j, "es", o->es_url);
	g3_opt_json_str(j, "es_cacert", o->es_cacert);
	g3_opt_json_list(j, "indices", o->indices, o->n_indices);
	g3_opt_json_bool(j, "no_es", o->no_es);
	g3_opt_json_bool(j, "no_alias", o->es.no_alias);
	filter_options_json(o, j);
	g3_esbulk_options_json(&o->es.bulk, j);
	g3_remote_options_json(ro, j);
	g3_common_options_json(j);
	return g3_options_print(stdout, "restore", j, argc, argv);
}

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

/* The options (getopt_long over long_options): *done when the command
 * ends here (--help, GEN3DB_PRINT_OPTIONS); o->source the argument. */
static g3_rc parse_options(int argc, char **argv, struct restore_opts *o, g3_remote_opts *ro,
			   const char **shard, int *done, g3_err *err)
{
	int on_existing_given = 0;
	g3_rc rc;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hj:", long_options, NULL)) != -1) {
		int common = g3_common_option(c, optarg, err);

		if (!common)
			common = g3_remote_option(ro, c, optarg, err);
		if (common < 0)
			return G3_USAGE;
		if (common)
			continue;
		common = g3_esbulk_option(&o->es.bulk, c, optarg, err);
		if (!common)
			common = g3_esrestore_option(&o->es, c, optarg, err);
		if (common < 0)
			return G3_USAGE;
		if (common)
			continue;
		switch (c) {
		case OPT_INDEX:
			if ((rc = g3_es_name_check(optarg, "--index", err)))
				return rc;
			g3_strlist_add(&o->indices, &o->n_indices, optarg);
			break;
		case OPT_NO_ES: o->no_es = 1; break;
		case OPT_NO_ALIAS: o->es.no_alias = 1; break;
		case OPT_SQL_SCRIPT: o->sql_script = 1; break;
		case OPT_TRACE: o->trace_path = optarg; break;
		case G3_OPT_ES: o->es_url = optarg; break;
		case G3_OPT_ES_CACERT: o->es_cacert = optarg; break;
		case OPT_DATABASE: o->database = optarg; break;
		case OPT_MAP:
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
				rc = g3_err_set(err, G3_USAGE, "--map must be OLD=NEW, not \"%s\"", optarg);
				return rc;
			}
			if ((rc = check_map(o, optarg, err)))
				return rc;
			g3_strlist_add(&o->maps, &o->n_maps, optarg);
			break;
		case 'j':
		case OPT_JOBS:
			if ((rc = g3_parse_long("--jobs", optarg, 1, MAX_JOBS, &o->jobs, err)))
				return rc;
			break;
		case OPT_CLEAN: o->clean = 1; break;
		case OPT_ON_EXISTING:
			if ((rc = g3_parse_choice("--on-existing", optarg, g3_on_existing_names,
						  &o->on_existing, err)))
				return rc;
			on_existing_given = 1;
			break;
		case OPT_NO_CREATE: o->no_create = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_MASTER: o->master_url = optarg; break;
		case OPT_WAIT:
			if ((rc = g3_parse_long("--wait", optarg, 0, 86400, &o->wait, err)))
				return rc;
			break;
		case OPT_RELEASE: o->release = optarg; break;
		case OPT_SERVICE: g3_strlist_add(&o->services, &o->n_services, optarg); break;
		case OPT_PARALLEL:
			if ((rc = g3_parse_long("--parallel-services", optarg, 1, MAX_JOBS, &o->parallel,
						err)))
				return rc;
			break;
		case OPT_SHARD: *shard = optarg; break;
		case OPT_SHARDS:
			if ((rc = g3_parse_long("--shards", optarg, 1, 1000, &o->shards, err)))
				return rc;
			break;
		case OPT_CREDENTIALS_DIR: o->credentials_dir = optarg; break;
		case OPT_SECRET_OUT: o->secret_out = optarg; break;
		case OPT_PATCH_SECRET: o->patch_secret = 1; break;
		case OPT_SECRET_NAME: o->secret_name = optarg; break;
		case OPT_TABLE:
		case OPT_EXCLUDE_TABLE:
		case OPT_EXCLUDE_TABLE_DATA:
			if ((rc = filter_add(o, (enum g3_tablefilter_list)(c - OPT_TABLE), optarg,
					     err)))
				return rc;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			*done = 1;
			return G3_OK;
		default:
			fputs("hint: 'gen3db restore --help' lists the options\n", stderr);
			return G3_USAGE;
		}
	}
	if ((rc = g3_on_existing_resolve(&o->clean, on_existing_given, &o->on_existing, err)))
		return rc;
	o->es.skip_existing = o->on_existing == G3_ON_EXISTING_SKIP;
	if ((rc = g3_on_existing_resolve(&o->clean, on_existing_given, &o->on_existing, err)))
		return rc;
	o->es.skip_existing = o->on_existing == G3_ON_EXISTING_SKIP;
	if (g3_print_options_wanted()) {
		*done = 1;
		if (print_options(o, *shard, ro, argc - optind, argv + optind))
			return g3_err_set(err, G3_FAIL, "could not write to standard output");
		return G3_OK;
	}
	if (optind + 1 < argc)
		return g3_err_set(err, G3_USAGE, "unexpected argument \"%s\"", argv[optind + 1]);
	o->source = optind < argc ? argv[optind] : NULL;
	return G3_OK;
}

/* --shard I/N, --shards N and JOB_COMPLETION_INDEX; --secret-name. */
static g3_rc check_options(struct restore_opts *o, const char *shard, g3_err *err)
{
	g3_rc rc;

	if (shard) {
		long n = 0;

		if ((rc = g3_shard_parse(shard, &o->shard, &n, err)))
			return rc;
		if (o->shards && o->shards != n)
			return g3_err_set(err, G3_USAGE, "--shard %s and --shards %ld disagree", shard,
					  o->shards);
		o->shards = n;
	} else if (o->shards) {
		const char *idx = g3_env("JOB_COMPLETION_INDEX");

		if (!idx) {
			rc = g3_err_set(err, G3_USAGE, "--shards %ld without a shard index", o->shards);
			g3_err_hint(err, "give --shard I/N, or run as an Indexed Job "
				    "(JOB_COMPLETION_INDEX)");
			return rc;
		}
		if ((rc = g3_parse_long("JOB_COMPLETION_INDEX", idx, 0, o->shards - 1, &o->shard,
					err)))
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
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
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
	if (!env_source(o->source, base))
		return &kinds[RESTORE_STREAM];
	if (o->source && !o->filter && esdir_source(*base))
		return &kinds[RESTORE_ESDIR];
	return &kinds[RESTORE_ENV];
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o;
	g3_remote_opts ro;
	g3_err err;
	const struct restore_kind *kind = NULL;
	char *base = NULL;
	const char *shard = NULL;
	int done = 0, ran = 0;
	g3_rc rc;

	memset(&o, 0, sizeof(o));
	g3_remote_options_init(&ro);
	g3_err_init(&err);
	o.wait = 300;
	o.jobs = 2;
	g3_esrestore_opts_init(&o.es);
	if ((rc = parse_options(argc, argv, &o, &ro, &shard, &done, &err)) || done ||
	    (rc = check_options(&o, shard, &err)))
		goto cleanup;
	g3_remote_options_apply(&ro);
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
	g3_remote_options_release(&ro);
	if (o.trace) {
		/* after every loader stopped: the last records are in */
		g3_err_init(&err);
		if (g3_trace_close(o.trace, &err))
			g3_log_err(&err);
	}
	return g3_exit_code(rc);
}
