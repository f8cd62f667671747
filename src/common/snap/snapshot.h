/*
 * The gen3db snapshot format's small JSON members (docs/FORMAT.md):
 * manifest.json, the chunk headers pg/<db>/data/<NNNNNN>.json, end.json and
 * post-data.json, as C structs with writers (to JSON text) and parsers that
 * check every type and the format version; member names; and a verifier
 * that checks a chunk's rows and sha256 while it streams.
 *
 * Parsers fail with G3_USAGE (bad input, nothing changed) and a message
 * naming the member and the field. An unknown major format_version is
 * refused; unknown fields are ignored (minor versions only add fields).
 */
#ifndef G3_SNAPSHOT_H
#define G3_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "../base/hex.h"
#include "../base/strbuf.h"

#define G3_SNAP_FORMAT "gen3db-snapshot"
#define G3_SNAP_FORMAT_VERSION 1       /* major: readers refuse others */
#define G3_SNAP_FORMAT_MINOR 2         /* minor: adds fields and members only */
/* the first minor whose end.json lists every member's size and sha256 */
#define G3_SNAP_MINOR_MEMBER_SUMS 2

#define G3_SNAP_MANIFEST "manifest.json"
#define G3_SNAP_END "end.json"

/* ---- member names --------------------------------------------------- */

/* 1 if name may appear in a snapshot: non-empty, relative, no "..", no
 * control characters, no "//", under 1024 bytes. */
int g3_snap_name_ok(const char *name);

/* What a member is, from its name (db and number filled when they apply;
 * db points into a buffer of dbsize bytes). */
typedef enum g3_member_kind {
	G3_MEMBER_OTHER,        /* unknown: readers skip it (newer minor) */
	G3_MEMBER_MANIFEST,     /* manifest.json */
	G3_MEMBER_END,          /* end.json */
	G3_MEMBER_PRE_DATA,     /* pg/<db>/pre-data.sql */
	G3_MEMBER_CHUNK_HEADER, /* pg/<db>/data/<NNNNNN>.json */
	G3_MEMBER_CHUNK,        /* pg/<db>/data/<NNNNNN>.copy */
	G3_MEMBER_POST_DATA,    /* pg/<db>/post-data.sql */
	G3_MEMBER_POST_DATA_JSON, /* pg/<db>/post-data.json */
	G3_MEMBER_SEQUENCES,    /* pg/<db>/sequences.sql */
	G3_MEMBER_ES,           /* other es/<index>/... members: skipped */
	G3_MEMBER_ES_INDEX,     /* es/<index>/index.json (db holds the index) */
	G3_MEMBER_ES_DOCS_HEADER, /* es/<index>/docs.<NNNNNN>.json */
	G3_MEMBER_ES_DOCS       /* es/<index>/docs.<NNNNNN>.ndjson */
} g3_member_kind;

g3_member_kind g3_snap_member_kind(const char *name, char *db, size_t dbsize,
				   uint64_t *number);

/* ---- manifest.json -------------------------------------------------- */

typedef struct g3_snap_column {
	char *name;
	char *type;             /* format_type(): "character varying(255)" */
} g3_snap_column;

typedef struct g3_snap_table {
	char *schema;
	char *name;
	g3_snap_column *columns; /* in COPY order (generated columns left out) */
	size_t n_columns;
	int64_t est_rows;       /* pg_class.reltuples, -1 unknown */
	int64_t est_bytes;      /* (relpages + TOAST relpages) * block size */
} g3_snap_table;

typedef struct g3_snap_database {
	char *name;
	char *encoding;         /* "UTF8" */
	g3_snap_table *tables;
	size_t n_tables;
} g3_snap_database;

typedef struct g3_snap_index {  /* Elasticsearch, see FORMAT.md */
	char *name;
	int64_t docs;           /* -1 unknown */
	int64_t bytes;          /* -1 unknown */
	char *concrete;         /* the concrete index dumped (alias target), or NULL */
	char *source_distribution; /* "elasticsearch" or "opensearch", or NULL */
	char *source_version;   /* "7.17.10", or NULL */
} g3_snap_index;

typedef struct g3_manifest {
	int format_version;     /* G3_SNAP_FORMAT_VERSION */
	int format_minor;
	char *created;          /* RFC 3339 UTC: "2026-11-25T17:00:00Z" */
	char *gen3db_version;
	char *server_version;   /* "15.20 (Debian 15.20-0+deb12u1)", may be NULL */
	int server_version_num; /* 150020, 0 unknown */
	char *pg_dump_version;  /* "pg_dump (PostgreSQL) 15.20", may be NULL */
	g3_snap_database *databases;
	size_t n_databases;
	g3_snap_index *indices;
	size_t n_indices;
} g3_manifest;

void g3_manifest_init(g3_manifest *m);
void g3_manifest_release(g3_manifest *m);
/* Appends (copies) a database / a table of the last database / a column
 * of the last table / an index; returns the new element. */
g3_snap_database *g3_manifest_add_database(g3_manifest *m, const char *name,
					   const char *encoding);
g3_snap_table *g3_manifest_add_table(g3_snap_database *db, const char *schema,
				     const char *name, int64_t est_rows,
				     int64_t est_bytes);
void g3_manifest_add_column(g3_snap_table *t, const char *name, const char *type);
g3_snap_index *g3_manifest_add_index(g3_manifest *m, const char *name,
				     int64_t docs, int64_t bytes);
const g3_snap_index *g3_manifest_find_index(const g3_manifest *m, const char *name);
const g3_snap_database *g3_manifest_find_database(const g3_manifest *m,
						  const char *name);

/* Appends the manifest as JSON text (pretty, UTF-8) to out. */
void g3_manifest_to_json(const g3_manifest *m, g3_buf *out);
/* Parses manifest.json; G3_USAGE on malformed JSON, a wrong type, a
 * missing field, another "format" or an unknown major format_version. */
g3_rc g3_manifest_parse(const char *json, size_t len, g3_manifest *m,
			g3_err *err);

/* ---- chunk headers pg/<db>/data/<NNNNNN>.json ------------------------- */

typedef struct g3_chunk_header {
	char *schema;
	char *table;
	char **columns;         /* names, in the COPY's order */
	size_t n_columns;
	uint64_t part;          /* 1, 2, ... within the table */
	int last;               /* 1 on the table's last chunk */
	int64_t rows;
	int64_t bytes;          /* size of the .copy member that follows */
	char sha256[65];        /* lowercase hex of the .copy bytes */
} g3_chunk_header;

void g3_chunk_header_init(g3_chunk_header *h);
void g3_chunk_header_release(g3_chunk_header *h);
void g3_chunk_header_to_json(const g3_chunk_header *h, g3_buf *out);
/* member names the chunk header in messages */
g3_rc g3_chunk_header_parse(const char *json, size_t len, const char *member,
			    g3_chunk_header *h, g3_err *err);

/*
 * Verifies a .copy member while it streams: init with its header, update
 * with every byte in order, finish compares rows (newline count: COPY text
 * escapes newlines inside values), bytes and sha256. A mismatch is G3_FAIL
 * naming member and table.
 */
typedef struct g3_chunk_check {
	void *md;               /* EVP_MD_CTX */
	int64_t rows;
	int64_t bytes;
} g3_chunk_check;

void g3_chunk_check_init(g3_chunk_check *c);
void g3_chunk_check_update(g3_chunk_check *c, const void *buf, size_t len);
g3_rc g3_chunk_check_finish(g3_chunk_check *c, const g3_chunk_header *h,
			    const char *member, g3_err *err);
void g3_chunk_check_release(g3_chunk_check *c);
/* g3_sha256_hex: base/hex.h */

/* ---- member sums (format 1.2) ----------------------------------------- */

/*
 * Every member's name, size and sha256, in archive order: what the writer
 * wrote, what a reader read, and what end.json lists. Names are unique
 * (a hash set keeps lookups flat); memory is about 100 bytes a member.
 */
typedef struct g3_snap_member_sum {
	char *name;
	int64_t bytes;
	char sha256[65];
} g3_snap_member_sum;

typedef struct g3_snap_log {
	g3_snap_member_sum *v;
	size_t n, cap;
	size_t *slots;          /* open addressing: index + 1, 0 empty */
	size_t n_slots;
} g3_snap_log;

void g3_snap_log_init(g3_snap_log *l);
void g3_snap_log_release(g3_snap_log *l);
/* Index of name, or -1. */
long g3_snap_log_find(const g3_snap_log *l, const char *name);
/* Appends (copies name); 0, or -1 when name is already there. */
int g3_snap_log_add(g3_snap_log *l, const char *name, int64_t bytes, const char *sha256);
/*
 * read (what the snapshot held before end.json) against listed (end.json's
 * member_sums): the same members in the same order with the same sizes
 * and sha256. G3_FAIL naming the first member that is not listed, differs,
 * is missing or out of order.
 */
g3_rc g3_snap_log_check(const g3_snap_log *read, const g3_snap_log *listed, g3_err *err);

/*
 * The parts of each table (or index) in order: 1, 2, ... with the last
 * one flagged last, each once. Tables are keyed by schema and name
 * (schema NULL: an Elasticsearch index, named so in messages).
 */
typedef struct g3_snap_parts {
	struct g3_snap_part_state *v;
	size_t n;
} g3_snap_parts;

void g3_snap_parts_init(g3_snap_parts *p);
void g3_snap_parts_release(g3_snap_parts *p);
/* The next part of a table, from member (its header); G3_FAIL naming the
 * table and the part when it repeats, skips or follows the last part. */
g3_rc g3_snap_parts_add(g3_snap_parts *p, const char *schema, const char *table,
			uint64_t part, int last, const char *member, g3_err *err);
/* G3_FAIL unless the table's parts ended with its last part. */
g3_rc g3_snap_parts_finish(const g3_snap_parts *p, const char *schema, const char *table,
			   g3_err *err);

/* ---- end.json --------------------------------------------------------- */

typedef struct g3_end_table {
	char *schema;
	char *name;
	int64_t rows;
	int64_t bytes;
	int64_t chunks;
} g3_end_table;

typedef struct g3_end_database {
	char *name;
	int64_t rows;
	int64_t bytes;
	int64_t chunks;
	g3_end_table *tables;
	size_t n_tables;
} g3_end_database;

typedef struct g3_end_index {
	char *name;
	int64_t docs;
	int64_t bytes;
	int64_t chunks;
} g3_end_index;

typedef struct g3_snap_end {
	uint64_t members;       /* members before end.json (manifest included) */
	g3_end_database *databases;
	size_t n_databases;
	g3_end_index *indices;  /* Elasticsearch (format_minor 1) */
	size_t n_indices;
	int has_sums;           /* "member_sums" present (format_minor 2) */
	g3_snap_log sums;       /* every member before end.json, in order */
} g3_snap_end;

void g3_snap_end_init(g3_snap_end *e);
void g3_snap_end_release(g3_snap_end *e);
g3_end_database *g3_snap_end_add_database(g3_snap_end *e, const char *name);
g3_end_table *g3_snap_end_add_table(g3_end_database *d, const char *schema,
				    const char *name);
g3_end_index *g3_snap_end_add_index(g3_snap_end *e, const char *name);
void g3_snap_end_to_json(const g3_snap_end *e, g3_buf *out);
g3_rc g3_snap_end_parse(const char *json, size_t len, g3_snap_end *e,
			g3_err *err);

/* ---- Elasticsearch: es/<index>/index.json and docs.<NNNNNN>.json ------ */

struct g3_esdef;

/* index.json: {"name", "source_index", "type", "mappings" (untyped),
 * "settings" (per-cluster keys removed), "aliases"} from a definition. */
void g3_es_index_member_to_json(const char *name, const struct g3_esdef *d, g3_buf *out);
/* Parses index.json into d (g3_esdef_init'ed by the caller); G3_USAGE
 * naming the member on a bad field. */
g3_rc g3_es_index_member_parse(const char *json, size_t len, const char *member,
			       struct g3_esdef *d, g3_err *err);

/* The header before each docs.<NNNNNN>.ndjson member: one document per
 * line, so docs is the number of newline bytes (g3_chunk_check counts
 * them as rows). */
typedef struct g3_es_docs_header {
	uint64_t part;          /* 1, 2, ... within the index (= NNNNNN) */
	int last;               /* 1 on the index's last chunk */
	int64_t docs;
	int64_t bytes;          /* size of the .ndjson member that follows */
	char sha256[65];
} g3_es_docs_header;

void g3_es_docs_header_to_json(const g3_es_docs_header *h, g3_buf *out);
g3_rc g3_es_docs_header_parse(const char *json, size_t len, const char *member,
			      g3_es_docs_header *h, g3_err *err);
/* Like g3_chunk_check_finish for a documents chunk of index. */
g3_rc g3_es_docs_check_finish(g3_chunk_check *c, const g3_es_docs_header *h,
			      const char *index, const char *member, g3_err *err);

/* One NDJSON line of a documents chunk: {"_id":id,"_source":source}\n
 * (type: ES 6 mapping type or NULL, written as "_type" when given). */
void g3_es_doc_line(g3_buf *out, const char *id, const char *type, const char *source,
		    size_t len);

/* ---- post-data.json --------------------------------------------------- */

typedef struct g3_postdata_item {
	char *kind;             /* pg_dump's Type: "INDEX", "CONSTRAINT", ... */
	char *name;             /* pg_dump's Name: tag */
	char *schema;           /* NULL when none */
	char *table_schema;     /* the table it belongs to; NULL when none */
	char *table;
	char *sql;              /* the statements, without SET lines */
} g3_postdata_item;

typedef struct g3_postdata {
	char *preamble;         /* SET lines to run first on a connection */
	g3_postdata_item *items;
	size_t n_items;
} g3_postdata;

void g3_postdata_init(g3_postdata *p);
void g3_postdata_release(g3_postdata *p);
/* Splits pg_dump plain post-data SQL (psql meta-commands already removed)
 * at its "-- Name: ...; Type: ...; Schema: ..." headers. */
void g3_postdata_split(const char *sql, size_t len, g3_postdata *p);
void g3_postdata_to_json(const g3_postdata *p, g3_buf *out);
g3_rc g3_postdata_parse(const char *json, size_t len, g3_postdata *p,
			g3_err *err);

#endif
