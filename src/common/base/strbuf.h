/*
 * A growable, always NUL-terminated byte buffer (after git's strbuf).
 * Allocation failure aborts: gen3db cannot continue without memory and
 * every caller would otherwise need the same check.
 */
#ifndef G3_STRBUF_H
#define G3_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct g3_buf {
	char *data;
	size_t len;
	size_t cap;
} g3_buf;

#define G3_BUF_INIT { NULL, 0, 0 }

void g3_buf_init(g3_buf *b);
void g3_buf_release(g3_buf *b);
void g3_buf_reset(g3_buf *b);
void g3_buf_grow(g3_buf *b, size_t extra);
void g3_buf_add(g3_buf *b, const void *data, size_t len);
void g3_buf_adds(g3_buf *b, const char *s);
void g3_buf_addch(g3_buf *b, char c);
void g3_buf_addf(g3_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void g3_buf_vaddf(g3_buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void g3_buf_consume(g3_buf *b, size_t n);
/* Takes ownership of the data; the buffer is left empty. */
char *g3_buf_detach(g3_buf *b);

/* free()s each of the n pointers of ptrs (NULL ones too): the release
 * functions' lists of owned strings, G3_FREE_ALL(a->x, a->y, ...). */
void g3_free_all(void *const *ptrs, size_t n);
#define G3_FREE_ALL(...) \
	g3_free_all((void *const[]){ __VA_ARGS__ }, \
		    sizeof((void *const[]){ __VA_ARGS__ }) / sizeof(void *))

/* Moves the string *src (when not NULL) into *dst, freeing what *dst held;
 * *src becomes NULL. Nothing changes when *src is NULL. */
void g3_str_move(char **dst, char **src);

/* The noun that goes with a count, for every "N things" message:
 * g3_plural(n, "chunk", "chunks") is "chunk" for 1 (and -1), else "chunks". */
const char *g3_plural(long long n, const char *one, const char *many);

/* The newlines in p[0..len): a COPY text stream's rows. */
long long g3_count_newlines(const char *p, size_t len);

/* xmalloc-style helpers that abort on allocation failure. */
/* Copies s's first line (up to '\n' or the end) into buf, cut to size - 1
 * bytes; buf is always NUL-terminated (size > 0). */
void g3_first_line(char *buf, size_t size, const char *s);

void *g3_xmalloc(size_t n);
void *g3_xcalloc(size_t n, size_t size);
void *g3_xrealloc(void *p, size_t n);
char *g3_xstrdup(const char *s);

#endif
