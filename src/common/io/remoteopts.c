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

int g3_remote_option(g3_remote_opts *o, int c, const char *arg, g3_err *err)
{
	long v;

	switch (c) {
	case G3_OPT_S3_ENDPOINT:
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
			g3_err_set(err, G3_USAGE, "--s3-endpoint must be an http:// or https:// URL, not \"%s\"",
				   arg);
			return -1;
		}
		replace(&o->s3.endpoint, arg);
		return 1;
	case G3_OPT_REGION:
		replace(&o->s3.region, arg);
		return 1;
	case G3_OPT_NO_SIGN_REQUEST:
		o->s3.no_sign_request = 1;
		return 1;
	case G3_OPT_CA_FILE:
		replace(&o->s3.ca_file, arg);
		return 1;
	case G3_OPT_RETRIES:
		if (g3_parse_long("--retries", arg, 0, 100, &v, err))
			return -1;
		o->retries = v;
		o->s3.max_retries = (int)v;
		return 1;
	case G3_OPT_S3_PART_SIZE:
		if (g3_parse_long("--s3-part-size", arg, 5, 5120, &v, err))
			return -1;
		o->s3.part_size = (size_t)v * 1024 * 1024;
		return 1;
	}
	return 0;
}

void g3_remote_options_json(const g3_remote_opts *o, json_object *obj)
{
	g3_opt_json_url(obj, "s3_endpoint", o->s3.endpoint);
	g3_opt_json_str(obj, "s3_region", o->s3.region);
	g3_opt_json_bool(obj, "no_sign_request", o->s3.no_sign_request);
	g3_opt_json_str(obj, "ca_file", o->s3.ca_file);
	json_object_object_add(obj, "retries", o->retries < 0 ? NULL :
			       json_object_new_int64(o->retries));
	json_object_object_add(obj, "s3_part_size", !o->s3.part_size ? NULL :
			       json_object_new_int64((int64_t)o->s3.part_size));
}

void g3_remote_options_apply(const g3_remote_opts *o)
{
	g3_http_opts h;

	memset(&h, 0, sizeof(h));
	h.ca_file = o->s3.ca_file;
	h.max_retries = (int)o->retries;
	h.backoff_ms = -1;
	g3_http_set_defaults(&h);
	g3_s3_set_defaults(&o->s3);
}
