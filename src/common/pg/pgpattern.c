/*
 * psql/pg_dump name patterns turned into POSIX extended regular
 * expressions (see pgpattern.h for the syntax), after psql's
 * processSQLNamePattern.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pgpattern.h"
#include "../base/strbuf.h"

static const char *const list_option[3] = { "--table", "--exclude-table",
					    "--exclude-table-data" };

const char *g3_tablefilter_option(enum g3_tablefilter_list list)
{
	return list_option[list];
}

static g3_rc compile_part(const char *text, g3_buf *re, regex_t *out, g3_err *err)
{
	char msg[256];
	g3_buf full = G3_BUF_INIT;
	int rc;

	g3_buf_addf(&full, "^(%s)$", re->len ? re->data : ".*");
	rc = regcomp(out, full.data, REG_EXTENDED | REG_NOSUB);
	g3_buf_release(&full);
	if (rc) {
		regerror(rc, NULL, msg, sizeof(msg));
		return g3_err_set(err, G3_USAGE, "invalid pattern \"%s\": %s", text, msg);
	}
	return G3_OK;
}

g3_rc g3_pgpattern_compile(const char *text, g3_pgpattern *p, g3_err *err)
{
	g3_buf part[2] = { G3_BUF_INIT, G3_BUF_INIT };
	int n = 0, quoted = 0, compiled = 0;
	g3_rc rc = G3_OK;

	memset(p, 0, sizeof(*p));
	if (!*text)
		return g3_err_set(err, G3_USAGE, "empty table pattern");
	for (const char *c = text; *c; c++) {
		g3_buf *b = &part[n];

		if (*c == '"') {
			if (quoted && c[1] == '"') {
				g3_buf_adds(b, "\"");
				c++;
			} else {
				quoted = !quoted;
			}
		} else if (quoted) {
			if (strchr("\\^$.[]()*+?{}|", *c))
				g3_buf_adds(b, "\\");
			g3_buf_addf(b, "%c", *c);
		} else if (*c == '.') {
			if (++n > 1) {
				rc = g3_err_set(err, G3_USAGE, "improper qualified name (too many "
						"dotted names): \"%s\"", text);
				goto cleanup;
			}
		} else if (*c == '*') {
			g3_buf_adds(b, ".*");
		} else if (*c == '?') {
			g3_buf_adds(b, ".");
		} else if (*c == '$') {
			g3_buf_adds(b, "\\$");
		} else {
			g3_buf_addf(b, "%c", (char)tolower((unsigned char)*c));
		}
	}
	if (quoted) {
		rc = g3_err_set(err, G3_USAGE, "unterminated quoted name in pattern \"%s\"", text);
		goto cleanup;
	}
	if (n == 0) {
		/* unqualified: the schema public, as on pg_dump's default search_path */
		part[1] = part[0];
		memset(&part[0], 0, sizeof(part[0]));
		g3_buf_adds(&part[0], "public");
	}
	if (!part[1].len && n == 0) {
		rc = g3_err_set(err, G3_USAGE, "empty table pattern \"%s\"", text);
		goto cleanup;
	}
	if ((rc = compile_part(text, &part[0], &p->schema, err)))
		goto cleanup;
	compiled = 1;
	if ((rc = compile_part(text, &part[1], &p->name, err)))
		goto cleanup;
	compiled = 2;
	p->text = g3_xstrdup(text);
cleanup:
	if (rc && compiled)
		regfree(&p->schema);
	g3_buf_release(&part[0]);
	g3_buf_release(&part[1]);
	return rc;
}

int g3_pgpattern_match(const g3_pgpattern *p, const char *schema, const char *name)
{
	return !regexec(&p->schema, schema, 0, NULL, 0) && !regexec(&p->name, name, 0, NULL, 0);
}

void g3_pgpattern_release(g3_pgpattern *p)
{
	if (!p->text)
		return;
	regfree(&p->schema);
	regfree(&p->name);
	free(p->text);
	p->text = NULL;
}

void g3_tablefilter_init(g3_tablefilter *f)
{
	memset(f, 0, sizeof(*f));
}

void g3_tablefilter_release(g3_tablefilter *f)
{
	for (int l = 0; l < 3; l++) {
		for (size_t i = 0; i < f->n[l]; i++)
			g3_pgpattern_release(&f->p[l][i]);
		free(f->p[l]);
	}
	memset(f, 0, sizeof(*f));
}

g3_rc g3_tablefilter_add(g3_tablefilter *f, enum g3_tablefilter_list list, const char *text,
			 g3_err *err)
{
	g3_pgpattern p;
	g3_rc rc = g3_pgpattern_compile(text, &p, err);

	if (rc) {
		g3_err_prefix(err, "%s", list_option[list]);
		return rc;
	}
	f->p[list] = g3_xrealloc(f->p[list], (f->n[list] + 1) * sizeof(p));
	f->p[list][f->n[list]++] = p;
	return G3_OK;
}

int g3_tablefilter_active(const g3_tablefilter *f)
{
	return f->n[0] || f->n[1] || f->n[2];
}

/* Counts every match of a list (so each pattern's use is known); 1 when
 * one matched. */
static int any_match(g3_tablefilter *f, int list, const char *schema, const char *name)
{
	int hit = 0;

	for (size_t i = 0; i < f->n[list]; i++)
		if (g3_pgpattern_match(&f->p[list][i], schema, name)) {
			f->p[list][i].matches++;
			hit = 1;
		}
	return hit;
}

enum g3_table_fate g3_tablefilter_decide(g3_tablefilter *f, const char *schema, const char *name)
{
	int in = any_match(f, G3_FILTER_TABLE, schema, name);
	int ex = any_match(f, G3_FILTER_EXCLUDE, schema, name);
	int nodata = any_match(f, G3_FILTER_EXCLUDE_DATA, schema, name);

	if ((f->n[G3_FILTER_TABLE] && !in) || ex)
		return G3_TABLE_SKIP;
	return nodata ? G3_TABLE_NO_DATA : G3_TABLE_KEEP;
}

g3_rc g3_tablefilter_check(const g3_tablefilter *f, g3_err *err)
{
	g3_rc rc;

	for (int l = 0; l < 3; l++)
		for (size_t i = 0; i < f->n[l]; i++)
			if (!f->p[l][i].matches) {
				rc = g3_err_set(err, G3_USAGE, "%s \"%s\" matches no table",
						list_option[l], f->p[l][i].text);
				g3_err_hint(err, "patterns follow psql: unquoted letters fold to lower "
					    "case, \"...\" keeps case, a name without \"schema.\" "
					    "means schema public");
				return rc;
			}
	return G3_OK;
}
