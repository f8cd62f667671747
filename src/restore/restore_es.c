/*
 * gen3db restore-es: Elasticsearch indices from elasticdump files (the gen3
 * bucket layout the helm restore job reads). An alias of `gen3db restore
 * DIR` for such a directory, with its own subset of options: the restore
 * itself is the elasticdump directory kind's (restore_esdir.c), which
 * `gen3db restore` runs too.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../commands.h"
#include "../common/base/interrupt.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/es/es.h"
#include "../common/es/esbulk.h"
#include "../common/es/esrestore.h"
#include "kinds.h"

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
	"are checked, not restored. The same as 'gen3db restore DIR' for such a\n"
	"directory, with only these options.\n"
	"\n",
	"\n"
	"exit codes: 0 all indices restored, 1 an index failed (it is deleted and\n"
	"never gets the alias), 2 usage or bad input (nothing was changed), 3 the\n"
	"cluster was unreachable within --wait\n");

/* SIGINT/SIGTERM (a pod being deleted) end the load in progress cleanly:
 * its partial index is deleted, no alias moves. */
static void catch_stop_signals(void)
{
	g3_interrupt_install(G3_INTERRUPT_FLAG);
}

int restore_es_main(int argc, char **argv)
{
	struct restore_es_opts o;
	g3_err err;
	g3_rc rc = G3_OK;
	int args = 0, done = 0, ran = 0;

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
	rc = esdir_restore(&o, catch_stop_signals, &ran, &err);
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	if (rc && o.json && !ran)
		g3_err_print_json(NULL, rc, &err);
	restore_es_opts_release(&o);
	return g3_exit_code(rc);
}
