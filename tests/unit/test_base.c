/*
 * The one-of-each helpers of src/common/base: clock, size grammar, IEC
 * byte formatting, URL encoding and credential stripping, base64 and the
 * interrupt path's cleanup registry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/base64.h"
#include "common/base/clock.h"
#include "common/base/hex.h"
#include "common/base/interrupt.h"
#include "common/base/json.h"
#include "common/base/size.h"
#include "common/base/strbuf.h"
#include "common/base/url.h"

static void test_clock(void **state)
{
	double a, b;

	(void)state;
	a = g3_clock_now();
	g3_clock_sleep(0.02);
	b = g3_clock_now();
	assert_true(b - a >= 0.019);
	assert_true(b - a < 5);
	g3_clock_sleep(0);
	g3_clock_sleep(-1);
	assert_true(g3_clock_now() >= b);
}

static void test_size_accepts(void **state)
{
	static const struct { const char *in; uint64_t unit, out; } cases[] = {
		{ "0", 1, 0 }, { "12345", 1, 12345 }, { "100B", 1, 100 }, { "100b", 1, 100 },
		{ "4k", 1, 4096 }, { "4K", 1, 4096 }, { "4KB", 1, 4096 }, { "4kb", 1, 4096 },
		{ "4KiB", 1, 4096 }, { "4kib", 1, 4096 },
		{ "3MB", 1, 3 << 20 }, { "5M", 1, 5 << 20 }, { "5MiB", 1, 5 << 20 },
		{ "5mB", 1, 5 << 20 }, { "1G", 1, 1 << 30 }, { "1GB", 1, 1 << 30 },
		{ "1GiB", 1, 1 << 30 }, { "64K", 1, 65536 },
		/* a bare number counts units (--s3-part-size 6 is 6 MiB) */
		{ "6", G3_MIB, 6 << 20 }, { "6MB", G3_MIB, 6 << 20 }, { "512K", G3_MIB, 512 << 10 },
		/* strtoull's leading blanks and '+' were always let through */
		{ " 7", 1, 7 }, { "+7", 1, 7 },
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 0;
		assert_int_equal(g3_size_parse(cases[i].in, cases[i].unit, 0, UINT64_MAX, &v), 0);
		assert_true(v == cases[i].out);
	}
}

static void test_size_rejects(void **state)
{
	static const char *bad[] = {
		"", "-1", " -1", "K", "MB", "1.5M", "3XB", "3 MB", "3MBs", "3T", "3KBB", "0x10",
		"99999999999999999999", "18446744073709551615G",
	};
	uint64_t v = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(g3_size_parse(bad[i], 1, 0, UINT64_MAX, &v), -1);
	assert_true(v == 42);
	/* the bounds: min and max inclusive */
	assert_int_equal(g3_size_parse("64K", 1, 65536, G3_GIB, &v), 0);
	assert_int_equal(g3_size_parse("65535", 1, 65536, G3_GIB, &v), -1);
	assert_int_equal(g3_size_parse("1G", 1, 65536, G3_GIB, &v), 0);
	assert_int_equal(g3_size_parse("1073741825", 1, 65536, G3_GIB, &v), -1);
	assert_int_equal(g3_size_parse("5121", G3_MIB, 5 * G3_MIB, 5120 * G3_MIB, &v), -1);
	assert_int_equal(g3_size_parse("4", G3_MIB, 5 * G3_MIB, 5120 * G3_MIB, &v), -1);
}

static void test_format_bytes(void **state)
{
	static const struct { int64_t in; const char *out; } cases[] = {
		{ -5, "0 B" }, { 0, "0 B" }, { 1, "1 B" }, { 1023, "1023 B" },
		{ 1024, "1.0 KiB" }, { 1536, "1.5 KiB" }, { 102348, "99.9 KiB" },
		{ 102400, "100 KiB" }, { 1047552, "1023 KiB" }, { 1048063, "1023 KiB" },
		{ 1048064, "1.0 MiB" }, { 1048576, "1.0 MiB" }, { 12897484, "12.3 MiB" },
		{ 1048575, "1.0 MiB" }, { 123LL << 20, "123 MiB" }, { 5LL << 30, "5.0 GiB" },
		{ 1073741824, "1.0 GiB" }, { 1099511627776LL, "1.0 TiB" }, { 3LL << 40, "3.0 TiB" },
		{ INT64_MAX, "8.0 EiB" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_format_bytes(buf, sizeof(buf), cases[i].in);
		assert_string_equal(buf, cases[i].out);
	}
	g3_format_bytes(buf, 4, 12897484);
	assert_string_equal(buf, "12.");
}

static void test_url_encode_decode(void **state)
{
	static const struct { const char *in; int slash; const char *out; } cases[] = {
		{ "abcXYZ019-_.~", 0, "abcXYZ019-_.~" }, { "a b", 0, "a%20b" },
		{ "a/b", 0, "a%2Fb" }, { "a/b", 1, "a/b" }, { "+=&?#%", 0, "%2B%3D%26%3F%23%25" },
		{ "\xc3\xa9", 0, "%C3%A9" }, { "", 0, "" },
	};
	g3_buf b = G3_BUF_INIT;
	char *d;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_buf_reset(&b);
		g3_url_encode(&b, cases[i].in, cases[i].slash);
		assert_string_equal(b.data ? b.data : "", cases[i].out);
		d = g3_url_decode(b.data ? b.data : "", b.len);
		assert_string_equal(d, cases[i].in);
		free(d);
	}
	g3_buf_release(&b);
	/* a '%' without two hex digits stays */
	d = g3_url_decode("a%2x%4", 6);
	assert_string_equal(d, "a%2x%4");
	free(d);
	d = g3_url_decode("p%40ss%3Aw", 10);
	assert_string_equal(d, "p@ss:w");
	free(d);
}

static void test_url_credentials(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "http://u:p@h:9200/x", "http://h:9200/x" },
		{ "http://u@h", "http://h" },
		{ "http://a@b@h/p", "http://h/p" },
		{ "http://h/a@b", "http://h/a@b" },
		{ "u:p@h:9200", "h:9200" },
		{ "https://h/x?token=t", "https://h/x?token=t" },  /* userinfo only */
	};
	size_t s = 0, e = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = g3_url_strip_credentials(cases[i].in);

		assert_string_equal(r, cases[i].out);
		free(r);
	}
	assert_int_equal(g3_url_userinfo("https://us:pw@h/", &s, &e), 1);
	assert_int_equal(s, 8);
	assert_int_equal(e, 13);
	assert_int_equal(g3_url_userinfo("https://h/us:pw@", &s, &e), 0);
}

static void test_base64_round_trip(void **state)
{
	unsigned char all[256];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t len = 0; len <= sizeof(all); len += len < 8 ? 1 : 37) {
		char *enc = g3_base64(all, len);
		unsigned char *dec;

		assert_int_equal(strlen(enc), 4 * ((len + 2) / 3));
		dec = g3_base64_decode(enc, &n);
		assert_non_null(dec);
		assert_int_equal(n, len);
		assert_memory_equal(dec, all, len);
		assert_int_equal(dec[n], 0);
		free(enc);
		free(dec);
	}
}

static void test_base64_bad_input(void **state)
{
	/* EVP_DecodeBlock alone would take some of these: blanks, line breaks,
	 * '=' inside, '-' and '_' of the URL alphabet */
	static const char *bad[] = {
		"Zg=", "Z===", "====", "Zm9v!", "Zg==Zg==", "=Zg=", "AA=A", "Zm=v", " Zm9v",
		"Zm9v ", "Zm9v\n", "Zm\n9v", "Zm-v", "Zm_v", "Zm9", "Zm9vY",
	};
	size_t n = 7;
	unsigned char *d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(g3_base64_decode(bad[i], &n));
	d = g3_base64_decode("", &n);
	assert_non_null(d);
	assert_int_equal(n, 0);
	free(d);
}

static int order[2 * G3_INTERRUPT_MAX], n_order;

static void note(void *arg)
{
	order[n_order++] = (int)(intptr_t)arg;
}

static void test_interrupt_registry(void **state)
{
	int a, b, c;

	(void)state;
	n_order = 0;
	a = g3_interrupt_register(note, (void *)1);
	b = g3_interrupt_register(note, (void *)2);
	c = g3_interrupt_register(note, (void *)3);
	assert_true(a >= 0 && b >= 0 && c >= 0);
	g3_interrupt_unregister(b);
	g3_interrupt_unregister(-1);
	g3_interrupt_run_cleanups();
	/* newest first; an unregistered one never runs */
	assert_int_equal(n_order, 2);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 1);
	/* each runs once: the registry is empty now */
	g3_interrupt_run_cleanups();
	assert_int_equal(n_order, 2);
	/* a full registry says so */
	for (int i = 0; i < G3_INTERRUPT_MAX; i++)
		assert_true(g3_interrupt_register(note, (void *)(intptr_t)(10 + i)) >= 0);
	assert_int_equal(g3_interrupt_register(note, NULL), -1);
	n_order = 0;
	g3_interrupt_run_cleanups();
	assert_int_equal(n_order, G3_INTERRUPT_MAX);
	assert_int_equal(order[0], 10 + G3_INTERRUPT_MAX - 1);
}

static void test_interrupt_flag(void **state)
{
	(void)state;
	g3_interrupted = 0;
	g3_interrupt_install(G3_INTERRUPT_FLAG);
	raise(SIGTERM);
	assert_int_equal(g3_interrupted, 1);
	g3_interrupted = 0;
	raise(SIGINT);
	assert_int_equal(g3_interrupted, 1);
	g3_interrupted = 0;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
}

/* In DIE mode the cleanups run in the handler (a partial file removed),
 * then the process dies of the signal it got. */
static void test_interrupt_die(void **state)
{
	char path[] = "/tmp/g3-interrupt-XXXXXX";
	int fd = mkstemp(path), status = 0;
	struct stat st;
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		g3_interrupt_install(G3_INTERRUPT_DIE);
		g3_interrupt_register(g3_interrupt_unlink, path);
		raise(SIGTERM);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(stat(path, &st), -1);
}

static void test_json_quote(void **state)
{
	g3_buf b = G3_BUF_INIT;
	g3_buf in = G3_BUF_INIT;
	json_object *o;

	(void)state;
	g3_json_quote(&b, "a\"b\\c\n\r\t\x01\xc3\xa9");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\xc3\xa9\"");
	assert_null(g3_json_parse_buf(&in));
	g3_buf_adds(&in, "{\"a\": 1}");
	o = g3_json_parse_buf(&in);
	assert_non_null(o);
	json_object_put(o);
	g3_buf_reset(&in);
	g3_buf_adds(&in, "{\"a\":");
	assert_null(g3_json_parse_buf(&in));
	g3_buf_release(&b);
	g3_buf_release(&in);
}

static void test_hex_and_sha256(void **state)
{
	const unsigned char bytes[] = { 0x00, 0x0f, 0xa5, 0xff };
	char out[65];

	(void)state;
	g3_hex_encode(bytes, sizeof(bytes), out);
	assert_string_equal(out, "000fa5ff");
	g3_hex_encode(bytes, 0, out);
	assert_string_equal(out, "");
	/* FIPS 180-2 test vectors */
	g3_sha256_hex("abc", 3, out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	g3_sha256_hex("", 0, out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_str_move_and_free_all(void **state)
{
	char *dst = strdup("old"), *src = strdup("new"), *none = NULL;
	char *a = strdup("a"), *b = NULL, *c = strdup("c");

	(void)state;
	g3_str_move(&dst, &none);          /* nothing to move: dst kept */
	assert_string_equal(dst, "old");
	g3_str_move(&dst, &src);
	assert_string_equal(dst, "new");
	assert_null(src);
	free(dst);
	G3_FREE_ALL(a, b, c);              /* NULL among them is fine (ASan checks the rest) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_size_accepts),
		cmocka_unit_test(test_size_rejects),
		cmocka_unit_test(test_format_bytes),
		cmocka_unit_test(test_url_encode_decode),
		cmocka_unit_test(test_url_credentials),
		cmocka_unit_test(test_base64_round_trip),
		cmocka_unit_test(test_base64_bad_input),
		cmocka_unit_test(test_interrupt_registry),
		cmocka_unit_test(test_interrupt_flag),
		cmocka_unit_test(test_interrupt_die),
		cmocka_unit_test(test_json_quote),
		cmocka_unit_test(test_hex_and_sha256),
		cmocka_unit_test(test_str_move_and_free_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
