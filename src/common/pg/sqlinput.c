/*
 * Sniffing plain SQL input and checking pg_dump's closing lines: see
 * sqlinput.h.
 */
#include "sqlinput.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../base/strbuf.h"

/* Formats that turn up where a dump was expected, by their first bytes. */
static const struct magic {
	const char *bytes;
	size_t len;
	const char *what;
} magics[] = {
	{ "PK\x03\x04", 4, "a zip archive" },
	{ "PK\x05\x06", 4, "a zip archive (empty)" },
	{ "\xff\xd8\xff", 3, "a JPEG image" },
	{ "\x89PNG\r\n\x1a\n", 8, "a PNG image" },
	{ "GIF87a", 6, "a GIF image" },
	{ "GIF89a", 6, "a GIF image" },
	{ "%PDF-", 5, "a PDF document" },
	{ "\x7f" "ELF", 4, "an ELF executable" },
	{ "7z\xbc\xaf\x27\x1c", 6, "a 7-Zip archive" },
	{ "Rar!\x1a\x07", 6, "a RAR archive" },
	{ "SQLite format 3", 16, "an SQLite database" },
	{ "\x1f\x8b", 2, "gzip data that does not decompress" },
	{ "\x28\xb5\x2f\xfd", 4, "zstd data that does not decompress" },
	{ "\xff\xfe", 2, "UTF-16 text (pg_dump writes UTF-8 or the database's encoding)" },
	{ "\xfe\xff", 2, "UTF-16 text (pg_dump writes UTF-8 or the database's encoding)" },
};

/* The commands a psql script may begin with (PostgreSQL's SQL command
 * list); a script starting with anything else is not SQL. */
static const char *const sql_words[] = {
	"abort", "alter", "analyze", "analyse", "begin", "call", "checkpoint", "close",
	"cluster", "comment", "commit", "copy", "create", "deallocate", "declare",
	"delete", "discard", "do", "drop", "end", "execute", "explain", "fetch",
	"grant", "import", "insert", "listen", "load", "lock", "merge", "move",
	"notify", "prepare", "reassign", "refresh", "reindex", "release", "reset",
	"revoke", "rollback", "savepoint", "security", "select", "set", "show",
	"start", "table", "truncate", "unlisten", "update", "vacuum", "values",
	"with", NULL
};

/* One line of head from p: its length without the newline and a trailing
 * '\r'; *next is the start of the following line (or end). */
static size_t line_at(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

	*next = nl ? nl + 1 : end;
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n;
}

static int line_is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && !memcmp(p, s, n);
}

static int line_starts(const char *p, size_t n, const char *s)
{
	return n >= strlen(s) && !memcmp(p, s, strlen(s));
}

/* pg_dump's and pg_dumpall's opening lines, among the comments, blank
 * lines and meta-commands that come before the first statement. */
static g3_sqlinput_kind header_kind(const char *head, size_t len)
{
	const char *p = head, *end = head + len, *next;

	while (p < end) {
		size_t n = line_at(p, end, &next);

		if (line_is(p, n, "-- PostgreSQL database dump") ||
		    line_starts(p, n, "-- Dumped from database version") ||
		    line_starts(p, n, "-- Dumped by pg_dump version"))
			return G3_SQLINPUT_PG_DUMP;
		if (line_is(p, n, "-- PostgreSQL database cluster dump"))
			return G3_SQLINPUT_PG_DUMPALL;
		if (n && !line_starts(p, n, "--") && p[0] != '\\')
			break;
		p = next;
	}
	return G3_SQLINPUT_SQL;
}

/* Not text: a NUL byte, or control characters other than the whitespace
 * ones and ESC in more than 1 byte of 32. */
static int is_binary(const char *head, size_t len)
{
	size_t ctl = 0;

	if (memchr(head, '\0', len))
		return 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)head[i];

		if ((c < 0x20 && !strchr("\t\n\v\f\r\x1b", c)) || c == 0x7f)
			ctl++;
	}
	return ctl * 32 > len;
}

/* Skips whitespace, comments and meta-command lines; returns the first
 * byte of a statement (*line: its line), or NULL if there is none in
 * head. */
static const char *first_token(const char *head, size_t len, long *line)
{
	const char *p = head, *end = head + len;
	int depth = 0;

	*line = 1;
	while (p < end) {
		if (*p == '\n')
			(*line)++;
		if (depth) {
			if (p + 1 < end && p[0] == '*' && p[1] == '/') {
				depth--;
				p += 2;
			} else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
				depth++;
				p += 2;
			} else {
				p++;
			}
			continue;
		}
		if (isspace((unsigned char)*p)) {
			p++;
		} else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			p = nl ? nl : end;
		} else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
			depth = 1;
			p += 2;
		} else if (*p == '\\') {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			p = nl ? nl : end;
		} else {
			return p;
		}
	}
	return NULL;
}

static int starts_like_sql(const char *p, const char *end)
{
	size_t n = 0;

	if (*p == '(')
		return 1;
	while (p + n < end && (isalpha((unsigned char)p[n]) || p[n] == '_'))
		n++;
	if (!n || (p + n < end && (isalnum((unsigned char)p[n]) || p[n] == '_' ||
				   p[n] == '$' || (unsigned char)p[n] >= 0x80)))
		return 0;
	for (int i = 0; sql_words[i]; i++)
		if (strlen(sql_words[i]) == n && !strncasecmp(p, sql_words[i], n))
			return 1;
	return 0;
}

/* "KIND (line N: \"...\")" with the first 60 bytes of the line shown
 * printable. */
static void describe_line(const char *kind, const char *p, const char *end, long line,
			  char *what, size_t whatsize)
{
	char shown[60 * 4 + 4];
	size_t o = 0, n;
	const char *next;

	n = line_at(p, end, &next);
	for (size_t i = 0; i < n && i < 60; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\x%02x", c);
		else
			shown[o++] = (char)c;
	}
	if (n > 60)
		o += (size_t)snprintf(shown + o, sizeof(shown) - o, "...");
	shown[o] = '\0';
	snprintf(what, whatsize, "%s (line %ld: \"%s\")", kind, line, shown);
}

g3_sqlinput_kind g3_sqlinput_sniff(const char *head, size_t len, int whole,
				   char *what, size_t whatsize)
{
	const char *tok;
	long line;
	g3_sqlinput_kind k;

	if (whatsize)
		what[0] = '\0';
	if (!len)
		return G3_SQLINPUT_EMPTY;
	if (len >= 5 && !memcmp(head, "PGDMP", 5))
		return G3_SQLINPUT_PG_CUSTOM;
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		if (len >= magics[i].len && !memcmp(head, magics[i].bytes, magics[i].len)) {
			snprintf(what, whatsize, "%s", magics[i].what);
			return G3_SQLINPUT_OTHER;
		}
	}
	/* pg_dump's own lines first: its COPY data may hold raw control
	 * characters (COPY escapes only \b \f \n \r \t \v) */
	if ((k = header_kind(head, len)) != G3_SQLINPUT_SQL)
		return k;
	if (is_binary(head, len)) {
		snprintf(what, whatsize, "binary data");
		return G3_SQLINPUT_OTHER;
	}
	tok = first_token(head, len, &line);
	if (!tok)
		return whole ? G3_SQLINPUT_NO_SQL : G3_SQLINPUT_SQL;
	if (starts_like_sql(tok, head + len))
		return G3_SQLINPUT_SQL;
	/* the line the token is on, from its start */
	while (tok > head && tok[-1] != '\n')
		tok--;
	if (*tok == '{' || *tok == '[')
		describe_line("JSON", tok, head + len, line, what, whatsize);
	else if (*tok == '<')
		describe_line("HTML or XML", tok, head + len, line, what, whatsize);
	else
		describe_line("text that does not start like SQL", tok, head + len, line, what,
			      whatsize);
	return G3_SQLINPUT_OTHER;
}

/* ---- the end of pg_dump's output -------------------------------------- */

void g3_dumpend_init(g3_dumpend *e)
{
	memset(e, 0, sizeof(*e));
}

void g3_dumpend_feed(g3_dumpend *e, const char *data, size_t len)
{
	const char *end = data + len;

	if (!len)
		return;
	e->bytes += len;
	e->last = data[len - 1];
	e->newlines += g3_count_newlines(data, len);
	if (len >= G3_DUMPEND_TAIL) {
		memcpy(e->tail, end - G3_DUMPEND_TAIL, G3_DUMPEND_TAIL);
		e->len = G3_DUMPEND_TAIL;
		return;
	}
	if (e->len + len > G3_DUMPEND_TAIL) {
		size_t drop = e->len + len - G3_DUMPEND_TAIL;

		memmove(e->tail, e->tail + drop, e->len - drop);
		e->len -= drop;
	}
	memcpy(e->tail + e->len, data, len);
	e->len += len;
}

/* The last non-blank line of tail[0..*n): its start and length (without
 * '\r' and trailing blanks); *n is cut to before it. 0 when none. */
static int last_line(const char *tail, size_t *n, const char **line, size_t *len)
{
	size_t e = *n, b;

	while (e && isspace((unsigned char)tail[e - 1]))
		e--;
	if (!e)
		return 0;
	b = e;
	while (b && tail[b - 1] != '\n')
		b--;
	*line = tail + b;
	*len = e - b;
	*n = b;
	return 1;
}

int g3_dumpend_complete(const g3_dumpend *e)
{
	size_t n = e->len, len;
	const char *l;

	if (!last_line(e->tail, &n, &l, &len))
		return 0;
	if (line_starts(l, len, "\\unrestrict") && !last_line(e->tail, &n, &l, &len))
		return 0;
	if (!line_is(l, len, "--") || !last_line(e->tail, &n, &l, &len))
		return 0;
	return line_is(l, len, "-- PostgreSQL database dump complete");
}

long long g3_dumpend_last_line(const g3_dumpend *e)
{
	if (!e->bytes)
		return 0;
	return e->newlines + (e->last != '\n');
}
