/*
 * The gen3 bucket layout: what gen3-helm's restore jobs read from
 * s3://$BUCKET/$ENVIRONMENT/$VERSION/ (or a local directory laid out the
 * same way):
 *
 *   pgdumps/<service>.sql[.gz|.zst]          one plain SQL dump per service
 *   <service>.sql[.gz|.zst]                  the same at the top level (the
 *                                            backups of gen3's cloud-automation:
 *                                            <bucket>/<timestamp>/indexd.sql)
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
 *
 * A service's name comes from its file name and becomes the database
 * <service>_<release>, its role and the Secret <service>-dbcreds, so it is
 * checked (g3_layout_service_name): a dump file whose name fails is
 * "refused", and a restore of every service stops on one
 * (g3_layout_check_refused).
 * Files that are part of no layout are "unknown". Both are kept for
 * messages, only the first G3_LAYOUT_NOTED_MAX of each (and counted).
 */
#ifndef G3_GEN3LAYOUT_H
#define G3_GEN3LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "../es/elasticdump.h"
#include "../base/err.h"
#include "../io/s3.h"
#include "../base/strbuf.h"

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

/* A file (or, locally, a folder: "name/") the plan does not take. */
typedef struct g3_layout_skip {
	char *rel;                       /* relative to base */
	const char *why;                 /* refused: why (static text); unknown: NULL */
} g3_layout_skip;

#define G3_LAYOUT_NOTED_MAX 20
/* The longest service name: <service>_<release> must fit PostgreSQL's 63
 * bytes with a release of at least one. */
#define G3_LAYOUT_SERVICE_MAX 61

typedef struct g3_layout_plan {
	char *base;                      /* ends with '/' */
	g3_layout_service *services;
	size_t n_services;
	g3_layout_index *indices;
	size_t n_indices;
	g3_layout_snapshot *snapshots;
	size_t n_snapshots;
	g3_layout_skip *refused;         /* dump files whose name cannot be a service */
	size_t n_refused;                /* kept, at most G3_LAYOUT_NOTED_MAX */
	size_t n_refused_all;            /* seen */
	g3_layout_skip *unknown;         /* files of no layout */
	size_t n_unknown;
	size_t n_unknown_all;
	char *conflict;                  /* internal: first ambiguity seen */
	int es_only;                     /* g3_layout_scan_es: elasticdump files at the top */
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

/* NULL when name (len bytes) can name a service; else why not: letters,
 * digits, '_', '-' and '.' starting with a letter or digit, at most
 * G3_LAYOUT_SERVICE_MAX bytes, not PostgreSQL's own (postgres, template0,
 * template1, pg_*). */
const char *g3_layout_service_name(const char *name, size_t len);

/* Appends s in double quotes for a message: control bytes, '"' and '\\'
 * shown as '?' (a listing's names are not trusted), cut after max bytes
 * with "...". */
void g3_layout_quote(g3_buf *b, const char *s, size_t max);

/* Feeds one key relative to base ("pgdumps/fence.sql"); a folder ends
 * with '/'. What no layout takes is noted as unknown. size may be -1. */
void g3_layout_add(g3_layout_plan *plan, const char *rel, int64_t size);

/* Applies the filter, checks that every kept index has a mapping and data
 * and every requested name exists, and sorts by name. Refused dumps and an
 * empty plan are not errors here: the caller decides
 * (g3_layout_check_refused, g3_layout_nothing). */
g3_rc g3_layout_finish(g3_layout_plan *plan, const g3_layout_filter *filter, g3_err *err);

/* G3_USAGE naming the first refused dump (and its reason) when the plan
 * has any: for a restore that keeps every service. */
g3_rc g3_layout_check_refused(const g3_layout_plan *plan, g3_err *err);

/* The error (G3_USAGE) of a plan with no service and no index: what was
 * looked for, and in the hint what is there instead (the unknown and
 * refused files, the snapshots); for an s3:// base with nothing under it,
 * the names of the folders beside it (the versions under
 * s3://BUCKET/ENVIRONMENT/), listed with g3_s3_list_dirs (cfg NULL: the
 * s3 defaults). Returns G3_USAGE, or the listing's error. */
g3_rc g3_layout_nothing(const g3_layout_plan *plan, const g3_s3_config *cfg, g3_err *err);

/* f (emptied first) gets copies of x's file URLs, elasticdump's layout,
 * for g3_esrestore_plan_files; release it with g3_edump_files_release. */
void g3_layout_index_files(const g3_layout_index *x, g3_edump_files *f);

/* restore-es over an s3:// prefix: elasticdump's files
 * (<index>__mapping.json, __data.json, __settings.json, __alias.json) at
 * the prefix's top, narrowed to filter's indices (NULL or none: every
 * index). No index is G3_USAGE, naming what is there instead. */
g3_rc g3_layout_scan_es(const char *url, const g3_s3_config *cfg, const g3_layout_filter *filter,
			g3_layout_plan *plan, g3_err *err);

/* The index names of an elasticdump directory (restore-es DIR): every
 * <index>__mapping.json or <index>__data.json (elasticdump) or
 * <index>.mapping.json or <index>.index.json (multielasticdump) in dir
 * and in dir/es,
 * sorted, without duplicates. An empty result is G3_USAGE naming what was
 * looked for and, in the hint, what the directory holds. Caller frees
 * *names with g3_strlist_free. */
g3_rc g3_layout_edump_indices(const char *dir, char ***names, size_t *n, g3_err *err);

/* Lists base (g3_s3_list for s3://, the directory otherwise), feeds every
 * entry and finishes the plan. cfg NULL: the s3 defaults. A name the
 * filter asks for in a location that holds nothing at all gets
 * g3_layout_nothing's error (the location is what is wrong). */
g3_rc g3_layout_scan(const char *base, const g3_s3_config *cfg, const g3_layout_filter *filter,
		     g3_layout_plan *plan, g3_err *err);

#endif
