#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "common/base/strbuf.h"

static void test_count_newlines(void **state)
{
	(void)state;
	assert_int_equal(g3_count_newlines("", 0), 0);
	assert_int_equal(g3_count_newlines("no newline", 10), 0);
	assert_int_equal(g3_count_newlines("a\nb\n\n", 5), 3);
	/* only the first len bytes count */
	assert_int_equal(g3_count_newlines("a\nb\n\n", 2), 1);
	assert_int_equal(g3_count_newlines("\n", 1), 1);
}

static void test_plural(void **state)
{
	static const struct { long long n; const char *out; } cases[] = {
		{ 0, "0 foreign keys" }, { 1, "1 foreign key" }, { 2, "2 foreign keys" },
		{ -1, "-1 foreign key" }, { 11, "11 foreign keys" },
	};
	g3_buf b = G3_BUF_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_buf_reset(&b);
		g3_buf_addf(&b, "%lld %s", cases[i].n,
			    g3_plural(cases[i].n, "foreign key", "foreign keys"));
		assert_string_equal(b.data, cases[i].out);
	}
	assert_string_equal(g3_plural(1, "index", "indices"), "index");
	assert_string_equal(g3_plural(3, "index", "indices"), "indices");
	g3_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plural),
		cmocka_unit_test(test_count_newlines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
