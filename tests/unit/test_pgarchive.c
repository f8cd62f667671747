/*
 * pg_dump archive headers: the first bytes of a real pg_dump 15 -Fc
 * archive, the same header cut at every length, a 1.15 header (one byte
 * of compression algorithm), versions newer than known, and the pg_restore
 * version each archive version needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/pg/pgarchive.h"

/* pg_dump 15.18 -Fc of database "postgres" (2026-12-02 07:20:54) */
static const unsigned char pg15[] = {
	'P', 'G', 'D', 'M', 'P', 0x01, 0x0e, 0x00, 0x04, 0x08, 0x01,
	0x01, 0x01, 0x00, 0x00, 0x00,                   /* compression -1 */
	0x00, 0x36, 0x00, 0x00, 0x00,                   /* sec 54 */
	0x00, 0x14, 0x00, 0x00, 0x00,                   /* min 20 */
	0x00, 0x07, 0x00, 0x00, 0x00,                   /* hour 7 */
	0x00, 0x02, 0x00, 0x00, 0x00,                   /* mday 2 */
	0x00, 0x0b, 0x00, 0x00, 0x00,                   /* mon 11 */
	0x00, 0x7e, 0x00, 0x00, 0x00,                   /* year 126 */
	0x00, 0x00, 0x00, 0x00, 0x00,                   /* isdst */
	0x00, 0x08, 0x00, 0x00, 0x00, 'p', 'o', 's', 't', 'g', 'r', 'e', 's',
	0x00, 0x05, 0x00, 0x00, 0x00, '1', '5', '.', '1', '8',
	0x00, 0x05, 0x00, 0x00, 0x00, '1', '5', '.', '1', '8',
	0x00, 0x07, 0x00, 0x00, 0x00,                   /* the TOC follows */
};

static void test_parse(void **state)
{
	g3_pgarch_head h;
	char why[128], buf[256];

	(void)state;
	assert_int_equal(g3_pgarch_head_parse(pg15, sizeof(pg15), &h, why, sizeof(why)), 1);
	assert_int_equal(h.vmaj, 1);
	assert_int_equal(h.vmin, 14);
	assert_int_equal(h.format, G3_PGARCH_CUSTOM);
	assert_string_equal(h.database, "postgres");
	assert_string_equal(h.server_version, "15.18");
	assert_string_equal(h.pg_dump_version, "15.18");
	assert_string_equal(h.created, "2026-12-02 07:20:54");
	g3_pgarch_compression(&h, buf, sizeof(buf));
	assert_string_equal(buf, "gzip");
	assert_int_equal(g3_pgarch_restore_major(&h), 12);
	g3_pgarch_describe(&h, buf, sizeof(buf));
	assert_string_equal(buf, "pg_dump custom archive (format 1.14, PostgreSQL 15.18, "
			    "pg_dump 15.18)");
}

static void test_cut(void **state)
{
	g3_pgarch_head h;
	char why[128];
	/* everything up to the last version string's end */
	size_t header_end = sizeof(pg15) - 5;

	(void)state;
	for (size_t n = 0; n < header_end; n++) {
		int r = g3_pgarch_head_parse(pg15, n, &h, why, sizeof(why));

		assert_int_equal(r, n < 5 ? 0 : -1);
		if (n >= 5)
			assert_string_equal(why, "its header is cut short");
	}
	assert_int_equal(g3_pgarch_head_parse(pg15, header_end, &h, why, sizeof(why)), 1);
	assert_int_equal(g3_pgarch_head_parse("PGDMX\x01\x0e", 7, &h, why, sizeof(why)), 0);
	assert_int_equal(g3_pgarch_head_parse("-- PostgreSQL", 13, &h, why, sizeof(why)), 0);
}

static void test_versions(void **state)
{
	unsigned char b[sizeof(pg15) + 8];
	g3_pgarch_head h;
	char why[128], comp[64];
	static const struct { int minor, need; } needs[] = {
		{ 12, 9 }, { 13, 11 }, { 14, 12 }, { 15, 16 }, { 16, 17 }, { 17, 18 }, { 30, 18 },
	};

	(void)state;
	/* 1.15+: the compression is one byte (3: zstd) instead of an integer */
	memcpy(b, pg15, 11);
	b[6] = 15;
	b[11] = 3;
	memcpy(b + 12, pg15 + 16, sizeof(pg15) - 16);
	assert_int_equal(g3_pgarch_head_parse(b, sizeof(pg15) - 4, &h, why, sizeof(why)), 1);
	g3_pgarch_compression(&h, comp, sizeof(comp));
	assert_string_equal(comp, "zstd");
	assert_string_equal(h.database, "postgres");
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		memset(&h, 0, sizeof(h));
		h.vmaj = 1;
		h.vmin = needs[i].minor;
		assert_int_equal(g3_pgarch_restore_major(&h), needs[i].need);
	}
	/* an archive major other than 1 is not known */
	memcpy(b, pg15, sizeof(pg15));
	b[5] = 2;
	assert_int_equal(g3_pgarch_head_parse(b, sizeof(pg15), &h, why, sizeof(why)), -1);
	assert_string_equal(why, "unknown archive version 2.14");
	/* an integer size no pg_dump writes */
	memcpy(b, pg15, sizeof(pg15));
	b[8] = 0;
	assert_int_equal(g3_pgarch_head_parse(b, sizeof(pg15), &h, why, sizeof(why)), -1);
	assert_string_equal(why, "integer size 0 in the header");
}

static void test_no_dir(void **state)
{
	(void)state;
	assert_int_equal(g3_pgarch_is_dir("/"), 0);
	assert_int_equal(g3_pgarch_is_dir("-"), 0);
	assert_int_equal(g3_pgarch_is_dir("s3://bucket/dir/"), 0);
	assert_int_equal(g3_pgarch_is_dir("/nonexistent"), 0);
}

/* A tar header block: name, size in octal, "ustar". */
static void tar_header(unsigned char *b, const char *name, unsigned size)
{
	memset(b, 0, 512);
	memcpy(b, name, strlen(name));
	snprintf((char *)b + 124, 12, "%011o", size);
	memcpy(b + 257, "ustar", 6);
}

static void test_tarwalk(void **state)
{
	/* toc.dat (700 bytes), 3.dat (0 bytes), restore.sql (512 bytes), end */
	static unsigned char tar[512 + 1024 + 512 + 512 + 512 + 1024];
	size_t len = sizeof(tar), off = 0;
	g3_tarwalk w;

	(void)state;
	memset(tar, 0, sizeof(tar));
	tar_header(tar, "toc.dat", 700);
	memset(tar + 512, 'x', 700);
	off = 512 + 1024;
	tar_header(tar + off, "3.dat", 0);
	off += 512;
	tar_header(tar + off, "restore.sql", 512);
	memset(tar + off + 512, 'y', 512);
	/* whole, fed at once and byte by byte */
	g3_tarwalk_init(&w);
	g3_tarwalk_feed(&w, tar, len);
	assert_int_equal(g3_tarwalk_complete(&w), 1);
	g3_tarwalk_init(&w);
	for (size_t i = 0; i < len; i++)
		g3_tarwalk_feed(&w, tar + i, 1);
	assert_int_equal(g3_tarwalk_complete(&w), 1);
	/* cut anywhere before the end block is complete: incomplete */
	for (size_t n = 0; n < len - 1024 + 512; n++) {
		g3_tarwalk_init(&w);
		g3_tarwalk_feed(&w, tar, n);
		assert_int_equal(g3_tarwalk_complete(&w), 0);
		assert_int_equal(w.pos, n);
	}
	/* zeros inside a member are data, not the end */
	memset(tar + 512, 0, 700);
	g3_tarwalk_init(&w);
	g3_tarwalk_feed(&w, tar, 512 + 1024);
	assert_int_equal(g3_tarwalk_complete(&w), 0);
	/* a header that is not one */
	memcpy(tar + 512 + 1024 + 257, "xxxxx", 5);
	g3_tarwalk_init(&w);
	g3_tarwalk_feed(&w, tar, len);
	assert_int_equal(g3_tarwalk_complete(&w), 0);
	assert_int_equal(w.bad, 1);
	/* base-256 size (the high bit of the field's first byte) */
	tar_header(tar, "toc.dat", 0);
	memset(tar + 124, 0, 12);
	tar[124] = 0x80;
	tar[135] = 0x02;            /* 2 bytes of data: one block */
	memset(tar + 512, 0, 1024 + 512);
	g3_tarwalk_init(&w);
	g3_tarwalk_feed(&w, tar, 512 + 512 + 512);
	assert_int_equal(g3_tarwalk_complete(&w), 1);
	assert_int_equal(w.next, 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_no_dir),
		cmocka_unit_test(test_tarwalk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
