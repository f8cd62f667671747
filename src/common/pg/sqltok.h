/*
 * Tokens of SQL statement text: enough to recognise a statement's kind and
 * the names in it, not a parser. Blanks and comments ("--" to the end of
 * the line, C-style comments) are skipped between tokens.
 *
 * Tokens: 'w' a word (lowercased; letters, digits, '_', '$' and bytes of
 * 0x80 and up), 'q' a quoted identifier (as written, "" undoubled), 's' a
 * string literal (its content, '' undoubled), else the one punctuation
 * character itself; 0 at the end. Text longer than the out buffer is cut
 * (out is always NUL-terminated).
 */
#ifndef G3_SQLTOK_H
#define G3_SQLTOK_H

#include <stddef.h>

/* The longest word g3_sql_word_is compares (longer ones are cut). */
#define G3_SQL_WORD_MAX 256

/* p past blanks and comments. */
const char *g3_sql_skip_space(const char *p);
/* The next token at *pp into out; *pp moves past it. */
int g3_sql_tok(const char **pp, char *out, size_t outsz);
/* 1 (and *pp moved past it) when the next token is the word w (lower
 * case); else 0 and *pp unchanged. */
int g3_sql_word_is(const char **pp, const char *w);

#endif
