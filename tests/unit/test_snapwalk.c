/*
 * The snapshot walk (walk.h): a well-formed snapshot built here walks with
 * the callbacks in order and the data streamed in pieces; each kind of
 * damage (a member out of order, a chunk without its header, a sha256 or
 * row count that differs from the header, end.json's sums, a stream cut
 * before end.json) fails with the message naming the member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/strbuf.h"
#include "common/es/elasticdump.h"
#include "common/io/sink.h"
#include "common/io/source.h"
#include "common/snap/snapreader.h"
#include "common/snap/snapshot.h"
#include "common/snap/snapwriter.h"
#include "common/snap/walk.h"

enum damage {
	INTACT,
	PARTS_SWAPPED,          /* chunk 2 (header and data) before chunk 1 */
	NO_HEADER,              /* chunk 1's header left out */
	SHA_CHANGED,            /* chunk 1's bytes changed, same size and rows */
	ROWS_CHANGED,           /* chunk 1's header counts a row more */
	END_SUMS,               /* end.json's database rows one more */
	CUT,                    /* the stream ends before end.json */
	ES_SHA_CHANGED          /* the documents chunk's bytes changed */
};

static char tmpdir[256];
static char path[300];

static void add(g3_snap_writer *w, const char *name, const char *data, size_t len)
{
	g3_err err;

	g3_err_init(&err);
	assert_int_equal(g3_snap_add_member(w, name, data, len, &err), G3_OK);
}

static void add_chunk(g3_snap_writer *w, int part, const char *data, int64_t extra_rows,
		      const char *stored)
{
	g3_chunk_header h;
	g3_buf json = G3_BUF_INIT;
	char name[64];
	static char *cols[] = { "id" };

	g3_chunk_header_init(&h);
	h.schema = "public";
	h.table = "t";
	h.columns = cols;
	h.n_columns = 1;
	h.part = (uint64_t)part;
	h.last = part == 2;
	h.bytes = (int64_t)strlen(data);
	h.rows = extra_rows;
	for (const char *p = data; *p; p++)
		h.rows += *p == '\n';
	g3_sha256_hex(data, strlen(data), h.sha256);
	g3_chunk_header_to_json(&h, &json);
	snprintf(name, sizeof(name), "pg/a/data/%06d.json", part);
	if (json.len)
		add(w, name, json.data, json.len);
	snprintf(name, sizeof(name), "pg/a/data/%06d.copy", part);
	/* as dump does: the header's sha256 vouches for the bytes */
	g3_snap_writer_member_sum(w, h.sha256);
	add(w, name, stored, strlen(stored));
	g3_buf_release(&json);
}

static const char docs[] = "{\"_id\":\"1\",\"_source\":{\"n\":1}}\n";

static void add_es(g3_snap_writer *w, enum damage d)
{
	g3_es_docs_header h;
	g3_esdef def;
	g3_buf json = G3_BUF_INIT;

	g3_esdef_init(&def);
	g3_es_index_member_to_json("ix", &def, &json);
	add(w, "es/ix/index.json", json.data, json.len);
	g3_buf_reset(&json);
	memset(&h, 0, sizeof(h));
	h.part = 1;
	h.last = 1;
	h.docs = 1;
	h.bytes = (int64_t)strlen(docs);
	g3_sha256_hex(docs, strlen(docs), h.sha256);
	g3_es_docs_header_to_json(&h, &json);
	add(w, "es/ix/docs.000001.json", json.data, json.len);
	g3_snap_writer_member_sum(w, h.sha256);
	add(w, "es/ix/docs.000001.ndjson",
	    d == ES_SHA_CHANGED ? "{\"_id\":\"1\",\"_source\":{\"n\":2}}\n" : docs, strlen(docs));
	g3_buf_release(&json);
	g3_esdef_release(&def);
}

static void add_end(g3_snap_writer *w, enum damage d)
{
	const g3_snap_log *log = g3_snap_writer_log(w);
	g3_snap_end e;
	g3_end_database *db;
	g3_end_index *x;
	g3_buf json = G3_BUF_INIT;

	g3_snap_end_init(&e);
	e.members = g3_snap_writer_members(w);
	db = g3_snap_end_add_database(&e, "a");
	db->rows = 3 + (d == END_SUMS);
	db->bytes = 6;
	db->chunks = 2;
	x = g3_snap_end_add_index(&e, "ix");
	x->docs = 1;
	x->bytes = (int64_t)strlen(docs);
	x->chunks = 1;
	e.has_sums = 1;
	for (size_t i = 0; i < log->n; i++)
		g3_snap_log_add(&e.sums, log->v[i].name, log->v[i].bytes, log->v[i].sha256);
	g3_snap_end_to_json(&e, &json);
	add(w, G3_SNAP_END, json.data, json.len);
	g3_buf_release(&json);
	g3_snap_end_release(&e);
}

/* Writes the snapshot to path: database "a" with table public.t in two
 * chunks ("1\n2\n", "3\n"), index "ix" with one document. */
static void build(enum damage d)
{
	g3_sink *sink = NULL;
	g3_snap_writer *w = NULL;
	g3_manifest m;
	g3_snap_table *t;
	g3_buf json = G3_BUF_INIT;
	g3_err err;

	g3_err_init(&err);
	g3_manifest_init(&m);
	t = g3_manifest_add_table(g3_manifest_add_database(&m, "a", "UTF8"), "public", "t", 3, 6);
	g3_manifest_add_column(t, "id", "integer");
	g3_manifest_add_index(&m, "ix", 1, -1);
	g3_manifest_to_json(&m, &json);
	snprintf(path, sizeof(path), "%s/s.tar.zst", tmpdir);
	assert_int_equal(g3_sink_open(path, &sink, &err), G3_OK);
	assert_int_equal(g3_snap_writer_open(sink, 3, 0, &w, &err), G3_OK);
	add(w, G3_SNAP_MANIFEST, json.data, json.len);
	add(w, "pg/a/pre-data.sql", "CREATE TABLE t (id int);\n", 25);
	if (d == PARTS_SWAPPED)
		add_chunk(w, 2, "3\n", 0, "3\n");
	if (d == NO_HEADER)
		add(w, "pg/a/data/000001.copy", "1\n2\n", 4);
	else
		add_chunk(w, 1, "1\n2\n", d == ROWS_CHANGED,
			  d == SHA_CHANGED ? "1\n5\n" : "1\n2\n");
	if (d != PARTS_SWAPPED)
		add_chunk(w, 2, "3\n", 0, "3\n");
	add(w, "pg/a/post-data.sql", "", 0);
	add(w, "pg/a/sequences.sql", "", 0);
	add_es(w, d);
	if (d != CUT)
		add_end(w, d);
	assert_int_equal(g3_snap_writer_finish(w, &err), G3_OK);
	g3_sink_close(sink);
	g3_buf_release(&json);
	g3_manifest_release(&m);
}

/* ---- callbacks that write down what they saw -------------------------- */

struct rec {
	g3_buf log;
	int es_failures;        /* es_failed called (and went on) */
};

static g3_rc on_db_begin(void *u, const g3_snap_database *db, g3_err *err)
{
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "db_begin %s\n", db->name);
	return G3_OK;
}

static g3_rc on_db_end(void *u, const g3_snap_database *db, g3_err *err)
{
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "db_end %s\n", db->name);
	return G3_OK;
}

static g3_rc on_sql(void *u, const g3_snap_database *db, g3_member_kind kind,
		    const char *member, g3_err *err)
{
	(void)db;
	(void)kind;
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "sql %s\n", member);
	return G3_OK;
}

/* Reads one byte at a time: the data comes in pieces. */
static void read_pieces(struct rec *r, g3_snapwalk *w)
{
	char c;
	g3_err err;
	int pieces = 0;

	g3_err_init(&err);
	while (g3_snapwalk_read(w, &c, 1, &err) == 1)
		pieces++;
	g3_buf_addf(&r->log, " in %d pieces\n", pieces);
}

static g3_rc on_chunk(void *u, g3_snapwalk *w, const g3_snap_database *db,
		      const g3_chunk_header *h, const char *member, g3_err *err)
{
	(void)db;
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "chunk %s part %llu", member,
		    (unsigned long long)h->part);
	read_pieces(u, w);
	return G3_OK;
}

static g3_rc on_chunk_done(void *u, const g3_snap_database *db, const g3_chunk_header *h,
			   const char *member, g3_err *err)
{
	(void)db;
	(void)h;
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "chunk_done %s\n", member);
	return G3_OK;
}

static g3_rc on_es_index(void *u, const char *index, const char *member, g3_esdef *def,
			 g3_err *err)
{
	(void)member;
	(void)err;
	assert_non_null(def->mappings);
	g3_buf_addf(&((struct rec *)u)->log, "es_index %s\n", index);
	return G3_OK;
}

static g3_rc on_es_docs(void *u, g3_snapwalk *w, const char *index,
			const g3_es_docs_header *h, const char *member, g3_err *err)
{
	(void)index;
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "es_docs %s docs %lld", member, (long long)h->docs);
	read_pieces(u, w);
	return G3_OK;
}

static g3_rc on_es_docs_done(void *u, const char *index, const g3_es_docs_header *h,
			     g3_err *err)
{
	(void)h;
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "es_docs_done %s\n", index);
	return G3_OK;
}

static g3_rc on_es_failed(void *u, const char *index, g3_err *why, g3_err *err)
{
	struct rec *r = u;

	(void)err;
	r->es_failures++;
	g3_buf_addf(&r->log, "es_failed %s: %s\n", index, why->msg);
	return G3_OK;
}

static int failures_wanted(void *u, const char *index)
{
	(void)index;
	return !((struct rec *)u)->es_failures;
}

static g3_rc on_end(void *u, const g3_snap_end *e, g3_err *err)
{
	(void)err;
	g3_buf_addf(&((struct rec *)u)->log, "end %llu\n", (unsigned long long)e->members);
	return G3_OK;
}

static const g3_snapwalk_ops ops = {
	.db_begin = on_db_begin, .db_end = on_db_end, .sql = on_sql,
	.chunk = on_chunk, .chunk_done = on_chunk_done,
	.es_index = on_es_index, .es_docs = on_es_docs, .es_docs_done = on_es_docs_done,
	.end = on_end,
};

/* Walks path with ops; the result, its message in msg, the log in r. */
static g3_rc walk(const g3_snapwalk_ops *o, struct rec *r, const char *label, char *msg,
		  size_t size)
{
	g3_source *src = NULL;
	g3_reader *rd = NULL;
	g3_manifest m;
	g3_snapwalk w;
	g3_err err;
	g3_rc rc;

	g3_err_init(&err);
	g3_manifest_init(&m);
	assert_int_equal(g3_source_open(path, &src, &err), G3_OK);
	assert_int_equal(g3_reader_open(src, &rd, &err), G3_OK);
	assert_int_equal(g3_snap_read_manifest(rd, src->name, &m, &err), G3_OK);
	g3_snapwalk_init(&w, rd, src, &m, o, r);
	w.label = label;
	rc = g3_snapwalk_run(&w, &err);
	snprintf(msg, size, "%s", err.msg);
	if (!rc) {
		assert_int_equal(w.chunks, 2);
		assert_int_equal(w.es_chunks, r && r->es_failures ? 0 : 1);
		assert_int_equal(w.n_dbs, 1);
		assert_int_equal(w.dbs[0].rows, 3);
		assert_true(w.has_sums);
	}
	g3_snapwalk_release(&w);
	g3_reader_close(rd);
	g3_source_close(src);
	g3_manifest_release(&m);
	return rc;
}

static void test_intact(void **state)
{
	struct rec r = { G3_BUF_INIT, 0 };
	char msg[1024];

	(void)state;
	build(INTACT);
	assert_int_equal(walk(&ops, &r, NULL, msg, sizeof(msg)), G3_OK);
	assert_string_equal(r.log.data,
			    "db_begin a\n"
			    "sql pg/a/pre-data.sql\n"
			    "chunk pg/a/data/000001.copy part 1 in 4 pieces\n"
			    "chunk_done pg/a/data/000001.copy\n"
			    "chunk pg/a/data/000002.copy part 2 in 2 pieces\n"
			    "chunk_done pg/a/data/000002.copy\n"
			    "sql pg/a/post-data.sql\n"
			    "sql pg/a/sequences.sql\n"
			    "db_end a\n"
			    "es_index ix\n"
			    "es_docs es/ix/docs.000001.ndjson docs 1 in 30 pieces\n"
			    "es_docs_done ix\n"
			    "end 11\n");
	g3_buf_release(&r.log);
	/* no callbacks at all (verify): the same checks */
	assert_int_equal(walk(NULL, NULL, NULL, msg, sizeof(msg)), G3_OK);
}

static void expect(enum damage d, const char *label, const char *want)
{
	struct rec r = { G3_BUF_INIT, 0 };
	char msg[1024];

	build(d);
	assert_int_equal(walk(&ops, &r, label, msg, sizeof(msg)), G3_FAIL);
	assert_string_equal(msg, want);
	g3_buf_release(&r.log);
}

static void test_damage(void **state)
{
	char want[1024];

	(void)state;
	expect(PARTS_SWAPPED, NULL, "member \"pg/a/data/000002.json\": table \"public.t\" has "
	       "part 2 where part 1 was expected");
	expect(NO_HEADER, NULL, "member \"pg/a/data/000001.copy\" is not preceded by its header");
	expect(SHA_CHANGED, NULL, "member \"pg/a/data/000001.copy\" of table \"public.t\" fails "
	       "its sha256 check");
	expect(ROWS_CHANGED, NULL, "member \"pg/a/data/000001.copy\" of table \"public.t\" holds "
	       "2 rows, its header says 3");
	expect(END_SUMS, NULL, "end.json: database \"a\" should hold 4 rows, 6 bytes in 2 chunks; "
	       "the snapshot holds 3 rows, 6 bytes in 2");
	snprintf(want, sizeof(want), "snapshot \"%s\" is truncated: it ends after 11 members "
		 "without end.json", path);
	expect(CUT, NULL, want);
	/* with a label, the walk's findings name the snapshot */
	expect(SHA_CHANGED, "x.tar.zst", "snapshot \"x.tar.zst\": member \"pg/a/data/000001.copy\" "
	       "of table \"public.t\" fails its sha256 check");
	expect(ES_SHA_CHANGED, NULL, "member \"es/ix/docs.000001.ndjson\" of index \"ix\" fails "
	       "its sha256 check");
}

/* es_failed takes an index's fault and the walk goes on without it. */
static void test_es_failed(void **state)
{
	g3_snapwalk_ops o = ops;
	struct rec r = { G3_BUF_INIT, 0 };
	char msg[1024];
	g3_rc rc;

	(void)state;
	o.es_failed = on_es_failed;
	o.es_wanted = failures_wanted;
	build(ES_SHA_CHANGED);
	rc = walk(&o, &r, "x", msg, sizeof(msg));
	/* end.json's member_sums list the header's sha256 for the chunk, and
	 * the damaged bytes were logged with it: only the index failed */
	assert_int_equal(rc, G3_OK);
	assert_int_equal(r.es_failures, 1);
	assert_non_null(strstr(r.log.data, "es_failed ix: member \"es/ix/docs.000001.ndjson\" of "
			       "index \"ix\" fails its sha256 check\n"));
	assert_null(strstr(r.log.data, "es_docs_done"));
	g3_buf_release(&r.log);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/g3-test-walk-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intact),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_es_failed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
