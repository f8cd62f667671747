/*
 * A stream restored (kinds.h: a snapshot, a plain dump, a pg_dump
 * archive): its kind is told once by input_open and picks its row of
 * source_kinds; then, the same for every kind: plan (before any server is
 * touched), prepare every target (a side database each), load, swap every
 * target into place, report, and record the Secrets. Every target is
 * loaded into a side database and renamed into place only when everything
 * succeeded and was verified (src/common/pg/pgtarget.h); a failure drops
 * the side databases and leaves every target as it was.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "../common/gen3/k8s.h"
#include "../common/gen3/secret.h"
#include "kinds.h"
#include "restore_filter.h"

static const struct stream_kind source_kinds[] = {
	[KIND_PLAIN_SQL] = { "plain dump", plain_plan, plain_load },
	[KIND_SNAPSHOT] = { "snapshot", snapshot_plan, snapshot_load },
	[KIND_ARCHIVE] = { "pg_dump archive", plain_plan, plain_load },
};

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		db_load_release(&p->dbs[i]);
	free(p->dbs);
	es_plan_free(p->es);
	g3_manifest_release(&p->manifest);
	memset(p, 0, sizeof(*p));
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

/* Every database target skipped (--on-existing skip), and no index to load. */
static int all_skipped(const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->dbs[i].target.skipped)
			return 0;
	return !es_pending(p);
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


void source_json_failure(const struct restore_opts *o, g3_rc rc, const g3_err *err)
{
	struct plan none;

	memset(&none, 0, sizeof(none));
	json_failure(o, &none, 0, rc, err);
}

/* ---- the run ------------------------------------------------------------ */

struct source_run {
	struct restore_opts *o;
	const struct stream_kind *kind;   /* chosen once, from the input's bytes */
	struct input in;
	struct plan plan;
	g3_pgconf conf;
	PGconn *master;
	g3_k8s_client k8s;
	char **names;           /* --patch-secret: each target's Secret */
	int reported, recorded;
};

/* What a stream's restore refuses before any I/O. */
static g3_rc source_check(const struct restore_opts *o, g3_err *err)
{
	g3_rc rc;

	if (!o->source) {
		rc = g3_err_set(err, G3_USAGE, "no source");
		g3_err_hint(err, "give a dump file, a snapshot, '-' for standard input, or an "
			    "environment (s3://BUCKET/ENVIRONMENT/VERSION/ or BUCKET, ENVIRONMENT "
			    "and VERSION)");
		return rc;
	}
	if (o->secret_out && !strcmp(o->secret_out, "-"))
		return g3_err_set(err, G3_USAGE, "--secret-out - applies to a whole-environment "
				  "restore; for a snapshot or one dump give the file 'gen3db create' "
				  "wrote");
	if (o->secret_out) {
		/* generated passwords are merged into it: it must read back */
		g3_k8s_secrets old;

		rc = g3_k8s_secrets_read(o->secret_out, &old, err);
		g3_k8s_secrets_release(&old);
		if (rc)
			return rc;
	}
	if (o->n_services || o->shards || o->parallel) {
		rc = g3_err_set(err, G3_USAGE, "--service, --shard and --parallel-services "
				"apply to a whole-environment restore");
		g3_err_hint(err, "give an s3:// prefix ending in '/' or a directory in the gen3 "
			    "layout");
		return rc;
	}
	return G3_OK;
}

/* source -> kind -> plan, all before touching a server */
static g3_rc source_plan(struct source_run *r, g3_err *err)
{
	struct restore_opts *o = r->o;
	g3_rc rc;

	if ((rc = source_check(o, err)) ||
	    (o->patch_secret && (rc = g3_k8s_client_init(&r->k8s, err))) ||
	    (o->trace_path && (rc = g3_trace_open(o->trace_path, &o->trace, err))))
		return rc;
	r->in.sql_script = o->sql_script;
	r->in.interrupted = &restore_interrupted;
	if ((rc = input_open(o->source, &r->in, err)))
		return rc;
	r->kind = &source_kinds[r->in.kind];
	if ((rc = r->kind->plan(o, &r->in, &r->plan, err)) ||
	    (rc = filter_check_plan(o, &r->plan, err)) ||
	    (rc = check_secret_names(&r->plan, err)))
		return rc;
	if (o->patch_secret && (rc = patch_names(o, &r->plan, &r->names, err)))
		return rc;
	return G3_OK;
}

/* The master connection, then every target checked and prepared (its
 * side database created, its role provisioned). */
static g3_rc prepare_targets(struct source_run *r, g3_err *err)
{
	const struct restore_opts *o = r->o;
	struct plan *p = &r->plan;
	g3_pgtarget_opts to;
	g3_rc rc;

	if (p->n && ((rc = g3_pgconf_master(&r->conf, o->master_url, err)) ||
		     (rc = g3_pg_connect(&r->conf, (int)o->wait, &r->master, err))))
		return rc;
	restore_target_opts(o, &to);
	for (size_t i = 0; i < p->n; i++)
		if ((rc = g3_target_guard_conn(r->master, p->dbs[i].svc.database,
					       p->dbs[i].svc.username, err)))
			return rc;
	for (size_t i = 0; i < p->n; i++) {
		double ts = g3_trace_now(o->trace);

		rc = g3_pgtarget_prepare(r->master, &r->conf, &p->dbs[i].svc, &to,
					 &p->dbs[i].target, err);
		trace_phase(o, "prepare", p->dbs[i].svc.database, ts, rc, err);
		if (rc)
			return rc;
	}
	return G3_OK;
}

/* The kind's load, then every target swapped into place. */
static g3_rc load_and_commit(struct source_run *r, g3_err *err)
{
	const struct restore_opts *o = r->o;
	struct plan *p = &r->plan;
	struct restore_env env;
	g3_rc rc;

	env.o = o;
	env.conf = &r->conf;
	g3_progress_init(r->in.src->size);
	g3_progress_set_totals(r->in.src->size, -1);
	/* --on-existing skip: nothing to read when every target is skipped */
	if (!all_skipped(p) && (rc = r->kind->load(&env, &r->in, p, err)))
		return rc;
	if (restore_interrupted)
		return g3_err_set(err, G3_FAIL, "interrupted");
	for (size_t i = 0; i < p->n; i++) {
		double ts = g3_trace_now(o->trace);

		rc = g3_pgtarget_commit(r->master, &p->dbs[i].target, err);
		if (!p->dbs[i].target.skipped)
			trace_phase(o, "swap", p->dbs[i].svc.database, ts, rc, err);
		if (rc)
			return rc;
		p->dbs[i].target.side_created = 0;
	}
	return G3_OK;
}

/* A failed run reported, and every target not in place dropped. */
static void source_release(struct source_run *r, g3_rc rc, g3_err *err)
{
	struct plan *p = &r->plan;

	g3_progress_finish();
	if (rc && err->msg[0])
		g3_log_err(err);
	if (rc && r->o->json)
		json_failure(r->o, p, r->reported, rc, err);
	if (rc)
		err->msg[0] = '\0';   /* reported */
	if (rc && !r->recorded) {
		/* a later commit failed: the databases already in place keep
		 * the roles created for them, and their passwords */
		g3_err rerr;

		g3_err_init(&rerr);
		if (record_generated(r->o, &r->conf, p, &rerr))
			g3_log_err(&rerr);
	}
	/* in reverse: a role two targets share goes with the first one's
	 * side database, the last to be dropped */
	for (size_t i = p->n; i-- > 0;) {
		/* workers and leader close before their side database goes */
		g3_pgload_stop(p->dbs[i].load);
		PQfinish(p->dbs[i].leader);
		p->dbs[i].leader = NULL;
		if (rc && r->master)
			g3_pgtarget_abort(r->master, &p->dbs[i].target);
	}
	PQfinish(r->master);
	input_close(&r->in);
	for (size_t i = 0; r->names && i < p->n; i++)
		free(r->names[i]);
	free(r->names);
	plan_release(p);
	g3_pgconf_release(&r->conf);
	g3_k8s_client_release(&r->k8s);
}

g3_rc source_restore(struct restore_opts *o, void (*catch_signals)(void), g3_err *err)
{
	struct source_run r;
	double t0 = g3_clock_now();
	g3_rc rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	g3_manifest_init(&r.plan.manifest);
	g3_pgconf_init(&r.conf);
	if ((rc = source_plan(&r, err)))
		goto cleanup;
	catch_signals();
	if ((rc = prepare_targets(&r, err)) || (rc = load_and_commit(&r, err)))
		goto cleanup;
	g3_progress_finish();
	report(o, &r.in, &r.plan, g3_clock_now() - t0);
	r.reported = 1;
	r.recorded = 1;
	if ((rc = record_generated(o, &r.conf, &r.plan, err)))
		goto cleanup;
	if (o->patch_secret)
		rc = patch_secrets(o, &r.conf, &r.k8s, &r.plan, r.names, err);
cleanup:
	source_release(&r, rc, err);
	return rc;
}
