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
 * when everything succeeded and was verified (src/common/pgtarget.h).
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
#include "../common/sqlscript.h"
#include "../common/strbuf.h"
#include "restore.h"

#define MAX_JOBS 32

enum {
	OPT_DATABASE = G3_OPT_COMMON_LAST + 1, OPT_MAP, OPT_JOBS, OPT_CLEAN,
	OPT_NO_CREATE, OPT_JSON, OPT_MASTER, OPT_WAIT, OPT_RELEASE, OPT_HELP,
	OPT_INDEX, OPT_NO_ES, OPT_NO_ALIAS
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
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "no-es", no_argument, NULL, OPT_NO_ES },
	{ "no-alias", no_argument, NULL, OPT_NO_ALIAS },
	G3_ES_LONG_OPTIONS,
	G3_ESBULK_LONG_OPTIONS,
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
	"usage: gen3db restore SOURCE [options]\n"
	"\n"
	"Restore PostgreSQL databases from a gen3db snapshot (.tar.zst, written by\n"
	"'gen3db dump') or from a plain pg_dump SQL file (.sql, .sql.gz, .sql.zst;\n"
	"the kind and compression are told from the content); SOURCE '-' reads\n"
	"standard input. The data is loaded as the service role, so the restored\n"
	"objects belong to it, into a side database that replaces the target only\n"
	"when everything has loaded and verified: a failed or interrupted restore\n"
	"never leaves a database that looks complete.\n"
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
	"      --wait SECONDS           wait this long for the servers (default 300)\n"
	"\n"
	"Elasticsearch (a snapshot's es/ members; see 'gen3db restore-es' for\n"
	"elasticdump files):\n"
	"      --index NAME             restore only this index of the snapshot (repeatable)\n"
	"      --no-es                  restore only the PostgreSQL databases of a snapshot\n"
	"                               that holds indices\n"
	"      --no-alias               restore into the concrete index NAME; by default\n"
	"                               a new version NAME_<n> is created and alias NAME\n"
	"                               is switched to it once it is complete (--clean\n"
	"                               deletes an existing concrete index NAME first)\n"
	G3_ES_HELP
	G3_ESBULK_HELP
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 restored, 1 failure (the target is unchanged), 2 usage or\n"
	"bad input (nothing was changed), 3 the server was unreachable within --wait\n";

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

static g3_rc input_open(const char *spec, struct input *in, g3_err *err)
{
	const char *name;
	int64_t size;
	g3_rc rc;

	in->buf = g3_xmalloc(RESTORE_READ_BYTES);
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

g3_rc plan_role(struct db_load *d, const char *user, g3_err *err)
{
	const char *pass = g3_env("SERVICE_PGPASS");
	g3_rc rc;

	d->svc.name = g3_xstrdup(d->svc.database);
	d->svc.username = g3_xstrdup(user ? user : d->svc.database);
	if (!pass) {
		rc = g3_err_set(err, G3_USAGE, "no password for role \"%s\"", d->svc.username);
		g3_err_hint(err, "set SERVICE_PGPASS: the data is loaded as the service role");
		return rc;
	}
	d->svc.password = g3_xstrdup(pass);
	if ((rc = g3_pg_check_name("database", d->svc.database, err)) ||
	    (rc = g3_pg_check_name("role", d->svc.username, err)))
		return rc;
	return G3_OK;
}

static struct db_load *plan_add(struct plan *p)
{
	struct db_load *d;

	p->dbs = g3_xrealloc(p->dbs, (p->n + 1) * sizeof(*p->dbs));
	d = &p->dbs[p->n++];
	memset(d, 0, sizeof(*d));
	g3_service_init(&d->svc);
	g3_pgtarget_init(&d->target);
	return d;
}

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct db_load *d = &p->dbs[i];

		g3_pgload_free(d->load);
		PQfinish(d->leader);
		free(d->from);
		g3_service_release(&d->svc);
		g3_pgtarget_release(&d->target);
	}
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

/* ---- psql scripts (plain dumps, pre-data, post-data, sequences) --------- */

struct script_ctx {
	g3_pgload *load;
};

static g3_rc on_statement(void *ctx, const g3_sqlstmt *st, g3_err *err)
{
	struct script_ctx *c = ctx;

	if (st->copy_in)
		return g3_pgload_copy_begin(c->load, st->sql, st->line, err);
	return g3_pgload_statement(c->load, st->sql, st->line, err);
}

static g3_rc on_copy_data(void *ctx, const char *data, size_t len, g3_err *err)
{
	struct script_ctx *c = ctx;

	return g3_pgload_copy_data(c->load, data, len, err);
}

static g3_rc on_copy_end(void *ctx, long lines, g3_err *err)
{
	struct script_ctx *c = ctx;

	return g3_pgload_copy_end(c->load, lines, err);
}

/* \restrict and \unrestrict guard against a malicious server's output
 * being run as psql commands: nothing to do where no other meta-command
 * runs. \connect switches databases (pg_dump --create and pg_dumpall
 * output), which a single-database restore refuses: the target is named
 * by --database, and CREATE DATABASE in such a file would fail as the
 * service role anyway. */
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

static const struct g3_sqlscript_cb script_cb = {
	on_statement, on_copy_data, on_copy_end, on_meta
};

g3_rc load_sql_member(struct input *in, struct db_load *d, g3_err *err)
{
	struct script_ctx ctx = { d->load };
	g3_sqlscript *s = g3_sqlscript_new(&script_cb, &ctx);
	g3_rc rc = G3_OK;

	for (;;) {
		ssize_t n = g3_reader_read(in->rd, in->buf, RESTORE_READ_BYTES, err);

		if (restore_interrupted) {
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
		if ((rc = g3_sqlscript_feed(s, in->buf, (size_t)n, err)))
			break;
	}
	g3_sqlscript_free(s);
	return rc;
}

static g3_rc plain_load(const struct restore_env *env, struct input *in,
			struct plan *p, g3_err *err)
{
	struct db_load *d = &p->dbs[0];
	g3_rc rc;

	if ((rc = db_load_begin(env, d, err)) ||
	    (rc = load_sql_member(in, d, err)))
		return rc;
	return db_load_end(d, err);
}

/* ---- report ---------------------------------------------------------- */

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
		g3_info("  %s: %lld rows, %.1f MB in %.2f s", t[i].name, t[i].rows,
			(double)t[i].bytes / 1e6, t[i].seconds);
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(t[i].name));
		json_object_object_add(e, "rows", json_object_new_int64(t[i].rows));
		json_object_object_add(e, "bytes", json_object_new_int64(t[i].bytes));
		json_object_object_add(e, "seconds", json_object_new_double(t[i].seconds));
		json_object_array_add(tables, e);
	}
	g3_info("restored database \"%s\" from %s%s%s\"%s\": %lld rows, %.1f MB in %.1f s "
		"(data %.1f s, indexes, constraints and analyze %.1f s; %ld indexes and "
		"constraints, %ld foreign keys)", d->svc.database, d->from ? "\"" : "",
		d->from ? d->from : "", d->from ? "\" in " : "", source, st->rows,
		(double)st->bytes / 1e6, d->seconds, st->data_seconds, st->post_seconds,
		st->index_jobs, st->fk_jobs);
	if (st->skipped_owner)
		g3_info("skipped %ld ALTER ... OWNER TO statements: the objects belong to role \"%s\"",
			st->skipped_owner, d->svc.username);
	json_object_object_add(o, "database", json_object_new_string(d->svc.database));
	if (d->from)
		json_object_object_add(o, "from", json_object_new_string(d->from));
	json_object_object_add(o, "role", json_object_new_string(d->svc.username));
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
	return o;
}

static void report(const struct restore_opts *o, const struct input *in,
		   const struct plan *p, double seconds)
{
	json_object *root = json_object_new_object();
	json_object *dbs = json_object_new_array();
	int64_t rows = 0, bytes = 0;

	for (size_t i = 0; i < p->n; i++) {
		const g3_pgload_stats *st = g3_pgload_get_stats(p->dbs[i].load);

		json_object_array_add(dbs, report_db(&p->dbs[i], in->src->name));
		rows += st->rows;
		bytes += st->bytes;
	}
	if (p->n > 1 || (p->n && p->es))
		g3_info("restored %zu databases from \"%s\": %lld rows, %.1f MB in %.1f s", p->n,
			in->src->name, (long long)rows, (double)bytes / 1e6, seconds);
	if (o->json) {
		json_object_object_add(root, "source", json_object_new_string(in->src->name));
		json_object_object_add(root, "format", json_object_new_string(
			in->kind == KIND_SNAPSHOT ? "snapshot" : "sql"));
		json_object_object_add(root, "compression",
				       json_object_new_string(g3_reader_filter(in->rd)));
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

/* ---- the command ------------------------------------------------------- */

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
	struct sigaction sa;
	double t0 = now_s();
	g3_rc rc = G3_OK;
	int c;

	memset(&o, 0, sizeof(o));
	memset(&in, 0, sizeof(in));
	memset(&plan, 0, sizeof(plan));
	g3_manifest_init(&plan.manifest);
	g3_pgconf_init(&conf);
	g3_err_init(&err);
	o.wait = 300;
	o.jobs = 2;
	g3_esbulk_opts_init(&o.es.bulk);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hj:", long_options, NULL)) != -1) {
		int common = g3_common_option(c, optarg, &err);

		if (common < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (common)
			continue;
		common = g3_esbulk_option(&o.es.bulk, c, optarg, &err);
		if (common < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (common)
			continue;
		switch (c) {
		case OPT_INDEX: g3_strlist_add(&o.indices, &o.n_indices, optarg); break;
		case OPT_NO_ES: o.no_es = 1; break;
		case OPT_NO_ALIAS: o.es.no_alias = 1; break;
		case G3_OPT_ES: o.es_url = optarg; break;
		case G3_OPT_ES_CACERT: o.es_cacert = optarg; break;
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
	rc = in.kind == KIND_SNAPSHOT ? snapshot_plan(&o, &in, &plan, &err)
				      : plan_plain(&o, &plan, &err);
	if (rc)
		goto cleanup;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (plan.n && ((rc = g3_pgconf_master(&conf, o.master_url, &err)) ||
		       (rc = g3_pg_connect(&conf, (int)o.wait, &master, &err))))
		goto cleanup;
	memset(&to, 0, sizeof(to));
	to.clean = o.clean;
	to.no_create = o.no_create;
	to.wait_seconds = (int)o.wait;
	for (size_t i = 0; i < plan.n; i++)
		if ((rc = g3_pgtarget_prepare(master, &conf, &plan.dbs[i].svc, &to,
					      &plan.dbs[i].target, &err)))
			goto cleanup;

	env.o = &o;
	env.conf = &conf;
	rc = in.kind == KIND_SNAPSHOT ? snapshot_load(&env, &in, &plan, &err)
				      : plain_load(&env, &in, &plan, &err);
	if (rc)
		goto cleanup;
	if (restore_interrupted) {
		rc = g3_err_set(&err, G3_FAIL, "interrupted");
		goto cleanup;
	}
	for (size_t i = 0; i < plan.n; i++) {
		if ((rc = g3_pgtarget_commit(master, &plan.dbs[i].target, &err)))
			goto cleanup;
		plan.dbs[i].target.side_created = 0;
	}
	report(&o, &in, &plan, now_s() - t0);
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	for (size_t i = 0; i < plan.n; i++) {
		/* workers and leader close before their side database goes */
		g3_pgload_stop(plan.dbs[i].load);
		PQfinish(plan.dbs[i].leader);
		plan.dbs[i].leader = NULL;
		if (rc && master)
			g3_pgtarget_abort(master, &plan.dbs[i].target);
	}
	PQfinish(master);
	input_close(&in);
	plan_release(&plan);
	g3_pgconf_release(&conf);
	g3_strlist_free(o.maps, o.n_maps);
	g3_strlist_free(o.indices, o.n_indices);
	return g3_exit_code(rc);
}
