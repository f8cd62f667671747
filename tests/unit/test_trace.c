/*
 * The job trace: a record's exact JSON line (names escaped, unknown
 * counts left out, an error only on failure), what g3_trace_open refuses
 * (a symbolic link, a directory), truncation of an existing file, and
 * records written from several threads at once as whole lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/trace.h"

static const struct {
	g3_trace_rec r;
	const char *json;
} cases[] = {
	{ { 1, "copy", "fence_gen3", "public.user", "public.user", 0.5, 1.25, 10, 1234, 0, 1, NULL },
	  "{\"conn\":1,\"job\":\"copy\",\"database\":\"fence_gen3\",\"object\":\"public.user\","
	  "\"table\":\"public.user\",\"start\":0.500000,\"end\":1.250000,\"rows\":10,"
	  "\"bytes\":1234,\"ok\":true}\n" },
	/* names are data: quotes, backslashes, newlines and non-ASCII escaped */
	{ { 2, "index", "d\"b", "Idx \"q\"\n\\x", "S\xc3\xa9.t", 2, 3, -1, -1, 0, 1, NULL },
	  "{\"conn\":2,\"job\":\"index\",\"database\":\"d\\\"b\",\"object\":\"Idx \\\"q\\\"\\n\\\\x\","
	  "\"table\":\"S\xc3\xa9.t\",\"start\":2.000000,\"end\":3.000000,\"ok\":true}\n" },
	/* a leader span: no object, a statement count; an end before the
	 * start (clock reads on two threads) is clamped */
	{ { 0, "pre-data", "db", NULL, NULL, 4, 3.5, -1, -1, 17, 1, NULL },
	  "{\"conn\":0,\"job\":\"pre-data\",\"database\":\"db\",\"start\":4.000000,"
	  "\"end\":4.000000,\"statements\":17,\"ok\":true}\n" },
	/* a failure carries its message; rows unknown */
	{ { 1, "copy", NULL, "t", "t", 0, 0.000001, -1, 99, 0, 0,
	    "could not load table \"t\": line 5 of \"pg/db/data\"" },
	  "{\"conn\":1,\"job\":\"copy\",\"object\":\"t\",\"table\":\"t\",\"start\":0.000000,"
	  "\"end\":0.000001,\"bytes\":99,\"ok\":false,\"error\":\"could not load table "
	  "\\\"t\\\": line 5 of \\\"pg/db/data\\\"\"}\n" },
	/* a failure without a message still says so */
	{ { 0, "swap", "db", NULL, NULL, 1, 2, -1, -1, 0, 0, "" },
	  "{\"conn\":0,\"job\":\"swap\",\"database\":\"db\",\"start\":1.000000,\"end\":2.000000,"
	  "\"ok\":false,\"error\":\"failed\"}\n" },
};

static void test_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_buf b = G3_BUF_INIT;

		g3_trace_format(&cases[i].r, &b);
		assert_string_equal(b.data, cases[i].json);
		g3_buf_release(&b);
	}
}

static char dir[] = "/tmp/g3-trace-test-XXXXXX";

static char *path_in(const char *name)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s/%s", dir, name);
	return g3_buf_detach(&b);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	g3_buf b = G3_BUF_INIT;
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)))
		g3_buf_add(&b, buf, n);
	fclose(f);
	g3_buf_adds(&b, "");
	return g3_buf_detach(&b);
}

static void test_open_refuses(void **state)
{
	char *victim = path_in("victim"), *link = path_in("link"), *t = path_in("t.jsonl");
	g3_trace *tr = NULL;
	g3_err err;
	char *text;

	(void)state;
	write_file(victim, "keep\n");
	assert_int_equal(symlink(victim, link), 0);
	g3_err_init(&err);
	assert_int_equal(g3_trace_open(link, &tr, &err), G3_USAGE);
	assert_null(tr);
	assert_non_null(strstr(err.msg, "is a symbolic link, not a regular file"));
	text = read_file(victim);
	assert_string_equal(text, "keep\n");
	free(text);

	g3_err_init(&err);
	assert_int_equal(g3_trace_open(dir, &tr, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "is a directory, not a regular file"));
	g3_err_init(&err);
	assert_int_equal(g3_trace_open("", &tr, &err), G3_USAGE);

	/* an existing file is truncated */
	write_file(t, "old old old old old old old old\n");
	g3_err_init(&err);
	assert_int_equal(g3_trace_open(t, &tr, &err), G3_OK);
	g3_trace_record(tr, &cases[0].r);
	assert_int_equal(g3_trace_close(tr, &err), G3_OK);
	text = read_file(t);
	assert_string_equal(text, cases[0].json);
	free(text);

	/* no trace: records and close are no-ops */
	g3_trace_record(NULL, &cases[0].r);
	assert_true(g3_trace_now(NULL) == 0);
	assert_int_equal(g3_trace_close(NULL, &err), G3_OK);
	unlink(victim);
	unlink(link);
	unlink(t);
	free(victim);
	free(link);
	free(t);
}

#define THREADS 4
#define PER_THREAD 2000

struct writer {
	g3_trace *t;
	int conn;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	char name[64];

	for (int i = 0; i < PER_THREAD; i++) {
		g3_trace_rec r;

		snprintf(name, sizeof(name), "table_%d_%d", w->conn, i);
		memset(&r, 0, sizeof(r));
		r.conn = w->conn;
		r.job = "copy";
		r.object = name;
		r.start = g3_trace_now(w->t);
		r.end = g3_trace_now(w->t);
		r.rows = i;
		r.bytes = -1;
		r.ok = 1;
		g3_trace_record(w->t, &r);
	}
	return NULL;
}

static void test_threads_whole_lines(void **state)
{
	char *t = path_in("threads.jsonl");
	pthread_t th[THREADS];
	struct writer w[THREADS];
	long long sum[THREADS + 1] = { 0 };
	g3_trace *tr = NULL;
	g3_err err;
	char *text, *line, *next;
	int lines = 0;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_trace_open(t, &tr, &err), G3_OK);
	for (int i = 0; i < THREADS; i++) {
		w[i].t = tr;
		w[i].conn = i + 1;
		assert_int_equal(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(g3_trace_close(tr, &err), G3_OK);
	text = read_file(t);
	for (line = text; *line; line = next) {
		json_object *o, *v;

		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		o = json_tokener_parse(line);
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "conn", &v));
		assert_in_range(json_object_get_int(v), 1, THREADS);
		sum[json_object_get_int(v)] += json_object_get_int64(
			json_object_object_get(o, "rows"));
		json_object_put(o);
		lines++;
	}
	assert_int_equal(lines, THREADS * PER_THREAD);
	for (int i = 1; i <= THREADS; i++)
		assert_int_equal(sum[i], (long long)PER_THREAD * (PER_THREAD - 1) / 2);
	free(text);
	unlink(t);
	free(t);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_open_refuses),
		cmocka_unit_test(test_threads_whole_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
