/*
 * Reading Elasticsearch indices out, for `gen3db dump --es` and its alias
 * `dump-es`: a connection that reads each index's definition (GET
 * /<index>, settings without per-cluster keys; g3_esdump_definition in
 * esrestore.h) and every document, page by page in a stable order
 * (g3_esdump_documents), and the elasticdump files written from them.
 *
 * Elasticdump files (g3_esdump_dir_*): per index <NAME>__mapping.json,
 * __settings.json, __alias.json (the last two as JSON-encoded strings, as
 * elasticdump 6 writes them) and the NDJSON hits in __data.json
 * (elasticdump.h). Each file is written as <file>.part and renamed when
 * complete; a failed index's data file is removed, but the definition
 * files renamed before it stay. The snapshot's members are written over
 * the same connection by snap/snapesdump.h.
 *
 * Threads: one; a g3_esdump and its connection are not shared.
 * Memory: one page of documents plus about 1 MiB of buffered lines; the
 * definitions are held whole.
 * Ownership: g3_esdump_release frees what the g3_esdump holds.
 * Errors: g3_rc + g3_err naming what failed; never exits.
 */
#ifndef G3_ESDUMP_H
#define G3_ESDUMP_H

#include "es.h"

#define G3_ESDUMP_PAGE 1000 /* documents per search request, by default */

typedef struct g3_esdump {
	g3_esconf conf;
	g3_es es;
	long page;              /* documents per search request */
} g3_esdump;

void g3_esdump_init(g3_esdump *d);
void g3_esdump_release(g3_esdump *d);

/* Checks url and connects (retrying up to wait seconds: G3_UNREACHABLE
 * when the time is up). */
g3_rc g3_esdump_open(g3_esdump *d, const char *url, const char *cacert, int wait, g3_err *err);

/* As g3_esdump_open, creating dir (a missing one, not its parents) after
 * url is checked and before connecting. */
g3_rc g3_esdump_dir_open(g3_esdump *d, const char *url, const char *cacert, int wait,
			 const char *dir, g3_err *err);
/* Writes index's elasticdump files into dir (after g3_esdump_dir_open).
 * Progress: a documents item named index, bytes as lines are written. */
g3_rc g3_esdump_dir_index(g3_esdump *d, const char *dir, const char *index, g3_err *err);

#endif
