/*
 * The COPY-out engine of `gen3db dump`: one database's table data, read
 * with COPY ... TO STDOUT by worker connections that join the leader's
 * exported snapshot (pgcatalog.h), into a snapshot's members
 * pg/<db>/data/NNNNNN.json (the chunk header) and NNNNNN.copy.
 *
 * Workers: min(jobs, tables to copy) threads, each with its own connection
 * in the snapshot, take the tables in c->order (largest first) and cut each
 * table's rows into chunks of about chunk_size bytes (a row larger than a
 * chunk gets a chunk of its own), hashing each. Only the calling thread
 * touches the snapshot writer: it appends chunks in the order they are
 * finished, numbering them, and keeps the per-table sums. Workers report a
 * status only; the first failure stops every worker and is returned.
 *
 * Memory: the pool, allocated once by the caller for every database and
 * reused: jobs + 1 chunks of chunk_size (one being filled per worker, one
 * being written), plus what a row larger than a chunk needs while it is
 * written.
 * Ownership: the pool is the caller's (g3_copyout_pool_release frees it);
 * c, w and ed are borrowed. Errors: g3_rc + g3_err; never exits.
 */
#ifndef G3_PGCOPYOUT_H
#define G3_PGCOPYOUT_H

#include <stddef.h>

#include "../snap/snapwriter.h"
#include "pgcatalog.h"

typedef struct g3_copyout_chunk g3_copyout_chunk;

typedef struct g3_copyout_pool {
	g3_copyout_chunk *chunks;
	size_t n;
	size_t chunk_size;
} g3_copyout_pool;

/* jobs + 1 chunks of chunk_size bytes. */
void g3_copyout_pool_init(g3_copyout_pool *p, long jobs, size_t chunk_size);
void g3_copyout_pool_release(g3_copyout_pool *p);

/* Called on the writing thread when a table's last chunk is written (its
 * rows, bytes, chunks and seconds final): for the command's report. */
typedef void (*g3_copyout_done_fn)(void *arg, const g3_pgcat *c, const g3_pgcat_table *t);

/*
 * Copies every table of c->order into w with up to jobs workers (no more
 * than the pool was made for); ed gets the database's sums, each table its
 * rows, bytes and chunks. done (may be NULL) hears of each table copied.
 * Progress: a rows item per table, bytes as chunks are written.
 */
g3_rc g3_copyout_database(g3_pgcat *c, g3_copyout_pool *pool, long jobs, g3_snap_writer *w,
			  g3_end_database *ed, g3_copyout_done_fn done, void *arg, g3_err *err);

#endif
