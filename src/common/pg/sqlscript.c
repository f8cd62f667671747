/*
 * The psql script splitter: see sqlscript.h for the rules.
 *
 * SQL mode: input is appended to buf and scanned from pos with a small
 * state machine; where a rule needs to look ahead (`--`, `/ *`, `''`, a
 * dollar tag, a meta-command line) and the bytes are not there yet, the
 * scan stops and resumes on the next feed. A statement is handed out in
 * place (buf[start..pos), NUL put after it for the call).
 *
 * COPY mode: data is passed through from the caller's buffer as it comes;
 * only up to 3 bytes that might begin the `\.` line are carried over.
 */
#include "sqlscript.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../base/strbuf.h"

enum scan_state {
	S_NORMAL, S_SQUOTE, S_ESTRING, S_DQUOTE, S_DOLLAR, S_LINE_COMMENT,
	S_BLOCK_COMMENT
};

#define TAG_MAX 128

struct g3_sqlscript {
	const struct g3_sqlscript_cb *cb;
	void *ctx;

	/* SQL mode */
	g3_buf buf;
	size_t pos;
	long start;          /* statement start in buf, -1 before its first token */
	long line;           /* line of the byte at pos (or next fed byte) */
	long stmt_line;
	long quote_line;     /* where the open quote or comment began */
	enum scan_state state;
	int depth;           /* block comment nesting */
	int paren;
	char tag[TAG_MAX];
	size_t taglen;
	int std_strings;

	/* COPY mode */
	int in_copy;
	int copy_skip_eol;   /* rest of the COPY statement's line */
	int copy_bol;        /* at the beginning of a data line */
	long copy_lines;
	long copy_line0;     /* line of the COPY statement */
	char carry[4];
	size_t ncarry;
};

g3_sqlscript *g3_sqlscript_new(const struct g3_sqlscript_cb *cb, void *ctx)
{
	g3_sqlscript *s = g3_xcalloc(1, sizeof(*s));

	s->cb = cb;
	s->ctx = ctx;
	g3_buf_init(&s->buf);
	s->start = -1;
	s->line = 1;
	s->std_strings = 1;
	return s;
}

void g3_sqlscript_free(g3_sqlscript *s)
{
	if (!s)
		return;
	g3_buf_release(&s->buf);
	free(s);
}

long g3_sqlscript_line(const g3_sqlscript *s)
{
	return s->line;
}

static int ident_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static int tag_char(unsigned char c, int first)
{
	return isalpha(c) || c == '_' || c >= 0x80 || (!first && isdigit(c));
}

/* Reads a keyword at *p (after whitespace): returns 1 and advances if the
 * next word is kw (case-insensitive). */
static int next_word_is(const char **p, const char *end, const char *kw)
{
	const char *q = *p;
	size_t n = strlen(kw);

	while (q < end && isspace((unsigned char)*q))
		q++;
	if ((size_t)(end - q) < n || strncasecmp(q, kw, n))
		return 0;
	if (q + n < end && ident_char((unsigned char)q[n]))
		return 0;
	*p = q + n;
	return 1;
}

/* COPY ... FROM STDIN: the words FROM STDIN outside quotes. */
static int is_copy_from_stdin(const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len;

	if (!next_word_is(&p, end, "copy"))
		return 0;
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\'') {
			p++;
			while (p < end && *p != (char)c)
				p++;
			p++;
		} else if (ident_char(c)) {
			const char *w = p;

			while (p < end && ident_char((unsigned char)*p))
				p++;
			if (p - w == 4 && !strncasecmp(w, "from", 4))
				return next_word_is(&p, end, "stdin");
		} else {
			p++;
		}
	}
	return 0;
}

/* SET standard_conforming_strings = on|off|'on'|... */
static void track_settings(g3_sqlscript *s, const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len;

	if (!next_word_is(&p, end, "set") ||
	    !next_word_is(&p, end, "standard_conforming_strings"))
		return;
	while (p < end && (isspace((unsigned char)*p) || *p == '=' || *p == '\''))
		p++;
	if (!next_word_is(&p, end, "to") && p < end) {
		if (!strncasecmp(p, "off", 3) || !strncasecmp(p, "false", 5))
			s->std_strings = 0;
		else if (!strncasecmp(p, "on", 2) || !strncasecmp(p, "true", 4))
			s->std_strings = 1;
	}
}

/* Advances pos by n bytes, counting lines. */
static void adv(g3_sqlscript *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s->buf.data[s->pos + i] == '\n')
			s->line++;
	s->pos += n;
}

static g3_rc emit(g3_sqlscript *s, g3_err *err)
{
	g3_sqlstmt st;
	char saved = s->buf.data[s->pos];
	g3_rc rc;

	if (memchr(s->buf.data + s->start, '\0', s->pos - (size_t)s->start))
		return g3_err_set(err, G3_USAGE, "line %ld: a NUL byte in the statement",
				  s->stmt_line);
	s->buf.data[s->pos] = '\0';
	st.sql = s->buf.data + s->start;
	st.len = s->pos - (size_t)s->start;
	st.line = s->stmt_line;
	st.copy_in = is_copy_from_stdin(st.sql, st.len);
	track_settings(s, st.sql, st.len);
	rc = s->cb->statement(s->ctx, &st, err);
	s->buf.data[s->pos] = saved;
	s->start = -1;
	if (!rc && st.copy_in) {
		s->in_copy = 1;
		s->copy_skip_eol = 1;
		s->copy_bol = 1;
		s->copy_lines = 0;
		s->copy_line0 = st.line;
		s->ncarry = 0;
	}
	return rc;
}

static g3_rc meta(g3_sqlscript *s, size_t end, g3_err *err)
{
	g3_buf name = G3_BUF_INIT, arg = G3_BUF_INIT;
	const char *p = s->buf.data + s->pos + 1, *e = s->buf.data + end;
	long line = s->line;
	g3_rc rc = G3_OK;

	if (memchr(p, '\0', (size_t)(e - p)))
		return g3_err_set(err, G3_USAGE, "line %ld: a NUL byte in the script", line);
	while (e > p && (e[-1] == '\r' || isspace((unsigned char)e[-1])))
		e--;
	while (p < e && !isspace((unsigned char)*p))
		g3_buf_addch(&name, *p++);
	while (p < e && isspace((unsigned char)*p))
		p++;
	g3_buf_add(&arg, p, (size_t)(e - p));
	if (!name.len) {
		rc = g3_err_set(err, G3_USAGE, "line %ld: empty psql meta-command", line);
	} else if (!strcmp(name.data, "restrict") || !strcmp(name.data, "unrestrict") ||
		   !strcmp(name.data, "connect") || !strcmp(name.data, "c") ||
		   !strcmp(name.data, "encoding")) {
		if (s->cb->meta)
			rc = s->cb->meta(s->ctx, name.data, arg.data ? arg.data : "", line, err);
		else if (name.data[0] == 'c' || name.data[0] == 'e')
			rc = g3_err_set(err, G3_USAGE, "line %ld: psql meta-command \"\\%s\" is not supported",
					line, name.data);
	} else {
		rc = g3_err_set(err, G3_USAGE, "line %ld: unsupported psql meta-command \"\\%.64s\"",
				line, name.data);
	}
	g3_buf_release(&name);
	g3_buf_release(&arg);
	return rc;
}

/* What one scanning step decided: go on, wait for more input (not final),
 * or stop on an error (in *rc). */
enum step { STEP_ON, STEP_WAIT, STEP_ERR };

#define NEED(k) do { if (s->pos + (k) >= len && !final) return STEP_WAIT; } while (0)
#define AT(k) (s->pos + (k) < len ? (unsigned char)s->buf.data[s->pos + (k)] : 0)
#define FAIL(x) do { *rc = (x); return STEP_ERR; } while (0)

/* Between statements: blanks, psql meta-commands on a line of their own,
 * comments and empty statements. Returns STEP_ON with *done 0 when c was
 * none of those (the caller starts or continues a statement). */
static enum step normal_outside(g3_sqlscript *s, size_t len, unsigned char c, int final,
				int *done, g3_rc *rc, g3_err *err)
{
	*done = 1;
	if (s->start < 0 && isspace(c)) {
		adv(s, 1);
		return STEP_ON;
	}
	if (s->start < 0 && c == '\\') {
		char *nl = memchr(s->buf.data + s->pos, '\n', len - s->pos);
		size_t end = nl ? (size_t)(nl - s->buf.data) : len;

		if (!nl && !final)
			return STEP_WAIT;
		if ((*rc = meta(s, end, err)))
			return STEP_ERR;
		adv(s, end - s->pos + (nl ? 1 : 0));
		return STEP_ON;
	}
	if (c == '-' || c == '/') {
		NEED(1);
		if (c == '-' && AT(1) == '-') {
			s->state = S_LINE_COMMENT;
			s->quote_line = s->line;
			adv(s, 2);
			return STEP_ON;
		}
		if (c == '/' && AT(1) == '*') {
			s->state = S_BLOCK_COMMENT;
			s->quote_line = s->line;
			s->depth = 1;
			adv(s, 2);
			return STEP_ON;
		}
	}
	if (s->start < 0) {
		if (c == ';') {     /* an empty statement */
			adv(s, 1);
			return STEP_ON;
		}
		s->start = (long)s->pos;
		s->stmt_line = s->line;
		s->paren = 0;
	}
	*done = 0;
	return STEP_ON;
}

/* A '$' that may open a dollar-quoted string: *done 1 when it did. */
static enum step normal_dollar(g3_sqlscript *s, size_t len, int final, int *done)
{
	size_t j = s->pos + 1;

	*done = 0;
	while (j < len && tag_char((unsigned char)s->buf.data[j], j == s->pos + 1))
		j++;
	if (j >= len && !final)
		return STEP_WAIT;
	if (j < len && s->buf.data[j] == '$' && j + 1 - s->pos <= TAG_MAX) {
		s->taglen = j + 1 - s->pos;
		memcpy(s->tag, s->buf.data + s->pos, s->taglen);
		s->state = S_DOLLAR;
		s->quote_line = s->line;
		adv(s, s->taglen);
		*done = 1;
	}
	return STEP_ON;
}

static enum step step_normal(g3_sqlscript *s, size_t len, unsigned char c, int final,
			     g3_rc *rc, g3_err *err)
{
	enum step st;
	int done;

	if ((st = normal_outside(s, len, c, final, &done, rc, err)) != STEP_ON || done)
		return st;
	if (c == '\'') {
		long b = (long)s->pos;
		int e = b - 1 >= s->start &&
			(s->buf.data[b - 1] == 'E' || s->buf.data[b - 1] == 'e') &&
			(b - 2 < s->start || !ident_char((unsigned char)s->buf.data[b - 2]));

		s->state = e || !s->std_strings ? S_ESTRING : S_SQUOTE;
		s->quote_line = s->line;
	} else if (c == '"') {
		s->state = S_DQUOTE;
		s->quote_line = s->line;
	} else if (c == '$' && ((long)s->pos == s->start ||
		   !ident_char((unsigned char)s->buf.data[s->pos - 1]))) {
		if ((st = normal_dollar(s, len, final, &done)) != STEP_ON || done)
			return st;
	} else if (c == '(') {
		s->paren++;
	} else if (c == ')') {
		if (s->paren > 0)
			s->paren--;
	} else if (c == ';' && s->paren == 0) {
		adv(s, 1);
		if ((*rc = emit(s, err)))
			return STEP_ERR;
		return STEP_ON;
	} else if (c == '\\') {
		FAIL(g3_err_set(err, G3_USAGE,
				"line %ld: a backslash outside a string inside a statement "
				"(psql meta-commands within statements are not supported)",
				s->line));
	}
	adv(s, 1);
	return STEP_ON;
}

/* Inside a quoted string, a dollar-quoted string or a comment. */
static enum step step_quoted(g3_sqlscript *s, size_t len, unsigned char c, int final)
{
	switch (s->state) {
	case S_SQUOTE:
	case S_ESTRING:
		if (c == '\\' && s->state == S_ESTRING) {
			NEED(1);
			adv(s, s->pos + 1 < len ? 2 : 1);
			return STEP_ON;
		}
		if (c == '\'') {
			NEED(1);
			if (AT(1) == '\'') {
				adv(s, 2);
				return STEP_ON;
			}
			s->state = S_NORMAL;
		}
		break;
	case S_DQUOTE:
		if (c == '"')
			s->state = S_NORMAL;
		break;
	case S_DOLLAR:
		if (c == '$') {
			NEED(s->taglen - 1);
			if (s->pos + s->taglen <= len &&
			    !memcmp(s->buf.data + s->pos, s->tag, s->taglen)) {
				s->state = S_NORMAL;
				adv(s, s->taglen);
				return STEP_ON;
			}
		}
		break;
	case S_LINE_COMMENT:
		if (c == '\n')
			s->state = S_NORMAL;
		break;
	case S_BLOCK_COMMENT:
		if (c == '/' || c == '*') {
			NEED(1);
			if (c == '/' && AT(1) == '*') {
				s->depth++;
				adv(s, 2);
				return STEP_ON;
			}
			if (c == '*' && AT(1) == '/') {
				adv(s, 2);
				if (--s->depth == 0)
					s->state = S_NORMAL;
				return STEP_ON;
			}
		}
		break;
	case S_NORMAL:
		break;
	}
	adv(s, 1);
	return STEP_ON;
}

static g3_rc scan(g3_sqlscript *s, int final, g3_err *err)
{
	g3_rc rc = G3_OK;

	while (!s->in_copy && s->pos < s->buf.len) {
		size_t len = s->buf.len;
		unsigned char c = (unsigned char)s->buf.data[s->pos];
		enum step st;

		/* statements go to the server as C strings: a NUL would cut one
		 * short without a word */
		if (!c)
			return g3_err_set(err, G3_USAGE, "line %ld: a NUL byte in the script", s->line);
		st = s->state == S_NORMAL ? step_normal(s, len, c, final, &rc, err)
					  : step_quoted(s, len, c, final);
		if (st == STEP_WAIT)
			return G3_OK;
		if (st == STEP_ERR)
			return rc;
	}
	return G3_OK;
}

/* Drops consumed bytes before the current statement. */
static void compact(g3_sqlscript *s)
{
	size_t keep_from = s->start >= 0 ? (size_t)s->start : s->pos;

	if (!keep_from)
		return;
	g3_buf_consume(&s->buf, keep_from);
	s->pos -= keep_from;
	if (s->start >= 0)
		s->start = 0;
}

/* 1: "\.\n" or "\.\r\n" (*termlen set), 0: not a terminator, -1: a
 * prefix of one (more bytes needed). At the end of input "\." ends too. */
static int term_check(const char *b, size_t n, int final, size_t *termlen)
{
	static const char t1[] = "\\.\n", t2[] = "\\.\r\n";

	if (n >= 3 && !memcmp(b, t1, 3)) {
		*termlen = 3;
		return 1;
	}
	if (n >= 4 && !memcmp(b, t2, 4)) {
		*termlen = 4;
		return 1;
	}
	if (final && (n == 2 || (n == 3 && b[2] == '\r')) && !memcmp(b, t1, 2)) {
		*termlen = n;
		return 1;
	}
	if (!final && ((n < 3 && !memcmp(b, t1, n)) || (n < 4 && !memcmp(b, t2, n))))
		return -1;
	return 0;
}

static g3_rc copy_done(g3_sqlscript *s, g3_err *err)
{
	s->in_copy = 0;
	s->line++;
	return s->cb->copy_end ? s->cb->copy_end(s->ctx, s->copy_lines, err) : G3_OK;
}

static g3_rc put(g3_sqlscript *s, const char *p, size_t n, g3_err *err)
{
	if (!n || !s->cb->copy_data)
		return G3_OK;
	return s->cb->copy_data(s->ctx, p, n, err);
}

/* Consumes COPY data from p; *used is how much (all of it unless the
 * block ended). */
static g3_rc copy_feed(g3_sqlscript *s, const char *p, size_t n, int final,
		       size_t *used, g3_err *err)
{
	size_t i = 0, run, tl = 0;
	g3_rc rc;

	*used = 0;
	if (s->copy_skip_eol) {
		const char *nl = memchr(p, '\n', n);
		size_t end = nl ? (size_t)(nl - p) : n;

		for (size_t k = 0; k < end; k++)
			if (!isspace((unsigned char)p[k]))
				return g3_err_set(err, G3_USAGE,
						  "line %ld: text after a COPY ... FROM stdin statement",
						  s->line);
		if (!nl) {
			*used = n;
			return G3_OK;
		}
		i = end + 1;
		s->line++;
		s->copy_skip_eol = 0;
	}
	if (s->ncarry) {
		char tmp[8];
		size_t k = s->ncarry, take = 0;
		int r;

		memcpy(tmp, s->carry, k);
		while (k < 4 && i + take < n)
			tmp[k++] = p[i + take++];
		r = term_check(tmp, k, final, &tl);
		if (r < 0) {
			memcpy(s->carry, tmp, k);
			s->ncarry = k;
			*used = n;
			return G3_OK;
		}
		if (r > 0) {
			*used = i + (tl - s->ncarry);
			s->ncarry = 0;
			return copy_done(s, err);
		}
		if ((rc = put(s, s->carry, s->ncarry, err)))
			return rc;
		s->ncarry = 0;
		s->copy_bol = 0;
	}
	run = i;
	while (i < n) {
		const char *nl;

		if (s->copy_bol) {
			if (p[i] == '\\') {
				int r = term_check(p + i, n - i, final, &tl);

				if (r < 0) {
					if ((rc = put(s, p + run, i - run, err)))
						return rc;
					memcpy(s->carry, p + i, n - i);
					s->ncarry = n - i;
					*used = n;
					return G3_OK;
				}
				if (r > 0) {
					if ((rc = put(s, p + run, i - run, err)))
						return rc;
					*used = i + tl;
					return copy_done(s, err);
				}
			}
			s->copy_bol = 0;
		}
		nl = memchr(p + i, '\n', n - i);
		if (!nl) {
			i = n;
			break;
		}
		i = (size_t)(nl - p) + 1;
		s->copy_lines++;
		s->line++;
		s->copy_bol = 1;
	}
	*used = n;
	return put(s, p + run, n - run, err);
}

static g3_rc feed(g3_sqlscript *s, const char *data, size_t len, int final,
		  g3_err *err)
{
	g3_buf tmp = G3_BUF_INIT;
	const char *p = data;
	size_t n = len;
	g3_rc rc = G3_OK;

	for (;;) {
		if (s->in_copy) {
			size_t used;

			if ((rc = copy_feed(s, p, n, final, &used, err)))
				break;
			p += used;
			n -= used;
			if (s->in_copy)
				break;
			continue;
		}
		if (n) {
			g3_buf_add(&s->buf, p, n);
			n = 0;
		}
		if ((rc = scan(s, final, err)))
			break;
		if (!s->in_copy) {
			compact(s);
			break;
		}
		/* what followed the COPY statement is its data */
		g3_buf_reset(&tmp);
		g3_buf_add(&tmp, s->buf.data + s->pos, s->buf.len - s->pos);
		g3_buf_reset(&s->buf);
		s->pos = 0;
		s->start = -1;
		p = tmp.data;
		n = tmp.len;
	}
	g3_buf_release(&tmp);
	return rc;
}

g3_rc g3_sqlscript_feed(g3_sqlscript *s, const char *data, size_t len,
			g3_err *err)
{
	return feed(s, data, len, 0, err);
}

g3_rc g3_sqlscript_finish(g3_sqlscript *s, g3_err *err)
{
	static const char *const what[] = {
		[S_SQUOTE] = "quoted string", [S_ESTRING] = "quoted string",
		[S_DQUOTE] = "quoted identifier", [S_DOLLAR] = "dollar-quoted string",
		[S_BLOCK_COMMENT] = "comment",
	};
	g3_rc rc;

	if ((rc = feed(s, "", 0, 1, err)))
		return rc;
	if (s->in_copy)
		return g3_err_set(err, G3_USAGE,
				  "line %ld: unexpected end of input in the data of the COPY "
				  "statement at line %ld (no \"\\.\" line)",
				  s->line, s->copy_line0);
	if (s->state == S_LINE_COMMENT)
		s->state = S_NORMAL;
	if (s->state != S_NORMAL)
		return g3_err_set(err, G3_USAGE,
				  "line %ld: unexpected end of input in a %s that began at line %ld",
				  s->line, what[s->state], s->quote_line);
	if (s->start >= 0) {
		g3_buf_addch(&s->buf, '\0');
		s->buf.len--;
		return emit(s, err);
	}
	return G3_OK;
}
