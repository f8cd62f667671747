/*
 * The job trace: see trace.h. Each record is formatted outside the lock
 * and written with write(2) under it, so a record costs one small
 * allocation and one system call, and nothing per row.
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct g3_trace {
	int fd;
	char *path;
	double t0;             /* g3_clock_now() at open */
	pthread_mutex_t mu;
	int write_errno;        /* the first failed write's errno, or 0 */
};

g3_rc g3_trace_open(const char *path, g3_trace **out, g3_err *err)
{
	g3_trace *t;
	struct stat st;
	int fd;

	*out = NULL;
	if (!*path)
		return g3_err_set(err, G3_USAGE, "trace path is empty");
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return g3_err_set(err, G3_USAGE, "trace \"%s\" is %s, not a regular file", path,
				  S_ISLNK(st.st_mode) ? "a symbolic link" :
				  S_ISDIR(st.st_mode) ? "a directory" : "a special file");
	/* O_NOFOLLOW: a link put there since the check is refused too */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return g3_err_set(err, G3_USAGE, "could not create trace \"%s\": %s", path,
				  strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return g3_err_set(err, G3_USAGE, "trace \"%s\" is not a regular file", path);
	}
	t = g3_xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->path = g3_xstrdup(path);
	t->t0 = g3_clock_now();
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return G3_OK;
}

double g3_trace_now(const g3_trace *t)
{
	return t ? g3_clock_now() - t->t0 : 0;
}

static void add_str(json_object *o, const char *key, const char *val)
{
	if (val)
		json_object_object_add(o, key, json_object_new_string(val));
}

/* Seconds with microseconds, not %.17g's noise. */
static void add_seconds(json_object *o, const char *key, double s)
{
	char buf[64];

	if (s < 0)
		s = 0;
	snprintf(buf, sizeof(buf), "%.6f", s);
	json_object_object_add(o, key, json_object_new_double_s(s, buf));
}

void g3_trace_format(const g3_trace_rec *r, g3_buf *out)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "conn", json_object_new_int(r->conn));
	add_str(o, "job", r->job);
	add_str(o, "database", r->database);
	add_str(o, "object", r->object);
	add_str(o, "table", r->table);
	add_seconds(o, "start", r->start);
	add_seconds(o, "end", r->end < r->start ? r->start : r->end);
	if (r->rows >= 0)
		json_object_object_add(o, "rows", json_object_new_int64(r->rows));
	if (r->bytes >= 0)
		json_object_object_add(o, "bytes", json_object_new_int64(r->bytes));
	if (r->statements > 0)
		json_object_object_add(o, "statements", json_object_new_int64(r->statements));
	json_object_object_add(o, "ok", json_object_new_boolean(r->ok));
	if (!r->ok)
		add_str(o, "error", r->error && *r->error ? r->error : "failed");
	/* PLAIN: no newline inside a record; json-c escapes control
	 * characters in names */
	g3_buf_adds(out, json_object_to_json_string_ext(
			  o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	g3_buf_addch(out, '\n');
	json_object_put(o);
}

void g3_trace_record(g3_trace *t, const g3_trace_rec *r)
{
	g3_buf line = G3_BUF_INIT;
	size_t off = 0;

	if (!t)
		return;
	g3_trace_format(r, &line);
	pthread_mutex_lock(&t->mu);
	while (!t->write_errno && off < line.len) {
		ssize_t n = write(t->fd, line.data + off, line.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			t->write_errno = n < 0 ? errno : EIO;
		else
			off += (size_t)n;
	}
	pthread_mutex_unlock(&t->mu);
	g3_buf_release(&line);
}

g3_rc g3_trace_close(g3_trace *t, g3_err *err)
{
	g3_rc rc = G3_OK;

	if (!t)
		return G3_OK;
	if (close(t->fd) && !t->write_errno)
		t->write_errno = errno;
	if (t->write_errno)
		rc = g3_err_set(err, G3_FAIL, "could not write trace \"%s\": %s", t->path,
				strerror(t->write_errno));
	pthread_mutex_destroy(&t->mu);
	free(t->path);
	free(t);
	return rc;
}
