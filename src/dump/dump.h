/*
 * Private to the dump command: the Elasticsearch section of a snapshot
 * (docs/FORMAT.md, "Elasticsearch"), written after the PostgreSQL members.
 */
#ifndef G3_DUMP_H
#define G3_DUMP_H

#include "../common/es/elasticdump.h"
#include "../common/es/es.h"
#include "../common/snap/snapshot.h"
#include "../common/snap/snapwriter.h"

struct dump_es_index {
	char *name;             /* as given: an alias or an index */
	char *concrete;         /* the index read */
	g3_esdef def;
	long long count;        /* _count when planned */
	double seconds;
};

struct dump_es {
	g3_esconf conf;
	g3_es es;
	struct dump_es_index *ix;
	size_t n;
	long page;              /* documents per search request */
	size_t chunk_size;      /* documents chunk bound (bytes) */
};

void dump_es_init(struct dump_es *d);
void dump_es_release(struct dump_es *d);
/* Connects, reads every index's definition and count, and lists the
 * indices in the manifest. */
g3_rc dump_es_plan(struct dump_es *d, const char *url, const char *cacert, int wait,
		   char **indices, size_t n, g3_manifest *m, g3_err *err);
/* Writes es/<index>/index.json and the documents chunks of every index;
 * end gets the per-index sums. Memory: one chunk (chunk_size) plus a page. */
g3_rc dump_es_write(struct dump_es *d, g3_snap_writer *w, g3_snap_end *end, g3_err *err);

#endif
