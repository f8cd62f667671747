/*
 * The gen3 bucket layout: what gen3-helm's restore jobs read from
 * s3://$BUCKET/$ENVIRONMENT/$VERSION/ (or a local directory laid out the
 * same way):
 *
 *   pgdumps/<service>.sql[.gz|.zst]          one plain SQL dump per service
 *   elasticsearch/<index>__mapping.json      elasticdump's mapping file
 *   elasticsearch/<index>__data.json         elasticdump's documents
 *   elasticsearch/<index>__settings.json     optional
 *   elasticsearch/<index>__alias.json        optional
 *   <name>.tar.zst                           gen3db snapshots (top level)
 *
 * A plan lists what was found, with a source URL (or path) per item that
 * g3_source_open opens, narrowed to the services and indices asked for.
 * Keys are fed one at a time (g3_layout_add), so a listing is never held
 * whole; g3_layout_finish checks and sorts the plan.
 */
#ifndef G3_GEN3LAYOUT_H
#define G3_GEN3LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "s3.h"

typedef enum g3_dump_compression {
	G3_DUMP_PLAIN,
	G3_DUMP_GZIP,
	G3_DUMP_ZSTD
} g3_dump_compression;

typedef struct g3_layout_service {
	char *name;                      /* "fence" */
	char *url;                       /* <base>pgdumps/fence.sql.gz */
	g3_dump_compression compression;
	int64_t size;                    /* -1 when unknown */
} g3_layout_service;

typedef struct g3_layout_index {
	char *name;
	char *mapping_url;
	char *data_url;
	char *settings_url;              /* NULL when absent */
	char *alias_url;                 /* NULL when absent */
	int64_t data_size;
} g3_layout_index;

typedef struct g3_layout_snapshot {
	char *name;                      /* "gen3-2024-01-01.tar.zst" */
	char *url;
	int64_t size;
} g3_layout_snapshot;

typedef struct g3_layout_plan {
	char *base;                      /* ends with '/' */
	g3_layout_service *services;
	size_t n_services;
	g3_layout_index *indices;
	size_t n_indices;
	g3_layout_snapshot *snapshots;
	size_t n_snapshots;
	char *conflict;                  /* internal: first ambiguity seen */
} g3_layout_plan;

/* Which services and indices to keep; NULL or 0 entries: all of them.
 * A name asked for but absent is an error (G3_USAGE). */
typedef struct g3_layout_filter {
	const char *const *services;
	size_t n_services;
	const char *const *indices;
	size_t n_indices;
} g3_layout_filter;

/* "s3://BUCKET/ENVIRONMENT/VERSION/" from the helm jobs' variables;
 * caller frees. */
char *g3_layout_base(const char *bucket, const char *environment, const char *version);

/* base: an s3:// prefix or a directory; a '/' is appended if missing. */
void g3_layout_plan_init(g3_layout_plan *plan, const char *base);
void g3_layout_plan_release(g3_layout_plan *plan);

/* Feeds one key relative to base ("pgdumps/fence.sql"); others are
 * ignored. size may be -1. */
void g3_layout_add(g3_layout_plan *plan, const char *rel, int64_t size);

/* Applies the filter, checks that every kept index has a mapping and data
 * and every requested name exists, and sorts by name. */
g3_rc g3_layout_finish(g3_layout_plan *plan, const g3_layout_filter *filter, g3_err *err);

/* Lists base (g3_s3_list for s3://, the directory otherwise), feeds every
 * entry and finishes the plan. cfg NULL: the s3 defaults. */
g3_rc g3_layout_scan(const char *base, const g3_s3_config *cfg, const g3_layout_filter *filter,
		     g3_layout_plan *plan, g3_err *err);

#endif
