/*
 * Reading Elasticsearch indices out, for `gen3db dump --es` and its alias
 * `dump-es`: each index's definition (GET /<index>, settings without
 * per-cluster keys) and every document, read page by page in a stable
 * order (g3_esdump_documents, esrestore.h), written one of two ways:
 *
 * - as elasticdump files in a directory (g3_esdump_dir_*): per index
 *   <NAME>__mapping.json, __settings.json, __alias.json (the last two as
 *   JSON-encoded strings, as elasticdump 6 writes them) and the NDJSON
 *   hits in __data.json (elasticdump.h). Each file is written as
 *   <file>.part and renamed when complete; a failed index's data file is
 *   removed, but the definition files renamed before it stay.
 * - into a gen3db snapshot (g3_esdump_plan, then g3_esdump_write):
 *   es/<index>/index.json, then the documents cut into chunks of at most
 *   chunk_size bytes, es/<index>/docs.NNNNNN.ndjson each preceded by its
 *   header docs.NNNNNN.json (docs, bytes, sha256; docs/FORMAT.md). A
 *   document larger than the chunk size gets a chunk of its own.
 *
 * Threads: one; the g3_esdump and its connection are not shared.
 * Memory: one page of documents, plus one chunk (snapshot) or about 1 MiB
 * of buffered lines (directory); definitions are held whole.
 * Ownership: g3_esdump_release frees what the g3_esdump holds; names given
 * are copied. Errors: g3_rc + g3_err naming the index; never exits.
 */
#ifndef G3_ESDUMP_H
#define G3_ESDUMP_H

#include "../snap/snapshot.h"
#include "../snap/snapwriter.h"
#include "elasticdump.h"
#include "es.h"

#define G3_ESDUMP_PAGE 1000 /* documents per search request, by default */

typedef struct g3_esdump_index {
	char *name;             /* as given: an alias or an index */
	char *concrete;         /* the index read */
	g3_esdef def;           /* snapshot: the definition, cleaned */
	long long count;        /* snapshot: _count when planned */
	double seconds;
} g3_esdump_index;

typedef struct g3_esdump {
	g3_esconf conf;
	g3_es es;
	g3_esdump_index *ix;    /* snapshot: the indices planned */
	size_t n;
	long page;              /* documents per search request */
	size_t chunk_size;      /* snapshot: documents chunk bound (bytes) */
} g3_esdump;

void g3_esdump_init(g3_esdump *d);
void g3_esdump_release(g3_esdump *d);

/* Checks url, creates dir (a missing one; not its parents) and connects
 * (retrying up to wait seconds: G3_UNREACHABLE when the time is up). */
g3_rc g3_esdump_dir_open(g3_esdump *d, const char *url, const char *cacert, int wait,
			 const char *dir, g3_err *err);
/* Writes index's elasticdump files into dir (after g3_esdump_dir_open).
 * Progress: a documents item named index, bytes as lines are written. */
g3_rc g3_esdump_dir_index(g3_esdump *d, const char *dir, const char *index, g3_err *err);

/* Connects, reads every index's definition and count, and lists the
 * indices in the manifest. A name that cannot be a member name, or given
 * twice, is G3_USAGE. */
g3_rc g3_esdump_plan(g3_esdump *d, const char *url, const char *cacert, int wait,
		     char *const *indices, size_t n, g3_manifest *m, g3_err *err);
/* Writes es/<index>/index.json and the documents chunks of every planned
 * index; end gets the per-index sums. Progress: a documents item per index. */
g3_rc g3_esdump_write(g3_esdump *d, g3_snap_writer *w, g3_snap_end *end, g3_err *err);

#endif
