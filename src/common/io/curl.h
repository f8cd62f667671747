/*
 * The one libcurl setup: every easy handle the library makes (the http(s)
 * source, S3 and Kubernetes API calls, Elasticsearch requests and bulk
 * slots) starts from g3_curl_easy, so they share their defaults:
 *
 *   - curl_global_init once per process (thread-safe);
 *   - no signals (CURLOPT_NOSIGNAL: handles are used from worker threads);
 *   - User-Agent "gen3db/<version>";
 *   - TLS peers and host names verified against conf->ca_file or the
 *     system's bundle, unless conf->insecure;
 *   - only the protocols named (default http and https), redirects only
 *     when asked (at most 10, to the same protocols);
 *   - a connect timeout (default 30 s) and, when given, a total timeout or
 *     a low-speed abort (under 1 byte/s for 60 s);
 *   - proxies from libcurl's usual environment variables (http_proxy,
 *     https_proxy, no_proxy); no verbose output (it would print headers,
 *     credentials included).
 *
 * The caller adds what is its own (URL, method, headers, callbacks) and
 * frees the handle with curl_easy_cleanup.
 */
#ifndef G3_CURL_H
#define G3_CURL_H

#include <curl/curl.h>

typedef struct g3_curl_conf {
	const char *ca_file;     /* CA bundle; NULL: the system's */
	int insecure;            /* 1: no peer or host verification */
	const char *protocols;   /* "https", ...; NULL: "http,https" */
	long connect_timeout;    /* seconds; 0: 30 */
	long timeout;            /* whole transfer, seconds; 0: none */
	int follow;              /* follow redirects */
	int low_speed;           /* abort a transfer stalled for 60 s */
	int keepalive;           /* TCP keepalive probes */
	char *errbuf;            /* CURL_ERROR_SIZE bytes for libcurl's message, or NULL */
} g3_curl_conf;

/* curl_global_init once per process (thread-safe). */
void g3_curl_global_init(void);

/* Applies the defaults above to h (also after curl_easy_reset). */
void g3_curl_setup(CURL *h, const g3_curl_conf *conf);

/* A new easy handle with the defaults, or NULL when libcurl could not make
 * one. */
CURL *g3_curl_easy(const g3_curl_conf *conf);

#endif
