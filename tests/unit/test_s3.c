/*
 * S3 URLs and the credentials chain: the config's own values, the
 * environment, then a profile of the shared credentials file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/io/s3.h"
#include "common/base/opts.h"

static void test_parse_url(void **state)
{
	char *b = NULL, *k = NULL;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_s3_parse_url("s3://bucket/a/b c+d.sql", &b, &k, &err), G3_OK);
	assert_string_equal(b, "bucket");
	assert_string_equal(k, "a/b c+d.sql");
	free(b);
	free(k);
	assert_int_equal(g3_s3_parse_url("s3://bucket", &b, &k, &err), G3_OK);
	assert_string_equal(k, "");
	free(b);
	free(k);
	assert_int_equal(g3_s3_parse_url("s3:///key", &b, &k, &err), G3_USAGE);
	assert_string_equal(err.msg, "\"s3:///key\" has no bucket name");
	assert_int_equal(g3_s3_parse_url("s3://bu?cket/key", &b, &k, &err), G3_USAGE);
	assert_int_equal(g3_s3_parse_url("https://x/y", &b, &k, &err), G3_USAGE);
	assert_null(b);
	assert_null(k);
}

static void clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("HOME", "/nonexistent-home", 1);
}

static void test_resolve_env(void **state)
{
	g3_s3_config in, out;
	g3_err err;

	(void)state;
	clear_env();
	g3_err_init(&err);
	g3_s3_config_init(&in);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_USAGE);
	assert_string_equal(err.msg, "no AWS credentials found");

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_USAGE);
	assert_string_equal(err.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");

	setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
	setenv("AWS_SESSION_TOKEN", "tokenenv", 1);
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_OK);
	assert_string_equal(out.access_key, "AKIDENV");
	assert_string_equal(out.secret_key, "secretenv");
	assert_string_equal(out.session_token, "tokenenv");
	assert_string_equal(out.region, "eu-west-1");
	assert_string_equal(out.endpoint, "http://127.0.0.1:9");
	assert_int_equal(out.part_size, G3_S3_DEFAULT_PART_SIZE);
	g3_s3_config_release(&out);

	/* the config's own values win */
	in.region = strdup("us-west-2");
	in.endpoint = strdup("https://minio.local");
	setenv("AWS_REGION", "ap-south-1", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_OK);
	assert_string_equal(out.region, "us-west-2");
	assert_string_equal(out.endpoint, "https://minio.local");
	g3_s3_config_release(&out);

	/* anonymous needs no credentials */
	clear_env();
	in.no_sign_request = 1;
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_OK);
	assert_null(out.access_key);
	g3_s3_config_release(&out);
	g3_s3_config_release(&in);
}

static void test_resolve_profile(void **state)
{
	char path[] = "/tmp/g3credsXXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	g3_s3_config in, out;
	g3_err err;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = sd\n"
	      "; comment\n[ci]\n  aws_access_key_id=AKIDCI  \naws_secret_access_key = s/ci+=\n"
	      "aws_session_token = tok\nregion = eu-central-1\n[other]\naws_access_key_id = X\n", f);
	fclose(f);
	clear_env();
	g3_err_init(&err);
	g3_s3_config_init(&in);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_OK);
	assert_string_equal(out.access_key, "AKIDDEFAULT");
	assert_string_equal(out.region, "us-east-1");
	assert_null(out.session_token);
	g3_s3_config_release(&out);

	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_OK);
	assert_string_equal(out.access_key, "AKIDCI");
	assert_string_equal(out.secret_key, "s/ci+=");
	assert_string_equal(out.session_token, "tok");
	assert_string_equal(out.region, "eu-central-1");
	g3_s3_config_release(&out);

	/* the environment's keys come before any profile */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "se", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_OK);
	assert_string_equal(out.access_key, "AKIDENV");
	assert_null(out.session_token);
	g3_s3_config_release(&out);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	setenv("AWS_PROFILE", "missing", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_USAGE);
	assert_non_null(strstr(err.msg, "AWS profile \"missing\" not found in \""));
	/* a profile without a secret */
	setenv("AWS_PROFILE", "other", 1);
	assert_int_equal(g3_s3_config_resolve(&in, &out, &err), G3_USAGE);
	assert_string_equal(err.msg, "no AWS credentials found");
	unlink(path);
	g3_s3_config_release(&in);
}

struct listed {
	char keys[4][64];
	int64_t sizes[4];
	char etags[4][64];
	int n;
};

static g3_rc on_object(void *ctx, const g3_s3_object *o, g3_err *err)
{
	struct listed *l = ctx;

	if (!strcmp(o->key, "stop"))
		return g3_err_set(err, G3_USAGE, "stopped");
	assert_true(l->n < 4);
	snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", o->key);
	snprintf(l->etags[l->n], sizeof(l->etags[0]), "%s", o->etag ? o->etag : "-");
	l->sizes[l->n++] = o->size;
	return G3_OK;
}

/* A ListObjectsV2 page: entities decoded, ETag quotes removed, a size that
 * is not a count is unknown (-1), never negative (found by
 * tests/fuzz/fuzz_s3list.c), a truncated page needs its token. */
static void test_list_page(void **state)
{
	static const char page[] =
		"<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>t/1=</NextContinuationToken>"
		"<Contents><Key>p/a &amp; b&#233;</Key><ETag>&quot;9b2c&quot;</ETag><Size>1234</Size></Contents>"
		"<Contents><Key>p/neg</Key><Size>-5</Size></Contents>"
		"<Contents><Key>p/empty</Key><Size></Size></Contents>"
		"<Contents><Size>1</Size></Contents>"
		"</ListBucketResult>";
	struct listed l;
	char *token = NULL;
	g3_err err;

	(void)state;
	memset(&l, 0, sizeof(l));
	g3_err_init(&err);
	assert_int_equal(g3_s3_list_page(page, strlen(page), "s3://b/p", on_object, &l, &token, &err),
			 G3_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.keys[0], "p/a & b\xc3\xa9");
	assert_string_equal(l.etags[0], "9b2c");
	assert_int_equal(l.sizes[0], 1234);
	assert_string_equal(l.keys[1], "p/neg");
	assert_int_equal(l.sizes[1], -1);
	assert_int_equal(l.sizes[2], -1);
	assert_string_equal(token, "t/1=");
	free(token);

	static const char no_token[] = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	assert_int_equal(g3_s3_list_page(no_token, strlen(no_token), "s3://b/p", on_object, &l, &token,
					 &err), G3_FAIL);
	assert_null(token);
	assert_string_equal(err.msg, "could not list \"s3://b/p\": a truncated page has no continuation token");

	static const char stop[] = "<ListBucketResult><Contents><Key>stop</Key></Contents></ListBucketResult>";
	assert_int_equal(g3_s3_list_page(stop, strlen(stop), "s3://b/p", on_object, &l, &token, &err),
			 G3_USAGE);
	assert_string_equal(err.msg, "stopped");
}

/* A delimited page: the folders' names without the listed prefix and the
 * '/', at most max of them (then *more), nothing else reported. */
static void test_list_dirs_page(void **state)
{
	static const char page[] =
		"<ListBucketResult><Prefix>env/</Prefix><Delimiter>/</Delimiter>"
		"<IsTruncated>false</IsTruncated>"
		"<Contents><Key>env/readme.txt</Key><Size>3</Size></Contents>"
		"<CommonPrefixes><Prefix>env/2024-01-01/</Prefix></CommonPrefixes>"
		"<CommonPrefixes><Prefix>env//</Prefix></CommonPrefixes>"
		"<CommonPrefixes><Prefix>env/a &amp; b/</Prefix></CommonPrefixes>"
		"<CommonPrefixes><Prefix>env/v2</Prefix></CommonPrefixes>"
		"<CommonPrefixes><Prefix>env/v3/</Prefix></CommonPrefixes>"
		"</ListBucketResult>";
	static const char truncated[] =
		"<ListBucketResult><IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>tok</NextContinuationToken>"
		"<CommonPrefixes><Prefix>env/v4/</Prefix></CommonPrefixes></ListBucketResult>";
	char **names = NULL, *token = NULL;
	size_t n = 0;
	int more = 0;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_int_equal(g3_s3_list_dirs_page(page, strlen(page), "s3://b/env/", 4, 10, &names, &n,
					      &more, &token, &err), G3_OK);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "2024-01-01");
	assert_string_equal(names[1], "a & b");
	assert_string_equal(names[2], "v3");
	assert_int_equal(more, 0);
	assert_null(token);
	/* a second page adds; past max, more */
	assert_int_equal(g3_s3_list_dirs_page(truncated, strlen(truncated), "s3://b/env/", 4, 3,
					      &names, &n, &more, &token, &err), G3_OK);
	assert_int_equal(n, 3);
	assert_int_equal(more, 1);
	assert_string_equal(token, "tok");
	free(token);
	g3_strlist_free(names, n);

	assert_int_equal(g3_s3_list_dirs_page("<html/>", 7, "s3://b/env/", 4, 3, &names, &n, &more,
					      &token, &err), G3_FAIL);
	assert_string_equal(err.msg, "could not list \"s3://b/env/\": the answer is not a listing");
}

/* An endpoint from the environment is not checked by the option parser:
 * the URL builder refuses every scheme but http and https. */
static void test_object_url_endpoint(void **state)
{
	static const struct { const char *endpoint; const char *url; } ok[] = {
		{ "http://127.0.0.1:9000", "http://127.0.0.1:9000/b/k" },
		{ "HTTPS://minio.local", "https://minio.local/b/k" },
	};
	static const char *const bad[] = { "sFtp://x:0/ba/", "ftp://h/", "file:///tmp" };
	g3_s3_config cfg;
	char *out;
	g3_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		g3_s3_config_init(&cfg);
		cfg.region = (char *)"us-east-1";
		cfg.endpoint = (char *)ok[i].endpoint;
		g3_err_init(&err);
		assert_int_equal(g3_s3_object_url(&cfg, "s3://b/k", &out, &err), G3_OK);
		assert_string_equal(out, ok[i].url);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		g3_s3_config_init(&cfg);
		cfg.region = (char *)"us-east-1";
		cfg.endpoint = (char *)bad[i];
		g3_err_init(&err);
		assert_int_equal(g3_s3_object_url(&cfg, "s3://b/k%2", &out, &err), G3_USAGE);
		assert_null(out);
		assert_non_null(strstr(err.msg, bad[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_url),
		cmocka_unit_test(test_resolve_env),
		cmocka_unit_test(test_resolve_profile),
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_list_dirs_page),
		cmocka_unit_test(test_object_url_endpoint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
