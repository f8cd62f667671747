/*
 * The load core of the restore command (load.h): one database loaded into
 * its side database by a leader and workers (src/common/pg/pgload.h), fed
 * the psql scripts of every kind (a plain dump, pg_restore's output, a
 * snapshot's pre-data, post-data and sequences), and a service's role and
 * password. Every kind of source goes through these; none of them is
 * known here.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "../common/gen3/k8s.h"
#include "../common/gen3/secret.h"
#include "../common/pg/sqlinput.h"
#include "../common/pg/sqlscript.h"
#include "load.h"

/* ---- credentials ------------------------------------------------------ */

static g3_rc read_small(const char *dir, const char *service, const char *key, char **out,
			int required, g3_err *err)
{
	g3_buf p = G3_BUF_INIT;
	struct stat st;
	g3_rc rc = G3_OK;

	*out = NULL;
	g3_buf_addf(&p, "%s/%s/%s", dir, service, key);
	if (stat(p.data, &st)) {
		if (required)
			rc = g3_err_set(err, G3_USAGE, "no \"%s\" file for service \"%s\": \"%s\" is "
					"missing", key, service, p.data);
	} else {
		/* the first line, checked like a password file (no control bytes) */
		rc = g3_secret_read_file(p.data, out, err);
	}
	g3_buf_release(&p);
	return rc;
}

g3_rc credentials_read(const char *dir, const char *service, g3_service *svc, int *found,
		       g3_err *err)
{
	g3_buf p = G3_BUF_INIT;
	struct stat st;
	char *db = NULL, *user = NULL, *pass = NULL;
	g3_rc rc;

	*found = 0;
	g3_buf_addf(&p, "%s/%s", dir, service);
	if (stat(p.data, &st) || !S_ISDIR(st.st_mode)) {
		g3_buf_release(&p);
		return G3_OK;
	}
	g3_buf_release(&p);
	if ((rc = read_small(dir, service, "password", &pass, 1, err)) ||
	    (rc = read_small(dir, service, "username", &user, 0, err)) ||
	    (rc = read_small(dir, service, "database", &db, 0, err)))
		goto cleanup;
	g3_str_move(&svc->database, &db);
	g3_str_move(&svc->username, &user);
	g3_secret_free(svc->password);
	svc->password = pass;
	pass = NULL;
	*found = 1;
cleanup:
	free(db);
	free(user);
	g3_secret_free(pass);
	return rc;
}

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

g3_rc plan_role(const struct restore_opts *o, struct db_load *d, const char *user, g3_err *err)
{
	const char *pass = o->helm.pgpass;
	const char *service = d->service ? d->service : d->from;
	int found = 0;
	g3_rc rc;

	d->svc.name = g3_xstrdup(service ? service : d->svc.database);
	if (o->credentials_dir && service) {
		if ((rc = credentials_read(o->credentials_dir, service, &d->svc, &found, err)))
			return rc;
		if (found) {
			if (!d->svc.username)
				d->svc.username = g3_xstrdup(d->svc.database);
			goto check;
		}
	}
	d->svc.username = g3_xstrdup(user ? user : d->svc.database);
	if (o->secret_out) {
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
		if ((rc = g3_k8s_secret_password(o->secret_out, d->secret_name,
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

void restore_target_opts(const struct restore_opts *o, g3_pgtarget_opts *to)
{
	memset(to, 0, sizeof(*to));
	to->clean = o->clean;
	to->skip_existing = o->on_existing == G3_ON_EXISTING_SKIP;
	to->no_create = o->no_create;
	to->generate_password = o->secret_out != NULL;
	to->wait_seconds = (int)o->wait;
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

	d->t0 = g3_clock_now();
	if ((rc = g3_pgtarget_connect(env->conf, &d->target, (int)env->o->wait, &d->leader, err)))
		return rc;
	memset(&lo, 0, sizeof(lo));
	cctx.conf = env->conf;
	cctx.target = &d->target;
	cctx.wait = (int)env->o->wait;
	lo.jobs = (int)env->o->jobs;
	lo.maintenance_work_mem_kb = (long long)(env->o->build_memory / 1024);
	lo.no_analyze = env->o->no_analyze;
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
	d->seconds = g3_clock_now() - d->t0;
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
		snprintf(secs, sizeof(secs), "%.3f", g3_clock_now() - c->t0);
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
		c->t0 = g3_clock_now();
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
	if (g3_progress_enabled())
		g3_progress_item_add(c->table, g3_count_newlines(data, len));
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
	int check_end = in->kind != KIND_SNAPSHOT && in->pg_dump;
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

