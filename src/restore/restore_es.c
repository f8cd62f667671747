/*
 * gen3db restore-es: Elasticsearch indices from elasticdump files (the gen3
 * bucket layout the helm restore job reads). An alias of `gen3db restore
 * DIR` for such a directory, with its own subset of options: the restore
 * itself is the elasticdump directory kind's (restore_esdir.c), which
 * `gen3db restore` runs too.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../commands.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/es/es.h"
#include "../common/es/esbulk.h"
#include "../common/es/esrestore.h"
#include "kinds.h"

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
	"are checked, not restored. The same as 'gen3db restore DIR' for such a\n"
	"directory, with only these options.\n"
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
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_interrupt;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
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
	int c, ran = 0, on_existing_given = 0;

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
	rc = esdir_restore(&o, catch_stop_signals, &ran, &err);
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	if (rc && o.json && !ran)
		g3_err_print_json(NULL, rc, &err);
	restore_es_opts_release(&o);
	return g3_exit_code(rc);
}
