/*
 * Restoring one Elasticsearch index, and dumping one.
 *
 * Restore, per index, in two steps so that every index is checked before
 * anything is written:
 *   g3_esrestore_plan   reads the definition (mapping, settings, aliases),
 *                       looks at the target: with the gen3 convention a
 *                       restore of X creates the versioned index X_<n> (n
 *                       one above the highest) and points alias X at it;
 *                       with no_alias it creates the concrete index X. An
 *                       existing concrete index X is refused (G3_USAGE)
 *                       unless clean (or skipped with skip_existing).
 *   g3_esrestore_load   creates the index (mappings translated for the
 *                       target version, settings with number_of_replicas 0
 *                       and refresh_interval -1 while loading), streams the
 *                       documents through the bulk loader, puts back the
 *                       replicas and refresh interval, refreshes, checks
 *                       that _count equals the documents read, and only then
 *                       switches the aliases in one _aliases call. A failed
 *                       load deletes its partial index and never gets the
 *                       alias.
 *
 * Every index gen3db creates carries a marker in its mapping's _meta:
 * {"gen3db": {"target": "X", "complete": false}}, set to true once the
 * count matched and the alias moved. A version X_<n> with the marker still
 * incomplete and no alias on it was left by a restore that was killed
 * (SIGKILL, a lost pod): the next plan of X finds it and begin deletes it
 * (with or without clean). gen3db never deletes an index without checking
 * first that the name is one concrete index of exactly that name
 * (g3_es_index_delete_if); a version only when it is named X_<n>, and a
 * leftover or partial index only when it carries the incomplete marker.
 *
 * Versions pile up otherwise: once the alias has moved, publish keeps the
 * keep_versions most recent earlier versions (highest n) and deletes the
 * older ones, each only when, checked again right before its DELETE, it is
 * named X_<n>, carries gen3db's complete marker for X (not another name's,
 * not an incomplete one another restore may be loading), no alias points
 * at it, and it is not the index alias X now points at. A new version is
 * numbered one above the highest X_<n> there is, so n grows with time.
 *
 * With skip_existing a target X that exists, as an index or an alias, is
 * left as it is (ix->skipped; begin/load must not be called): an alias X
 * only ever points at a version that was complete, and a leftover of an
 * interrupted restore is X_<n> without it.
 *
 * Dump: the definition as `GET` answers give it (per-cluster settings
 * removed) and every document through a callback, read page by page with
 * search_after (in a point in time where the server has one), so the
 * destination (elasticdump files, snapshot members) is the caller's choice.
 */
#ifndef G3_ESRESTORE_H
#define G3_ESRESTORE_H

#include <signal.h>
#include <stdint.h>

#include "elasticdump.h"
#include "es.h"
#include "esbulk.h"

typedef struct g3_esrestore_opts {
	int clean;      /* delete an existing concrete index first */
	int skip_existing;  /* leave an existing index or alias X as it is */
	long keep_versions; /* earlier versions kept after the alias moved
			     * (default 1; -1 all) */
	int no_alias;   /* restore into the concrete index X, no alias */
	g3_esbulk_opts bulk;
	/* set (by a signal handler) to stop: the index being loaded fails and
	 * is deleted; NULL: never */
	volatile sig_atomic_t *cancel;
} g3_esrestore_opts;

typedef struct g3_esrestore_index {
	char *name;             /* the target name X */
	g3_edump_files files;
	g3_esdef def;
	char *concrete;         /* the index created: X_<n>, or X */
	char **old;             /* indices alias X pointed at before */
	size_t n_old;
	int drop_concrete;      /* X exists as a concrete index: delete it */
	int skipped;            /* skip_existing and X exists: nothing to do */
	char **pruned;          /* earlier versions deleted after the alias moved */
	size_t n_pruned;
	char **leftovers;       /* versions X_<n> an interrupted restore left */
	size_t n_leftovers;
	char **failed_ids;      /* documents the cluster never took (bounded by
				 * what was in flight when the load failed) */
	size_t n_failed_ids;
	/* results */
	uint64_t docs_read;
	g3_esbulk_stats bulk;
	double seconds;
	int loaded;
	/* the load in progress (g3_esrestore_begin .. _end) */
	g3_esbulk *loader;
	json_object *replicas, *refresh;  /* the dump's values, put back after */
	json_object *meta;      /* the mapping's _meta with gen3db's marker */
	int created;
	double t0;
	char *origin;           /* where the documents come from, for messages */
	/* set before end: end stops before the aliases, so the caller can
	 * check more first; then g3_esrestore_publish or _discard */
	int hold_alias;
} g3_esrestore_index;

/* --keep-versions, one option row (opts.h), a section at the command's
 * g3_esrestore_opts, for the commands that restore indices. */
extern const g3_opt g3_esrestore_rows[1];
/* The sections of a command that restores indices: --keep-versions and
 * the bulk loader's, for its g3_esrestore_opts F of struct T. */
#define G3_ESRESTORE_SECTIONS(T, F) \
	G3_SECTION(g3_esrestore_rows, offsetof(T, F)), \
	G3_SECTION(g3_esbulk_rows, offsetof(T, F.bulk))

#define G3_ESRESTORE_MAX_KEEP 1000

/* Defaults: bulk options, keep_versions 1. */
void g3_esrestore_opts_init(g3_esrestore_opts *o);

void g3_esrestore_index_init(g3_esrestore_index *ix);
/* Adds "deleted_versions" (ix->pruned) to a report object when any. */
void g3_esrestore_report_pruned(const g3_esrestore_index *ix, json_object *o);
void g3_esrestore_index_release(g3_esrestore_index *ix);

/* G3_USAGE for bad input or a target that would be overwritten. */
g3_rc g3_esrestore_plan(g3_es *es, const char *dir, const char *name,
			const g3_esrestore_opts *o, g3_esrestore_index *ix, g3_err *err);
/* The same with the files already located (paths or URLs, as
 * g3_docreader_open and g3_esdef_read take them); files is taken over
 * (emptied) whatever the result. */
g3_rc g3_esrestore_plan_files(g3_es *es, const char *name, g3_edump_files *files,
			      const g3_esrestore_opts *o, g3_esrestore_index *ix, g3_err *err);
g3_rc g3_esrestore_load(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			g3_err *err);

/* The target half of g3_esrestore_plan, for a definition that arrives
 * later (a snapshot's es/<index>/index.json, put into ix->def before
 * g3_esrestore_begin). */
g3_rc g3_esrestore_plan_target(g3_es *es, const char *name, const g3_esrestore_opts *o,
			       g3_esrestore_index *ix, g3_err *err);

/*
 * g3_esrestore_load in steps, for documents from any stream: begin creates
 * the index and the bulk loader; add sends one document (origin names where
 * it was read for messages); end gets read_rc (G3_OK when every document
 * was read and verified, else the reading error, already in err) and
 * finishes: drain, settings, refresh, _count check, aliases; on any failure
 * the index is deleted and never gets the alias. end must follow a begin
 * that succeeded or failed alike.
 */
g3_rc g3_esrestore_begin(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			 const char *origin, g3_err *err);
g3_rc g3_esrestore_add(g3_esrestore_index *ix, const g3_esrestore_opts *o, const char *id,
		       const char *source, size_t len, g3_err *err);
g3_rc g3_esrestore_end(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
		       g3_rc read_rc, g3_err *err);
/* After an end with hold_alias: the aliases (and --clean's deletions); on
 * failure the index is deleted. discard deletes the held index instead. */
g3_rc g3_esrestore_publish(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			   g3_err *err);
void g3_esrestore_discard(g3_es *es, g3_esrestore_index *ix);

/*
 * The definition of index (an alias or a concrete index holding one
 * concrete index): *concrete its concrete name, *mappings the answer of
 * GET /<index>/_mapping for it ({"mappings":...}), *settings cleaned
 * {"index":...}, *aliases {"name":{...}}. Caller frees / puts.
 */
g3_rc g3_esdump_definition(g3_es *es, const char *index, char **concrete, json_object **mappings,
			   json_object **settings, json_object **aliases, g3_err *err);

/* Called for every document; source is its JSON text. */
typedef g3_rc (*g3_esdoc_fn)(void *arg, const char *index, const char *type, const char *id,
			     const char *source, size_t len, g3_err *err);

/* Every document of index, page documents per request, in a stable order. */
g3_rc g3_esdump_documents(g3_es *es, const char *index, int page, g3_esdoc_fn fn, void *arg,
			  uint64_t *count, g3_err *err);

#endif
