/*
 * AWS Signature Version 4 for S3 requests, computed with libcrypto.
 *
 * We sign ourselves rather than use CURLOPT_AWS_SIGV4: Debian's libcurl
 * 7.88 signs the query in the order given (AWS wants it sorted), encodes
 * paths differently from S3 (fixed in 8.9) and mishandles some headers.
 *
 * The caller builds the request's path and query with g3_url_encode (base/url.h) and
 * g3_sigv4_query so that what is sent is exactly what is signed: S3 paths
 * are encoded once (unreserved characters and '/' kept), query names and
 * values are encoded and sorted. The signature then covers
 *   host, x-amz-content-sha256, x-amz-date, [x-amz-security-token]
 * and any extra headers given (e.g. range, content-md5), lowercased and
 * sorted.
 *
 * Nothing here logs; the secret key never leaves g3_sigv4_sign.
 */
#ifndef G3_SIGV4_H
#define G3_SIGV4_H

#include <stddef.h>

#include "../base/err.h"
#include "../base/strbuf.h"
#include "../base/url.h"

#define G3_SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define G3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* A name and value (query parameter or header); value may be NULL for a
 * query parameter without "=" (signed as "name="). */
typedef struct g3_kv {
	const char *name;
	const char *value;
} g3_kv;

/* The payload hash: lowercase hex SHA-256 of len bytes into out[65]. */
void g3_sigv4_payload_hash(const void *data, size_t len, char out[65]);

/* The canonical (sorted, encoded) query string of n parameters; caller
 * frees. Use it verbatim in the URL. */
char *g3_sigv4_query(const g3_kv *params, size_t n);

typedef struct g3_sigv4_req {
	const char *method;        /* "GET" */
	const char *host;          /* the Host header: "host" or "host:port" */
	const char *path;          /* already encoded ("/bucket/a%20b") */
	const char *query;         /* from g3_sigv4_query, or "" */
	const g3_kv *headers;      /* extra headers to sign, any case */
	size_t n_headers;
	const char *payload_hash;  /* hex SHA-256 or G3_UNSIGNED_PAYLOAD */
	const char *amz_date;      /* "20130524T000000Z" */
	const char *region;
	const char *service;       /* "s3" */
	const char *access_key;
	const char *secret_key;
	const char *session_token; /* NULL unless temporary credentials */
} g3_sigv4_req;

typedef struct g3_sigv4_result {
	g3_buf canonical_request;
	g3_buf string_to_sign;
	char signature[65];
	g3_buf authorization;      /* the Authorization header's value */
} g3_sigv4_result;

void g3_sigv4_result_init(g3_sigv4_result *r);
void g3_sigv4_result_release(g3_sigv4_result *r);

/* Signs req; fails only on a libcrypto error. */
g3_rc g3_sigv4_sign(const g3_sigv4_req *req, g3_sigv4_result *out, g3_err *err);

/* Formats time t (UTC) as "YYYYMMDDTHHMMSSZ" into out[17]. */
void g3_amz_date(long long t, char out[17]);

#endif
