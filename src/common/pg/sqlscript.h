/*
 * A streaming splitter of psql scripts (plain pg_dump output).
 *
 * Bytes go in with g3_sqlscript_feed in pieces of any size (one byte at a
 * time works); complete statements, COPY data and meta-commands come out
 * through callbacks, in file order, on the caller's thread.
 *
 * What ends a statement follows psql (src/fe_utils/psqlscan.l): a `;`
 * outside parentheses, single-quoted strings (E'' strings with backslash
 * escapes; plain '' strings too when standard_conforming_strings is off,
 * which the splitter follows from SET statements it sees), double-quoted
 * identifiers, dollar quotes ($$ and $tag$), `--` line comments and nested
 * `/ * * /` block comments. Whitespace and comments between statements are
 * dropped; a statement keeps its own comments.
 *
 * `COPY ... FROM stdin` statements are followed by data lines up to a line
 * `\.`: the data is handed to copy_data in chunks as it arrives (pointers
 * into the caller's buffer, valid only during the call), never buffered
 * whole. Statement text is held in a g3_buf (a function body may be large).
 *
 * psql meta-commands at the start of a statement: `\restrict KEY` and
 * `\unrestrict KEY` (pg_dump 15.14+), `\connect` / `\c` and `\encoding`
 * (pg_dump --create) go to the meta callback; any other one is an error
 * naming the line and the command.
 */
#ifndef G3_SQLSCRIPT_H
#define G3_SQLSCRIPT_H

#include <stddef.h>

#include "../base/err.h"

typedef struct g3_sqlstmt {
	const char *sql;        /* NUL-terminated, ends with ';' when it had one */
	size_t len;
	long line;              /* line of its first character (1-based) */
	int copy_in;            /* COPY ... FROM stdin: copy_data/copy_end follow */
} g3_sqlstmt;

struct g3_sqlscript_cb {
	g3_rc (*statement)(void *ctx, const g3_sqlstmt *st, g3_err *err);
	/* a chunk of COPY data: whole lines or parts of lines, in order */
	g3_rc (*copy_data)(void *ctx, const char *data, size_t len, g3_err *err);
	/* the `\.` line was reached; lines = data lines seen */
	g3_rc (*copy_end)(void *ctx, long lines, g3_err *err);
	/* name without the backslash ("restrict", "connect", "c", "encoding"), arg trimmed */
	g3_rc (*meta)(void *ctx, const char *name, const char *arg, long line,
		      g3_err *err);
};

typedef struct g3_sqlscript g3_sqlscript;

g3_sqlscript *g3_sqlscript_new(const struct g3_sqlscript_cb *cb, void *ctx);
void g3_sqlscript_free(g3_sqlscript *s);

/* Feeds bytes; callbacks run before it returns. A callback's failure (or a
 * syntax error) is returned; the splitter must not be fed after a failure. */
g3_rc g3_sqlscript_feed(g3_sqlscript *s, const char *data, size_t len,
			g3_err *err);
/* End of input: emits a last statement without ';', fails on an open
 * quote, comment or COPY block. */
g3_rc g3_sqlscript_finish(g3_sqlscript *s, g3_err *err);

/* The current line number (for messages from callbacks). */
long g3_sqlscript_line(const g3_sqlscript *s);

#endif
