/*
 * The statement filter behind restore's table patterns (pgfilter.h): a
 * small tokenizer reads the head of each statement far enough to name the
 * relation it concerns.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "../base/opts.h"
#include "pgfilter.h"
#include "sqltok.h"
#include "../base/strbuf.h"

#define IDENT_MAX 256

enum cls_kind { C_NONE, C_DEFINE, C_SEQUENCE, C_OWNED_BY, C_REL, C_FK, C_INDEX };

struct rel {
	char schema[IDENT_MAX];
	char name[IDENT_MAX];
};

struct cls {
	enum cls_kind kind;
	struct rel rel, ref;        /* C_INDEX: ref is the index (in rel's schema) */
	char conname[IDENT_MAX];
	struct rel identity;        /* ADD GENERATED ... AS IDENTITY (SEQUENCE NAME x) */
	int has_identity;
};

struct held {
	char *sql;
	long line;
};

struct decided {
	struct rel rel;
	enum g3_table_fate fate;
};

struct g3_sqlfilter {
	g3_tablefilter *tf;
	struct decided *dec;
	size_t n_dec;
	struct held *held;          /* an unmatched sequence's statements */
	size_t n_held;
	struct rel held_rel;
	char **excluded, **no_data;
	size_t n_excluded, n_no_data;
	long fks;
};

/* ---- tokens ---------------------------------------------------------- */

/* Skips tokens up to and past the word w; 0 when it never comes. */
static int skip_to(const char **pp, const char *w)
{
	char t[IDENT_MAX];
	int k;

	while ((k = g3_sql_tok(pp, t, sizeof(t))))
		if (k == 'w' && !strcmp(t, w))
			return 1;
	return 0;
}

/* A name of up to three dotted parts; column: the last part names a
 * column (dropped). Unqualified names are in public. */
static int qualified(const char **pp, struct rel *r, int column)
{
	char part[3][IDENT_MAX];
	int n = 0, k;

	for (;;) {
		k = g3_sql_tok(pp, part[n], sizeof(part[n]));
		if (k != 'w' && k != 'q')
			return 0;
		n++;
		if (**pp != '.' || n == 3)
			break;
		(*pp)++;
	}
	if (column)
		n--;
	if (n == 1) {
		snprintf(r->schema, sizeof(r->schema), "public");
		snprintf(r->name, sizeof(r->name), "%s", part[0]);
	} else if (n == 2) {
		snprintf(r->schema, sizeof(r->schema), "%s", part[0]);
		snprintf(r->name, sizeof(r->name), "%s", part[1]);
	} else {
		return 0;
	}
	return 1;
}

static void skip_if_exists(const char **pp, int not)
{
	const char *p = *pp;

	if (g3_sql_word_is(&p, "if") && (!not || g3_sql_word_is(&p, "not")) && g3_sql_word_is(&p, "exists"))
		*pp = p;
}

/* ---- what a statement concerns -------------------------------------- */

static void classify_create(const char *p, struct cls *c)
{
	char t[IDENT_MAX];

	for (;;) {
		if (g3_sql_tok(&p, t, sizeof(t)) != 'w')
			return;
		if (!strcmp(t, "or") || !strcmp(t, "replace") || !strcmp(t, "unique") ||
		    !strcmp(t, "unlogged") || !strcmp(t, "constraint") ||
		    !strcmp(t, "recursive") || !strcmp(t, "foreign") || !strcmp(t, "materialized"))
			continue;
		break;
	}
	if (!strcmp(t, "table") || !strcmp(t, "view") || !strcmp(t, "sequence")) {
		skip_if_exists(&p, 1);
		if (qualified(&p, &c->rel, 0))
			c->kind = !strcmp(t, "sequence") ? C_SEQUENCE : C_DEFINE;
	} else if (!strcmp(t, "index")) {
		/* CREATE INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON [ONLY] table */
		char name[IDENT_MAX] = "";
		int k;

		while ((k = g3_sql_tok(&p, t, sizeof(t))) && !(k == 'w' && !strcmp(t, "on")))
			snprintf(name, sizeof(name), "%s", t);
		if (!k)
			return;
		g3_sql_word_is(&p, "only");
		if (!qualified(&p, &c->rel, 0))
			return;
		c->kind = C_REL;
		if (name[0]) {
			c->kind = C_INDEX;
			snprintf(c->ref.schema, sizeof(c->ref.schema), "%s", c->rel.schema);
			snprintf(c->ref.name, sizeof(c->ref.name), "%s", name);
		}
	} else if (!strcmp(t, "trigger") || !strcmp(t, "policy")) {
		if (!skip_to(&p, "on"))
			return;
		g3_sql_word_is(&p, "only");
		if (qualified(&p, &c->rel, 0))
			c->kind = C_REL;
	} else if (!strcmp(t, "rule")) {
		if (skip_to(&p, "to") && qualified(&p, &c->rel, 0))
			c->kind = C_REL;
	}
}

static void classify_alter(const char *p, struct cls *c)
{
	char t[IDENT_MAX];
	int k;

	if (g3_sql_tok(&p, t, sizeof(t)) != 'w')
		return;
	if (!strcmp(t, "materialized") || !strcmp(t, "foreign")) {
		if (g3_sql_tok(&p, t, sizeof(t)) != 'w')
			return;
	}
	if (strcmp(t, "table") && strcmp(t, "view") && strcmp(t, "sequence") && strcmp(t, "index"))
		return;
	skip_if_exists(&p, 0);
	g3_sql_word_is(&p, "only");
	if (!qualified(&p, &c->rel, 0))
		return;
	c->kind = C_REL;
	if (!strcmp(t, "sequence")) {
		if (skip_to(&p, "owned") && g3_sql_word_is(&p, "by") && !g3_sql_word_is(&p, "none") &&
		    qualified(&p, &c->ref, 1))
			c->kind = C_OWNED_BY;
		return;
	}
	if (!strcmp(t, "table")) {
		/* an identity column's sequence goes with its table */
		const char *q = p;
		char u[IDENT_MAX];

		while (skip_to(&q, "identity"))
			if (g3_sql_tok(&q, u, sizeof(u)) == '(' && g3_sql_word_is(&q, "sequence") &&
			    g3_sql_word_is(&q, "name") && qualified(&q, &c->identity, 0)) {
				c->has_identity = 1;
				break;
			}
	}
	if (!strcmp(t, "table") && g3_sql_word_is(&p, "add")) {
		if (g3_sql_word_is(&p, "constraint"))
			g3_sql_tok(&p, c->conname, sizeof(c->conname));
		k = g3_sql_tok(&p, t, sizeof(t));
		if (k == 'w' && !strcmp(t, "foreign") && skip_to(&p, "references") &&
		    qualified(&p, &c->ref, 0))
			c->kind = C_FK;
	}
}

static void classify_comment(const char *p, struct cls *c)
{
	char t[IDENT_MAX];

	if (!g3_sql_word_is(&p, "on") || g3_sql_tok(&p, t, sizeof(t)) != 'w')
		return;
	if (!strcmp(t, "materialized") || !strcmp(t, "foreign")) {
		if (g3_sql_tok(&p, t, sizeof(t)) != 'w')
			return;
	}
	if (!strcmp(t, "table") || !strcmp(t, "view") || !strcmp(t, "sequence") ||
	    !strcmp(t, "index") || !strcmp(t, "column")) {
		if (qualified(&p, &c->rel, !strcmp(t, "column")))
			c->kind = C_REL;
	} else if (!strcmp(t, "constraint") || !strcmp(t, "trigger") || !strcmp(t, "policy") ||
		   !strcmp(t, "rule")) {
		g3_sql_tok(&p, t, sizeof(t));
		if (g3_sql_word_is(&p, "on") && !g3_sql_word_is(&p, "domain") && qualified(&p, &c->rel, 0))
			c->kind = C_REL;
	}
}

static void classify(const char *sql, struct cls *c)
{
	const char *p = sql;
	char t[IDENT_MAX];

	memset(c, 0, sizeof(*c));
	if (g3_sql_tok(&p, t, sizeof(t)) != 'w')
		return;
	if (!strcmp(t, "create")) {
		classify_create(p, c);
	} else if (!strcmp(t, "alter")) {
		classify_alter(p, c);
	} else if (!strcmp(t, "comment")) {
		classify_comment(p, c);
	} else if (!strcmp(t, "grant") || !strcmp(t, "revoke")) {
		if (skip_to(&p, "on") && (g3_sql_word_is(&p, "table") || g3_sql_word_is(&p, "sequence")) &&
		    qualified(&p, &c->rel, 0))
			c->kind = C_REL;
	} else if (!strcmp(t, "refresh")) {
		if (g3_sql_word_is(&p, "materialized") && g3_sql_word_is(&p, "view") && qualified(&p, &c->rel, 0))
			c->kind = C_REL;
	} else if (!strcmp(t, "select")) {
		char lit[2 * IDENT_MAX + 8];
		const char *q;

		if (g3_sql_word_is(&p, "pg_catalog") && *p == '.')
			p++;
		if (!g3_sql_word_is(&p, "setval") || g3_sql_tok(&p, t, sizeof(t)) != '(' ||
		    g3_sql_tok(&p, lit, sizeof(lit)) != 's')
			return;
		q = lit;
		if (qualified(&q, &c->rel, 0))
			c->kind = C_REL;
	}
}

int g3_sqlfilter_relation(const char *sql, char *rel, size_t relsize, char *ref,
			  size_t refsize)
{
	struct cls c;

	classify(sql, &c);
	snprintf(rel, relsize, "%s%s%s", c.rel.schema, c.kind ? "." : "", c.rel.name);
	snprintf(ref, refsize, "%s%s%s", c.ref.schema, c.ref.name[0] ? "." : "", c.ref.name);
	return c.kind != C_NONE;
}

/* ---- decisions ------------------------------------------------------- */

g3_sqlfilter *g3_sqlfilter_new(g3_tablefilter *tf)
{
	g3_sqlfilter *f = g3_xcalloc(1, sizeof(*f));

	f->tf = tf;
	return f;
}

static void drop_held(g3_sqlfilter *f)
{
	for (size_t i = 0; i < f->n_held; i++)
		free(f->held[i].sql);
	f->n_held = 0;
}

void g3_sqlfilter_free(g3_sqlfilter *f)
{
	if (!f)
		return;
	drop_held(f);
	free(f->held);
	free(f->dec);
	g3_strlist_free(f->excluded, f->n_excluded);
	g3_strlist_free(f->no_data, f->n_no_data);
	free(f);
}

static int same_rel(const struct rel *a, const struct rel *b)
{
	return !strcmp(a->schema, b->schema) && !strcmp(a->name, b->name);
}

static void decide_rel(g3_sqlfilter *f, const struct rel *r, enum g3_table_fate fate)
{
	f->dec = g3_xrealloc(f->dec, (f->n_dec + 1) * sizeof(*f->dec));
	f->dec[f->n_dec].rel = *r;
	f->dec[f->n_dec++].fate = fate;
}

static enum g3_table_fate fate(g3_sqlfilter *f, const struct rel *r)
{
	for (size_t i = f->n_dec; i-- > 0;)
		if (same_rel(&f->dec[i].rel, r))
			return f->dec[i].fate;
	return g3_tablefilter_decide(f->tf, r->schema, r->name);
}

static void note(char ***list, size_t *n, const struct rel *r)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s.%s", r->schema, r->name);
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], b.data)) {
			g3_buf_release(&b);
			return;
		}
	g3_strlist_add(list, n, b.data);
	g3_buf_release(&b);
}

static void hold(g3_sqlfilter *f, const char *sql, long line)
{
	f->held = g3_xrealloc(f->held, (f->n_held + 1) * sizeof(*f->held));
	f->held[f->n_held].sql = g3_xstrdup(sql);
	f->held[f->n_held++].line = line;
}

/* The held sequence is owned by no kept table: left out. */
static void resolve_held(g3_sqlfilter *f)
{
	if (!f->n_held)
		return;
	decide_rel(f, &f->held_rel, G3_TABLE_SKIP);
	note(&f->excluded, &f->n_excluded, &f->held_rel);
	drop_held(f);
}

static int excluded_by_name(const g3_sqlfilter *f, const struct rel *r)
{
	for (size_t i = 0; i < f->tf->n[G3_FILTER_EXCLUDE]; i++)
		if (g3_pgpattern_match(&f->tf->p[G3_FILTER_EXCLUDE][i], r->schema, r->name))
			return 1;
	return 0;
}

g3_rc g3_sqlfilter_statement(g3_sqlfilter *f, const char *sql, long line,
			     g3_sqlfilter_emit_fn emit, void *ctx, g3_err *err)
{
	struct cls c;
	enum g3_table_fate fa;
	g3_rc rc;

	classify(sql, &c);
	if (f->n_held) {
		if (c.kind == C_REL && same_rel(&c.rel, &f->held_rel)) {
			hold(f, sql, line);
			return G3_OK;
		}
		if (c.kind == C_OWNED_BY && same_rel(&c.rel, &f->held_rel)) {
			if (fate(f, &c.ref) == G3_TABLE_SKIP) {
				resolve_held(f);
				return G3_OK;
			}
			decide_rel(f, &c.rel, G3_TABLE_KEEP);
			for (size_t i = 0; i < f->n_held; i++)
				if ((rc = emit(ctx, f->held[i].sql, f->held[i].line, err)))
					return rc;
			drop_held(f);
			return emit(ctx, sql, line, err);
		}
		resolve_held(f);
	}
	switch (c.kind) {
	case C_NONE:
		break;
	case C_SEQUENCE:
		fa = fate(f, &c.rel);
		if (fa == G3_TABLE_SKIP && f->tf->n[G3_FILTER_TABLE] && !excluded_by_name(f, &c.rel)) {
			/* under --table: kept if a kept table owns it */
			f->held_rel = c.rel;
			hold(f, sql, line);
			return G3_OK;
		}
		if (fa == G3_TABLE_SKIP) {
			note(&f->excluded, &f->n_excluded, &c.rel);
			return G3_OK;
		}
		break;
	case C_DEFINE:
		fa = fate(f, &c.rel);
		if (fa == G3_TABLE_SKIP) {
			note(&f->excluded, &f->n_excluded, &c.rel);
			return G3_OK;
		}
		if (fa == G3_TABLE_NO_DATA)
			note(&f->no_data, &f->n_no_data, &c.rel);
		break;
	case C_REL:
		/* an index's statements: its table's fate, known from CREATE INDEX */
		fa = fate(f, &c.rel);
		if (c.has_identity)
			decide_rel(f, &c.identity, fa == G3_TABLE_SKIP ? G3_TABLE_SKIP : G3_TABLE_KEEP);
		if (fa == G3_TABLE_SKIP)
			return G3_OK;
		break;
	case C_INDEX:
		fa = fate(f, &c.rel) == G3_TABLE_SKIP ? G3_TABLE_SKIP : G3_TABLE_KEEP;
		decide_rel(f, &c.ref, fa);
		if (fa == G3_TABLE_SKIP)
			return G3_OK;
		break;
	case C_OWNED_BY:
		if (fate(f, &c.rel) == G3_TABLE_SKIP || fate(f, &c.ref) == G3_TABLE_SKIP)
			return G3_OK;
		break;
	case C_FK:
		if (fate(f, &c.rel) == G3_TABLE_SKIP)
			return G3_OK;
		if (fate(f, &c.ref) == G3_TABLE_SKIP) {
			g3_warn("foreign key \"%s\" of table \"%s.%s\" references table \"%s.%s\", "
				"which is left out: the foreign key is not restored", c.conname,
				c.rel.schema, c.rel.name, c.ref.schema, c.ref.name);
			f->fks++;
			return G3_OK;
		}
		break;
	}
	return emit(ctx, sql, line, err);
}

void g3_sqlfilter_end(g3_sqlfilter *f)
{
	resolve_held(f);
}

int g3_sqlfilter_copy(g3_sqlfilter *f, const char *schema, const char *name)
{
	struct rel r;

	resolve_held(f);
	snprintf(r.schema, sizeof(r.schema), "%s", schema);
	snprintf(r.name, sizeof(r.name), "%s", name);
	return fate(f, &r) == G3_TABLE_KEEP;
}

int g3_sqlfilter_copy_sql(g3_sqlfilter *f, const char *sql)
{
	const char *p = sql;
	struct rel r;

	resolve_held(f);
	if (!g3_sql_word_is(&p, "copy") || !qualified(&p, &r, 0))
		return 1;
	return fate(f, &r) == G3_TABLE_KEEP;
}

char *const *g3_sqlfilter_excluded(const g3_sqlfilter *f, size_t *n)
{
	*n = f->n_excluded;
	return f->excluded;
}

char *const *g3_sqlfilter_no_data(const g3_sqlfilter *f, size_t *n)
{
	*n = f->n_no_data;
	return f->no_data;
}

long g3_sqlfilter_dropped_fks(const g3_sqlfilter *f)
{
	return f->fks;
}
