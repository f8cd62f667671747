/*
 * Sinks: where the bytes of a dump go.
 *
 * A sink is a byte stream written front to back once and then either
 * committed (the output becomes visible as a whole) or aborted (nothing is
 * left behind, as far as the kind allows). Each kind is an ops table chosen
 * once by g3_sink_open (open.c maps a URL's scheme to the kind that opens
 * it); callers never branch on the kind.
 *
 *   file   writes "<path>.partial"; commit fsyncs it, renames it to <path>
 *          and fsyncs the directory; abort unlinks the partial file
 *   stdout "-": writes standard output; commit flushes; abort cannot take
 *          bytes back (the reader sees no end.json and refuses the stream)
 *   s3     s3://bucket/key: a multipart upload (s3.c, g3_s3_sink_open);
 *          commit completes it, abort (or a failed commit) aborts it
 *
 * Contract: write writes all len bytes or fails with err set; commit and
 * abort are called at most once, and nothing is written after either.
 * name is safe to print (never holds credentials). written counts bytes
 * accepted by write. Single-threaded: one owner writes.
 */
#ifndef G3_SINK_H
#define G3_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct g3_sink g3_sink;

struct g3_sink_ops {
	g3_rc (*write)(g3_sink *sink, const void *buf, size_t len, g3_err *err);
	g3_rc (*commit)(g3_sink *sink, g3_err *err);
	void (*abort)(g3_sink *sink);
	void (*close)(g3_sink *sink);   /* frees impl; after commit or abort */
};

struct g3_sink {
	const struct g3_sink_ops *ops;
	char *name;          /* for messages; never holds credentials */
	uint64_t written;    /* bytes accepted by write so far */
	int done;            /* committed or aborted */
	/* a local file to unlink if the process is killed before commit or
	 * abort (file kind: "<path>.partial"); NULL for other kinds. Lets a
	 * signal handler clean up with unlink(2) alone. */
	const char *temp_path;
	void *impl;          /* the kind's own state */
};

/* Opens "-" (standard output), a file path (written as <path>.partial
 * until commit) or s3://bucket/key (with the s3 defaults, see s3.h). A URL
 * whose kind is not registered is G3_USAGE. */
g3_rc g3_sink_open(const char *spec, g3_sink **out, g3_err *err);
/* The file kind alone: "-" (standard output) or a path. */
g3_rc g3_file_sink_open(const char *spec, g3_sink **out, g3_err *err);
g3_rc g3_sink_write(g3_sink *sink, const void *buf, size_t len, g3_err *err);
g3_rc g3_sink_commit(g3_sink *sink, g3_err *err);
/* Idempotent; does nothing after commit. */
void g3_sink_abort(g3_sink *sink);
/* Aborts when neither committed nor aborted, then frees. NULL is fine. */
void g3_sink_close(g3_sink *sink);

/* For kinds implemented elsewhere: a sink with the given ops. */
g3_sink *g3_sink_new(const struct g3_sink_ops *ops, const char *name, void *impl);

#endif
