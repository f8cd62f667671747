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

struct ls_opts {
	int long_format;
	int layout;
	char **services;
	size_t n_services;
	char **indices;
	size_t n_indices;
	g3_remote_opts remote;
};

#define LO struct ls_opts

static const g3_opt ls_rows[] = {
	G3_ROW_FLAG("long", 'l', LO, long_format, "long",
		    "size, ETag, last-modified time and key,\ntab-separated"),
	G3_ROW_FLAG("gen3-layout", 0, LO, layout, "gen3_layout", "show the gen3 layout's plan"),
	G3_ROW_LIST("service", 0, LO, services, n_services, "services", "NAME",
		    "repeatable; only these services (must exist)"),
	G3_ROW_LIST("index", 0, LO, indices, n_indices, "indices", "NAME",
		    "repeatable; only these indices (must exist)"),
};

static const g3_opt_section ls_sections[] = {
	G3_SECTION(ls_rows, 0),
	G3_SECTION(g3_remote_rows, offsetof(LO, remote)),
};

const g3_cmd_spec cmd_ls_spec =
	G3_CMD_SPEC("ls", ls_sections, 0, G3_BAD_USAGE, NULL, -1,
	"usage: gen3db ls s3://BUCKET/[PREFIX] [--long]\n"
	"       gen3db ls --gen3-layout s3://BUCKET/ENVIRONMENT/VERSION/|DIR\n"
	"                 [--service NAME]... [--index NAME]...\n"
	"\n"
	"List the keys under PREFIX, one per line; or, with --gen3-layout, what a\n"
	"restore would take from a gen3 dump location (pgdumps/<service>.sql[.gz|.zst],\n"
	"<service>.sql[.gz|.zst] at the top level, elasticsearch/<index>__mapping.json\n"
	"and __data.json, *.tar.zst snapshots):\n"
	"lines \"service NAME URL\", \"index NAME MAPPING-URL DATA-URL\", \"snapshot URL\".\n"
	"\n",
	"\nexit codes: 0 listed, 1 failure, 2 usage or bad input\n");

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

int cmd_ls(int argc, char **argv)
{
	struct ls_opts o;
	struct ls_state st = { 0, 0 };
	g3_err err;
	g3_rc rc = G3_OK;
	int args = 0, done = 0;

	g3_err_init(&err);
	memset(&o, 0, sizeof(o));
	g3_remote_options_init(&o.remote);
	if ((rc = g3_opts_parse(&cmd_ls_spec, &o, argc, argv, &args, &done, &err)) || done)
		goto cleanup;
	if (args != argc - 1 || (!o.layout && strncmp(argv[args], "s3://", 5))) {
		rc = g3_err_set(&err, G3_USAGE, "ls takes one s3://BUCKET/PREFIX URL");
		goto cleanup;
	}
	if (!o.layout && (o.n_services || o.n_indices)) {
		rc = g3_err_set(&err, G3_USAGE, "--service and --index need --gen3-layout");
		goto cleanup;
	}
	g3_remote_options_apply(&o.remote);
	st.long_format = o.long_format;
	if (o.layout)
		rc = print_layout(argv[args], o.services, o.n_services, o.indices, o.n_indices, &err);
	else
		rc = g3_s3_list(NULL, argv[args], print_object, &st, &err);
	if (rc)
		goto cleanup;
	if (fflush(stdout)) {
		rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
		goto cleanup;
	}
	g3_debug("%" PRIu64 " %s under \"%s\"", st.count,
		 g3_plural((long long)st.count, "key", "keys"), argv[args]);
	goto cleanup;
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	g3_strlist_free(o.services, o.n_services);
	g3_strlist_free(o.indices, o.n_indices);
	g3_remote_options_release(&o.remote);
	return g3_exit_code(rc);
}
