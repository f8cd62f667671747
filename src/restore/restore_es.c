/*
 * gen3db restore-es: Elasticsearch indices from elasticdump files (the gen3
 * bucket layout the helm restore job reads). Snapshots carry their indices
 * in es/ members that `gen3db restore` loads (restore_snapshot_es.c); the
 * two share the library's esrestore steps and the option fragments. Every
 * index is planned (definition read, target checked) before anything is
 * written.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../commands.h"
#include "../common/base/interrupt.h"
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
	const char *es_url;
	const char *cacert;
	long wait;
	int json;
	g3_esrestore_opts r;
};

enum {
	OPT_INDEX = G3_OPT_COMMAND_FIRST,
	OPT_CLEAN, OPT_NO_ALIAS, OPT_ON_EXISTING, OPT_WAIT, OPT_JSON, OPT_HELP
};

#define RESTORE_ES_LONG_OPTIONS \
	{ "index", required_argument, NULL, OPT_INDEX }, \
	{ "clean", no_argument, NULL, OPT_CLEAN }, \
	{ "no-alias", no_argument, NULL, OPT_NO_ALIAS }, \
	{ "on-existing", required_argument, NULL, OPT_ON_EXISTING }, \
	G3_ES_LONG_OPTIONS, \
	G3_ESBULK_LONG_OPTIONS, \
	G3_ESRESTORE_LONG_OPTIONS

static const struct option long_options[] = {
	RESTORE_ES_LONG_OPTIONS,
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
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
	"\n"
	"      --index NAME             repeatable; default: GUPPY_INDICES (comma\n"
	"                               separated) and GUPPY_CONFIGINDEX, else every\n"
	"                               index whose files are in DIR (or DIR/es)\n"
	"      --no-alias               restore into the concrete index NAME; by default\n"
	"                               a new version NAME_<n> is created and alias NAME\n"
	"                               is switched to it once it is complete\n"
	"      --clean                  delete an existing concrete index NAME first (and,\n"
	"                               with the alias, the versions it pointed at after\n"
	"                               the switch); without it such an index is refused\n"
	"      --on-existing refuse|skip|replace\n"
	"                               an index or alias NAME that exists: refuse it\n"
	"                               (exit 2, the default), skip it (left as it is,\n"
	"                               reported \"skipped\"), or replace it (= --clean)\n"
	G3_ESRESTORE_HELP
	G3_ES_HELP
	G3_ESBULK_HELP
	"      --wait SECONDS           keep trying this long for the cluster, the last\n"
	"                               try when it has passed (default 300)\n"
	"      --json                   print a JSON report on stdout\n"
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 all indices restored, 1 an index failed (it is deleted and\n"
	"never gets the alias), 2 usage or bad input (nothing was changed), 3 the\n"
	"cluster was unreachable within --wait\n";

const g3_cmd_options cmd_restore_es_options = { "restore-es", long_options, usage_text };

/* SIGINT/SIGTERM (a pod being deleted) end the load in progress cleanly:
 * its partial index is deleted, no alias moves. */
static void catch_stop_signals(void)
{
	g3_interrupt_install(G3_INTERRUPT_FLAG);
}

static void restore_es_opts_init(struct restore_es_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wait = 300;
	g3_esrestore_opts_init(&o->r);
	o->r.cancel = &g3_interrupted;
}

static void restore_es_opts_release(struct restore_es_opts *o)
{
	if (o->from_s3)
		g3_layout_plan_release(&o->plan);
	g3_strlist_free(o->indices, o->n_indices);
	memset(o, 0, sizeof(*o));
}

/* Handles an ES restore option: 1 if it was one, 0 if not, -1 with err. */
static int restore_es_option(struct restore_es_opts *o, int c, const char *arg, g3_err *err)
{
	int r = g3_esbulk_option(&o->r.bulk, c, arg, err);

	if (!r)
		r = g3_esrestore_option(&o->r, c, arg, err);
	if (r)
		return r;
	switch (c) {
	case OPT_INDEX: g3_strlist_add(&o->indices, &o->n_indices, arg); return 1;
	case OPT_CLEAN: o->r.clean = 1; return 1;
	case OPT_NO_ALIAS: o->r.no_alias = 1; return 1;
	case G3_OPT_ES: o->es_url = arg; return 1;
	case G3_OPT_ES_CACERT: o->cacert = arg; return 1;
	}
	return 0;
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
		if (g3_interrupted) {
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

/* GEN3DB_PRINT_OPTIONS (opts.h): what was parsed, before any I/O. */
static int print_options(const struct restore_es_opts *o, int argc, char **argv)
{
	json_object *j = json_object_new_object();

	g3_opt_json_list(j, "indices", o->indices, o->n_indices);
	g3_opt_json_bool(j, "no_alias", o->r.no_alias);
	/* --clean is --on-existing replace */
	g3_opt_json_str(j, "on_existing", g3_on_existing_names[o->on_existing]);
	g3_opt_json_int(j, "keep_versions", o->r.keep_versions);
	g3_opt_json_url(j, "es", o->es_url);
	g3_opt_json_str(j, "es_cacert", o->cacert);
	g3_esbulk_options_json(&o->r.bulk, j);
	g3_opt_json_int(j, "wait", o->wait);
	g3_opt_json_bool(j, "json", o->json);
	g3_common_options_json(j);
	return g3_options_print(stdout, "restore-es", j, argc, argv);
}

int restore_es_main(int argc, char **argv)
{
	struct restore_es_opts o;
	g3_err err;
	g3_rc rc = G3_OK;
	int c, from_env = 0, from_dir = 0, ran = 0, on_existing_given = 0;

	restore_es_opts_init(&o);
	g3_err_init(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		int r = g3_common_option(c, optarg, &err);

		if (!r)
			r = restore_es_option(&o, c, optarg, &err);
		if (r < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (r)
			continue;
		switch (c) {
		case OPT_WAIT:
			if ((rc = g3_parse_long("--wait", optarg, 0, 86400, &o.wait, &err)))
				goto cleanup;
			break;
		case OPT_JSON: o.json = 1; break;
		case OPT_ON_EXISTING:
			if ((rc = g3_parse_choice("--on-existing", optarg, g3_on_existing_names,
						  &o.on_existing, &err)))
				goto cleanup;
			on_existing_given = 1;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			goto cleanup;
		default:
			fputs("hint: 'gen3db restore-es --help' lists the options\n", stderr);
			rc = G3_USAGE;
			goto cleanup;
		}
	}
	if ((rc = g3_on_existing_resolve(&o.r.clean, on_existing_given, &o.on_existing, &err)))
		goto cleanup;
	o.r.skip_existing = o.on_existing == G3_ON_EXISTING_SKIP;
	if (g3_print_options_wanted()) {
		if (print_options(&o, argc - optind, argv + optind))
			rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
		goto cleanup;
	}
	if (optind < argc)
		o.dir = argv[optind++];
	if (optind < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[optind]);
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
