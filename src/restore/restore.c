/*
 * gen3db restore: a source spec -> a plan -> loaders.
 *
 * The source (a path or "-", later http(s) and s3 URLs through g3_source)
 * is opened and its kind told from its first bytes; the plan names the
 * target databases; each kind has a loader that streams the source once
 * into the targets. Today: plain SQL (psql scripts from pg_dump, plain,
 * gzip or zstd compressed) into one database. Snapshots and Elasticsearch
 * add a kind and a loader each, next to plain_load().
 *
 * Every target is loaded into a side database and renamed into place only
 * when everything succeeded (src/common/pgtarget.h).
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../commands.h"
#include "../common/log.h"
#include "../common/opts.h"
#include "../common/pg.h"
#include "../common/pgload.h"
#include "../common/pgtarget.h"
#include "../common/provision.h"
#include "../common/snapreader.h"
#include "../common/snapshot.h"
#include "../common/source.h"
#include "../common/sqlscript.h"
#include "../common/strbuf.h"

#define READ_BYTES (1024 * 1024)
#define MAX_JOBS 32

struct restore_opts {
	const char *source;
	const char *database;
	char **maps;
	size_t n_maps;
	long jobs;
	int clean;
	int no_create;
	int json;
	const char *master_url;
	long wait;
	const char *release;
};

enum {
	OPT_DATABASE = G3_OPT_COMMON_LAST + 1, OPT_MAP, OPT_JOBS, OPT_CLEAN,
	OPT_NO_CREATE, OPT_JSON, OPT_MASTER, OPT_WAIT, OPT_RELEASE, OPT_HELP
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
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
	"usage: gen3db restore SOURCE [options]\n"
	"\n"
	"Restore a PostgreSQL database from a plain pg_dump SQL file (.sql,\n"
	".sql.gz, .sql.zst; the compression is told from the content) or '-'\n"
	"for standard input. The data is loaded as the service role, so the\n"
	"restored objects belong to it, into a side database that replaces the\n"
	"target only when everything has loaded: a failed or interrupted restore\n"
	"never leaves a database that looks complete.\n"
	"\n"
	"Target:\n"
	"      --database NAME          the database to restore (else SERVICE_PGDB,\n"
	"                               else <file name>_<release> with --release)\n"
	"      --release NAME           Gen3 release for names <service>_<release>\n"
	"      --map OLD=NEW            rename a database of a snapshot (repeatable)\n"
	"  The service role is SERVICE_PGUSER (default: the database name) with the\n"
	"  password in SERVICE_PGPASS; the role and database are provisioned as\n"
	"  'gen3db create' does.\n"
	"      --clean                  replace a target that already has tables\n"
	"                               (its content stays until the new one is complete)\n"
	"      --no-create              do not create or change the role (it must exist)\n"
	"\n"
	"Loading:\n"
	"      --jobs N                 parallel connections for data and indexes\n"
	"                               (default 2)\n"
	"      --json                   print a summary object on standard output\n"
	"\n"
	"Master connection (libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE,\n"
	"PGSSLMODE, ... or):\n"
	"      --master URL             postgresql://user@host:port/db (no password)\n"
	"      --wait SECONDS           wait this long for the server (default 300)\n"
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 restored, 1 failure (the target is unchanged), 2 usage or\n"
	"bad input (nothing was changed), 3 the server was unreachable within --wait\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the source and its kind ----------------------------------------- */

enum source_kind { KIND_PLAIN_SQL, KIND_SNAPSHOT };

struct input {
	g3_source *src;
	g3_reader *rd;          /* one reading path: tar members or one raw stream */
	char *buf;              /* READ_BYTES */
	enum source_kind kind;
};

static g3_rc input_open(const char *spec, struct input *in, g3_err *err)
{
	const char *name;
	int64_t size;
	g3_rc rc;

	in->buf = g3_xmalloc(READ_BYTES);
	if ((rc = g3_source_open(spec, &in->src, err)))
		return rc;
	if ((rc = g3_reader_open(in->src, &in->rd, err)))
		return rc;
	if (g3_reader_kind(in->rd) == G3_READER_ARCHIVE) {
		in->kind = KIND_SNAPSHOT;
		return G3_OK;
	}
	in->kind = KIND_PLAIN_SQL;
	/* raw: the one member is the whole decoded stream */
	if (g3_reader_next(in->rd, &name, &size, err) < 0)
		return err->rc ? err->rc : G3_FAIL;
	return G3_OK;
}

static void input_close(struct input *in)
{
	g3_reader_close(in->rd);
	g3_source_close(in->src);
	free(in->buf);
}

/* ---- the plan -------------------------------------------------------- */

struct plan {
	g3_service svc;         /* the target database and its role */
};

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

static g3_rc plan_plain(const struct restore_opts *o, struct plan *p, g3_err *err)
{
	const char *db = o->database ? o->database : g3_env("SERVICE_PGDB");
	const char *user = g3_env("SERVICE_PGUSER");
	const char *pass = g3_env("SERVICE_PGPASS");
	g3_rc rc;

	if (o->n_maps)
		return g3_err_set(err, G3_USAGE, "--map applies to snapshots, not to a plain SQL file");
	if (db) {
		p->svc.database = g3_xstrdup(db);
	} else if (o->release && strcmp(o->source, "-")) {
		char *b = base_name(o->source);
		g3_buf n = G3_BUF_INIT;

		g3_buf_addf(&n, "%s_%s", b, o->release);
		free(b);
		p->svc.database = g3_buf_detach(&n);
	} else {
		rc = g3_err_set(err, G3_USAGE, "no target database");
		g3_err_hint(err, "give --database NAME (or SERVICE_PGDB)");
		return rc;
	}
	p->svc.name = g3_xstrdup(p->svc.database);
	p->svc.username = g3_xstrdup(user ? user : p->svc.database);
	if (!pass) {
		rc = g3_err_set(err, G3_USAGE, "no password for role \"%s\"", p->svc.username);
		g3_err_hint(err, "set SERVICE_PGPASS: the data is loaded as the service role");
		return rc;
	}
	p->svc.password = g3_xstrdup(pass);
	if ((rc = g3_pg_check_name("database", p->svc.database, err)) ||
	    (rc = g3_pg_check_name("role", p->svc.username, err)))
		return rc;
	return G3_OK;
}

/* ---- the plain SQL loader ------------------------------------------ */

struct plain_ctx {
	g3_pgload *load;
	int in_copy;
};

static g3_rc on_statement(void *ctx, const g3_sqlstmt *st, g3_err *err)
{
	struct plain_ctx *c = ctx;

	if (st->copy_in) {
		c->in_copy = 1;
		return g3_pgload_copy_begin(c->load, st->sql, st->line, err);
	}
	return g3_pgload_statement(c->load, st->sql, st->line, err);
}

static g3_rc on_copy_data(void *ctx, const char *data, size_t len, g3_err *err)
{
	struct plain_ctx *c = ctx;

	return g3_pgload_copy_data(c->load, data, len, err);
}

static g3_rc on_copy_end(void *ctx, long lines, g3_err *err)
{
	struct plain_ctx *c = ctx;

	c->in_copy = 0;
	return g3_pgload_copy_end(c->load, lines, err);
}

/* \restrict and \unrestrict guard against a malicious server's output
 * being run as psql commands: nothing to do here, where no meta-command
 * but these runs. \connect switches databases (pg_dump --create and
 * pg_dumpall output), which a single-database restore refuses. */
static g3_rc on_meta(void *ctx, const char *name, const char *arg, long line,
		     g3_err *err)
{
	g3_rc rc;

	(void)ctx;
	if (!strcmp(name, "restrict") || !strcmp(name, "unrestrict"))
		return G3_OK;
	rc = g3_err_set(err, G3_USAGE,
			"line %ld: \"\\%s %s\" switches databases (output of pg_dump --create "
			"or pg_dumpall)", line, name, arg);
	g3_err_hint(err, "dump one database without --create; gen3db restore creates the "
		    "target database itself");
	return rc;
}

static const struct g3_sqlscript_cb plain_cb = {
	on_statement, on_copy_data, on_copy_end, on_meta
};

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

static g3_rc plain_load(struct input *in, g3_pgload *load, g3_err *err)
{
	struct plain_ctx ctx = { load, 0 };
	g3_sqlscript *s = g3_sqlscript_new(&plain_cb, &ctx);
	g3_rc rc = G3_OK;

	for (;;) {
		const char *data = in->buf;
		ssize_t n = g3_reader_read(in->rd, in->buf, READ_BYTES, err);

		if (interrupted) {
			rc = g3_err_set(err, G3_FAIL, "interrupted");
			break;
		}
		if (n < 0) {
			rc = err->rc ? err->rc : G3_FAIL;
			break;
		}
		if (n == 0) {
			rc = g3_sqlscript_finish(s, err);
			break;
		}
		if ((rc = g3_sqlscript_feed(s, data, (size_t)n, err)))
			break;
	}
	if (!rc)
		rc = g3_pgload_finish(load, err);
	g3_sqlscript_free(s);
	return rc;
}

/* ---- report ---------------------------------------------------------- */

static void report(const struct restore_opts *o, const struct input *in,
		   const struct plan *p, g3_pgload *load, double seconds)
{
	const g3_pgload_stats *st = g3_pgload_get_stats(load);
	const g3_pgload_table *t;
	size_t n;

	t = g3_pgload_tables(load, &n);
	for (size_t i = 0; i < n; i++)
		if (t[i].copies)
			g3_info("  %s: %lld rows, %.1f MB in %.2f s", t[i].name, t[i].rows,
				(double)t[i].bytes / 1e6, t[i].seconds);
	g3_info("restored database \"%s\" from \"%s\": %lld rows, %.1f MB in %.1f s "
		"(data %.1f s, indexes, constraints and analyze %.1f s; %ld indexes and "
		"constraints, %ld foreign keys)",
		p->svc.database, in->src->name, st->rows, (double)st->bytes / 1e6, seconds,
		st->data_seconds, st->post_seconds, st->index_jobs, st->fk_jobs);
	if (st->skipped_owner)
		g3_info("skipped %ld ALTER ... OWNER TO statements: the objects belong to role \"%s\"",
			st->skipped_owner, p->svc.username);
	if (o->json) {
		json_object *root = json_object_new_object();
		json_object *tables = json_object_new_array();

		json_object_object_add(root, "database", json_object_new_string(p->svc.database));
		json_object_object_add(root, "role", json_object_new_string(p->svc.username));
		json_object_object_add(root, "source", json_object_new_string(in->src->name));
		json_object_object_add(root, "format", json_object_new_string("sql"));
		json_object_object_add(root, "compression",
				       json_object_new_string(g3_reader_filter(in->rd)));
		json_object_object_add(root, "jobs", json_object_new_int((int)o->jobs));
		for (size_t i = 0; i < n; i++) {
			json_object *e;

			if (!t[i].copies)
				continue;
			e = json_object_new_object();
			json_object_object_add(e, "name", json_object_new_string(t[i].name));
			json_object_object_add(e, "rows", json_object_new_int64(t[i].rows));
			json_object_object_add(e, "bytes", json_object_new_int64(t[i].bytes));
			json_object_object_add(e, "seconds", json_object_new_double(t[i].seconds));
			json_object_array_add(tables, e);
		}
		json_object_object_add(root, "tables", tables);
		json_object_object_add(root, "rows", json_object_new_int64(st->rows));
		json_object_object_add(root, "bytes", json_object_new_int64(st->bytes));
		json_object_object_add(root, "seconds", json_object_new_double(seconds));
		json_object_object_add(root, "data_seconds", json_object_new_double(st->data_seconds));
		json_object_object_add(root, "post_data_seconds", json_object_new_double(st->post_seconds));
		json_object_object_add(root, "indexes_and_constraints", json_object_new_int64(st->index_jobs));
		json_object_object_add(root, "foreign_keys", json_object_new_int64(st->fk_jobs));
		json_object_object_add(root, "skipped_owner_statements", json_object_new_int64(st->skipped_owner));
		json_object_object_add(root, "skipped_comments", json_object_new_int64(st->skipped_comments));
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		fflush(stdout);
		json_object_put(root);
	}
}

/* ---- the command ------------------------------------------------------- */

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o;
	struct input in;
	struct plan plan;
	g3_pgtarget target;
	g3_pgconf conf;
	g3_err err;
	PGconn *master = NULL, *leader = NULL;
	g3_pgload *load = NULL;
	struct connect_ctx cctx;
	g3_pgload_opts lo;
	g3_pgtarget_opts to;
	struct sigaction sa;
	double t0 = now_s();
	g3_rc rc = G3_OK;
	int c;

	memset(&o, 0, sizeof(o));
	memset(&in, 0, sizeof(in));
	memset(&plan, 0, sizeof(plan));
	g3_service_init(&plan.svc);
	g3_pgtarget_init(&target);
	g3_pgconf_init(&conf);
	g3_err_init(&err);
	o.wait = 300;
	o.jobs = 2;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hj:", long_options, NULL)) != -1) {
		int common = g3_common_option(c, optarg, &err);

		if (common < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (common)
			continue;
		switch (c) {
		case OPT_DATABASE: o.database = optarg; break;
		case OPT_MAP:
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
				rc = g3_err_set(&err, G3_USAGE, "--map must be OLD=NEW, not \"%s\"", optarg);
				goto cleanup;
			}
			g3_strlist_add(&o.maps, &o.n_maps, optarg);
			break;
		case 'j':
		case OPT_JOBS:
			if ((rc = g3_parse_long("--jobs", optarg, 1, MAX_JOBS, &o.jobs, &err)))
				goto cleanup;
			break;
		case OPT_CLEAN: o.clean = 1; break;
		case OPT_NO_CREATE: o.no_create = 1; break;
		case OPT_JSON: o.json = 1; break;
		case OPT_MASTER: o.master_url = optarg; break;
		case OPT_WAIT:
			if ((rc = g3_parse_long("--wait", optarg, 0, 86400, &o.wait, &err)))
				goto cleanup;
			break;
		case OPT_RELEASE: o.release = optarg; break;
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
	if (optind >= argc) {
		rc = g3_err_set(&err, G3_USAGE, "no source");
		g3_err_hint(&err, "give a dump file, or '-' for standard input");
		goto cleanup;
	}
	if (optind + 1 < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[optind + 1]);
		goto cleanup;
	}
	o.source = argv[optind];

	/* source -> plan, all before touching a server */
	if ((rc = input_open(o.source, &in, &err)))
		goto cleanup;
	if ((rc = plan_plain(&o, &plan, &err)))
		goto cleanup;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if ((rc = g3_pgconf_master(&conf, o.master_url, &err)) ||
	    (rc = g3_pg_connect(&conf, (int)o.wait, &master, &err)))
		goto cleanup;
	memset(&to, 0, sizeof(to));
	to.clean = o.clean;
	to.no_create = o.no_create;
	to.wait_seconds = (int)o.wait;
	if ((rc = g3_pgtarget_prepare(master, &conf, &plan.svc, &to, &target, &err)))
		goto cleanup;
	if ((rc = g3_pgtarget_connect(&conf, &target, (int)o.wait, &leader, &err)))
		goto cleanup;

	memset(&lo, 0, sizeof(lo));
	cctx.conf = &conf;
	cctx.target = &target;
	cctx.wait = (int)o.wait;
	lo.jobs = (int)o.jobs;
	lo.connect = connect_worker;
	lo.connect_ctx = &cctx;
	lo.origin = "line";
	if ((rc = g3_pgload_start(&lo, leader, &load, &err)))
		goto cleanup;
	if ((rc = plain_load(&in, load, &err)))
		goto cleanup;

	/* every connection to the side database closes before the rename;
	 * the loader keeps its statistics for the report */
	g3_pgload_stop(load);
	PQfinish(leader);
	leader = NULL;
	if (interrupted) {
		rc = g3_err_set(&err, G3_FAIL, "interrupted");
		goto cleanup;
	}
	if ((rc = g3_pgtarget_commit(master, &target, &err)))
		goto cleanup;
	target.side_created = 0;
	report(&o, &in, &plan, load, now_s() - t0);
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	g3_pgload_free(load);
	PQfinish(leader);
	if (rc && master)
		g3_pgtarget_abort(master, &target);
	PQfinish(master);
	input_close(&in);
	g3_pgtarget_release(&target);
	g3_service_release(&plan.svc);
	g3_pgconf_release(&conf);
	g3_strlist_free(o.maps, o.n_maps);
	return g3_exit_code(rc);
}
