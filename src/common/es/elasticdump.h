/*
 * Index definitions and documents as elasticdump (npm `elasticdump`, 6.x:
 * one file per --type) and multielasticdump write them, as gen3's bucket
 * holds them (and as `gen3db dump-es` writes them). Two layouts of the
 * same files, per index:
 *
 *   elasticdump (gen3)      multielasticdump
 *   <index>__mapping.json   <index>.mapping.json    GET /<index>/_mapping:
 *                           {"x_0":{"mappings":{...}}} keyed by the concrete
 *                           index; ES 6 dumps are typed {"_doc":{...}}
 *   <index>__settings.json  <index>.settings.json   optional:
 *                           {"x_0":{"settings":{"index":{...}}}}
 *   <index>__analyzer.json  <index>.analyzer.json   optional: the same
 *                           shape; only settings.index.analysis is used
 *   <index>__alias.json     <index>.alias.json      optional:
 *                           {"x_0":{"aliases":{"name":{...}}}}
 *   <index>__template.json  <index>.template.json   optional: GET
 *                           /_template/...: {"name":{...}}; read and
 *                           checked, never restored (cluster-wide)
 *   <index>__index.json     <index>.index.json      optional: GET /<index>:
 *                           {"x_0":{"mappings","settings","aliases"}}, the
 *                           definition when there is no mapping file
 *   <index>__data.json      <index>.json            NDJSON search hits
 *                           {"_index","_type","_id","_score","_source"}
 *
 * elasticdump writes every definition type but mapping as a JSON string
 * holding the JSON ("{\"x_0\":{\"settings\":...}}"); both that and the
 * plain object are read, for every type. The index name inside a file may
 * differ from the file's name (an export of "src" saved as copy__*.json):
 * the file's name is the target.
 *
 * The definition files are small (at most G3_EDUMP_DEF_MAX bytes) and
 * parsed whole; documents are streamed one line at a time (memory: the
 * longest line). The document reader and writer work on FILE streams so
 * the same code serves other destinations (snapshot members) later.
 */
#ifndef G3_ELASTICDUMP_H
#define G3_ELASTICDUMP_H

#include <json-c/json.h>
#include <stdio.h>

#include "../base/err.h"
#include "../base/jsonscan.h"
#include "../base/progress.h"
#include "../base/strbuf.h"

/* An index definition read from a dump, ready for any target version. */
typedef struct g3_esdef {
	char *source_index;     /* the concrete index name the dump came from */
	json_object *mappings;  /* untyped: {"properties":...} (never NULL once read) */
	char *type_name;        /* the mapping type of a typed (ES 6) dump, or NULL */
	json_object *settings;  /* {"index":{...}} without per-cluster keys, or NULL */
	json_object *aliases;   /* {"name":{...}} or NULL */
} g3_esdef;

void g3_esdef_init(g3_esdef *d);
void g3_esdef_release(g3_esdef *d);

/* A definition file larger than this is refused (they are parsed whole). */
#define G3_EDUMP_DEF_MAX (64L << 20)

/* Paths of one index's files under dir (or dir/es); all but data NULL when
 * absent, and mapping or index set. */
typedef struct g3_edump_files {
	char *mapping, *settings, *alias, *data;
	char *analyzer, *templates, *index;
	const char *layout;   /* "elasticdump" or "multielasticdump" (static) */
} g3_edump_files;

void g3_edump_files_release(g3_edump_files *f);
/* Finds index's files in either layout (the first of dir, dir/es that
 * holds any). G3_USAGE when the definition or data file is missing, or
 * when both layouts hold files of the index (ambiguous). */
g3_rc g3_edump_locate(const char *dir, const char *index, g3_edump_files *f, g3_err *err);

/* Reads the mapping file (or the index file) and the optional files
 * given; errors name the file (G3_USAGE: bad input). */
g3_rc g3_esdef_read(g3_esdef *d, const g3_edump_files *f, g3_err *err);

/* Takes an index definition from `GET /<index>` style JSON ({"mappings",
 * "settings","aliases"}), cleaning settings (used by dump-es). */
g3_rc g3_esdef_from_json(g3_esdef *d, const char *index, json_object *mappings,
			 json_object *settings, json_object *aliases, g3_err *err);

/*
 * Splits a typed mapping: when mappings has one key that is not a mapping
 * parameter and whose value is an object, it is a type; *type gets its name
 * (caller frees) and the result is the inner mapping. Returns a new
 * reference.
 */
json_object *g3_es_mapping_untype(json_object *mappings, char **type);

/* Removes settings that belong to one cluster (uuid, creation_date,
 * version, provided_name, ...) from {"index":{...}} or flat keys. */
void g3_es_settings_clean(json_object *settings);

/* The index create body for a target (typed: ES 6): a new reference. */
json_object *g3_esdef_create_body(const g3_esdef *d, int typed);

/* Streaming reader of __data.json. */
typedef struct g3_docreader {
	FILE *f;
	char *path;           /* for messages */
	char *line;
	size_t cap;
	long lineno;
	json_object *cur;     /* the current hit; owns *id and *source */
	struct json_tokener *tok;  /* reused for every line */
	g3_jscan scan;        /* the fast path's scratch */
	int json_c_only;      /* 1: parse every line with json-c (tests compare) */
	int own;              /* close f on release */
	/* g3_docreader_open's files: the bytes read go to the progress meter
	 * (an attached stream's owner reports its own) */
	int report;
	g3_progress_batch progress;
} g3_docreader;

g3_rc g3_docreader_open(g3_docreader *r, const char *path, g3_err *err);
/* Reads from an open stream (not closed on release); name for messages. */
void g3_docreader_attach(g3_docreader *r, FILE *f, const char *name);
void g3_docreader_release(g3_docreader *r);

/*
 * The next document: 1 with *id and *source (JSON text of _source, *len
 * bytes, NUL-terminated) valid until the next call, 0 at the end, -1 with
 * err (G3_USAGE) naming the file and line of a malformed line. Blank lines
 * are skipped. Lines the validating scanner (jsonscan.h) takes give
 * _source verbatim, as the line spells it; the others are parsed with
 * json-c, which decides and words errors, and give _source re-serialised.
 */
int g3_docreader_next(g3_docreader *r, const char **id, const char **source, size_t *len,
		      g3_err *err);

/* Appends one hit line {"_index","_type","_id","_score","_source"}\n. type
 * may be NULL ("_doc"); source is JSON text. */
void g3_docwriter_line(g3_buf *out, const char *index, const char *type, const char *id,
		       const char *source, size_t len);

#endif
