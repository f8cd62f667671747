#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/strbuf.h"

struct file_sink {
	int fd;
	int owned;       /* 0 for stdout */
	char *path;      /* final name; NULL for stdout */
	char *partial;   /* <path>.partial */
};

static g3_rc fd_write(g3_sink *sink, const void *buf, size_t len, g3_err *err)
{
	struct file_sink *s = sink->impl;
	const char *p = buf;

	while (len) {
		ssize_t n = write(s->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return g3_err_set(err, G3_FAIL, "could not write \"%s\": %s",
					  sink->name, n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	return G3_OK;
}

static g3_rc fsync_dir(const char *path, g3_err *err)
{
	char *copy = g3_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	g3_rc rc = G3_OK;

	if (fd < 0 || fsync(fd) < 0)
		rc = g3_err_set(err, G3_FAIL, "could not sync the directory of \"%s\": %s",
				path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

static g3_rc file_commit(g3_sink *sink, g3_err *err)
{
	struct file_sink *s = sink->impl;
	int fd = s->fd;

	s->fd = -1;
	if (fsync(fd) < 0) {
		g3_err_set(err, G3_FAIL, "could not sync \"%s\": %s", s->partial, strerror(errno));
		close(fd);
		unlink(s->partial);
		return G3_FAIL;
	}
	if (close(fd) < 0) {
		g3_err_set(err, G3_FAIL, "could not close \"%s\": %s", s->partial, strerror(errno));
		unlink(s->partial);
		return G3_FAIL;
	}
	if (rename(s->partial, s->path) < 0) {
		g3_err_set(err, G3_FAIL, "could not rename \"%s\" to \"%s\": %s",
			   s->partial, s->path, strerror(errno));
		unlink(s->partial);
		return G3_FAIL;
	}
	return fsync_dir(s->path, err);
}

static void file_abort(g3_sink *sink)
{
	struct file_sink *s = sink->impl;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	unlink(s->partial);
}

static void file_close(g3_sink *sink)
{
	struct file_sink *s = sink->impl;

	if (s->fd >= 0 && s->owned)
		close(s->fd);
	free(s->path);
	free(s->partial);
	free(s);
}

static g3_rc stdout_commit(g3_sink *sink, g3_err *err)
{
	struct file_sink *s = sink->impl;

	/* a pipe cannot be synced; a file redirected to stdout can */
	if (fsync(s->fd) < 0 && errno != EINVAL && errno != EROFS)
		return g3_err_set(err, G3_FAIL, "could not sync standard output: %s",
				  strerror(errno));
	return G3_OK;
}

static void stdout_abort(g3_sink *sink)
{
	(void)sink; /* bytes already written cannot be taken back */
}

static const struct g3_sink_ops file_ops = { fd_write, file_commit, file_abort, file_close };
static const struct g3_sink_ops stdout_ops = { fd_write, stdout_commit, stdout_abort, file_close };

g3_sink *g3_sink_new(const struct g3_sink_ops *ops, const char *name, void *impl)
{
	g3_sink *sink = g3_xcalloc(1, sizeof(*sink));

	sink->ops = ops;
	sink->name = g3_xstrdup(name);
	sink->impl = impl;
	return sink;
}

g3_rc g3_file_sink_open(const char *spec, g3_sink **out, g3_err *err)
{
	struct file_sink *s;
	g3_buf partial = G3_BUF_INIT;
	struct stat st;
	int fd;

	*out = NULL;
	if (!strcmp(spec, "-")) {
		if (isatty(STDOUT_FILENO))
			return g3_err_set(err, G3_USAGE,
					  "refusing to write a snapshot to a terminal");
		s = g3_xcalloc(1, sizeof(*s));
		s->fd = STDOUT_FILENO;
		*out = g3_sink_new(&stdout_ops, "standard output", s);
		return G3_OK;
	}
	if (!*spec)
		return g3_err_set(err, G3_USAGE, "output path is empty");
	if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode))
		return g3_err_set(err, G3_USAGE, "output \"%s\" is a directory", spec);
	g3_buf_addf(&partial, "%s.partial", spec);
	fd = open(partial.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		g3_err_set(err, G3_USAGE, "could not create \"%s\": %s", partial.data,
			   strerror(errno));
		g3_buf_release(&partial);
		return G3_USAGE;
	}
	s = g3_xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->owned = 1;
	s->path = g3_xstrdup(spec);
	s->partial = g3_buf_detach(&partial);
	*out = g3_sink_new(&file_ops, spec, s);
	(*out)->temp_path = s->partial;
	return G3_OK;
}

g3_rc g3_sink_write(g3_sink *sink, const void *buf, size_t len, g3_err *err)
{
	g3_rc rc;

	if (sink->done)
		return g3_err_set(err, G3_FAIL, "write to \"%s\" after its end", sink->name);
	rc = sink->ops->write(sink, buf, len, err);
	if (!rc)
		sink->written += len;
	return rc;
}

g3_rc g3_sink_commit(g3_sink *sink, g3_err *err)
{
	if (sink->done)
		return g3_err_set(err, G3_FAIL, "\"%s\" already ended", sink->name);
	sink->done = 1;
	return sink->ops->commit(sink, err);
}

void g3_sink_abort(g3_sink *sink)
{
	if (!sink || sink->done)
		return;
	sink->done = 1;
	sink->ops->abort(sink);
}

void g3_sink_close(g3_sink *sink)
{
	if (!sink)
		return;
	g3_sink_abort(sink);
	if (sink->ops->close)
		sink->ops->close(sink);
	free(sink->name);
	free(sink);
}
