/*
 * libFuzzer target for the ListObjectsV2 answer parser (src/common/io/s3.c):
 * the input is a page as S3 would send it. Every object handed on has a
 * key; a callback that stops the listing (on a key starting with "stop")
 * must stop it with its own result; a truncated page gives a token or an
 * error, never both. The same input as a delimited page: at most max
 * folder names, none empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/opts.h"
#include "common/io/s3.h"

static g3_rc on_object(void *ctx, const g3_s3_object *o, g3_err *err)
{
	size_t *n = ctx;

	if (!o->key || o->size < -1 || (o->etag && strlen(o->etag) > 4096))
		abort();
	(*n)++;
	if (!strncmp(o->key, "stop", 4))
		return g3_err_set(err, G3_USAGE, "stopped");
	return G3_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = (char *)"unset";
	size_t n = 0;
	g3_err err;
	g3_rc rc;

	g3_err_init(&err);
	rc = g3_s3_list_page((const char *)data, size, "s3://b/p", on_object, &n, &token, &err);
	if (rc == G3_USAGE && strcmp(err.msg, "stopped"))
		abort();
	if (rc && token)
		abort();
	free(token);

	{
		char **names = NULL;
		size_t nn = 0;
		int more = 0;

		token = NULL;
		rc = g3_s3_list_dirs_page((const char *)data, size, "s3://b/p/", 2, 3, &names, &nn,
					  &more, &token, &err);
		if (nn > 3 || (rc && token))
			abort();
		for (size_t i = 0; i < nn; i++)
			if (!*names[i])
				abort();
		g3_strlist_free(names, nn);
		free(token);
	}
	return 0;
}
