/*
 * Unit tests of the bulk loader's pieces: batches, answer classification,
 * and of the client's URL escaping, credential stripping and sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/es/es.h"
#include "common/es/esbulk.h"
#include "common/base/opts.h"

static void test_url_escape(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain-id_1.x~", "plain-id_1.x~" },
		{ "dg.4503/abc", "dg.4503%2Fabc" },
		{ "a?b#c%d", "a%3Fb%23c%25d" },
		{ "with space", "with%20space" },
		{ "+&=", "%2B%26%3D" },
		{ "\xc3\xbc\xe2\x9c\x93", "%C3%BC%E2%9C%93" },
		{ "..", ".." },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_buf b = G3_BUF_INIT;

		g3_url_encode(&b, cases[i].in, 0);
		assert_string_equal(b.data ? b.data : "", cases[i].out);
		g3_buf_release(&b);
	}
}

static void test_strip_credentials(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "http://user:pw@host:9200", "http://host:9200" },
		{ "https://u@h/p?q=a@b", "https://h/p?q=a@b" },
		{ "http://host:9200/x@y", "http://host:9200/x@y" },
		{ "http://a:b@c:d@host", "http://host" },
		{ "host:9200", "host:9200" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = g3_url_strip_credentials(cases[i].in);

		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static void test_conf_from_url_and_env(void **state)
{
	g3_esconf c;
	g3_err err;

	(void)state;
	unsetenv("ES_USERNAME");
	unsetenv("ES_PASSWORD");
	unsetenv("ES_API_KEY");
	unsetenv("ES_CACERT");
	g3_esconf_init(&c);
	g3_err_init(&err);
	assert_int_equal(g3_esconf_set(&c, "https://el%40stic:p%3Aw@es.example:9243/", NULL, &err), G3_OK);
	assert_string_equal(c.url, "https://es.example:9243");
	assert_string_equal(c.username, "el@stic");
	assert_string_equal(c.password, "p:w");
	g3_esconf_release(&c);

	setenv("ESHOST", "es-service:9200", 1);
	setenv("ES_USERNAME", "u", 1);
	setenv("ES_PASSWORD", "secret", 1);
	g3_esconf_init(&c);
	assert_int_equal(g3_esconf_set(&c, NULL, "/ca.pem", &err), G3_OK);
	assert_string_equal(c.url, "http://es-service:9200");
	assert_string_equal(c.username, "u");
	assert_string_equal(c.password, "secret");
	assert_string_equal(c.cacert, "/ca.pem");
	g3_esconf_release(&c);

	unsetenv("ESHOST");
	g3_esconf_init(&c);
	assert_int_equal(g3_esconf_set(&c, NULL, NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "no Elasticsearch to talk to");
	assert_int_equal(g3_esconf_set(&c, "ftp://x:y@h", NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "Elasticsearch URL \"ftp://h\" is not http:// or https://");
	g3_esconf_release(&c);
	unsetenv("ES_USERNAME");
	unsetenv("ES_PASSWORD");
}

static void test_parse_size(void **state)
{
	size_t v;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_parse_size("--bulk-size", "10MB", 1, SIZE_MAX, &v, &err), G3_OK);
	assert_int_equal(v, 10u << 20);
	assert_int_equal(g3_parse_size("--bulk-size", "4kib", 1, SIZE_MAX, &v, &err), G3_OK);
	assert_int_equal(v, 4096);
	assert_int_equal(g3_parse_size("--bulk-size", "12345", 1, SIZE_MAX, &v, &err), G3_OK);
	assert_int_equal(v, 12345);
	assert_int_equal(g3_parse_size("--bulk-size", "-1", 1, SIZE_MAX, &v, &err), G3_USAGE);
	assert_int_equal(g3_parse_size("--bulk-size", "3XB", 1, SIZE_MAX, &v, &err), G3_USAGE);
	assert_int_equal(g3_parse_size("--bulk-size", "10", 1024, SIZE_MAX, &v, &err), G3_USAGE);
}

static void test_indices_from_env(void **state)
{
	char **list = NULL;
	size_t n = 0;

	(void)state;
	setenv("GUPPY_INDICES", " dev_case,,dev_file  , ", 1);
	setenv("GUPPY_CONFIGINDEX", "dev_array-config", 1);
	g3_es_indices_from_env(&list, &n);
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "dev_case");
	assert_string_equal(list[1], "dev_file");
	assert_string_equal(list[2], "dev_array-config");
	g3_strlist_free(list, n);
	unsetenv("GUPPY_INDICES");
	unsetenv("GUPPY_CONFIGINDEX");
}

static void test_json_quote(void **state)
{
	g3_buf b = G3_BUF_INIT;

	(void)state;
	g3_json_quote(&b, "a\"b\\c\n\x01\xc3\xbc");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xbc\"");
	g3_buf_release(&b);
}

static void test_batch_lines_and_items(void **state)
{
	g3_bulk_batch bb, copy;
	char *id;

	(void)state;
	g3_bulk_batch_init(&bb);
	g3_bulk_batch_init(&copy);
	g3_bulk_batch_add(&bb, NULL, "a/1", "{\"x\":1}", 7);
	g3_bulk_batch_add(&bb, "_doc", "q\"2", "{\"y\":2}", 7);
	assert_int_equal(bb.n, 2);
	assert_string_equal(bb.body.data,
			    "{\"index\":{\"_id\":\"a/1\"}}\n{\"x\":1}\n"
			    "{\"index\":{\"_type\":\"_doc\",\"_id\":\"q\\\"2\"}}\n{\"y\":2}\n");
	id = g3_bulk_batch_item_id(&bb, 1);
	assert_string_equal(id, "q\"2");
	free(id);
	g3_bulk_batch_copy_item(&copy, &bb, 1);
	assert_int_equal(copy.n, 1);
	assert_string_equal(copy.body.data, "{\"index\":{\"_type\":\"_doc\",\"_id\":\"q\\\"2\"}}\n{\"y\":2}\n");
	assert_true(g3_bulk_item_size(NULL, "a/1", 7) >= strlen("{\"index\":{\"_id\":\"a/1\"}}\n{\"x\":1}\n"));
	g3_bulk_batch_release(&bb);
	g3_bulk_batch_release(&copy);
}

static void test_classify(void **state)
{
	const char *answer =
		"{\"took\":3,\"errors\":true,\"items\":["
		"{\"index\":{\"_id\":\"a\",\"status\":201}},"
		"{\"index\":{\"_id\":\"b\",\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"busy\"}}},"
		"{\"index\":{\"_id\":\"c\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"failed to parse field [n]\"}}},"
		"{\"index\":{\"_id\":\"d\",\"status\":200}},"
		"{\"create\":{\"_id\":\"e\",\"status\":503}}]}";
	json_object *resp = json_tokener_parse(answer);
	unsigned char st[5];
	size_t failed = 0, reported = 0;
	g3_buf errors = G3_BUF_INIT;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_bulk_classify(resp, 5, st, &failed, &errors, &reported, &err), G3_OK);
	assert_int_equal(st[0], G3_ITEM_OK);
	assert_int_equal(st[1], G3_ITEM_RETRY);
	assert_int_equal(st[2], G3_ITEM_FAILED);
	assert_int_equal(st[3], G3_ITEM_OK);
	assert_int_equal(st[4], G3_ITEM_RETRY);
	assert_int_equal(failed, 1);
	assert_string_equal(errors.data, "document \"c\": mapper_parsing_exception: failed to parse "
			    "field [n] (status 400)");
	/* a count mismatch is an error */
	assert_int_equal(g3_bulk_classify(resp, 4, st, &failed, &errors, &reported, &err), G3_FAIL);
	assert_string_equal(err.msg, "the bulk answer has 5 items for 4 documents");
	json_object_put(resp);

	/* errors:false needs no items (filter_path may drop them) */
	resp = json_tokener_parse("{\"took\":1,\"errors\":false}");
	assert_int_equal(g3_bulk_classify(resp, 3, st, &failed, &errors, &reported, &err), G3_OK);
	assert_int_equal(st[2], G3_ITEM_OK);
	assert_int_equal(failed, 0);
	json_object_put(resp);
	g3_buf_release(&errors);
}

/* The fast path skips an answer's items only when its top level says
 * "errors":false before anything but numbers (found by
 * tests/fuzz/fuzz_esbulk.c: a nested "errors":false hid failed items). */
static void test_says_no_errors(void **state)
{
	(void)state;
	assert_int_equal(g3_bulk_says_no_errors("{\"took\":3,\"errors\":false,\"items\":[]}"), 1);
	assert_int_equal(g3_bulk_says_no_errors(" {\"errors\" : false}"), 1);
	assert_int_equal(g3_bulk_says_no_errors("{\"took\":3,\"ingest_took\":1,\"errors\":false,"), 1);
	assert_int_equal(g3_bulk_says_no_errors("{\"took\":3,\"errors\":true,\"items\":[]}"), 0);
	assert_int_equal(g3_bulk_says_no_errors(
		"{\"took\":1,\"x\":{\"errors\":false},\"errors\":true,\"items\":[{\"index\":{\"status\":500}}]}"), 0);
	assert_int_equal(g3_bulk_says_no_errors("{\"items\":[],\"errors\":false}"), 0);
	assert_int_equal(g3_bulk_says_no_errors("{\"errors\":falsey}"), 0);
	assert_int_equal(g3_bulk_says_no_errors("{\"errors\":false"), 0);
	assert_int_equal(g3_bulk_says_no_errors("[{\"errors\":false}]"), 0);
	assert_int_equal(g3_bulk_says_no_errors(NULL), 0);
}

/* "errors" must be the boolean false for the items to be skipped. */
static void test_classify_errors_not_boolean(void **state)
{
	json_object *resp = json_tokener_parse(
		"{\"errors\":0,\"items\":[{\"index\":{\"_id\":\"a\",\"status\":500}}]}");
	unsigned char st[1];
	size_t failed = 0, reported = 0;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_bulk_classify(resp, 1, st, &failed, NULL, &reported, &err), G3_OK);
	assert_int_equal(st[0], G3_ITEM_FAILED);
	assert_int_equal(failed, 1);
	json_object_put(resp);
}

static void test_classify_reports_at_most_five(void **state)
{
	g3_buf answer = G3_BUF_INIT, errors = G3_BUF_INIT;
	unsigned char st[20];
	size_t failed = 0, reported = 0;
	json_object *resp;
	g3_err err;

	(void)state;
	g3_buf_adds(&answer, "{\"errors\":true,\"items\":[");
	for (int i = 0; i < 20; i++)
		g3_buf_addf(&answer, "%s{\"index\":{\"_id\":\"x%d\",\"status\":400,\"error\":{\"type\":\"t\",\"reason\":\"r\"}}}",
			    i ? "," : "", i);
	g3_buf_adds(&answer, "]}");
	resp = json_tokener_parse(answer.data);
	g3_err_init(&err);
	assert_int_equal(g3_bulk_classify(resp, 20, st, &failed, &errors, &reported, &err), G3_OK);
	assert_int_equal(failed, 20);
	assert_int_equal(reported, G3_ESBULK_MAX_REPORTED);
	json_object_put(resp);
	g3_buf_release(&answer);
	g3_buf_release(&errors);
}

/* Elasticsearch's index and alias name rules: one row per rule and per
 * hostile class (a delete of such a name could hit other indices). */
static void test_index_names(void **state)
{
	static char long_ok[256], long_bad[257], long_utf8[257];
	static const char *const lower = "must be lowercase";
	static const char *const chars = "must not contain \\ / * ? \" < > | , # : or a space";
	static const char *const start = "must not start with '_', '-' or '+'";
	static const char *const dots = "must not be '.' or '..'";
	static const char *const len = "must be at most 255 bytes (UTF-8)";
	struct { const char *name, *problem; } cases[] = {
		{ "dev_case", NULL },
		{ "dev_array-config", NULL },
		{ "dev_case_12", NULL },
		{ "etl.v2+x", NULL },
		{ "\xc3\xa9t\xc3\xa9", NULL },      /* non-ASCII lowercase is fine */
		{ "", "must not be empty" },
		{ ".", dots },
		{ "..", dots },
		{ "...", NULL },
		{ ".hidden", NULL },
		{ "Dev_case", lower },
		{ "DEV", lower },
		{ "_all", start },
		{ "_doc", start },
		{ "-dev", start },
		{ "+dev", start },
		{ "*", chars },
		{ "dev_*", chars },
		{ "a,b", chars },
		{ "dev_case,dev_file", chars },
		{ "a b", chars },
		{ "a\\b", chars },
		{ "a/b", chars },
		{ "a?b", chars },
		{ "a\"b", chars },
		{ "a<b", chars },
		{ "a>b", chars },
		{ "a|b", chars },
		{ "a#b", chars },
		{ "a:b", chars },
		{ "a\tb", "must not contain control characters" },
		{ "a\nb", "must not contain control characters" },
		{ long_ok, NULL },
		{ long_bad, len },
		{ long_utf8, len },
	};

	(void)state;
	memset(long_ok, 'a', 255);
	memset(long_bad, 'a', 256);
	/* 128 two-byte characters: 128 characters, 256 bytes */
	for (size_t i = 0; i < 256; i += 2) {
		long_utf8[i] = (char)0xc3;
		long_utf8[i + 1] = (char)0xa9;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = g3_es_name_problem(cases[i].name);
		g3_err err;
		g3_rc rc;

		if (!cases[i].problem) {
			if (got)
				fail_msg("\"%s\": unexpected \"%s\"", cases[i].name, got);
		} else {
			if (!got)
				fail_msg("\"%s\": accepted", cases[i].name);
			assert_string_equal(got, cases[i].problem);
		}
		g3_err_init(&err);
		rc = g3_es_name_check(cases[i].name, "--index", &err);
		assert_int_equal(rc, cases[i].problem ? G3_USAGE : G3_OK);
		if (cases[i].problem && strlen(cases[i].name) < 100) {
			char want[512];

			snprintf(want, sizeof(want), "invalid Elasticsearch index name \"%s\" (from "
				 "--index): %s", cases[i].name, cases[i].problem);
			assert_string_equal(err.msg, want);
		}
	}
}

static void test_retry_time_option(void **state)
{
	static const g3_opt_section sections[] = { G3_SECTION(g3_esbulk_rows, 0) };
	static const g3_cmd_spec spec = { .name = "t", .synopsis = "", .sections = sections,
					  .n_sections = 1, .bad = G3_BAD_OWN, .helm_off = -1 };
	char *ok[] = { "t", "--es-retry-time", "42", NULL };
	char *neg[] = { "t", "--es-retry-time", "-1", NULL };
	char *word[] = { "t", "--es-retry-time", "soon", NULL };
	g3_esbulk_opts o;
	g3_err err;
	int args, done;

	(void)state;
	g3_esbulk_opts_init(&o);
	assert_true(o.retry_time >= 60);
	assert_int_equal(o.retries, -1);
	g3_err_init(&err);
	assert_int_equal(g3_opts_parse(&spec, &o, 3, ok, &args, &done, &err), G3_OK);
	assert_true(o.retry_time == 42.0);
	assert_int_equal(g3_opts_parse(&spec, &o, 3, neg, &args, &done, &err), G3_USAGE);
	assert_int_equal(g3_opts_parse(&spec, &o, 3, word, &args, &done, &err), G3_USAGE);
	assert_true(o.retry_time == 42.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_escape),
		cmocka_unit_test(test_strip_credentials),
		cmocka_unit_test(test_conf_from_url_and_env),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_json_quote),
		cmocka_unit_test(test_indices_from_env),
		cmocka_unit_test(test_batch_lines_and_items),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_reports_at_most_five),
		cmocka_unit_test(test_index_names),
		cmocka_unit_test(test_retry_time_option),
		cmocka_unit_test(test_says_no_errors),
		cmocka_unit_test(test_classify_errors_not_boolean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
