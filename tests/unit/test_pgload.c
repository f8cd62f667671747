/*
 * pgload's reading of COPY statements: the table a COPY loads, as a key
 * (unquoted, lowercased unless quoted) and as written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/pg/pgload.h"

static const struct {
	const char *sql, *key, *qname;
} cases[] = {
	{ "COPY public.node_case (id, name) FROM stdin;", "public.node_case", "public.node_case" },
	{ "COPY public.\"User\" (id) FROM stdin;", "public.User", "public.\"User\"" },
	{ "copy \"My Schema\".\"a\"\"b\" FROM STDIN", "My Schema.a\"b", "\"My Schema\".\"a\"\"b\"" },
	{ "COPY Public.T FROM stdin;", "public.t", "Public.T" },
	{ "COPY t(a) FROM stdin;", "t", "t" },
	{ "  COPY /* c */ x.y FROM stdin;", "x.y", "x.y" },
};

static void test_copy_table(void **state)
{
	char key[256], qname[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(g3_pgload_copy_table(cases[i].sql, key, sizeof(key), qname,
						      sizeof(qname)), 1);
		assert_string_equal(key, cases[i].key);
		assert_string_equal(qname, cases[i].qname);
	}
	assert_int_equal(g3_pgload_copy_table("SELECT 1", key, sizeof(key), qname, sizeof(qname)), 0);
	assert_int_equal(g3_pgload_copy_table("COPY (SELECT 1) TO stdout", key, sizeof(key), qname,
					      sizeof(qname)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
