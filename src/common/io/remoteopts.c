#include "remoteopts.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "../base/opts.h"
#include "../base/strbuf.h"

void g3_remote_options_init(g3_remote_opts *o)
{
	g3_s3_config_init(&o->s3);
	o->retries = -1;
}

void g3_remote_options_release(g3_remote_opts *o)
{
	g3_s3_config_release(&o->s3);
}

static void replace(char **dst, const char *v)
{
	free(*dst);
	*dst = g3_xstrdup(v);
}

static g3_rc set_endpoint(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	g3_remote_opts *o = base;

	(void)row;
	if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
		return g3_err_set(err, G3_USAGE,
				  "--s3-endpoint must be an http:// or https:// URL, not \"%s\"", arg);
	replace(&o->s3.endpoint, arg);
	return G3_OK;
}

/* retries and s3_part_size: null when not given */
static void json_unset_null(const void *base, const g3_opt *row, json_object *obj)
{
	const g3_remote_opts *o = base;
	int retries = row->kind == G3_OPT_LONG;
	long long v = retries ? o->retries : (long long)o->s3.part_size;

	json_object_object_add(obj, row->key, (retries ? v < 0 : !v) ? NULL
				   : json_object_new_int64(v));
}

#define RO g3_remote_opts

const g3_opt g3_remote_rows[9] = {
	G3_ROW_NOTE("Remote data (s3://bucket/key, http(s):// URLs):\n"),
	{ .name = "s3-endpoint", .kind = G3_OPT_URL, .set = set_endpoint,
	  .off = offsetof(RO, s3.endpoint), .key = "s3_endpoint", .metavar = "URL",
	  .help = "S3-compatible endpoint, path-style addressing\n"
	  "(default AWS_ENDPOINT_URL, else AWS itself)" },
	{ .name = "region", .kind = G3_OPT_STR, .flags = G3_OPTF_OWNED,
	  .off = offsetof(RO, s3.region), .key = "s3_region", .metavar = "NAME",
	  .help = "(default AWS_REGION, AWS_DEFAULT_REGION, us-east-1)" },
	G3_ROW_FLAG("no-sign-request", 0, RO, s3.no_sign_request, "no_sign_request",
		    "anonymous requests (public buckets)"),
	{ .name = "ca-file", .kind = G3_OPT_STR, .flags = G3_OPTF_OWNED,
	  .off = offsetof(RO, s3.ca_file), .key = "ca_file", .metavar = "FILE",
	  .help = "CA certificates to verify TLS servers with" },
	{ .name = "retries", .kind = G3_OPT_LONG, .off = offsetof(RO, retries), .min = 0,
	  .max = 100, .json = json_unset_null, .key = "retries", .metavar = "N",
	  .help = "resume attempts after a dropped download (default 5)" },
	{ .name = "s3-part-size", .kind = G3_OPT_SCALED, .off = offsetof(RO, s3.part_size),
	  .min = 5, .max = 5120, .scale = 1024 * 1024, .json = json_unset_null, .key = "s3_part_size", .metavar = "MIB",
	  .help = "multipart upload part size (default 8, min 5)" },
	G3_ROW_NOTE("  Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or\n"),
	G3_ROW_NOTE("  AWS_PROFILE in AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials).\n"),
};

void g3_remote_options_apply(const g3_remote_opts *o)
{
	g3_http_opts h;
	g3_s3_config s3 = o->s3;   /* a copy for --retries: set_defaults copies it */

	s3.max_retries = (int)o->retries;
	memset(&h, 0, sizeof(h));
	h.ca_file = o->s3.ca_file;
	h.max_retries = (int)o->retries;
	h.backoff_ms = -1;
	g3_http_set_defaults(&h);
	g3_s3_set_defaults(&s3);
}
