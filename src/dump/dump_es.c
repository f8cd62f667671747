/*
 * gen3db dump-es: Elasticsearch indices into elasticdump files, an alias
 * of `gen3db dump --es ... --output DIR/` kept for the commands and jobs
 * that call it: its options, then the same dump_es_dir (esdump.h writes
 * the files).
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands.h"
#include "../common/es/es.h"
#include "../common/es/esdump.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "dump.h"

struct dump_es_opts {
	char **indices;
	size_t n_indices;
	const char *output;
	const char *es_url;
	const char *cacert;
	long wait;
	long page;
};

enum {
	OPT_INDEX = G3_OPT_COMMAND_FIRST,
	OPT_OUTPUT, OPT_WAIT, OPT_PAGE, OPT_HELP
};

static const struct option long_options[] = {
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "page-size", required_argument, NULL, OPT_PAGE },
	{ "help", no_argument, NULL, OPT_HELP },
	G3_ES_LONG_OPTIONS,
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
	"usage: gen3db dump-es --index NAME ... --output DIR [options]\n"
	"\n"
	"Dump Elasticsearch indices into elasticdump files in DIR: per index\n"
	"<NAME>__mapping.json, <NAME>__settings.json (without per-cluster keys),\n"
	"<NAME>__alias.json and every document in <NAME>__data.json (NDJSON), as\n"
	"elasticdump 6 writes them (settings and alias as JSON-encoded strings), so\n"
	"that elasticdump can import them (its types mapping, settings, alias, data).\n"
	"An alias of 'gen3db dump --es URL --index NAME ... --output DIR/'.\n"
	"\n"
	"      --index NAME             repeatable (an alias or an index); default:\n"
	"                               GUPPY_INDICES and GUPPY_CONFIGINDEX\n"
	"      --output DIR             where the files go (created if missing)\n"
	"      --page-size N            documents per search request (default 1000)\n"
	G3_ES_HELP
	"      --wait SECONDS           keep trying this long for the cluster, the last\n"
	"                               try when it has passed (default 300)\n"
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 all indices dumped, 1 failure, 2 usage or bad input, 3 the\n"
	"cluster was unreachable within --wait\n";

const g3_cmd_options cmd_dump_es_options = { "dump-es", long_options, usage_text };

g3_rc dump_es_dir(const char *url, const char *cacert, int wait, long page, const char *dir,
		  char *const *indices, size_t n, g3_err *err)
{
	g3_esdump d;
	g3_rc rc;

	g3_esdump_init(&d);
	d.page = page;
	if ((rc = g3_esdump_dir_open(&d, url, cacert, wait, dir, err)))
		goto cleanup;
	g3_progress_init(-1);
	g3_progress_set_totals(-1, (int)n);
	for (size_t i = 0; i < n; i++) {
		if ((rc = g3_esdump_dir_index(&d, dir, indices[i], err))) {
			g3_err_prefix(err, "index \"%s\" was not dumped", indices[i]);
			goto cleanup;
		}
	}
cleanup:
	g3_esdump_release(&d);
	return rc;
}

/* GEN3DB_PRINT_OPTIONS (opts.h): what was parsed, before any I/O. */
static int print_options(const struct dump_es_opts *o, int argc, char **argv)
{
	json_object *j = json_object_new_object();

	g3_opt_json_list(j, "indices", o->indices, o->n_indices);
	g3_opt_json_str(j, "output", o->output);
	g3_opt_json_int(j, "page_size", o->page);
	g3_opt_json_url(j, "es", o->es_url);
	g3_opt_json_str(j, "es_cacert", o->cacert);
	g3_opt_json_int(j, "wait", o->wait);
	g3_common_options_json(j);
	return g3_options_print(stdout, "dump-es", j, argc, argv);
}

int dump_es_main(int argc, char **argv)
{
	struct dump_es_opts o;
	g3_err err;
	g3_rc rc = G3_OK;
	int c, from_env = 0;

	memset(&o, 0, sizeof(o));
	o.wait = 300;
	o.page = G3_ESDUMP_PAGE;
	g3_err_init(&err);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		int r = g3_common_option(c, optarg, &err);

		if (r < 0) {
			rc = G3_USAGE;
			goto cleanup;
		}
		if (r)
			continue;
		switch (c) {
		case OPT_INDEX: g3_strlist_add(&o.indices, &o.n_indices, optarg); break;
		case OPT_OUTPUT: o.output = optarg; break;
		case G3_OPT_ES: o.es_url = optarg; break;
		case G3_OPT_ES_CACERT: o.cacert = optarg; break;
		case OPT_WAIT:
			if ((rc = g3_parse_long("--wait", optarg, 0, 86400, &o.wait, &err)))
				goto cleanup;
			break;
		case OPT_PAGE:
			if ((rc = g3_parse_long("--page-size", optarg, 1, 10000, &o.page, &err)))
				goto cleanup;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			goto cleanup;
		default:
			fputs("hint: 'gen3db dump-es --help' lists the options\n", stderr);
			rc = G3_USAGE;
			goto cleanup;
		}
	}
	if (g3_print_options_wanted()) {
		if (print_options(&o, argc - optind, argv + optind))
			rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
		goto cleanup;
	}
	if (optind < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[optind]);
		goto cleanup;
	}
	if (!o.output) {
		rc = g3_err_set(&err, G3_USAGE, "no output directory given (--output DIR)");
		goto cleanup;
	}
	if (!o.n_indices) {
		from_env = 1;
		g3_es_indices_from_env(&o.indices, &o.n_indices);
	}
	if (!o.n_indices) {
		rc = g3_err_set(&err, G3_USAGE, "no index to dump");
		g3_err_hint(&err, "give --index NAME, or set GUPPY_INDICES and GUPPY_CONFIGINDEX");
		goto cleanup;
	}
	for (size_t i = 0; i < o.n_indices; i++) {
		if ((rc = g3_es_name_check(o.indices[i], from_env ? G3_ES_ENV_ORIGIN : "--index",
					   &err)))
			goto cleanup;
	}
	rc = dump_es_dir(o.es_url, o.cacert, (int)o.wait, o.page, o.output, o.indices, o.n_indices,
			 &err);
cleanup:
	g3_progress_finish();
	if (rc && err.msg[0])
		g3_log_err(&err);
	g3_strlist_free(o.indices, o.n_indices);
	return g3_exit_code(rc);
}
