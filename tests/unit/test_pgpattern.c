#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pg/pgfilter.h"
#include "common/pg/pgpattern.h"

static const struct {
	const char *pattern, *schema, *name;
	int match;
} match_cases[] = {
	{ "users", "public", "users", 1 },
	{ "users", "other", "users", 0 },           /* unqualified: public */
	{ "Users", "public", "users", 1 },          /* unquoted letters fold */
	{ "Users", "public", "Users", 0 },
	{ "\"Users\"", "public", "Users", 1 },      /* quoted keeps case */
	{ "\"Users\"", "public", "users", 0 },
	{ "user*", "public", "users", 1 },
	{ "user*", "public", "user", 1 },
	{ "user?", "public", "users", 1 },
	{ "user?", "public", "user", 0 },
	{ "use", "public", "users", 0 },            /* whole names only */
	{ "*.audit_log", "app", "audit_log", 1 },
	{ "*.audit_log", "public", "audit_log", 1 },
	{ "app.*", "app", "anything", 1 },
	{ "app.*", "public", "anything", 0 },
	{ "a?p.t", "app", "t", 1 },
	{ "\"My.Schema\".\"T*\"", "My.Schema", "T*", 1 },   /* quoted: literal */
	{ "\"My.Schema\".\"T*\"", "My.Schema", "Tx", 0 },
	{ "\"a\"\"b\"", "public", "a\"b", 1 },
	{ "t$", "public", "t$", 1 },                /* $ is literal */
	{ "log_[0-9]", "public", "log_7", 1 },       /* regex classes work */
	{ "log_[0-9]", "public", "log_x", 0 },
	{ "\"Mixed\"Case", "public", "Mixedcase", 1 },
	{ "app.", "app", "x", 1 },                  /* empty part: any */
};

static void test_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		g3_pgpattern p;
		g3_err err;

		g3_err_init(&err);
		assert_int_equal(g3_pgpattern_compile(match_cases[i].pattern, &p, &err), G3_OK);
		if (g3_pgpattern_match(&p, match_cases[i].schema, match_cases[i].name) !=
		    match_cases[i].match)
			fail_msg("pattern %s on %s.%s: expected %d", match_cases[i].pattern,
				 match_cases[i].schema, match_cases[i].name, match_cases[i].match);
		g3_pgpattern_release(&p);
	}
}

static void test_bad_patterns(void **state)
{
	static const struct {
		const char *pattern, *msg;
	} cases[] = {
		{ "", "empty table pattern" },
		{ "a.b.c", "improper qualified name (too many dotted names): \"a.b.c\"" },
		{ "\"open", "unterminated quoted name in pattern \"\"open\"" },
		{ "t[", "invalid pattern \"t[\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_pgpattern p;
		g3_err err;

		g3_err_init(&err);
		assert_int_equal(g3_pgpattern_compile(cases[i].pattern, &p, &err), G3_USAGE);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("pattern %s: message \"%s\"", cases[i].pattern, err.msg);
	}
}

static void test_fate_and_unused(void **state)
{
	g3_tablefilter f;
	g3_err err;

	(void)state;
	g3_tablefilter_init(&f);
	g3_err_init(&err);
	assert_false(g3_tablefilter_active(&f));
	assert_int_equal(g3_tablefilter_decide(&f, "public", "x"), G3_TABLE_KEEP);
	assert_int_equal(g3_tablefilter_add(&f, G3_FILTER_EXCLUDE, "audit*", &err), G3_OK);
	assert_int_equal(g3_tablefilter_add(&f, G3_FILTER_EXCLUDE_DATA, "big", &err), G3_OK);
	assert_int_equal(g3_tablefilter_add(&f, G3_FILTER_EXCLUDE_DATA, "nothing", &err), G3_OK);
	assert_true(g3_tablefilter_active(&f));
	assert_int_equal(g3_tablefilter_decide(&f, "public", "audit_log"), G3_TABLE_SKIP);
	assert_int_equal(g3_tablefilter_decide(&f, "public", "big"), G3_TABLE_NO_DATA);
	assert_int_equal(g3_tablefilter_decide(&f, "public", "users"), G3_TABLE_KEEP);
	assert_int_equal(g3_tablefilter_check(&f, &err), G3_USAGE);
	assert_string_equal(err.msg, "--exclude-table-data \"nothing\" matches no table");
	/* --table: only matches; --exclude-table wins over it */
	assert_int_equal(g3_tablefilter_add(&f, G3_FILTER_TABLE, "users", &err), G3_OK);
	assert_int_equal(g3_tablefilter_add(&f, G3_FILTER_TABLE, "audit_log", &err), G3_OK);
	assert_int_equal(g3_tablefilter_decide(&f, "public", "users"), G3_TABLE_KEEP);
	assert_int_equal(g3_tablefilter_decide(&f, "public", "audit_log"), G3_TABLE_SKIP);
	assert_int_equal(g3_tablefilter_decide(&f, "public", "other"), G3_TABLE_SKIP);
	g3_err_init(&err);
	assert_int_equal(g3_tablefilter_add(&f, G3_FILTER_TABLE, "a.b.c", &err), G3_USAGE);
	assert_string_equal(err.msg, "--table: improper qualified name (too many dotted names): "
			    "\"a.b.c\"");
	g3_tablefilter_release(&f);
}

static const struct {
	const char *sql, *rel, *ref;
} rel_cases[] = {
	{ "CREATE TABLE public.users (\n    id integer NOT NULL\n);", "public.users", "" },
	{ "CREATE UNLOGGED TABLE app.\"Mixed\" (a int);", "app.Mixed", "" },
	{ "CREATE VIEW public.v AS\n SELECT 1;", "public.v", "" },
	{ "CREATE MATERIALIZED VIEW public.mv AS SELECT 1 WITH NO DATA;", "public.mv", "" },
	{ "CREATE SEQUENCE public.users_id_seq\n    AS integer;", "public.users_id_seq", "" },
	{ "ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;", "public.users_id_seq",
	  "public.users" },
	{ "ALTER SEQUENCE public.s OWNED BY NONE;", "public.s", "" },
	{ "ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT "
	  "nextval('public.users_id_seq'::regclass);", "public.users", "" },
	{ "ALTER TABLE public.users OWNER TO fence;", "public.users", "" },
	{ "ALTER TABLE ONLY app.\"Orders\"\n    ADD CONSTRAINT \"Orders_user_fkey\" FOREIGN KEY "
	  "(user_id) REFERENCES public.users(id);", "app.Orders", "public.users" },
	{ "ALTER TABLE ONLY public.users\n    ADD CONSTRAINT users_pkey PRIMARY KEY (id);",
	  "public.users", "" },
	{ "CREATE UNIQUE INDEX idx ON ONLY public.users USING btree (id);", "public.users",
	  "public.idx" },
	{ "CREATE INDEX \"Idx\" ON app.\"Orders\" USING btree (x);", "app.Orders", "app.Idx" },
	{ "COMMENT ON INDEX app.\"Idx\" IS 'x';", "app.Idx", "" },
	{ "ALTER INDEX public.p_idx ATTACH PARTITION public.c_idx;", "public.p_idx", "" },
	{ "CREATE TRIGGER trg AFTER INSERT OR UPDATE OF a ON public.audit_log FOR EACH ROW "
	  "EXECUTE FUNCTION public.f();", "public.audit_log", "" },
	{ "CREATE POLICY p ON public.t USING (true);", "public.t", "" },
	{ "CREATE RULE r AS\n    ON INSERT TO public.t DO INSTEAD NOTHING;", "public.t", "" },
	{ "COMMENT ON TABLE public.users IS 'x';", "public.users", "" },
	{ "COMMENT ON COLUMN public.users.name IS 'x';", "public.users", "" },
	{ "COMMENT ON CONSTRAINT c ON public.users IS 'x';", "public.users", "" },
	{ "GRANT SELECT ON TABLE public.users TO reader;", "public.users", "" },
	{ "REVOKE ALL ON SEQUENCE public.s FROM PUBLIC;", "public.s", "" },
	{ "SELECT pg_catalog.setval('public.users_id_seq', 3, true);", "public.users_id_seq", "" },
	{ "SELECT pg_catalog.setval('app.\"Odd_seq\"', 1, false);", "app.Odd_seq", "" },
	{ "CREATE SCHEMA app;", NULL, NULL },
	{ "CREATE FUNCTION public.f() RETURNS trigger AS $$ begin end $$;", NULL, NULL },
	{ "SET search_path = '';", NULL, NULL },
	{ "GRANT USAGE ON SCHEMA app TO reader;", NULL, NULL },
	{ "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f();", NULL, NULL },
};

static void test_relation(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rel_cases) / sizeof(rel_cases[0]); i++) {
		char rel[600], ref[600];
		int k = g3_sqlfilter_relation(rel_cases[i].sql, rel, sizeof(rel), ref, sizeof(ref));

		if (!rel_cases[i].rel) {
			if (k)
				fail_msg("%s: relation %s", rel_cases[i].sql, rel);
			continue;
		}
		if (!k || strcmp(rel, rel_cases[i].rel) || strcmp(ref, rel_cases[i].ref))
			fail_msg("%s: got %d \"%s\" \"%s\"", rel_cases[i].sql, k, rel, ref);
	}
}

struct out {
	char text[4096];
};

static g3_rc collect(void *ctx, const char *sql, long line, g3_err *err)
{
	struct out *o = ctx;
	size_t n = strlen(o->text);

	(void)err;
	snprintf(o->text + n, sizeof(o->text) - n, "%ld:%s\n", line, sql);
	return G3_OK;
}

static void run(g3_sqlfilter *sf, const char *const *sql, struct out *o)
{
	g3_err err;

	g3_err_init(&err);
	memset(o, 0, sizeof(*o));
	for (long i = 0; sql[i]; i++)
		assert_int_equal(g3_sqlfilter_statement(sf, sql[i], i + 1, collect, o, &err), G3_OK);
	g3_sqlfilter_end(sf);
}

static const char *const dump[] = {
	"CREATE SCHEMA app;",
	"CREATE TABLE public.users (id integer);",
	"CREATE SEQUENCE public.users_id_seq AS integer;",
	"ALTER SEQUENCE public.users_id_seq OWNER TO x;",
	"ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;",
	"CREATE TABLE public.audit_log (id integer, user_id integer);",
	"CREATE SEQUENCE public.audit_log_id_seq AS integer;",
	"ALTER SEQUENCE public.audit_log_id_seq OWNED BY public.audit_log.id;",
	"CREATE SEQUENCE public.free_seq;",
	"ALTER TABLE ONLY public.audit_log ADD CONSTRAINT a_fk FOREIGN KEY (user_id) "
	"REFERENCES public.users(id);",
	"ALTER TABLE ONLY public.users ADD CONSTRAINT u_fk FOREIGN KEY (id) "
	"REFERENCES public.audit_log(id);",
	"SELECT pg_catalog.setval('public.audit_log_id_seq', 3, true);",
	"CREATE INDEX audit_idx ON public.audit_log USING btree (user_id);",
	"COMMENT ON INDEX public.audit_idx IS 'x';",
	"ALTER TABLE public.users ALTER COLUMN n ADD GENERATED ALWAYS AS IDENTITY (\n"
	"    SEQUENCE NAME public.users_n_seq\n    START WITH 1\n);",
	"SELECT pg_catalog.setval('public.users_n_seq', 7, true);",
	NULL
};

static void test_exclude_table(void **state)
{
	g3_tablefilter tf;
	g3_sqlfilter *sf;
	g3_err err;
	struct out o;
	size_t n;

	(void)state;
	g3_tablefilter_init(&tf);
	g3_err_init(&err);
	assert_int_equal(g3_tablefilter_add(&tf, G3_FILTER_EXCLUDE, "audit_log", &err), G3_OK);
	sf = g3_sqlfilter_new(&tf);
	run(sf, dump, &o);
	/* the serial's sequence stays without OWNED BY, as pg_dump -T does;
	 * the foreign key to the excluded table goes */
	assert_string_equal(o.text,
			    "1:CREATE SCHEMA app;\n"
			    "2:CREATE TABLE public.users (id integer);\n"
			    "3:CREATE SEQUENCE public.users_id_seq AS integer;\n"
			    "4:ALTER SEQUENCE public.users_id_seq OWNER TO x;\n"
			    "5:ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;\n"
			    "7:CREATE SEQUENCE public.audit_log_id_seq AS integer;\n"
			    "9:CREATE SEQUENCE public.free_seq;\n"
			    "12:SELECT pg_catalog.setval('public.audit_log_id_seq', 3, true);\n"
			    "15:ALTER TABLE public.users ALTER COLUMN n ADD GENERATED ALWAYS AS "
			    "IDENTITY (\n    SEQUENCE NAME public.users_n_seq\n    START WITH 1\n);\n"
			    "16:SELECT pg_catalog.setval('public.users_n_seq', 7, true);\n");
	assert_int_equal(g3_sqlfilter_dropped_fks(sf), 1);
	assert_string_equal(g3_sqlfilter_excluded(sf, &n)[0], "public.audit_log");
	assert_int_equal(n, 1);
	assert_false(g3_sqlfilter_copy(sf, "public", "audit_log"));
	assert_true(g3_sqlfilter_copy_sql(sf, "COPY public.users (id) FROM stdin;"));
	assert_int_equal(g3_tablefilter_check(&tf, &err), G3_OK);
	g3_sqlfilter_free(sf);
	g3_tablefilter_release(&tf);
}

static void test_table_keeps_owned_sequence(void **state)
{
	g3_tablefilter tf;
	g3_sqlfilter *sf;
	g3_err err;
	struct out o;
	size_t n;

	(void)state;
	g3_tablefilter_init(&tf);
	g3_err_init(&err);
	assert_int_equal(g3_tablefilter_add(&tf, G3_FILTER_TABLE, "users", &err), G3_OK);
	sf = g3_sqlfilter_new(&tf);
	run(sf, dump, &o);
	assert_string_equal(o.text,
			    "1:CREATE SCHEMA app;\n"
			    "2:CREATE TABLE public.users (id integer);\n"
			    "3:CREATE SEQUENCE public.users_id_seq AS integer;\n"
			    "4:ALTER SEQUENCE public.users_id_seq OWNER TO x;\n"
			    "5:ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;\n"
			    "15:ALTER TABLE public.users ALTER COLUMN n ADD GENERATED ALWAYS AS "
			    "IDENTITY (\n    SEQUENCE NAME public.users_n_seq\n    START WITH 1\n);\n"
			    "16:SELECT pg_catalog.setval('public.users_n_seq', 7, true);\n");
	assert_int_equal(g3_sqlfilter_dropped_fks(sf), 1);
	g3_sqlfilter_excluded(sf, &n);
	assert_int_equal(n, 3);     /* audit_log, its sequence, free_seq */
	assert_false(g3_sqlfilter_copy(sf, "public", "audit_log"));
	assert_true(g3_sqlfilter_copy(sf, "public", "users"));
	g3_sqlfilter_free(sf);
	g3_tablefilter_release(&tf);
}

static void test_exclude_data(void **state)
{
	g3_tablefilter tf;
	g3_sqlfilter *sf;
	g3_err err;
	struct out o;
	size_t n;

	(void)state;
	g3_tablefilter_init(&tf);
	g3_err_init(&err);
	assert_int_equal(g3_tablefilter_add(&tf, G3_FILTER_EXCLUDE_DATA, "audit*", &err), G3_OK);
	sf = g3_sqlfilter_new(&tf);
	run(sf, dump, &o);
	assert_non_null(strstr(o.text, "6:CREATE TABLE public.audit_log"));
	assert_non_null(strstr(o.text, "10:ALTER TABLE ONLY public.audit_log ADD CONSTRAINT a_fk"));
	assert_string_equal(g3_sqlfilter_no_data(sf, &n)[0], "public.audit_log");
	assert_int_equal(n, 1);
	assert_false(g3_sqlfilter_copy_sql(sf, "COPY public.audit_log (id) FROM stdin;"));
	assert_true(g3_sqlfilter_copy(sf, "public", "users"));
	g3_sqlfilter_free(sf);
	g3_tablefilter_release(&tf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_fate_and_unused),
		cmocka_unit_test(test_relation),
		cmocka_unit_test(test_exclude_table),
		cmocka_unit_test(test_table_keeps_owned_sequence),
		cmocka_unit_test(test_exclude_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
