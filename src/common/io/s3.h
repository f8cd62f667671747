/*
 * S3: objects as sources (GET, streamed and resumed as in http.h), prefix
 * listings (ListObjectsV2 with continuation tokens) and multipart uploads
 * as a sink, every request signed with SigV4 (sigv4.h) unless anonymous.
 *
 * Addressing: with an endpoint (g3_s3_config.endpoint, AWS_ENDPOINT_URL_S3
 * or AWS_ENDPOINT_URL), path style "<endpoint>/<bucket>/<key>"; on AWS,
 * virtual-host style "https://<bucket>.s3.<region>.amazonaws.com/<key>"
 * (path style for bucket names with dots, which TLS cannot match).
 *
 * Credentials, first found wins: the config's own; AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); profile AWS_PROFILE
 * (default "default") in AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.
 * Region: the config's, AWS_REGION, AWS_DEFAULT_REGION, else us-east-1.
 * no_sign_request sends anonymous requests (public buckets).
 *
 * Secrets are never put in messages, logs or URLs, and are wiped when a
 * config is released. Errors name the s3:// URL, the HTTP status and S3's
 * error code (NoSuchKey, AccessDenied, SignatureDoesNotMatch, ...).
 */
#ifndef G3_S3_H
#define G3_S3_H

#include <stdint.h>

#include "../base/err.h"
#include "sink.h"
#include "source.h"

typedef struct g3_s3_config {
	char *endpoint;        /* "http://127.0.0.1:9000"; NULL: AWS */
	char *region;
	int no_sign_request;
	char *access_key;
	char *secret_key;
	char *session_token;
	char *profile;         /* NULL: AWS_PROFILE or "default" */
	char *ca_file;         /* NULL: the http defaults' or the system's */
	int max_retries;       /* < 0: http default */
	long backoff_ms;       /* < 0: http default */
	size_t part_size;      /* multipart part size; 0: 8 MiB */
} g3_s3_config;

#define G3_S3_DEFAULT_PART_SIZE (8u * 1024 * 1024)
#define G3_S3_MIN_PART_SIZE (5u * 1024 * 1024)

void g3_s3_config_init(g3_s3_config *cfg);
void g3_s3_config_release(g3_s3_config *cfg);   /* wipes the secrets */
void g3_s3_config_copy(g3_s3_config *dst, const g3_s3_config *src);

/* Fills what cfg leaves unset from the environment and the shared
 * credentials file (see above). Fails with G3_USAGE when no credentials
 * are found and no_sign_request is off, or a named profile is missing. */
g3_rc g3_s3_config_resolve(const g3_s3_config *cfg, g3_s3_config *out, g3_err *err);

/* The config g3_source_open / g3_sink_open use for s3:// specs (copied;
 * set it before starting threads). Unset fields come from the
 * environment at each open. */
void g3_s3_set_defaults(const g3_s3_config *cfg);

/* Splits "s3://bucket/key" (key may be empty). Caller frees both. */
g3_rc g3_s3_parse_url(const char *url, char **bucket, char **key, g3_err *err);

/* In the functions below, cfg NULL means the process defaults
 * (g3_s3_set_defaults), completed from the environment. */

/* GET s3://bucket/key as a streaming, resumable source. */
g3_rc g3_s3_open_source(const g3_s3_config *cfg, const char *url, g3_source **out,
			g3_err *err);

typedef struct g3_s3_object {
	const char *key;            /* the full key */
	int64_t size;
	const char *etag;           /* quotes removed */
	const char *last_modified;  /* as S3 sends it (ISO 8601) */
} g3_s3_object;

/* Called for every key in listing order; a non-G3_OK return stops the
 * listing and is returned by g3_s3_list. */
typedef g3_rc (*g3_s3_list_fn)(void *ctx, const g3_s3_object *obj, g3_err *err);

/* Lists every key under s3://bucket/prefix (one page of at most 1000
 * keys in memory at a time). */
g3_rc g3_s3_list(const g3_s3_config *cfg, const char *url, g3_s3_list_fn fn, void *ctx,
		 g3_err *err);

/* The "folders" directly under s3://bucket/prefix/ (ListObjectsV2 with
 * delimiter '/'): their names without the prefix and the trailing '/'
 * ("v1" for "env/v1/" under "s3://bucket/env/"), in listing order, at most
 * max of them; *more is 1 when there are others. Objects directly under
 * the prefix are not reported. Caller frees *names with g3_strlist_free. */
g3_rc g3_s3_list_dirs(const g3_s3_config *cfg, const char *url, size_t max, char ***names,
		      size_t *n, int *more, g3_err *err);

/*
 * A multipart-upload sink for s3://bucket/key: parts of cfg->part_size
 * bytes are uploaded as they fill (only one part in memory); commit
 * uploads the last part and completes the upload (a body smaller than one
 * part is a single PUT); abort, or a failed commit, aborts the upload so
 * no partial object or stray parts remain. Used by g3_sink_open for s3://
 * specs (with cfg NULL).
 */
g3_rc g3_s3_sink_open(const g3_s3_config *cfg, const char *url, g3_sink **out, g3_err *err);

/* Deletes s3://bucket/key (used by tests and cleanups). */
g3_rc g3_s3_delete(const g3_s3_config *cfg, const char *url, g3_err *err);

/* ---- pieces exposed for tests ---- */

/* The http(s) URL requests for s3://bucket/key go to, from cfg's endpoint
 * and region (no environment is read). Caller frees *out. */
g3_rc g3_s3_object_url(const g3_s3_config *cfg, const char *url, char **out, g3_err *err);

/* Parses one ListObjectsV2 answer, calling fn for every <Contents> with a
 * <Key>; *token gets the continuation token of a truncated page (caller
 * frees), else NULL. name is the s3:// URL, for messages. */
g3_rc g3_s3_list_page(const char *body, size_t len, const char *name, g3_s3_list_fn fn,
		       void *ctx, char **token, g3_err *err);

/* Parses one delimited ListObjectsV2 answer for g3_s3_list_dirs: adds
 * each <CommonPrefixes><Prefix> to *names (prefix_len bytes of the listed
 * prefix and the trailing '/' removed) while *n < max, sets *more past
 * that; *token as for g3_s3_list_page. */
g3_rc g3_s3_list_dirs_page(const char *body, size_t len, const char *name, size_t prefix_len,
			   size_t max, char ***names, size_t *n, int *more, char **token,
			   g3_err *err);

#endif
