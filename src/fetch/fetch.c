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

struct fetch_opts {
	const char *output;
	g3_remote_opts remote;
};

static const g3_opt fetch_rows[] = {
	G3_ROW_URL("output", 'o', struct fetch_opts, output, "output", "FILE|-|URL",
		   "where the bytes go (default -)"),
};

static const g3_opt_section fetch_sections[] = {
	G3_SECTION(fetch_rows, 0),
	G3_SECTION(g3_remote_rows, offsetof(struct fetch_opts, remote)),
};

const g3_cmd_spec cmd_fetch_spec =
	G3_CMD_SPEC("fetch", fetch_sections, 0, G3_BAD_USAGE, NULL, -1,
	"usage: gen3db fetch SOURCE [--output FILE|-|s3://BUCKET/KEY]\n"
	"\n"
	"Copy SOURCE (a path, \"-\", an http(s):// or s3://BUCKET/KEY URL) to the\n"
	"output (default standard output), streaming. Dropped downloads resume\n"
	"with Range requests; an S3 output is a multipart upload, aborted on\n"
	"failure; a file output appears only when complete.\n"
	"\n",
	"\nexit codes: 0 copied, 1 failure, 2 usage or bad input\n");

int cmd_fetch(int argc, char **argv)
{
	struct fetch_opts o;
	g3_source *src = NULL;
	g3_sink *sink = NULL;
	char *buf = NULL;
	g3_err err;
	g3_rc rc = G3_OK;
	int args = 0, done = 0;

	g3_err_init(&err);
	o.output = "-";
	g3_remote_options_init(&o.remote);
	if ((rc = g3_opts_parse(&cmd_fetch_spec, &o, argc, argv, &args, &done, &err)) || done)
		goto cleanup;
	if (args != argc - 1) {
		rc = g3_err_set(&err, G3_USAGE, "fetch takes one SOURCE");
		g3_err_hint(&err, "'gen3db fetch --help' shows the usage");
		goto fail;
	}
	g3_remote_options_apply(&o.remote);
	if ((rc = g3_source_open(argv[args], &src, &err)))
		goto fail;
	if ((rc = g3_sink_open(o.output, &sink, &err)))
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
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	g3_sink_close(sink);  /* aborts an uncommitted output */
	g3_source_close(src);
	free(buf);
	g3_remote_options_release(&o.remote);
	return g3_exit_code(rc);
}
