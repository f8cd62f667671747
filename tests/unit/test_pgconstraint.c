#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pg/pgconstraint.h"

static const struct {
	const char *sql, *index, *attach, *table;
} split_cases[] = {
	{ "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);",
	  "CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)",
	  "ALTER TABLE ONLY public.t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_pkey",
	  "public.t" },
	/* hostile names exactly as written; a multi-column key */
	{ "alter table only \"Odd \"\"S\"\". x\".\"T, y\" add constraint \"pk \"\"Ω\"\" .z\" "
	  "primary key (a, \"B c\")",
	  "CREATE UNIQUE INDEX \"pk \"\"Ω\"\" .z\" ON \"Odd \"\"S\"\". x\".\"T, y\" USING btree "
	  "(a, \"B c\")",
	  "ALTER TABLE ONLY \"Odd \"\"S\"\". x\".\"T, y\" ADD CONSTRAINT \"pk \"\"Ω\"\" .z\" "
	  "PRIMARY KEY USING INDEX \"pk \"\"Ω\"\" .z\"",
	  "\"Odd \"\"S\"\". x\".\"T, y\"" },
	/* every option pg_dump writes, in its order */
	{ "ALTER TABLE t ADD CONSTRAINT u UNIQUE NULLS NOT DISTINCT (a) INCLUDE (b, c) "
	  "WITH (fillfactor='70') USING INDEX TABLESPACE ts DEFERRABLE INITIALLY DEFERRED;",
	  "CREATE UNIQUE INDEX u ON t USING btree (a) INCLUDE (b, c) NULLS NOT DISTINCT "
	  "WITH (fillfactor='70') TABLESPACE ts",
	  "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX u DEFERRABLE INITIALLY DEFERRED",
	  "t" },
	{ "ALTER TABLE ONLY s.t ADD CONSTRAINT u UNIQUE (a) NOT DEFERRABLE; -- note",
	  "CREATE UNIQUE INDEX u ON s.t USING btree (a)",
	  "ALTER TABLE ONLY s.t ADD CONSTRAINT u UNIQUE USING INDEX u NOT DEFERRABLE",
	  "s.t" },
};

static void test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		g3_pgconstraint_split s;

		assert_int_equal(g3_pgconstraint_split_sql(split_cases[i].sql, &s), 1);
		assert_string_equal(s.index_sql, split_cases[i].index);
		assert_string_equal(s.attach_sql, split_cases[i].attach);
		assert_string_equal(s.table, split_cases[i].table);
		g3_pgconstraint_release(&s);
	}
}

/* what keeps the old path: anything not read in full */
static const char *const kept[] = {
	"ALTER TABLE ONLY t ADD CONSTRAINT c CHECK (a > 0)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c EXCLUDE USING gist (r WITH &&)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u(a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY (lower(a))",
	"ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY (a, r WITHOUT OVERLAPS)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c UNIQUE (a DESC)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c UNIQUE (a) INCLUDE (b) INCLUDE (c)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c UNIQUE (a) DEFERRABLE DEFERRABLE",
	"ALTER TABLE ONLY t ADD CONSTRAINT c UNIQUE (a) NOT VALID",
	"ALTER TABLE ONLY t ADD CONSTRAINT c UNIQUE (a); SELECT 1",
	"ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY USING INDEX i",
	"ALTER TABLE ONLY t ADD PRIMARY KEY (a)",
	"ALTER TABLE ONLY d.s.t ADD CONSTRAINT c PRIMARY KEY (a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT \"\" PRIMARY KEY (a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY (a",
	"ALTER TABLE ONLY t ADD CONSTRAINT c UNIQUE (a) WITH (fillfactor='7",
	"ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY ()",
	"ALTER TABLE ONLY t ALTER COLUMN a SET DEFAULT 1",
	"CREATE UNIQUE INDEX c ON t (a)",
};

static void test_kept(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		g3_pgconstraint_split s;

		if (g3_pgconstraint_split_sql(kept[i], &s))
			fail_msg("split: %s", kept[i]);
		assert_null(s.index_sql);
	}
}

static const struct {
	const char *sql, *add, *validate, *table, *ref;
} fk_cases[] = {
	{ "ALTER TABLE ONLY public.record_url\n    ADD CONSTRAINT record_url_did_fkey FOREIGN KEY "
	  "(did) REFERENCES public.record(did) ON DELETE CASCADE;\n",
	  "ALTER TABLE ONLY public.record_url\n    ADD CONSTRAINT record_url_did_fkey FOREIGN KEY "
	  "(did) REFERENCES public.record(did) ON DELETE CASCADE NOT VALID",
	  "ALTER TABLE ONLY public.record_url VALIDATE CONSTRAINT record_url_did_fkey",
	  "public.record_url", "public.record" },
	/* no semicolon, a comment at the end: NOT VALID goes before it */
	{ "ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u (a) -- why\n",
	  "ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u (a) NOT VALID",
	  "ALTER TABLE t VALIDATE CONSTRAINT c", "t", "u" },
	/* hostile names as written; a string and a comment are skipped whole */
	{ "alter table \"Odd \"\"S\"\". x\".\"Child\" add constraint \"child→parent; not valid\" "
	  "foreign key (a, \"B c\") references \"Odd \"\"S\"\". x\".\"T, y\"(a, \"B c\") "
	  "MATCH FULL DEFERRABLE INITIALLY DEFERRED; -- not valid",
	  "alter table \"Odd \"\"S\"\". x\".\"Child\" add constraint \"child→parent; not valid\" "
	  "foreign key (a, \"B c\") references \"Odd \"\"S\"\". x\".\"T, y\"(a, \"B c\") "
	  "MATCH FULL DEFERRABLE INITIALLY DEFERRED NOT VALID",
	  "ALTER TABLE \"Odd \"\"S\"\". x\".\"Child\" VALIDATE CONSTRAINT "
	  "\"child→parent; not valid\"",
	  "\"Odd \"\"S\"\". x\".\"Child\"", "\"Odd \"\"S\"\". x\".\"T, y\"" },
};

static void test_split_fk(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fk_cases) / sizeof(fk_cases[0]); i++) {
		g3_pgconstraint_split s;

		assert_int_equal(g3_pgconstraint_split_fk(fk_cases[i].sql, &s), 1);
		assert_string_equal(s.index_sql, fk_cases[i].add);
		assert_string_equal(s.attach_sql, fk_cases[i].validate);
		assert_string_equal(s.table, fk_cases[i].table);
		assert_string_equal(s.ref, fk_cases[i].ref);
		g3_pgconstraint_release(&s);
	}
}

/* foreign keys that keep the old path */
static const char *const fk_kept[] = {
	/* never checked in the source: must stay unchecked */
	"ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u(a) NOT VALID;",
	"ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u(a) not  /* x */ valid",
	"ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u(a); SELECT 1",
	"ALTER TABLE ONLY t ADD FOREIGN KEY (a) REFERENCES u(a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY (a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES a.b.c(a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c PRIMARY KEY (a)",
	"ALTER TABLE ONLY d.s.t ADD CONSTRAINT c FOREIGN KEY (a) REFERENCES u(a)",
	"ALTER TABLE ONLY t ADD CONSTRAINT c CHECK (a > 0)",
	"CREATE INDEX c ON t (a)",
};

static void test_fk_kept(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fk_kept) / sizeof(fk_kept[0]); i++) {
		g3_pgconstraint_split s;

		if (g3_pgconstraint_split_fk(fk_kept[i], &s))
			fail_msg("split: %s", fk_kept[i]);
		assert_null(s.index_sql);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_split_fk),
		cmocka_unit_test(test_fk_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
