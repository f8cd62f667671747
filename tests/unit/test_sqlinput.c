/*
 * Sniffing plain SQL input and pg_dump's closing lines: real pg_dump
 * openings and endings (with and without \restrict), cut ones, hand-written
 * SQL and things that are not SQL at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/pg/sqlinput.h"

#define PG15_HEAD "--\n-- PostgreSQL database dump\n--\n\n" \
	"\\restrict sDhu3rxYStlrt0keAqjNdkBlQufriHD2ZNbxTeUb7WUppWrqX9OBUe9diNStyCX\n\n" \
	"-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n" \
	"-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)\n\n" \
	"SET statement_timeout = 0;\n"
#define PG13_HEAD "--\n-- PostgreSQL database dump\n--\n\n" \
	"-- Dumped from database version 13.4\n-- Dumped by pg_dump version 13.4\n\n" \
	"SET statement_timeout = 0;\n"

struct sniff_case {
	const char *name;
	const char *in;
	size_t len;              /* 0: strlen(in) */
	int whole;
	g3_sqlinput_kind want;
	const char *what;
};

static const struct sniff_case sniffs[] = {
	{ "empty", "", 0, 1, G3_SQLINPUT_EMPTY, "" },
	{ "pg_dump 15.18 with \\restrict", PG15_HEAD, 0, 0, G3_SQLINPUT_PG_DUMP, "" },
	{ "pg_dump 13", PG13_HEAD, 0, 0, G3_SQLINPUT_PG_DUMP, "" },
	{ "pg_dump CRLF", "--\r\n-- PostgreSQL database dump\r\n--\r\n", 0, 0, G3_SQLINPUT_PG_DUMP, "" },
	{ "pg_dump with raw control characters in data",
	  PG13_HEAD "COPY t (a) FROM stdin;\n\x01\x02\x03\x04\x05\x06\n\\.\n", 0, 1,
	  G3_SQLINPUT_PG_DUMP, "" },
	{ "pg_dumpall", "--\n-- PostgreSQL database cluster dump\n--\n\nSET x = 1;\n", 0, 1,
	  G3_SQLINPUT_PG_DUMPALL, "" },
	{ "header line after a statement does not count",
	  "SET x = 1;\n-- PostgreSQL database dump\n", 0, 1, G3_SQLINPUT_SQL, "" },
	{ "hand-written SQL", "CREATE TABLE t (a int);\n", 0, 1, G3_SQLINPUT_SQL, "" },
	{ "SQL after comments", "-- notes\n/* a /* nested */ block */\n\n  select 1;", 0, 1,
	  G3_SQLINPUT_SQL, "" },
	{ "SQL after a meta-command", "\\restrict abc\nBEGIN;\n", 0, 1, G3_SQLINPUT_SQL, "" },
	{ "parenthesised query", "(SELECT 1);", 0, 1, G3_SQLINPUT_SQL, "" },
	{ "only comments", "-- nothing\n/* here */\n", 0, 1, G3_SQLINPUT_NO_SQL, "" },
	{ "only comments so far", "-- nothing\n", 0, 0, G3_SQLINPUT_SQL, "" },
	{ "a keyword prefix is not a keyword", "selected: yes\n", 0, 1, G3_SQLINPUT_OTHER,
	  "text that does not start like SQL (line 1: \"selected: yes\")" },
	{ "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
	  0, 1, G3_SQLINPUT_OTHER,
	  "text that does not start like SQL (line 1: \"root:x:0:0:root:/root:/bin/bash\")" },
	{ "text after comments names its line", "-- x\n\nhello \"world\"\r\n", 0, 1, G3_SQLINPUT_OTHER,
	  "text that does not start like SQL (line 3: \"hello \\x22world\\x22\")" },
	{ "long line is cut", "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789\n", 0, 1, G3_SQLINPUT_OTHER,
	  "text that does not start like SQL (line 1: "
	  "\"012345678901234567890123456789012345678901234567890123456789...\")" },
	{ "JSON", "{\"_index\": \"x\"}\n", 0, 1, G3_SQLINPUT_OTHER,
	  "JSON (line 1: \"{\\x22_index\\x22: \\x22x\\x22}\")" },
	{ "HTML", "<!DOCTYPE html>\n<html>", 0, 1, G3_SQLINPUT_OTHER,
	  "HTML or XML (line 1: \"<!DOCTYPE html>\")" },
	{ "zip", "PK\x03\x04\x14\x00\x00\x00", 8, 1, G3_SQLINPUT_OTHER, "a zip archive" },
	{ "JPEG", "\xff\xd8\xff\xe0\x00\x10JFIF", 10, 1, G3_SQLINPUT_OTHER, "a JPEG image" },
	{ "PNG", "\x89PNG\r\n\x1a\n\0\0", 10, 1, G3_SQLINPUT_OTHER, "a PNG image" },
	{ "PDF", "%PDF-1.7\n", 0, 1, G3_SQLINPUT_OTHER, "a PDF document" },
	{ "ELF", "\x7f" "ELF\x02\x01", 6, 1, G3_SQLINPUT_OTHER, "an ELF executable" },
	{ "gzip left compressed", "\x1f\x8b", 2, 1, G3_SQLINPUT_OTHER,
	  "gzip data that does not decompress" },
	{ "NUL byte", "SELECT 1;\0", 10, 1, G3_SQLINPUT_OTHER, "binary data" },
	{ "control characters", "ab\x01\x02\x03\x04", 6, 1, G3_SQLINPUT_OTHER, "binary data" },
	{ "pg_dump custom format", "PGDMP\x01\x0e\x00", 8, 0, G3_SQLINPUT_PG_CUSTOM, "" },
};

static void test_sniff(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sniffs) / sizeof(sniffs[0]); i++) {
		const struct sniff_case *c = &sniffs[i];
		char what[256];
		g3_sqlinput_kind k;

		k = g3_sqlinput_sniff(c->in, c->len ? c->len : strlen(c->in), c->whole, what,
				      sizeof(what));
		if (k != c->want || strcmp(what, c->what))
			fail_msg("%s: kind %d (want %d), what \"%s\" (want \"%s\")", c->name, k,
				 c->want, what, c->what);
	}
}

#define TRAILER "--\n-- PostgreSQL database dump complete\n--\n\n"

struct end_case {
	const char *name;
	const char *in;
	int complete;
	long long last_line;
};

static const struct end_case ends[] = {
	{ "pg_dump 13", PG13_HEAD "SELECT 1;\n\n\n" TRAILER, 1, 15 },
	{ "pg_dump 15.18 with \\unrestrict", PG15_HEAD TRAILER "\\unrestrict sDhu3rx\n\n", 1, 16 },
	{ "no final newline", "SELECT 1;\n--\n-- PostgreSQL database dump complete\n--", 1, 4 },
	{ "CRLF", "SELECT 1;\r\n--\r\n-- PostgreSQL database dump complete\r\n--\r\n\r\n", 1, 5 },
	{ "cut after a statement", PG13_HEAD "CREATE TABLE t (a int);\n", 0, 9 },
	{ "cut after a COPY block", PG13_HEAD "COPY t FROM stdin;\n1\n\\.\n\n\n", 0, 13 },
	{ "cut inside the trailer", PG13_HEAD "--\n-- PostgreSQL database dump complete\n", 0, 10 },
	{ "cut mid-line", PG13_HEAD "COPY t FROM stdin;\n1\n2", 0, 11 },
	{ "something after the trailer", PG13_HEAD TRAILER "SELECT 1;\n", 0, 13 },
	{ "pg_dumpall's trailer is not pg_dump's",
	  "--\n-- PostgreSQL database cluster dump complete\n--\n", 0, 3 },
	{ "only \\unrestrict", "\\unrestrict x\n", 0, 1 },
	{ "nothing", "", 0, 0 },
};

static void test_end(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		const struct end_case *c = &ends[i];
		size_t len = strlen(c->in);

		/* whole, byte by byte, and in pieces across the tail's size */
		for (size_t step = 1; step <= len + 1; step = step == 1 ? 7 : step * 13) {
			g3_dumpend e;

			g3_dumpend_init(&e);
			for (size_t o = 0; o < len; o += step)
				g3_dumpend_feed(&e, c->in + o, o + step > len ? len - o : step);
			if (g3_dumpend_complete(&e) != c->complete ||
			    g3_dumpend_last_line(&e) != c->last_line)
				fail_msg("%s (step %zu): complete %d, last line %lld", c->name, step,
					 g3_dumpend_complete(&e), g3_dumpend_last_line(&e));
		}
	}
}

/* A long stream: only the last bytes decide; lines are counted throughout. */
static void test_end_long(void **state)
{
	char chunk[1000];
	g3_dumpend e;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	chunk[sizeof(chunk) - 1] = '\n';
	g3_dumpend_init(&e);
	g3_dumpend_feed(&e, PG13_HEAD, strlen(PG13_HEAD));
	for (int i = 0; i < 1000; i++)
		g3_dumpend_feed(&e, chunk, sizeof(chunk));
	assert_int_equal(g3_dumpend_complete(&e), 0);
	assert_int_equal(g3_dumpend_last_line(&e), 8 + 1000);
	g3_dumpend_feed(&e, TRAILER, strlen(TRAILER));
	assert_int_equal(g3_dumpend_complete(&e), 1);
	g3_dumpend_feed(&e, chunk, sizeof(chunk));
	assert_int_equal(g3_dumpend_complete(&e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_end),
		cmocka_unit_test(test_end_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
