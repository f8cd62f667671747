/*
 * The snapshot format's JSON members (docs/FORMAT.md) with json-c: writers
 * build a json_object and print it; parsers check each field's type and
 * fail with G3_USAGE naming the member and the field.
 */
#include "snapshot.h"
#include "../es/elasticdump.h"
#include "../es/es.h"

#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names -------------------------------------------------------------- */

int g3_snap_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= 1024 || name[0] == '/' || strstr(name, "..") ||
	    strstr(name, "//"))
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int parse_number(const char *s, const char *suffix, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return 0;
	v = strtoull(s, &end, 10);
	if (end == s || strcmp(end, suffix))
		return 0;
	*out = v;
	return 1;
}

g3_member_kind g3_snap_member_kind(const char *name, char *db, size_t dbsize,
				   uint64_t *number)
{
	const char *rest, *slash;
	uint64_t unused;
	size_t n;

	if (db && dbsize)
		db[0] = '\0';
	if (!number)
		number = &unused;
	*number = 0;
	if (!strcmp(name, G3_SNAP_MANIFEST))
		return G3_MEMBER_MANIFEST;
	if (!strcmp(name, G3_SNAP_END))
		return G3_MEMBER_END;
	if (!strncmp(name, "es/", 3)) {
		slash = strchr(name + 3, '/');
		if (!slash)
			return G3_MEMBER_OTHER;
		n = (size_t)(slash - (name + 3));
		if (!n)
			return G3_MEMBER_OTHER;
		if (db && dbsize)
			snprintf(db, dbsize, "%.*s", (int)n, name + 3);
		rest = slash + 1;
		if (!strcmp(rest, "index.json"))
			return G3_MEMBER_ES_INDEX;
		if (!strncmp(rest, "docs.", 5)) {
			if (parse_number(rest + 5, ".json", number))
				return G3_MEMBER_ES_DOCS_HEADER;
			if (parse_number(rest + 5, ".ndjson", number))
				return G3_MEMBER_ES_DOCS;
		}
		return G3_MEMBER_ES;
	}
	if (strncmp(name, "pg/", 3))
		return G3_MEMBER_OTHER;
	slash = strchr(name + 3, '/');
	if (!slash || slash == name + 3)
		return G3_MEMBER_OTHER;
	n = (size_t)(slash - (name + 3));
	if (db && dbsize)
		snprintf(db, dbsize, "%.*s", (int)n, name + 3);
	rest = slash + 1;
	if (!strcmp(rest, "pre-data.sql"))
		return G3_MEMBER_PRE_DATA;
	if (!strcmp(rest, "post-data.sql"))
		return G3_MEMBER_POST_DATA;
	if (!strcmp(rest, "post-data.json"))
		return G3_MEMBER_POST_DATA_JSON;
	if (!strcmp(rest, "sequences.sql"))
		return G3_MEMBER_SEQUENCES;
	if (!strncmp(rest, "data/", 5)) {
		uint64_t v;

		if (parse_number(rest + 5, ".json", &v)) {
			if (number)
				*number = v;
			return G3_MEMBER_CHUNK_HEADER;
		}
		if (parse_number(rest + 5, ".copy", &v)) {
			if (number)
				*number = v;
			return G3_MEMBER_CHUNK;
		}
	}
	return G3_MEMBER_OTHER;
}

/* ---- JSON field helpers ------------------------------------------------- */

static void put_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void put_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void print_json(json_object *o, g3_buf *out)
{
	g3_buf_adds(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_SPACED |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	g3_buf_addch(out, '\n');
	json_object_put(o);
}

struct jctx {
	const char *member;
	g3_err *err;
};

static g3_rc parse_root(const char *json, size_t len, const char *member,
			json_object **out, g3_err *err)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;
	enum json_tokener_error jerr;

	*out = NULL;
	if (len > INT32_MAX) {
		json_tokener_free(tok);
		return g3_err_set(err, G3_USAGE, "%s is too large", member);
	}
	o = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!o || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			g3_err_set(err, G3_USAGE, "%s is not valid JSON: it ends early", member);
		else
			g3_err_set(err, G3_USAGE, "%s is not valid JSON: %s", member,
				   json_tokener_error_desc(jerr));
		json_object_put(o);
		json_tokener_free(tok);
		return G3_USAGE;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return g3_err_set(err, G3_USAGE, "%s is not a JSON object", member);
	}
	*out = o;
	return G3_OK;
}

/* A field of the wanted type; optional fields may be missing or null. */
static g3_rc get_field(struct jctx *c, json_object *o, const char *key,
		       json_type type, int optional, json_object **out)
{
	json_object *v = NULL;
	static const char *const names[] = {
		[json_type_null] = "null", [json_type_boolean] = "a boolean",
		[json_type_double] = "a number", [json_type_int] = "an integer",
		[json_type_object] = "an object", [json_type_array] = "an array",
		[json_type_string] = "a string",
	};

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v) {
		if (optional)
			return G3_OK;
		return g3_err_set(c->err, G3_USAGE, "%s: field \"%s\" is missing", c->member, key);
	}
	if (!json_object_is_type(v, type))
		return g3_err_set(c->err, G3_USAGE, "%s: field \"%s\" must be %s", c->member,
				  key, names[type]);
	*out = v;
	return G3_OK;
}

static g3_rc get_str(struct jctx *c, json_object *o, const char *key, int optional,
		     char **out)
{
	json_object *v;
	g3_rc rc = get_field(c, o, key, json_type_string, optional, &v);

	*out = NULL;
	if (!rc && v)
		*out = g3_xstrdup(json_object_get_string(v));
	return rc;
}

static g3_rc get_int(struct jctx *c, json_object *o, const char *key, int optional,
		     int64_t dflt, int64_t *out)
{
	json_object *v;
	g3_rc rc = get_field(c, o, key, json_type_int, optional, &v);

	*out = dflt;
	if (!rc && v)
		*out = json_object_get_int64(v);
	return rc;
}

static g3_rc get_count(struct jctx *c, json_object *o, const char *key, int64_t *out)
{
	g3_rc rc = get_int(c, o, key, 0, 0, out);

	if (!rc && *out < 0)
		return g3_err_set(c->err, G3_USAGE, "%s: field \"%s\" is negative", c->member, key);
	return rc;
}

static int is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* A 64 lowercase hex digit sha256 field into out. */
static g3_rc get_sha(struct jctx *c, json_object *o, const char *key, const char *what,
		     char out[65])
{
	char *sha = NULL;
	g3_rc rc = get_str(c, o, key, 0, &sha);

	if (!rc && !is_hex64(sha))
		rc = g3_err_set(c->err, G3_USAGE, "%s: %s\"%s\" is not 64 lowercase hex digits",
				c->member, what, key);
	if (!rc)
		memcpy(out, sha, 65);
	free(sha);
	return rc;
}

/* A data chunk header's "part" and "last". */
static g3_rc get_part(struct jctx *c, json_object *o, int64_t *part, json_object **last)
{
	g3_rc rc = get_count(c, o, "part", part);

	return rc ? rc : get_field(c, o, "last", json_type_boolean, 0, last);
}

/*
 * Field tables: an object's fields read into a struct, in the table's
 * order (the first bad one named). F_STR into a char * (NULL when an
 * optional field is missing), F_INT into an int64_t (dflt when missing),
 * F_COUNT into an int64_t that is required and not negative.
 */
enum field_kind { F_STR, F_INT, F_COUNT };

/* optional: 0 required; 1 may be missing or null (written as null);
 * OMIT may be missing, and is left out when NULL (a list: when empty) */
#define OMIT 2

struct field {
	const char *key;
	enum field_kind kind;
	int optional;
	int64_t dflt;
	size_t off;
};

#define FIELDS(t) (t), sizeof(t) / sizeof((t)[0])

static g3_rc get_fields(struct jctx *c, json_object *o, void *base, const struct field *f,
			size_t n)
{
	g3_rc rc = G3_OK;

	for (size_t i = 0; !rc && i < n; i++) {
		void *at = (char *)base + f[i].off;

		if (f[i].kind == F_STR)
			rc = get_str(c, o, f[i].key, f[i].optional, at);
		else if (f[i].kind == F_INT)
			rc = get_int(c, o, f[i].key, f[i].optional, f[i].dflt, at);
		else
			rc = get_count(c, o, f[i].key, at);
	}
	return rc;
}

/* Each element of array arr (NULL: none) must be an object, handed to fn;
 * otherwise "<member>: database 2 is not an object" (numbered) or
 * "<member>: a table is not an object". */
typedef g3_rc (*element_fn)(struct jctx *c, json_object *o, void *ctx);

static g3_rc each_object(struct jctx *c, json_object *arr, const char *what, int numbered,
			 element_fn fn, void *ctx)
{
	g3_rc rc;

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		if (!o || !json_object_is_type(o, json_type_object)) {
			if (numbered)
				return g3_err_set(c->err, G3_USAGE, "%s: %s %zu is not an object",
						  c->member, what, i + 1);
			return g3_err_set(c->err, G3_USAGE, "%s: a %s is not an object", c->member,
					  what);
		}
		if ((rc = fn(c, o, ctx)))
			return rc;
	}
	return G3_OK;
}

/* Appends a zeroed element to *v (n elements of size bytes). */
static void *push(void *v, size_t *n, size_t size)
{
	void **pv = v;
	char *at;

	*pv = g3_xrealloc(*pv, (*n + 1) * size);
	at = (char *)*pv + *n * size;
	memset(at, 0, size);
	(*n)++;
	return at;
}

/*
 * Arrays of objects described as data: an element's struct size, its
 * fields, the arrays inside it and a check run after its fields. A list
 * appends each element to the C array at v_off (count at n_off) of the
 * struct that holds it.
 */
struct list;

struct object_spec {
	size_t size;
	const struct field *fields;
	size_t n_fields;
	size_t list_at;         /* written after this many fields */
	g3_rc (*check)(struct jctx *c, void *elem);     /* or NULL */
	const struct list *list;                         /* an array inside, or NULL */
};

struct list {
	const char *key;
	int optional;
	const char *what;       /* "database" (numbered) or "table" */
	int numbered;
	size_t v_off, n_off;
	const struct object_spec *elem;
	/* the what of a list whose messages name its holder, or NULL */
	void (*label)(const void *holder, char *buf, size_t size);
};

struct list_ctx {
	const struct list *l;
	void *holder;
};

static g3_rc read_list(struct jctx *c, json_object *o, void *holder, const struct list *l);

static g3_rc read_element(struct jctx *c, json_object *o, void *ctx)
{
	const struct list_ctx *lc = ctx;
	const struct object_spec *spec = lc->l->elem;
	char *holder = lc->holder;
	void *elem = push(holder + lc->l->v_off, (size_t *)(holder + lc->l->n_off), spec->size);
	g3_rc rc = get_fields(c, o, elem, spec->fields, spec->n_fields);

	if (!rc && spec->check)
		rc = spec->check(c, elem);
	if (!rc && spec->list)
		rc = read_list(c, o, elem, spec->list);
	return rc;
}

static g3_rc read_list(struct jctx *c, json_object *o, void *holder, const struct list *l)
{
	struct list_ctx lc = { l, holder };
	json_object *arr;
	char what[1200];
	g3_rc rc;

	if ((rc = get_field(c, o, l->key, json_type_array, l->optional, &arr)))
		return rc;
	if (l->label)
		l->label(holder, what, sizeof(what));
	else
		snprintf(what, sizeof(what), "%s", l->what);
	return each_object(c, arr, what, l->numbered, read_element, &lc);
}

/* The writers, from the same tables: fields from..to of elem into o. */
static void put_fields(json_object *o, const void *elem, const struct field *f, size_t from,
		       size_t to)
{
	for (size_t i = from; i < to; i++) {
		const char *at = (const char *)elem + f[i].off;
		const char *v = f[i].kind == F_STR ? *(char *const *)(const void *)at : NULL;

		if (f[i].kind != F_STR)
			put_int(o, f[i].key, *(const int64_t *)(const void *)at);
		else if (v || f[i].optional != OMIT)
			put_str(o, f[i].key, v);
	}
}

static void put_list(json_object *o, const void *holder, const struct list *l)
{
	const char *h = holder;
	size_t n = *(const size_t *)(const void *)(h + l->n_off);
	const char *v = *(char *const *)(const void *)(h + l->v_off);
	const struct object_spec *spec = l->elem;
	json_object *arr;

	if (!n && l->optional == OMIT)
		return;
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		const char *elem = v + i * spec->size;
		json_object *jo = json_object_new_object();

		put_fields(jo, elem, spec->fields, 0, spec->list_at);
		if (spec->list)
			put_list(jo, elem, spec->list);
		put_fields(jo, elem, spec->fields, spec->list_at, spec->n_fields);
		json_object_array_add(arr, jo);
	}
	json_object_object_add(o, l->key, arr);
}

/* Frees a list's elements (their strings and lists) and the list. */
static void free_list(void *holder, const struct list *l)
{
	char *h = holder;
	size_t *n = (size_t *)(void *)(h + l->n_off);
	char **v = (char **)(void *)(h + l->v_off);
	const struct object_spec *spec = l->elem;

	for (size_t i = 0; i < *n; i++) {
		char *elem = *v + i * spec->size;

		for (size_t k = 0; k < spec->n_fields; k++)
			if (spec->fields[k].kind == F_STR)
				free(*(char **)(void *)(elem + spec->fields[k].off));
		if (spec->list)
			free_list(elem, spec->list);
	}
	free(*v);
	*v = NULL;
	*n = 0;
}

#define STR(T, f, key, optional) { key, F_STR, optional, 0, offsetof(T, f) }
#define ESTIMATE(T, f, key) { key, F_INT, 1, -1, offsetof(T, f) }
/* "rows" (or "docs"), "bytes" and "chunks", as end.json sums them */
#define SUMS(T, rows, key) { key, F_COUNT, 0, 0, offsetof(T, rows) }, \
	{ "bytes", F_COUNT, 0, 0, offsetof(T, bytes) }, \
	{ "chunks", F_COUNT, 0, 0, offsetof(T, chunks) }
#define SPEC(T, fields, list_at, check, list) { sizeof(T), FIELDS(fields), list_at, check, list }
#define LIST(H, v, n, key, optional, what, numbered, spec, label) \
	{ key, optional, what, numbered, offsetof(H, v), offsetof(H, n), spec, label }

/* ---- manifest ------------------------------------------------------------ */

void g3_manifest_init(g3_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->format_version = G3_SNAP_FORMAT_VERSION;
	m->format_minor = G3_SNAP_FORMAT_MINOR;
}

static char *dup_or_null(const char *s)
{
	return s ? g3_xstrdup(s) : NULL;
}

g3_snap_database *g3_manifest_add_database(g3_manifest *m, const char *name,
					   const char *encoding)
{
	g3_snap_database *d = push(&m->databases, &m->n_databases, sizeof(*d));

	d->name = g3_xstrdup(name);
	d->encoding = dup_or_null(encoding);
	return d;
}

g3_snap_table *g3_manifest_add_table(g3_snap_database *d, const char *schema,
				     const char *name, int64_t est_rows,
				     int64_t est_bytes)
{
	g3_snap_table *t = push(&d->tables, &d->n_tables, sizeof(*t));

	t->schema = g3_xstrdup(schema);
	t->name = g3_xstrdup(name);
	t->est_rows = est_rows;
	t->est_bytes = est_bytes;
	return t;
}

void g3_manifest_add_column(g3_snap_table *t, const char *name, const char *type)
{
	g3_snap_column *c = push(&t->columns, &t->n_columns, sizeof(*c));

	c->name = g3_xstrdup(name);
	c->type = dup_or_null(type);
}

g3_snap_index *g3_manifest_add_index(g3_manifest *m, const char *name,
				     int64_t docs, int64_t bytes)
{
	g3_snap_index *x = push(&m->indices, &m->n_indices, sizeof(*x));

	x->name = g3_xstrdup(name);
	x->docs = docs;
	x->bytes = bytes;
	return x;
}

const g3_snap_index *g3_manifest_find_index(const g3_manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n_indices; i++)
		if (!strcmp(m->indices[i].name, name))
			return &m->indices[i];
	return NULL;
}

const g3_snap_database *g3_manifest_find_database(const g3_manifest *m,
						  const char *name)
{
	for (size_t i = 0; i < m->n_databases; i++)
		if (!strcmp(m->databases[i].name, name))
			return &m->databases[i];
	return NULL;
}

static void column_label(const void *holder, char *buf, size_t size)
{
	const g3_snap_table *t = holder;

	snprintf(buf, size, "column of table \"%s.%s\"", t->schema, t->name);
}

static g3_rc database_check(struct jctx *c, void *elem)
{
	const g3_snap_database *d = elem;

	if (!g3_snap_name_ok(d->name) || strchr(d->name, '/'))
		return g3_err_set(c->err, G3_USAGE, "%s: invalid database name \"%s\"", c->member,
				  d->name);
	return G3_OK;
}

static g3_rc index_check(struct jctx *c, void *elem)
{
	const g3_snap_index *x = elem;

	if (strchr(x->name, '/') || !g3_snap_name_ok(x->name))
		return g3_err_set(c->err, G3_USAGE, "%s: index name \"%s\" cannot name snapshot "
				  "members", c->member, x->name);
	return G3_OK;
}

static const struct field column_fields[] = {
	STR(g3_snap_column, name, "name", 0), STR(g3_snap_column, type, "type", 1),
};
static const struct object_spec column_spec = SPEC(g3_snap_column, column_fields, 2, NULL, NULL);
static const struct list columns = LIST(g3_snap_table, columns, n_columns, "columns", 0,
					"column", 0, &column_spec, column_label);

static const struct field table_fields[] = {
	STR(g3_snap_table, schema, "schema", 0), STR(g3_snap_table, name, "name", 0),
	ESTIMATE(g3_snap_table, est_rows, "estimated_rows"),
	ESTIMATE(g3_snap_table, est_bytes, "estimated_bytes"),
};
static const struct object_spec table_spec = SPEC(g3_snap_table, table_fields, 2, NULL, &columns);
static const struct list tables = LIST(g3_snap_database, tables, n_tables, "tables", 0, "table",
				       0, &table_spec, NULL);

static const struct field database_fields[] = {
	STR(g3_snap_database, name, "name", 0), STR(g3_snap_database, encoding, "encoding", 1),
};
static const struct object_spec database_spec =
	SPEC(g3_snap_database, database_fields, 2, database_check, &tables);
static const struct list databases = LIST(g3_manifest, databases, n_databases, "databases", 0,
					  "database", 1, &database_spec, NULL);

static const struct field index_fields[] = {
	STR(g3_snap_index, name, "name", 0),
	ESTIMATE(g3_snap_index, docs, "docs"), ESTIMATE(g3_snap_index, bytes, "bytes"),
	STR(g3_snap_index, concrete, "concrete", OMIT),
	STR(g3_snap_index, source_distribution, "source_distribution", OMIT),
	STR(g3_snap_index, source_version, "source_version", OMIT),
};
static const struct object_spec index_spec =
	SPEC(g3_snap_index, index_fields, 6, index_check, NULL);
static const struct list indices = LIST(g3_manifest, indices, n_indices, "indices", 1, "index", 1,
					&index_spec, NULL);

void g3_manifest_release(g3_manifest *m)
{
	free_list(m, &databases);
	free_list(m, &indices);
	G3_FREE_ALL(m->created, m->gen3db_version, m->server_version, m->pg_dump_version);
	g3_manifest_init(m);
}

void g3_manifest_to_json(const g3_manifest *m, g3_buf *out)
{
	json_object *root = json_object_new_object();
	json_object *src = json_object_new_object();

	put_str(root, "format", G3_SNAP_FORMAT);
	put_int(root, "format_version", m->format_version);
	put_int(root, "format_minor", m->format_minor);
	put_str(root, "created", m->created);
	put_str(root, "gen3db_version", m->gen3db_version);
	put_str(src, "server_version", m->server_version);
	put_int(src, "server_version_num", m->server_version_num);
	put_str(src, "pg_dump_version", m->pg_dump_version);
	json_object_object_add(root, "source", src);
	put_list(root, m, &databases);
	put_list(root, m, &indices);
	print_json(root, out);
}

/* "format" and the major version this reader knows; the minor. */
static g3_rc parse_format(struct jctx *c, json_object *root, g3_manifest *m)
{
	char *format = NULL;
	int64_t num;
	g3_rc rc;

	if ((rc = get_str(c, root, "format", 0, &format)))
		return rc;
	if (strcmp(format, G3_SNAP_FORMAT)) {
		rc = g3_err_set(c->err, G3_USAGE, "%s: format \"%s\" is not \"%s\"", c->member,
				format, G3_SNAP_FORMAT);
		free(format);
		return rc;
	}
	free(format);
	if ((rc = get_int(c, root, "format_version", 0, 0, &num)))
		return rc;
	if (num != G3_SNAP_FORMAT_VERSION) {
		rc = g3_err_set(c->err, G3_USAGE, "unsupported snapshot format_version %" PRId64
				" (this gen3db reads %d)", num, G3_SNAP_FORMAT_VERSION);
		g3_err_hint(c->err, "use a gen3db release that reads this snapshot");
		return rc;
	}
	m->format_version = (int)num;
	if ((rc = get_int(c, root, "format_minor", 1, 0, &num)))
		return rc;
	m->format_minor = (int)num;
	return G3_OK;
}

g3_rc g3_manifest_parse(const char *json, size_t len, g3_manifest *m, g3_err *err)
{
	struct jctx c = { G3_SNAP_MANIFEST, err };
	json_object *root = NULL, *src;
	int64_t num = 0;
	g3_rc rc;

	g3_manifest_init(m);
	if ((rc = parse_root(json, len, G3_SNAP_MANIFEST, &root, err)))
		return rc;
	if ((rc = parse_format(&c, root, m)) ||
	    (rc = get_str(&c, root, "created", 1, &m->created)) ||
	    (rc = get_str(&c, root, "gen3db_version", 1, &m->gen3db_version)) ||
	    (rc = get_field(&c, root, "source", json_type_object, 1, &src)))
		goto cleanup;
	if (src && ((rc = get_str(&c, src, "server_version", 1, &m->server_version)) ||
		    (rc = get_int(&c, src, "server_version_num", 1, 0, &num)) ||
		    (rc = get_str(&c, src, "pg_dump_version", 1, &m->pg_dump_version))))
		goto cleanup;
	m->server_version_num = (int)num;
	if (!(rc = read_list(&c, root, m, &databases)))
		rc = read_list(&c, root, m, &indices);
cleanup:
	json_object_put(root);
	if (rc)
		g3_manifest_release(m);
	return rc;
}

/* ---- chunk headers -------------------------------------------------------- */

void g3_chunk_header_init(g3_chunk_header *h)
{
	memset(h, 0, sizeof(*h));
}

void g3_chunk_header_release(g3_chunk_header *h)
{
	free(h->schema);
	free(h->table);
	for (size_t i = 0; i < h->n_columns; i++)
		free(h->columns[i]);
	free(h->columns);
	g3_chunk_header_init(h);
}

void g3_chunk_header_to_json(const g3_chunk_header *h, g3_buf *out)
{
	json_object *o = json_object_new_object();
	json_object *cols = json_object_new_array();

	put_str(o, "schema", h->schema);
	put_str(o, "table", h->table);
	for (size_t i = 0; i < h->n_columns; i++)
		json_object_array_add(cols, json_object_new_string(h->columns[i]));
	json_object_object_add(o, "columns", cols);
	put_int(o, "part", (int64_t)h->part);
	json_object_object_add(o, "last", json_object_new_boolean(h->last));
	put_int(o, "rows", h->rows);
	put_int(o, "bytes", h->bytes);
	put_str(o, "sha256", h->sha256);
	g3_buf_adds(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	g3_buf_addch(out, '\n');
	json_object_put(o);
}

g3_rc g3_chunk_header_parse(const char *json, size_t len, const char *member,
			    g3_chunk_header *h, g3_err *err)
{
	struct jctx c = { member, err };
	json_object *root = NULL, *cols, *last;
	int64_t part;
	g3_rc rc;

	g3_chunk_header_init(h);
	if ((rc = parse_root(json, len, member, &root, err)))
		return rc;
	if ((rc = get_str(&c, root, "schema", 0, &h->schema)) ||
	    (rc = get_str(&c, root, "table", 0, &h->table)) ||
	    (rc = get_field(&c, root, "columns", json_type_array, 0, &cols)) ||
	    (rc = get_part(&c, root, &part, &last)) ||
	    (rc = get_count(&c, root, "rows", &h->rows)) ||
	    (rc = get_count(&c, root, "bytes", &h->bytes)) ||
	    (rc = get_sha(&c, root, "sha256", "field ", h->sha256)))
		goto cleanup;
	h->part = (uint64_t)part;
	h->last = json_object_get_boolean(last);
	h->columns = g3_xcalloc(json_object_array_length(cols) + 1, sizeof(char *));
	for (size_t i = 0; i < json_object_array_length(cols); i++) {
		json_object *v = json_object_array_get_idx(cols, i);

		if (!v || !json_object_is_type(v, json_type_string)) {
			rc = g3_err_set(err, G3_USAGE, "%s: field \"columns\" must hold strings",
					member);
			goto cleanup;
		}
		h->columns[h->n_columns++] = g3_xstrdup(json_object_get_string(v));
	}
cleanup:
	json_object_put(root);
	if (rc)
		g3_chunk_header_release(h);
	return rc;
}

/* ---- chunk verification ------------------------------------------------- */

void g3_chunk_check_init(g3_chunk_check *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	c->md = md;
	c->rows = 0;
	c->bytes = 0;
}

void g3_chunk_check_update(g3_chunk_check *c, const void *buf, size_t len)
{
	EVP_DigestUpdate(c->md, buf, len);
	c->bytes += (int64_t)len;
	c->rows += g3_count_newlines(buf, len);
}

/* Ends c and compares it with a header's rows (lines), bytes and sha256;
 * what: "table \"s.t\"" or "index \"x\"". */
static g3_rc check_finish(g3_chunk_check *c, const char *member, const char *what,
			  int64_t rows, const char *one, const char *many, int64_t bytes,
			  const char *sha256, g3_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char got[65];

	EVP_DigestFinal_ex(c->md, md, &n);
	g3_hex_encode(md, n, got);
	if (c->bytes != bytes)
		return g3_err_set(err, G3_FAIL, "member \"%s\" of %s holds %" PRId64 " bytes, its "
				  "header says %" PRId64, member, what, c->bytes, bytes);
	if (c->rows != rows)
		return g3_err_set(err, G3_FAIL, "member \"%s\" of %s holds %" PRId64 " %s, its "
				  "header says %" PRId64, member, what, c->rows,
				  g3_plural(c->rows, one, many), rows);
	if (strcmp(got, sha256))
		return g3_err_set(err, G3_FAIL, "member \"%s\" of %s fails its sha256 check",
				  member, what);
	return G3_OK;
}

g3_rc g3_chunk_check_finish(g3_chunk_check *c, const g3_chunk_header *h,
			    const char *member, g3_err *err)
{
	char what[1200];

	snprintf(what, sizeof(what), "table \"%s.%s\"", h->schema, h->table);
	return check_finish(c, member, what, h->rows, "row", "rows", h->bytes, h->sha256, err);
}

void g3_chunk_check_release(g3_chunk_check *c)
{
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

/* ---- member sums ---------------------------------------------------------- */

void g3_snap_log_init(g3_snap_log *l)
{
	memset(l, 0, sizeof(*l));
}

void g3_snap_log_release(g3_snap_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l->slots);
	g3_snap_log_init(l);
}

static size_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static void log_slot_put(g3_snap_log *l, size_t idx)
{
	size_t mask = l->n_slots - 1, at = name_hash(l->v[idx].name) & mask;

	while (l->slots[at])
		at = (at + 1) & mask;
	l->slots[at] = idx + 1;
}

long g3_snap_log_find(const g3_snap_log *l, const char *name)
{
	size_t mask, at;

	if (!l->n_slots)
		return -1;
	mask = l->n_slots - 1;
	for (at = name_hash(name) & mask; l->slots[at]; at = (at + 1) & mask)
		if (!strcmp(l->v[l->slots[at] - 1].name, name))
			return (long)(l->slots[at] - 1);
	return -1;
}

int g3_snap_log_add(g3_snap_log *l, const char *name, int64_t bytes, const char *sha256)
{
	g3_snap_member_sum *m;

	if (g3_snap_log_find(l, name) >= 0)
		return -1;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = g3_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	m = &l->v[l->n++];
	m->name = g3_xstrdup(name);
	m->bytes = bytes;
	snprintf(m->sha256, sizeof(m->sha256), "%s", sha256);
	if (2 * l->n > l->n_slots) {     /* at most half full */
		free(l->slots);
		l->n_slots = l->n_slots ? 2 * l->n_slots : 128;
		l->slots = g3_xcalloc(l->n_slots, sizeof(*l->slots));
		for (size_t i = 0; i < l->n; i++)
			log_slot_put(l, i);
	} else {
		log_slot_put(l, l->n - 1);
	}
	return 0;
}

g3_rc g3_snap_log_check(const g3_snap_log *read, const g3_snap_log *listed, g3_err *err)
{
	for (size_t i = 0; i < read->n; i++) {
		const g3_snap_member_sum *r = &read->v[i];
		long k = g3_snap_log_find(listed, r->name);

		if (k < 0)
			return g3_err_set(err, G3_FAIL, "member \"%s\" is not listed in end.json",
					  r->name);
		if (listed->v[k].bytes != r->bytes)
			return g3_err_set(err, G3_FAIL, "member \"%s\" holds %lld bytes, end.json "
					  "says %lld", r->name, (long long)r->bytes,
					  (long long)listed->v[k].bytes);
		if (strcmp(listed->v[k].sha256, r->sha256))
			return g3_err_set(err, G3_FAIL, "member \"%s\" fails its sha256 check "
					  "(end.json)", r->name);
	}
	for (size_t k = 0; k < listed->n; k++)
		if (g3_snap_log_find(read, listed->v[k].name) < 0)
			return g3_err_set(err, G3_FAIL, "end.json lists member \"%s\", which the "
					  "snapshot does not hold", listed->v[k].name);
	for (size_t i = 0; i < read->n; i++)
		if (strcmp(read->v[i].name, listed->v[i].name))
			return g3_err_set(err, G3_FAIL, "member \"%s\" is out of order: end.json "
					  "lists \"%s\" in its place", read->v[i].name,
					  listed->v[i].name);
	return G3_OK;
}

/* ---- parts ------------------------------------------------------------------ */

struct g3_snap_part_state {
	char *schema;           /* NULL: an index */
	char *name;
	uint64_t part;          /* the last part seen */
	int last;
};

void g3_snap_parts_init(g3_snap_parts *p)
{
	memset(p, 0, sizeof(*p));
}

void g3_snap_parts_release(g3_snap_parts *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].schema);
		free(p->v[i].name);
	}
	free(p->v);
	g3_snap_parts_init(p);
}

static struct g3_snap_part_state *parts_find(const g3_snap_parts *p, const char *schema,
					     const char *table)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].name, table) &&
		    (schema ? p->v[i].schema && !strcmp(p->v[i].schema, schema) : !p->v[i].schema))
			return &p->v[i];
	return NULL;
}

/* "table \"public.User\"" or "index \"dev_case\"" */
static void parts_label(char *buf, size_t size, const char *schema, const char *table)
{
	if (schema)
		snprintf(buf, size, "table \"%s.%s\"", schema, table);
	else
		snprintf(buf, size, "index \"%s\"", table);
}

g3_rc g3_snap_parts_add(g3_snap_parts *p, const char *schema, const char *table,
			uint64_t part, int last, const char *member, g3_err *err)
{
	struct g3_snap_part_state *t = parts_find(p, schema, table);
	char label[1200];

	parts_label(label, sizeof(label), schema, table);
	if (!t) {
		p->v = g3_xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
		t = &p->v[p->n++];
		memset(t, 0, sizeof(*t));
		t->schema = schema ? g3_xstrdup(schema) : NULL;
		t->name = g3_xstrdup(table);
	}
	if (t->last)
		return g3_err_set(err, G3_FAIL, "member \"%s\": %s has part %llu after its last "
				  "part %llu", member, label, (unsigned long long)part,
				  (unsigned long long)t->part);
	if (part && part <= t->part)
		return g3_err_set(err, G3_FAIL, "member \"%s\": part %llu of %s appears twice",
				  member, (unsigned long long)part, label);
	if (part != t->part + 1)
		return g3_err_set(err, G3_FAIL, "member \"%s\": %s has part %llu where part %llu "
				  "was expected", member, label, (unsigned long long)part,
				  (unsigned long long)(t->part + 1));
	t->part = part;
	t->last = last;
	return G3_OK;
}

g3_rc g3_snap_parts_finish(const g3_snap_parts *p, const char *schema, const char *table,
			   g3_err *err)
{
	const struct g3_snap_part_state *t = parts_find(p, schema, table);
	char label[1200];

	parts_label(label, sizeof(label), schema, table);
	if (!t)
		return g3_err_set(err, G3_FAIL, "%s has no data chunk", label);
	if (!t->last)
		return g3_err_set(err, G3_FAIL, "%s ends after part %llu, which is not its last",
				  label, (unsigned long long)t->part);
	return G3_OK;
}

/* ---- end.json ----------------------------------------------------------- */

void g3_snap_end_init(g3_snap_end *e)
{
	memset(e, 0, sizeof(*e));
	g3_snap_log_init(&e->sums);
}

g3_end_database *g3_snap_end_add_database(g3_snap_end *e, const char *name)
{
	g3_end_database *d = push(&e->databases, &e->n_databases, sizeof(*d));

	d->name = g3_xstrdup(name);
	return d;
}

g3_end_table *g3_snap_end_add_table(g3_end_database *d, const char *schema,
				    const char *name)
{
	g3_end_table *t = push(&d->tables, &d->n_tables, sizeof(*t));

	t->schema = g3_xstrdup(schema);
	t->name = g3_xstrdup(name);
	return t;
}

g3_end_index *g3_snap_end_add_index(g3_snap_end *e, const char *name)
{
	g3_end_index *x = push(&e->indices, &e->n_indices, sizeof(*x));

	x->name = g3_xstrdup(name);
	return x;
}

static const struct field end_table_fields[] = {
	STR(g3_end_table, schema, "schema", 0), STR(g3_end_table, name, "name", 0),
	SUMS(g3_end_table, rows, "rows"),
};
static const struct object_spec end_table_spec =
	SPEC(g3_end_table, end_table_fields, 5, NULL, NULL);
static const struct list end_tables = LIST(g3_end_database, tables, n_tables, "tables", 1,
					   "table", 0, &end_table_spec, NULL);

static const struct field end_database_fields[] = {
	STR(g3_end_database, name, "name", 0), SUMS(g3_end_database, rows, "rows"),
};
static const struct object_spec end_database_spec =
	SPEC(g3_end_database, end_database_fields, 4, NULL, &end_tables);
static const struct list end_databases = LIST(g3_snap_end, databases, n_databases, "databases",
					      0, "database", 1, &end_database_spec, NULL);

static const struct field end_index_fields[] = {
	STR(g3_end_index, name, "name", 0), SUMS(g3_end_index, docs, "docs"),
};
static const struct object_spec end_index_spec =
	SPEC(g3_end_index, end_index_fields, 4, NULL, NULL);
static const struct list end_indices = LIST(g3_snap_end, indices, n_indices, "indices", OMIT,
					    "index", 1, &end_index_spec, NULL);

static const struct field member_sum_fields[] = {
	STR(g3_snap_member_sum, name, "name", 0),
	{ "bytes", F_COUNT, 0, 0, offsetof(g3_snap_member_sum, bytes) },
};

void g3_snap_end_release(g3_snap_end *e)
{
	free_list(e, &end_databases);
	free_list(e, &end_indices);
	g3_snap_log_release(&e->sums);
	g3_snap_end_init(e);
}

void g3_snap_end_to_json(const g3_snap_end *e, g3_buf *out)
{
	json_object *root = json_object_new_object();

	put_int(root, "members", (int64_t)e->members);
	put_list(root, e, &end_databases);
	put_list(root, e, &end_indices);
	if (e->has_sums) {
		json_object *ms = json_object_new_array();

		for (size_t i = 0; i < e->sums.n; i++) {
			json_object *jm = json_object_new_object();

			put_str(jm, "name", e->sums.v[i].name);
			put_int(jm, "bytes", e->sums.v[i].bytes);
			put_str(jm, "sha256", e->sums.v[i].sha256);
			json_object_array_add(ms, jm);
		}
		json_object_object_add(root, "member_sums", ms);
	}
	print_json(root, out);
}

static g3_rc parse_member_sum(struct jctx *c, json_object *o, void *ctx)
{
	g3_snap_end *e = ctx;
	g3_snap_member_sum m;
	char what[1100];
	g3_rc rc;

	memset(&m, 0, sizeof(m));
	if (!(rc = get_fields(c, o, &m, FIELDS(member_sum_fields)))) {
		snprintf(what, sizeof(what), "member_sums entry \"%s\": ", m.name);
		rc = get_sha(c, o, "sha256", what, m.sha256);
	}
	if (!rc && g3_snap_log_add(&e->sums, m.name, m.bytes, m.sha256))
		rc = g3_err_set(c->err, G3_FAIL, "%s lists member \"%s\" twice", c->member, m.name);
	free(m.name);
	return rc;
}

g3_rc g3_snap_end_parse(const char *json, size_t len, g3_snap_end *e, g3_err *err)
{
	struct jctx c = { G3_SNAP_END, err };
	json_object *root = NULL, *ms = NULL;
	int64_t members;
	g3_rc rc;

	g3_snap_end_init(e);
	if ((rc = parse_root(json, len, G3_SNAP_END, &root, err)))
		return rc;
	if ((rc = get_count(&c, root, "members", &members)) ||
	    (rc = read_list(&c, root, e, &end_databases)) ||
	    (rc = read_list(&c, root, e, &end_indices)) ||
	    (rc = get_field(&c, root, "member_sums", json_type_array, 1, &ms)) ||
	    (rc = each_object(&c, ms, "member_sums entry", 1, parse_member_sum, e)))
		goto cleanup;
	e->members = (uint64_t)members;
	e->has_sums = ms != NULL;
	if (e->has_sums && e->sums.n != e->members)
		rc = g3_err_set(err, G3_FAIL, "%s counts %llu members but lists %zu in member_sums",
				c.member, (unsigned long long)e->members, e->sums.n);
cleanup:
	json_object_put(root);
	if (rc)
		g3_snap_end_release(e);
	return rc;
}

/* ---- Elasticsearch members ------------------------------------------------ */

void g3_es_index_member_to_json(const char *name, const g3_esdef *d, g3_buf *out)
{
	json_object *root = json_object_new_object();

	put_str(root, "name", name);
	put_str(root, "source_index", d->source_index);
	put_str(root, "type", d->type_name);
	json_object_object_add(root, "mappings", d->mappings ? json_object_get(d->mappings)
							       : json_object_new_object());
	json_object_object_add(root, "settings", d->settings ? json_object_get(d->settings)
							       : json_object_new_object());
	json_object_object_add(root, "aliases", d->aliases ? json_object_get(d->aliases)
							     : json_object_new_object());
	print_json(root, out);
}

g3_rc g3_es_index_member_parse(const char *json, size_t len, const char *member,
			       g3_esdef *d, g3_err *err)
{
	struct jctx c = { member, err };
	json_object *root = NULL, *mappings, *settings, *aliases;
	char *name = NULL, *source = NULL, *type = NULL;
	g3_rc rc;

	if ((rc = parse_root(json, len, member, &root, err)))
		return rc;
	if ((rc = get_str(&c, root, "name", 0, &name)) ||
	    (rc = get_str(&c, root, "source_index", 1, &source)) ||
	    (rc = get_str(&c, root, "type", 1, &type)) ||
	    (rc = get_field(&c, root, "mappings", json_type_object, 0, &mappings)) ||
	    (rc = get_field(&c, root, "settings", json_type_object, 1, &settings)) ||
	    (rc = get_field(&c, root, "aliases", json_type_object, 1, &aliases)))
		goto cleanup;
	/* the mapping is stored untyped: from_json keeps it as it is */
	if ((rc = g3_esdef_from_json(d, source ? source : name, mappings, settings, aliases, err)))
		goto cleanup;
	g3_str_move(&d->type_name, &type);
cleanup:
	free(name);
	free(source);
	free(type);
	json_object_put(root);
	return rc;
}

void g3_es_docs_header_to_json(const g3_es_docs_header *h, g3_buf *out)
{
	json_object *root = json_object_new_object();

	put_int(root, "part", (int64_t)h->part);
	json_object_object_add(root, "last", json_object_new_boolean(h->last));
	put_int(root, "docs", h->docs);
	put_int(root, "bytes", h->bytes);
	put_str(root, "sha256", h->sha256);
	print_json(root, out);
}

g3_rc g3_es_docs_header_parse(const char *json, size_t len, const char *member,
			      g3_es_docs_header *h, g3_err *err)
{
	struct jctx c = { member, err };
	json_object *root = NULL, *last;
	int64_t part;
	g3_rc rc;

	memset(h, 0, sizeof(*h));
	if ((rc = parse_root(json, len, member, &root, err)))
		return rc;
	if (!(rc = get_part(&c, root, &part, &last)) &&
	    !(rc = get_count(&c, root, "docs", &h->docs)) &&
	    !(rc = get_count(&c, root, "bytes", &h->bytes)) &&
	    !(rc = get_sha(&c, root, "sha256", "field ", h->sha256))) {
		h->part = (uint64_t)part;
		h->last = json_object_get_boolean(last);
	}
	json_object_put(root);
	return rc;
}

g3_rc g3_es_docs_check_finish(g3_chunk_check *c, const g3_es_docs_header *h,
			      const char *index, const char *member, g3_err *err)
{
	char what[600];

	snprintf(what, sizeof(what), "index \"%s\"", index);
	return check_finish(c, member, what, h->docs, "document", "documents", h->bytes,
			    h->sha256, err);
}

void g3_es_doc_line(g3_buf *out, const char *id, const char *type, const char *source,
		    size_t len)
{
	g3_buf_adds(out, "{\"_id\":");
	g3_json_quote(out, id);
	if (type) {
		g3_buf_adds(out, ",\"_type\":");
		g3_json_quote(out, type);
	}
	g3_buf_adds(out, ",\"_source\":");
	g3_buf_add(out, source, len);
	g3_buf_adds(out, "}\n");
}
