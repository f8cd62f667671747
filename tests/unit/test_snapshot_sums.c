/*
 * Format 1.2's integrity checks: the member log (names, sizes, sha256) the
 * writer keeps and the reader rebuilds, its comparison with end.json's
 * member_sums, end.json's member_sums round trip, and the per-table parts
 * tracker (1..n, each once, the last flagged).
 */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/io/sink.h"
#include "common/snap/snapreader.h"
#include "common/snap/snapshot.h"
#include "common/snap/snapwriter.h"
#include "common/io/source.h"
#include "common/base/strbuf.h"

static const char sha_abc[65] =
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char sha_empty[65] =
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void test_log(void **state)
{
	g3_snap_log l;
	char name[64];

	(void)state;
	g3_snap_log_init(&l);
	assert_int_equal(g3_snap_log_find(&l, "a"), -1);
	for (int i = 0; i < 1000; i++) {     /* past a few rehashes */
		snprintf(name, sizeof(name), "pg/db/data/%06d.copy", i + 1);
		assert_int_equal(g3_snap_log_add(&l, name, i, sha_abc), 0);
	}
	assert_int_equal(l.n, 1000);
	assert_int_equal(g3_snap_log_find(&l, "pg/db/data/000777.copy"), 776);
	assert_int_equal(l.v[776].bytes, 776);
	assert_int_equal(g3_snap_log_add(&l, "pg/db/data/000001.copy", 0, sha_abc), -1);
	assert_int_equal(l.n, 1000);
	assert_int_equal(g3_snap_log_find(&l, "pg/db/data/001001.copy"), -1);
	g3_snap_log_release(&l);
}

static void fill(g3_snap_log *l, const char *const *names, size_t n)
{
	g3_snap_log_init(l);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(g3_snap_log_add(l, names[i], 3, sha_abc), 0);
}

static void expect_log_check(const char *const *read, size_t n_read, const char *const *listed,
			 size_t n_listed, const char *want)
{
	g3_snap_log r, l;
	g3_err err;

	g3_err_init(&err);
	fill(&r, read, n_read);
	fill(&l, listed, n_listed);
	if (!want) {
		assert_int_equal(g3_snap_log_check(&r, &l, &err), G3_OK);
	} else {
		assert_int_equal(g3_snap_log_check(&r, &l, &err), G3_FAIL);
		assert_string_equal(err.msg, want);
	}
	g3_snap_log_release(&r);
	g3_snap_log_release(&l);
}

static void test_log_check(void **state)
{
	static const char *const all[] = { "manifest.json", "pg/a/pre-data.sql", "pg/a/post-data.sql" };
	static const char *const swapped[] = { "manifest.json", "pg/a/post-data.sql", "pg/a/pre-data.sql" };
	static const char *const extra[] = { "manifest.json", "pg/a/pre-data.sql", "pg/a/x.sql",
		"pg/a/post-data.sql" };
	g3_snap_log r, l;
	g3_err err;

	(void)state;
	expect_log_check(all, 3, all, 3, NULL);
	expect_log_check(extra, 4, all, 3, "member \"pg/a/x.sql\" is not listed in end.json");
	expect_log_check(all, 2, all, 3, "end.json lists member \"pg/a/post-data.sql\", which the "
		     "snapshot does not hold");
	expect_log_check(swapped, 3, all, 3, "member \"pg/a/post-data.sql\" is out of order: end.json "
		     "lists \"pg/a/pre-data.sql\" in its place");
	/* a changed size or sha256 */
	g3_err_init(&err);
	fill(&r, all, 3);
	fill(&l, all, 3);
	l.v[1].bytes = 4;
	assert_int_equal(g3_snap_log_check(&r, &l, &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"pg/a/pre-data.sql\" holds 3 bytes, end.json says 4");
	l.v[1].bytes = 3;
	memcpy(l.v[2].sha256, sha_empty, 65);
	assert_int_equal(g3_snap_log_check(&r, &l, &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"pg/a/post-data.sql\" fails its sha256 check (end.json)");
	g3_snap_log_release(&r);
	g3_snap_log_release(&l);
}

static void test_parts(void **state)
{
	g3_snap_parts p;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_snap_parts_init(&p);
	assert_int_equal(g3_snap_parts_finish(&p, "public", "t", &err), G3_FAIL);
	assert_string_equal(err.msg, "table \"public.t\" has no data chunk");
	assert_int_equal(g3_snap_parts_add(&p, "public", "t", 1, 0, "m1", &err), G3_OK);
	assert_int_equal(g3_snap_parts_add(&p, "public", "u", 1, 1, "m2", &err), G3_OK);
	assert_int_equal(g3_snap_parts_add(&p, "other", "t", 1, 1, "m3", &err), G3_OK);
	assert_int_equal(g3_snap_parts_finish(&p, "public", "t", &err), G3_FAIL);
	assert_string_equal(err.msg, "table \"public.t\" ends after part 1, which is not its last");
	assert_int_equal(g3_snap_parts_add(&p, "public", "t", 1, 0, "m4", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"m4\": part 1 of table \"public.t\" appears twice");
	assert_int_equal(g3_snap_parts_add(&p, "public", "t", 3, 0, "m5", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"m5\": table \"public.t\" has part 3 where part 2 "
			    "was expected");
	assert_int_equal(g3_snap_parts_add(&p, "public", "t", 0, 0, "m6", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"m6\": table \"public.t\" has part 0 where part 2 "
			    "was expected");
	assert_int_equal(g3_snap_parts_add(&p, "public", "t", 2, 1, "m7", &err), G3_OK);
	assert_int_equal(g3_snap_parts_finish(&p, "public", "t", &err), G3_OK);
	assert_int_equal(g3_snap_parts_finish(&p, "other", "t", &err), G3_OK);
	assert_int_equal(g3_snap_parts_add(&p, "public", "t", 3, 1, "m8", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"m8\": table \"public.t\" has part 3 after its last "
			    "part 2");
	/* indices: no schema */
	assert_int_equal(g3_snap_parts_add(&p, NULL, "t", 2, 1, "es/t/docs.000002.json", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"es/t/docs.000002.json\": index \"t\" has part 2 "
			    "where part 1 was expected");
	assert_int_equal(g3_snap_parts_finish(&p, NULL, "t", &err), G3_FAIL);
	g3_snap_parts_release(&p);
}

static void test_end_member_sums(void **state)
{
	g3_snap_end e, back;
	g3_buf out = G3_BUF_INIT;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_snap_end_init(&e);
	e.members = 2;
	e.has_sums = 1;
	g3_snap_log_add(&e.sums, "manifest.json", 3, sha_abc);
	g3_snap_log_add(&e.sums, "pg/a/pre-data.sql", 0, sha_empty);
	g3_snap_end_to_json(&e, &out);
	assert_non_null(strstr(out.data, "\"member_sums\""));
	assert_int_equal(g3_snap_end_parse(out.data, out.len, &back, &err), G3_OK);
	assert_true(back.has_sums);
	assert_int_equal(back.sums.n, 2);
	assert_string_equal(back.sums.v[1].name, "pg/a/pre-data.sql");
	assert_string_equal(back.sums.v[1].sha256, sha_empty);
	assert_int_equal(g3_snap_log_check(&e.sums, &back.sums, &err), G3_OK);
	g3_snap_end_release(&back);
	g3_snap_end_release(&e);
	g3_buf_release(&out);

	/* 1.1: no member_sums */
	assert_int_equal(g3_snap_end_parse("{\"members\":1,\"databases\":[]}", 29, &back, &err), G3_OK);
	assert_false(back.has_sums);
	g3_snap_end_release(&back);
	{
		static const struct { const char *json, *msg; } bad[] = {
			{ "{\"members\":2,\"databases\":[],\"member_sums\":[{\"name\":\"a\",\"bytes\":1,"
			  "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"},"
			  "{\"name\":\"a\",\"bytes\":1,"
			  "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]}",
			  "end.json lists member \"a\" twice" },
			{ "{\"members\":2,\"databases\":[],\"member_sums\":[{\"name\":\"a\",\"bytes\":1,"
			  "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]}",
			  "end.json counts 2 members but lists 1 in member_sums" },
			{ "{\"members\":1,\"databases\":[],\"member_sums\":[{\"name\":\"a\",\"bytes\":1,"
			  "\"sha256\":\"BA\"}]}",
			  "end.json: member_sums entry \"a\": \"sha256\" is not 64 lowercase hex digits" },
			{ "{\"members\":1,\"databases\":[],\"member_sums\":[{\"name\":\"a\",\"bytes\":-1,"
			  "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]}",
			  "end.json: field \"bytes\" is negative" },
			{ "{\"members\":1,\"databases\":[],\"member_sums\":[1]}",
			  "end.json: member_sums entry 1 is not an object" },
			{ "{\"members\":1,\"databases\":[],\"member_sums\":{}}",
			  "end.json: field \"member_sums\" must be an array" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_not_equal(g3_snap_end_parse(bad[i].json, strlen(bad[i].json), &back,
							       &err), G3_OK);
			assert_string_equal(err.msg, bad[i].msg);
		}
	}
}

static char tmpdir[256];

/* The reader's log equals the writer's, whether members are read whole,
 * in part, not at all, or vouched for by a header's sha256. */
static void test_writer_reader_logs(void **state)
{
	char path[300];
	g3_sink *sink = NULL;
	g3_snap_writer *w = NULL;
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_snap_log wlog;
	const char *name;
	int64_t size;
	char buf[4];
	g3_err err;
	int i = 0;

	(void)state;
	g3_err_init(&err);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/g3-test-sums-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/s.tar.zst", tmpdir);
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(g3_snap_writer_open(sink, 3, 0, &w, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "manifest.json", "abc", 3, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "pg/a/pre-data.sql", "SELECT 1;\n", 10, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "pg/a/data/000001.copy", "abc", 3, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "pg/a/sequences.sql", "", 0, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "pg/a/pre-data.sql", "x", 1, &err), G3_FAIL);
	assert_string_equal(err.msg, "snapshot member \"pg/a/pre-data.sql\" written twice");
	{
		const g3_snap_log *l = g3_snap_writer_log(w);

		assert_int_equal(l->n, 4);
		assert_string_equal(l->v[0].sha256, sha_abc);
		assert_string_equal(l->v[3].sha256, sha_empty);
		g3_snap_log_init(&wlog);
		for (size_t k = 0; k < l->n; k++)
			g3_snap_log_add(&wlog, l->v[k].name, l->v[k].bytes, l->v[k].sha256);
	}
	assert_int_equal(g3_snap_writer_finish(w, &err), G3_OK);
	g3_sink_close(sink);

	g3_err_init(&err);
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	while (g3_reader_next(r, &name, &size, &err) == 1) {
		if (i == 1)
			assert_int_equal(g3_reader_read(r, buf, 2, &err), 2);   /* in part */
		if (i == 2) {
			g3_reader_member_sum(r, sha_abc);
			while (g3_reader_read(r, buf, sizeof(buf), &err) > 0)
				;
		}
		i++;
	}
	assert_string_equal(err.msg, "");
	assert_int_equal(i, 4);
	assert_int_equal(g3_reader_log(r)->n, 4);
	assert_int_equal(g3_snap_log_check(g3_reader_log(r), &wlog, &err), G3_OK);
	g3_reader_close(r);
	g3_source_close(src);
	g3_snap_log_release(&wlog);
	unlink(path);
	rmdir(tmpdir);
}

/* A name twice in one tar (written with libarchive directly). */
static void test_reader_refuses_a_name_twice(void **state)
{
	char path[300], want[600];
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	g3_source *src = NULL;
	g3_reader *r = NULL;
	const char *name;
	int64_t size;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/g3-test-sums-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/twice.tar", tmpdir);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (int i = 0; i < 3; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, i ? "pg/a/pre-data.sql" : "manifest.json");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 2);
		archive_write_header(a, e);
		archive_write_data(a, "hi", 2);
	}
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);

	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), 1);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), 1);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), -1);
	assert_int_equal(err.rc, G3_FAIL);
	snprintf(want, sizeof(want), "could not read snapshot \"%s\": member \"pg/a/pre-data.sql\" "
		 "appears twice", path);
	assert_string_equal(err.msg, want);
	g3_reader_close(r);
	g3_source_close(src);
	unlink(path);
	rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_log_check),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_end_member_sums),
		cmocka_unit_test(test_writer_reader_logs),
		cmocka_unit_test(test_reader_refuses_a_name_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
