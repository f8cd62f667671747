/*
 * An elasticdump directory restored into Elasticsearch (kinds.h): the
 * files elasticdump 6 writes (<index>__mapping.json, __data.json and,
 * when present, __settings.json, __analyzer.json, __alias.json,
 * __template.json, __index.json) or multielasticdump's (<index>.json,
 * <index>.mapping.json, ...), in a local directory (or its es/ folder) or
 * at the top of an s3:// prefix. `gen3db restore DIR|s3://.../` and
 * `gen3db restore-es` (restore_es.c, its alias) both run esdir_restore.
 *
 * Every index is planned (definition read, target checked) before
 * anything is written; then the indices load one after another through
 * the library's esrestore steps, a failed one reported and the others
 * still loaded.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "../common/es/es.h"
#include "../common/es/esbulk.h"
#include "../common/io/sourcefile.h"
#include "kinds.h"

void restore_es_opts_init(struct restore_es_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wait = 300;
	g3_esrestore_opts_init(&o->r);
	o->r.cancel = &restore_interrupted;
}

void restore_es_opts_release(struct restore_es_opts *o)
{
	if (o->from_s3)
		g3_layout_plan_release(&o->plan);
	g3_strlist_free(o->indices, o->n_indices);
	memset(o, 0, sizeof(*o));
}

static void report(const g3_esrestore_index *ix)
{
	char docs[32], secs[32], rate[32];
	const char *fields[13];
	g3_buf msg = G3_BUF_INIT;
	double dps = ix->seconds > 0 ? (double)ix->docs_read / ix->seconds : 0;

	snprintf(docs, sizeof(docs), "%llu", (unsigned long long)ix->docs_read);
	snprintf(secs, sizeof(secs), "%.2f", ix->seconds);
	snprintf(rate, sizeof(rate), "%.0f", dps);
	g3_buf_addf(&msg, "restored index \"%s\" (%s): %s documents in %s s (%s documents/s)",
		    ix->name, ix->concrete, docs, secs, rate);
	fields[0] = "index"; fields[1] = ix->name;
	fields[2] = "concrete"; fields[3] = ix->concrete;
	fields[4] = "documents"; fields[5] = docs;
	fields[6] = "seconds"; fields[7] = secs;
	fields[8] = "docs_per_second"; fields[9] = rate;
	fields[10] = NULL;
	g3_log_event(G3_LOG_INFO, "es_index_restored", msg.data, fields);
	g3_buf_release(&msg);
}

static json_object *json_result(const g3_esrestore_index *ix, const g3_err *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(ix->name ? ix->name : ""));
	if (ix->concrete)
		json_object_object_add(o, "index", json_object_new_string(ix->concrete));
	json_object_object_add(o, "status", json_object_new_string(
		ix->skipped ? "skipped" : ix->loaded ? "restored" : "failed"));
	json_object_object_add(o, "documents_read", json_object_new_int64((int64_t)ix->docs_read));
	json_object_object_add(o, "documents_acknowledged",
			       json_object_new_int64((int64_t)ix->bulk.docs_acked));
	json_object_object_add(o, "bulk_requests", json_object_new_int64((int64_t)ix->bulk.requests));
	json_object_object_add(o, "retried_documents",
			       json_object_new_int64((int64_t)ix->bulk.retried_docs));
	json_object_object_add(o, "retried_requests",
			       json_object_new_int64((int64_t)ix->bulk.retried_requests));
	json_object_object_add(o, "seconds", json_object_new_double(ix->seconds));
	g3_esrestore_report_pruned(ix, o);
	if (ix->n_failed_ids) {
		json_object *ids = json_object_new_array();

		for (size_t i = 0; i < ix->n_failed_ids; i++)
			json_object_array_add(ids, json_object_new_string(ix->failed_ids[i]));
		json_object_object_add(o, "documents_not_loaded", ids);
	}
	if (e && e->msg[0])
		json_object_object_add(o, "error", json_object_new_string(e->msg));
	return o;
}

/* A named index whose files are missing: the hint lists the indices the
 * directory holds instead. */
static void hint_found(const struct restore_es_opts *o, const char *name, g3_err *err)
{
	char **found = NULL;
	size_t n = 0;
	g3_buf b = G3_BUF_INIT;
	g3_err lerr;

	if (err->rc != G3_USAGE)
		return;
	g3_err_init(&lerr);
	if (g3_layout_edump_indices(o->dir, &found, &n, &lerr))
		return;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(found[i], name))
			goto cleanup;
	for (size_t i = 0; i < n && i < 20; i++)
		g3_buf_addf(&b, "%s\"%s\"", i ? ", " : "", found[i]);
	g3_err_hint(err, "indices found in \"%s\": %s%s", o->dir, b.data, n > 20 ? ", ..." : "");
cleanup:
	g3_buf_release(&b);
	g3_strlist_free(found, n);
}

/* The meter over every data file: local files' sizes are the total (an
 * s3:// or http(s):// one leaves it unknown). */
static void progress_start(const g3_esrestore_index *ix, size_t n)
{
	int64_t total = 0;
	struct stat st;

	for (size_t i = 0; i < n; i++) {
		if (ix[i].skipped)
			continue;
		if (!ix[i].files.data || g3_source_is_url(ix[i].files.data) ||
		    stat(ix[i].files.data, &st)) {
			total = -1;
			break;
		}
		total += (int64_t)st.st_size;
	}
	g3_progress_init(total);
	g3_progress_set_totals(total, (int)n);
}


/* ---- the run -------------------------------------------------------------- */

struct esdir_run {
	struct restore_es_opts *o;
	g3_esconf conf;
	g3_es es;
	g3_esrestore_index *ix;   /* one per o->indices */
	json_object *list;        /* --json: each index's result */
};

/* Every index's definition read and its target checked, before anything
 * is written. */
static g3_rc plan_indices(struct esdir_run *r, g3_err *err)
{
	struct restore_es_opts *o = r->o;
	g3_rc rc = G3_OK;

	for (size_t i = 0; i < o->n_indices && !rc; i++) {
		if (o->from_s3) {
			const g3_layout_index *x = NULL;
			g3_edump_files f;

			for (size_t k = 0; k < o->plan.n_indices && !x; k++)
				if (!strcmp(o->plan.indices[k].name, o->indices[i]))
					x = &o->plan.indices[k];
			if (!x)   /* g3_layout_scan_es kept exactly these */
				return g3_err_set(err, G3_FAIL, "index \"%s\" is not in the listing",
						  o->indices[i]);
			g3_layout_index_files(x, &f);
			rc = g3_esrestore_plan_files(&r->es, o->indices[i], &f, &o->r, &r->ix[i], err);
		} else {
			rc = g3_esrestore_plan(&r->es, o->dir, o->indices[i], &o->r, &r->ix[i], err);
			if (rc)
				hint_found(o, o->indices[i], err);
		}
	}
	return rc;
}

/* The indices loaded one after another; G3_FAIL when any was not (each
 * reported). */
static g3_rc load_indices(struct esdir_run *r)
{
	struct restore_es_opts *o = r->o;
	g3_rc worst = G3_OK;

	for (size_t i = 0; i < o->n_indices; i++) {
		g3_esrestore_index *ix = &r->ix[i];
		g3_err ierr;
		g3_rc irc;

		g3_err_init(&ierr);
		if (*o->r.cancel) {
			g3_error("index \"%s\" was not restored: interrupted", ix->name);
			worst = G3_FAIL;
			continue;
		}
		if (ix->skipped) {
			g3_info("skipped index \"%s\": it already exists (--on-existing skip)",
				ix->name);
			json_object_array_add(r->list, json_result(ix, NULL));
			continue;
		}
		g3_progress_item_start(ix->name, G3_PROGRESS_DOCS);
		irc = g3_esrestore_load(&r->es, &o->r, ix, &ierr);
		g3_progress_item_done(ix->name, irc ? 0 : (int64_t)ix->docs_read);
		if (irc) {
			g3_err_prefix(&ierr, "index \"%s\" was not restored", ix->name);
			g3_log_err(&ierr);
			worst = G3_FAIL;
		} else {
			report(ix);
		}
		json_object_array_add(r->list, json_result(ix, irc ? &ierr : NULL));
	}
	return worst;
}

/* --json: the cluster, every index's result, and the run's. */
static void print_report(const struct esdir_run *r, g3_rc rc, const g3_err *err)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "elasticsearch", json_object_new_string(
		r->conf.url ? r->conf.url : ""));
	json_object_object_add(j, "version", json_object_new_string(r->es.version));
	json_object_object_add(j, "indices",
			       r->list ? json_object_get(r->list) : json_object_new_array());
	json_object_object_add(j, "status", json_object_new_string(rc ? "failed" : "ok"));
	if (rc)
		json_object_object_add(j, "exit_code", json_object_new_int(g3_exit_code(rc)));
	if (rc && err->msg[0])
		json_object_object_add(j, "error", json_object_new_string(err->msg));
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

static g3_rc restore_es_run(struct restore_es_opts *o, g3_err *err)
{
	struct esdir_run r;
	g3_rc rc;

	memset(&r, 0, sizeof(r));
	r.o = o;
	g3_esconf_init(&r.conf);
	g3_es_init(&r.es);
	if ((rc = g3_esconf_set(&r.conf, o->es_url, o->cacert, err)) ||
	    (rc = g3_es_connect(&r.es, &r.conf, (int)o->wait, err)))
		goto cleanup;
	g3_info("connected to %s %s at \"%s\"",
		r.es.dist == G3_ES_OPENSEARCH ? "OpenSearch" : "Elasticsearch", r.es.version,
		r.conf.url);
	r.ix = g3_xcalloc(o->n_indices, sizeof(*r.ix));
	for (size_t i = 0; i < o->n_indices; i++)
		g3_esrestore_index_init(&r.ix[i]);
	if ((rc = plan_indices(&r, err)))
		goto cleanup;
	progress_start(r.ix, o->n_indices);
	r.list = json_object_new_array();
	if ((rc = load_indices(&r)))
		err->msg[0] = '\0';  /* each failure was reported */
cleanup:
	g3_progress_finish();
	if (o->json)
		print_report(&r, rc, err);
	json_object_put(r.list);
	for (size_t i = 0; r.ix && i < o->n_indices; i++)
		g3_esrestore_index_release(&r.ix[i]);
	free(r.ix);
	g3_es_release(&r.es);
	g3_esconf_release(&r.conf);
	return rc;
}

/* ---- which indices -------------------------------------------------------- */

/* An s3:// prefix: its listing, narrowed to the indices asked for (their
 * names checked before any request); none asked for: every index found. */
static g3_rc scan_s3(struct restore_es_opts *o, int *from_env, int *from_dir, g3_err *err)
{
	g3_layout_filter filter;
	g3_rc rc;

	for (size_t i = 0; i < o->n_indices; i++)
		if ((rc = g3_es_name_check(o->indices[i], *from_env ? G3_ES_ENV_ORIGIN : "--index",
					   err)))
			return rc;
	memset(&filter, 0, sizeof(filter));
	filter.indices = (const char *const *)o->indices;
	filter.n_indices = o->n_indices;
	if ((rc = g3_layout_scan_es(o->dir, NULL, &filter, &o->plan, err)))
		return rc;
	o->from_s3 = 1;
	if (!o->n_indices) {
		*from_env = 0;
		*from_dir = 1;
		for (size_t i = 0; i < o->plan.n_indices; i++)
			g3_strlist_add(&o->indices, &o->n_indices, o->plan.indices[i].name);
		g3_info("restoring every index in \"%s\": %zu found", o->dir, o->n_indices);
	}
	return G3_OK;
}

/* o->indices: as given, else GUPPY_INDICES and GUPPY_CONFIGINDEX, else
 * every index o->dir holds; each name checked before any request (such a
 * name could make a delete hit other indices). */
static g3_rc choose_indices(struct restore_es_opts *o, g3_err *err)
{
	int from_env = 0, from_dir = 0;
	g3_rc rc;

	if (!o->n_indices) {
		from_env = 1;
		g3_es_indices_from_env(&o->indices, &o->n_indices);
	}
	if (strstr(o->dir, "://") && strncmp(o->dir, "s3://", 5))
		return g3_err_set(err, G3_USAGE, "restore-es reads a local directory or an s3:// "
				  "prefix, not \"%s\"", o->dir);
	if (!strncmp(o->dir, "s3://", 5) && (rc = scan_s3(o, &from_env, &from_dir, err)))
		return rc;
	if (!o->n_indices) {
		/* every index the directory holds */
		from_env = 0;
		from_dir = 1;
		if ((rc = g3_layout_edump_indices(o->dir, &o->indices, &o->n_indices, err)))
			return rc;
		g3_info("restoring every index in \"%s\": %zu found", o->dir, o->n_indices);
	}
	for (size_t i = 0; i < o->n_indices; i++) {
		g3_buf from = G3_BUF_INIT;

		if (from_dir)
			g3_buf_addf(&from, "a file name in \"%s\"", o->dir);
		else
			g3_buf_adds(&from, from_env ? G3_ES_ENV_ORIGIN : "--index");
		rc = g3_es_name_check(o->indices[i], from.data, err);
		g3_buf_release(&from);
		if (rc)
			return rc;
	}
	return G3_OK;
}

g3_rc esdir_restore(struct restore_es_opts *o, void (*catch_signals)(void), int *ran,
		    g3_err *err)
{
	g3_rc rc;

	*ran = 0;
	if ((rc = choose_indices(o, err)))
		return rc;
	catch_signals();
	rc = restore_es_run(o, err);
	*ran = 1;   /* it prints its own report */
	return rc;
}

/* ---- from gen3db restore -------------------------------------------------- */

int esdir_source(const char *source)
{
	g3_layout_plan plan;
	struct stat st;
	size_t len = source ? strlen(source) : 0;
	int s3 = len > 5 && !strncmp(source, "s3://", 5) && source[len - 1] == '/';
	int found;
	g3_err err;

	if (!s3 && (!source || !strcmp(source, "-") || strstr(source, "://") ||
		    stat(source, &st) || !S_ISDIR(st.st_mode) || g3_pgarch_is_dir(source)))
		return 0;
	g3_err_init(&err);
	/* a gen3 layout, or nothing that can be read: the environment's */
	if (g3_layout_scan(source, NULL, NULL, &plan, &err))
		return 0;
	/* a dump refused for its name or a snapshot: the environment's to say */
	found = !plan.n_services && !plan.n_indices && !plan.n_refused_all && !plan.n_snapshots;
	g3_layout_plan_release(&plan);
	if (!found)
		return 0;
	if (s3) {
		found = !g3_layout_scan_es(source, NULL, NULL, &plan, &err);
		if (found)
			g3_layout_plan_release(&plan);
	} else {
		char **names = NULL;
		size_t n = 0;

		found = !g3_layout_edump_indices(source, &names, &n, &err);
		g3_strlist_free(names, n);
	}
	return found;
}

/* restore's options that an elasticdump directory's restore cannot use:
 * the first one given, or NULL. */
static const char *esdir_refused(const struct restore_opts *o)
{
	const struct {
		const char *option;
		int given;
	} opts[] = {
		{ "--database", o->database != NULL },
		{ "--map", o->n_maps > 0 },
		{ "--service", o->n_services > 0 },
		{ "--shard", o->shards > 0 },
		{ "--parallel-services", o->parallel > 0 },
		{ "--credentials-dir", o->credentials_dir != NULL },
		{ "--secret-out", o->secret_out != NULL },
		{ "--patch-secret", o->patch_secret },
		{ "--no-es", o->no_es },
		{ "--sql-script", o->sql_script },
		{ "--no-analyze", o->no_analyze },
		{ "--trace", o->trace_path != NULL },
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].given)
			return opts[i].option;
	return NULL;
}

g3_rc esdir_restore_opts(const struct restore_opts *o, const char *dir,
			 void (*catch_signals)(void), g3_err *err)
{
	struct restore_es_opts eo;
	const char *refused = esdir_refused(o);
	int ran = 0;
	g3_rc rc;

	restore_es_opts_init(&eo);
	if (refused) {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is a directory of elasticdump files (indices "
				"only): %s does not apply to it", dir, refused);
		goto cleanup;
	}
	eo.dir = dir;
	for (size_t i = 0; i < o->n_indices; i++)
		g3_strlist_add(&eo.indices, &eo.n_indices, o->indices[i]);
	eo.on_existing = o->on_existing;
	eo.es_url = o->es_url;
	eo.cacert = o->es_cacert;
	eo.wait = o->wait;
	eo.json = o->json;
	eo.r = o->es;   /* --no-alias, --keep-versions, bulk options, skip_existing */
	eo.r.clean = o->clean;
	eo.r.cancel = &restore_interrupted;
	rc = esdir_restore(&eo, catch_signals, &ran, err);
cleanup:
	if (rc && o->json && !ran) {
		if (err->msg[0])
			g3_log_err(err);
		g3_err_print_json(NULL, rc, err);
		err->msg[0] = '\0';   /* reported */
	}
	restore_es_opts_release(&eo);
	return rc;
}
