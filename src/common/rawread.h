/*
 * A decoded byte stream over a g3_source: plain, gzip or zstd input,
 * told apart by its first bytes (libarchive's filters in raw mode), read
 * front to back in pieces. Used for plain SQL dump files.
 *
 * The snapshot reader of docs/FORMAT.md replaces this with its raw mode
 * when it lands: there must be one reading path.
 */
#ifndef G3_RAWREAD_H
#define G3_RAWREAD_H

#include <sys/types.h>

#include "err.h"
#include "source.h"

typedef struct g3_rawread g3_rawread;

/* src stays the caller's and must outlive the reader. Fails (G3_USAGE) if
 * the input is not readable as plain or compressed bytes. */
g3_rc g3_rawread_open(g3_source *src, g3_rawread **out, g3_err *err);
/* > 0 bytes, 0 at the end, -1 with err set (corrupt or truncated input). */
ssize_t g3_rawread_read(g3_rawread *r, void *buf, size_t len, g3_err *err);
/* "none", "gzip", "zstd", ... */
const char *g3_rawread_compression(const g3_rawread *r);
void g3_rawread_close(g3_rawread *r);

#endif
