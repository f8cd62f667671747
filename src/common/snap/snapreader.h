/*
 * The snapshot reader: members of a tar (zstd, gzip or uncompressed), or a
 * single raw stream (a plain, .gz or .zst file such as a gen3 bucket's
 * pg_dump .sql or an elasticdump NDJSON file), streamed from a g3_source.
 *
 * libarchive does the work: every compression filter it knows, formats tar
 * and raw, fed by a read callback over the source (never the whole file in
 * memory). Member names are checked as they are read: a name holding "..",
 * starting with "/", holding a control character, or an entry that is not
 * a regular file fails with G3_USAGE and a message naming the member.
 * Read errors name the source and the member:
 *   could not read snapshot "x.tar.zst": truncated in member "pg/fence/data/000003.copy"
 *
 * In raw mode there is exactly one member, named after the source's base
 * name without a .gz/.zst/.zstd suffix ("fence.sql"), of unknown size (-1).
 * A source whose name ends in .tar, .tar.zst, .tar.gz or .tgz that is not a
 * tar is an error, not raw data.
 *
 * Contract: single-threaded. The reader does not own the source (close the
 * source after the reader). Names returned by next stay valid until the
 * following next or close.
 */
#ifndef G3_SNAPREADER_H
#define G3_SNAPREADER_H

#include <stdint.h>
#include <sys/types.h>

#include "../base/err.h"
#include "../io/source.h"
#include "../base/strbuf.h"

typedef struct g3_reader g3_reader;
struct g3_snap_log;

typedef enum g3_reader_type {
	G3_READER_ARCHIVE,   /* a tar: many members */
	G3_READER_RAW        /* one plain stream */
} g3_reader_type;

/* Reads far enough to know the kind and the compression. */
g3_rc g3_reader_open(g3_source *src, g3_reader **out, g3_err *err);
g3_reader_type g3_reader_kind(const g3_reader *r);
/* "zstd", "gzip", "none", ... as libarchive names the filter. */
const char *g3_reader_filter(const g3_reader *r);

/* Moves to the next member: 1 and its name and size (-1 unknown), 0 at the
 * end of the archive, -1 on error (err set; G3_USAGE for a rejected name or
 * entry, G3_FAIL for corrupt or truncated input). Unread bytes of the
 * current member are skipped. */
int g3_reader_next(g3_reader *r, const char **name, int64_t *size, g3_err *err);

/* Reads the current member: bytes read (> 0), 0 at its end, -1 on error. */
ssize_t g3_reader_read(g3_reader *r, void *buf, size_t len, g3_err *err);

/* Looks at the first bytes of the current member without consuming them:
 * *data gets up to want bytes (fewer only when the member is shorter),
 * which the following g3_reader_read calls return again, so a stream that
 * cannot be read twice (standard input, a URL) can be sniffed before it is
 * used. Call before the member's first read; a second call returns the
 * same bytes (at most as many as the first one read). *data stays valid
 * until the member is read past them, the next g3_reader_next or close.
 * Bytes that do not decode (corrupt compression) are G3_USAGE here: bad
 * input found before anything was done with it. */
g3_rc g3_reader_peek(g3_reader *r, size_t want, const char **data, size_t *len,
		     g3_err *err);

/* Reads the rest of the current member into out (appended), for small
 * members such as JSON headers: more than max bytes is G3_USAGE naming the
 * member. */
g3_rc g3_reader_slurp(g3_reader *r, size_t max, g3_buf *out, g3_err *err);

/*
 * Member sums (archives only): every member's bytes go through sha256 as
 * they are read (bytes a caller leaves unread are read through at the next
 * next), and each finished member is logged with its name, size and sha256
 * (g3_reader_log: the members before the current one). A member name seen
 * before fails next with G3_FAIL ("member X appears twice").
 *
 * g3_reader_member_sum: the caller checks the current member against this
 * sha256 itself (a chunk header's) and fails if it differs, so the reader
 * logs it without hashing the bytes a second time. Call before reading it.
 */
void g3_reader_member_sum(g3_reader *r, const char sha256[65]);
const struct g3_snap_log *g3_reader_log(const g3_reader *r);

/* Name of the current member (NULL before the first next). */
const char *g3_reader_member(const g3_reader *r);

void g3_reader_close(g3_reader *r);

#endif
