/*
 * post-data.json: pg_dump's plain post-data SQL split into items at its
 * "-- Name: N; Type: T; Schema: S; Owner: O" comment headers, each with the
 * table it belongs to (read from the statement itself, which is exact,
 * rather than from the Name tag, which joins names with spaces).
 */
#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

void g3_postdata_init(g3_postdata *p)
{
	memset(p, 0, sizeof(*p));
}

void g3_postdata_release(g3_postdata *p)
{
	for (size_t i = 0; i < p->n_items; i++) {
		g3_postdata_item *it = &p->items[i];

		G3_FREE_ALL(it->kind, it->name, it->schema, it->table_schema, it->table,
			    it->sql);
	}
	free(p->items);
	free(p->preamble);
	g3_postdata_init(p);
}

/* ---- a small SQL tokenizer: words, quoted identifiers, punctuation ---- */

struct tok {
	const char *p;
};

static void skip_space(struct tok *t)
{
	for (;;) {
		while (isspace((unsigned char)*t->p))
			t->p++;
		if (t->p[0] == '-' && t->p[1] == '-') {
			while (*t->p && *t->p != '\n')
				t->p++;
			continue;
		}
		return;
	}
}

/* An identifier (quoted or not) into out (unquoted, lowercase kept as
 * written: pg_dump quotes every name that is not plain lowercase). */
static int read_ident(struct tok *t, g3_buf *out)
{
	g3_buf_reset(out);
	skip_space(t);
	if (*t->p == '"') {
		t->p++;
		for (;;) {
			if (!*t->p)
				return 0;
			if (*t->p == '"') {
				if (t->p[1] == '"') {
					g3_buf_addch(out, '"');
					t->p += 2;
					continue;
				}
				t->p++;
				break;
			}
			g3_buf_addch(out, *t->p++);
		}
		return 1;
	}
	while (isalnum((unsigned char)*t->p) || *t->p == '_' || *t->p == '$' ||
	       (unsigned char)*t->p >= 0x80)
		g3_buf_addch(out, *t->p++);
	return out->len > 0;
}

/* Skips one token; returns 1 if it was the bare word kw (any case). */
static int next_is(struct tok *t, const char *kw)
{
	g3_buf w = G3_BUF_INIT;
	int quoted, match;

	skip_space(t);
	if (!*t->p)
		return 0;
	quoted = *t->p == '"';
	if (*t->p == '\'') {
		/* string literal */
		t->p++;
		while (*t->p && !(*t->p == '\'' && t->p[1] != '\''))
			t->p += *t->p == '\'' ? 2 : 1;
		if (*t->p)
			t->p++;
		return 0;
	}
	if (!read_ident(t, &w)) {
		/* punctuation, or an unterminated quoted name at the end */
		if (*t->p)
			t->p++;
		g3_buf_release(&w);
		return 0;
	}
	match = !quoted && !strcasecmp(w.data, kw);
	g3_buf_release(&w);
	return match;
}

static int peek_is(struct tok *t, const char *kw)
{
	struct tok save = *t;
	int r = next_is(t, kw);

	if (!r)
		*t = save;
	return r;
}

/* schema.name after the current position; 1 when found */
static int read_qualified(struct tok *t, char **schema, char **name)
{
	g3_buf a = G3_BUF_INIT, b = G3_BUF_INIT;
	int ok = 0;

	if (!read_ident(t, &a))
		goto cleanup;
	if (*t->p == '.') {
		t->p++;
		if (!read_ident(t, &b))
			goto cleanup;
		*schema = g3_buf_detach(&a);
		*name = g3_buf_detach(&b);
	} else {
		*schema = NULL;
		*name = g3_buf_detach(&a);
	}
	ok = 1;
cleanup:
	g3_buf_release(&a);
	g3_buf_release(&b);
	return ok;
}

/* Moves past the first bare keyword kw; 0 when there is none. */
static int seek(struct tok *t, const char *kw)
{
	for (;;) {
		skip_space(t);
		if (!*t->p)
			return 0;
		if (next_is(t, kw))
			return 1;
	}
}

static void find_table(const char *sql, char **schema, char **table)
{
	struct tok t = { sql };

	*schema = NULL;
	*table = NULL;
	if (peek_is(&t, "ALTER")) {
		if (!peek_is(&t, "TABLE"))
			return;
		if (peek_is(&t, "IF") && !(peek_is(&t, "EXISTS")))
			return;
		peek_is(&t, "ONLY");
		read_qualified(&t, schema, table);
		return;
	}
	if (peek_is(&t, "REFRESH")) {
		if (peek_is(&t, "MATERIALIZED") && peek_is(&t, "VIEW"))
			read_qualified(&t, schema, table);
		return;
	}
	if (!peek_is(&t, "CREATE"))
		return;
	if (peek_is(&t, "RULE")) {
		if (seek(&t, "TO"))
			read_qualified(&t, schema, table);
		return;
	}
	/* INDEX, UNIQUE INDEX, TRIGGER, CONSTRAINT TRIGGER, POLICY,
	 * STATISTICS is not table-bound in a useful way */
	if (seek(&t, "ON")) {
		peek_is(&t, "ONLY");
		read_qualified(&t, schema, table);
	}
}

/* ---- splitting ---------------------------------------------------------- */

static int is_set_line(const char *line, size_t n)
{
	if (n >= 4 && !strncmp(line, "SET ", 4))
		return 1;
	return n >= 32 && !strncmp(line, "SELECT pg_catalog.set_config(", 29);
}

/* "Name: N; Type: T; Schema: S; Owner: O" */
static void parse_header(const char *line, size_t n, g3_postdata_item *it)
{
	char *copy = g3_xmalloc(n + 1), *type, *schema, *owner;

	memcpy(copy, line, n);
	copy[n] = '\0';
	type = strstr(copy, "; Type: ");
	schema = type ? strstr(type, "; Schema: ") : NULL;
	owner = schema ? strstr(schema, "; Owner: ") : NULL;
	if (type) {
		*type = '\0';
		type += strlen("; Type: ");
	}
	if (schema) {
		*schema = '\0';
		schema += strlen("; Schema: ");
	}
	if (owner)
		*owner = '\0';
	it->name = g3_xstrdup(copy + strlen("-- Name: "));
	it->kind = g3_xstrdup(type ? type : "");
	it->schema = schema && strcmp(schema, "-") ? g3_xstrdup(schema) : NULL;
	free(copy);
}

static void trim_blank(g3_buf *b)
{
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
	if (b->len)
		g3_buf_addch(b, '\n');
}

static void finish_item(g3_postdata *p, g3_buf *sql)
{
	g3_postdata_item *it;
	size_t lead = 0;

	if (!p->n_items)
		return;
	it = &p->items[p->n_items - 1];
	while (lead < sql->len && sql->data[lead] == '\n')
		lead++;
	g3_buf_consume(sql, lead);
	trim_blank(sql);
	it->sql = g3_xstrdup(sql->data ? sql->data : "");
	find_table(it->sql, &it->table_schema, &it->table);
	if (it->table && !it->table_schema && it->schema)
		it->table_schema = g3_xstrdup(it->schema);
	g3_buf_reset(sql);
}

void g3_postdata_split(const char *sql, size_t len, g3_postdata *p)
{
	g3_buf pre = G3_BUF_INIT, cur = G3_BUF_INIT;
	const char *s = sql, *end = sql + len;

	g3_postdata_init(p);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

		if (n >= 9 && !strncmp(s, "-- Name: ", 9)) {
			g3_postdata_item *it;

			finish_item(p, &cur);
			p->items = g3_xrealloc(p->items, (p->n_items + 1) * sizeof(*it));
			it = &p->items[p->n_items++];
			memset(it, 0, sizeof(*it));
			parse_header(s, n, it);
		} else if (n >= 2 && s[0] == '-' && s[1] == '-') {
			/* comment lines are not part of any statement */
		} else if (is_set_line(s, n)) {
			if (!p->n_items) {
				g3_buf_add(&pre, s, n);
				g3_buf_addch(&pre, '\n');
			}
		} else if (p->n_items) {
			g3_buf_add(&cur, s, n);
			g3_buf_addch(&cur, '\n');
		}
		s += n + 1;
	}
	finish_item(p, &cur);
	p->preamble = g3_xstrdup(pre.data ? pre.data : "");
	g3_buf_release(&pre);
	g3_buf_release(&cur);
}

static void put(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

void g3_postdata_to_json(const g3_postdata *p, g3_buf *out)
{
	json_object *root = json_object_new_object();
	json_object *items = json_object_new_array();

	put(root, "preamble", p->preamble ? p->preamble : "");
	for (size_t i = 0; i < p->n_items; i++) {
		const g3_postdata_item *it = &p->items[i];
		json_object *o = json_object_new_object();

		put(o, "kind", it->kind);
		put(o, "name", it->name);
		put(o, "schema", it->schema);
		put(o, "table_schema", it->table_schema);
		put(o, "table", it->table);
		put(o, "sql", it->sql);
		json_object_array_add(items, o);
	}
	json_object_object_add(root, "items", items);
	g3_buf_adds(out, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_SPACED |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	g3_buf_addch(out, '\n');
	json_object_put(root);
}

static int opt_string(json_object *o, const char *key, char **out)
{
	json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 1;
	if (!json_object_is_type(v, json_type_string))
		return 0;
	*out = g3_xstrdup(json_object_get_string(v));
	return 1;
}

g3_rc g3_postdata_parse(const char *json, size_t len, g3_postdata *p, g3_err *err)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root, *items = NULL;
	g3_rc rc = G3_OK;

	g3_postdata_init(p);
	root = len <= INT32_MAX ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(root, json_type_object)) {
		rc = g3_err_set(err, G3_USAGE, "post-data.json is not a valid JSON object");
		goto cleanup;
	}
	if (!opt_string(root, "preamble", &p->preamble) ||
	    !json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		rc = g3_err_set(err, G3_USAGE,
				"post-data.json: needs a string \"preamble\" and an \"items\" array");
		goto cleanup;
	}
	p->items = g3_xcalloc(json_object_array_length(items) + 1, sizeof(*p->items));
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *o = json_object_array_get_idx(items, i);
		g3_postdata_item *it = &p->items[p->n_items++];

		if (!o || !json_object_is_type(o, json_type_object) ||
		    !opt_string(o, "kind", &it->kind) || !opt_string(o, "name", &it->name) ||
		    !opt_string(o, "schema", &it->schema) ||
		    !opt_string(o, "table_schema", &it->table_schema) ||
		    !opt_string(o, "table", &it->table) || !opt_string(o, "sql", &it->sql) ||
		    !it->kind || !it->sql) {
			rc = g3_err_set(err, G3_USAGE,
					"post-data.json: item %zu needs string \"kind\" and \"sql\"", i + 1);
			goto cleanup;
		}
	}
	if (!p->preamble)
		p->preamble = g3_xstrdup("");
cleanup:
	json_tokener_free(tok);
	json_object_put(root);
	if (rc)
		g3_postdata_release(p);
	return rc;
}
