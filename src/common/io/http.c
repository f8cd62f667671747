/*
 * HTTP(S) sources and requests over libcurl (see http.h for the contract).
 *
 * A source's read() loop: hand out pending bytes; else, if the transfer is
 * paused, unpause it; else, if it has ended, either report the end, fail,
 * or start a resumed request; else run curl_multi_perform and wait on the
 * sockets with curl_multi_poll. Per-response state (status, validators,
 * Content-Range) is gathered by the header callback and checked once, at
 * the first body byte or at the end of the response.
 */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../base/clock.h"
#include "curl.h"
#include "../base/log.h"

static struct {
	char *ca_file;
	int max_retries;
	long backoff_ms;
} defaults = { NULL, G3_HTTP_DEFAULT_RETRIES, G3_HTTP_DEFAULT_BACKOFF_MS };

void g3_http_set_defaults(const g3_http_opts *opts)
{
	free(defaults.ca_file);
	defaults.ca_file = opts->ca_file ? g3_xstrdup(opts->ca_file) : NULL;
	defaults.max_retries = opts->max_retries < 0 ? G3_HTTP_DEFAULT_RETRIES : opts->max_retries;
	defaults.backoff_ms = opts->backoff_ms < 0 ? G3_HTTP_DEFAULT_BACKOFF_MS : opts->backoff_ms;
}

void g3_http_get_defaults(g3_http_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->ca_file = defaults.ca_file;
	out->max_retries = defaults.max_retries;
	out->backoff_ms = defaults.backoff_ms;
}

/* ---- the streaming source -------------------------------------------- */

struct http_src {
	CURLM *multi;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *name;
	g3_http_opts opts;         /* ca_file points at ca_file below */
	char *ca_file;
	char errbuf[CURL_ERROR_SIZE];

	g3_buf pending;            /* received, not yet read */
	size_t pos;                /* read offset in pending */
	int paused;

	uint64_t received;         /* next byte of the object to receive */
	int64_t size;              /* total, or -1 */
	char *etag0;               /* validators of the first response */
	char *modified0;
	int have_first;            /* the first 2xx response was checked */

	/* the current response */
	int ranged;                /* this request carried a Range */
	char *etag;
	char *modified;
	char *content_range;
	int checked;               /* status and validators checked */
	long status;
	g3_buf errbody;            /* body of an error status */

	int finished;              /* the current transfer ended */
	CURLcode result;
	int attempts;              /* resumes so far */
	int failed;                /* err below is final */
	g3_err err;
};

static void set_str(char **dst, const char *s, size_t len)
{
	free(*dst);
	*dst = g3_xmalloc(len + 1);
	memcpy(*dst, s, len);
	(*dst)[len] = '\0';
}

static size_t header_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct http_src *s = userdata;
	size_t len = size * n;
	size_t nlen;
	const char *v, *end;

	if (len >= 5 && !memcmp(data, "HTTP/", 5)) {
		/* a new response (after a redirect or 100 Continue) */
		free(s->etag);
		free(s->modified);
		free(s->content_range);
		s->etag = s->modified = s->content_range = NULL;
		return len;
	}
	nlen = 0;
	while (nlen < len && data[nlen] != ':')
		nlen++;
	if (nlen == len)
		return len;
	v = data + nlen + 1;
	end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (nlen == 4 && !strncasecmp(data, "etag", 4))
		set_str(&s->etag, v, (size_t)(end - v));
	else if (nlen == 13 && !strncasecmp(data, "last-modified", 13))
		set_str(&s->modified, v, (size_t)(end - v));
	else if (nlen == 13 && !strncasecmp(data, "content-range", 13))
		set_str(&s->content_range, v, (size_t)(end - v));
	return len;
}

static int same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Parses "bytes START-END/TOTAL" (TOTAL may be "*"). */
static int parse_content_range(const char *cr, uint64_t *start, int64_t *total)
{
	char *end;
	unsigned long long v;

	if (!cr || strncasecmp(cr, "bytes ", 6))
		return -1;
	errno = 0;
	v = strtoull(cr + 6, &end, 10);
	if (errno || end == cr + 6 || *end != '-')
		return -1;
	*start = v;
	end = strchr(end, '/');
	if (!end)
		return -1;
	if (!strcmp(end + 1, "*")) {
		*total = -1;
		return 0;
	}
	errno = 0;
	v = strtoull(end + 1, &end, 10);
	if (errno || *end)
		return -1;
	*total = (int64_t)v;
	return 0;
}

static void fail(struct http_src *s, const char *what)
{
	s->failed = 1;
	g3_err_set(&s->err, G3_FAIL, "could not download \"%s\": %s", s->name, what);
}

/*
 * Checks the response whose body starts now. Returns 0 to accept the
 * body, 1 to collect it as an error body, -1 to abort (s->err set).
 */
static int check_response(struct http_src *s)
{
	curl_off_t cl = -1;
	uint64_t start;
	int64_t total;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	s->checked = 1;
	if (s->status < 200 || s->status >= 300)
		return 1;
	if (!s->ranged) {
		if (s->status != 200) {
			s->failed = 1;
			g3_err_set(&s->err, G3_FAIL, "could not download \"%s\": unexpected HTTP status %ld",
				   s->name, s->status);
			return -1;
		}
		curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		s->size = cl >= 0 ? (int64_t)cl : -1;
		if (!s->have_first) {
			s->etag0 = s->etag ? g3_xstrdup(s->etag) : NULL;
			s->modified0 = s->modified ? g3_xstrdup(s->modified) : NULL;
			s->have_first = 1;
		}
		return 0;
	}
	/* a resumed response */
	if ((s->etag0 && !same(s->etag0, s->etag)) ||
	    (!s->etag0 && s->modified0 && !same(s->modified0, s->modified))) {
		fail(s, "object changed during download");
		g3_err_hint(&s->err, "its ETag or Last-Modified differs from the first response; "
			    "retry the whole download");
		return -1;
	}
	if (s->status != 206) {
		fail(s, "the server ignored the range request to resume it");
		return -1;
	}
	if (parse_content_range(s->content_range, &start, &total) || start != s->received ||
	    (s->size >= 0 && total >= 0 && total != s->size)) {
		s->failed = 1;
		g3_err_set(&s->err, G3_FAIL,
			   "could not resume \"%s\": Content-Range \"%s\" does not start at byte %" PRIu64
			   " of %" PRId64, s->name, s->content_range ? s->content_range : "",
			   s->received, s->size);
		return -1;
	}
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userdata)
{
	struct http_src *s = userdata;
	size_t len = size * n;
	int r = 0;

	if (!s->checked) {
		r = check_response(s);
		if (r < 0)
			return 0;
	} else if (s->status >= 300) {
		r = 1;
	}
	if (r == 1) {
		if (s->errbody.len < G3_HTTP_ERROR_BODY_MAX)
			g3_buf_add(&s->errbody, data,
				   len < G3_HTTP_ERROR_BODY_MAX - s->errbody.len ?
				   len : G3_HTTP_ERROR_BODY_MAX - s->errbody.len);
		return len;
	}
	if (s->pending.len - s->pos >= G3_HTTP_PENDING_MAX) {
		s->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	g3_buf_add(&s->pending, data, len);
	s->received += len;
	return len;
}

static g3_rc start_request(struct http_src *s, g3_err *err)
{
	char range[64];
	g3_rc rc;

	curl_slist_free_all(s->headers);
	s->headers = NULL;
	free(s->etag);
	free(s->modified);
	free(s->content_range);
	s->etag = s->modified = s->content_range = NULL;
	s->checked = 0;
	s->status = 0;
	s->finished = 0;
	s->result = CURLE_OK;
	g3_buf_reset(&s->errbody);
	s->errbuf[0] = '\0';
	s->ranged = s->received > 0;
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", s->received);
	if (s->opts.prepare &&
	    (rc = s->opts.prepare(s->opts.ctx, s->ranged ? range : NULL, &s->headers, err)))
		return rc;
	if (s->ranged) {
		char h[80];

		snprintf(h, sizeof(h), "Range: %s", range);
		s->headers = curl_slist_append(s->headers, h);
	}
	curl_multi_remove_handle(s->multi, s->easy);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
		return g3_err_set(err, G3_FAIL, "could not start a request for \"%s\"", s->name);
	return G3_OK;
}

/* Runs libcurl until something changes: data, pause, or the end. */
static g3_rc drive(struct http_src *s, g3_err *err)
{
	int running = 0;
	int queued;
	CURLMsg *msg;
	CURLMcode mc;

	mc = curl_multi_perform(s->multi, &running);
	if (mc != CURLM_OK)
		return g3_err_set(err, G3_FAIL, "could not download \"%s\": %s", s->name,
				  curl_multi_strerror(mc));
	while ((msg = curl_multi_info_read(s->multi, &queued))) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy) {
			s->finished = 1;
			s->result = msg->data.result;
		}
	}
	if (!s->finished && s->pos >= s->pending.len && !s->paused) {
		mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			return g3_err_set(err, G3_FAIL, "could not download \"%s\": %s", s->name,
					  curl_multi_strerror(mc));
	}
	return G3_OK;
}

/*
 * The current transfer ended. Returns 1 at the end of the object, 0 when a
 * resumed request was started, -1 on failure (err set).
 */
static int transfer_ended(struct http_src *s, g3_err *err)
{
	int transient;
	long wait;

	if (s->failed) {
		*err = s->err;
		return -1;
	}
	if (!s->checked)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->size >= 0 && s->have_first && s->received == (uint64_t)s->size)
		return 1;  /* all bytes arrived, whatever happened after */
	if (s->result == CURLE_OK && s->status >= 200 && s->status < 300) {
		if (s->size < 0 || s->received == (uint64_t)s->size)
			return 1;
		/* short body without a transport error: treat as a drop */
	}
	transient = s->result != CURLE_OK || s->status >= 500 ||
		    (s->status >= 200 && s->status < 300);
	if (s->result == CURLE_OK && s->status >= 300 && s->status < 500) {
		g3_buf_addch(&s->errbody, '\0');
		s->errbody.len--;
		if (s->opts.describe_error) {
			g3_err_init(err);
			s->opts.describe_error(s->opts.ctx, s->name, s->status, s->errbody.data,
					       s->errbody.len, err);
			if (err->rc != G3_OK)
				return -1;
		}
		g3_err_set(err, G3_FAIL, "could not download \"%s\": HTTP %ld", s->name, s->status);
		return -1;
	}
	if (transient && s->attempts < s->opts.max_retries &&
	    (s->received == 0 || s->etag0 || s->modified0)) {
		wait = s->opts.backoff_ms;
		for (int i = 0; i < s->attempts && wait < 8000; i++)
			wait *= 2;
		if (wait > 8000)
			wait = 8000;
		s->attempts++;
		g3_warn("download of \"%s\" interrupted at byte %" PRIu64 " (%s); resuming in %ld ms "
			"(attempt %d of %d)", s->name, s->received,
			s->result != CURLE_OK ? (s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result))
			: "HTTP error or short body", wait, s->attempts, s->opts.max_retries);
		g3_clock_sleep((double)wait / 1000.0);
		if (start_request(s, err))
			return -1;
		return 0;
	}
	if (s->result != CURLE_OK)
		g3_err_set(err, G3_FAIL, "could not download \"%s\": %s", s->name,
			   s->errbuf[0] ? s->errbuf : curl_easy_strerror(s->result));
	else if (s->status >= 500)
		g3_err_set(err, G3_FAIL, "could not download \"%s\": HTTP %ld", s->name, s->status);
	else
		g3_err_set(err, G3_FAIL, "could not download \"%s\": the body ended at byte %" PRIu64
			   " of %" PRId64, s->name, s->received, s->size);
	if (s->attempts)
		g3_err_hint(err, "gave up after %d resume attempts", s->attempts);
	else if (s->received && !s->etag0 && !s->modified0)
		g3_err_hint(err, "the server sends no ETag or Last-Modified, so the download cannot be resumed");
	return -1;
}

static ssize_t http_read(g3_source *src, void *buf, size_t len, g3_err *err)
{
	struct http_src *s = src->impl;

	for (;;) {
		if (s->pos < s->pending.len) {
			size_t n = s->pending.len - s->pos;

			if (n > len)
				n = len;
			memcpy(buf, s->pending.data + s->pos, n);
			s->pos += n;
			if (s->pos == s->pending.len) {
				g3_buf_reset(&s->pending);
				s->pos = 0;
			}
			return (ssize_t)n;
		}
		if (s->paused) {
			s->paused = 0;
			curl_easy_pause(s->easy, CURLPAUSE_CONT);
			continue;
		}
		if (s->failed) {
			*err = s->err;
			return -1;
		}
		if (s->finished) {
			int r = transfer_ended(s, err);

			if (r < 0)
				return -1;
			if (r > 0)
				return 0;
			continue;
		}
		if (drive(s, err))
			return -1;
	}
}

static void http_close(g3_source *src)
{
	struct http_src *s = src->impl;

	if (!s)
		return;
	if (s->multi && s->easy)
		curl_multi_remove_handle(s->multi, s->easy);
	if (s->easy)
		curl_easy_cleanup(s->easy);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	if (s->opts.ctx_free)
		s->opts.ctx_free(s->opts.ctx);
	g3_buf_release(&s->pending);
	g3_buf_release(&s->errbody);
	G3_FREE_ALL(s->url, s->name, s->ca_file, s->etag0, s->modified0, s->etag, s->modified,
		    s->content_range, s);
}

static const struct g3_source_ops http_ops = { http_read, http_close };

/* The streaming source's handle: redirects followed, a stalled transfer
 * aborted (it is then resumed). */
static void common_setopts(CURL *h, const char *url, const char *ca_file, char *errbuf)
{
	g3_curl_conf conf = { .ca_file = ca_file, .follow = 1, .low_speed = 1, .errbuf = errbuf };

	g3_curl_setup(h, &conf);
	curl_easy_setopt(h, CURLOPT_URL, url);
}

g3_rc g3_http_open(const char *url, const char *name, const g3_http_opts *opts,
		   g3_source **out, g3_err *err)
{
	struct http_src *s = g3_xcalloc(1, sizeof(*s));
	g3_source *src = NULL;
	g3_rc rc = G3_OK;

	*out = NULL;
	g3_curl_global_init();
	s->opts = *opts;
	s->ca_file = opts->ca_file ? g3_xstrdup(opts->ca_file) : NULL;
	s->opts.ca_file = s->ca_file;
	if (s->opts.max_retries < 0)
		s->opts.max_retries = G3_HTTP_DEFAULT_RETRIES;
	if (s->opts.backoff_ms < 0)
		s->opts.backoff_ms = G3_HTTP_DEFAULT_BACKOFF_MS;
	s->url = g3_xstrdup(url);
	s->name = name ? g3_xstrdup(name) : g3_url_redact(url);
	s->size = -1;
	g3_buf_init(&s->pending);
	g3_buf_init(&s->errbody);
	g3_err_init(&s->err);
	s->multi = curl_multi_init();
	s->easy = curl_easy_init();
	if (!s->multi || !s->easy) {
		rc = g3_err_set(err, G3_FAIL, "could not initialise libcurl for \"%s\"", s->name);
		goto cleanup;
	}
	common_setopts(s->easy, url, s->ca_file, s->errbuf);
	curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	if ((rc = start_request(s, err)))
		goto cleanup;
	/* Wait for the first 2xx response's body (or the end), resuming
	 * connection failures as read() would. */
	while (!(s->checked && s->status >= 200 && s->status < 300) && !s->failed) {
		if (s->finished) {
			int r = transfer_ended(s, err);

			if (r < 0) {
				rc = err->rc ? err->rc : G3_FAIL;
				goto cleanup;
			}
			if (r > 0)
				break;  /* an empty body */
			continue;
		}
		if ((rc = drive(s, err)))
			goto cleanup;
	}
	if (s->failed) {
		*err = s->err;
		rc = err->rc;
		goto cleanup;
	}
	src = g3_source_new(&http_ops, s->name, s->size, s);
	s = NULL;
	*out = src;
cleanup:
	if (s) {
		g3_source tmp = { .ops = &http_ops, .size = -1, .impl = s };

		http_close(&tmp);
	}
	return rc;
}

/* ---- one-shot requests ----------------------------------------------- */

struct req_state {
	g3_http_response *resp;
	size_t max_body;
	const char *body;
	size_t body_len;
	size_t body_pos;
};

static size_t req_write(char *data, size_t size, size_t n, void *userdata)
{
	struct req_state *st = userdata;
	size_t len = size * n;
	size_t room = st->max_body > st->resp->body.len ? st->max_body - st->resp->body.len : 0;

	g3_buf_add(&st->resp->body, data, len < room ? len : room);
	return len;
}

static size_t req_read(char *buf, size_t size, size_t n, void *userdata)
{
	struct req_state *st = userdata;
	size_t len = size * n;
	size_t left = st->body_len - st->body_pos;

	if (len > left)
		len = left;
	if (!len)
		return 0;
	memcpy(buf, st->body + st->body_pos, len);
	st->body_pos += len;
	return len;
}

static size_t req_header(char *data, size_t size, size_t n, void *userdata)
{
	struct req_state *st = userdata;
	size_t len = size * n;
	const char *v, *end = data + len;

	if (len > 5 && !strncasecmp(data, "etag:", 5)) {
		v = data + 5;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		set_str(&st->resp->etag, v, (size_t)(end - v));
	}
	return len;
}

void g3_http_response_init(g3_http_response *r)
{
	r->status = 0;
	g3_buf_init(&r->body);
	r->etag = NULL;
}

void g3_http_response_release(g3_http_response *r)
{
	g3_buf_release(&r->body);
	free(r->etag);
	r->etag = NULL;
}

CURLcode g3_http_perform(const g3_http_call *call, g3_http_response *resp, char *errbuf)
{
	struct req_state st = { resp, call->max_body, call->body, call->body_len, 0 };
	g3_curl_conf conf = { .ca_file = call->ca_file, .protocols = call->protocols,
			      .connect_timeout = call->connect_timeout, .timeout = call->timeout,
			      .low_speed = !call->timeout, .errbuf = errbuf };
	const char *method = call->method;
	CURL *h;
	CURLcode cc;

	g3_buf_reset(&resp->body);
	free(resp->etag);
	resp->etag = NULL;
	resp->status = 0;
	errbuf[0] = '\0';
	h = g3_curl_easy(&conf);
	if (!h)
		return CURLE_FAILED_INIT;
	curl_easy_setopt(h, CURLOPT_URL, call->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, call->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, req_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, req_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
	if (!strcmp(method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, req_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &st);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)call->body_len);
	} else if (!strcmp(method, "POST") || call->body) {
		/* POST, or another method with a body (PATCH) */
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body ? (const char *)call->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
	}
	if (strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		g3_buf_addch(&resp->body, '\0');
		resp->body.len--;
	}
	curl_easy_cleanup(h);
	return cc;
}

g3_rc g3_http_request(const char *method, const char *url, const char *name,
		      struct curl_slist *headers, const void *body, size_t body_len,
		      size_t max_body, const char *ca_file, g3_http_response *resp,
		      g3_err *err)
{
	g3_http_call call = { .method = method, .url = url, .headers = headers, .body = body,
			      .body_len = body_len, .max_body = max_body, .ca_file = ca_file };
	char errbuf[CURL_ERROR_SIZE];
	CURLcode cc = g3_http_perform(&call, resp, errbuf);

	if (cc == CURLE_FAILED_INIT)
		return g3_err_set(err, G3_FAIL, "could not initialise libcurl for \"%s\"", name);
	if (cc != CURLE_OK)
		return g3_err_set(err, G3_FAIL, "could not reach \"%s\": %s", name,
				  errbuf[0] ? errbuf : curl_easy_strerror(cc));
	return G3_OK;
}
