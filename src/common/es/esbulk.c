/*
 * The bulk loader: batching, N requests in flight over libcurl's multi
 * interface, incremental parsing of the answers, retries. See esbulk.h.
 */
#include "esbulk.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../base/opts.h"

#define RAW_KEEP 4096

void g3_esbulk_opts_init(g3_esbulk_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->batch_bytes = G3_ESBULK_DEFAULT_BATCH;
	o->jobs = G3_ESBULK_DEFAULT_JOBS;
	o->retries = G3_ESBULK_DEFAULT_RETRIES;
	o->retry_time = G3_ESBULK_DEFAULT_RETRY_TIME;
	o->backoff_base = 0.1;
	o->backoff_max = 10.0;
}

#define BO g3_esbulk_opts

const g3_opt g3_esbulk_rows[5] = {
	G3_ROW_INT("es-jobs", 0, BO, jobs, 1, 64, "es_jobs", "N",
		   "bulk requests in flight (default 4)"),
	G3_ROW_SIZE("bulk-size", 0, BO, batch_bytes, 1024, 1L << 30, "bulk_size", "SIZE",
		    "bytes per bulk request (default 10MB)"),
	G3_ROW_INT("es-retries", 0, BO, retries, 0, 1000, "es_retries", "N",
		   "at most N retries of a refused (429/503) or lost\n"
		   "bulk request or document (default: no cap)"),
	{ .name = "es-retry-time", .kind = G3_OPT_DOUBLE, .off = offsetof(BO, retry_time),
	  .min = 0, .max = 86400, .key = "es_retry_time", .metavar = "SECONDS",
	  .help = "retry a refused or lost document with backoff\n"
		  "for this long before failing (default 300)" },
	G3_ROW_FLAG("es-gzip", 0, BO, gzip, "es_gzip", "gzip the bulk request bodies"),
};

/* ---- batches ---- */

void g3_bulk_batch_init(g3_bulk_batch *bb)
{
	memset(bb, 0, sizeof(*bb));
}

void g3_bulk_batch_release(g3_bulk_batch *bb)
{
	g3_buf_release(&bb->body);
	free(bb->off);
	memset(bb, 0, sizeof(*bb));
}

static void batch_mark(g3_bulk_batch *bb)
{
	if (bb->n == bb->cap) {
		bb->cap = bb->cap ? bb->cap * 2 : 256;
		bb->off = g3_xrealloc(bb->off, bb->cap * sizeof(*bb->off));
	}
	bb->off[bb->n++] = bb->body.len;
}

static void action_line(g3_buf *b, const char *type, const char *id)
{
	g3_buf_adds(b, "{\"index\":{");
	if (type) {
		g3_buf_adds(b, "\"_type\":");
		g3_json_quote(b, type);
		g3_buf_addch(b, ',');
	}
	g3_buf_adds(b, "\"_id\":");
	g3_json_quote(b, id);
	g3_buf_adds(b, "}}\n");
}

size_t g3_bulk_item_size(const char *type, const char *id, size_t len)
{
	/* the quoted id is at most 6 bytes per input byte; close enough for
	 * deciding where a batch ends */
	return 24 + (type ? strlen(type) + 12 : 0) + strlen(id) + len;
}

void g3_bulk_batch_add(g3_bulk_batch *bb, const char *type, const char *id,
		       const char *source, size_t len)
{
	batch_mark(bb);
	action_line(&bb->body, type, id);
	g3_buf_add(&bb->body, source, len);
	g3_buf_addch(&bb->body, '\n');
}

static size_t item_end(const g3_bulk_batch *bb, size_t i)
{
	return i + 1 < bb->n ? bb->off[i + 1] : bb->body.len;
}

void g3_bulk_batch_copy_item(g3_bulk_batch *to, const g3_bulk_batch *from, size_t i)
{
	/* a retried document keeps the time of its first send */
	if (!to->first || (from->first && from->first < to->first))
		to->first = from->first;
	batch_mark(to);
	g3_buf_add(&to->body, from->body.data + from->off[i], item_end(from, i) - from->off[i]);
}

char *g3_bulk_batch_item_id(const g3_bulk_batch *bb, size_t i)
{
	const char *line = bb->body.data + bb->off[i];
	const char *nl = memchr(line, '\n', item_end(bb, i) - bb->off[i]);
	json_tokener *tok = json_tokener_new();
	json_object *o, *a, *id;
	char *out = NULL;

	/* only the action line */
	o = nl ? json_tokener_parse_ex(tok, line, (int)(nl - line + 1)) : NULL;
	json_tokener_free(tok);
	if (o && json_object_object_get_ex(o, "index", &a) &&
	    json_object_object_get_ex(a, "_id", &id))
		out = g3_xstrdup(json_object_get_string(id));
	json_object_put(o);
	return out ? out : g3_xstrdup("?");
}

/* ---- answers ---- */

g3_rc g3_bulk_classify(json_object *resp, size_t n, unsigned char *status, size_t *n_failed,
		       g3_buf *errors, size_t *n_reported, g3_err *err)
{
	json_object *items, *errs;
	size_t len;

	*n_failed = 0;
	if (!json_object_is_type(resp, json_type_object))
		return g3_err_set(err, G3_FAIL, "the bulk answer is not a JSON object");
	if (json_object_object_get_ex(resp, "errors", &errs) &&
	    json_object_is_type(errs, json_type_boolean) && !json_object_get_boolean(errs)) {
		/* nothing failed: no need to look at the items (an "errors" of
		 * another type, null or 0, is no such promise) */
		memset(status, G3_ITEM_OK, n);
		return G3_OK;
	}
	if (!json_object_object_get_ex(resp, "items", &items) ||
	    !json_object_is_type(items, json_type_array))
		return g3_err_set(err, G3_FAIL, "the bulk answer has no \"items\" list");
	len = json_object_array_length(items);
	if (len != n)
		return g3_err_set(err, G3_FAIL, "the bulk answer has %zu %s for %zu %s",
				  len, g3_plural((long long)len, "item", "items"), n,
				  g3_plural((long long)n, "document", "documents"));
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(items, i), *res = NULL, *st, *e, *v;
		int code = 0;

		if (json_object_is_type(it, json_type_object)) {
			json_object_object_foreach(it, k, val) {
				(void)k;
				res = val;
				break;
			}
		}
		if (res && json_object_object_get_ex(res, "status", &st))
			code = json_object_get_int(st);
		if (code >= 200 && code < 300) {
			status[i] = G3_ITEM_OK;
		} else if (code == 429 || code == 503) {
			status[i] = G3_ITEM_RETRY;
		} else {
			status[i] = G3_ITEM_FAILED;
			(*n_failed)++;
			if (errors && *n_reported < G3_ESBULK_MAX_REPORTED) {
				const char *type = NULL, *reason = NULL, *id = NULL;

				if (res && json_object_object_get_ex(res, "_id", &v))
					id = json_object_get_string(v);
				if (res && json_object_object_get_ex(res, "error", &e)) {
					if (json_object_object_get_ex(e, "type", &v))
						type = json_object_get_string(v);
					if (json_object_object_get_ex(e, "reason", &v))
						reason = json_object_get_string(v);
				}
				g3_buf_addf(errors, "%sdocument \"%.80s\": %s: %.150s (status %d)",
					    errors->len ? "\n" : "", id ? id : "?",
					    type ? type : "error", reason ? reason : "no reason given", code);
				(*n_reported)++;
			}
		}
	}
	return G3_OK;
}

/* ---- the loader ---- */

struct slot {
	CURL *h;
	struct curl_slist *headers;
	g3_bulk_batch *batch;   /* owned while in flight; NULL: free */
	g3_buf zbody;           /* gzip-compressed body */
	json_tokener *tok;
	json_object *resp;
	int tok_failed;
	int all_ok;             /* the answer began with "errors":false */
	int decided;            /* all_ok was looked for */
	g3_buf raw;             /* the first RAW_KEEP bytes, for messages */
};

struct g3_esbulk {
	const g3_esconf *conf;
	char *index;
	char *type;
	char *url;
	g3_esbulk_opts o;
	CURLM *multi;
	struct slot *slots;
	int busy;
	g3_bulk_batch *fill;
	g3_bulk_batch **retry;
	size_t n_retry;
	g3_bulk_batch **pool;   /* released batches kept for their buffers */
	size_t n_pool;
	size_t since_pump;
	g3_esbulk_stats st;
	int failed;
	g3_err ferr;
	g3_buf item_errors;
	size_t n_reported;
	unsigned int seed;
	char **failed_ids;      /* documents not loaded */
	size_t n_failed_ids;
};

static g3_bulk_batch *batch_new(void)
{
	g3_bulk_batch *bb = g3_xmalloc(sizeof(*bb));

	g3_bulk_batch_init(bb);
	return bb;
}

static void batch_free(g3_bulk_batch *bb)
{
	if (bb) {
		g3_bulk_batch_release(bb);
		free(bb);
	}
}

/*
 * Elasticsearch writes "took" and "errors" before "items": when errors is
 * false, nothing in the items matters and no tree is built (the fast path,
 * in constant memory). Returns 1 when the answer says errors:false: only
 * top-level members with number values ("took", "ingest_took") may come
 * before it, so an "errors" inside another value never decides.
 */
int g3_bulk_says_no_errors(const char *raw)
{
	static const char ws[] = " \t\r\n";
	const char *p = raw, *key, *kend;
	size_t n;

	if (!p)
		return 0;
	p += strspn(p, ws);
	if (*p++ != '{')
		return 0;
	for (;;) {
		p += strspn(p, ws);
		if (*p != '"')
			return 0;
		key = ++p;
		kend = strchr(key, '"');
		if (!kend || memchr(key, '\\', (size_t)(kend - key)))
			return 0;
		p = kend + 1;
		p += strspn(p, ws);
		if (*p++ != ':')
			return 0;
		p += strspn(p, ws);
		if (kend - key == 6 && !memcmp(key, "errors", 6))
			return !strncmp(p, "false", 5) && p[5] && strchr(" \t\r\n,}", p[5]);
		n = strspn(p, "-+0123456789.eE");
		if (!n)
			return 0;
		p += n;
		p += strspn(p, ws);
		if (*p++ != ',')
			return 0;
	}
}

static g3_bulk_batch *batch_get(g3_esbulk *b)
{
	g3_bulk_batch *bb;

	if (b->n_pool)
		return b->pool[--b->n_pool];
	bb = batch_new();
	/* one allocation of the final size instead of doublings past it */
	g3_buf_grow(&bb->body, b->o.batch_bytes + 4096);
	return bb;
}

/* Keeps up to jobs + 1 buffers for reuse (a batch larger than the batch
 * size, one big document, is not kept). */
static void batch_put(g3_esbulk *b, g3_bulk_batch *bb)
{
	if (!bb)
		return;
	if (b->n_pool < (size_t)b->o.jobs + 1 && bb->body.cap <= b->o.batch_bytes * 2 + 8192) {
		g3_buf_reset(&bb->body);
		bb->n = 0;
		bb->attempt = 0;
		bb->not_before = 0;
		bb->first = 0;
		b->pool[b->n_pool++] = bb;
		return;
	}
	batch_free(bb);
}

static size_t slot_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot *s = arg;
	size_t n = size * nmemb;

	if (s->raw.len < RAW_KEEP)
		g3_buf_add(&s->raw, data, n < RAW_KEEP - s->raw.len ? n : RAW_KEEP - s->raw.len);
	if (!s->decided && s->raw.data && (s->raw.len >= 64 || strstr(s->raw.data, "\"items\""))) {
		s->decided = 1;
		s->all_ok = g3_bulk_says_no_errors(s->raw.data);
	}
	if (!s->all_ok && !s->resp && !s->tok_failed) {
		enum json_tokener_error je;

		s->resp = json_tokener_parse_ex(s->tok, data, (int)n);
		je = json_tokener_get_error(s->tok);
		if (!s->resp && je != json_tokener_continue)
			s->tok_failed = 1;
	}
	return n;
}

g3_rc g3_esbulk_new(const g3_esconf *conf, const char *index, const char *type,
		    const g3_esbulk_opts *opts, g3_esbulk **out, g3_err *err)
{
	g3_esbulk *b = g3_xcalloc(1, sizeof(*b));
	g3_buf url = G3_BUF_INIT;

	*out = NULL;
	b->conf = conf;
	b->index = g3_xstrdup(index);
	b->type = type ? g3_xstrdup(type) : NULL;
	b->o = *opts;
	if (b->o.jobs < 1)
		b->o.jobs = 1;
	if (b->o.batch_bytes < 1024)
		b->o.batch_bytes = 1024;
	g3_err_init(&b->ferr);
	b->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)b;
	g3_buf_addf(&url, "%s/", conf->url);
	g3_url_encode(&url, index, 0);
	/* no filter_path: filtering the answer costs the server more than
	 * parsing the whole answer costs us */
	g3_buf_adds(&url, "/_bulk");
	b->url = g3_buf_detach(&url);
	b->multi = curl_multi_init();
	if (!b->multi) {
		g3_esbulk_free(b);
		return g3_err_set(err, G3_FAIL, "could not start libcurl");
	}
	curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)b->o.jobs);
	b->slots = g3_xcalloc((size_t)b->o.jobs, sizeof(*b->slots));
	for (int i = 0; i < b->o.jobs; i++) {
		struct slot *s = &b->slots[i];

		s->h = g3_es_handle(conf, &s->headers);
		if (!s->h) {
			g3_esbulk_free(b);
			return g3_err_set(err, G3_FAIL, "could not start libcurl");
		}
		s->headers = curl_slist_append(s->headers, "Content-Type: application/x-ndjson");
		s->headers = curl_slist_append(s->headers, "Expect:");
		if (b->o.gzip)
			s->headers = curl_slist_append(s->headers, "Content-Encoding: gzip");
		curl_easy_setopt(s->h, CURLOPT_URL, b->url);
		curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->headers);
		curl_easy_setopt(s->h, CURLOPT_POST, 1L);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, slot_write);
		curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
		curl_easy_setopt(s->h, CURLOPT_ACCEPT_ENCODING, "");
		s->tok = json_tokener_new();
	}
	b->pool = g3_xcalloc((size_t)b->o.jobs + 1, sizeof(*b->pool));
	b->fill = batch_get(b);
	*out = b;
	return G3_OK;
}

static void fail(g3_esbulk *b, const g3_err *e)
{
	if (!b->failed) {
		b->failed = 1;
		b->ferr = *e;
	}
}

static double wait_for(g3_esbulk *b, int attempt);

/* Remembers the _id of item i (all items: i == SIZE_MAX) as not loaded. */
static void note_failed(g3_esbulk *b, const g3_bulk_batch *bb, size_t i)
{
	for (size_t k = i == SIZE_MAX ? 0 : i; k < bb->n && (i == SIZE_MAX || k == i); k++) {
		char *id = g3_bulk_batch_item_id(bb, k);

		g3_strlist_add(&b->failed_ids, &b->n_failed_ids, id);
		free(id);
	}
}

/* No more retries for bb: the load failed, its attempts are used up, or
 * its time budget is spent. */
static int give_up(const g3_esbulk *b, const g3_bulk_batch *bb)
{
	return b->failed || (b->o.retries >= 0 && bb->attempt >= b->o.retries) ||
	       (bb->first && g3_clock_now() - bb->first >= b->o.retry_time);
}

static double backoff(g3_esbulk *b, const g3_bulk_batch *bb, int attempt)
{
	double d = wait_for(b, attempt), left;

	/* the last try comes at the end of the budget, not after it */
	left = bb->first ? bb->first + b->o.retry_time - g3_clock_now() : d;
	if (d > left)
		d = left > 0 ? left : 0;
	return d;
}

static double wait_for(g3_esbulk *b, int attempt)
{
	double d = b->o.backoff_base;

	for (int i = 1; i < attempt && d < b->o.backoff_max; i++)
		d *= 2;

	if (d > b->o.backoff_max)
		d = b->o.backoff_max;
	/* full jitter over the upper half: spreads clients that were refused
	 * together */
	return d * (0.5 + 0.5 * ((double)rand_r(&b->seed) / (double)RAND_MAX));
}

static int gzip_body(const g3_buf *in, g3_buf *out)
{
	z_stream z;
	int zr;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	g3_buf_reset(out);
	g3_buf_grow(out, deflateBound(&z, in->len));
	z.next_in = (Bytef *)in->data;
	z.avail_in = (uInt)in->len;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)out->cap;
	zr = deflate(&z, Z_FINISH);
	out->len = z.total_out;
	deflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -1;
}

static void submit(g3_esbulk *b, struct slot *s, g3_bulk_batch *bb)
{
	s->batch = bb;
	json_tokener_reset(s->tok);
	json_object_put(s->resp);
	s->resp = NULL;
	s->tok_failed = 0;
	s->all_ok = 0;
	s->decided = 0;
	g3_buf_reset(&s->raw);
	if (b->o.gzip && !gzip_body(&bb->body, &s->zbody)) {
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->zbody.data);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->zbody.len);
	} else {
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, bb->body.data);
		curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bb->body.len);
	}
	curl_multi_add_handle(b->multi, s->h);
	b->busy++;
	if (b->busy > b->st.max_in_flight)
		b->st.max_in_flight = b->busy;
	b->st.requests++;
	b->st.bytes += bb->body.len;
	if (!bb->first)
		bb->first = g3_clock_now();
	g3_debug("index \"%s\": bulk request of %zu %s, %zu bytes (attempt %d)",
		 b->index, bb->n, g3_plural((long long)bb->n, "document", "documents"),
		 bb->body.len, bb->attempt + 1);
}

static struct slot *free_slot(g3_esbulk *b)
{
	for (int i = 0; i < b->o.jobs; i++)
		if (!b->slots[i].batch)
			return &b->slots[i];
	return NULL;
}

static void queue_retry(g3_esbulk *b, g3_bulk_batch *bb, int attempt, double wait)
{
	bb->attempt = attempt;
	bb->not_before = g3_clock_now() + wait;
	b->retry = g3_xrealloc(b->retry, (b->n_retry + 1) * sizeof(*b->retry));
	b->retry[b->n_retry++] = bb;
}

/* The whole batch again, or a failure once the attempts are used up. */
static void retry_request(g3_esbulk *b, g3_bulk_batch *bb, const char *why)
{
	g3_err e;

	if (give_up(b, bb)) {
		g3_err_init(&e);
		g3_err_set(&e, G3_FAIL,
			   "bulk request to index \"%s\" failed after %d %s in %.0f s: %s "
			   "(%llu of %llu %s acknowledged)",
			   b->index, bb->attempt + 1, g3_plural(bb->attempt + 1, "attempt", "attempts"),
			   g3_clock_now() - bb->first, why, (unsigned long long)b->st.docs_acked,
			   (unsigned long long)b->st.docs_sent,
			   g3_plural((long long)b->st.docs_sent, "document", "documents"));
		if (!b->failed)
			g3_err_hint(&e, "the cluster is overloaded or unreachable: try fewer --es-jobs "
				    "or a longer --es-retry-time");
		b->st.docs_failed += bb->n;
		note_failed(b, bb, SIZE_MAX);
		fail(b, &e);
		batch_put(b, bb);
		return;
	}
	b->st.retried_requests++;
	g3_debug("index \"%s\": retrying a bulk request: %s", b->index, why);
	queue_retry(b, bb, bb->attempt + 1, backoff(b, bb, bb->attempt + 1));
}

static void finish_items(g3_esbulk *b, struct slot *s, g3_bulk_batch *bb)
{
	unsigned char *status = g3_xmalloc(bb->n ? bb->n : 1);
	g3_bulk_batch *again = NULL;
	size_t n_failed = 0, n_retry = 0;
	g3_err e;

	g3_err_init(&e);
	if (g3_bulk_classify(s->resp, bb->n, status, &n_failed, &b->item_errors, &b->n_reported,
			     &e)) {
		g3_err_prefix(&e, "index \"%s\"", b->index);
		fail(b, &e);
		b->st.docs_failed += bb->n;
		note_failed(b, bb, SIZE_MAX);
		goto cleanup;
	}
	for (size_t i = 0; i < bb->n; i++) {
		if (status[i] == G3_ITEM_OK) {
			b->st.docs_acked++;
		} else if (status[i] == G3_ITEM_RETRY) {
			if (!again)
				again = batch_get(b);
			g3_bulk_batch_copy_item(again, bb, i);
			n_retry++;
		} else {
			note_failed(b, bb, i);
		}
	}
	if (n_failed) {
		b->st.docs_failed += n_failed;
		g3_err_set(&e, G3_FAIL, "index \"%s\": Elasticsearch rejected documents", b->index);
		fail(b, &e);
	}
	if (again) {
		if (give_up(b, bb)) {
			b->st.docs_failed += n_retry;
			g3_err_set(&e, G3_FAIL,
				   "index \"%s\": %zu %s still refused (429, too many "
				   "requests) after %d %s (%llu of %llu %s acknowledged)",
				   b->index, n_retry,
				   g3_plural((long long)n_retry, "document was", "documents were"),
				   bb->attempt + 1, g3_plural(bb->attempt + 1, "attempt", "attempts"),
				   (unsigned long long)b->st.docs_acked, (unsigned long long)b->st.docs_sent,
				   g3_plural((long long)b->st.docs_sent, "document", "documents"));
			g3_err_hint(&e, "the cluster is overloaded: try fewer --es-jobs, a smaller "
				    "--bulk-size or a longer --es-retry-time");
			note_failed(b, again, SIZE_MAX);
			fail(b, &e);
			batch_put(b, again);
		} else {
			b->st.retried_docs += n_retry;
			queue_retry(b, again, bb->attempt + 1, backoff(b, again, bb->attempt + 1));
		}
	}
cleanup:
	free(status);
}

static void split_or_fail(g3_esbulk *b, g3_bulk_batch *bb)
{
	g3_err e;

	if (bb->n > 1) {
		g3_bulk_batch *h1 = batch_get(b), *h2 = batch_get(b);

		for (size_t i = 0; i < bb->n; i++)
			g3_bulk_batch_copy_item(i < bb->n / 2 ? h1 : h2, bb, i);
		queue_retry(b, h1, bb->attempt, 0);
		queue_retry(b, h2, bb->attempt, 0);
		batch_put(b, bb);
		return;
	}
	g3_err_init(&e);
	{
		char *id = bb->n ? g3_bulk_batch_item_id(bb, 0) : g3_xstrdup("?");

		g3_err_set(&e, G3_FAIL,
			   "index \"%s\": document \"%s\" (%zu bytes) is too large for Elasticsearch "
			   "(HTTP 413, request entity too large)", b->index, id, bb->body.len);
		g3_err_hint(&e, "raise http.max_content_length on the cluster");
		free(id);
	}
	b->st.docs_failed += bb->n;
	note_failed(b, bb, SIZE_MAX);
	fail(b, &e);
	batch_put(b, bb);
}

static void complete(g3_esbulk *b, struct slot *s, CURLcode cc)
{
	g3_bulk_batch *bb = s->batch;
	long status = 0;
	char why[256];

	curl_multi_remove_handle(b->multi, s->h);
	s->batch = NULL;
	b->busy--;
	if (cc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
		retry_request(b, bb, why);
		return;
	}
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200 && s->all_ok) {
		b->st.docs_acked += bb->n;
		batch_put(b, bb);
		return;
	}
	if (status == 200) {
		if (!s->resp) {
			retry_request(b, bb, "the answer was cut short");
			return;
		}
		finish_items(b, s, bb);
		batch_put(b, bb);
		return;
	}
	if (status == 429 || status == 502 || status == 503 || status == 504) {
		snprintf(why, sizeof(why), "HTTP %ld", status);
		retry_request(b, bb, why);
		return;
	}
	if (status == 413) {
		split_or_fail(b, bb);
		return;
	}
	{
		g3_err e;
		g3_buf what = G3_BUF_INIT;

		g3_err_init(&e);
		g3_buf_addf(&what, "bulk request to index \"%s\"", b->index);
		g3_es_check(status, &s->raw, what.data, &e);
		g3_buf_release(&what);
		b->st.docs_failed += bb->n;
		note_failed(b, bb, SIZE_MAX);
		fail(b, &e);
		batch_put(b, bb);
	}
}

/* Sends ready retries to free slots, drives transfers, handles answers;
 * with wait, sleeps until something happens (at most 100 ms). */
static void pump(g3_esbulk *b, int wait)
{
	CURLMsg *msg;
	int running, left;
	double now = g3_clock_now(), next = now + 0.1;
	struct slot *s;

	for (size_t i = 0; i < b->n_retry && !b->failed;) {
		if (b->retry[i]->not_before <= now && (s = free_slot(b))) {
			g3_bulk_batch *bb = b->retry[i];

			memmove(&b->retry[i], &b->retry[i + 1], (b->n_retry - i - 1) * sizeof(*b->retry));
			b->n_retry--;
			submit(b, s, bb);
			continue;
		}
		if (b->retry[i]->not_before < next)
			next = b->retry[i]->not_before;
		i++;
	}
	if (b->failed) {
		/* a failed load sends nothing more */
		for (size_t i = 0; i < b->n_retry; i++) {
			note_failed(b, b->retry[i], SIZE_MAX);
			batch_put(b, b->retry[i]);
		}
		b->n_retry = 0;
	}
	curl_multi_perform(b->multi, &running);
	while ((msg = curl_multi_info_read(b->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		complete(b, s, msg->data.result);
	}
	if (wait && (b->busy || b->n_retry)) {
		int ms = (int)((next - g3_clock_now()) * 1000);

		if (ms < 1)
			ms = 1;
		if (ms > 100)
			ms = 100;
		curl_multi_poll(b->multi, NULL, 0, ms, NULL);
	}
}

/* Hands the filled batch to a slot, waiting for one (and for pending
 * retries, which go first). */
static void flush_fill(g3_esbulk *b)
{
	struct slot *s = NULL;

	if (!b->fill->n)
		return;
	while (!b->failed && (b->n_retry || !(s = free_slot(b))))
		pump(b, 1);
	if (b->failed || !s)
		return;
	submit(b, s, b->fill);
	b->fill = batch_get(b);
	b->since_pump = 0;
}

g3_rc g3_esbulk_add(g3_esbulk *b, const char *id, const char *source, size_t len, g3_err *err)
{
	size_t size = g3_bulk_item_size(b->type, id, len);

	if (b->failed) {
		*err = b->ferr;
		return G3_FAIL;
	}
	b->st.docs_sent++;
	if (b->fill->n && b->fill->body.len + size > b->o.batch_bytes)
		flush_fill(b);
	g3_bulk_batch_add(b->fill, b->type, id, source, len);
	if (b->fill->body.len >= b->o.batch_bytes)
		flush_fill(b);
	/* keep the requests in flight moving while the caller reads */
	b->since_pump += size;
	if (b->busy && b->since_pump >= 128 * 1024) {
		b->since_pump = 0;
		pump(b, 0);
	}
	if (b->failed) {
		*err = b->ferr;
		return G3_FAIL;
	}
	return G3_OK;
}

g3_rc g3_esbulk_finish(g3_esbulk *b, g3_err *err)
{
	if (!b->failed)
		flush_fill(b);
	while (b->busy || (b->n_retry && !b->failed))
		pump(b, 1);
	if (b->failed) {
		*err = b->ferr;
		if (b->item_errors.len) {
			g3_err_set(err, G3_FAIL, "index \"%s\": %llu %s rejected; first "
				   "errors:\n%s", b->index, (unsigned long long)b->st.docs_failed,
				   g3_plural((long long)b->st.docs_failed, "document was",
					     "documents were"), b->item_errors.data);
			g3_err_hint(err, "the documents do not fit the index mapping");
		}
		if (b->n_failed_ids) {
			size_t shown = b->n_failed_ids < G3_ESBULK_IDS_IN_MESSAGE ? b->n_failed_ids
										 : G3_ESBULK_IDS_IN_MESSAGE;
			g3_buf ids = G3_BUF_INIT;

			for (size_t i = 0; i < shown; i++)
				g3_buf_addf(&ids, "%s\"%.60s\"", i ? ", " : "", b->failed_ids[i]);
			if (shown < b->n_failed_ids)
				g3_buf_addf(&ids, " and %zu more", b->n_failed_ids - shown);
			{
				size_t l = strlen(err->msg);

				snprintf(err->msg + l, sizeof(err->msg) - l, "; documents not loaded: %s",
					 ids.data);
			}
			g3_buf_release(&ids);
		}
		return G3_FAIL;
	}
	return G3_OK;
}

char *const *g3_esbulk_failed_ids(const g3_esbulk *b, size_t *n)
{
	*n = b->n_failed_ids;
	return b->failed_ids;
}

const g3_esbulk_stats *g3_esbulk_stats_of(const g3_esbulk *b)
{
	return &b->st;
}

void g3_esbulk_free(g3_esbulk *b)
{
	if (!b)
		return;
	for (int i = 0; b->slots && i < b->o.jobs; i++) {
		struct slot *s = &b->slots[i];

		if (s->batch) {
			curl_multi_remove_handle(b->multi, s->h);
			batch_free(s->batch);
		}
		if (s->h)
			curl_easy_cleanup(s->h);
		curl_slist_free_all(s->headers);
		if (s->tok)
			json_tokener_free(s->tok);
		json_object_put(s->resp);
		g3_buf_release(&s->raw);
		g3_buf_release(&s->zbody);
	}
	free(b->slots);
	for (size_t i = 0; i < b->n_retry; i++)
		batch_free(b->retry[i]);
	free(b->retry);
	batch_free(b->fill);
	for (size_t i = 0; i < b->n_pool; i++)
		batch_free(b->pool[i]);
	free(b->pool);
	if (b->multi)
		curl_multi_cleanup(b->multi);
	g3_buf_release(&b->item_errors);
	g3_strlist_free(b->failed_ids, b->n_failed_ids);
	G3_FREE_ALL(b->index, b->type, b->url, b);
}
