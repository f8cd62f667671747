/*
 * Sink dispatch and the local kinds (a file, standard output). The S3
 * multipart kind lives in s3.c.
 */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3.h"
#include "strbuf.h"

struct fd_sink {
	int fd;
	char *path;      /* final path; NULL for stdout */
	char *tmp;       /* "<path>.partial" */
};

static g3_rc fd_write(g3_sink *sink, const void *data, size_t len, g3_err *err)
{
	struct fd_sink *s = sink->impl;
	const char *p = data;

	while (len) {
		ssize_t n = write(s->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", sink->name,
					  strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return G3_OK;
}

static void fd_release(g3_sink *sink, int remove_tmp)
{
	struct fd_sink *s = sink->impl;

	if (s->path && s->fd >= 0)
		close(s->fd);
	if (remove_tmp && s->tmp)
		unlink(s->tmp);
	free(s->path);
	free(s->tmp);
	free(s);
	sink->impl = NULL;
}

static g3_rc fd_commit(g3_sink *sink, g3_err *err)
{
	struct fd_sink *s = sink->impl;
	g3_rc rc = G3_OK;

	if (!s->path) {
		if (fsync(s->fd) && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
			rc = g3_err_set(err, G3_FAIL, "could not flush \"%s\": %s", sink->name,
					strerror(errno));
		fd_release(sink, 0);
		return rc;
	}
	if (fsync(s->fd) || close(s->fd)) {
		rc = g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", s->tmp, strerror(errno));
		s->fd = -1;
		fd_release(sink, 1);
		return rc;
	}
	s->fd = -1;
	if (rename(s->tmp, s->path)) {
		rc = g3_err_set(err, G3_FAIL, "could not rename \"%s\" to \"%s\": %s", s->tmp,
				s->path, strerror(errno));
		fd_release(sink, 1);
		return rc;
	}
	fd_release(sink, 0);
	return G3_OK;
}

static void fd_abort(g3_sink *sink)
{
	fd_release(sink, 1);
}

static const struct g3_sink_ops fd_ops = { fd_write, fd_commit, fd_abort };

g3_sink *g3_sink_new(const struct g3_sink_ops *ops, const char *name, void *impl)
{
	g3_sink *sink = g3_xcalloc(1, sizeof(*sink));

	sink->ops = ops;
	sink->name = g3_xstrdup(name);
	sink->impl = impl;
	return sink;
}

g3_rc g3_sink_open(const char *spec, g3_sink **out, g3_err *err)
{
	struct fd_sink *s;
	g3_buf tmp = G3_BUF_INIT;
	int fd;

	*out = NULL;
	if (!strncmp(spec, "s3://", 5))
		return g3_s3_sink_open(NULL, spec, out, err);
	if (!strcmp(spec, "-")) {
		s = g3_xcalloc(1, sizeof(*s));
		s->fd = STDOUT_FILENO;
		*out = g3_sink_new(&fd_ops, "standard output", s);
		return G3_OK;
	}
	if (strstr(spec, "://"))
		return g3_err_set(err, G3_USAGE, "unsupported output \"%s\"", spec);
	g3_buf_addf(&tmp, "%s.partial", spec);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		g3_err_set(err, G3_USAGE, "could not create \"%s\": %s", tmp.data, strerror(errno));
		g3_buf_release(&tmp);
		return G3_USAGE;
	}
	s = g3_xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->path = g3_xstrdup(spec);
	s->tmp = g3_buf_detach(&tmp);
	*out = g3_sink_new(&fd_ops, spec, s);
	return G3_OK;
}

void g3_sink_free(g3_sink *sink)
{
	if (!sink)
		return;
	if (sink->impl && sink->ops->abort)
		sink->ops->abort(sink);
	free(sink->name);
	free(sink);
}
