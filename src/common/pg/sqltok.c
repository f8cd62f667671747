/*
 * Tokens of SQL statement text, for the few places that recognise a
 * statement's kind and names (pgfilter.c, pgload.c): see sqltok.h.
 */
#include "sqltok.h"

#include <ctype.h>
#include <string.h>

const char *g3_sql_skip_space(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");

			p = e ? e + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}

int g3_sql_tok(const char **pp, char *out, size_t outsz)
{
	const char *p = g3_sql_skip_space(*pp);
	size_t n = 0;
	int kind;

	out[0] = '\0';
	if (!*p) {
		*pp = p;
		return 0;
	}
	if (*p == '"' || *p == '\'') {
		char q = *p++;

		while (*p) {
			if (*p == q) {
				if (p[1] != q)
					break;
				p++;
			}
			if (n + 1 < outsz)
				out[n++] = *p;
			p++;
		}
		if (*p)
			p++;
		kind = q == '"' ? 'q' : 's';
	} else if (isalnum((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80) {
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '$' ||
		       (unsigned char)*p >= 0x80) {
			if (n + 1 < outsz)
				out[n++] = (char)tolower((unsigned char)*p);
			p++;
		}
		kind = 'w';
	} else {
		kind = (unsigned char)*p;
		if (n + 1 < outsz)
			out[n++] = *p;
		p++;
	}
	out[n] = '\0';
	*pp = p;
	return kind;
}

int g3_sql_word_is(const char **pp, const char *w)
{
	const char *p = *pp;
	char t[G3_SQL_WORD_MAX];

	if (g3_sql_tok(&p, t, sizeof(t)) != 'w' || strcmp(t, w))
		return 0;
	*pp = p;
	return 1;
}
