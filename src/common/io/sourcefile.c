/*
 * g3_source behind a FILE * (fopencookie). See sourcefile.h.
 */
#include "sourcefile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../base/log.h"
#include "source.h"
#include "../base/strbuf.h"

struct cookie {
	g3_source *src;
	g3_err err;          /* the last read error */
};

int g3_source_is_url(const char *spec)
{
	const char *p = strstr(spec, "://");

	if (!p || p == spec)
		return 0;
	for (const char *q = spec; q < p; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '+'))
			return 0;
	return 1;
}

static ssize_t cookie_read(void *arg, char *buf, size_t len)
{
	struct cookie *c = arg;
	ssize_t n = g3_source_read(c->src, buf, len, &c->err);

	if (n < 0) {
		g3_log_err(&c->err);
		errno = EIO;
		return -1;
	}
	return n;
}

static int cookie_close(void *arg)
{
	struct cookie *c = arg;

	g3_source_close(c->src);
	free(c);
	return 0;
}

FILE *g3_source_fopen(const char *spec, g3_err *err)
{
	static const cookie_io_functions_t io = { cookie_read, NULL, NULL, cookie_close };
	struct cookie *c;
	FILE *f;

	if (!g3_source_is_url(spec)) {
		f = fopen(spec, "rb");
		if (!f)
			g3_err_set(err, G3_USAGE, "could not open \"%s\": %s", spec, strerror(errno));
		return f;
	}
	c = g3_xcalloc(1, sizeof(*c));
	g3_err_init(&c->err);
	if (g3_source_open(spec, &c->src, err)) {
		free(c);
		return NULL;
	}
	f = fopencookie(c, "rb", io);
	if (!f) {
		g3_source_close(c->src);
		free(c);
		g3_err_set(err, G3_FAIL, "could not open a stream on \"%s\": %s", spec,
			   strerror(errno));
		return NULL;
	}
	return f;
}
