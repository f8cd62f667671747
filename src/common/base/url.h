/*
 * URLs: the one percent-encoder (and its decoder) and the one credential
 * stripper, for every URL the library builds or shows.
 *
 * Nothing here parses a URL fully: the authority is what follows "://" (or
 * the start) up to the first '/', '?' or '#', and its userinfo is what
 * precedes the last '@' in it.
 */
#ifndef G3_URL_H
#define G3_URL_H

#include <stddef.h>

#include "strbuf.h"

/* Appends s percent-encoded: everything but the unreserved characters
 * (A-Z a-z 0-9 - _ . ~) becomes %XX (upper-case hex), and '/' too unless
 * keep_slash (a path). This is AWS's canonical encoding (sigv4) and a
 * safe path segment or query value for Elasticsearch. */
void g3_url_encode(g3_buf *out, const char *s, int keep_slash);

/* The first len bytes of s with each valid %XX decoded (an invalid '%'
 * is kept as it is). Caller frees. */
char *g3_url_decode(const char *s, size_t len);

/* Finds url's userinfo: [*start, *end) are the bytes before the '@'.
 * Returns 0 (and leaves start and end) when there is none. */
int g3_url_userinfo(const char *url, size_t *start, size_t *end);

/* A copy of url without "user:password@" (caller frees). */
char *g3_url_strip_credentials(const char *url);

/* A copy of url safe to print: without userinfo and without the query
 * parameters that carry secrets (X-Amz-Signature, X-Amz-Credential,
 * X-Amz-Security-Token, Signature, token, password, key, ...); empty
 * parameters ("a&&b") are dropped. Idempotent. Caller frees. */
char *g3_url_redact(const char *url);

#endif
