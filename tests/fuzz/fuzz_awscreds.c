/*
 * libFuzzer target for the AWS shared credentials file reader
 * (src/common/io/s3.c, through g3_s3_config_resolve): the input is the file,
 * read for profile "default" or a named profile (first byte odd). The
 * environment holds no other credentials. What is found must be the
 * values of the profile's lines, trimmed, never holding a newline.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/io/s3.h"

static char dir[] = "/tmp/gen3db-fuzz-XXXXXX";
static char path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const unset[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	};

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/credentials", dir);
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		unsetenv(unset[i]);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	return 0;
}

static void check(const char *v)
{
	if (v && (strchr(v, '\n') || *v == ' ' || *v == '\t' ||
		  (*v && strchr(" \t\r", v[strlen(v) - 1]))))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g3_s3_config in, out;
	g3_err err;
	FILE *f;

	if (size < 1)
		return 0;
	f = fopen(path, "wb");
	if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f))
		abort();
	g3_s3_config_init(&in);
	if (data[0] % 2)
		in.profile = (char *)"gen3";
	g3_err_init(&err);
	if (!g3_s3_config_resolve(&in, &out, &err)) {
		if (!out.access_key || !out.secret_key || !out.region)
			abort();
		check(out.access_key);
		check(out.secret_key);
		check(out.session_token);
		check(out.region);
		g3_s3_config_release(&out);
	}
	return 0;
}
