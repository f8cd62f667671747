/*
 * Splitting a primary key or unique constraint into an index build and a
 * metadata-only ALTER TABLE ... USING INDEX: see pgconstraint.h.
 *
 * The text is read as spans of the original: names are copied exactly as
 * written (quoted identifiers with spaces, quotes, dots or any UTF-8 keep
 * their quoting); keywords and blanks are sqltok.h's.
 */
#include "pgconstraint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/strbuf.h"
#include "sqltok.h"

struct span {
	const char *s;
	size_t n;
};

static int ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static int ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* One identifier, quoted ("" inside is one quote) or not, as a span. */
static int ident(const char **pp, struct span *out)
{
	const char *p = g3_sql_skip_space(*pp), *start = p;

	if (*p == '"') {
		for (p++;; p++) {
			if (!*p)
				return 0;
			if (*p == '"') {
				if (p[1] != '"')
					break;
				p++;
			}
		}
		if (p == start + 1)
			return 0;   /* "" is no name */
		p++;
	} else if (ident_start((unsigned char)*p)) {
		while (ident_char((unsigned char)*p))
			p++;
	} else {
		return 0;
	}
	out->s = start;
	out->n = (size_t)(p - start);
	*pp = p;
	return 1;
}

/* A name with its schema or not: ident [. ident]. */
static int qualified(const char **pp, struct span *out)
{
	const char *p = *pp, *start;
	struct span part;
	int parts = 1;

	if (!ident(&p, &part))
		return 0;
	start = part.s;
	while (*g3_sql_skip_space(p) == '.' && parts++ < 2) {
		p = g3_sql_skip_space(p) + 1;
		if (!ident(&p, &part))
			return 0;
	}
	out->s = start;
	out->n = (size_t)(p - start);
	*pp = p;
	return 1;
}

/* "(a, "B c", d)": column names only, no expressions, orderings or
 * operator classes. The span includes the parentheses. */
static int columns(const char **pp, struct span *out)
{
	const char *p = g3_sql_skip_space(*pp), *start = p;
	struct span col;

	if (*p != '(')
		return 0;
	p++;
	for (;;) {
		if (!ident(&p, &col))
			return 0;
		p = g3_sql_skip_space(p);
		if (*p == ')')
			break;
		if (*p != ',')
			return 0;
		p++;
	}
	p++;
	out->s = start;
	out->n = (size_t)(p - start);
	*pp = p;
	return 1;
}

/* A parenthesised list of anything balanced (WITH's storage parameters),
 * strings and quoted names skipped whole. */
static int parens(const char **pp, struct span *out)
{
	const char *p = g3_sql_skip_space(*pp), *start = p;
	int depth = 0;

	if (*p != '(')
		return 0;
	for (; *p; p++) {
		if (*p == '\'' || *p == '"') {
			char q = *p;

			for (p++; *p && !(*p == q && p[1] != q); p += *p == q ? 2 : 1)
				;
			if (!*p)
				return 0;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && !--depth) {
			out->s = start;
			out->n = (size_t)(p + 1 - start);
			*pp = p + 1;
			return 1;
		}
	}
	return 0;
}

struct parsed {
	int only, primary;
	struct span table, name, cols, nulls, include, with, tablespace;
	struct span deferral[2];    /* [NOT] DEFERRABLE, INITIALLY ... */
};

/* NULLS [NOT] DISTINCT, after UNIQUE. */
static int nulls_clause(const char **pp, struct span *out)
{
	const char *p = g3_sql_skip_space(*pp), *start = p;

	if (!g3_sql_word_is(&p, "nulls"))
		return 1;
	g3_sql_word_is(&p, "not");
	if (!g3_sql_word_is(&p, "distinct"))
		return 0;
	out->s = start;
	out->n = (size_t)(p - start);
	*pp = p;
	return 1;
}

/* One clause after the column list; 0 on anything else or a repeat. */
static int option(const char **pp, struct parsed *c)
{
	const char *p = g3_sql_skip_space(*pp), *start = p;
	struct span *d = NULL;

	if (g3_sql_word_is(&p, "include")) {
		if (c->include.s || !columns(&p, &c->include))
			return 0;
	} else if (g3_sql_word_is(&p, "with")) {
		if (c->with.s || !parens(&p, &c->with))
			return 0;
	} else if (g3_sql_word_is(&p, "using")) {
		if (c->tablespace.s || !g3_sql_word_is(&p, "index") ||
		    !g3_sql_word_is(&p, "tablespace") || !ident(&p, &c->tablespace))
			return 0;
	} else if (g3_sql_word_is(&p, "deferrable") ||
		   (g3_sql_word_is(&p, "not") && g3_sql_word_is(&p, "deferrable"))) {
		d = &c->deferral[0];
	} else if (g3_sql_word_is(&p, "initially")) {
		if (!g3_sql_word_is(&p, "deferred") && !g3_sql_word_is(&p, "immediate"))
			return 0;
		d = &c->deferral[1];
	} else {
		return 0;
	}
	if (d) {
		if (d->s)
			return 0;
		d->s = start;
		d->n = (size_t)(p - start);
	}
	*pp = p;
	return 1;
}

static int parse(const char *sql, struct parsed *c)
{
	const char *p = sql;

	memset(c, 0, sizeof(*c));
	if (!g3_sql_word_is(&p, "alter") || !g3_sql_word_is(&p, "table"))
		return 0;
	c->only = g3_sql_word_is(&p, "only");
	if (!qualified(&p, &c->table) || !g3_sql_word_is(&p, "add") ||
	    !g3_sql_word_is(&p, "constraint") || !ident(&p, &c->name))
		return 0;
	if (g3_sql_word_is(&p, "primary")) {
		if (!g3_sql_word_is(&p, "key"))
			return 0;
		c->primary = 1;
	} else if (!g3_sql_word_is(&p, "unique") || !nulls_clause(&p, &c->nulls)) {
		return 0;
	}
	if (!columns(&p, &c->cols))
		return 0;
	for (p = g3_sql_skip_space(p); *p && *p != ';'; p = g3_sql_skip_space(p))
		if (!option(&p, c))
			return 0;
	if (*p == ';')
		p = g3_sql_skip_space(p + 1);
	return !*p;
}

static void add_span(g3_buf *b, const char *before, const struct span *s)
{
	if (!s->s)
		return;
	g3_buf_adds(b, before);
	g3_buf_add(b, s->s, s->n);
}

int g3_pgconstraint_split_sql(const char *sql, g3_pgconstraint_split *out)
{
	struct parsed c;
	g3_buf b = G3_BUF_INIT;

	memset(out, 0, sizeof(*out));
	if (!parse(sql, &c))
		return 0;
	g3_buf_adds(&b, "CREATE UNIQUE INDEX ");
	g3_buf_add(&b, c.name.s, c.name.n);
	add_span(&b, " ON ", &c.table);
	add_span(&b, " USING btree ", &c.cols);
	add_span(&b, " INCLUDE ", &c.include);
	add_span(&b, " ", &c.nulls);
	add_span(&b, " WITH ", &c.with);
	add_span(&b, " TABLESPACE ", &c.tablespace);
	out->index_sql = g3_buf_detach(&b);

	g3_buf_adds(&b, c.only ? "ALTER TABLE ONLY " : "ALTER TABLE ");
	g3_buf_add(&b, c.table.s, c.table.n);
	add_span(&b, " ADD CONSTRAINT ", &c.name);
	g3_buf_adds(&b, c.primary ? " PRIMARY KEY USING INDEX " : " UNIQUE USING INDEX ");
	g3_buf_add(&b, c.name.s, c.name.n);
	add_span(&b, " ", &c.deferral[0]);
	add_span(&b, " ", &c.deferral[1]);
	out->attach_sql = g3_buf_detach(&b);
	g3_buf_add(&b, c.table.s, c.table.n);
	out->table = g3_buf_detach(&b);
	return 1;
}

int g3_pgconstraint_split_fk(const char *sql, g3_pgconstraint_split *out)
{
	struct span table, name, ref = { NULL, 0 };
	const char *p = sql, *end;
	char tok[G3_SQL_WORD_MAX], prev[8] = "";
	int only, k;
	g3_buf b = G3_BUF_INIT;

	memset(out, 0, sizeof(*out));
	if (!g3_sql_word_is(&p, "alter") || !g3_sql_word_is(&p, "table"))
		return 0;
	only = g3_sql_word_is(&p, "only");
	if (!qualified(&p, &table) || !g3_sql_word_is(&p, "add") ||
	    !g3_sql_word_is(&p, "constraint") || !ident(&p, &name) ||
	    !g3_sql_word_is(&p, "foreign") || !g3_sql_word_is(&p, "key"))
		return 0;
	/* the rest, token by token (strings and quoted names whole): no NOT
	 * VALID, and nothing after the closing semicolon */
	end = p;   /* past the last token: a comment after it is left out */
	while ((k = g3_sql_tok(&p, tok, sizeof(tok))) && k != ';') {
		if (k == 'w' && !strcmp(tok, "valid") && !strcmp(prev, "not"))
			return 0;
		if (k == 'w' && !strcmp(tok, "references") && !ref.s &&
		    (!qualified(&p, &ref) || *g3_sql_skip_space(p) == '.'))
			return 0;
		snprintf(prev, sizeof(prev), "%s", k == 'w' ? tok : "");
		end = p;
	}
	if ((k == ';' && *g3_sql_skip_space(p)) || !ref.s)
		return 0;
	g3_buf_add(&b, sql, (size_t)(end - sql));
	g3_buf_adds(&b, " NOT VALID");
	out->index_sql = g3_buf_detach(&b);
	g3_buf_adds(&b, only ? "ALTER TABLE ONLY " : "ALTER TABLE ");
	g3_buf_add(&b, table.s, table.n);
	add_span(&b, " VALIDATE CONSTRAINT ", &name);
	out->attach_sql = g3_buf_detach(&b);
	g3_buf_add(&b, table.s, table.n);
	out->table = g3_buf_detach(&b);
	g3_buf_add(&b, ref.s, ref.n);
	out->ref = g3_buf_detach(&b);
	return 1;
}

void g3_pgconstraint_release(g3_pgconstraint_split *s)
{
	free(s->index_sql);
	free(s->attach_sql);
	free(s->table);
	free(s->ref);
	s->index_sql = s->attach_sql = s->table = s->ref = NULL;
}
