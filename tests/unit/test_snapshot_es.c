/*
 * The snapshot format's Elasticsearch members: member kinds, index.json,
 * documents chunk headers and their verification, end.json's indices, and
 * the manifest's index fields (docs/FORMAT.md, format_minor 1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/es/elasticdump.h"
#include "common/snap/snapshot.h"
#include "common/base/strbuf.h"

static void test_member_kinds(void **state)
{
	char ix[64];
	uint64_t n = 0;

	(void)state;
	assert_int_equal(g3_snap_member_kind("es/dev_case/index.json", ix, sizeof(ix), &n),
			 G3_MEMBER_ES_INDEX);
	assert_string_equal(ix, "dev_case");
	assert_int_equal(g3_snap_member_kind("es/dev_case/docs.000012.json", ix, sizeof(ix), &n),
			 G3_MEMBER_ES_DOCS_HEADER);
	assert_int_equal(n, 12);
	assert_int_equal(g3_snap_member_kind("es/a-b/docs.1234567.ndjson", ix, sizeof(ix), &n),
			 G3_MEMBER_ES_DOCS);
	assert_string_equal(ix, "a-b");
	assert_int_equal(n, 1234567);
	/* reserved and unknown: skipped by readers */
	assert_int_equal(g3_snap_member_kind("es/x/settings.json", ix, sizeof(ix), &n), G3_MEMBER_ES);
	assert_int_equal(g3_snap_member_kind("es/x/docs.12.sig", ix, sizeof(ix), &n), G3_MEMBER_ES);
	assert_int_equal(g3_snap_member_kind("es/x/docs.x1.json", ix, sizeof(ix), &n), G3_MEMBER_ES);
	assert_int_equal(g3_snap_member_kind("es//index.json", ix, sizeof(ix), &n), G3_MEMBER_OTHER);
	assert_int_equal(g3_snap_member_kind("es/x", ix, sizeof(ix), &n), G3_MEMBER_OTHER);
}

static void test_index_member_round_trip(void **state)
{
	const char *typed = "{\"_doc\":{\"properties\":{\"a\":{\"type\":\"keyword\"}}}}";
	json_object *mappings = json_tokener_parse(typed);
	json_object *settings = json_tokener_parse(
		"{\"index\":{\"uuid\":\"u\",\"creation_date\":\"1\",\"number_of_shards\":\"2\"}}");
	json_object *aliases = json_tokener_parse("{\"dev_case\":{},\"other\":{\"is_write_index\":true}}");
	g3_esdef d, back;
	g3_buf out = G3_BUF_INIT;
	g3_err err;
	json_object *v, *idx;

	(void)state;
	g3_err_init(&err);
	g3_esdef_init(&d);
	g3_esdef_init(&back);
	assert_int_equal(g3_esdef_from_json(&d, "dev_case_3", mappings, settings, aliases, &err), G3_OK);
	g3_es_index_member_to_json("dev_case", &d, &out);
	assert_int_equal(g3_es_index_member_parse(out.data, out.len, "es/dev_case/index.json", &back,
						  &err), G3_OK);
	assert_string_equal(back.source_index, "dev_case_3");
	assert_string_equal(back.type_name, "_doc");
	/* untyped, per-cluster settings gone, aliases kept */
	assert_true(json_object_object_get_ex(back.mappings, "properties", &v));
	assert_true(json_object_object_get_ex(back.settings, "index", &idx));
	assert_false(json_object_object_get_ex(idx, "uuid", &v));
	assert_false(json_object_object_get_ex(idx, "creation_date", &v));
	assert_true(json_object_object_get_ex(idx, "number_of_shards", &v));
	assert_true(json_object_object_get_ex(back.aliases, "other", &v));
	g3_esdef_release(&back);
	g3_esdef_init(&back);
	assert_int_equal(g3_es_index_member_parse("{\"name\":\"x\"}", 12, "es/x/index.json", &back,
						  &err), G3_USAGE);
	assert_string_equal(err.msg, "es/x/index.json: field \"mappings\" is missing");
	assert_int_equal(g3_es_index_member_parse("{\"name\":\"x\",\"mappings\":[]}", 27,
						  "es/x/index.json", &back, &err), G3_USAGE);
	assert_string_equal(err.msg, "es/x/index.json: field \"mappings\" must be an object");
	g3_esdef_release(&back);
	g3_esdef_release(&d);
	g3_buf_release(&out);
	json_object_put(mappings);
	json_object_put(settings);
	json_object_put(aliases);
}

static void test_docs_header_and_check(void **state)
{
	g3_buf chunk = G3_BUF_INIT, json = G3_BUF_INIT;
	g3_es_docs_header h, back;
	g3_chunk_check c;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_es_doc_line(&chunk, "a\"1", NULL, "{\"x\":1}", 7);
	g3_es_doc_line(&chunk, "b", "case", "{}", 2);
	assert_string_equal(chunk.data, "{\"_id\":\"a\\\"1\",\"_source\":{\"x\":1}}\n"
			    "{\"_id\":\"b\",\"_type\":\"case\",\"_source\":{}}\n");
	memset(&h, 0, sizeof(h));
	h.part = 3;
	h.last = 1;
	h.docs = 2;
	h.bytes = (int64_t)chunk.len;
	g3_sha256_hex(chunk.data, chunk.len, h.sha256);
	g3_es_docs_header_to_json(&h, &json);
	assert_int_equal(g3_es_docs_header_parse(json.data, json.len, "es/i/docs.000003.json", &back,
						 &err), G3_OK);
	assert_int_equal(back.part, 3);
	assert_int_equal(back.last, 1);
	assert_int_equal(back.docs, 2);
	assert_int_equal(back.bytes, (int64_t)chunk.len);
	assert_string_equal(back.sha256, h.sha256);

	g3_chunk_check_init(&c);
	g3_chunk_check_update(&c, chunk.data, 5);
	g3_chunk_check_update(&c, chunk.data + 5, chunk.len - 5);
	assert_int_equal(g3_es_docs_check_finish(&c, &back, "i", "es/i/docs.000003.ndjson", &err), G3_OK);
	g3_chunk_check_release(&c);

	chunk.data[10] ^= 1;
	g3_chunk_check_init(&c);
	g3_chunk_check_update(&c, chunk.data, chunk.len);
	assert_int_equal(g3_es_docs_check_finish(&c, &back, "i", "es/i/docs.000003.ndjson", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"es/i/docs.000003.ndjson\" of index \"i\" fails its sha256 check");
	g3_chunk_check_release(&c);

	back.docs = 3;
	g3_chunk_check_init(&c);
	g3_chunk_check_update(&c, chunk.data, chunk.len);
	assert_int_equal(g3_es_docs_check_finish(&c, &back, "i", "m", &err), G3_FAIL);
	assert_string_equal(err.msg, "member \"m\" of index \"i\" holds 2 documents, its header says 3");
	g3_chunk_check_release(&c);

	assert_int_equal(g3_es_docs_header_parse("{\"part\":1,\"last\":true,\"docs\":-1,\"bytes\":0,"
						 "\"sha256\":\"x\"}", 57, "h", &back, &err), G3_USAGE);
	assert_string_equal(err.msg, "h: field \"docs\" is negative");
	g3_buf_release(&chunk);
	g3_buf_release(&json);
}

static void test_end_and_manifest_indices(void **state)
{
	g3_snap_end e, back;
	g3_manifest m, mb;
	g3_end_index *x;
	g3_snap_index *mi;
	g3_buf out = G3_BUF_INIT;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_snap_end_init(&e);
	e.members = 9;
	x = g3_snap_end_add_index(&e, "dev_case");
	x->docs = 212;
	x->bytes = 200583;
	x->chunks = 4;
	g3_snap_end_to_json(&e, &out);
	assert_int_equal(g3_snap_end_parse(out.data, out.len, &back, &err), G3_OK);
	assert_int_equal(back.n_indices, 1);
	assert_string_equal(back.indices[0].name, "dev_case");
	assert_int_equal(back.indices[0].docs, 212);
	assert_int_equal(back.indices[0].bytes, 200583);
	assert_int_equal(back.indices[0].chunks, 4);
	g3_snap_end_release(&back);
	g3_snap_end_release(&e);

	g3_buf_reset(&out);
	g3_manifest_init(&m);
	m.format_version = 1;
	m.format_minor = G3_SNAP_FORMAT_MINOR;
	mi = g3_manifest_add_index(&m, "dev_file", 354, -1);
	mi->concrete = strdup("dev_file_2");
	mi->source_distribution = strdup("opensearch");
	mi->source_version = strdup("2.11.0");
	g3_manifest_to_json(&m, &out);
	assert_int_equal(g3_manifest_parse(out.data, out.len, &mb, &err), G3_OK);
	assert_int_equal(mb.format_minor, G3_SNAP_FORMAT_MINOR);
	assert_non_null(g3_manifest_find_index(&mb, "dev_file"));
	assert_null(g3_manifest_find_index(&mb, "dev_case"));
	assert_string_equal(mb.indices[0].concrete, "dev_file_2");
	assert_string_equal(mb.indices[0].source_distribution, "opensearch");
	assert_string_equal(mb.indices[0].source_version, "2.11.0");
	assert_int_equal(mb.indices[0].docs, 354);
	g3_manifest_release(&mb);
	g3_manifest_release(&m);
	g3_buf_release(&out);

	/* an index name that cannot name members is refused */
	{
		const char *bad = "{\"format\":\"gen3db-snapshot\",\"format_version\":1,"
				  "\"format_minor\":1,\"databases\":[],\"indices\":[{\"name\":\"a/b\"}]}";

		assert_int_equal(g3_manifest_parse(bad, strlen(bad), &mb, &err), G3_USAGE);
		assert_string_equal(err.msg, "manifest.json: index name \"a/b\" cannot name snapshot members");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_kinds),
		cmocka_unit_test(test_index_member_round_trip),
		cmocka_unit_test(test_docs_header_and_check),
		cmocka_unit_test(test_end_and_manifest_indices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
