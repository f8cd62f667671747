/*
 * Unit tests of elasticdump's layout: definition files, typed mappings,
 * per-cluster settings, the streaming document reader and writer.
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

#include "common/es/elasticdump.h"
#include "common/base/strbuf.h"

static char dir[] = "/tmp/g3edump-XXXXXX";

static void put(const char *name, const char *text)
{
	g3_buf p = G3_BUF_INIT;
	FILE *f;

	g3_buf_addf(&p, "%s/%s", dir, name);
	f = fopen(p.data, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	g3_buf_release(&p);
}

static const char *json(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void test_untype(void **state)
{
	static const struct { const char *in, *type, *out; } cases[] = {
		{ "{\"properties\":{\"a\":{\"type\":\"long\"}}}", NULL, "{\"properties\":{\"a\":{\"type\":\"long\"}}}" },
		{ "{\"_doc\":{\"properties\":{\"a\":{\"type\":\"long\"}}}}", "_doc", "{\"properties\":{\"a\":{\"type\":\"long\"}}}" },
		{ "{\"case\":{\"dynamic\":false}}", "case", "{\"dynamic\":false}" },
		{ "{\"dynamic_templates\":[]}", NULL, "{\"dynamic_templates\":[]}" },
		{ "{\"_source\":{\"enabled\":false}}", NULL, "{\"_source\":{\"enabled\":false}}" },
		{ "{}", NULL, "{}" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *in = json_tokener_parse(cases[i].in), *out;
		char *type = NULL;

		out = g3_es_mapping_untype(in, &type);
		if (cases[i].type)
			assert_string_equal(type, cases[i].type);
		else
			assert_null(type);
		assert_string_equal(json(out), cases[i].out);
		free(type);
		json_object_put(out);
		json_object_put(in);
	}
}

static void test_settings_clean(void **state)
{
	json_object *s = json_tokener_parse(
		"{\"index\":{\"number_of_shards\":\"1\",\"uuid\":\"u\",\"creation_date\":\"1\","
		"\"version\":{\"created\":\"7\"},\"provided_name\":\"x_0\",\"max_ngram_diff\":\"20\","
		"\"routing\":{\"allocation\":{\"initial_recovery\":{\"_id\":\"n\"}}}},"
		"\"index.history_uuid\":\"h\",\"index.blocks.write\":\"true\",\"index.version.created\":\"6\"}");

	(void)state;
	g3_es_settings_clean(s);
	assert_string_equal(json(s), "{\"index\":{\"number_of_shards\":\"1\",\"max_ngram_diff\":\"20\"},"
			    "\"index.blocks.write\":\"true\"}");
	json_object_put(s);
}

static void test_read_definition_and_create_body(void **state)
{
	g3_edump_files f;
	g3_esdef d;
	g3_err err;
	json_object *body;

	(void)state;
	g3_err_init(&err);
	put("x__mapping.json", "{\"x_3\":{\"mappings\":{\"_doc\":{\"properties\":{\"a\":{\"type\":\"keyword\"}}}}}}\n");
	put("x__settings.json", "{\"x_3\":{\"settings\":{\"index\":{\"number_of_shards\":\"2\",\"uuid\":\"zz\"}}}}");
	put("x__alias.json", "{\"x_3\":{\"aliases\":{\"x\":{},\"other\":{\"filter\":{\"term\":{\"a\":\"b\"}}}}}}");
	put("x__data.json", "");
	assert_int_equal(g3_edump_locate(dir, "x", &f, &err), G3_OK);
	assert_non_null(f.settings);
	assert_non_null(f.alias);
	g3_esdef_init(&d);
	assert_int_equal(g3_esdef_read(&d, &f, &err), G3_OK);
	assert_string_equal(d.source_index, "x_3");
	assert_string_equal(d.type_name, "_doc");
	body = g3_esdef_create_body(&d, 0);
	assert_string_equal(json(body), "{\"settings\":{\"index\":{\"number_of_shards\":\"2\"}},"
			    "\"mappings\":{\"properties\":{\"a\":{\"type\":\"keyword\"}}}}");
	json_object_put(body);
	body = g3_esdef_create_body(&d, 1);
	assert_string_equal(json(body), "{\"settings\":{\"index\":{\"number_of_shards\":\"2\"}},"
			    "\"mappings\":{\"_doc\":{\"properties\":{\"a\":{\"type\":\"keyword\"}}}}}");
	json_object_put(body);
	g3_esdef_release(&d);
	g3_edump_files_release(&f);

	/* a mapping file that is not JSON */
	put("x__mapping.json", "{\"x_3\":{\"mappings\":\n{\"properties\": oops}}}");
	assert_int_equal(g3_edump_locate(dir, "x", &f, &err), G3_OK);
	g3_esdef_init(&d);
	assert_int_equal(g3_esdef_read(&d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "x__mapping.json\" is not valid JSON (line 2)"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);

	put("x__mapping.json", "");
	assert_int_equal(g3_edump_locate(dir, "x", &f, &err), G3_OK);
	g3_esdef_init(&d);
	assert_int_equal(g3_esdef_read(&d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "is not valid JSON: the file is empty"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);

	put("x__mapping.json", "[1,2]");
	assert_int_equal(g3_edump_locate(dir, "x", &f, &err), G3_OK);
	g3_esdef_init(&d);
	assert_int_equal(g3_esdef_read(&d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "is not {\"<index>\": {\"mappings\": ...}}"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);

	assert_int_equal(g3_edump_locate(dir, "nothere", &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "no mapping file for index \"nothere\""));
	assert_int_equal(g3_edump_locate(dir, "../x", &f, &err), G3_USAGE);
}

static void drop(const char *name)
{
	g3_buf p = G3_BUF_INIT;

	g3_buf_addf(&p, "%s/%s", dir, name);
	unlink(p.data);
	g3_buf_release(&p);
}

/* Reads index name's definition from dir; the error text when it fails. */
static g3_rc read_def(const char *name, g3_esdef *d, g3_edump_files *f, g3_err *err)
{
	g3_rc rc;

	g3_err_init(err);
	g3_esdef_init(d);
	if ((rc = g3_edump_locate(dir, name, f, err)))
		return rc;
	return g3_esdef_read(d, f, err);
}

/* elasticdump 6 writes settings, analyzer, alias, template and index files
 * as a JSON string holding the document; the name inside is not the
 * target's. */
static void test_string_encoded_definitions(void **state)
{
	g3_edump_files f;
	g3_esdef d;
	g3_err err;
	json_object *body;

	(void)state;
	put("copy__mapping.json", "{\"src\":{\"mappings\":{\"properties\":{\"a\":{\"type\":\"text\","
	    "\"analyzer\":\"my\"}}}}}\n");
	put("copy__settings.json", "\"{\\\"src\\\":{\\\"settings\\\":{\\\"index\\\":{\\\"number_of_shards"
	    "\\\":\\\"1\\\",\\\"uuid\\\":\\\"u\\\"}}},\\\"src_alias\\\":{}}\"\n");
	put("copy__analyzer.json", "\"{\\\"src\\\":{\\\"settings\\\":{\\\"index\\\":{\\\"analysis\\\":"
	    "{\\\"analyzer\\\":{\\\"my\\\":{\\\"type\\\":\\\"standard\\\"}}},\\\"number_of_shards\\\":"
	    "\\\"9\\\"}}}}\"\n");
	put("copy__alias.json", "\"{\\\"src\\\":{\\\"aliases\\\":{\\\"src_alias\\\":{}}}}\"\n");
	put("copy__template.json", "\"{\\\"t1\\\":{\\\"order\\\":0,\\\"index_patterns\\\":[\\\"s*\\\"]}}\"");
	put("copy__data.json", "");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_OK);
	assert_string_equal(f.layout, "elasticdump");
	assert_non_null(f.analyzer);
	assert_non_null(f.templates);
	assert_string_equal(d.source_index, "src");
	assert_string_equal(json(d.aliases), "{\"src_alias\":{}}");
	/* only the analysis of the analyzer file is taken */
	body = g3_esdef_create_body(&d, 0);
	assert_string_equal(json(body), "{\"settings\":{\"index\":{\"number_of_shards\":\"1\","
			    "\"analysis\":{\"analyzer\":{\"my\":{\"type\":\"standard\"}}}}},"
			    "\"mappings\":{\"properties\":{\"a\":{\"type\":\"text\",\"analyzer\":\"my\"}}}}");
	json_object_put(body);
	g3_esdef_release(&d);
	g3_edump_files_release(&f);

	/* the settings file's analysis and the analyzer file's must agree */
	put("copy__settings.json", "{\"src\":{\"settings\":{\"index\":{\"analysis\":{\"analyzer\":"
	    "{\"my\":{\"type\":\"simple\"}}}}}}}");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "copy__analyzer.json\" and the settings file give different "
			       "analysis settings"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	drop("copy__settings.json");

	/* a string that does not hold JSON */
	put("copy__alias.json", "\"{\\\"src\\\":{\\\"aliases\\\":\"");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "copy__alias.json\" holds a JSON string that is not a JSON "
			       "document"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	put("copy__alias.json", "\"{} x\"");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "holds a JSON string that is not a JSON document"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	put("copy__alias.json", "\"[1]\"");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "copy__alias.json\" is not {\"<index>\": {\"aliases\": ...}}"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	drop("copy__alias.json");
	put("copy__template.json", "\"[]\"");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "copy__template.json\" is not {\"<template>\": {...}}"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	drop("copy__template.json");
	drop("copy__analyzer.json");

	/* --type=index: the whole definition, when there is no mapping file */
	drop("copy__mapping.json");
	put("copy__index.json", "\"{\\\"src\\\":{\\\"aliases\\\":{\\\"al\\\":{}},\\\"mappings\\\":"
	    "{\\\"properties\\\":{}},\\\"settings\\\":{\\\"index\\\":{\\\"number_of_shards\\\":"
	    "\\\"4\\\",\\\"creation_date\\\":\\\"1\\\"}}}}\"");
	assert_int_equal(read_def("copy", &d, &f, &err), G3_OK);
	assert_null(f.mapping);
	assert_string_equal(json(d.settings), "{\"index\":{\"number_of_shards\":\"4\"}}");
	assert_string_equal(json(d.aliases), "{\"al\":{}}");
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	drop("copy__index.json");
	drop("copy__data.json");
}

/* a definition file too large to be one is refused, naming the file */
static void test_definition_size_bound(void **state)
{
	g3_buf p = G3_BUF_INIT;
	g3_edump_files f;
	g3_esdef d;
	g3_err err;
	FILE *fp;

	(void)state;
	g3_buf_addf(&p, "%s/big__mapping.json", dir);
	fp = fopen(p.data, "w");
	assert_non_null(fp);
	fputc('"', fp);
	for (long i = 0; i <= G3_EDUMP_DEF_MAX / 4096; i++)
		for (int k = 0; k < 4096; k++)
			fputc('a', fp);
	fputs("\"\n", fp);
	fclose(fp);
	put("big__data.json", "");
	assert_int_equal(read_def("big", &d, &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "big__mapping.json\" is larger than 64 MiB"));
	g3_esdef_release(&d);
	g3_edump_files_release(&f);
	unlink(p.data);
	g3_buf_release(&p);
	drop("big__data.json");
}

/* multielasticdump's names, and an index in both layouts */
static void test_multielasticdump_layout(void **state)
{
	g3_edump_files f;
	g3_esdef d;
	g3_err err;

	(void)state;
	put("m.mapping.json", "{\"m\":{\"mappings\":{\"properties\":{}}}}\n");
	put("m.settings.json", "\"{\\\"m\\\":{\\\"settings\\\":{\\\"index\\\":{\\\"number_of_shards"
	    "\\\":\\\"3\\\"}}}}\"\n");
	put("m.json", "");
	assert_int_equal(read_def("m", &d, &f, &err), G3_OK);
	assert_string_equal(f.layout, "multielasticdump");
	assert_non_null(strstr(f.data, "/m.json"));
	assert_null(f.alias);
	assert_string_equal(json(d.settings), "{\"index\":{\"number_of_shards\":\"3\"}}");
	g3_esdef_release(&d);
	g3_edump_files_release(&f);

	drop("m.json");
	assert_int_equal(g3_edump_locate(dir, "m", &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "no data file for index \"m\""));
	assert_non_null(strstr(err.msg, "/m.json\" is missing"));
	put("m.json", "");

	put("m__data.json", "");
	assert_int_equal(g3_edump_locate(dir, "m", &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "index \"m\" is in two layouts"));
	drop("m__data.json");

	drop("m.mapping.json");
	assert_int_equal(g3_edump_locate(dir, "m", &f, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "no mapping file for index \"m\""));
	assert_non_null(strstr(err.msg, "/m.mapping.json\" is missing"));
	assert_non_null(strstr(err.hint, "multielasticdump"));
	drop("m.settings.json");
	drop("m.json");
}

static void test_docreader(void **state)
{
	g3_docreader r;
	g3_buf p = G3_BUF_INIT;
	const char *id, *src;
	size_t len;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	put("y__data.json",
	    "{\"_index\":\"y_0\",\"_type\":\"_doc\",\"_id\":\"a/1\",\"_score\":1,\"_source\":{\"n\":1.50,\"s\":\"\\u00fc/\"}}\n"
	    "\n"
	    "{\"_id\":\"b\",\"_source\":{}}\r\n"
	    "{\"_id\":\"c\",\"_source\":{\"x\":[1,2}}\n");
	g3_buf_addf(&p, "%s/y__data.json", dir);
	assert_int_equal(g3_docreader_open(&r, p.data, &err), G3_OK);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), 1);
	assert_string_equal(id, "a/1");
	/* verbatim: the scanner takes the line (json-c would give "\xc3\xbc/") */
	assert_string_equal(src, "{\"n\":1.50,\"s\":\"\\u00fc/\"}");
	assert_int_equal(len, strlen(src));
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), 1);
	assert_string_equal(id, "b");
	assert_string_equal(src, "{}");
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), -1);
	assert_non_null(strstr(err.msg, "y__data.json\" line 4 is not valid JSON"));
	g3_docreader_release(&r);

	put("y__data.json", "{\"_id\":\"a\",\"_source\":{}}\n{\"_source\":{}}\n");
	assert_int_equal(g3_docreader_open(&r, p.data, &err), G3_OK);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), 1);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), -1);
	assert_non_null(strstr(err.msg, "line 2 has no \"_id\" string"));
	g3_docreader_release(&r);

	/* an id is a C string from here on: one holding a NUL is refused,
	 * not cut short (found by tests/fuzz/fuzz_elasticdump.c) */
	put("y__data.json", "{\"_id\":\"d\\u0000e\",\"_source\":{}}\n");
	assert_int_equal(g3_docreader_open(&r, p.data, &err), G3_OK);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), -1);
	assert_int_equal(err.rc, G3_USAGE);
	assert_non_null(strstr(err.msg, "y__data.json\" line 1 has an \"_id\" holding a NUL character"));
	g3_docreader_release(&r);

	put("y__data.json", "{\"_id\":\"a\",\"_source\":{}} trailing\n");
	assert_int_equal(g3_docreader_open(&r, p.data, &err), G3_OK);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), -1);
	assert_non_null(strstr(err.msg, "line 1 is not valid JSON"));
	g3_docreader_release(&r);

	put("y__data.json", "{\"_id\":\"a\",\"_source\":{\"k\":1}}");  /* no final newline */
	assert_int_equal(g3_docreader_open(&r, p.data, &err), G3_OK);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), 1);
	assert_int_equal(g3_docreader_next(&r, &id, &src, &len, &err), 0);
	g3_docreader_release(&r);
	g3_buf_release(&p);
}

static void test_docwriter(void **state)
{
	g3_buf b = G3_BUF_INIT;

	(void)state;
	g3_docwriter_line(&b, "x_0", NULL, "a\"b", "{\"k\":1}", 7);
	assert_string_equal(b.data, "{\"_index\":\"x_0\",\"_type\":\"_doc\",\"_id\":\"a\\\"b\","
			    "\"_score\":1,\"_source\":{\"k\":1}}\n");
	g3_buf_release(&b);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	g3_buf cmd = G3_BUF_INIT;
	int rc;

	(void)state;
	g3_buf_addf(&cmd, "rm -rf '%s'", dir);
	rc = system(cmd.data);
	g3_buf_release(&cmd);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_untype),
		cmocka_unit_test(test_settings_clean),
		cmocka_unit_test(test_read_definition_and_create_body),
		cmocka_unit_test(test_string_encoded_definitions),
		cmocka_unit_test(test_definition_size_bound),
		cmocka_unit_test(test_multielasticdump_layout),
		cmocka_unit_test(test_docreader),
		cmocka_unit_test(test_docwriter),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
