/*
 * Unit tests of the validating JSON scanner (the document reader's fast
 * path): each line's verdict against json-c's, and the document reader's
 * answer with the scanner against its answer with json-c alone.
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
#include <json-c/json.h>

#include "common/es/elasticdump.h"
#include "common/base/jsonscan.h"
#include "common/base/strbuf.h"

struct row {
	const char *text;
	int scan;   /* g3_jscan_valid */
	int hit;    /* g3_jscan_hit_line */
	int jsonc;  /* json-c (as the document reader calls it) accepts */
};

static const struct row rows[] = {
	/* valid, taken by the fast path */
	{ "{\"_id\":\"a\",\"_source\":{}}", 1, 1, 1 },
	{ "{\"_index\":\"dev_case_0\",\"_type\":\"_doc\",\"_id\":\"x-1\",\"_score\":1,"
	  "\"_source\":{\"a\":{\"b\":{\"c\":[1,[2,[3,{}]],[]]}},\"d\":null}}\n", 1, 1, 1 },
	{ "  {\"_source\" : {\"q\":\"say \\\"hi\\\" \\\\ back\\\\\"} , \"_id\" : \"z\"}\r\n", 1, 1, 1 },
	{ "{\"_id\":\"u\",\"_source\":{\"s\":\"\\u00fc\\u20AC\\/\\b\\f\\n\\r\\t\\u0000\"}}", 1, 1, 1 },
	{ "{\"_id\":\"n\",\"_source\":{\"n\":[0,-0,1,-12,3.25,1e5,1E+5,-2.5e-3,0.0,"
	  "123456789012345678]}}", 1, 1, 1 },
	{ "{\"_id\":\"l\",\"_source\":{\"t\":true,\"f\":false,\"z\":null,\"e\":\"\"}}", 1, 1, 1 },
	{ "{\"_id\":\"utf\",\"_source\":{\"s\":\"\xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80\"}}", 1, 1, 1 },
	{ "{\"_id\":\"k\",\"_source\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
	  "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14}}", 1, 1, 1 },
	/* valid JSON, but the hit is the full parser's to judge */
	{ "[1,2,3]", 1, 0, 1 },
	{ "{\"_source\":{}}", 1, 0, 1 },
	{ "{\"_id\":\"\",\"_source\":{}}", 1, 0, 1 },
	{ "{\"_id\":7,\"_source\":{}}", 1, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":[1]}", 1, 0, 1 },
	{ "{\"_id\":\"a\\\"b\",\"_source\":{}}", 1, 0, 1 },
	/* declined though json-c takes them */
	{ "{\"_id\":\"a\",\"_id\":\"b\",\"_source\":{}}", 0, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":1,\"x\":2}}", 0, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,"
	  "\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"a\":14}}", 0, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":{\"k\\u0065y\":1}}", 0, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":{\"s\":\"\\ud83d\\ude00\"}}", 0, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":{\"n\":1234567890123456789012}}", 0, 0, 1 },
	{ "{\"_id\":\"a\",\"_source\":{\"s\":\"\xff\"}}", 0, 0, 1 },        /* invalid UTF-8 */
	{ "{\"_id\":\"a\",\"_source\":{\"s\":\"\xc3\"}}", 0, 0, 1 },        /* truncated sequence */
	{ "{\"_id\":\"a\",\"_source\":{\"s\":\"\xed\xa0\x80\"}}", 0, 0, 1 }, /* encoded surrogate */
	{ "{\"_id\":\"a\",\"_source\":{\"s\":\"\xc0\xaf\"}}", 0, 0, 1 },    /* overlong */
	{ "{\"_id\":\"a\",\"_source\":{\"x\":1,}}", 0, 0, 1 },             /* json-c is lenient */
	{ "{\"_id\":\"a\",\"_source\":{\"x\":1.}}", 0, 0, 1 },
	/* malformed: both refuse */
	{ "", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":[1,2}}", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":1}", 0, 0, 0 },                /* truncated */
	{ "{\"_id\":\"a\",\"_source\":{\"x\":1}} trailing", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":1}}}", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":\"\\q\"}}", 0, 0, 0 },          /* bad escape */
	{ "{\"_id\":\"a\",\"_source\":{\"x\":\"\\u12G4\"}}", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":\"open}}", 0, 0, 0 },          /* unterminated */
	{ "{\"_id\":\"a\",\"_source\":{\"x\":tru}}", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":--1}}", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\" 1}}", 0, 0, 0 },
	{ "{\"_id\":\"a\" \"_source\":{}}", 0, 0, 0 },
	{ "{\"_id\":\"a\",\"_source\":{\"x\":[1 2]}}", 0, 0, 0 },
};

static int jsonc_accepts(const char *text, size_t n)
{
	json_tokener *tok = json_tokener_new_ex(256);
	json_object *o = json_tokener_parse_ex(tok, text, (int)n);
	int ok = o && json_tokener_get_error(tok) == json_tokener_success;

	for (size_t k = ok ? json_tokener_get_parse_end(tok) : n; k < n; k++)
		if (!strchr(" \t\r\n", text[k]))
			ok = 0;
	json_object_put(o);
	json_tokener_free(tok);
	return ok;
}

static void test_verdicts(void **state)
{
	g3_jscan s;
	g3_jscan_hit hit;

	(void)state;
	g3_jscan_init(&s);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *t = rows[i].text;
		size_t n = strlen(t);
		int v = g3_jscan_valid(&s, t, n), h = g3_jscan_hit_line(&s, t, n, &hit);
		int jc = jsonc_accepts(t, n);

		if (v != rows[i].scan || h != rows[i].hit || jc != rows[i].jsonc)
			fail_msg("row %zu %s: scan %d hit %d json-c %d", i, t, v, h, jc);
		/* what the scanner takes json-c takes */
		assert_true(!v || jc);
		if (h) {
			json_object *o = json_tokener_parse(t), *id, *src, *mine;

			assert_true(json_object_object_get_ex(o, "_id", &id));
			assert_true(json_object_object_get_ex(o, "_source", &src));
			assert_int_equal(hit.id_len, json_object_get_string_len(id));
			assert_memory_equal(t + hit.id_off, json_object_get_string(id), hit.id_len);
			{
				char *copy = strndup(t + hit.src_off, hit.src_len);

				mine = json_tokener_parse(copy);
				free(copy);
			}
			assert_true(json_object_equal(mine, src));
			json_object_put(mine);
			json_object_put(o);
		}
	}
	g3_jscan_release(&s);
}

static void test_depth(void **state)
{
	g3_jscan s;
	g3_buf b = G3_BUF_INIT;

	(void)state;
	g3_jscan_init(&s);
	for (int i = 0; i < G3_JSCAN_MAX_DEPTH; i++)
		g3_buf_addch(&b, '[');
	for (int i = 0; i < G3_JSCAN_MAX_DEPTH; i++)
		g3_buf_addch(&b, ']');
	assert_int_equal(g3_jscan_valid(&s, b.data, b.len), 1);
	g3_buf_reset(&b);
	for (int i = 0; i <= G3_JSCAN_MAX_DEPTH; i++)
		g3_buf_addch(&b, '[');
	for (int i = 0; i <= G3_JSCAN_MAX_DEPTH; i++)
		g3_buf_addch(&b, ']');
	assert_int_equal(g3_jscan_valid(&s, b.data, b.len), 0);
	g3_buf_release(&b);
	g3_jscan_release(&s);
}

/* The second document of text, with or without the scanner. */
static int read_two(const char *text, int json_c_only, char **id, json_object **src,
		    g3_err *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	g3_docreader r;
	const char *i, *s;
	size_t len;
	int got;

	assert_non_null(f);
	g3_docreader_attach(&r, f, "t.json");
	r.json_c_only = json_c_only;
	memset(err, 0, sizeof(*err));
	*id = NULL;
	*src = NULL;
	assert_int_equal(g3_docreader_next(&r, &i, &s, &len, err), 1);
	assert_string_equal(i, "first");
	got = g3_docreader_next(&r, &i, &s, &len, err);
	if (got > 0) {
		assert_int_equal(strlen(s), len);
		*id = strdup(i);
		*src = json_tokener_parse(s);
		assert_non_null(*src);
	}
	g3_docreader_release(&r);
	fclose(f);
	return got;
}

static void test_reader_same_as_jsonc(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		g3_buf line = G3_BUF_INIT;
		g3_err e1, e2;
		char *id1, *id2;
		json_object *s1, *s2;
		int g1, g2;

		/* a line after a good one: the line number is in the message */
		g3_buf_adds(&line, "{\"_id\":\"first\",\"_source\":{}}\n");
		g3_buf_adds(&line, rows[i].text);
		g3_buf_addch(&line, '\n');
		g1 = read_two(line.data, 0, &id1, &s1, &e1);
		g2 = read_two(line.data, 1, &id2, &s2, &e2);
		if (g1 != g2)
			fail_msg("row %zu: %d against json-c's %d", i, g1, g2);
		if (g1 > 0) {
			assert_string_equal(id1, id2);
			assert_true(json_object_equal(s1, s2));
		} else {
			assert_int_equal(e1.rc, e2.rc);
			assert_string_equal(e1.msg, e2.msg);
		}
		free(id1);
		free(id2);
		json_object_put(s1);
		json_object_put(s2);
		g3_buf_release(&line);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_reader_same_as_jsonc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
