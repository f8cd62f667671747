#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "gen3db: out of memory allocating %zu bytes\n", n);
	abort();
}

void *g3_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die_oom(n);
	return p;
}

void *g3_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die_oom(n * size);
	return p;
}

void *g3_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die_oom(n);
	return q;
}

char *g3_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = g3_xmalloc(n);

	memcpy(p, s, n);
	return p;
}

void g3_buf_init(g3_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void g3_buf_release(g3_buf *b)
{
	free(b->data);
	g3_buf_init(b);
}

void g3_buf_reset(g3_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void g3_buf_grow(g3_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t cap;

	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap * 2;
	b->data = g3_xrealloc(b->data, cap);
	b->cap = cap;
	b->data[b->len] = '\0';   /* terminated even before the first byte */
}

void g3_buf_add(g3_buf *b, const void *data, size_t len)
{
	g3_buf_grow(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void g3_buf_adds(g3_buf *b, const char *s)
{
	g3_buf_add(b, s, strlen(s));
}

void g3_buf_addch(g3_buf *b, char c)
{
	g3_buf_add(b, &c, 1);
}

void g3_buf_vaddf(g3_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	g3_buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void g3_buf_addf(g3_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g3_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void g3_buf_consume(g3_buf *b, size_t n)
{
	if (n >= b->len) {
		g3_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *g3_buf_detach(g3_buf *b)
{
	char *p = b->data ? b->data : g3_xstrdup("");

	g3_buf_init(b);
	return p;
}

long long g3_count_newlines(const char *p, size_t len)
{
	const char *end = p + len;
	long long n = 0;

	for (; p < end && (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	return n;
}

const char *g3_plural(long long n, const char *one, const char *many)
{
	return n == 1 || n == -1 ? one : many;
}

void g3_first_line(char *buf, size_t size, const char *s)
{
	size_t n = strcspn(s, "\n");

	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
}

void g3_str_move(char **dst, char **src)
{
	if (!*src)
		return;
	free(*dst);
	*dst = *src;
	*src = NULL;
}

void g3_free_all(void *const *ptrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ptrs[i]);
}
