/*
 * One walk over a gen3db snapshot's members (docs/FORMAT.md, "How a restore
 * must verify"), shared by restore, verify and inspect: the commands are
 * sets of callbacks over it, not walks of their own.
 *
 * g3_snap_read_manifest reads the first member (manifest.json). Then
 * g3_snapwalk_run reads the rest once, in order, and checks as it streams:
 * a database's members are together and it is in the manifest; each chunk
 * header names a table of its database, is followed by its data member
 * (same number) and carries the table's next part (g3_snap_parts); each
 * .copy / .ndjson member's rows (documents), bytes and sha256 equal its
 * header's; es/ members name a listed index, index.json first; end.json
 * comes last, its member_sums (1.2) list exactly the members read, its
 * member count and per-database and per-index sums equal the headers'.
 * A stream that ends without end.json is truncated.
 *
 * Callbacks (all optional) see the members as they stream. A data member
 * is read by its callback with g3_snapwalk_read, in pieces, never whole;
 * what the callback leaves unread the walker reads through, and only then
 * checks the member against its header, then calls the _done callback (so
 * a restore commits a chunk only after it verified). SQL members are read
 * by their callback straight from the reader (the reader hashes them for
 * end.json). A callback's error ends the walk and is returned as it is.
 *
 * Elasticsearch indices: es_wanted (when given) picks the indices that are
 * checked and handed to the callbacks; the members of the others are read
 * through unchecked (the reader still hashes them for end.json). When
 * es_failed is given, an index's fault (a check or a callback) goes to it
 * instead of ending the walk: it returns G3_OK to go on (the caller then
 * stops wanting the index), or an error to end the walk.
 *
 * Errors name the member; with label set, the walker's own findings start
 * with snapshot "<label>" (faults handed to es_failed never do).
 *
 * Contract: single-threaded; memory is flat (a read buffer, the headers,
 * the reader's member log and a few bytes per table, database and index).
 */
#ifndef G3_SNAPWALK_H
#define G3_SNAPWALK_H

#include <stdint.h>
#include <sys/types.h>

#include "../base/err.h"
#include "../es/elasticdump.h"
#include "../io/source.h"
#include "snapreader.h"
#include "snapshot.h"

typedef struct g3_snapwalk g3_snapwalk;

typedef struct g3_snapwalk_ops {
	/* a database's first member is next / its members ended (every
	 * table's parts complete) */
	g3_rc (*db_begin)(void *u, const g3_snap_database *db, g3_err *err);
	g3_rc (*db_end)(void *u, const g3_snap_database *db, g3_err *err);
	/* pre-data.sql, post-data.sql or sequences.sql of db (kind tells);
	 * read it from the reader (or leave it) */
	g3_rc (*sql)(void *u, const g3_snap_database *db, g3_member_kind kind,
		     const char *member, g3_err *err);
	/* a .copy member after its header h: read it with g3_snapwalk_read */
	g3_rc (*chunk)(void *u, g3_snapwalk *w, const g3_snap_database *db,
		       const g3_chunk_header *h, const char *member, g3_err *err);
	/* the chunk was read to its end and matched h */
	g3_rc (*chunk_done)(void *u, const g3_snap_database *db, const g3_chunk_header *h,
			    const char *member, g3_err *err);
	/* 1: check index and hand its members over; 0: read them through */
	int (*es_wanted)(void *u, const char *index);
	/* es/<index>/index.json, parsed; the callback may take def's contents
	 * (leaving def g3_esdef_init'ed) */
	g3_rc (*es_index)(void *u, const char *index, const char *member, g3_esdef *def,
			  g3_err *err);
	/* a docs.<N>.ndjson member after its header h: read with g3_snapwalk_read */
	g3_rc (*es_docs)(void *u, g3_snapwalk *w, const char *index,
			 const g3_es_docs_header *h, const char *member, g3_err *err);
	g3_rc (*es_docs_done)(void *u, const char *index, const g3_es_docs_header *h,
			      g3_err *err);
	/* a fault of index (why); G3_OK: go on without it */
	g3_rc (*es_failed)(void *u, const char *index, g3_err *why, g3_err *err);
	/* end.json, after every check passed */
	g3_rc (*end)(void *u, const g3_snap_end *e, g3_err *err);
} g3_snapwalk_ops;

/* Sums of the data chunk headers of one database (rows) or index (docs). */
typedef struct g3_snapwalk_sum {
	char *name;
	int64_t rows, bytes, chunks;
} g3_snapwalk_sum;

struct g3_snapwalk {
	/* given by g3_snapwalk_init (not owned) */
	g3_reader *rd;
	g3_source *src;             /* for progress, or NULL */
	const g3_manifest *m;
	const g3_snapwalk_ops *ops;
	void *u;
	const char *label;          /* the snapshot's name for messages, or NULL */
	/* results, read-only: what was read so far */
	uint64_t members;           /* before end.json, the manifest included */
	uint64_t chunks, es_chunks; /* data members verified */
	g3_snapwalk_sum *dbs, *ixs; /* in archive order */
	size_t n_dbs, n_ixs;
	int seen_end;
	int has_sums;               /* end.json's member_sums checked every member */
	int truncated;              /* the stream ended without end.json */
	/* the walk's state */
	struct g3_snapwalk_state *st;
};

/* Reads the first member, which must be manifest.json (G3_USAGE naming
 * source otherwise), into m. */
g3_rc g3_snap_read_manifest(g3_reader *rd, const char *source, g3_manifest *m, g3_err *err);

void g3_snapwalk_init(g3_snapwalk *w, g3_reader *rd, g3_source *src, const g3_manifest *m,
		      const g3_snapwalk_ops *ops, void *u);
void g3_snapwalk_release(g3_snapwalk *w);
/* Walks the members after the manifest to the end of the stream. */
g3_rc g3_snapwalk_run(g3_snapwalk *w, g3_err *err);
/* Reads the current data member (inside a chunk or es_docs callback):
 * bytes read (> 0), 0 at its end, -1 on error. */
ssize_t g3_snapwalk_read(g3_snapwalk *w, void *buf, size_t len, g3_err *err);

#endif
