/*
 * Snapshot writer -> reader round trips through temporary files; names the
 * reader must reject (tars crafted with libarchive directly); corrupt and
 * truncated input; raw mode; the JSON members' validation.
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
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>

#include "common/io/sink.h"
#include "common/snap/snapreader.h"
#include "common/snap/snapshot.h"
#include "common/snap/snapwriter.h"
#include "common/io/source.h"
#include "common/base/strbuf.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/g3-test-archive-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_of(const char *name)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s/%s", tmpdir, name);
	return g3_buf_detach(&b);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	g3_buf b = G3_BUF_INIT;
	char tmp[4096];
	size_t n;

	assert_non_null(f);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		g3_buf_add(&b, tmp, n);
	fclose(f);
	*len = b.len;
	if (!b.data)
		g3_buf_grow(&b, 1);
	return g3_buf_detach(&b);
}

struct big_ctx {
	size_t left;
	unsigned seed;
};

static ssize_t big_read(void *ctx, void *buf, size_t len, g3_err *err)
{
	struct big_ctx *c = ctx;
	unsigned char *p = buf;

	(void)err;
	if (len > c->left)
		len = c->left;
	for (size_t i = 0; i < len; i++) {
		c->seed = c->seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(c->seed >> 16);
	}
	c->left -= len;
	return (ssize_t)len;
}

/* Writes a snapshot with a manifest, two members and a streamed 3 MB one. */
static void write_sample(const char *path, int threads)
{
	g3_sink *sink = NULL;
	g3_snap_writer *w = NULL;
	g3_err err;
	struct big_ctx big = { 3 * 1024 * 1024, 7 };

	g3_err_init(&err);
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(g3_snap_writer_open(sink, 3, threads, &w, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "manifest.json", "{}\n", 3, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "pg/db/data/000001.copy", "1\ta\n2\t\\N\n", 10, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "pg/db/empty", "", 0, &err), G3_OK);
	assert_int_equal(g3_snap_add_member_stream(w, "pg/db/data/000002.copy", big.left,
						   big_read, &big, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "end.json", "{}\n", 3, &err), G3_OK);
	assert_int_equal(g3_snap_writer_members(w), 5);
	assert_int_equal(g3_snap_writer_finish(w, &err), G3_OK);
	g3_sink_close(sink);
}

static void test_round_trip(void **state)
{
	char *path = path_of("a.tar.zst");
	char *partial = path_of("a.tar.zst.partial");
	static const char *const names[] = { "manifest.json", "pg/db/data/000001.copy",
		"pg/db/empty", "pg/db/data/000002.copy", "end.json" };
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_err err;
	const char *name;
	int64_t size;
	char buf[65536];
	int i = 0;

	(void)state;
	write_sample(path, 2);
	assert_int_equal(access(partial, F_OK), -1);
	g3_err_init(&err);
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	assert_int_equal(g3_reader_kind(r), G3_READER_ARCHIVE);
	assert_string_equal(g3_reader_filter(r), "zstd");
	while (g3_reader_next(r, &name, &size, &err) == 1) {
		struct big_ctx big = { 3 * 1024 * 1024, 7 };
		g3_buf got = G3_BUF_INIT;
		ssize_t n;

		assert_true(i < 5);
		assert_string_equal(name, names[i]);
		while ((n = g3_reader_read(r, buf, sizeof(buf), &err)) > 0)
			g3_buf_add(&got, buf, (size_t)n);
		assert_int_equal(n, 0);
		assert_int_equal((int64_t)got.len, size);
		if (i == 1)
			assert_memory_equal(got.data, "1\ta\n2\t\\N\n", 10);
		if (i == 3) {
			char *want = g3_xmalloc(big.left);

			big_read(&big, want, 3 * 1024 * 1024, &err);
			assert_memory_equal(got.data, want, got.len);
			free(want);
		}
		g3_buf_release(&got);
		i++;
	}
	assert_int_equal(i, 5);
	assert_string_equal(err.msg, "");
	g3_reader_close(r);
	g3_source_close(src);
	/* slurp refuses a member larger than its limit */
	{
		g3_buf b = G3_BUF_INIT;
		char want[512];

		assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
		assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
		for (i = 0; i < 4; i++)
			assert_int_equal(g3_reader_next(r, &name, &size, &err), 1);
		assert_int_equal(g3_reader_slurp(r, 1000, &b, &err), G3_USAGE);
		snprintf(want, sizeof(want), "could not read snapshot \"%s\": member \"pg/db/data/000002.copy\" is larger than 1000 bytes", path);
		assert_string_equal(err.msg, want);
		g3_buf_release(&b);
		g3_reader_close(r);
		g3_source_close(src);
	}
	free(path);
	free(partial);
}

static void test_skip_unread_members(void **state)
{
	char *path = path_of("skip.tar.zst");
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_err err;
	const char *name;
	int64_t size;
	int n = 0;

	(void)state;
	write_sample(path, 0);
	g3_err_init(&err);
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	while (g3_reader_next(r, &name, &size, &err) == 1)
		n++;
	assert_int_equal(n, 5);
	assert_string_equal(name ? name : "", "");
	g3_reader_close(r);
	g3_source_close(src);
	free(path);
}

static void test_abort_leaves_nothing(void **state)
{
	char *path = path_of("aborted.tar.zst");
	char *partial = path_of("aborted.tar.zst.partial");
	g3_sink *sink = NULL;
	g3_snap_writer *w = NULL;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(access(partial, F_OK), 0);
	assert_int_equal(g3_snap_writer_open(sink, 3, 0, &w, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "manifest.json", "{}", 2, &err), G3_OK);
	assert_int_equal(g3_snap_add_member(w, "../evil", "x", 1, &err), G3_USAGE);
	assert_string_equal(err.msg, "invalid snapshot member name \"../evil\"");
	g3_snap_writer_abort(w);
	g3_sink_close(sink);
	assert_int_equal(access(partial, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	free(partial);
}

/* A tar made with libarchive directly, with one entry of the given name
 * and type, then a good one. */
static void craft_tar(const char *path, const char *name, mode_t type)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();

	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_zstd(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, 0644);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, "/etc/passwd");
	archive_entry_set_size(e, type == AE_IFREG ? 2 : 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (type == AE_IFREG)
		archive_write_data(a, "hi", 2);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "ok.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, 0);
	archive_write_header(a, e);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
}

static void expect_reject(const char *member, mode_t type, const char *want_msg)
{
	char *path = path_of("bad.tar.zst");
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_err err;
	const char *name;
	int64_t size;
	char want[1024];

	craft_tar(path, member, type);
	g3_err_init(&err);
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), -1);
	assert_int_equal(err.rc, G3_USAGE);
	snprintf(want, sizeof(want), "could not read snapshot \"%s\": %s", path, want_msg);
	assert_string_equal(err.msg, want);
	g3_reader_close(r);
	g3_source_close(src);
	free(path);
}

static void test_reject_names(void **state)
{
	(void)state;
	expect_reject("../etc/passwd", AE_IFREG, "invalid member name \"../etc/passwd\"");
	expect_reject("pg/a/../../x", AE_IFREG, "invalid member name \"pg/a/../../x\"");
	expect_reject("/etc/passwd", AE_IFREG, "invalid member name \"/etc/passwd\"");
	expect_reject("pg/a\nb", AE_IFREG, "invalid member name \"pg/a\\x0ab\"");
	expect_reject("pg/a\033[2Jb", AE_IFREG, "invalid member name \"pg/a\\x1b[2Jb\"");
	expect_reject("pg/dir", AE_IFDIR, "member \"pg/dir/\" is not a regular file");
	expect_reject("pg/link", AE_IFLNK, "member \"pg/link\" is not a regular file");
}

static void read_all(const char *path, g3_err *err, int *rc_out, int *members)
{
	g3_source *src = NULL;
	g3_reader *r = NULL;
	const char *name;
	int64_t size;
	char buf[65536];
	int st;

	*members = 0;
	g3_err_init(err);
	assert_int_equal(g3_source_open(path, &src, err), G3_OK);
	if (g3_reader_open(src, &r, err)) {
		*rc_out = -1;
		g3_source_close(src);
		return;
	}
	while ((st = g3_reader_next(r, &name, &size, err)) == 1) {
		ssize_t n;

		(*members)++;
		while ((n = g3_reader_read(r, buf, sizeof(buf), err)) > 0)
			;
		if (n < 0) {
			st = -1;
			break;
		}
	}
	*rc_out = st;
	g3_reader_close(r);
	g3_source_close(src);
}

static void test_truncated(void **state)
{
	char *path = path_of("t.tar.zst");
	char *cut = path_of("cut.tar.zst");
	char want[1024];
	size_t len;
	char *data;
	g3_err err;
	int st, members;

	(void)state;
	write_sample(path, 0);
	data = read_whole(path, &len);
	/* cut in the middle: inside the big streamed member */
	write_file(cut, data, len / 2);
	read_all(cut, &err, &st, &members);
	assert_int_equal(st, -1);
	assert_int_equal(err.rc, G3_FAIL);
	snprintf(want, sizeof(want),
		 "could not read snapshot \"%s\": truncated in member \"pg/db/data/000002.copy\"", cut);
	assert_string_equal(err.msg, want);
	free(data);

	/* an uncompressed tar cut exactly after the second member */
	{
		char *tar = path_of("plain.tar");
		struct archive *a = archive_write_new();
		struct archive_entry *e = archive_entry_new();
		char block[1024] = { 0 };

		archive_write_set_format_pax_restricted(a);
		archive_write_open_filename(a, tar);
		for (int i = 0; i < 3; i++) {
			char nm[32];

			snprintf(nm, sizeof(nm), "m%d", i);
			archive_entry_clear(e);
			archive_entry_set_pathname(e, nm);
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, 1000);
			archive_write_header(a, e);
			archive_write_data(a, block, 1000);
		}
		archive_entry_free(e);
		archive_write_close(a);
		archive_write_free(a);
		data = read_whole(tar, &len);
		/* header 512 + data 1024 per member; cut inside m1's data */
		write_file(cut, data, 512 + 1024 + 512 + 300);
		read_all(cut, &err, &st, &members);
		assert_int_equal(st, -1);
		snprintf(want, sizeof(want),
			 "could not read snapshot \"%s\": truncated in member \"m1\"", cut);
		assert_string_equal(err.msg, want);
		free(data);
		free(tar);
	}
	free(path);
	free(cut);
}

static void test_corrupt_zstd(void **state)
{
	char *path = path_of("c.tar.zst");
	char want[512];
	size_t len;
	char *data;
	g3_err err;
	int st, members;

	(void)state;
	write_sample(path, 0);
	data = read_whole(path, &len);
	/* flip bytes inside the stored (incompressible) member: zstd copies
	 * such blocks raw, so only the frame's content checksum catches it */
	for (size_t i = len / 3; i < len / 3 + 64; i++)
		data[i] ^= 0x5a;
	write_file(path, data, len);
	read_all(path, &err, &st, &members);
	assert_int_equal(st, -1);
	assert_int_equal(err.rc, G3_FAIL);
	assert_non_null(strstr(err.msg, "could not read snapshot \""));
	assert_non_null(strstr(err.msg, "in member \""));
	free(data);

	/* garbled at the start: no tar header decodes */
	data = read_whole(path, &len);
	for (size_t i = 12; i < 80; i++)
		data[i] ^= 0x5a;
	write_file(path, data, len);
	read_all(path, &err, &st, &members);
	assert_int_equal(st, -1);
	snprintf(want, sizeof(want), "could not read snapshot \"%s\": not a tar archive", path);
	assert_string_equal(err.msg, want);
	free(data);
	free(path);
}

static void raw_expect(const char *file, const char *member, const char *filter,
		       const char *content)
{
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_err err;
	const char *name;
	int64_t size;
	char buf[4096];
	g3_buf got = G3_BUF_INIT;
	ssize_t n;

	g3_err_init(&err);
	assert_int_equal(g3_source_open(file, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	assert_int_equal(g3_reader_kind(r), G3_READER_RAW);
	assert_string_equal(g3_reader_filter(r), filter);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), 1);
	assert_string_equal(name, member);
	assert_int_equal(size, -1);
	while ((n = g3_reader_read(r, buf, sizeof(buf), &err)) > 0)
		g3_buf_add(&got, buf, (size_t)n);
	assert_int_equal(n, 0);
	assert_int_equal(got.len, strlen(content));
	assert_memory_equal(got.data, content, got.len);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), 0);
	g3_buf_release(&got);
	g3_reader_close(r);
	g3_source_close(src);
}

static void test_raw(void **state)
{
	static const char sql[] = "SET x = 1;\nCOPY t (a) FROM stdin;\n1\n\\.\n";
	char *plain = path_of("fence.sql");
	char *gz = path_of("indexd.sql.gz");
	char *zs = path_of("arborist.sql.zst");
	char *badtar = path_of("notatar.tar.zst");
	char zbuf[1024];
	size_t zn;
	struct archive *a;
	struct archive_entry *e;
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_err err;
	char want[512];

	(void)state;
	write_file(plain, sql, strlen(sql));
	raw_expect(plain, "fence.sql", "none", sql);
	/* gzip through libarchive's raw writer */
	a = archive_write_new();
	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, gz), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	archive_write_header(a, e);
	archive_write_data(a, sql, strlen(sql));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	raw_expect(gz, "indexd.sql", "gzip", sql);
	zn = ZSTD_compress(zbuf, sizeof(zbuf), sql, strlen(sql), 3);
	assert_false(ZSTD_isError(zn));
	write_file(zs, zbuf, zn);
	raw_expect(zs, "arborist.sql", "zstd", sql);
	/* a .tar.zst that is not a tar is an error, not raw data */
	write_file(badtar, zbuf, zn);
	g3_err_init(&err);
	assert_int_equal(g3_source_open(badtar, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_USAGE);
	snprintf(want, sizeof(want), "could not read snapshot \"%s\": not a tar archive", badtar);
	assert_string_equal(err.msg, want);
	g3_source_close(src);
	free(plain);
	free(gz);
	free(zs);
	free(badtar);
}

/* Peeked bytes come again from the reads; an empty input (or one that
 * decompresses to nothing) is named as such. */
static void test_peek_and_empty(void **state)
{
	static const char sql[] = "SET x = 1;\nCOPY t (a) FROM stdin;\n1\n\\.\n";
	char *plain = path_of("peek.sql");
	char *empty = path_of("empty.sql");
	char *emptygz = path_of("empty.sql.gz");
	struct archive *a;
	struct archive_entry *e;
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_err err;
	const char *name, *data;
	int64_t size;
	size_t len;
	char buf[3], want[512];
	g3_buf got = G3_BUF_INIT;
	ssize_t n;

	(void)state;
	write_file(plain, sql, strlen(sql));
	g3_err_init(&err);
	assert_int_equal(g3_source_open(plain, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), 1);
	assert_int_equal(g3_reader_peek(r, 5, &data, &len, &err), G3_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "SET x", 5);
	assert_int_equal(g3_reader_peek(r, 5, &data, &len, &err), G3_OK);
	assert_memory_equal(data, "SET x", 5);
	while ((n = g3_reader_read(r, buf, sizeof(buf), &err)) > 0)
		g3_buf_add(&got, buf, (size_t)n);
	assert_int_equal(n, 0);
	assert_int_equal(got.len, strlen(sql));
	assert_memory_equal(got.data, sql, got.len);
	assert_int_equal(g3_reader_peek(r, 5, &data, &len, &err), G3_FAIL);
	g3_reader_close(r);
	g3_source_close(src);
	/* a peek longer than the member gets all of it */
	assert_int_equal(g3_source_open(plain, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	assert_int_equal(g3_reader_next(r, &name, &size, &err), 1);
	assert_int_equal(g3_reader_peek(r, 65536, &data, &len, &err), G3_OK);
	assert_int_equal(len, strlen(sql));
	g3_buf_reset(&got);
	while ((n = g3_reader_read(r, buf, sizeof(buf), &err)) > 0)
		g3_buf_add(&got, buf, (size_t)n);
	assert_int_equal(got.len, strlen(sql));
	assert_memory_equal(got.data, sql, got.len);
	g3_reader_close(r);
	g3_source_close(src);

	write_file(empty, "", 0);
	assert_int_equal(g3_source_open(empty, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_USAGE);
	snprintf(want, sizeof(want), "\"%s\" is empty", empty);
	assert_string_equal(err.msg, want);
	g3_source_close(src);

	a = archive_write_new();
	archive_write_set_format_raw(a);
	archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, emptygz), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	archive_write_header(a, e);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	g3_err_init(&err);
	assert_int_equal(g3_source_open(emptygz, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_USAGE);
	snprintf(want, sizeof(want), "\"%s\" is empty once decompressed (gzip)", emptygz);
	assert_string_equal(err.msg, want);
	g3_source_close(src);
	g3_buf_release(&got);
	free(plain);
	free(empty);
	free(emptygz);
}

static void test_manifest(void **state)
{
	g3_manifest m, back;
	g3_snap_database *d;
	g3_snap_table *t;
	g3_buf json = G3_BUF_INIT;
	g3_err err;

	(void)state;
	g3_manifest_init(&m);
	m.created = g3_xstrdup("2026-11-25T17:00:00Z");
	m.gen3db_version = g3_xstrdup("0.1.0");
	m.server_version = g3_xstrdup("15.20");
	m.server_version_num = 150020;
	d = g3_manifest_add_database(&m, "fence_gen3", "UTF8");
	t = g3_manifest_add_table(d, "public", "User", 12, 8192);
	g3_manifest_add_column(t, "id", "integer");
	g3_manifest_add_column(t, "na\"me", "text");
	g3_manifest_add_index(&m, "dev_case", 10, -1);
	g3_manifest_to_json(&m, &json);
	g3_err_init(&err);
	assert_int_equal(g3_manifest_parse(json.data, json.len, &back, &err), G3_OK);
	assert_int_equal(back.format_version, 1);
	assert_int_equal(back.server_version_num, 150020);
	assert_int_equal(back.n_databases, 1);
	assert_string_equal(back.databases[0].tables[0].name, "User");
	assert_string_equal(back.databases[0].tables[0].columns[1].name, "na\"me");
	assert_int_equal(back.databases[0].tables[0].est_bytes, 8192);
	assert_string_equal(back.indices[0].name, "dev_case");
	assert_non_null(g3_manifest_find_database(&back, "fence_gen3"));
	g3_manifest_release(&back);
	g3_manifest_release(&m);
	g3_buf_release(&json);
}

static void test_manifest_invalid(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
		{ "{\"format\":\"gen3db-snapshot\",\"format_version\":2,\"databases\":[]}",
		  "unsupported snapshot format_version 2 (this gen3db reads 1)" },
		{ "{\"format\":\"other\",\"format_version\":1,\"databases\":[]}",
		  "manifest.json: format \"other\" is not \"gen3db-snapshot\"" },
		{ "{\"format\":\"gen3db-snapshot\",\"format_version\":\"1\",\"databases\":[]}",
		  "manifest.json: field \"format_version\" must be an integer" },
		{ "{\"format\":\"gen3db-snapshot\",\"format_version\":1}",
		  "manifest.json: field \"databases\" is missing" },
		{ "{\"format\":\"gen3db-snapshot\",\"format_version\":1,\"databases\":[{\"name\":\"../x\",\"tables\":[]}]}",
		  "manifest.json: invalid database name \"../x\"" },
		{ "{\"format\":\"gen3db-snapshot\",\"format_version\":1,\"databases\":[{\"name\":\"a\",\"tables\":[{\"schema\":\"s\",\"name\":\"t\",\"columns\":[1]}]}]}",
		  "manifest.json: a column of table \"s.t\" is not an object" },
		{ "[1]", "manifest.json is not a JSON object" },
		{ "{\"format\":", "manifest.json is not valid JSON: it ends early" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_manifest m;
		g3_err err;

		g3_err_init(&err);
		assert_int_equal(g3_manifest_parse(cases[i].json, strlen(cases[i].json), &m, &err),
				 G3_USAGE);
		assert_string_equal(err.msg, cases[i].msg);
	}
}

static void test_chunk_header_and_check(void **state)
{
	static const char data[] = "1\ta\\nb\n2\t\\N\n";
	g3_chunk_header h, back;
	g3_chunk_check c;
	g3_buf json = G3_BUF_INIT;
	g3_err err;
	char *cols[] = { "id", "na me" };

	(void)state;
	g3_chunk_header_init(&h);
	h.schema = "public";
	h.table = "User";
	h.columns = cols;
	h.n_columns = 2;
	h.part = 1;
	h.last = 1;
	h.rows = 2;
	h.bytes = (int64_t)strlen(data);
	g3_sha256_hex(data, strlen(data), h.sha256);
	g3_chunk_header_to_json(&h, &json);
	g3_err_init(&err);
	assert_int_equal(g3_chunk_header_parse(json.data, json.len, "pg/d/data/000001.json",
					       &back, &err), G3_OK);
	assert_string_equal(back.columns[1], "na me");
	assert_int_equal(back.last, 1);
	g3_chunk_check_init(&c);
	g3_chunk_check_update(&c, data, 5);
	g3_chunk_check_update(&c, data + 5, strlen(data) - 5);
	assert_int_equal(g3_chunk_check_finish(&c, &back, "pg/d/data/000001.copy", &err), G3_OK);
	g3_chunk_check_release(&c);
	/* one byte changed: same size and rows, other sha256 */
	g3_chunk_check_init(&c);
	g3_chunk_check_update(&c, "1\ta\\nc\n2\t\\N\n", strlen(data));
	assert_int_equal(g3_chunk_check_finish(&c, &back, "pg/d/data/000001.copy", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"pg/d/data/000001.copy\" of table \"public.User\" fails its sha256 check");
	g3_chunk_check_release(&c);
	g3_chunk_header_release(&back);
	assert_int_equal(g3_chunk_header_parse("{\"schema\":\"s\",\"table\":\"t\",\"columns\":[],\"part\":1,\"last\":true,\"rows\":-1,\"bytes\":0,\"sha256\":\"x\"}",
					       100, "h.json", &back, &err), G3_USAGE);
	g3_buf_release(&json);
}

static void test_member_kind(void **state)
{
	char db[64];
	uint64_t num;

	(void)state;
	assert_int_equal(g3_snap_member_kind("pg/fence/data/000012.copy", db, sizeof(db), &num),
			 G3_MEMBER_CHUNK);
	assert_string_equal(db, "fence");
	assert_int_equal(num, 12);
	assert_int_equal(g3_snap_member_kind("pg/fence/data/000012.json", db, sizeof(db), &num),
			 G3_MEMBER_CHUNK_HEADER);
	assert_int_equal(g3_snap_member_kind("pg/fence/pre-data.sql", db, sizeof(db), NULL),
			 G3_MEMBER_PRE_DATA);
	assert_int_equal(g3_snap_member_kind("es/dev_case/settings.json", db, sizeof(db), NULL),
			 G3_MEMBER_ES);
	assert_string_equal(db, "dev_case");
	assert_int_equal(g3_snap_member_kind("manifest.json", db, sizeof(db), NULL), G3_MEMBER_MANIFEST);
	assert_int_equal(g3_snap_member_kind("pg/x/data/abc.copy", db, sizeof(db), NULL), G3_MEMBER_OTHER);
}

static void test_postdata_split(void **state)
{
	static const char sql[] =
		"--\n-- PostgreSQL database dump\n--\n\n"
		"SET statement_timeout = 0;\n"
		"SELECT pg_catalog.set_config('search_path', '', false);\n\n"
		"--\n-- Name: User User_pkey; Type: CONSTRAINT; Schema: public; Owner: -\n--\n\n"
		"ALTER TABLE ONLY public.\"User\"\n    ADD CONSTRAINT \"User_pkey\" PRIMARY KEY (id);\n\n\n"
		"SET default_tablespace = '';\n\n"
		"--\n-- Name: ix; Type: INDEX; Schema: s2; Owner: -\n--\n\n"
		"CREATE INDEX ix ON s2.\"we\"\"ird\" USING btree (a);\n\n\n"
		"--\n-- Name: t trg; Type: TRIGGER; Schema: public; Owner: -\n--\n\n"
		"CREATE TRIGGER trg BEFORE UPDATE OF \"on\" ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();\n\n\n"
		"--\n-- Name: c c_fk; Type: FK CONSTRAINT; Schema: public; Owner: -\n--\n\n"
		"ALTER TABLE ONLY public.c\n    ADD CONSTRAINT c_fk FOREIGN KEY (p) REFERENCES public.\"User\"(id);\n\n"
		"--\n-- PostgreSQL database dump complete\n--\n\n";
	g3_postdata p, back;
	g3_buf json = G3_BUF_INIT;
	g3_err err;

	(void)state;
	g3_postdata_split(sql, strlen(sql), &p);
	assert_string_equal(p.preamble, "SET statement_timeout = 0;\n"
			    "SELECT pg_catalog.set_config('search_path', '', false);\n");
	assert_int_equal(p.n_items, 4);
	assert_string_equal(p.items[0].kind, "CONSTRAINT");
	assert_string_equal(p.items[0].name, "User User_pkey");
	assert_string_equal(p.items[0].table_schema, "public");
	assert_string_equal(p.items[0].table, "User");
	assert_string_equal(p.items[0].sql, "ALTER TABLE ONLY public.\"User\"\n    ADD CONSTRAINT \"User_pkey\" PRIMARY KEY (id);\n");
	assert_string_equal(p.items[1].kind, "INDEX");
	assert_string_equal(p.items[1].table_schema, "s2");
	assert_string_equal(p.items[1].table, "we\"ird");
	assert_string_equal(p.items[2].table, "t");
	assert_string_equal(p.items[3].kind, "FK CONSTRAINT");
	assert_string_equal(p.items[3].table, "c");
	g3_postdata_to_json(&p, &json);
	g3_err_init(&err);
	assert_int_equal(g3_postdata_parse(json.data, json.len, &back, &err), G3_OK);
	{
		/* found by fuzzing: an unterminated quoted name at the very end */
		static const char bad[] = "-- Name: x; Type: INDEX; Schema: s; Owner: -\nCREATE INDEX x ON \"";
		g3_postdata q;

		g3_postdata_split(bad, strlen(bad), &q);
		assert_int_equal(q.n_items, 1);
		assert_null(q.items[0].table);
		g3_postdata_release(&q);
	}
	assert_int_equal(back.n_items, 4);
	assert_string_equal(back.items[1].sql, p.items[1].sql);
	g3_postdata_release(&back);
	g3_postdata_release(&p);
	g3_buf_release(&json);
}

static void test_end(void **state)
{
	g3_snap_end e, back;
	g3_end_database *d;
	g3_end_table *t;
	g3_buf json = G3_BUF_INIT;
	g3_err err;

	(void)state;
	g3_snap_end_init(&e);
	e.members = 9;
	d = g3_snap_end_add_database(&e, "a");
	d->rows = 5;
	d->bytes = 50;
	d->chunks = 2;
	t = g3_snap_end_add_table(d, "public", "t");
	t->rows = 5;
	g3_snap_end_to_json(&e, &json);
	g3_err_init(&err);
	assert_int_equal(g3_snap_end_parse(json.data, json.len, &back, &err), G3_OK);
	assert_int_equal(back.members, 9);
	assert_int_equal(back.databases[0].chunks, 2);
	assert_int_equal(back.databases[0].tables[0].rows, 5);
	g3_snap_end_release(&back);
	g3_snap_end_release(&e);
	g3_buf_release(&json);
}

/* Writes a format-1 snapshot with the library's helpers, then reads it the
 * way a restore does: manifest first, each chunk verified against its
 * header while streaming, end.json last. tamper flips one data byte. */
static int snapshot_flow(int tamper, g3_err *verr)
{
	static const char rows[] = "1\ta\n2\t\\N\n3\tb\\tc\n";
	char *path = path_of("flow.tar.zst");
	g3_sink *sink = NULL;
	g3_snap_writer *w = NULL;
	g3_manifest m;
	g3_chunk_header h;
	g3_snap_end e;
	g3_end_database *ed;
	g3_buf json = G3_BUF_INIT, data = G3_BUF_INIT;
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_chunk_check check;
	g3_chunk_header got;
	g3_err err;
	const char *name;
	int64_t size;
	char *cols[] = { "id", "v" };
	char db[64];
	uint64_t num, members = 0;
	int st, seen_end = 0, verified = 0, have_header = 0;
	g3_rc rc = G3_OK;

	g3_err_init(&err);
	g3_manifest_init(&m);
	g3_snap_table *t = g3_manifest_add_table(g3_manifest_add_database(&m, "fence", "UTF8"),
						 "public", "t", 3, 8192);
	g3_manifest_add_column(t, "id", "integer");
	g3_manifest_add_column(t, "v", "text");
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(g3_snap_writer_open(sink, 3, 0, &w, &err), G3_OK);
	g3_manifest_to_json(&m, &json);
	assert_int_equal(g3_snap_add_member(w, G3_SNAP_MANIFEST, json.data, json.len, &err), G3_OK);
	g3_chunk_header_init(&h);
	h.schema = "public";
	h.table = "t";
	h.columns = cols;
	h.n_columns = 2;
	h.part = 1;
	h.last = 1;
	h.rows = 3;
	h.bytes = (int64_t)strlen(rows);
	g3_sha256_hex(rows, strlen(rows), h.sha256);
	g3_buf_reset(&json);
	g3_chunk_header_to_json(&h, &json);
	assert_int_equal(g3_snap_add_member(w, "pg/fence/data/000001.json", json.data, json.len, &err), G3_OK);
	g3_buf_add(&data, rows, strlen(rows));
	if (tamper)
		data.data[4] = 'X';
	assert_int_equal(g3_snap_add_member(w, "pg/fence/data/000001.copy", data.data, data.len, &err), G3_OK);
	g3_snap_end_init(&e);
	e.members = g3_snap_writer_members(w);
	ed = g3_snap_end_add_database(&e, "fence");
	ed->rows = 3;
	ed->bytes = h.bytes;
	ed->chunks = 1;
	g3_buf_reset(&json);
	g3_snap_end_to_json(&e, &json);
	assert_int_equal(g3_snap_add_member(w, G3_SNAP_END, json.data, json.len, &err), G3_OK);
	assert_int_equal(g3_snap_writer_finish(w, &err), G3_OK);
	g3_sink_close(sink);
	g3_snap_end_release(&e);
	g3_manifest_release(&m);

	/* read it back */
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &r, &err), G3_OK);
	while ((st = g3_reader_next(r, &name, &size, &err)) == 1) {
		g3_member_kind kind = g3_snap_member_kind(name, db, sizeof(db), &num);
		char buf[7];
		ssize_t n;

		assert_false(seen_end);
		if (members == 0)
			assert_int_equal(kind, G3_MEMBER_MANIFEST);
		if (kind == G3_MEMBER_CHUNK) {
			assert_true(have_header);
			g3_chunk_check_init(&check);
			while ((n = g3_reader_read(r, buf, sizeof(buf), &err)) > 0)
				g3_chunk_check_update(&check, buf, (size_t)n);
			assert_int_equal(n, 0);
			rc = g3_chunk_check_finish(&check, &got, name, verr);
			g3_chunk_check_release(&check);
			g3_chunk_header_release(&got);
			have_header = 0;
			if (rc)
				break;
			verified++;
		} else {
			g3_buf_reset(&json);
			assert_int_equal(g3_reader_slurp(r, 1 << 20, &json, &err), G3_OK);
			if (kind == G3_MEMBER_MANIFEST) {
				assert_int_equal(g3_manifest_parse(json.data, json.len, &m, &err), G3_OK);
				assert_non_null(g3_manifest_find_database(&m, "fence"));
				g3_manifest_release(&m);
			} else if (kind == G3_MEMBER_CHUNK_HEADER) {
				assert_int_equal(g3_chunk_header_parse(json.data, json.len, name, &got, &err), G3_OK);
				assert_string_equal(db, "fence");
				assert_int_equal(num, 1);
				have_header = 1;
			} else if (kind == G3_MEMBER_END) {
				assert_int_equal(g3_snap_end_parse(json.data, json.len, &e, &err), G3_OK);
				assert_int_equal(e.members, members);
				g3_snap_end_release(&e);
				seen_end = 1;
			}
		}
		members++;
	}
	if (!rc) {
		assert_int_equal(st, 0);
		assert_true(seen_end);
		assert_int_equal(verified, 1);
	}
	g3_reader_close(r);
	g3_source_close(src);
	g3_buf_release(&json);
	g3_buf_release(&data);
	free(path);
	return rc;
}

static void test_snapshot_flow(void **state)
{
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(snapshot_flow(0, &err), G3_OK);
	assert_int_equal(snapshot_flow(1, &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"pg/fence/data/000001.copy\" of table \"public.t\" fails its sha256 check");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_skip_unread_members),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_reject_names),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt_zstd),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_peek_and_empty),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_manifest_invalid),
		cmocka_unit_test(test_chunk_header_and_check),
		cmocka_unit_test(test_member_kind),
		cmocka_unit_test(test_postdata_split),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_snapshot_flow),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
