/*
 * HTTP(S) over libcurl: a streaming GET source that resumes with Range
 * requests, and one-shot requests with bounded response bodies (for S3's
 * API calls).
 *
 * Threading contract: a source is used by one thread at a time. There is no
 * background thread: read() drives libcurl's multi interface itself, so
 * bytes flow from the network only while the caller reads. The write
 * callback appends to a small pending buffer and pauses the transfer when
 * more than G3_HTTP_PENDING_MAX bytes are unread, so memory is bounded
 * whatever the object's size.
 *
 * Resume: when the connection drops or the transfer fails mid-body (or the
 * server answers 5xx), the next request asks for
 * "Range: bytes=<next byte not yet received>-", up to max_retries times
 * with exponential backoff. A resumed response must be 206 with a
 * Content-Range starting at that byte (and the same total size), and carry
 * the first response's ETag (or, without an ETag, its Last-Modified);
 * otherwise the read fails with "object changed during download" rather
 * than splice two versions together. Bytes already received are never
 * requested twice.
 *
 * Messages name the URL with credentials removed (g3_url_redact).
 * TLS peers are verified (libcurl's default); proxies come from libcurl's
 * usual environment variables (http_proxy, https_proxy, no_proxy).
 */
#ifndef G3_HTTP_H
#define G3_HTTP_H

#include <curl/curl.h>
#include <stdint.h>

#include "../base/err.h"
#include "source.h"
#include "../base/strbuf.h"
#include "../base/url.h"

#define G3_HTTP_PENDING_MAX (1024 * 1024)
#define G3_HTTP_DEFAULT_RETRIES 5
#define G3_HTTP_DEFAULT_BACKOFF_MS 500
#define G3_HTTP_ERROR_BODY_MAX (64 * 1024)

typedef struct g3_http_opts {
	const char *ca_file;      /* CA bundle; NULL: the system's */
	int max_retries;          /* resume attempts; < 0: the default (5) */
	long backoff_ms;          /* first wait, doubled per attempt (max 8 s);
				   * < 0: the default (500) */
	/*
	 * Optional, called before every request (the first and each resume):
	 * adds headers, e.g. a signature. range is the Range header's value
	 * ("bytes=N-") or NULL; the Range header itself is added by http.c.
	 */
	g3_rc (*prepare)(void *ctx, const char *range, struct curl_slist **headers,
			 g3_err *err);
	/*
	 * Optional: fills err for an HTTP error status from the response body
	 * (at most G3_HTTP_ERROR_BODY_MAX bytes, NUL-terminated). Without it
	 * the message is "could not download "<name>": HTTP <status>".
	 */
	void (*describe_error)(void *ctx, const char *name, long status,
			       const char *body, size_t len, g3_err *err);
	void *ctx;
	void (*ctx_free)(void *ctx);  /* called when the source closes */
} g3_http_opts;

/* Defaults used by g3_source_open for http(s):// specs (ca_file, retries,
 * backoff; the callbacks are ignored). Set before starting threads; the
 * strings are copied. */
void g3_http_set_defaults(const g3_http_opts *opts);
void g3_http_get_defaults(g3_http_opts *out);

/*
 * Opens a streaming GET of url. name is what messages show (NULL: the
 * redacted url). Waits for the response headers, so a missing object or a
 * refused credential fails here, and the size (Content-Length) is known.
 * opts->ctx is owned by the source from this call on (freed with
 * ctx_free), even on failure.
 */
g3_rc g3_http_open(const char *url, const char *name, const g3_http_opts *opts,
		   g3_source **out, g3_err *err);

/* A one-shot request's answer. */
typedef struct g3_http_response {
	long status;
	g3_buf body;          /* at most max_body bytes kept */
	char *etag;           /* the ETag header, or NULL */
} g3_http_response;

void g3_http_response_init(g3_http_response *r);
void g3_http_response_release(g3_http_response *r);

/* One request, for callers that judge libcurl's result themselves (the
 * Kubernetes client retries some transport errors). */
typedef struct g3_http_call {
	const char *method;           /* GET, PUT, POST, PATCH, DELETE, HEAD ... */
	const char *url;
	struct curl_slist *headers;
	const void *body;             /* may be NULL when body_len is 0 */
	size_t body_len;
	size_t max_body;              /* answer bytes kept in resp->body */
	const char *ca_file;          /* NULL: the system's */
	const char *protocols;        /* NULL: "http,https" */
	long connect_timeout;         /* seconds; 0: 30 */
	long timeout;                 /* whole request, seconds; 0: a stalled
				       * transfer (60 s under 1 byte/s) fails */
} g3_http_call;

/* Performs call (no redirects followed). Returns libcurl's result; on
 * CURLE_OK resp holds the status, the body (NUL-terminated) and the ETag.
 * errbuf (CURL_ERROR_SIZE bytes) gets libcurl's message, or "". */
CURLcode g3_http_perform(const g3_http_call *call, g3_http_response *resp, char *errbuf);

/*
 * Performs one request with a body of body_len bytes from body (may be
 * NULL when 0). Returns G3_OK when an HTTP answer arrived, whatever its
 * status (the caller judges it); G3_FAIL naming name on a transport error.
 */
g3_rc g3_http_request(const char *method, const char *url, const char *name,
		      struct curl_slist *headers, const void *body, size_t body_len,
		      size_t max_body, const char *ca_file, g3_http_response *resp,
		      g3_err *err);


#endif
