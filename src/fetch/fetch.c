/*
 * gen3db fetch: copies one source (path, "-", http(s):// or s3:// URL) to
 * one output (path, "-" or s3://bucket/key), streaming, so remote sources
 * and sinks can be exercised end to end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/io/remoteopts.h"
#include "../common/io/sink.h"
#include "../common/io/source.h"
#include "../common/base/strbuf.h"

#define COPY_CHUNK (256 * 1024)

enum { OPT_OUTPUT = G3_OPT_COMMAND_FIRST, OPT_HELP };

static const struct option long_options[] = {
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "help", no_argument, NULL, OPT_HELP },
	G3_REMOTE_LONG_OPTIONS,
	G3_COMMON_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
	"usage: gen3db fetch SOURCE [--output FILE|-|s3://BUCKET/KEY]\n"
	"\n"
	"Copy SOURCE (a path, \"-\", an http(s):// or s3://BUCKET/KEY URL) to the\n"
	"output (default standard output), streaming. Dropped downloads resume\n"
	"with Range requests; an S3 output is a multipart upload, aborted on\n"
	"failure; a file output appears only when complete.\n"
	"\n"
	"  -o, --output FILE|-|URL      where the bytes go (default -)\n"
	G3_REMOTE_HELP
	G3_COMMON_HELP
	"\n"
	"exit codes: 0 copied, 1 failure, 2 usage or bad input\n";

const g3_cmd_options cmd_fetch_options = { "fetch", long_options, usage_text };

/* GEN3DB_PRINT_OPTIONS (opts.h): what was parsed, before any I/O. */
static int print_options(const char *output, const g3_remote_opts *ro, int argc, char **argv)
{
	json_object *j = json_object_new_object();

	g3_opt_json_url(j, "output", output);
	g3_remote_options_json(ro, j);
	g3_common_options_json(j);
	return g3_options_print(stdout, "fetch", j, argc, argv);
}

int cmd_fetch(int argc, char **argv)
{
	g3_remote_opts ro;
	const char *output = "-";
	g3_source *src = NULL;
	g3_sink *sink = NULL;
	char *buf = NULL;
	g3_err err;
	g3_rc rc = G3_OK;
	int c;

	g3_err_init(&err);
	g3_remote_options_init(&ro);
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", long_options, NULL)) != -1) {
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
		case 'o':
		case OPT_OUTPUT:
			output = optarg;
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
		if (print_options(output, &ro, argc - optind, argv + optind)) {
			rc = g3_err_set(&err, G3_FAIL, "could not write to standard output");
			goto fail;
		}
		goto cleanup;
	}
	if (optind != argc - 1) {
		rc = g3_err_set(&err, G3_USAGE, "fetch takes one SOURCE");
		g3_err_hint(&err, "'gen3db fetch --help' shows the usage");
		goto fail;
	}
	g3_remote_options_apply(&ro);
	if ((rc = g3_source_open(argv[optind], &src, &err)))
		goto fail;
	if ((rc = g3_sink_open(output, &sink, &err)))
		goto fail;
	buf = g3_xmalloc(COPY_CHUNK);
	g3_progress_init(src->size);
	for (;;) {
		ssize_t n = g3_source_read(src, buf, COPY_CHUNK, &err);

		g3_source_report_progress(src);
		if (n < 0) {
			rc = err.rc ? err.rc : G3_FAIL;
			goto fail;
		}
		if (n == 0)
			break;
		if ((rc = g3_sink_write(sink, buf, (size_t)n, &err)))
			goto fail;
	}
	if ((rc = g3_sink_commit(sink, &err)))
		goto fail;
	g3_progress_finish();
	g3_info("copied %" PRIu64 " bytes from \"%s\" to \"%s\"", src->consumed, src->name,
		sink->name);
	goto cleanup;
fail:
	g3_progress_finish();
	g3_log_err(&err);
cleanup:
	g3_sink_close(sink);  /* aborts an uncommitted output */
	g3_source_close(src);
	free(buf);
	g3_remote_options_release(&ro);
	return g3_exit_code(rc);
}
