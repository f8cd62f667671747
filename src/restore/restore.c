/*
 * gen3db restore: a source spec -> a plan -> loaders.
 *
 * The source (a path or "-", later http(s) and s3 URLs through g3_source)
 * is opened with the snapshot reader, which tells a snapshot (a tar) from
 * a single raw stream (a plain pg_dump SQL file, plain, gzip or zstd); the
 * plan names the target databases; each kind has a loader that streams the
 * source once into the targets: plain_load() here, snapshot_load() in
 * restore_snapshot.c. Elasticsearch adds its own kind of target and loader
 * next to these.
 *
 * Every target is loaded into a side database and renamed into place only
 * when everything succeeded and was verified (src/common/pg/pgtarget.h).
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../commands.h"
#include "../common/es/es.h"
#include "../common/gen3/k8s.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/io/remoteopts.h"
#include "../common/gen3/secret.h"
#include "../common/gen3/shard.h"
#include "../common/pg/sqlinput.h"
#include "../common/pg/sqlscript.h"
#include "../common/base/strbuf.h"
#include "restore.h"

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
	"see 'gen3db restore-es' for one directory of elasticdump files):\n"
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

volatile sig_atomic_t restore_interrupted;


static void on_signal(int sig)
{
	(void)sig;
	restore_interrupted = 1;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the source and its kind ----------------------------------------- */

/* A plain input's first bytes, peeked (they are read again by the load):
 * pg_dump's output, whose end load_sql_member checks; SQL that pg_dump
 * did not write, only with --sql-script; anything else is refused here,
 * before a server is touched. */
static g3_rc input_sniff(const char *spec, struct input *in, g3_err *err)
{
	const char *name = in->src->name;
	const char *head;
	size_t len;
	char what[384];
	g3_rc rc;

	if ((rc = g3_reader_peek(in->rd, G3_SQLINPUT_SNIFF_BYTES, &head, &len, err)))
		return rc;
	switch (g3_sqlinput_sniff(head, len, len < G3_SQLINPUT_SNIFF_BYTES, what, sizeof(what))) {
	case G3_SQLINPUT_PG_DUMP:
		in->pg_dump = 1;
		return G3_OK;
	case G3_SQLINPUT_SQL:
		if (in->sql_script)
			return G3_OK;
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is not pg_dump output (no \"-- PostgreSQL "
				"database dump\" header), so whether it is complete cannot be told",
				name);
		g3_err_hint(err, "give --sql-script to restore a SQL script that pg_dump did not "
			    "write");
		return rc;
	case G3_SQLINPUT_EMPTY:
		return g3_err_set(err, G3_USAGE, "\"%s\" is empty", name);
	case G3_SQLINPUT_NO_SQL:
		return g3_err_set(err, G3_USAGE, "\"%s\" holds only comments, no SQL statements",
				  name);
	case G3_SQLINPUT_PG_DUMPALL:
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is pg_dumpall output (a whole cluster), not "
				"the dump of one database", name);
		g3_err_hint(err, "dump each database with pg_dump");
		return rc;
	case G3_SQLINPUT_PG_CUSTOM:
		return archive_open(spec, in, err);
	case G3_SQLINPUT_OTHER:
	default:
		return g3_err_set(err, G3_USAGE, "\"%s\" is not a SQL dump or a gen3db snapshot: "
				  "it is %s", name, what);
	}
}

g3_rc input_open(const char *spec, struct input *in, g3_err *err)
{
	const char *name;
	int64_t size;
	int tar = 0;
	g3_rc rc;

	in->buf = g3_xmalloc(RESTORE_READ_BYTES);
	if (g3_pgarch_is_dir(spec))
		return archive_open(spec, in, err);
	if ((rc = g3_source_open(spec, &in->src, err)) ||
	    (rc = archive_lookahead(in, &tar, err)))
		return rc;
	if (tar)
		return archive_open(spec, in, err);   /* pg_dump -Ft */
	if ((rc = g3_reader_open(in->src, &in->rd, err)))
		return rc;
	if (g3_reader_kind(in->rd) == G3_READER_ARCHIVE) {
		if (!strcmp(g3_reader_member(in->rd), "toc.dat"))
			return archive_open(spec, in, err);   /* refused: compressed -Ft */
		in->kind = KIND_SNAPSHOT;
		return G3_OK;
	}
	in->kind = KIND_PLAIN_SQL;
	/* raw: the one member is the whole decoded stream */
	if (g3_reader_next(in->rd, &name, &size, err) < 0)
		return err->rc ? err->rc : G3_FAIL;
	return input_sniff(spec, in, err);
}

void input_close(struct input *in)
{
	if (g3_pgrestore_close(in->arch)) {
		/* its feeder still reads the source: left to the process's exit */
		free(in->buf);
		return;
	}
	free(in->arch_tar);
	g3_reader_close(in->rd);
	g3_source_close(in->src);
	free(in->buf);
}

/* ---- the plan -------------------------------------------------------- */

/* "fence.sql.gz" -> "fence" */
static char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = g3_xstrdup(b ? b + 1 : path);
	char *dot = strchr(s, '.');

	if (dot)
		*dot = '\0';
	return s;
}

const char *restore_credentials_dir;
const char *restore_secret_file;

/* The service a database belongs to, by gen3's naming: "fence_gen3" and
 * "fence_demo" are fence's. */
static char *service_of(const char *database)
{
	const char *us = strrchr(database, '_');
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%.*s", us && us != database ? (int)(us - database) : (int)strlen(database),
		    database);
	return g3_buf_detach(&b);
}

g3_rc plan_role(struct db_load *d, const char *user, g3_err *err)
{
	const char *pass = g3_env("SERVICE_PGPASS");
	const char *service = d->service ? d->service : d->from;
	int found = 0;
	g3_rc rc;

	d->svc.name = g3_xstrdup(service ? service : d->svc.database);
	if (restore_credentials_dir && service) {
		if ((rc = credentials_read(restore_credentials_dir, service, &d->svc, &found, err)))
			return rc;
		if (found) {
			if (!d->svc.username)
				d->svc.username = g3_xstrdup(d->svc.database);
			goto check;
		}
	}
	d->svc.username = g3_xstrdup(user ? user : d->svc.database);
	if (restore_secret_file) {
		/* the Secrets 'gen3db create --secret-out' wrote for these
		 * services: <service>-dbcreds, service named as gen3 does */
		char *svc_name = d->service ? g3_xstrdup(d->service) : service_of(d->svc.database);
		g3_buf n = G3_BUF_INIT;

		g3_buf_addf(&n, "%s-dbcreds", svc_name);
		free(svc_name);
		d->secret_name = g3_buf_detach(&n);
		if (!g3_k8s_name_ok(d->secret_name)) {
			rc = g3_err_set(err, G3_USAGE, "\"%s\" (for database \"%s\") is not a valid "
					"Secret name", d->secret_name, d->svc.database);
			g3_err_hint(err, "the Secret is named after the service: a plain file's name "
				    "without extensions, else the database's name up to its last '_'");
			return rc;
		}
		if ((rc = g3_k8s_secret_password(restore_secret_file, d->secret_name,
						 &d->svc.password, err)))
			return rc;
		if (d->svc.password)
			goto check;
		/* none recorded: a role this run creates gets a generated
		 * password, recorded there once its database is in place */
	}
	/* no password: g3_pgtarget_prepare loads through the master's
	 * connections where the master may act as the role, else refuses */
	if (pass)
		d->svc.password = g3_xstrdup(pass);
check:
	if ((rc = g3_pg_check_name("database", d->svc.database, err)) ||
	    (rc = g3_pg_check_name("role", d->svc.username, err)))
		return rc;
	return G3_OK;
}

struct db_load *plan_add(struct plan *p)
{
	struct db_load *d;

	p->dbs = g3_xrealloc(p->dbs, (p->n + 1) * sizeof(*p->dbs));
	d = &p->dbs[p->n++];
	memset(d, 0, sizeof(*d));
	g3_service_init(&d->svc);
	g3_pgtarget_init(&d->target);
	return d;
}

void db_load_release(struct db_load *d)
{
	g3_pgload_free(d->load);
	d->load = NULL;
	g3_sqlfilter_free(d->filter);
	d->filter = NULL;
	PQfinish(d->leader);
	d->leader = NULL;
	free(d->from);
	free(d->service);
	free(d->secret_name);
	g3_service_release(&d->svc);
	g3_pgtarget_release(&d->target);
}

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		db_load_release(&p->dbs[i]);
	free(p->dbs);
	es_plan_free(p->es);
	g3_manifest_release(&p->manifest);
	memset(p, 0, sizeof(*p));
}

static g3_rc plan_plain(const struct restore_opts *o, struct plan *p, g3_err *err)
{
	const char *db = o->database ? o->database : g3_env("SERVICE_PGDB");
	struct db_load *d;
	g3_rc rc;

	if (o->n_maps)
		return g3_err_set(err, G3_USAGE, "--map applies to snapshots, not to a plain SQL file");
	d = plan_add(p);
	if (strcmp(o->source, "-"))
		d->service = base_name(o->source);
	if (db) {
		d->svc.database = g3_xstrdup(db);
	} else if (o->release && strcmp(o->source, "-")) {
		char *b = base_name(o->source);
		g3_buf n = G3_BUF_INIT;

		g3_buf_addf(&n, "%s_%s", b, o->release);
		free(b);
		d->svc.database = g3_buf_detach(&n);
	} else {
		rc = g3_err_set(err, G3_USAGE, "no target database");
		g3_err_hint(err, "give --database NAME (or SERVICE_PGDB)");
		return rc;
	}
	return plan_role(d, g3_env("SERVICE_PGUSER"), err);
}

/* ---- loading one database ------------------------------------------- */

struct connect_ctx {
	const g3_pgconf *conf;
	const g3_pgtarget *target;
	int wait;
};

static g3_rc connect_worker(void *ctx, PGconn **out, g3_err *err)
{
	struct connect_ctx *c = ctx;

	return g3_pgtarget_connect(c->conf, c->target, c->wait, out, err);
}

/* A CREATE EXTENSION of the dump: the master provides it first. */
static g3_rc db_extension(void *ctx, const char *name, g3_err *err)
{
	struct db_load *d = ctx;

	return g3_pgtarget_extension(d->env->conf, &d->target, name, (int)d->env->o->wait, err);
}

g3_rc db_load_begin(const struct restore_env *env, struct db_load *d, g3_err *err)
{
	/* outlives this call: the loader connects workers only in _start */
	struct connect_ctx cctx;
	g3_pgload_opts lo;
	g3_rc rc;

	d->t0 = now_s();
	if ((rc = g3_pgtarget_connect(env->conf, &d->target, (int)env->o->wait, &d->leader, err)))
		return rc;
	memset(&lo, 0, sizeof(lo));
	cctx.conf = env->conf;
	cctx.target = &d->target;
	cctx.wait = (int)env->o->wait;
	lo.jobs = (int)env->o->jobs;
	lo.connect = connect_worker;
	lo.connect_ctx = &cctx;
	lo.origin = "line";
	lo.interrupted = &restore_interrupted;
	if (env->o->filter && !d->filter)
		d->filter = g3_sqlfilter_new(env->o->filter);
	lo.extension = db_extension;
	lo.extension_ctx = d;
	lo.trace = env->o->trace;
	lo.trace_database = d->svc.database;
	d->env = env;
	return g3_pgload_start(&lo, d->leader, &d->load, err);
}

g3_rc db_load_end(struct db_load *d, g3_err *err)
{
	g3_rc rc = g3_pgload_finish(d->load, err);

	if (rc)
		return rc;
	/* every connection to the side database closes before the rename */
	g3_pgload_stop(d->load);
	PQfinish(d->leader);
	d->leader = NULL;
	d->seconds = now_s() - d->t0;
	d->done = 1;
	return G3_OK;
}

void trace_phase(const struct restore_opts *o, const char *job, const char *database,
		 double start, g3_rc rc, const g3_err *err)
{
	g3_trace_rec r;

	if (!o->trace)
		return;
	memset(&r, 0, sizeof(r));
	r.job = job;
	r.database = database;
	r.start = start;
	r.end = g3_trace_now(o->trace);
	r.rows = r.bytes = -1;
	r.ok = !rc;
	r.error = rc ? err->msg : NULL;
	g3_trace_record(o->trace, &r);
}

/* ---- psql scripts (plain dumps, pre-data, post-data, sequences) --------- */

struct script_ctx {
	g3_pgload *load;
	g3_sqlfilter *filter;               /* or NULL */
	int skip_copy;                      /* the COPY's table is left out */
	const char *database;
	char table[G3_PROGRESS_NAME_MAX];   /* "<db>.<schema.table>" of the COPY */
	const char *tname;                  /* its "<schema.table>" part */
	double t0;
	int connected;                      /* the \connect of a pg_dump --create file */
	char connect_arg[256];              /* its argument: the dump's database */
};

/* "COPY public.node (a, b) FROM stdin;" -> "public.node" (quotes kept) */
static void copy_table_name(const char *sql, char *out, size_t len)
{
	const char *p = sql + strspn(sql, " \t\n");
	size_t n = 0;
	int quoted = 0;

	if (!strncasecmp(p, "copy", 4))
		p += 4;
	p += strspn(p, " \t\n");
	while (p[n] && (quoted || !strchr(" \t\n(", p[n])))
		quoted ^= p[n++] == '"';
	snprintf(out, len, "%.*s", (int)n, p);
}

static void table_event(const char *ev, const struct script_ctx *c, long lines)
{
	char rows[32], secs[32];
	const char *f[] = { "database", c->database, "table", c->tname, NULL, NULL, NULL, NULL,
			    NULL };

	if (g3_log_get_format() != G3_LOG_JSON)
		return;
	if (lines >= 0) {
		snprintf(rows, sizeof(rows), "%ld", lines);
		snprintf(secs, sizeof(secs), "%.3f", now_s() - c->t0);
		f[4] = "rows";
		f[5] = rows;
		f[6] = "seconds";
		f[7] = secs;
	}
	g3_log_event(G3_LOG_INFO, ev, ev, f);
}

static g3_rc run_statement(void *ctx, const char *sql, long line, g3_err *err)
{
	struct script_ctx *c = ctx;

	return g3_pgload_statement(c->load, sql, line, err);
}

static g3_rc on_statement(void *ctx, const g3_sqlstmt *st, g3_err *err)
{
	struct script_ctx *c = ctx;

	if (st->copy_in && c->filter && !g3_sqlfilter_copy_sql(c->filter, st->sql)) {
		c->skip_copy = 1;   /* its data lines are read and dropped */
		return G3_OK;
	}
	if (c->filter && !st->copy_in)
		return g3_sqlfilter_statement(c->filter, st->sql, st->line, run_statement, c, err);
	if (st->copy_in) {
		char t[G3_PROGRESS_NAME_MAX];

		copy_table_name(st->sql, t, sizeof(t));
		snprintf(c->table, sizeof(c->table), "%s.%s", c->database ? c->database : "", t);
		c->tname = c->table + strlen(c->database ? c->database : "") + 1;
		if (c->tname > c->table + strlen(c->table))
			c->tname = c->table + strlen(c->table);
		c->t0 = now_s();
		g3_progress_item_start(c->table, G3_PROGRESS_ROWS);
		table_event("table_start", c, -1);
		return g3_pgload_copy_begin(c->load, st->sql, st->line, err);
	}
	return g3_pgload_statement(c->load, st->sql, st->line, err);
}

static g3_rc on_copy_data(void *ctx, const char *data, size_t len, g3_err *err)
{
	struct script_ctx *c = ctx;

	if (c->skip_copy)
		return G3_OK;
	if (g3_progress_enabled()) {
		int64_t rows = 0;

		for (const char *p = data, *end = data + len;
		     (p = memchr(p, '\n', (size_t)(end - p))); p++)
			rows++;
		g3_progress_item_add(c->table, rows);
	}
	return g3_pgload_copy_data(c->load, data, len, err);
}

static g3_rc on_copy_end(void *ctx, long lines, g3_err *err)
{
	struct script_ctx *c = ctx;
	g3_rc rc;

	if (c->skip_copy) {
		c->skip_copy = 0;
		return G3_OK;
	}
	rc = g3_pgload_copy_end(c->load, lines, err);
	g3_progress_item_done(c->table, lines);
	if (!rc)
		table_event("table_end", c, lines);
	return rc;
}

/* \restrict and \unrestrict guard against a malicious server's output
 * being run as psql commands: nothing to do where no other meta-command
 * runs. \connect switches databases: pg_dump --create writes one, after
 * CREATE DATABASE of its own database (skipped by the loader: the target
 * is the one the restore named), and that one is taken as "the target";
 * any other (pg_dumpall's output, a second database) is refused. */
static g3_rc on_meta(void *ctx, const char *name, const char *arg, long line,
		     g3_err *err)
{
	struct script_ctx *c = ctx;
	g3_rc rc;

	if (!strcmp(name, "restrict") || !strcmp(name, "unrestrict"))
		return G3_OK;
	if ((!strcmp(name, "connect") || !strcmp(name, "c")) && !c->connected &&
	    g3_pgload_get_stats(c->load)->create_database && strlen(arg) < sizeof(c->connect_arg)) {
		c->connected = 1;
		snprintf(c->connect_arg, sizeof(c->connect_arg), "%s", arg);
		g3_info("line %ld: a pg_dump --create file: its database is restored as \"%s\"",
			line, c->database ? c->database : "");
		return G3_OK;
	}
	/* psql's \encoding (pg_dump --create writes "\encoding SQL_ASCII"
	 * before a \connect, then sets client_encoding back): the same as
	 * SET client_encoding, which the loader's connections all get */
	if (!strcmp(name, "encoding")) {
		char sql[128];

		if (!*arg || strlen(arg) > 64 || strspn(arg, "abcdefghijklmnopqrstuvwxyz"
						      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		    strlen(arg)) {
			rc = g3_err_set(err, G3_USAGE, "line %ld: \"\\encoding %.64s\" does not name "
					"an encoding", line, arg);
			return rc;
		}
		snprintf(sql, sizeof(sql), "SET client_encoding = '%s';", arg);
		return g3_pgload_statement(c->load, sql, line, err);
	}
	/* pg_dump connects again to the same database after its settings */
	if ((!strcmp(name, "connect") || !strcmp(name, "c")) && c->connected &&
	    !strcmp(arg, c->connect_arg))
		return G3_OK;
	rc = g3_err_set(err, G3_USAGE,
			"line %ld: \"\\%s %s\" switches databases (output of pg_dump --create "
			"or pg_dumpall)", line, name, arg);
	g3_err_hint(err, "dump one database without --create; gen3db restore creates the "
		    "target database itself");
	return rc;
}

static const struct g3_sqlscript_cb script_cb = {
	on_statement, on_copy_data, on_copy_end, on_meta
};

/* pg_dump's output that stops before its closing line: cut short at a
 * statement boundary it loads without an error, so only this tells. */
static g3_rc dump_incomplete(const struct input *in, const g3_dumpend *end, g3_err *err)
{
	g3_rc rc = g3_err_set(err, G3_FAIL, "dump \"%s\" is incomplete (truncated): it ends at "
			      "line %lld without pg_dump's closing line \"-- PostgreSQL database "
			      "dump complete\"", in->src->name, g3_dumpend_last_line(end));

	g3_err_hint(err, "nothing was changed; copy or download the whole dump again");
	return rc;
}

g3_rc load_sql_member(struct input *in, struct db_load *d, g3_err *err)
{
	struct script_ctx ctx;
	g3_sqlscript *s;
	g3_dumpend end;
	int check_end = in->kind == KIND_PLAIN_SQL && in->pg_dump;
	uint64_t seen = input_consumed(in);
	g3_rc rc = G3_OK;

	memset(&ctx, 0, sizeof(ctx));
	ctx.load = d->load;
	ctx.filter = d->filter;
	ctx.database = d->svc.database;
	g3_dumpend_init(&end);
	s = g3_sqlscript_new(&script_cb, &ctx);
	for (;;) {
		ssize_t n = input_read(in, in->buf, RESTORE_READ_BYTES, err);
		uint64_t now = input_consumed(in);

		/* bytes of the source (compressed), not of the decoded stream */
		if (in->arch)  /* what the feeding thread gave pg_restore */
			g3_progress_add_bytes((int64_t)(now - seen));
		else
			g3_source_report_progress(in->src);
		seen = now;

		if (restore_interrupted) {
			rc = g3_err_set(err, G3_FAIL, "interrupted");
			break;
		}
		if (n < 0) {
			rc = err->rc ? err->rc : G3_FAIL;
			break;
		}
		if (n == 0) {
			/* before the splitter's own end checks: a dump cut inside
			 * a statement or COPY block is truncated too */
			if (check_end && !g3_dumpend_complete(&end))
				rc = dump_incomplete(in, &end, err);
			else
				rc = g3_sqlscript_finish(s, err);
			break;
		}
		if (check_end)
			g3_dumpend_feed(&end, in->buf, (size_t)n);
		if ((rc = g3_sqlscript_feed(s, in->buf, (size_t)n, err)))
			break;
	}
	g3_sqlscript_free(s);
	if (d->filter)
		g3_sqlfilter_end(d->filter);
	return rc;
}

static g3_rc plain_load(const struct restore_env *env, struct input *in,
			struct plan *p, g3_err *err)
{
	struct db_load *d = &p->dbs[0];
	g3_rc rc;

	if ((rc = db_load_begin(env, d, err)) ||
	    (rc = load_sql_member(in, d, err)) ||
	    (rc = filter_check(env->o, err)))
		return rc;
	return db_load_end(d, err);
}

/* ---- report ---------------------------------------------------------- */

/* --on-existing skip: the target was left as it was. */
static json_object *report_skipped(const struct db_load *d)
{
	json_object *o = json_object_new_object();

	g3_info("skipped database \"%s\": it already has %ld %s (--on-existing skip)",
		d->svc.database, d->target.tables,
		g3_plural(d->target.tables, "table or other relation", "tables or other relations"));
	json_object_object_add(o, "database", json_object_new_string(d->svc.database));
	if (d->from)
		json_object_object_add(o, "from", json_object_new_string(d->from));
	json_object_object_add(o, "role", json_object_new_string(d->svc.username));
	json_object_object_add(o, "status", json_object_new_string("skipped"));
	json_object_object_add(o, "replaced", json_object_new_boolean(0));
	json_object_object_add(o, "rows", json_object_new_int64(0));
	json_object_object_add(o, "bytes", json_object_new_int64(0));
	return o;
}

static json_object *report_db(const struct db_load *d, const char *source)
{
	const g3_pgload_stats *st = g3_pgload_get_stats(d->load);
	const g3_pgload_table *t;
	json_object *o = json_object_new_object();
	json_object *tables = json_object_new_array();
	size_t n;

	t = g3_pgload_tables(d->load, &n);
	for (size_t i = 0; i < n; i++) {
		json_object *e;

		if (!t[i].copies)
			continue;
		g3_info("  %s: %lld %s, %.1f MB in %.2f s", t[i].name, t[i].rows,
			g3_plural(t[i].rows, "row", "rows"), (double)t[i].bytes / 1e6, t[i].seconds);
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(t[i].name));
		json_object_object_add(e, "rows", json_object_new_int64(t[i].rows));
		json_object_object_add(e, "bytes", json_object_new_int64(t[i].bytes));
		json_object_object_add(e, "seconds", json_object_new_double(t[i].seconds));
		json_object_array_add(tables, e);
	}
	g3_info("restored database \"%s\" from %s%s%s\"%s\": %lld %s, %.1f MB in %.1f s "
		"(data %.1f s, indexes, constraints and analyze %.1f s; %ld %s, %ld %s)",
		d->svc.database, d->from ? "\"" : "",
		d->from ? d->from : "", d->from ? "\" in " : "", source, st->rows,
		g3_plural(st->rows, "row", "rows"),
		(double)st->bytes / 1e6, d->seconds, st->data_seconds, st->post_seconds,
		st->index_jobs, g3_plural(st->index_jobs, "index or constraint",
					  "indexes and constraints"),
		st->fk_jobs, g3_plural(st->fk_jobs, "foreign key", "foreign keys"));
	if (st->skipped_owner)
		g3_info("skipped %ld ALTER ... OWNER TO %s: the objects belong to role \"%s\"",
			st->skipped_owner, g3_plural(st->skipped_owner, "statement", "statements"),
			d->svc.username);
	if (st->skipped_database)
		g3_info("skipped %ld %s on the dump's own database (pg_dump --create): the "
			"target is \"%s\"", st->skipped_database,
			g3_plural(st->skipped_database, "statement", "statements"), d->svc.database);
	json_object_object_add(o, "database", json_object_new_string(d->svc.database));
	if (d->from)
		json_object_object_add(o, "from", json_object_new_string(d->from));
	json_object_object_add(o, "role", json_object_new_string(d->svc.username));
	json_object_object_add(o, "status", json_object_new_string("restored"));
	if (d->target.svc.password_generated && d->secret_name)
		json_object_object_add(o, "secret", json_object_new_string(d->secret_name));
	json_object_object_add(o, "replaced", json_object_new_boolean(d->target.exists));
	json_object_object_add(o, "tables", tables);
	json_object_object_add(o, "rows", json_object_new_int64(st->rows));
	json_object_object_add(o, "bytes", json_object_new_int64(st->bytes));
	json_object_object_add(o, "seconds", json_object_new_double(d->seconds));
	json_object_object_add(o, "data_seconds", json_object_new_double(st->data_seconds));
	json_object_object_add(o, "post_data_seconds", json_object_new_double(st->post_seconds));
	json_object_object_add(o, "indexes_and_constraints", json_object_new_int64(st->index_jobs));
	json_object_object_add(o, "foreign_keys", json_object_new_int64(st->fk_jobs));
	json_object_object_add(o, "skipped_owner_statements", json_object_new_int64(st->skipped_owner));
	json_object_object_add(o, "skipped_comments", json_object_new_int64(st->skipped_comments));
	json_object_object_add(o, "skipped_database_statements",
			       json_object_new_int64(st->skipped_database));
	json_object_object_add(o, "skipped_unknown_settings",
			       json_object_new_int64(st->skipped_settings));
	filter_report(d, o);
	return o;
}

static void report(const struct restore_opts *o, const struct input *in,
		   const struct plan *p, double seconds)
{
	json_object *root = json_object_new_object();
	json_object *dbs = json_object_new_array();
	int64_t rows = 0, bytes = 0;
	size_t skipped = 0;

	for (size_t i = 0; i < p->n; i++) {
		const g3_pgload_stats *st;

		if (p->dbs[i].target.skipped) {
			json_object_array_add(dbs, report_skipped(&p->dbs[i]));
			skipped++;
			continue;
		}
		st = g3_pgload_get_stats(p->dbs[i].load);
		json_object_array_add(dbs, report_db(&p->dbs[i], in->src->name));
		rows += st->rows;
		bytes += st->bytes;
	}
	if (p->n > 1 || (p->n && p->es))
		g3_info("restored %zu %s from \"%s\": %lld %s, %.1f MB in %.1f s", p->n - skipped,
			g3_plural((long long)(p->n - skipped), "database", "databases"), in->src->name,
			(long long)rows, g3_plural(rows, "row", "rows"), (double)bytes / 1e6, seconds);
	if (o->json) {
		json_object_object_add(root, "source", json_object_new_string(in->src->name));
		json_object_object_add(root, "format", json_object_new_string(input_format(in)));
		json_object_object_add(root, "compression", json_object_new_string(
			in->rd ? g3_reader_filter(in->rd) : "none"));
		json_object_object_add(root, "jobs", json_object_new_int((int)o->jobs));
		json_object_object_add(root, "databases", dbs);
		json_object_object_add(root, "indices", es_report(p));
		json_object_object_add(root, "rows", json_object_new_int64(rows));
		json_object_object_add(root, "bytes", json_object_new_int64(bytes));
		json_object_object_add(root, "seconds", json_object_new_double(seconds));
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
	} else {
		json_object_put(dbs);
	}
	json_object_put(root);
}

/* ---- Secrets of a single-source restore ------------------------------ */

/* The Secret of each target: --secret-name for one database, else
 * "<service>-dbcreds" for a snapshot's databases. */
static g3_rc patch_names(const struct restore_opts *o, const struct plan *p, char ***out,
			 g3_err *err)
{
	char **names = g3_xcalloc(p->n ? p->n : 1, sizeof(char *));
	g3_rc rc;

	*out = names;
	if (o->secret_name) {
		if (p->n != 1)
			return g3_err_set(err, G3_USAGE, "--secret-name names the Secret of one "
					  "database, and this restore has %zu", p->n);
		names[0] = g3_xstrdup(o->secret_name);
		return G3_OK;
	}
	for (size_t i = 0; i < p->n; i++) {
		g3_buf b = G3_BUF_INIT;

		if (!p->dbs[i].from) {
			rc = g3_err_set(err, G3_USAGE, "--patch-secret needs the Secret's name");
			g3_err_hint(err, "give --secret-name NAME, e.g. --secret-name fence-dbcreds");
			return rc;
		}
		g3_buf_addf(&b, "%s-dbcreds", p->dbs[i].from);
		names[i] = g3_buf_detach(&b);
		if (!g3_k8s_name_ok(names[i]))
			return g3_err_set(err, G3_USAGE, "\"%s\" is not a valid Secret name", names[i]);
	}
	return G3_OK;
}

/* After the commit: the service role logs in to its database, then its
 * Secret gets dbcreated. */
static g3_rc patch_secrets(const struct restore_opts *o, const g3_pgconf *conf,
			   const g3_k8s_client *k8s, const struct plan *p, char **names,
			   g3_err *err)
{
	for (size_t i = 0; i < p->n; i++) {
		PGconn *c = NULL;
		const char *f[] = { "database", p->dbs[i].svc.database, "secret", names[i], NULL };
		g3_buf m = G3_BUF_INIT;
		/* as the load did: a generated password, or SET ROLE */
		g3_service s = p->dbs[i].svc;
		g3_rc rc;

		s.password = p->dbs[i].target.svc.password;
		s.set_role = p->dbs[i].target.svc.set_role;
		rc = g3_service_connect(conf, &s, (int)o->wait, &c, err);

		PQfinish(c);
		if (rc || (rc = g3_k8s_mark_dbcreated(k8s, names[i], err)))
			return rc;
		g3_buf_addf(&m, "patched secret \"%s\" (dbcreated) for database \"%s\"", names[i],
			    p->dbs[i].svc.database);
		g3_log_event(G3_LOG_INFO, "secret_patched", m.data, f);
		g3_buf_release(&m);
	}
	return G3_OK;
}

/* Targets without a password that would record a generated one in the
 * same Secret for different roles: refused before anything changes. */
static g3_rc check_secret_names(const struct plan *p, g3_err *err)
{
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = i + 1; j < p->n; j++) {
			const struct db_load *a = &p->dbs[i], *b = &p->dbs[j];
			g3_rc rc;

			if (!a->secret_name || !b->secret_name || a->svc.password ||
			    b->svc.password || strcmp(a->secret_name, b->secret_name) ||
			    !strcmp(a->svc.username, b->svc.username))
				continue;
			rc = g3_err_set(err, G3_USAGE, "databases \"%s\" and \"%s\" have different "
					"roles but one Secret \"%s\" in --secret-out",
					a->svc.database, b->svc.database, a->secret_name);
			g3_err_hint(err, "restore them in separate runs, each with its own "
				    "--secret-out file");
			return rc;
		}
	return G3_OK;
}

/* The Secrets of the roles this run created with a generated password,
 * merged into --secret-out once their databases are in place (also when a
 * later target failed: such a role stays with the database it owns). The
 * file is not touched when there are none. A target sharing such a role
 * gets the same password in its Secret. */
static g3_rc record_generated(const struct restore_opts *o, const g3_pgconf *conf,
			      const struct plan *p, g3_err *err)
{
	g3_k8s_secret *s;
	char host[256], port[32];
	size_t n = 0;
	g3_rc rc = G3_OK;

	if (!o->secret_out)
		return G3_OK;
	s = g3_xcalloc(p->n ? p->n : 1, sizeof(*s));
	if (!g3_pgconf_effective(conf, "host", host, sizeof(host)))
		snprintf(host, sizeof(host), "%s", "localhost");
	if (!g3_pgconf_effective(conf, "port", port, sizeof(port)))
		snprintf(port, sizeof(port), "%s", "5432");
	for (size_t i = 0; i < p->n; i++) {
		const struct db_load *d = &p->dbs[i];
		const char *pw = NULL;
		int dup = 0;

		if (!d->target.committed || !d->secret_name)
			continue;
		for (size_t j = 0; j <= i && !pw; j++)
			if (p->dbs[j].target.svc.password_generated &&
			    !strcmp(p->dbs[j].svc.username, d->svc.username))
				pw = p->dbs[j].target.svc.password;
		for (size_t k = 0; k < n; k++)
			dup |= !strcmp(s[k].name, d->secret_name);
		if (!pw || dup)
			continue;
		s[n].name = d->secret_name;
		s[n].database = d->svc.database;
		s[n].username = d->svc.username;
		s[n].password = pw;
		s[n].host = host;
		s[n].port = port;
		s[n].dbcreated = 1;
		n++;
	}
	if (n && !(rc = g3_k8s_secrets_merge_file(o->secret_out, s, n, err))) {
		for (size_t k = 0; k < n; k++)
			g3_info("created role \"%s\" with a generated password, recorded in Secret "
				"\"%s\" in \"%s\"", s[k].username, s[k].name, o->secret_out);
	} else if (n) {
		g3_err_prefix(err, "the restored databases are in place, but the generated "
			      "password of role \"%s\" was not recorded", s[0].username);
		g3_err_hint(err, "set a new password for the role (ALTER ROLE ... PASSWORD) and "
			    "record it");
	}
	free(s);
	return rc;
}

/* ---- the command ------------------------------------------------------- */

/* Every database target skipped (--on-existing skip), and no index to load. */
static int all_skipped(const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->dbs[i].target.skipped)
			return 0;
	return !es_pending(p);
}

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

/* --json of a failed run: the targets and what became of them (a failure
 * before the commits leaves every target as it was). */
static void json_failure(const struct restore_opts *o, const struct plan *p, int reported,
			 g3_rc rc, const g3_err *err)
{
	json_object *root = json_object_new_object();
	json_object *dbs = json_object_new_array();

	if (o->source)
		json_object_object_add(root, "source", json_object_new_string(o->source));
	for (size_t i = 0; i < p->n; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "database", json_object_new_string(p->dbs[i].svc.database));
		if (p->dbs[i].from)
			json_object_object_add(d, "from", json_object_new_string(p->dbs[i].from));
		json_object_object_add(d, "restored", json_object_new_boolean(reported));
		json_object_array_add(dbs, d);
	}
	json_object_object_add(root, "databases", dbs);
	g3_err_print_json(root, rc, err);
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

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o;
	struct input in;
	struct plan plan;
	struct restore_env env;
	g3_pgconf conf;
	g3_err err;
	PGconn *master = NULL;
	g3_pgtarget_opts to;
	g3_remote_opts ro;
	g3_k8s_client k8s;
	char **names = NULL;
	char *base = NULL;
	const char *shard = NULL;
	int env_code = -1, reported = 0, recorded = 0, on_existing_given = 0;
	struct sigaction sa;
	double t0 = now_s();
	g3_rc rc = G3_OK;
	int c;

	memset(&o, 0, sizeof(o));
	memset(&k8s, 0, sizeof(k8s));
	g3_remote_options_init(&ro);
	memset(&in, 0, sizeof(in));
	memset(&plan, 0, sizeof(plan));
	g3_manifest_init(&plan.manifest);
	g3_pgconf_init(&conf);
	g3_err_init(&err);
	o.wait = 300;
	o.jobs = 2;
	g3_esrestore_opts_init(&o.es);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hj:", long_options, NULL)) != -1) {
		int common = g3_common_option(c, optarg, &err);

		if (!common)
			common = g3_remote_option(&ro, c, optarg, &err);
		if (common < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (common)
			continue;
		common = g3_esbulk_option(&o.es.bulk, c, optarg, &err);
		if (!common)
			common = g3_esrestore_option(&o.es, c, optarg, &err);
		if (common < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (common)
			continue;
		switch (c) {
		case OPT_INDEX:
			if ((rc = g3_es_name_check(optarg, "--index", &err)))
				goto cleanup;
			g3_strlist_add(&o.indices, &o.n_indices, optarg);
			break;
		case OPT_NO_ES: o.no_es = 1; break;
		case OPT_NO_ALIAS: o.es.no_alias = 1; break;
		case OPT_SQL_SCRIPT: o.sql_script = 1; break;
		case OPT_TRACE: o.trace_path = optarg; break;
		case G3_OPT_ES: o.es_url = optarg; break;
		case G3_OPT_ES_CACERT: o.es_cacert = optarg; break;
		case OPT_DATABASE: o.database = optarg; break;
		case OPT_MAP:
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
				rc = g3_err_set(&err, G3_USAGE, "--map must be OLD=NEW, not \"%s\"", optarg);
				goto cleanup;
			}
			if ((rc = check_map(&o, optarg, &err)))
				goto cleanup;
			g3_strlist_add(&o.maps, &o.n_maps, optarg);
			break;
		case 'j':
		case OPT_JOBS:
			if ((rc = g3_parse_long("--jobs", optarg, 1, MAX_JOBS, &o.jobs, &err)))
				goto cleanup;
			break;
		case OPT_CLEAN: o.clean = 1; break;
		case OPT_ON_EXISTING:
			if ((rc = g3_parse_choice("--on-existing", optarg, g3_on_existing_names,
						  &o.on_existing, &err)))
				goto cleanup;
			on_existing_given = 1;
			break;
		case OPT_NO_CREATE: o.no_create = 1; break;
		case OPT_JSON: o.json = 1; break;
		case OPT_MASTER: o.master_url = optarg; break;
		case OPT_WAIT:
			if ((rc = g3_parse_long("--wait", optarg, 0, 86400, &o.wait, &err)))
				goto cleanup;
			break;
		case OPT_RELEASE: o.release = optarg; break;
		case OPT_SERVICE: g3_strlist_add(&o.services, &o.n_services, optarg); break;
		case OPT_PARALLEL:
			if ((rc = g3_parse_long("--parallel-services", optarg, 1, MAX_JOBS, &o.parallel,
						&err)))
				goto cleanup;
			break;
		case OPT_SHARD: shard = optarg; break;
		case OPT_SHARDS:
			if ((rc = g3_parse_long("--shards", optarg, 1, 1000, &o.shards, &err)))
				goto cleanup;
			break;
		case OPT_CREDENTIALS_DIR: o.credentials_dir = optarg; break;
		case OPT_SECRET_OUT: o.secret_out = optarg; break;
		case OPT_PATCH_SECRET: o.patch_secret = 1; break;
		case OPT_SECRET_NAME: o.secret_name = optarg; break;
		case OPT_TABLE:
		case OPT_EXCLUDE_TABLE:
		case OPT_EXCLUDE_TABLE_DATA:
			if ((rc = filter_add(&o, (enum g3_tablefilter_list)(c - OPT_TABLE), optarg,
					     &err)))
				goto cleanup;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			goto cleanup;
		default:
			fputs("hint: 'gen3db restore --help' lists the options\n", stderr);
			rc = G3_USAGE;
			goto cleanup;
		}
	}
	if ((rc = g3_on_existing_resolve(&o.clean, on_existing_given, &o.on_existing, &err)))
		goto cleanup;
	o.es.skip_existing = o.on_existing == G3_ON_EXISTING_SKIP;
	if (g3_print_options_wanted()) {
		if (print_options(&o, shard, &ro, argc - optind, argv + optind))
			rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
		goto cleanup;
	}
	if (optind + 1 < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[optind + 1]);
		goto cleanup;
	}
	o.source = optind < argc ? argv[optind] : NULL;
	if (shard) {
		long n = 0;

		if ((rc = g3_shard_parse(shard, &o.shard, &n, &err)))
			goto cleanup;
		if (o.shards && o.shards != n) {
			rc = g3_err_set(&err, G3_USAGE, "--shard %s and --shards %ld disagree", shard,
					o.shards);
			goto cleanup;
		}
		o.shards = n;
	} else if (o.shards) {
		const char *idx = g3_env("JOB_COMPLETION_INDEX");

		if (!idx) {
			rc = g3_err_set(&err, G3_USAGE, "--shards %ld without a shard index", o.shards);
			g3_err_hint(&err, "give --shard I/N, or run as an Indexed Job "
				    "(JOB_COMPLETION_INDEX)");
			goto cleanup;
		}
		if ((rc = g3_parse_long("JOB_COMPLETION_INDEX", idx, 0, o.shards - 1, &o.shard,
					&err)))
			goto cleanup;
	}
	if (o.secret_name && !o.patch_secret) {
		rc = g3_err_set(&err, G3_USAGE, "--secret-name goes with --patch-secret");
		goto cleanup;
	}
	if (o.secret_name && !g3_k8s_name_ok(o.secret_name)) {
		rc = g3_err_set(&err, G3_USAGE, "\"%s\" is not a valid Secret name (lowercase "
				"letters, digits, '-' and '.')", o.secret_name);
		goto cleanup;
	}
	g3_remote_options_apply(&ro);
	restore_credentials_dir = o.credentials_dir;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (env_source(o.source, &base)) {
		if (o.filter) {
			rc = g3_err_set(&err, G3_USAGE, "--table, --exclude-table and "
					"--exclude-table-data apply to a snapshot or one dump");
			goto cleanup;
		}
		if (o.trace_path && (rc = g3_trace_open(o.trace_path, &o.trace, &err)))
			goto cleanup;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		env_code = env_restore(&o, base);
		goto cleanup;
	}
	if (!o.source) {
		rc = g3_err_set(&err, G3_USAGE, "no source");
		g3_err_hint(&err, "give a dump file, a snapshot, '-' for standard input, or an "
			    "environment (s3://BUCKET/ENVIRONMENT/VERSION/ or BUCKET, ENVIRONMENT "
			    "and VERSION)");
		goto cleanup;
	}
	if (o.secret_out && !strcmp(o.secret_out, "-")) {
		rc = g3_err_set(&err, G3_USAGE, "--secret-out - applies to a whole-environment "
				"restore; for a snapshot or one dump give the file 'gen3db create' wrote");
		goto cleanup;
	}
	restore_secret_file = o.secret_out;
	if (o.secret_out) {
		/* generated passwords are merged into it: it must read back */
		g3_k8s_secrets old;

		rc = g3_k8s_secrets_read(o.secret_out, &old, &err);
		g3_k8s_secrets_release(&old);
		if (rc)
			goto cleanup;
	}
	if (o.n_services || o.shards || o.parallel) {
		rc = g3_err_set(&err, G3_USAGE, "--service, --shard and --parallel-services "
				"apply to a whole-environment restore");
		g3_err_hint(&err, "give an s3:// prefix ending in '/' or a directory in the gen3 "
			    "layout");
		goto cleanup;
	}
	if (o.patch_secret && (rc = g3_k8s_client_init(&k8s, &err)))
		goto cleanup;
	if (o.trace_path && (rc = g3_trace_open(o.trace_path, &o.trace, &err)))
		goto cleanup;

	/* source -> plan, all before touching a server */
	in.sql_script = o.sql_script;
	if ((rc = input_open(o.source, &in, &err)))
		goto cleanup;
	rc = in.kind == KIND_SNAPSHOT ? snapshot_plan(&o, &in, &plan, &err)
				      : plan_plain(&o, &plan, &err);
	if (rc || (rc = filter_check_plan(&o, &plan, &err)) ||
	    (rc = check_secret_names(&plan, &err)))
		goto cleanup;
	if (o.patch_secret && (rc = patch_names(&o, &plan, &names, &err)))
		goto cleanup;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (plan.n && ((rc = g3_pgconf_master(&conf, o.master_url, &err)) ||
		       (rc = g3_pg_connect(&conf, (int)o.wait, &master, &err))))
		goto cleanup;
	memset(&to, 0, sizeof(to));
	to.clean = o.clean;
	to.skip_existing = o.on_existing == G3_ON_EXISTING_SKIP;
	to.no_create = o.no_create;
	to.generate_password = o.secret_out != NULL;
	to.wait_seconds = (int)o.wait;
	for (size_t i = 0; i < plan.n; i++)
		if ((rc = g3_target_guard_conn(master, plan.dbs[i].svc.database,
					       plan.dbs[i].svc.username, &err)))
			goto cleanup;
	for (size_t i = 0; i < plan.n; i++) {
		double ts = g3_trace_now(o.trace);

		rc = g3_pgtarget_prepare(master, &conf, &plan.dbs[i].svc, &to, &plan.dbs[i].target,
					 &err);
		trace_phase(&o, "prepare", plan.dbs[i].svc.database, ts, rc, &err);
		if (rc)
			goto cleanup;
	}

	env.o = &o;
	env.conf = &conf;
	g3_progress_init(in.src->size);
	g3_progress_set_totals(in.src->size, -1);
	/* --on-existing skip: nothing to read when every target is skipped */
	if (!all_skipped(&plan)) {
		rc = in.kind == KIND_SNAPSHOT ? snapshot_load(&env, &in, &plan, &err)
					      : plain_load(&env, &in, &plan, &err);
		if (rc)
			goto cleanup;
	}
	if (restore_interrupted) {
		rc = g3_err_set(&err, G3_FAIL, "interrupted");
		goto cleanup;
	}
	for (size_t i = 0; i < plan.n; i++) {
		double ts = g3_trace_now(o.trace);

		rc = g3_pgtarget_commit(master, &plan.dbs[i].target, &err);
		if (!plan.dbs[i].target.skipped)
			trace_phase(&o, "swap", plan.dbs[i].svc.database, ts, rc, &err);
		if (rc)
			goto cleanup;
		plan.dbs[i].target.side_created = 0;
	}
	g3_progress_finish();
	report(&o, &in, &plan, now_s() - t0);
	reported = 1;
	recorded = 1;
	if ((rc = record_generated(&o, &conf, &plan, &err)))
		goto cleanup;
	if (o.patch_secret && (rc = patch_secrets(&o, &conf, &k8s, &plan, names, &err)))
		goto cleanup;
cleanup:
	g3_progress_finish();
	if (rc && err.msg[0])
		g3_log_err(&err);
	if (rc && o.json && env_code < 0)
		json_failure(&o, &plan, reported, rc, &err);
	if (rc && !recorded) {
		/* a later commit failed: the databases already in place keep
		 * the roles created for them, and their passwords */
		g3_err rerr;

		g3_err_init(&rerr);
		if (record_generated(&o, &conf, &plan, &rerr))
			g3_log_err(&rerr);
	}
	/* in reverse: a role two targets share goes with the first one's
	 * side database, the last to be dropped */
	for (size_t i = plan.n; i-- > 0;) {
		/* workers and leader close before their side database goes */
		g3_pgload_stop(plan.dbs[i].load);
		PQfinish(plan.dbs[i].leader);
		plan.dbs[i].leader = NULL;
		if (rc && master)
			g3_pgtarget_abort(master, &plan.dbs[i].target);
	}
	PQfinish(master);
	input_close(&in);
	for (size_t i = 0; names && i < plan.n; i++)
		free(names[i]);
	free(names);
	plan_release(&plan);
	g3_pgconf_release(&conf);
	g3_strlist_free(o.maps, o.n_maps);
	g3_strlist_free(o.services, o.n_services);
	g3_strlist_free(o.indices, o.n_indices);
	filter_free(&o);
	free(base);
	g3_k8s_client_release(&k8s);
	g3_remote_options_release(&ro);
	if (o.trace) {
		/* after every loader stopped: the last records are in */
		g3_err_init(&err);
		if (g3_trace_close(o.trace, &err))
			g3_log_err(&err);
	}
	return env_code >= 0 ? env_code : g3_exit_code(rc);
}
