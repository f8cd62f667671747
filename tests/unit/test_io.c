/*
 * Sources and sinks: the scheme table's dispatch (file, "-", http(s), s3,
 * unknown schemes) and the file sink's commit and abort.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io/http.h"
#include "common/io/sink.h"
#include "common/io/source.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/g3-io-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void test_file_source(void **state)
{
	char path[128], buf[16];
	g3_source *src = NULL;
	g3_err err;
	FILE *f;
	ssize_t n;

	(void)state;
	g3_err_init(&err);
	path_of(path, sizeof(path), "in.txt");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("hello", f);
	fclose(f);
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_string_equal(src->name, path);
	assert_int_equal(src->size, 5);
	n = g3_source_read(src, buf, sizeof(buf), &err);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(g3_source_read(src, buf, sizeof(buf), &err), 0);
	assert_int_equal(src->consumed, 5);
	g3_source_close(src);
	unlink(path);

	/* a directory and a missing file are bad input */
	assert_int_equal(g3_source_open(dir, &src, &err), G3_USAGE);
	assert_null(src);
	path_of(path, sizeof(path), "missing");
	assert_int_equal(g3_source_open(path, &src, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "could not open"));
}

static void test_stdin_source(void **state)
{
	g3_source *src = NULL;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_source_open("-", &src, &err), G3_OK);
	assert_string_equal(src->name, "standard input");
	assert_int_equal(src->size, -1);
	g3_source_close(src);
}

static void test_source_schemes(void **state)
{
	g3_http_opts hopts;
	g3_source *src = NULL;
	g3_err err;

	(void)state;
	/* unknown schemes: refused, with credentials kept out of the message */
	g3_err_init(&err);
	assert_int_equal(g3_source_open("ftp://u:secret@h/x", &src, &err), G3_USAGE);
	assert_null(src);
	assert_string_equal(err.msg, "unsupported source \"ftp://h/x\"");
	assert_non_null(strstr(err.hint, "http(s)://"));
	/* http (any case) goes to the http kind: nothing listens on port 1
	 * (and no retries, to keep the test short) */
	g3_http_get_defaults(&hopts);
	hopts.max_retries = 0;
	g3_http_set_defaults(&hopts);
	g3_err_init(&err);
	assert_int_not_equal(g3_source_open("HTTP://127.0.0.1:1/x", &src, &err), G3_OK);
	assert_null(src);
	assert_null(strstr(err.msg, "unsupported"));
	assert_non_null(strstr(err.msg, "HTTP://127.0.0.1:1/x"));
	assert_null(strstr(err.msg, "could not open \"HTTP"));
	/* s3:// goes to the s3 kind: a bucket-less URL is its own complaint */
	g3_err_init(&err);
	assert_int_not_equal(g3_source_open("s3://", &src, &err), G3_OK);
	assert_null(strstr(err.msg, "unsupported"));
	/* "S3://" is no scheme of the table (s3 was always case-sensitive) */
	g3_err_init(&err);
	assert_int_equal(g3_source_open("S3://b/k", &src, &err), G3_USAGE);
	assert_string_equal(err.msg, "unsupported source \"S3://b/k\"");
}

static void test_sink_commit(void **state)
{
	char path[128], partial[160];
	g3_sink *sink = NULL;
	struct stat st;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	path_of(path, sizeof(path), "out.bin");
	snprintf(partial, sizeof(partial), "%s.partial", path);
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_string_equal(sink->temp_path, partial);
	assert_int_equal(g3_sink_write(sink, "abc", 3, &err), G3_OK);
	assert_int_equal(stat(partial, &st), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(g3_sink_commit(sink, &err), G3_OK);
	assert_int_equal(sink->written, 3);
	/* after commit: no more writes, no second commit; close keeps it */
	assert_int_equal(g3_sink_write(sink, "d", 1, &err), G3_FAIL);
	assert_int_equal(g3_sink_commit(sink, &err), G3_FAIL);
	g3_sink_close(sink);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(stat(partial, &st), -1);
	unlink(path);
}

static void test_sink_abort(void **state)
{
	char path[128], partial[160];
	g3_sink *sink = NULL;
	struct stat st;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	path_of(path, sizeof(path), "aborted.bin");
	snprintf(partial, sizeof(partial), "%s.partial", path);
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(g3_sink_write(sink, "abc", 3, &err), G3_OK);
	g3_sink_abort(sink);
	g3_sink_abort(sink);   /* idempotent */
	assert_int_equal(stat(partial, &st), -1);
	g3_sink_close(sink);
	assert_int_equal(stat(path, &st), -1);

	/* closing without commit aborts */
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(g3_sink_write(sink, "x", 1, &err), G3_OK);
	g3_sink_close(sink);
	assert_int_equal(stat(partial, &st), -1);
	assert_int_equal(stat(path, &st), -1);
}

static void test_sink_schemes(void **state)
{
	g3_sink *sink = NULL;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_sink_open("", &sink, &err), G3_USAGE);
	assert_string_equal(err.msg, "output path is empty");
	assert_int_equal(g3_sink_open("http://h/x", &sink, &err), G3_USAGE);
	assert_string_equal(err.msg, "unsupported output \"http://h/x\"");
	assert_int_equal(g3_sink_open(dir, &sink, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "is a directory"));
	assert_null(sink);
	/* s3:// goes to the multipart kind: a URL without a key is its own
	 * complaint, not an unsupported output */
	g3_err_init(&err);
	assert_int_not_equal(g3_sink_open("s3://bucket", &sink, &err), G3_OK);
	assert_null(strstr(err.msg, "unsupported"));
	assert_null(sink);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_source),
		cmocka_unit_test(test_stdin_source),
		cmocka_unit_test(test_source_schemes),
		cmocka_unit_test(test_sink_commit),
		cmocka_unit_test(test_sink_abort),
		cmocka_unit_test(test_sink_schemes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
