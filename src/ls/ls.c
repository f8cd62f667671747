/*
 * gen3db ls: lists the keys under s3://bucket/prefix, one per line on
 * stdout (with --long: size, ETag, last modified, key; tab-separated).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../commands.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/gen3/gen3layout.h"
#include "../common/io/remoteopts.h"
#include "../common/io/s3.h"
#include "../common/base/strbuf.h"

enum { OPT_LONG = G3_OPT_COMMAND_FIRST, OPT_LAYOUT, OPT_SERVICE, OPT_INDEX, OPT_HELP };

static const struct option long_options[] = {
	{ "long", no_argument, NULL, OPT_LONG },
	{ "gen3-layout", no_argument, NULL, OPT_LAYOUT },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "help", no_argument, NULL, OPT_HELP },
	G3_REMOTE_LONG_OPTIONS,
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
	"usage: gen3db ls s3://BUCKET/[PREFIX] [--long]\n"
	"       gen3db ls --gen3-layout s3://BUCKET/ENVIRONMENT/VERSION/|DIR\n"
	"                 [--service NAME]... [--index NAME]...\n"
	"\n"
	"List the keys under PREFIX, one per line; or, with --gen3-layout, what a\n"
	"restore would take from a gen3 dump location (pgdumps/<service>.sql[.gz|.zst],\n"
	"<service>.sql[.gz|.zst] at the top level, elasticsearch/<index>__mapping.json\n"
	"and __data.json, *.tar.zst snapshots):\n"
	"lines \"service NAME URL\", \"index NAME MAPPING-URL DATA-URL\", \"snapshot URL\".\n"
	"\n"
	"  -l, --long                   size, ETag, last-modified time and key,\n"
	"                               tab-separated\n"
	"      --gen3-layout            show the gen3 layout's plan\n"
	"      --service NAME           repeatable; only these services (must exist)\n"
	"      --index NAME             repeatable; only these indices (must exist)\n"
	G3_REMOTE_HELP
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 listed, 1 failure, 2 usage or bad input\n";

const g3_cmd_options cmd_ls_options = { "ls", long_options, usage_text };

struct ls_state {
	int long_format;
	uint64_t count;
};

static g3_rc print_object(void *ctx, const g3_s3_object *o, g3_err *err)
{
	struct ls_state *st = ctx;
	int r;

	if (st->long_format)
		r = printf("%" PRId64 "\t%s\t%s\t%s\n", o->size, o->etag ? o->etag : "-",
			   o->last_modified ? o->last_modified : "-", o->key);
	else
		r = printf("%s\n", o->key);
	if (r < 0)
		return g3_err_set(err, G3_FAIL, "could not write to standard output");
	st->count++;
	return G3_OK;
}

static g3_rc print_layout(const char *base, char **services, size_t n_services,
			  char **indices, size_t n_indices, g3_err *err)
{
	g3_layout_filter f = { (const char *const *)services, n_services,
			       (const char *const *)indices, n_indices };
	g3_layout_plan plan;
	g3_rc rc;

	if ((rc = g3_layout_scan(base, NULL, &f, &plan, err)))
		return rc;
	for (size_t i = 0; i < plan.n_services; i++)
		printf("service\t%s\t%s\n", plan.services[i].name, plan.services[i].url);
	for (size_t i = 0; i < plan.n_indices; i++)
		printf("index\t%s\t%s\t%s\n", plan.indices[i].name, plan.indices[i].mapping_url,
		       plan.indices[i].data_url);
	for (size_t i = 0; i < plan.n_snapshots; i++)
		printf("snapshot\t%s\n", plan.snapshots[i].url);
	g3_layout_plan_release(&plan);
	return G3_OK;
}

/* GEN3DB_PRINT_OPTIONS (opts.h): what was parsed, before any I/O. */
static int print_options(int long_format, int layout, char **services, size_t n_services,
			 char **indices, size_t n_indices, const g3_remote_opts *ro, int argc,
			 char **argv)
{
	json_object *j = json_object_new_object();

	g3_opt_json_bool(j, "long", long_format);
	g3_opt_json_bool(j, "gen3_layout", layout);
	g3_opt_json_list(j, "services", services, n_services);
	g3_opt_json_list(j, "indices", indices, n_indices);
	g3_remote_options_json(ro, j);
	g3_common_options_json(j);
	return g3_options_print(stdout, "ls", j, argc, argv);
}

int cmd_ls(int argc, char **argv)
{
	g3_remote_opts ro;
	struct ls_state st = { 0, 0 };
	int layout = 0;
	char **services = NULL, **indices = NULL;
	size_t n_services = 0, n_indices = 0;
	g3_err err;
	g3_rc rc = G3_OK;
	int c;

	g3_err_init(&err);
	g3_remote_options_init(&ro);
	optind = 1;
	while ((c = getopt_long(argc, argv, "l", long_options, NULL)) != -1) {
		int r = g3_common_option(c, optarg, &err);

		if (!r)
			r = g3_remote_option(&ro, c, optarg, &err);
		if (r < 0) {
			rc = err.rc;
			goto fail;
		}
		if (r)
			continue;
		switch (c) {
		case 'l':
		case OPT_LONG:
			st.long_format = 1;
			break;
		case OPT_LAYOUT:
			layout = 1;
			break;
		case OPT_SERVICE:
			g3_strlist_add(&services, &n_services, optarg);
			break;
		case OPT_INDEX:
			g3_strlist_add(&indices, &n_indices, optarg);
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			goto cleanup;
		default:
			fputs(usage_text, stderr);
			rc = G3_USAGE;
			goto cleanup;
		}
	}
	if (g3_print_options_wanted()) {
		if (print_options(st.long_format, layout, services, n_services, indices, n_indices,
				  &ro, argc - optind, argv + optind)) {
			rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
			goto fail;
		}
		goto cleanup;
	}
	if (optind != argc - 1 || (!layout && strncmp(argv[optind], "s3://", 5))) {
		rc = g3_err_set(&err, G3_USAGE, "ls takes one s3://BUCKET/PREFIX URL");
		goto fail;
	}
	if (!layout && (n_services || n_indices)) {
		rc = g3_err_set(&err, G3_USAGE, "--service and --index need --gen3-layout");
		goto fail;
	}
	g3_remote_options_apply(&ro);
	if (layout)
		rc = print_layout(argv[optind], services, n_services, indices, n_indices, &err);
	else
		rc = g3_s3_list(NULL, argv[optind], print_object, &st, &err);
	if (rc)
		goto fail;
	if (fflush(stdout)) {
		rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
		goto fail;
	}
	g3_debug("%" PRIu64 " %s under \"%s\"", st.count,
		 g3_plural((long long)st.count, "key", "keys"), argv[optind]);
	goto cleanup;
fail:
	g3_log_err(&err);
cleanup:
	g3_strlist_free(services, n_services);
	g3_strlist_free(indices, n_indices);
	g3_remote_options_release(&ro);
	return g3_exit_code(rc);
}
