/*
 * A g3_source as a stdio stream, for readers written against FILE *
 * (elasticdump's definition and document files): a path opens with
 * fopen, anything else g3_source_open knows (s3://, http(s)://, "-")
 * through fopencookie over the source, so the bytes stream from the
 * remote object and nothing is written to disk.
 *
 * Bytes read through a URL stream are reported to the progress meter.
 * The stream is read-only; fclose closes the source. A read error of
 * the source (after its own retries) is logged with its cause and makes
 * the stream's read fail (ferror), which the reader reports.
 */
#ifndef G3_SOURCEFILE_H
#define G3_SOURCEFILE_H

#include <stdio.h>

#include "../base/err.h"

/* 1 when spec names a URL (a "scheme://" prefix), not a path. */
int g3_source_is_url(const char *spec);

/* Opens spec for reading; NULL with err set (G3_USAGE for a missing file
 * or object, as g3_source_open says). */
FILE *g3_source_fopen(const char *spec, g3_err *err);

#endif
