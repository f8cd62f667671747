/*
 * gen3db restore-es: Elasticsearch indices from elasticdump files (the gen3
 * bucket layout the helm restore job reads). Snapshots carry their indices
 * in es/ members that `gen3db restore` loads (restore_snapshot_es.c); the
 * two share the library's esrestore steps and the option fragments. Every
 * index is planned (definition read, target checked) before anything is
 * written.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../commands.h"
#include "../common/es/es.h"
#include "../common/es/esbulk.h"
#include "../common/es/esrestore.h"
#include "../common/gen3/gen3layout.h"
#include "../common/base/log.h"
#include "../common/base/progress.h"
#include "../common/io/sourcefile.h"
#include "../common/base/opts.h"
#include "../common/base/strbuf.h"

struct restore_es_opts {
	const char *dir;
	char **indices;
	size_t n_indices;
	g3_layout_plan plan;    /* an s3:// DIR: its listing (else unused) */
	int from_s3;
	int on_existing;        /* G3_ON_EXISTING_* */
	int on_existing_given;  /* --on-existing was given */
	const char *es_url;
	const char *cacert;
	long wait;
	int json;
	g3_esrestore_opts r;
};

/* --clean is --on-existing replace: one on_existing to print and use */
static g3_rc restore_es_after(void *opts, g3_err *err)
{
	struct restore_es_opts *o = opts;
	g3_rc rc;

	if ((rc = g3_on_existing_resolve(&o->r.clean, o->on_existing_given, &o->on_existing,
					 err)))
		return rc;
	o->r.skip_existing = o->on_existing == G3_ON_EXISTING_SKIP;
	return G3_OK;
}

#define RO struct restore_es_opts

static const g3_opt restore_es_rows[] = {
	G3_ROW_LIST("index", 0, RO, indices, n_indices, "indices", "NAME",
		    "repeatable; default: GUPPY_INDICES (comma\n"
		    "separated) and GUPPY_CONFIGINDEX, else every\n"
		    "index whose files are in DIR (or DIR/es)"),
	G3_ROW_FLAG("no-alias", 0, RO, r.no_alias, "no_alias",
		    "restore into the concrete index NAME; by default\n"
		    "a new version NAME_<n> is created and alias NAME\n"
		    "is switched to it once it is complete"),
	G3_ROW_FLAG("clean", 0, RO, r.clean, NULL,
		    "delete an existing concrete index NAME first (and,\n"
		    "with the alias, the versions it pointed at after\n"
		    "the switch); without it such an index is refused"),
	G3_ROW_CHOICE_GIVEN("on-existing", 0, RO, on_existing, on_existing_given,
			    g3_on_existing_names, "on_existing",
			    "an index or alias NAME that exists: refuse it\n"
			    "(exit 2, the default), skip it (left as it is,\n"
			    "reported \"skipped\"), or replace it (= --clean)"),
};

static const g3_opt restore_es_conn[] = {
	G3_ES_ROWS(RO, es_url, cacert),
};

static const g3_opt restore_es_tail[] = {
	G3_ROW_WAIT(RO, wait, "the cluster"),
	G3_ROW_FLAG("json", 0, RO, json, "json", "print a JSON report on stdout"),
};

static const g3_opt_section restore_es_sections[] = {
	G3_SECTION(restore_es_rows, 0),
	G3_SECTION(restore_es_conn, 0),
	G3_ESRESTORE_SECTIONS(RO, r),
	G3_SECTION(restore_es_tail, 0),
};

const g3_cmd_spec cmd_restore_es_spec =
	G3_CMD_SPEC("restore-es", restore_es_sections, 'h', G3_BAD_HINT, restore_es_after,
		    -1,
	"usage: gen3db restore-es DIR [--index NAME ...] [options]\n"
	"\n"
	"Restore Elasticsearch indices from elasticdump files in DIR (or DIR/es), a\n"
	"local directory or an s3://BUCKET/PREFIX/ (elasticdump's layout at its top):\n"
	"<index>__mapping.json, <index>__data.json and, when present,\n"
	"<index>__settings.json, __analyzer.json, __alias.json, __template.json and\n"
	"__index.json, as elasticdump 6 writes them (a JSON string holding the JSON\n"
	"or the JSON itself); or multielasticdump's <index>.json, <index>.mapping.json,\n"
	"<index>.settings.json, ... The file's name is the target index; templates\n"
	"are checked, not restored.\n"
	"\n",
	"\n"
	"exit codes: 0 all indices restored, 1 an index failed (it is deleted and\n"
	"never gets the alias), 2 usage or bad input (nothing was changed), 3 the\n"
	"cluster was unreachable within --wait\n");

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGINT/SIGTERM (a pod being deleted) end the load in progress cleanly:
 * its partial index is deleted, no alias moves. */
static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void restore_es_opts_init(struct restore_es_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wait = 300;
	g3_esrestore_opts_init(&o->r);
	o->r.cancel = &stop_requested;
}

static void restore_es_opts_release(struct restore_es_opts *o)
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

static g3_rc restore_es_run(struct restore_es_opts *o, g3_err *err)
{
	g3_esconf conf;
	g3_es es;
	g3_esrestore_index *ix = NULL;
	json_object *report_json = NULL, *list = NULL;
	g3_rc rc, worst = G3_OK;

	g3_esconf_init(&conf);
	g3_es_init(&es);
	if ((rc = g3_esconf_set(&conf, o->es_url, o->cacert, err)))
		goto cleanup;
	if ((rc = g3_es_connect(&es, &conf, (int)o->wait, err)))
		goto cleanup;
	g3_info("connected to %s %s at \"%s\"",
		es.dist == G3_ES_OPENSEARCH ? "OpenSearch" : "Elasticsearch", es.version, conf.url);
	ix = g3_xcalloc(o->n_indices, sizeof(*ix));
	for (size_t i = 0; i < o->n_indices; i++)
		g3_esrestore_index_init(&ix[i]);
	/* everything is checked before anything is written */
	for (size_t i = 0; i < o->n_indices; i++) {
		if (o->from_s3) {
			const g3_layout_index *x = NULL;
			g3_edump_files f;

			for (size_t k = 0; k < o->plan.n_indices && !x; k++)
				if (!strcmp(o->plan.indices[k].name, o->indices[i]))
					x = &o->plan.indices[k];
			if (!x) {  /* g3_layout_scan_es kept exactly these */
				rc = g3_err_set(err, G3_FAIL, "index \"%s\" is not in the listing",
						o->indices[i]);
				goto cleanup;
			}
			g3_layout_index_files(x, &f);
			rc = g3_esrestore_plan_files(&es, o->indices[i], &f, &o->r, &ix[i], err);
		} else {
			rc = g3_esrestore_plan(&es, o->dir, o->indices[i], &o->r, &ix[i], err);
			if (rc)
				hint_found(o, o->indices[i], err);
		}
		if (rc)
			goto cleanup;
	}
	progress_start(ix, o->n_indices);
	list = json_object_new_array();
	for (size_t i = 0; i < o->n_indices; i++) {
		g3_err ierr;
		g3_rc irc;

		g3_err_init(&ierr);
		if (stop_requested) {
			g3_error("index \"%s\" was not restored: interrupted", ix[i].name);
			worst = G3_FAIL;
			continue;
		}
		if (ix[i].skipped) {
			g3_info("skipped index \"%s\": it already exists (--on-existing skip)",
				ix[i].name);
			json_object_array_add(list, json_result(&ix[i], NULL));
			continue;
		}
		g3_progress_item_start(ix[i].name, G3_PROGRESS_DOCS);
		irc = g3_esrestore_load(&es, &o->r, &ix[i], &ierr);
		g3_progress_item_done(ix[i].name, irc ? 0 : (int64_t)ix[i].docs_read);
		if (irc) {
			g3_err_prefix(&ierr, "index \"%s\" was not restored", ix[i].name);
			g3_log_err(&ierr);
			worst = G3_FAIL;
		} else {
			report(&ix[i]);
		}
		json_object_array_add(list, json_result(&ix[i], irc ? &ierr : NULL));
	}
	rc = worst;
	if (rc)
		err->msg[0] = '\0';  /* each failure was reported */
cleanup:
	g3_progress_finish();
	if (o->json) {
		report_json = json_object_new_object();
		json_object_object_add(report_json, "elasticsearch", json_object_new_string(
			conf.url ? conf.url : ""));
		json_object_object_add(report_json, "version", json_object_new_string(es.version));
		json_object_object_add(report_json, "indices",
				       list ? json_object_get(list) : json_object_new_array());
		json_object_object_add(report_json, "status", json_object_new_string(
			rc ? "failed" : "ok"));
		if (rc)
			json_object_object_add(report_json, "exit_code",
					       json_object_new_int(g3_exit_code(rc)));
		if (rc && err->msg[0])
			json_object_object_add(report_json, "error", json_object_new_string(err->msg));
		printf("%s\n", json_object_to_json_string_ext(report_json, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(report_json);
	}
	json_object_put(list);
	for (size_t i = 0; ix && i < o->n_indices; i++)
		g3_esrestore_index_release(&ix[i]);
	free(ix);
	g3_es_release(&es);
	g3_esconf_release(&conf);
	return rc;
}

int restore_es_main(int argc, char **argv)
{
	struct restore_es_opts o;
	g3_err err;
	g3_rc rc = G3_OK;
	int args = 0, done = 0, from_env = 0, from_dir = 0, ran = 0;

	restore_es_opts_init(&o);
	g3_err_init(&err);
	if ((rc = g3_opts_parse(&cmd_restore_es_spec, &o, argc, argv, &args, &done, &err)) || done)
		goto cleanup;
	if (args < argc)
		o.dir = argv[args++];
	if (args < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[args]);
		goto cleanup;
	}
	if (!o.dir) {
		rc = g3_err_set(&err, G3_USAGE, "no dump directory given");
		g3_err_hint(&err, "gen3db restore-es DIR --index NAME");
		goto cleanup;
	}
	if (!o.n_indices) {
		from_env = 1;
		g3_es_indices_from_env(&o.indices, &o.n_indices);
	}
	if (strstr(o.dir, "://") && strncmp(o.dir, "s3://", 5)) {
		rc = g3_err_set(&err, G3_USAGE, "restore-es reads a local directory or an s3:// "
				"prefix, not \"%s\"", o.dir);
		goto cleanup;
	}
	if (!strncmp(o.dir, "s3://", 5)) {
		g3_layout_filter filter;

		/* before any request: the names asked for */
		for (size_t i = 0; i < o.n_indices; i++)
			if ((rc = g3_es_name_check(o.indices[i], from_env ? G3_ES_ENV_ORIGIN :
						   "--index", &err)))
				goto cleanup;
		memset(&filter, 0, sizeof(filter));
		filter.indices = (const char *const *)o.indices;
		filter.n_indices = o.n_indices;
		if ((rc = g3_layout_scan_es(o.dir, NULL, &filter, &o.plan, &err)))
			goto cleanup;
		o.from_s3 = 1;
		if (!o.n_indices) {
			from_env = 0;
			from_dir = 1;
			for (size_t i = 0; i < o.plan.n_indices; i++)
				g3_strlist_add(&o.indices, &o.n_indices, o.plan.indices[i].name);
			g3_info("restoring every index in \"%s\": %zu found", o.dir, o.n_indices);
		}
	}
	if (!o.n_indices) {
		/* every index the directory holds */
		from_env = 0;
		from_dir = 1;
		if ((rc = g3_layout_edump_indices(o.dir, &o.indices, &o.n_indices, &err)))
			goto cleanup;
		g3_info("restoring every index in \"%s\": %zu found", o.dir, o.n_indices);
	}
	/* before any request: such a name could make a delete hit other indices */
	for (size_t i = 0; i < o.n_indices; i++) {
		g3_buf from = G3_BUF_INIT;

		if (from_dir)
			g3_buf_addf(&from, "a file name in \"%s\"", o.dir);
		else
			g3_buf_adds(&from, from_env ? G3_ES_ENV_ORIGIN : "--index");
		rc = g3_es_name_check(o.indices[i], from.data, &err);
		g3_buf_release(&from);
		if (rc)
			goto cleanup;
	}
	catch_stop_signals();
	rc = restore_es_run(&o, &err);
	ran = 1;   /* it prints its own report */
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	if (rc && o.json && !ran)
		g3_err_print_json(NULL, rc, &err);
	restore_es_opts_release(&o);
	return g3_exit_code(rc);
}
