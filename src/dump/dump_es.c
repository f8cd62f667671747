/*
 * gen3db dump-es: Elasticsearch indices into elasticdump files, an alias
 * of `gen3db dump --es ... --output DIR/` kept for the commands and jobs
 * that call it: its options, then the same dump_es_dir (esdump.h writes
 * the files).
 */
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

#define DO struct dump_es_opts

static const g3_opt dump_es_rows[] = {
	G3_ROW_LIST("index", 0, DO, indices, n_indices, "indices", "NAME",
		    "repeatable (an alias or an index); default:\n"
		    "GUPPY_INDICES and GUPPY_CONFIGINDEX"),
	G3_ROW_STR("output", 0, DO, output, "output", "DIR",
		   "where the files go (created if missing)"),
	G3_ROW_LONG("page-size", 0, DO, page, 1, 10000, "page_size", "N",
		    "documents per search request (default 1000)"),
	G3_ES_ROWS(DO, es_url, cacert),
	G3_ROW_WAIT(DO, wait, "the cluster"),
};

const g3_cmd_spec cmd_dump_es_spec =
	G3_CMD_SPEC_ROWS("dump-es", dump_es_rows, 'h', G3_BAD_HINT, NULL, -1,
	"usage: gen3db dump-es --index NAME ... --output DIR [options]\n"
	"\n"
	"Dump Elasticsearch indices into elasticdump files in DIR: per index\n"
	"<NAME>__mapping.json, <NAME>__settings.json (without per-cluster keys),\n"
	"<NAME>__alias.json and every document in <NAME>__data.json (NDJSON), as\n"
	"elasticdump 6 writes them (settings and alias as JSON-encoded strings), so\n"
	"that elasticdump can import them (its types mapping, settings, alias, data).\n"
	"An alias of 'gen3db dump --es URL --index NAME ... --output DIR/'.\n"
	"\n",
	"\n"
	"exit codes: 0 all indices dumped, 1 failure, 2 usage or bad input, 3 the\n"
	"cluster was unreachable within --wait\n");

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

int dump_es_main(int argc, char **argv)
{
	struct dump_es_opts o;
	g3_err err;
	g3_rc rc = G3_OK;
	int args = 0, done = 0, from_env = 0;

	memset(&o, 0, sizeof(o));
	o.wait = 300;
	o.page = G3_ESDUMP_PAGE;
	g3_err_init(&err);
	if ((rc = g3_opts_parse(&cmd_dump_es_spec, &o, argc, argv, &args, &done, &err)) || done)
		goto cleanup;
	if (args < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[args]);
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
