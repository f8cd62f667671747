#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/gen3/secret.h"

static void test_base64_table(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		{ "\xff\xfe\x00", "//4A" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t inlen = i == 7 ? 3 : strlen(cases[i].in);
		char *enc = g3_base64(cases[i].in, inlen);
		size_t len = 0;
		unsigned char *dec;

		assert_string_equal(enc, cases[i].out);
		dec = g3_base64_decode(enc, &len);
		assert_non_null(dec);
		assert_int_equal(len, inlen);
		assert_memory_equal(dec, cases[i].in, inlen);
		free(enc);
		free(dec);
	}
}

static void test_base64_rejects(void **state)
{
	/* "AA=A", "Zm=v": '=' only ends the text (found by tests/fuzz/fuzz_secret.c) */
	static const char *bad[] = { "Zg=", "Z===", "Zm9v!", "Zg==Zg==", "=Zg=", "AA=A", "Zm=v" };
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(g3_base64_decode(bad[i], &len));
}

static void test_generate(void **state)
{
	int seen[256] = { 0 };
	g3_err err;

	(void)state;
	g3_err_init(&err);
	for (int round = 0; round < 200; round++) {
		char *a = NULL, *b = NULL;

		assert_int_equal(g3_secret_generate(32, &a, &err), G3_OK);
		assert_int_equal(g3_secret_generate(32, &b, &err), G3_OK);
		assert_int_equal(strlen(a), 32);
		assert_string_not_equal(a, b);
		for (const char *p = a; *p; p++) {
			assert_true((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				    (*p >= '0' && *p <= '9'));
			seen[(unsigned char)*p]++;
		}
		g3_secret_free(a);
		g3_secret_free(b);
	}
	/* 6400 draws over 62 symbols: every symbol appears */
	for (const char *c = "AZaz09"; *c; c++)
		assert_true(seen[(unsigned char)*c] > 0);
	/* the length create and restore use: at least 32 characters */
	{
		char *p = NULL;

		assert_true(G3_SECRET_GENERATED_LEN >= 32);
		assert_int_equal(g3_secret_generate(G3_SECRET_GENERATED_LEN, &p, &err), G3_OK);
		assert_int_equal(strlen(p), G3_SECRET_GENERATED_LEN);
		assert_int_equal(strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					"0123456789"), G3_SECRET_GENERATED_LEN);
		g3_secret_free(p);
	}
}

static char *write_tmp(const char *content, size_t len)
{
	char *path = strdup("/tmp/gen3db-test-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_read_file(void **state)
{
	static const struct {
		const char *content; size_t len; g3_rc rc; const char *want; const char *msg;
	} cases[] = {
		{ "s3cret\n", 7, G3_OK, "s3cret", NULL },
		{ "s3cret\r\nsecond line\n", 20, G3_OK, "s3cret", NULL },
		{ "no newline", 10, G3_OK, "no newline", NULL },
		{ "\n", 1, G3_USAGE, NULL, "is empty" },
		{ "", 0, G3_USAGE, NULL, "is empty" },
		{ "a\tb\n", 4, G3_USAGE, NULL, "holds a control character" },
		{ "a\0b\n", 4, G3_USAGE, NULL, "holds a NUL byte" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_tmp(cases[i].content, cases[i].len);
		char *pw = NULL;
		g3_err err;

		g3_err_init(&err);
		assert_int_equal(g3_secret_read_file(path, &pw, &err), cases[i].rc);
		if (cases[i].want) {
			assert_string_equal(pw, cases[i].want);
		} else {
			assert_null(pw);
			assert_non_null(strstr(err.msg, cases[i].msg));
			assert_non_null(strstr(err.msg, path));
			assert_null(strstr(err.msg, "a\tb"));
		}
		g3_secret_free(pw);
		unlink(path);
		free(path);
	}
}

static void test_k8s_round_trip(void **state)
{
	g3_k8s_secret s[2] = {
		{ "fence-dbcreds", "fence_gen3", "fence_gen3", "pw-one", "db", "5432", 1 },
		{ "indexd-dbcreds", "indexd_gen3", "indexd_gen3", "pw-two", "db", "5432", 1 },
	};
	char path[] = "/tmp/gen3db-k8s-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	char *pw = NULL;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_k8s_secrets_write(f, s, 2), 0);
	fclose(f);
	assert_int_equal(g3_k8s_secret_password(path, "indexd-dbcreds", &pw, &err), G3_OK);
	assert_string_equal(pw, "pw-two");
	g3_secret_free(pw);
	assert_int_equal(g3_k8s_secret_password(path, "fence-dbcreds", &pw, &err), G3_OK);
	assert_string_equal(pw, "pw-one");
	g3_secret_free(pw);
	assert_int_equal(g3_k8s_secret_password(path, "arborist-dbcreds", &pw, &err), G3_OK);
	assert_null(pw);
	unlink(path);
	assert_int_equal(g3_k8s_secret_password(path, "fence-dbcreds", &pw, &err), G3_OK);
	assert_null(pw);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	assert_non_null(f);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static const g3_k8s_secret *find(const g3_k8s_secrets *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->items[i].name, name))
			return &s->items[i];
	return NULL;
}

/* Reading back what was written, single Secret and List alike; merging
 * keeps the others, replaces by name, adds the new; the file ends 0600. */
static void test_k8s_merge(void **state)
{
	g3_k8s_secret first[2] = {
		{ "aa-dbcreds", "aa_gen3", "aa_gen3", "pw-aa", "db", "5432", 1 },
		{ "bb-dbcreds", "bb_gen3", "bb_gen3", "pw-bb", "db", "5432", 0 },
	};
	g3_k8s_secret second[2] = {
		{ "cc-dbcreds", "cc_gen3", "cc_gen3", "pw-cc", "db2", "5433", 1 },
		{ "bb-dbcreds", "bb_gen3", "bb_gen3", "pw-bb-new", "db2", "5433", 1 },
	};
	char path[] = "/tmp/gen3db-merge-XXXXXX";
	int fd = mkstemp(path);
	g3_k8s_secrets got;
	struct stat st;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	close(fd);
	chmod(path, 0644);
	/* an empty existing file holds no Secret */
	assert_int_equal(g3_k8s_secrets_read(path, &got, &err), G3_OK);
	assert_int_equal(got.n, 0);
	assert_int_equal(g3_k8s_secrets_merge_file(path, first, 1, &err), G3_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(g3_k8s_secrets_read(path, &got, &err), G3_OK);
	assert_int_equal(got.n, 1);
	assert_string_equal(got.items[0].password, "pw-aa");
	g3_k8s_secrets_release(&got);
	assert_int_equal(g3_k8s_secrets_merge_file(path, first + 1, 1, &err), G3_OK);
	assert_int_equal(g3_k8s_secrets_merge_file(path, second, 2, &err), G3_OK);
	assert_int_equal(g3_k8s_secrets_read(path, &got, &err), G3_OK);
	assert_int_equal(got.n, 3);
	assert_string_equal(got.items[0].name, "aa-dbcreds");
	assert_string_equal(got.items[1].name, "bb-dbcreds");
	assert_string_equal(got.items[2].name, "cc-dbcreds");
	assert_string_equal(find(&got, "aa-dbcreds")->password, "pw-aa");
	assert_string_equal(find(&got, "aa-dbcreds")->host, "db");
	assert_int_equal(find(&got, "aa-dbcreds")->dbcreated, 1);
	assert_string_equal(find(&got, "bb-dbcreds")->password, "pw-bb-new");
	assert_string_equal(find(&got, "bb-dbcreds")->port, "5433");
	assert_int_equal(find(&got, "bb-dbcreds")->dbcreated, 1);
	assert_string_equal(find(&got, "cc-dbcreds")->database, "cc_gen3");
	g3_k8s_secrets_release(&got);
	unlink(path);
	/* a missing file: the given ones only */
	assert_int_equal(g3_k8s_secrets_merge_file(path, second, 1, &err), G3_OK);
	assert_int_equal(g3_k8s_secrets_read(path, &got, &err), G3_OK);
	assert_int_equal(got.n, 1);
	g3_k8s_secrets_release(&got);
	unlink(path);
}

/* A file that is not one gen3db wrote is refused and left byte for byte. */
static void test_k8s_merge_malformed(void **state)
{
	static const struct { const char *text, *why; } cases[] = {
		{ "hello\n", "line 1: expected \"key: value\"" },
		{ "apiVersion: v1\nkind: ConfigMap\n", "line 2: kind is not Secret" },
		{ "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"x\"\ntype: Opaque\ndata:\n"
		  "  password: not*base64\n", "line 7: a data value that is not base64 text" },
		{ "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"x\"\ntype: Opaque\ndata:\n"
		  "  token: eA==\n", "line 7: unknown data key" },
		{ "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"x\"\ntype: Opaque\ndata:\n"
		  "  password: eA==\n", "a Secret without name, database, username, password, "
		  "host or port" },
		{ "apiVersion: v2\n", "line 1: apiVersion is not v1" },
		{ "kind: Secret\n", "line 1: expected apiVersion first" },
	};
	g3_k8s_secret one = { "aa-dbcreds", "aa", "aa", "pw", "db", "5432", 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = write_tmp(cases[i].text, strlen(cases[i].text));
		char want[512];
		size_t len;
		char *after;
		g3_err err;

		g3_err_init(&err);
		chmod(path, 0644);
		assert_int_equal(g3_k8s_secrets_merge_file(path, &one, 1, &err), G3_USAGE);
		snprintf(want, sizeof(want), "secrets file \"%s\" is malformed: %s; it was left "
			 "as it is", path, cases[i].why);
		assert_string_equal(err.msg, want);
		after = slurp(path, &len);
		assert_int_equal(len, strlen(cases[i].text));
		assert_memory_equal(after, cases[i].text, len);
		free(after);
		unlink(path);
		free(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_table),
		cmocka_unit_test(test_base64_rejects),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_k8s_round_trip),
		cmocka_unit_test(test_k8s_merge),
		cmocka_unit_test(test_k8s_merge_malformed),
	};
	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
