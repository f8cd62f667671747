/*
 * The psql script splitter: each case is fed whole, byte by byte and in
 * 7-byte pieces, and must give the same transcript of callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/pg/sqlscript.h"
#include "common/base/strbuf.h"

struct rec {
	g3_buf out;
	g3_buf data;
	int fail_meta;
	int count_only;     /* only count data bytes, keep none */
	size_t total;
};

static g3_rc on_stmt(void *ctx, const g3_sqlstmt *st, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	assert_int_equal(strlen(st->sql), st->len);
	g3_buf_addf(&r->out, "%s%ld:%s\n", st->copy_in ? "C" : "S", st->line, st->sql);
	return G3_OK;
}

static g3_rc on_data(void *ctx, const char *d, size_t n, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	assert_true(n > 0);
	r->total += n;
	if (!r->count_only)
		g3_buf_add(&r->data, d, n);
	return G3_OK;
}

static g3_rc on_end(void *ctx, long lines, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	g3_buf_addf(&r->out, "D[%s]%ld\n", r->data.data ? r->data.data : "", lines);
	g3_buf_reset(&r->data);
	return G3_OK;
}

static g3_rc on_meta(void *ctx, const char *name, const char *arg, long line, g3_err *err)
{
	struct rec *r = ctx;

	if (r->fail_meta && !strcmp(name, "connect"))
		return g3_err_set(err, G3_USAGE, "line %ld: refused \\%s %s", line, name, arg);
	g3_buf_addf(&r->out, "M%ld:%s(%s)\n", line, name, arg);
	return G3_OK;
}

static const struct g3_sqlscript_cb cbs = { on_stmt, on_data, on_end, on_meta };

struct tcase {
	const char *name;
	const char *in;
	const char *want;     /* transcript, or NULL when an error is expected */
	const char *error;    /* expected error message */
};

static const struct tcase cases[] = {
	{ "two statements", "SELECT 1;\nSELECT 2;\n", "S1:SELECT 1;\nS2:SELECT 2;\n", NULL },
	{ "several on a line", "SELECT 1;SELECT 2; ;;SELECT 3", "S1:SELECT 1;\nS1:SELECT 2;\nS1:SELECT 3\n", NULL },
	{ "semicolon in string", "SELECT 'a;b';", "S1:SELECT 'a;b';\n", NULL },
	{ "doubled quote", "SELECT 'it''s;';\n", "S1:SELECT 'it''s;';\n", NULL },
	{ "E string escapes", "SELECT E'a\\';b' ;\nSELECT 1;", "S1:SELECT E'a\\';b' ;\nS2:SELECT 1;\n", NULL },
	{ "E string doubled quote then escape", "SELECT E'x''y\\'z;';", "S1:SELECT E'x''y\\'z;';\n", NULL },
	{ "plain string backslash with scs on", "SELECT 'a\\';SELECT 2;", "S1:SELECT 'a\\';\nS1:SELECT 2;\n", NULL },
	{ "scs off makes backslash escape",
	  "SET standard_conforming_strings = off;\nSELECT 'a\\';b';\nSET standard_conforming_strings = 'on';\nSELECT 'c\\';",
	  "S1:SET standard_conforming_strings = off;\nS2:SELECT 'a\\';b';\nS3:SET standard_conforming_strings = 'on';\nS4:SELECT 'c\\';\n", NULL },
	{ "identifier before quote is not E", "SELECT tablE'x';", "S1:SELECT tablE'x';\n", NULL },
	{ "double-quoted identifier", "CREATE TABLE \"a;\"\"b\" (x int);", "S1:CREATE TABLE \"a;\"\"b\" (x int);\n", NULL },
	{ "dollar quote", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT 2;",
	  "S1:CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nS2:SELECT 2;\n", NULL },
	{ "tagged dollar quote with $$ inside", "DO $body$ BEGIN PERFORM $$;$$; END $body$;",
	  "S1:DO $body$ BEGIN PERFORM $$;$$; END $body$;\n", NULL },
	{ "dollar after identifier is not a quote", "SELECT a$b; SELECT $1;", "S1:SELECT a$b;\nS1:SELECT $1;\n", NULL },
	{ "line comment", "-- a; comment\nSELECT 1; -- trailing;\nSELECT 2 -- x;\n;",
	  "S2:SELECT 1;\nS3:SELECT 2 -- x;\n;\n", NULL },
	{ "nested block comment", "/* a /* b; */ c; */ SELECT 1 /* ; */;", "S1:SELECT 1 /* ; */;\n", NULL },
	{ "parentheses hold semicolons", "CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2);",
	  "S1:CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2);\n", NULL },
	{ "CRLF", "SELECT 1;\r\nSELECT\r\n 2;\r\n", "S1:SELECT 1;\nS2:SELECT\r\n 2;\n", NULL },
	{ "copy block", "COPY public.t (a, b) FROM stdin;\n1\tx\n2\t\\N\n\\.\nSELECT 1;\n",
	  "C1:COPY public.t (a, b) FROM stdin;\nD[1\tx\n2\t\\N\n]2\nS5:SELECT 1;\n", NULL },
	{ "empty copy block", "COPY t FROM STDIN;\n\\.\nSELECT 1;", "C1:COPY t FROM STDIN;\nD[]0\nS3:SELECT 1;\n", NULL },
	{ "copy CRLF terminator", "COPY t FROM stdin;\r\n1\r\n\\.\r\nSELECT 1;",
	  "C1:COPY t FROM stdin;\nD[1\r\n]1\nS4:SELECT 1;\n", NULL },
	{ "copy data line starting with backslash", "COPY t FROM stdin;\n\\N\n\\.x\n\\\\.\n\\.\n",
	  "C1:COPY t FROM stdin;\nD[\\N\n\\.x\n\\\\.\n]3\n", NULL },
	{ "copy terminator at end of input", "COPY t FROM stdin;\n1\n\\.", "C1:COPY t FROM stdin;\nD[1\n]1\n", NULL },
	{ "copy to stdout is not copy in", "COPY t TO stdout;", "S1:COPY t TO stdout;\n", NULL },
	{ "copy with quoted from", "COPY \"from\" (\"stdin\") FROM stdin;\n\\.\n",
	  "C1:COPY \"from\" (\"stdin\") FROM stdin;\nD[]0\n", NULL },
	{ "restrict meta-commands", "\\restrict abc123\nSELECT 1;\n\\unrestrict abc123\n",
	  "M1:restrict(abc123)\nS2:SELECT 1;\nM3:unrestrict(abc123)\n", NULL },
	{ "connect goes to callback", "\\connect fence\r\n", "M1:connect(fence)\n", NULL },
	{ "encoding goes to callback", "\\encoding SQL_ASCII\n", "M1:encoding(SQL_ASCII)\n", NULL },
	{ "line numbers after copy", "COPY t FROM stdin;\na\nb\n\\.\n\n\nSELECT\n1;",
	  "C1:COPY t FROM stdin;\nD[a\nb\n]2\nS7:SELECT\n1;\n", NULL },
	{ "unknown meta-command", "SELECT 1;\n\n\\set ON_ERROR_STOP 1\n", NULL,
	  "line 3: unsupported psql meta-command \"\\set\"" },
	{ "backslash inside a statement", "SELECT 1\n\\gexec\n", NULL,
	  "line 2: a backslash outside a string inside a statement (psql meta-commands within statements are not supported)" },
	{ "unterminated string", "SELECT 1;\nSELECT 'abc;\n", NULL,
	  "line 3: unexpected end of input in a quoted string that began at line 2" },
	{ "unterminated dollar quote", "DO $x$ BEGIN\nEND $y$;", NULL,
	  "line 2: unexpected end of input in a dollar-quoted string that began at line 1" },
	{ "unterminated comment", "/* /* */\n", NULL,
	  "line 2: unexpected end of input in a comment that began at line 1" },
	{ "truncated copy", "SELECT 1;\nCOPY t FROM stdin;\n1\n2\n", NULL,
	  "line 5: unexpected end of input in the data of the COPY statement at line 2 (no \"\\.\" line)" },
	{ "text after copy statement", "COPY t FROM stdin; SELECT 1;\n", NULL,
	  "line 1: text after a COPY ... FROM stdin statement" },
};

static void run(const struct tcase *tc, size_t step)
{
	struct rec r;
	g3_sqlscript *s;
	g3_err err;
	g3_rc rc = G3_OK;
	size_t len = strlen(tc->in);

	memset(&r, 0, sizeof(r));
	g3_err_init(&err);
	s = g3_sqlscript_new(&cbs, &r);
	for (size_t i = 0; i < len && !rc; i += step)
		rc = g3_sqlscript_feed(s, tc->in + i, i + step > len ? len - i : step, &err);
	if (!rc)
		rc = g3_sqlscript_finish(s, &err);
	if (tc->want) {
		if (rc)
			fail_msg("%s (step %zu): unexpected error: %s", tc->name, step, err.msg);
		if (strcmp(r.out.data ? r.out.data : "", tc->want))
			fail_msg("%s (step %zu):\n got: [%s]\nwant: [%s]", tc->name, step,
				 r.out.data ? r.out.data : "", tc->want);
	} else {
		if (!rc)
			fail_msg("%s (step %zu): no error", tc->name, step);
		if (strcmp(err.msg, tc->error))
			fail_msg("%s (step %zu):\n got error: %s\nwant error: %s", tc->name, step,
				 err.msg, tc->error);
		assert_int_equal(rc, G3_USAGE);
	}
	g3_sqlscript_free(s);
	g3_buf_release(&r.out);
	g3_buf_release(&r.data);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run(&cases[i], 1 << 20);
		run(&cases[i], 1);
		run(&cases[i], 7);
	}
}

static void test_callback_error_stops(void **state)
{
	struct rec r;
	g3_sqlscript *s;
	g3_err err;
	const char *in = "SELECT 1;\n\\connect other\nSELECT 2;\n";

	(void)state;
	memset(&r, 0, sizeof(r));
	r.fail_meta = 1;
	g3_err_init(&err);
	s = g3_sqlscript_new(&cbs, &r);
	assert_int_equal(g3_sqlscript_feed(s, in, strlen(in), &err), G3_USAGE);
	assert_string_equal(err.msg, "line 2: refused \\connect other");
	assert_string_equal(r.out.data, "S1:SELECT 1;\n");
	g3_sqlscript_free(s);
	g3_buf_release(&r.out);
	g3_buf_release(&r.data);
}

/* A NUL byte would silently cut a statement short: refused (COPY data
 * passes through untouched: the server judges it). */
static void test_nul_byte(void **state)
{
	static const char in[] = "SELECT 1;\nSELECT '\0';\n";
	struct rec r;
	g3_sqlscript *s;
	g3_err err;

	(void)state;
	memset(&r, 0, sizeof(r));
	g3_err_init(&err);
	s = g3_sqlscript_new(&cbs, &r);
	assert_int_equal(g3_sqlscript_feed(s, in, sizeof(in) - 1, &err), G3_USAGE);
	assert_string_equal(err.msg, "line 2: a NUL byte in the script");
	g3_sqlscript_free(s);
	g3_buf_release(&r.out);
	g3_buf_release(&r.data);
}

/* A large COPY block fed in big pieces arrives in chunks, never whole. */
static void test_copy_streams(void **state)
{
	struct rec r;
	g3_sqlscript *s;
	g3_err err;
	g3_buf in = G3_BUF_INIT;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.count_only = 1;
	g3_err_init(&err);
	g3_buf_adds(&in, "COPY t FROM stdin;\n");
	for (int i = 0; i < 100000; i++)
		g3_buf_addf(&in, "%d\tsome text for the row\n", i);
	g3_buf_adds(&in, "\\.\n");
	s = g3_sqlscript_new(&cbs, &r);
	for (size_t i = 0; i < in.len; i += 65536) {
		size_t n = i + 65536 > in.len ? in.len - i : 65536;

		assert_int_equal(g3_sqlscript_feed(s, in.data + i, n, &err), G3_OK);
	}
	assert_int_equal(g3_sqlscript_finish(s, &err), G3_OK);
	assert_int_equal(r.total, in.len - strlen("COPY t FROM stdin;\n") - 3);
	assert_string_equal(r.out.data, "C1:COPY t FROM stdin;\nD[]100000\n");
	g3_sqlscript_free(s);
	g3_buf_release(&in);
	g3_buf_release(&r.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_copy_streams),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
