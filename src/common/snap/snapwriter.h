/*
 * The snapshot writer: a POSIX tar (pax restricted) compressed with zstd,
 * written to a g3_sink (see docs/FORMAT.md for what goes inside).
 *
 * libarchive builds the tar; libzstd compresses it in process into one
 * frame with a content checksum (multi-threaded when threads > 1, through
 * ZSTD_c_nbWorkers). Members are regular files
 * with mode 0644 and the writer's creation time; their size is given up
 * front, as tar needs it.
 *
 * Contract: single-threaded (the thread that owns the writer adds every
 * member). Member names are checked with g3_snap_name_ok. After an error,
 * the writer only accepts g3_snap_writer_abort. finish flushes the
 * compressor and commits the sink; abort aborts the sink. Either way the
 * writer is freed; the sink stays the caller's (g3_sink_close it).
 */
#ifndef G3_SNAPWRITER_H
#define G3_SNAPWRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/err.h"
#include "../io/sink.h"

typedef struct g3_snap_writer g3_snap_writer;

/* level: zstd level 1..ZSTD_maxCLevel() (0 → 3); threads: zstd worker
 * threads (0 or 1 → compression in the caller's thread). */
g3_rc g3_snap_writer_open(g3_sink *sink, int level, int threads,
			  g3_snap_writer **out, g3_err *err);

/* A member whose bytes are all in memory. */
g3_rc g3_snap_add_member(g3_snap_writer *w, const char *name,
			 const void *data, size_t len, g3_err *err);

/*
 * A member of exactly size bytes read from read_cb, which returns the number
 * of bytes it put in buf (> 0), 0 at its end, or -1 with err set. Giving
 * fewer or more than size bytes is an error (the archive would be corrupt).
 */
typedef ssize_t (*g3_snap_read_cb)(void *ctx, void *buf, size_t len, g3_err *err);
g3_rc g3_snap_add_member_stream(g3_snap_writer *w, const char *name,
				int64_t size, g3_snap_read_cb read_cb,
				void *ctx, g3_err *err);

/* Number of members added so far. */
uint64_t g3_snap_writer_members(const g3_snap_writer *w);
/* Every member added so far with its size and sha256, in order (for
 * end.json's member_sums). A name added twice is an error. */
struct g3_snap_log;
const struct g3_snap_log *g3_snap_writer_log(const g3_snap_writer *w);
/* The sha256 (64 lowercase hex) of the next member's bytes, already
 * computed by the caller (a chunk's, for its header): logged as is, the
 * bytes are not hashed again. The caller answers for it being right. */
void g3_snap_writer_member_sum(g3_snap_writer *w, const char *sha256);

/* Writes the tar end, flushes zstd, commits the sink; frees w. */
g3_rc g3_snap_writer_finish(g3_snap_writer *w, g3_err *err);
/* Aborts the sink (no output left where the kind allows); frees w. */
void g3_snap_writer_abort(g3_snap_writer *w);

#endif
