/*
 * Sinks: where the bytes of a dump go. The counterpart of source.h.
 *
 * A sink is written front to back once and then either committed (the
 * output appears whole: a file renamed into place, an S3 multipart upload
 * completed) or aborted (nothing is left behind: the temporary file is
 * removed, the multipart upload aborted). Each kind is an ops table chosen
 * once by g3_sink_open.
 *
 * Contract: write returns G3_OK or a failure with err set. commit and
 * abort end the sink's work and release its impl (setting impl to NULL);
 * a failed commit has already discarded the output. g3_sink_free aborts a
 * sink that was neither committed nor aborted, then frees it. name is safe
 * to print (never holds credentials).
 */
#ifndef G3_SINK_H
#define G3_SINK_H

#include <stddef.h>

#include "err.h"

typedef struct g3_sink g3_sink;

struct g3_sink_ops {
	g3_rc (*write)(g3_sink *sink, const void *data, size_t len, g3_err *err);
	g3_rc (*commit)(g3_sink *sink, g3_err *err);
	void (*abort)(g3_sink *sink);
};

struct g3_sink {
	const struct g3_sink_ops *ops;
	char *name;
	void *impl;
};

/* Opens "-" (stdout), a path (written to "<path>.partial", renamed on
 * commit) or s3://bucket/key (g3_s3_sink_open with the s3 defaults). */
g3_rc g3_sink_open(const char *spec, g3_sink **out, g3_err *err);

/* For kinds implemented elsewhere. */
g3_sink *g3_sink_new(const struct g3_sink_ops *ops, const char *name, void *impl);

/* Aborts if still open, then frees. NULL is fine. */
void g3_sink_free(g3_sink *sink);

#endif
