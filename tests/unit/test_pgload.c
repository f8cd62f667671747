/*
 * pgload's reading of COPY statements: the table a COPY loads, as a key
 * (unquoted, lowercased unless quoted) and as written; which COPYs may be
 * split into segments, and where a segment may end.
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

static void test_copy_splittable(void **state)
{
	(void)state;
	/* pg_dump's form, in any case and spacing */
	assert_true(g3_pgload_copy_splittable("COPY public.t (a, b) FROM stdin;"));
	assert_true(g3_pgload_copy_splittable("copy t from STDIN"));
	assert_true(g3_pgload_copy_splittable("  COPY \"x\".\"from stdin\" (a) FROM stdin ; \n"));
	assert_true(g3_pgload_copy_splittable("COPY binary_data FROM stdin;"));
	/* any option may change what a row is: CSV fields hold newlines,
	 * binary has no lines, another delimiter or escape */
	assert_false(g3_pgload_copy_splittable("COPY t FROM stdin WITH (FORMAT csv);"));
	assert_false(g3_pgload_copy_splittable("COPY t FROM stdin CSV;"));
	assert_false(g3_pgload_copy_splittable("COPY t FROM stdin WITH BINARY;"));
	assert_false(g3_pgload_copy_splittable("COPY BINARY t FROM stdin;"));
	assert_false(g3_pgload_copy_splittable("COPY t FROM stdin DELIMITER ',';"));
	assert_false(g3_pgload_copy_splittable("COPY t FROM stdin WHERE a > 1;"));
	assert_false(g3_pgload_copy_splittable("COPY t FROM '/tmp/x';"));
	assert_false(g3_pgload_copy_splittable("COPY t FROM program 'cat';"));
	assert_false(g3_pgload_copy_splittable("COPY tfrom stdin;"));
	assert_false(g3_pgload_copy_splittable("stdin;"));
	assert_false(g3_pgload_copy_splittable(""));
}

static void test_row_cut(void **state)
{
	const char *d = "a\tb\nc\\\nd\ne\\\\\nf\n";

	(void)state;
	/* the first row end at or after `from`, past its newline */
	assert_int_equal(g3_pgload_row_cut(d, strlen(d), 0, 0), 4);
	assert_int_equal(g3_pgload_row_cut(d, strlen(d), 3, 0), 4);
	/* "c\<newline>d" is one row: its newline is data */
	assert_int_equal(g3_pgload_row_cut(d, strlen(d), 4, 0), 9);
	/* a row ending in an escaped backslash is passed over too (safe: the
	 * cut only moves to the next row) */
	assert_int_equal(g3_pgload_row_cut(d, strlen(d), 9, 0), 15);
	assert_int_equal(g3_pgload_row_cut(d, strlen(d), 15, 0), 0);
	/* a backslash at the end of the previous piece escapes a leading newline */
	assert_int_equal(g3_pgload_row_cut("\nx\n", 3, 0, 1), 3);
	assert_int_equal(g3_pgload_row_cut("\nx\n", 3, 0, 0), 1);
	assert_int_equal(g3_pgload_row_cut("no newline", 10, 0, 0), 0);
	assert_int_equal(g3_pgload_row_cut("", 0, 0, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_table),
		cmocka_unit_test(test_copy_splittable),
		cmocka_unit_test(test_row_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
