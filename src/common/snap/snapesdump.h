/*
 * The Elasticsearch section of a snapshot written by `gen3db dump --es`
 * (docs/FORMAT.md, "Elasticsearch"), after the PostgreSQL members: per
 * index es/<index>/index.json (its definition, cleaned), then its
 * documents read over a g3_esdump connection (es/esdump.h) and cut into
 * chunks of at most chunk_size bytes, es/<index>/docs.NNNNNN.ndjson each
 * preceded by its header docs.NNNNNN.json (docs, bytes, sha256). A
 * document larger than the chunk size gets a chunk of its own.
 *
 * Threads: the one that owns the snapshot writer.
 * Memory: one chunk (chunk_size) plus one search page; the definitions of
 * every index planned are held whole.
 * Ownership: g3_snap_esdump_release frees everything; names are copied.
 * Errors: g3_rc + g3_err naming the index; never exits.
 */
#ifndef G3_SNAPESDUMP_H
#define G3_SNAPESDUMP_H

#include "../es/elasticdump.h"
#include "../es/esdump.h"
#include "snapshot.h"
#include "snapwriter.h"

typedef struct g3_snap_esdump_index {
	char *name;             /* as given: an alias or an index */
	char *concrete;         /* the index read */
	g3_esdef def;
	long long count;        /* _count when planned */
	double seconds;
} g3_snap_esdump_index;

typedef struct g3_snap_esdump {
	g3_esdump d;            /* the connection and page size */
	g3_snap_esdump_index *ix;
	size_t n;
	size_t chunk_size;      /* documents chunk bound (bytes) */
} g3_snap_esdump;

void g3_snap_esdump_init(g3_snap_esdump *s);
void g3_snap_esdump_release(g3_snap_esdump *s);
/* Connects, reads every index's definition and count, and lists the
 * indices in the manifest. A name that cannot be a member name, or given
 * twice, is G3_USAGE. */
g3_rc g3_snap_esdump_plan(g3_snap_esdump *s, const char *url, const char *cacert, int wait,
			  char *const *indices, size_t n, g3_manifest *m, g3_err *err);
/* Writes the members of every planned index; end gets the per-index sums.
 * Progress: a documents item per index, bytes as chunks are written. */
g3_rc g3_snap_esdump_write(g3_snap_esdump *s, g3_snap_writer *w, g3_snap_end *end, g3_err *err);

#endif
