/*
 * Sources: where the bytes of a restore come from.
 *
 * A source is a byte stream read front to back once: a file, standard input
 * ("-"), and (http.c, s3.c) http(s):// and s3:// URLs,
 * resumed by Range requests on a dropped connection. Each kind is an ops
 * table chosen once by g3_source_open (open.c maps a URL's scheme to the
 * kind that opens it); callers never branch on the kind.
 *
 * Contract: read returns the number of bytes read (> 0), 0 at the end of the
 * stream, or -1 with err set. name is safe to print (a path or a URL
 * without credentials). size is -1 when unknown. consumed counts bytes
 * returned so far (for progress).
 */
#ifndef G3_SOURCE_H
#define G3_SOURCE_H

#include <stdint.h>
#include <sys/types.h>

#include "../base/err.h"

typedef struct g3_source g3_source;

struct g3_source_ops {
	ssize_t (*read)(g3_source *src, void *buf, size_t len, g3_err *err);
	void (*close)(g3_source *src);
};

struct g3_source {
	const struct g3_source_ops *ops;
	char *name;          /* for messages; never holds credentials */
	int64_t size;        /* total bytes, or -1 */
	uint64_t consumed;   /* bytes returned by read so far */
	uint64_t reported;   /* of those, reported to the progress meter */
	void *impl;          /* the kind's own state */
};

/* Opens "-" (stdin), a path, or a URL whose scheme is in open.c's table
 * (http://, https://, s3://); another "scheme://" is G3_USAGE. */
g3_rc g3_source_open(const char *spec, g3_source **out, g3_err *err);
/* The file kind alone: "-" (stdin) or a path (a directory is G3_USAGE). */
g3_rc g3_file_source_open(const char *spec, g3_source **out, g3_err *err);
ssize_t g3_source_read(g3_source *src, void *buf, size_t len, g3_err *err);
void g3_source_close(g3_source *src);
/* Reports the bytes read since the last call to the progress meter
 * (progress.h): the reader of a source calls it per chunk or member. */
void g3_source_report_progress(g3_source *src);

/* For kinds implemented elsewhere: a source with the given ops. */
g3_source *g3_source_new(const struct g3_source_ops *ops, const char *name,
			 int64_t size, void *impl);

#endif
