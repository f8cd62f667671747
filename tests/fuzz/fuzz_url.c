/*
 * libFuzzer target for URL handling of outside input: s3:// URLs
 * (g3_s3_parse_url), the S3 request URL built from an endpoint and an
 * s3:// URL (g3_s3_object_url), and the redaction of URLs for messages
 * (g3_url_redact). The first byte picks one; the rest, up to a NUL, is
 * the input (for the request URL: "endpoint\ns3://...").
 *   - a parsed bucket is non-empty and of [A-Za-z0-9._-], and the URL is
 *     "s3://" bucket ["/" key];
 *   - redaction is idempotent and leaves no credentials in userinfo.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/io/http.h"
#include "common/io/s3.h"

static void parse_s3(const char *url)
{
	char *bucket = NULL, *key = NULL;
	g3_err err;

	g3_err_init(&err);
	if (!g3_s3_parse_url(url, &bucket, &key, &err)) {
		size_t bl = strlen(bucket);

		if (!bl || strspn(bucket, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789._-") != bl ||
		    strncmp(url + 5, bucket, bl) ||
		    (url[5 + bl] && (url[5 + bl] != '/' || strcmp(url + 6 + bl, key))) ||
		    (!url[5 + bl] && *key))
			abort();
	} else if (bucket || key) {
		abort();
	}
	free(bucket);
	free(key);
}

static void object_url(char *in)
{
	char *nl = strchr(in, '\n'), *out = NULL;
	g3_s3_config cfg;
	g3_err err;

	g3_s3_config_init(&cfg);
	cfg.region = (char *)"us-east-1";
	if (nl) {
		*nl = '\0';
		cfg.endpoint = in;
		in = nl + 1;
	}
	g3_err_init(&err);
	if (!g3_s3_object_url(&cfg, in, &out, &err)) {
		if (strncmp(out, "http", 4))
			abort();
		free(out);
	} else if (out) {
		abort();
	}
}

static void redact(const char *url)
{
	char *once = g3_url_redact(url), *twice = g3_url_redact(once);
	const char *s = strstr(once, "://"), *auth = s ? s + 3 : once;

	if (strcmp(once, twice) || memchr(auth, '@', strcspn(auth, "/?#")))
		abort();
	free(once);
	free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in;

	if (size < 1)
		return 0;
	in = strndup((const char *)data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		parse_s3(in);
		break;
	case 1:
		object_url(in);
		break;
	default:
		redact(in);
		break;
	}
	free(in);
	return 0;
}
