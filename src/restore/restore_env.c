/*
 * gen3db restore of a whole environment: every service dump and index
 * under s3://BUCKET/ENVIRONMENT/VERSION/ (or a directory laid out the
 * same way, src/common/gen3/gen3layout.h) in one command.
 *
 * Plan: the layout scan (narrowed by --service/--index, then by --shard),
 * each service's credentials (--credentials-dir, else an earlier
 * --secret-out file), all before any server is touched. A service without
 * a password is decided as its target is prepared: a master that may act
 * as an existing role loads through SET ROLE, a role that does not exist
 * is created with a generated password (--secret-out), else it fails.
 *
 * Run: the services go through a pool of worker threads, each with its
 * own master connection, taking the largest dump first; each service is
 * loaded with its share of --jobs (see choose_parallel). The indices are
 * restored one after another by the main thread meanwhile (Elasticsearch
 * is another server; the bulk loader keeps its own requests in flight).
 * A failing service or index is reported and the others still run.
 *
 * Report: one table on stderr, --json on stdout, exit 1 if anything
 * failed. Only the main thread changes the schedule; workers fill their
 * own item's result.
 */
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/es/es.h"
#include "../common/es/esrestore.h"
#include "../common/gen3/gen3layout.h"
#include "../common/io/http.h"
#include "../common/gen3/k8s.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/gen3/secret.h"
#include "../common/gen3/shard.h"
#include "../common/base/strbuf.h"
#include "kinds.h"

/* ST_SKIPPED: not this run's (--service, --index, --shard, no ES);
 * ST_EXISTS: --on-existing skip found it in place and left it */
enum item_status { ST_PENDING, ST_OK, ST_FAILED, ST_SKIPPED, ST_EXISTS };

static const char *const status_names[] = { "pending", "restored", "failed", "not selected",
					    "skipped" };

struct env_item {
	int is_index;
	const g3_layout_service *svc_src;   /* services */
	const g3_layout_index *ix_src;      /* indices */
	const char *name;
	int64_t size;
	g3_service svc;                     /* services: target and role */
	int generated;                      /* password made here for a role
					     * this run created */
	char *target;                       /* database, or the concrete index */
	int64_t count;                      /* rows or documents */
	int64_t bytes;
	double seconds;
	enum item_status status;
	int patched;
	int existed;                        /* --on-existing skip left it */
	g3_err err;
};

struct env_run {
	const struct restore_opts *o;
	const char *base;
	g3_layout_plan plan;
	char **env_indices;                 /* GUPPY_INDICES, GUPPY_CONFIGINDEX */
	size_t n_env_indices;
	int have_es, any_index;
	g3_esconf esconf;
	g3_pgconf conf;
	g3_k8s_client k8s;
	struct env_item *items;
	size_t n;
	/* the pool: next service to take */
	pthread_mutex_t lock;
	size_t next;
	size_t *queue;                      /* service items, largest first */
	size_t n_queue;
	long jobs_each;
};

int env_source(const char *source, const g3_helm_env *helm, char **base)
{
	struct stat st;
	size_t len;

	*base = NULL;
	if (!source) {
		const char *b = helm->bucket, *e = helm->environment, *v = helm->version;

		if (!b || !e || !v)
			return 0;
		*base = g3_layout_base(b, e, v);
		return 1;
	}
	len = strlen(source);
	if (g3_pgarch_is_dir(source))
		return 0;   /* pg_dump -Fd: one dump */
	if ((!strncmp(source, "s3://", 5) && len > 5 && source[len - 1] == '/') ||
	    (strcmp(source, "-") && !strstr(source, "://") && !stat(source, &st) &&
	     S_ISDIR(st.st_mode))) {
		*base = g3_xstrdup(source);
		return 1;
	}
	return 0;
}

/* ---- credentials --------------------------------------------------------- */

/* The role and password of a service: --credentials-dir, else the
 * --secret-out file of an earlier run, else SERVICE_PG* for a lone
 * service, else none: the target's prepare uses SET ROLE or, with
 * --secret-out, generates one (restore_service); check_roles refuses the
 * rest first. */
static g3_rc plan_credentials(const struct restore_opts *o, struct env_item *it, int lone,
			      g3_err *err)
{
	g3_buf n = G3_BUF_INIT;
	int found = 0;
	g3_rc rc = G3_OK;

	it->svc.name = g3_xstrdup(it->name);
	g3_buf_addf(&n, "%s_%s", it->name, o->release);
	it->svc.database = g3_buf_detach(&n);
	if (o->credentials_dir &&
	    (rc = credentials_read(o->credentials_dir, it->name, &it->svc, &found, err)))
		return rc;
	if (!found && lone && o->helm.pgpass) {
		if (o->helm.pgdb) {
			free(it->svc.database);
			it->svc.database = g3_xstrdup(o->helm.pgdb);
		}
		if (o->helm.pguser)
			it->svc.username = g3_xstrdup(o->helm.pguser);
		it->svc.password = g3_xstrdup(o->helm.pgpass);
		found = 1;
	}
	if (!it->svc.username)
		it->svc.username = g3_xstrdup(it->svc.database);
	if (!found && o->secret_out && strcmp(o->secret_out, "-")) {
		g3_buf_addf(&n, "%s-dbcreds", it->name);
		rc = g3_k8s_secret_password(o->secret_out, n.data, &it->svc.password, err);
		g3_buf_release(&n);
		if (rc)
			return rc;
		found = it->svc.password != NULL;
	}
	if ((rc = g3_pg_check_name("database", it->svc.database, err)) ||
	    (rc = g3_pg_check_name("role", it->svc.username, err)))
		return rc;
	if (o->secret_out || o->patch_secret) {
		/* checked before anything: the Secret is written after the restore */
		g3_buf_addf(&n, "%s-dbcreds", it->name);
		if (!g3_k8s_name_ok(n.data)) {
			rc = g3_err_set(err, G3_USAGE, "service \"%s\" (from \"%s\") cannot name a "
					"Kubernetes Secret: \"%s\" is not lowercase letters, digits, "
					"'-' and '.'", it->name, it->svc_src->url, n.data);
			g3_err_hint(err, "rename the dump, or restore it without --secret-out and "
				    "--patch-secret");
		}
		g3_buf_release(&n);
	}
	return rc;
}

/* Services without a password and without --secret-out: loaded through
 * SET ROLE where the master may act as their role, else refused before
 * anything changes. */
static g3_rc check_roles(struct env_run *r, g3_err *err)
{
	PGconn *master = NULL;
	g3_rc rc = G3_OK;

	for (size_t i = 0; i < r->n && !rc; i++) {
		struct env_item *it = &r->items[i];
		int may = 0, exists = 0;

		if (it->is_index || it->status == ST_SKIPPED || it->svc.password)
			continue;
		if (!master && (rc = g3_pg_connect(&r->conf, (int)r->o->wait, &master, err)))
			break;
		if ((rc = g3_master_may_set_role(master, it->svc.username, &may, &exists, err)) ||
		    may)
			continue;
		rc = g3_err_set(err, G3_USAGE, "no password for service \"%s\" (role \"%s\"%s)",
				it->name, it->svc.username, exists ? ", which the master may not act "
				"as" : " does not exist");
		if (exists)
			g3_err_hint(err, "give --credentials-dir DIR (DIR/%s/password): the master is "
				    "neither a superuser nor a member of the role", it->name);
		else
			g3_err_hint(err, "give --credentials-dir DIR (DIR/%s/password), or --secret-out "
				    "FILE to generate passwords and record them", it->name);
	}
	PQfinish(master);
	return rc;
}

static g3_rc write_secrets(struct env_run *r, g3_err *err)
{
	g3_k8s_secret *s = g3_xcalloc(r->n ? r->n : 1, sizeof(*s));
	char **names = g3_xcalloc(r->n ? r->n : 1, sizeof(char *));
	char host[256], port[32];
	size_t n = 0;
	g3_rc rc = G3_OK;

	if (!g3_pgconf_effective(&r->conf, "host", host, sizeof(host)))
		snprintf(host, sizeof(host), "%s", "localhost");
	if (!g3_pgconf_effective(&r->conf, "port", port, sizeof(port)))
		snprintf(port, sizeof(port), "%s", "5432");
	for (size_t i = 0; i < r->n; i++) {
		struct env_item *it = &r->items[i];
		g3_buf b = G3_BUF_INIT;

		/* only the services now in place, with a password known: a
		 * failed one keeps its entry as it was (the role this run
		 * created for it is dropped), one loaded through SET ROLE has
		 * none to record; one --on-existing skip left in place only with
		 * a password that was not made now (its role was not touched) */
		if (it->is_index || !it->svc.password ||
		    (it->status != ST_OK && (it->status != ST_EXISTS || it->generated)))
			continue;
		g3_buf_addf(&b, "%s-dbcreds", it->name);
		names[n] = g3_buf_detach(&b);
		s[n].name = names[n];
		s[n].database = it->svc.database;
		s[n].username = it->svc.username;
		s[n].password = it->svc.password;
		s[n].host = host;
		s[n].port = port;
		/* skipped: dbcreated once its role's login was checked */
		s[n].dbcreated = it->status == ST_OK || it->patched;
		n++;
	}
	if (n)
		rc = g3_k8s_secrets_merge_file(r->o->secret_out, s, n, err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(s);
	return rc;
}

/* ---- one service --------------------------------------------------------- */

static void event(const char *ev, g3_log_level level, const struct env_item *it,
		  const char *msg)
{
	char count[32], bytes[32], secs[32];
	const char *f[16];
	size_t k = 0;

	snprintf(count, sizeof(count), "%lld", (long long)it->count);
	snprintf(bytes, sizeof(bytes), "%lld", (long long)it->bytes);
	snprintf(secs, sizeof(secs), "%.2f", it->seconds);
	f[k++] = it->is_index ? "index" : "service";
	f[k++] = it->name;
	if (it->target) {
		f[k++] = it->is_index ? "concrete" : "database";
		f[k++] = it->target;
	}
	if (it->status != ST_PENDING) {
		f[k++] = it->is_index ? "documents" : "rows";
		f[k++] = count;
		f[k++] = "bytes";
		f[k++] = bytes;
		f[k++] = "seconds";
		f[k++] = secs;
		f[k++] = "status";
		f[k++] = status_names[it->status];
	}
	f[k] = NULL;
	g3_log_event(level, ev, msg, f);
}

/* The database is in place: the service's own login must work before its
 * pods are told so (dbcreated in its Secret). */
static g3_rc patch_service(struct env_run *r, struct env_item *it, g3_err *err)
{
	PGconn *check = NULL;
	g3_buf name = G3_BUF_INIT;
	g3_rc rc;

	if ((rc = g3_service_connect(&r->conf, &it->svc, (int)r->o->wait, &check, err)))
		goto cleanup;
	g3_buf_addf(&name, "%s-dbcreds", it->name);
	if ((rc = g3_k8s_mark_dbcreated(&r->k8s, name.data, err)))
		goto cleanup;
	it->patched = 1;
cleanup:
	PQfinish(check);
	g3_buf_release(&name);
	return rc;
}

static g3_rc restore_service(struct env_run *r, struct env_item *it, PGconn *master,
			     g3_err *err)
{
	struct restore_opts o = *r->o;
	struct restore_env env;
	struct input in;
	struct db_load d;
	g3_pgtarget_opts to;
	g3_buf msg = G3_BUF_INIT;
	double ts;
	g3_rc rc;

	memset(&in, 0, sizeof(in));
	in.sql_script = o.sql_script;
	in.interrupted = &restore_interrupted;
	memset(&d, 0, sizeof(d));
	g3_service_init(&d.svc);
	g3_pgtarget_init(&d.target);
	o.jobs = r->jobs_each;
	env.o = &o;
	env.conf = &r->conf;
	restore_target_opts(&o, &to);
	d.svc.name = g3_xstrdup(it->svc.name);
	d.svc.database = g3_xstrdup(it->svc.database);
	d.svc.username = g3_xstrdup(it->svc.username);
	d.svc.password = it->svc.password ? g3_xstrdup(it->svc.password) : NULL;
	it->target = g3_xstrdup(it->svc.database);

	g3_buf_addf(&msg, "restoring service \"%s\" from \"%s\" into \"%s\"", it->name,
		    it->svc_src->url, it->target);
	event("database_start", G3_LOG_INFO, it, msg.data);
	g3_progress_item_start(it->target, G3_PROGRESS_ROWS);
	if ((rc = input_open(it->svc_src->url, &in, err)))
		goto cleanup;
	if (in.kind == KIND_SNAPSHOT) {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is a snapshot, not a plain SQL dump",
				it->svc_src->url);
		goto cleanup;
	}
	ts = g3_trace_now(o.trace);
	rc = g3_pgtarget_prepare(master, &r->conf, &d.svc, &to, &d.target, err);
	trace_phase(&o, "prepare", d.svc.database, ts, rc, err);
	if (rc)
		goto cleanup;
	if (d.target.skipped) {
		/* left as it is; the service logs in as a load would have */
		it->existed = 1;
		it->svc.set_role = d.target.svc.set_role;
		goto patch;
	}
	if ((rc = db_load_begin(&env, &d, err)) ||
	    (rc = load_sql_member(&in, &d, err)) ||
	    (rc = db_load_end(&d, err)))
		goto cleanup;
	if (restore_interrupted) {
		rc = g3_err_set(err, G3_FAIL, "interrupted");
		goto cleanup;
	}
	ts = g3_trace_now(o.trace);
	rc = g3_pgtarget_commit(master, &d.target, err);
	trace_phase(&o, "swap", d.svc.database, ts, rc, err);
	if (rc)
		goto cleanup;
	d.target.side_created = 0;
	/* in place: a generated password is recorded, and the service logs
	 * in as the load did */
	if (d.target.svc.password_generated) {
		it->svc.password = g3_xstrdup(d.target.svc.password);
		it->generated = 1;
	}
	it->svc.set_role = d.target.svc.set_role;
	it->count = g3_pgload_get_stats(d.load)->rows;
	it->bytes = g3_pgload_get_stats(d.load)->bytes;
patch:
	if (r->o->patch_secret)
		rc = patch_service(r, it, err);
cleanup:
	g3_pgload_stop(d.load);
	PQfinish(d.leader);
	d.leader = NULL;
	if (rc)
		g3_pgtarget_abort(master, &d.target);
	if (in.buf)
		input_close(&in);
	db_load_release(&d);
	g3_buf_release(&msg);
	return rc;
}

static void *service_worker(void *arg)
{
	struct env_run *r = arg;
	PGconn *master = NULL;

	for (;;) {
		struct env_item *it;
		double t0;
		g3_rc rc;

		pthread_mutex_lock(&r->lock);
		it = r->next < r->n_queue ? &r->items[r->queue[r->next++]] : NULL;
		pthread_mutex_unlock(&r->lock);
		if (!it)
			break;
		t0 = g3_clock_now();
		if (restore_interrupted)
			rc = g3_err_set(&it->err, G3_FAIL, "interrupted");
		else if (!master)
			rc = g3_pg_connect(&r->conf, (int)r->o->wait, &master, &it->err);
		else
			rc = G3_OK;
		if (!rc)
			rc = restore_service(r, it, master, &it->err);
		it->seconds = g3_clock_now() - t0;
		it->status = rc ? ST_FAILED : it->existed ? ST_EXISTS : ST_OK;
		g3_progress_item_done(it->target ? it->target : it->name, rc ? 0 : it->count);
		if (rc) {
			g3_err_prefix(&it->err, "service \"%s\" was not restored", it->name);
			g3_log_err(&it->err);
			event("database_end", G3_LOG_ERROR, it, it->err.msg);
			if (master && PQstatus(master) != CONNECTION_OK) {
				PQfinish(master);
				master = NULL;
			}
		} else {
			g3_buf m = G3_BUF_INIT;

			if (it->existed)
				g3_buf_addf(&m, "skipped service \"%s\": \"%s\" already has tables "
					    "(--on-existing skip)%s", it->name, it->target,
					    it->patched ? " (dbcreated patched)" : "");
			else
				g3_buf_addf(&m, "restored service \"%s\" into \"%s\": %lld %s, %.1f MB "
					    "in %.1f s%s", it->name, it->target, (long long)it->count,
					    g3_plural(it->count, "row", "rows"),
					    (double)it->bytes / 1e6, it->seconds,
					    it->patched ? " (dbcreated patched)" : "");
			event("database_end", G3_LOG_INFO, it, m.data);
			g3_buf_release(&m);
		}
	}
	PQfinish(master);
	return NULL;
}

/* ---- indices ------------------------------------------------------------- */

static void restore_indices(struct env_run *r, const g3_esconf *esconf)
{
	g3_es es;
	g3_esrestore_opts eo;
	g3_err cerr;
	g3_rc crc;

	g3_es_init(&es);
	g3_err_init(&cerr);
	/* --no-alias and the bulk options as for a snapshot's indices */
	eo = r->o->es;    /* skip_existing and keep_versions too */
	eo.clean = r->o->clean;
	eo.cancel = &restore_interrupted;
	crc = g3_es_connect(&es, esconf, (int)r->o->wait, &cerr);
	for (size_t i = 0; i < r->n; i++) {
		struct env_item *it = &r->items[i];
		const g3_layout_index *src = it->ix_src;
		g3_esrestore_index ix;
		g3_edump_files f;
		double t0 = g3_clock_now();
		g3_buf msg = G3_BUF_INIT;
		g3_rc rc;

		if (!it->is_index || it->status == ST_SKIPPED)
			continue;
		g3_esrestore_index_init(&ix);
		g3_buf_addf(&msg, "restoring index \"%s\" from \"%s\"", it->name, src->data_url);
		event("index_start", G3_LOG_INFO, it, msg.data);
		g3_progress_item_start(it->name, G3_PROGRESS_DOCS);
		g3_layout_index_files(src, &f);
		if (crc) {
			it->err = cerr;
			rc = crc;
			g3_edump_files_release(&f);
		} else if (restore_interrupted) {
			rc = g3_err_set(&it->err, G3_FAIL, "interrupted");
			g3_edump_files_release(&f);
		} else if (!(rc = g3_esrestore_plan_files(&es, it->name, &f, &eo, &ix, &it->err)) &&
			   !ix.skipped) {
			rc = g3_esrestore_load(&es, &eo, &ix, &it->err);
		}
		if (ix.concrete)
			it->target = g3_xstrdup(ix.concrete);
		it->count = (int64_t)ix.docs_read;
		it->bytes = ix.skipped ? 0 : src->data_size;
		it->seconds = g3_clock_now() - t0;
		it->status = rc ? ST_FAILED : ix.skipped ? ST_EXISTS : ST_OK;
		g3_progress_item_done(it->name, rc ? 0 : it->count);
		g3_buf_reset(&msg);
		if (rc) {
			g3_err_prefix(&it->err, "index \"%s\" was not restored", it->name);
			g3_log_err(&it->err);
			event("index_end", G3_LOG_ERROR, it, it->err.msg);
		} else if (ix.skipped) {
			g3_buf_addf(&msg, "skipped index \"%s\": it already exists (--on-existing "
				    "skip)", it->name);
			event("index_end", G3_LOG_INFO, it, msg.data);
		} else {
			g3_buf_addf(&msg, "restored index \"%s\" (%s): %lld %s in %.1f s",
				    it->name, it->target ? it->target : "", (long long)it->count,
				    g3_plural(it->count, "document", "documents"),
				    it->seconds);
			event("index_end", G3_LOG_INFO, it, msg.data);
		}
		g3_buf_release(&msg);
		g3_esrestore_index_release(&ix);
	}
	g3_es_release(&es);
}

/* ---- scheduling ---------------------------------------------------------- */

/* A service's place in the queue: the largest first, then by name. */
struct queue_key {
	int64_t size;
	const char *name;
	size_t item;
};

static int by_size_desc(const void *a, const void *b)
{
	const struct queue_key *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * How many services load at once, and with how many connections each:
 * --jobs is the budget of data connections shared by them. Gen3
 * environments hold one or two big databases and many small ones, whose
 * time goes to fixed costs (provisioning, connecting, post-data, ANALYZE,
 * the rename) rather than COPY; running them side by side with fewer
 * connections each overlaps those costs (measured in docs/DECISIONS.md).
 * Default: min(services, max(1, jobs / 2)) at once, so each keeps at
 * least two connections when the budget allows.
 */
static long pool_size(const struct env_run *r)
{
	long jobs = r->o->jobs, p = r->o->parallel;

	if (p <= 0)
		p = jobs / 2 > 1 ? jobs / 2 : 1;
	if (p > (long)r->n_queue)
		p = r->n_queue ? (long)r->n_queue : 1;
	return p;
}

static void choose_parallel(struct env_run *r)
{
	long p = pool_size(r);

	r->jobs_each = r->o->jobs / p > 1 ? r->o->jobs / p : 1;
	r->next = 0;
}

/* ---- report -------------------------------------------------------------- */

static void summary(const struct env_run *r, const char *base, double seconds, int failed)
{
	json_object *root, *svcs, *ixs;

	if (g3_log_get_format() == G3_LOG_PLAIN) {
		g3_info("%-7s %-28s %-32s %12s %12s %9s  %s", "KIND", "NAME", "TARGET",
			"ROWS/DOCS", "BYTES", "SECONDS", "STATUS");
		for (size_t i = 0; i < r->n; i++) {
			const struct env_item *it = &r->items[i];

			g3_info("%-7s %-28s %-32s %12lld %12lld %9.2f  %s",
				it->is_index ? "index" : "service", it->name,
				it->target ? it->target : "-", (long long)it->count,
				(long long)it->bytes, it->seconds, status_names[it->status]);
		}
	}
	if (!r->o->json)
		return;
	root = json_object_new_object();
	svcs = json_object_new_array();
	ixs = json_object_new_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct env_item *it = &r->items[i];
		json_object *e = json_object_new_object();

		json_object_object_add(e, "name", json_object_new_string(it->name));
		if (it->target)
			json_object_object_add(e, it->is_index ? "index" : "database",
					       json_object_new_string(it->target));
		if (!it->is_index && it->svc.username)
			json_object_object_add(e, "role", json_object_new_string(it->svc.username));
		json_object_object_add(e, it->is_index ? "documents" : "rows",
				       json_object_new_int64(it->count));
		json_object_object_add(e, "bytes", json_object_new_int64(it->bytes));
		json_object_object_add(e, "seconds", json_object_new_double(it->seconds));
		json_object_object_add(e, "status", json_object_new_string(status_names[it->status]));
		if (!it->is_index && r->o->patch_secret)
			json_object_object_add(e, "dbcreated_patched",
					       json_object_new_boolean(it->patched));
		if (it->status == ST_FAILED && it->err.msg[0])
			json_object_object_add(e, "error", json_object_new_string(it->err.msg));
		json_object_array_add(it->is_index ? ixs : svcs, e);
	}
	json_object_object_add(root, "source", json_object_new_string(base));
	json_object_object_add(root, "release", json_object_new_string(r->o->release));
	if (r->o->shards) {
		char sh[48];

		snprintf(sh, sizeof(sh), "%ld/%ld", r->o->shard, r->o->shards);
		json_object_object_add(root, "shard", json_object_new_string(sh));
	}
	json_object_object_add(root, "jobs", json_object_new_int((int)r->o->jobs));
	json_object_object_add(root, "services_at_once", json_object_new_int((int)pool_size(r)));
	json_object_object_add(root, "services", svcs);
	json_object_object_add(root, "indices", ixs);
	json_object_object_add(root, "seconds", json_object_new_double(seconds));
	json_object_object_add(root, "status", json_object_new_string(failed ? "failed" : "ok"));
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(root);
}

/* ---- the plan ------------------------------------------------------------ */

/* What a whole environment's restore refuses before any I/O. */
static g3_rc env_check(struct env_run *r, g3_err *err)
{
	const struct restore_opts *o = r->o;
	g3_rc rc;

	if (o->database || o->n_maps) {
		char *shown = g3_url_redact(r->base);

		rc = g3_err_set(err, G3_USAGE, "\"%s\" is a whole environment (a directory or "
				"prefix of dumps): --database and --map apply to one dump or snapshot",
				shown);
		free(shown);
		g3_err_hint(err, "use --release NAME: each service goes to <service>_<NAME>");
		return rc;
	}
	if (!o->release) {
		rc = g3_err_set(err, G3_USAGE, "no release name for a whole-environment restore");
		g3_err_hint(err, "give --release NAME: each service goes to <service>_<NAME>, "
			    "e.g. --release gen3");
		return rc;
	}
	if (o->secret_name) {
		rc = g3_err_set(err, G3_USAGE, "--secret-name names the Secret of one service");
		g3_err_hint(err, "a whole-environment restore patches <service>-dbcreds for each");
		return rc;
	}
	if (o->json && o->secret_out && !strcmp(o->secret_out, "-"))
		return g3_err_set(err, G3_USAGE, "--json and --secret-out - both write to standard "
				  "output");
	if (o->patch_secret && (rc = g3_k8s_client_init(&r->k8s, err)))
		return rc;
	r->have_es = !o->no_es && o->es_url;   /* --es, else ESHOST */
	if (r->have_es && (rc = g3_esconf_set(&r->esconf, o->es_url, o->es_cacert, err)))
		return rc;
	if (!o->n_indices && !o->n_services)
		g3_es_indices_from_env(&r->env_indices, &r->n_env_indices);
	/* before any request: such a name could make a delete hit other indices */
	for (size_t i = 0; i < r->n_env_indices; i++)
		if ((rc = g3_es_name_check(r->env_indices[i], G3_ES_ENV_ORIGIN, err)))
			return rc;
	return G3_OK;
}

/* --verbose: what the scan refused or took for no layout. */
static void note_skipped(const struct env_run *r)
{
	const g3_layout_plan *plan = &r->plan;

	for (size_t i = 0; i < plan->n_refused + plan->n_unknown; i++) {
		const g3_layout_skip *k = i < plan->n_refused ? &plan->refused[i] :
					  &plan->unknown[i - plan->n_refused];
		g3_buf p = G3_BUF_INIT, q = G3_BUF_INIT;

		g3_buf_addf(&p, "%s%s", plan->base, k->rel);
		g3_layout_quote(&q, p.data, 4096);
		if (k->why)
			g3_debug("refused %s: %s", q.data, k->why);
		else
			g3_debug("not part of a layout, ignored: %s", q.data);
		g3_buf_release(&p);
		g3_buf_release(&q);
	}
	if (plan->n_refused_all > plan->n_refused)
		g3_debug("and %zu more refused", plan->n_refused_all - plan->n_refused);
	if (plan->n_unknown_all > plan->n_unknown)
		g3_debug("and %zu more not part of a layout", plan->n_unknown_all - plan->n_unknown);
}

/* The layout scanned, narrowed by --service and --index. */
static g3_rc env_scan(struct env_run *r, g3_err *err)
{
	const struct restore_opts *o = r->o;
	const g3_layout_plan *plan = &r->plan;
	g3_layout_filter filter;
	g3_rc rc;

	memset(&filter, 0, sizeof(filter));
	filter.services = (const char *const *)o->services;
	filter.n_services = o->n_services;
	filter.indices = (const char *const *)(o->n_indices ? o->indices : r->env_indices);
	filter.n_indices = o->n_indices ? o->n_indices : r->n_env_indices;
	if ((rc = g3_layout_scan(r->base, NULL, &filter, &r->plan, err)))
		return rc;
	if (!plan->n_services && !plan->n_indices)
		/* a green job with an empty environment is worse than a red one */
		return g3_layout_nothing(plan, NULL, err);
	note_skipped(r);
	if (plan->n_unknown_all)
		g3_info("ignoring %zu %s in \"%s\" that no layout takes (--verbose lists them)",
			plan->n_unknown_all, g3_plural((long long)plan->n_unknown_all, "entry",
						       "entries"), r->base);
	/* every service is restored: a dump refused for its name is not left behind */
	if (!o->n_services && !o->n_indices && (rc = g3_layout_check_refused(plan, err)))
		return rc;
	if (plan->n_refused_all)
		g3_info("leaving %zu %s in \"%s\" whose names cannot be services (--verbose lists "
			"them)", plan->n_refused_all, g3_plural((long long)plan->n_refused_all, "dump",
								"dumps"), r->base);
	return G3_OK;
}

/* One item per service and index found; those not this run's (--service
 * without --index and the reverse, another --shard) ST_SKIPPED. */
static void env_items(struct env_run *r)
{
	const struct restore_opts *o = r->o;
	const g3_layout_plan *plan = &r->plan;

	r->n = plan->n_services + plan->n_indices;
	r->items = g3_xcalloc(r->n ? r->n : 1, sizeof(*r->items));
	for (size_t i = 0; i < r->n; i++) {
		struct env_item *it = &r->items[i];

		g3_service_init(&it->svc);
		g3_err_init(&it->err);
		if (i < plan->n_services) {
			it->svc_src = &plan->services[i];
			it->name = plan->services[i].name;
			it->size = plan->services[i].size;
			/* --index without --service: only those indices */
			if (o->n_indices && !o->n_services)
				it->status = ST_SKIPPED;
			continue;
		}
		it->is_index = 1;
		it->ix_src = &plan->indices[i - plan->n_services];
		it->name = it->ix_src->name;
		it->size = it->ix_src->data_size;
		/* --service without --index: only those services */
		if (o->n_services && !o->n_indices)
			it->status = ST_SKIPPED;
	}
	if (o->shards) {
		g3_shard_item *sh = g3_xcalloc(r->n ? r->n : 1, sizeof(*sh));

		for (size_t i = 0; i < r->n; i++) {
			sh[i].kind = r->items[i].is_index;
			sh[i].name = r->items[i].name;
			sh[i].size = r->items[i].size;
		}
		g3_shard_assign(sh, r->n, (int)o->shards);
		for (size_t i = 0; i < r->n; i++)
			if (sh[i].shard != o->shard)
				r->items[i].status = ST_SKIPPED;
		free(sh);
	}
}

static size_t items_todo(const struct env_run *r)
{
	size_t todo = 0;

	for (size_t i = 0; i < r->n; i++)
		todo += r->items[i].status != ST_SKIPPED;
	return todo;
}

/* The indices' names checked, or skipped without Elasticsearch. */
static g3_rc env_indices(struct env_run *r, g3_err *err)
{
	const struct restore_opts *o = r->o;
	g3_rc rc;

	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].is_index && r->items[i].status != ST_SKIPPED) {
			const g3_layout_index *x = r->items[i].ix_src;
			g3_buf from = G3_BUF_INIT;

			r->any_index = 1;
			if (!r->have_es)
				continue;
			g3_buf_addf(&from, "the file name \"%s\"", x->mapping_url ? x->mapping_url :
				    x->data_url);
			rc = g3_es_name_check(r->items[i].name, from.data, err);
			g3_buf_release(&from);
			if (rc)
				return rc;
		}
	if (r->any_index && !r->have_es) {
		if (o->n_indices && !o->no_es) {
			rc = g3_err_set(err, G3_USAGE, "indices to restore but no Elasticsearch");
			g3_err_hint(err, "give --es URL (or ESHOST=host:port)");
			return rc;
		}
		g3_warn("skipping the indices found in \"%s\": no Elasticsearch (give --es URL or "
			"ESHOST to restore them)", r->base);
		for (size_t i = 0; i < r->n; i++)
			if (r->items[i].is_index)
				r->items[i].status = ST_SKIPPED;
	}
	/* an empty shard is not an error (more shards than items); an empty
	 * run is: its only items are indices without Elasticsearch */
	if (!items_todo(r) && !o->shards) {
		rc = g3_err_set(err, G3_USAGE, "nothing to restore in \"%s\": the %zu %s found %s "
				"skipped, and %s", r->base, r->plan.n_indices,
				g3_plural((long long)r->plan.n_indices, "index", "indices"),
				r->plan.n_indices == 1 ? "is" : "are",
				o->no_es ? "--no-es skips them" : "no Elasticsearch was given");
		g3_err_hint(err, "give --es URL (or ESHOST=host:port) to restore them");
		return rc;
	}
	return G3_OK;
}

/* Every service's target and role, before any server is touched but to
 * check the roles of services without a password. */
static g3_rc env_credentials(struct env_run *r, g3_err *err)
{
	const struct restore_opts *o = r->o;
	size_t n_services = r->plan.n_services, lone = 0;
	char mdb[256], mrole[256];
	const char *master_db, *master_role;
	g3_rc rc;

	if ((rc = g3_pgconf_master(&r->conf, o->master_url, err)))
		return rc;
	if (o->secret_out && strcmp(o->secret_out, "-")) {
		/* the other services' Secrets in it are kept: it must read back */
		g3_k8s_secrets old;

		rc = g3_k8s_secrets_read(o->secret_out, &old, err);
		g3_k8s_secrets_release(&old);
		if (rc)
			return rc;
	}
	master_db = g3_pgconf_effective(&r->conf, "dbname", mdb, sizeof(mdb));
	master_role = g3_pgconf_effective(&r->conf, "user", mrole, sizeof(mrole));
	for (size_t i = 0; i < n_services; i++)
		lone += r->items[i].status != ST_SKIPPED;
	for (size_t i = 0; i < n_services; i++)
		if (r->items[i].status != ST_SKIPPED &&
		    ((rc = plan_credentials(o, &r->items[i], lone == 1, err)) ||
		     (rc = g3_target_guard(master_db, master_role, r->items[i].svc.database,
					   r->items[i].svc.username, err))))
			return rc;
	if (!o->secret_out && (rc = check_roles(r, err)))
		return rc;
	return G3_OK;
}

/* The services' queue, largest first, and the meter's totals. */
static void env_queue(struct env_run *r)
{
	struct queue_key *keys = g3_xcalloc(r->n ? r->n : 1, sizeof(*keys));
	int64_t total = 0;
	size_t todo = items_todo(r);

	r->queue = g3_xcalloc(r->n ? r->n : 1, sizeof(*r->queue));
	for (size_t i = 0; i < r->plan.n_services; i++)
		if (r->items[i].status != ST_SKIPPED)
			keys[r->n_queue++] = (struct queue_key){ r->items[i].size, r->items[i].name, i };
	qsort(keys, r->n_queue, sizeof(*keys), by_size_desc);
	for (size_t i = 0; i < r->n_queue; i++)
		r->queue[i] = keys[i].item;
	free(keys);
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].status != ST_SKIPPED)
			total += r->items[i].size > 0 ? r->items[i].size : 0;
	if (!todo)
		g3_warn("nothing to restore in \"%s\"%s", r->base,
			r->o->shards ? " for this shard" : "");
	g3_progress_init(total);
	g3_progress_set_totals(total, (int)todo);
}

/* The services through the pool while this thread restores the indices;
 * 1 when any of them failed. */
static int env_run_all(struct env_run *r)
{
	pthread_t *threads;
	long n_threads;
	int failed = 0;

	choose_parallel(r);
	n_threads = r->n_queue ? pool_size(r) : 0;
	g3_info("restoring %zu %s (%ld at once, %ld %s each) and %zu %s from \"%s\"",
		r->n_queue, g3_plural((long long)r->n_queue, "service", "services"), n_threads,
		r->jobs_each, g3_plural(r->jobs_each, "connection", "connections"),
		(size_t)(r->n - r->plan.n_services),
		g3_plural((long long)(r->n - r->plan.n_services), "index", "indices"), r->base);
	threads = g3_xcalloc(n_threads ? (size_t)n_threads : 1, sizeof(*threads));
	for (long t = 0; t < n_threads; t++)
		if (pthread_create(&threads[t], NULL, service_worker, r)) {
			n_threads = t;
			break;
		}
	if (r->any_index && r->have_es)
		restore_indices(r, &r->esconf);
	for (long t = 0; t < n_threads; t++)
		pthread_join(threads[t], NULL);
	free(threads);
	g3_progress_finish();
	for (size_t i = 0; i < r->n; i++)
		failed |= r->items[i].status == ST_FAILED || r->items[i].status == ST_PENDING;
	return failed;
}

static void env_release(struct env_run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		g3_service_release(&r->items[i].svc);
		free(r->items[i].target);
	}
	free(r->items);
	free(r->queue);
	g3_strlist_free(r->env_indices, r->n_env_indices);
	g3_layout_plan_release(&r->plan);
	g3_esconf_release(&r->esconf);
	g3_k8s_client_release(&r->k8s);
	g3_pgconf_release(&r->conf);
	pthread_mutex_destroy(&r->lock);
}

/* ---- the run -------------------------------------------------------------- */

g3_rc env_restore(const struct restore_opts *o, const char *base, g3_err *err)
{
	struct env_run r;
	int failed, summarised = 0;
	double t0 = g3_clock_now();
	g3_rc rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.base = base;
	g3_pgconf_init(&r.conf);
	pthread_mutex_init(&r.lock, NULL);
	g3_esconf_init(&r.esconf);
	/* conflicts, before any I/O; then the plan */
	if ((rc = env_check(&r, err)) || (rc = env_scan(&r, err)))
		goto cleanup;
	env_items(&r);
	if ((rc = env_indices(&r, err)) || (rc = env_credentials(&r, err)))
		goto cleanup;
	env_queue(&r);
	failed = env_run_all(&r);
	if (o->secret_out && (rc = write_secrets(&r, err)))
		g3_log_err(err);
	summary(&r, base, g3_clock_now() - t0, failed || rc);
	summarised = 1;
	if (!rc && failed) {
		rc = G3_FAIL;
		g3_error("some services or indices were not restored (see above)");
	}
	err->msg[0] = '\0';
cleanup:
	if (rc && err->msg[0])
		g3_log_err(err);
	if (rc && o->json && !summarised)
		g3_err_print_json(NULL, rc, err);
	if (rc)
		err->msg[0] = '\0';   /* reported */
	env_release(&r);
	return rc;
}
