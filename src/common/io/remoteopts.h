/*
 * The options every command that reads or writes remote data takes
 * (--s3-endpoint, --region, --no-sign-request, --ca-file, --retries,
 * --s3-part-size), as one getopt table fragment and one setter, like
 * opts.h's common options. They fill the http and s3 defaults that
 * g3_source_open and g3_sink_open use.
 *
 * Usage: put G3_REMOTE_LONG_OPTIONS in the command's table, call
 * g3_remote_options_init first, g3_remote_option for each option, then
 * g3_remote_options_apply before any I/O, g3_remote_options_release at
 * the end. Not thread-safe: parse options before starting threads.
 */
#ifndef G3_REMOTEOPTS_H
#define G3_REMOTEOPTS_H

#include <getopt.h>
#include <json-c/json.h>

#include "../base/err.h"
#include "../base/optids.h"
#include "s3.h"

#define G3_REMOTE_LONG_OPTIONS \
	{ "s3-endpoint", required_argument, NULL, G3_OPT_S3_ENDPOINT }, \
	{ "region", required_argument, NULL, G3_OPT_REGION }, \
	{ "no-sign-request", no_argument, NULL, G3_OPT_NO_SIGN_REQUEST }, \
	{ "ca-file", required_argument, NULL, G3_OPT_CA_FILE }, \
	{ "retries", required_argument, NULL, G3_OPT_RETRIES }, \
	{ "s3-part-size", required_argument, NULL, G3_OPT_S3_PART_SIZE }

#define G3_REMOTE_HELP \
	"Remote data (s3://bucket/key, http(s):// URLs):\n" \
	"      --s3-endpoint URL        S3-compatible endpoint, path-style addressing\n" \
	"                               (default AWS_ENDPOINT_URL, else AWS itself)\n" \
	"      --region NAME            (default AWS_REGION, AWS_DEFAULT_REGION, us-east-1)\n" \
	"      --no-sign-request        anonymous requests (public buckets)\n" \
	"      --ca-file FILE           CA certificates to verify TLS servers with\n" \
	"      --retries N              resume attempts after a dropped download (default 5)\n" \
	"      --s3-part-size MIB       multipart upload part size (default 8, min 5)\n" \
	"  Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or\n" \
	"  AWS_PROFILE in AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials).\n"

typedef struct g3_remote_opts {
	g3_s3_config s3;
	long retries;     /* -1: default */
} g3_remote_opts;

void g3_remote_options_init(g3_remote_opts *o);
void g3_remote_options_release(g3_remote_opts *o);

/* Handles a remote option: 1 if it was one, 0 if not, -1 with err set on
 * a bad value. */
int g3_remote_option(g3_remote_opts *o, int c, const char *arg, g3_err *err);

/* Adds the options as fields (s3_endpoint, s3_region, no_sign_request,
 * ca_file, retries, s3_part_size; null when not given) for
 * GEN3DB_PRINT_OPTIONS (opts.h). */
void g3_remote_options_json(const g3_remote_opts *o, json_object *obj);

/* Installs the options as the http and s3 defaults. */
void g3_remote_options_apply(const g3_remote_opts *o);

#endif
