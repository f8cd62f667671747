#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/err.h"
#include "common/pg/pg.h"

static void test_check_name(void **state)
{
	static const struct { const char *name; g3_rc rc; const char *msg; } cases[] = {
		{ "fence_gen3", G3_OK, NULL },
		{ "metadata-service_gen3", G3_OK, NULL },
		{ "we\"ird; DROP TABLE x; --", G3_OK, NULL },
		{ "ünïcødé", G3_OK, NULL },
		{ "", G3_USAGE, "database name is empty" },
		{ "a\tb", G3_USAGE, "control character (byte 0x09)" },
		{ "123456789012345678901234567890123456789012345678901234567890123", G3_OK, NULL },
		{ "1234567890123456789012345678901234567890123456789012345678901234", G3_USAGE,
		  "is 64 bytes long; PostgreSQL allows at most 63" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_err err;

		g3_err_init(&err);
		assert_int_equal(g3_pg_check_name("database", cases[i].name, &err), cases[i].rc);
		if (cases[i].msg)
			assert_non_null(strstr(err.msg, cases[i].msg));
	}
}

static void test_url(void **state)
{
	g3_pgconf c;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_pgconf_init(&c);
	assert_int_equal(g3_pgconf_from_url(&c, "postgresql://admin@db.example:6543/postgres?sslmode=require",
					    0, &err), G3_OK);
	assert_string_equal(g3_pgconf_get(&c, "host"), "db.example");
	assert_string_equal(g3_pgconf_get(&c, "port"), "6543");
	assert_string_equal(g3_pgconf_get(&c, "user"), "admin");
	assert_string_equal(g3_pgconf_get(&c, "sslmode"), "require");
	g3_pgconf_release(&c);

	g3_pgconf_init(&c);
	assert_int_equal(g3_pgconf_from_url(&c, "postgresql://admin:hunter2@db/x", 0, &err), G3_USAGE);
	assert_null(strstr(err.msg, "hunter2"));
	assert_non_null(strstr(err.msg, "refusing a password"));
	g3_pgconf_release(&c);

	g3_pgconf_init(&c);
	assert_int_equal(g3_pgconf_from_url(&c, "host=a password=hunter2", 0, &err), G3_USAGE);
	assert_null(strstr(err.msg, "hunter2"));
	g3_pgconf_release(&c);

	g3_pgconf_init(&c);
	assert_int_equal(g3_pgconf_from_url(&c, "postgresql://[bad", 0, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "could not parse connection string"));
	assert_null(strchr(err.msg, '\n'));
	g3_pgconf_release(&c);
}

static void test_set_replace_remove(void **state)
{
	g3_pgconf c;
	char buf[64];

	(void)state;
	g3_pgconf_init(&c);
	g3_pgconf_set(&c, "host", "a");
	g3_pgconf_set(&c, "port", "1");
	g3_pgconf_set(&c, "host", "b");
	assert_int_equal(c.n, 2);
	assert_string_equal(g3_pgconf_get(&c, "host"), "b");
	g3_pgconf_set(&c, "host", NULL);
	assert_int_equal(c.n, 1);
	assert_null(g3_pgconf_get(&c, "host"));
	assert_null(c.keys[1]);
	g3_pgconf_set(&c, "host", "127.0.0.1");
	g3_pgconf_describe(&c, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:1");
	g3_pgconf_release(&c);
}

static void test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(g3_exit_code(G3_OK), 0);
	assert_int_equal(g3_exit_code(G3_FAIL), 1);
	assert_int_equal(g3_exit_code(G3_USAGE), 2);
	assert_int_equal(g3_exit_code(G3_UNREACHABLE), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_name),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_set_replace_remove),
		cmocka_unit_test(test_exit_codes),
	};
	return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
