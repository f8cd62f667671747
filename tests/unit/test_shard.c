#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/gen3/shard.h"

static void test_disjoint_union_and_balance(void **state)
{
	g3_shard_item items[] = {
		{ 0, "sheepdog", 900, -1 }, { 0, "fence", 100, -1 }, { 0, "indexd", 300, -1 },
		{ 0, "arborist", 50, -1 }, { 1, "etl", 400, -1 }, { 1, "file", 400, -1 },
		{ 0, "peregrine", -1, -1 },
	};
	size_t n = sizeof(items) / sizeof(items[0]);
	int64_t load[3] = { 0, 0, 0 };

	(void)state;
	g3_shard_assign(items, n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_true(items[i].shard >= 0 && items[i].shard < 3);
		load[items[i].shard] += items[i].size > 0 ? items[i].size : 0;
	}
	/* greedy: the biggest alone, the rest spread */
	assert_int_equal(load[0], 900);
	assert_true(load[1] > 0 && load[2] > 0);
}

static void test_order_independent(void **state)
{
	g3_shard_item a[] = {
		{ 0, "a", 10, -1 }, { 0, "b", 10, -1 }, { 0, "c", 30, -1 }, { 1, "a", 10, -1 },
	};
	g3_shard_item b[] = {
		{ 1, "a", 10, -1 }, { 0, "c", 30, -1 }, { 0, "b", 10, -1 }, { 0, "a", 10, -1 },
	};

	(void)state;
	g3_shard_assign(a, 4, 2);
	g3_shard_assign(b, 4, 2);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			if (a[i].kind == b[j].kind && !strcmp(a[i].name, b[j].name))
				assert_int_equal(a[i].shard, b[j].shard);
}

static void test_one_shard_takes_all(void **state)
{
	g3_shard_item a[] = { { 0, "x", 5, -1 }, { 0, "y", 0, -1 } };

	(void)state;
	g3_shard_assign(a, 2, 1);
	assert_int_equal(a[0].shard, 0);
	assert_int_equal(a[1].shard, 0);
}

static void test_parse(void **state)
{
	static const struct { const char *s; int ok; long i, n; } cases[] = {
		{ "0/2", 1, 0, 2 }, { "1/2", 1, 1, 2 }, { "2/2", 0, 0, 0 }, { "/2", 0, 0, 0 },
		{ "1/", 0, 0, 0 }, { "a/2", 0, 0, 0 }, { "0/0", 0, 0, 0 }, { "3", 0, 0, 0 },
		{ "-1/2", 0, 0, 0 },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		long i = -1, n = -1;
		g3_err err;

		g3_err_init(&err);
		assert_int_equal(g3_shard_parse(cases[k].s, &i, &n, &err) == G3_OK, cases[k].ok);
		if (cases[k].ok) {
			assert_int_equal(i, cases[k].i);
			assert_int_equal(n, cases[k].n);
		} else {
			assert_int_equal(err.rc, G3_USAGE);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disjoint_union_and_balance),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_one_shard_takes_all),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
