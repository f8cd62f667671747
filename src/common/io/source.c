#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/progress.h"
#include "../base/strbuf.h"

struct fd_source {
	int fd;
	int owned;
};

static ssize_t fd_read(g3_source *src, void *buf, size_t len, g3_err *err)
{
	struct fd_source *s = src->impl;

	for (;;) {
		ssize_t n = read(s->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		g3_err_set(err, G3_FAIL, "could not read \"%s\": %s", src->name,
			   strerror(errno));
		return -1;
	}
}

static void fd_close(g3_source *src)
{
	struct fd_source *s = src->impl;

	if (s->owned)
		close(s->fd);
	free(s);
}

static const struct g3_source_ops fd_ops = { fd_read, fd_close };

g3_source *g3_source_new(const struct g3_source_ops *ops, const char *name,
			 int64_t size, void *impl)
{
	g3_source *src = g3_xcalloc(1, sizeof(*src));

	src->ops = ops;
	src->name = g3_xstrdup(name);
	src->size = size;
	src->impl = impl;
	return src;
}

g3_rc g3_file_source_open(const char *spec, g3_source **out, g3_err *err)
{
	struct fd_source *s;
	struct stat st;
	int fd;

	*out = NULL;
	if (!strcmp(spec, "-")) {
		s = g3_xcalloc(1, sizeof(*s));
		s->fd = STDIN_FILENO;
		*out = g3_source_new(&fd_ops, "standard input", -1, s);
		return G3_OK;
	}
	fd = open(spec, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return g3_err_set(err, G3_USAGE, "could not open \"%s\": %s", spec,
				  strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return g3_err_set(err, G3_USAGE, "\"%s\" is a directory", spec);
	}
	s = g3_xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->owned = 1;
	*out = g3_source_new(&fd_ops, spec, S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1, s);
	return G3_OK;
}

ssize_t g3_source_read(g3_source *src, void *buf, size_t len, g3_err *err)
{
	ssize_t n = src->ops->read(src, buf, len, err);

	if (n > 0)
		src->consumed += (uint64_t)n;
	return n;
}

void g3_source_close(g3_source *src)
{
	if (!src)
		return;
	if (src->ops->close)
		src->ops->close(src);
	free(src->name);
	free(src);
}

void g3_source_report_progress(g3_source *src)
{
	if (src && src->consumed > src->reported) {
		g3_progress_add_bytes((int64_t)(src->consumed - src->reported));
		src->reported = src->consumed;
	}
}
