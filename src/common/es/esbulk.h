/*
 * The bulk loader: documents of one index into `_bulk` requests.
 *
 * Documents are appended one at a time (g3_esbulk_add) into a batch, an
 * NDJSON body of action and source lines cut at opts.batch_bytes; a
 * document larger than that is sent alone. Full batches go to one of
 * opts.jobs easy handles driven by one libcurl multi handle (keep-alive
 * connections reused), so up to `jobs` requests are in flight while the
 * caller reads the next documents. Each answer is parsed incrementally by a
 * json-c tokener as it arrives (when "errors" is false the items are not
 * looked at).
 *
 * Failures:
 *   - items answered 429 (or 503) are collected into a retry batch sent
 *     after an exponential backoff with jitter;
 *   - whole requests answered 429/502/503/504 or lost (connection refused,
 *     closed mid-answer) are resent the same way;
 *   - a document is retried for opts.retry_time seconds from its first
 *     send (and, when opts.retries >= 0, at most that many times); then
 *     the load fails with counts;
 *   - a 413 splits the batch in halves; a single document answered 413 is
 *     an error naming its id;
 *   - any other item error (a mapping conflict, 400) fails the load and the
 *     first few errors are reported with index, _id and reason.
 * Once failed, no new batch is sent; g3_esbulk_finish drains the requests
 * in flight and returns the first error, naming the first documents that
 * were not loaded; g3_esbulk_failed_ids lists them all (refused for good,
 * or dropped from a retry when the load failed: bounded by the batches in
 * memory, below).
 *
 * Memory: at most (2 × jobs + 1) batches: the one being filled, those in
 * flight, and at most one retry batch per request in flight (new batches
 * wait while retries are pending, which is also the back-pressure on 429).
 *
 * Single-threaded: all calls from the thread that owns the loader.
 */
#ifndef G3_ESBULK_H
#define G3_ESBULK_H

#include <json-c/json.h>
#include <stdint.h>

#include "../base/err.h"
#include "es.h"
#include "../base/opts.h"
#include "../base/strbuf.h"

#define G3_ESBULK_DEFAULT_BATCH (10u << 20)
#define G3_ESBULK_DEFAULT_JOBS 4
#define G3_ESBULK_DEFAULT_RETRIES (-1)      /* no cap: the time budget decides */
#define G3_ESBULK_DEFAULT_RETRY_TIME 300.0  /* seconds */
#define G3_ESBULK_IDS_IN_MESSAGE 10
#define G3_ESBULK_MAX_REPORTED 5

typedef struct g3_esbulk_opts {
	size_t batch_bytes;   /* body size that closes a batch */
	int jobs;             /* requests in flight */
	int retries;          /* attempts after the first, per document; -1: no cap */
	double retry_time;    /* seconds a document is retried from its first send */
	int gzip;             /* compress request bodies */
	double backoff_base;  /* seconds before the first retry (then doubled) */
	double backoff_max;   /* cap of one wait */
} g3_esbulk_opts;

void g3_esbulk_opts_init(g3_esbulk_opts *o);

/* The loader's options as option rows (opts.h), a section at the
 * command's g3_esbulk_opts, for every command that loads documents; for
 * GEN3DB_PRINT_OPTIONS: es_jobs, bulk_size in bytes, es_retries, es_gzip,
 * es_retry_time. */
extern const g3_opt g3_esbulk_rows[5];

typedef struct g3_esbulk_stats {
	uint64_t docs_sent;       /* documents handed to the loader */
	uint64_t docs_acked;      /* acknowledged by Elasticsearch */
	uint64_t docs_failed;     /* rejected for good */
	uint64_t requests;        /* _bulk requests sent (retries included) */
	uint64_t retried_docs;    /* item retries */
	uint64_t retried_requests;
	uint64_t bytes;           /* request body bytes sent (before gzip) */
	int max_in_flight;
} g3_esbulk_stats;

typedef struct g3_esbulk g3_esbulk;

/*
 * A loader for index; type is the mapping type for a typed (ES 6) target,
 * NULL otherwise (no _type in actions). conf must outlive the loader.
 */
g3_rc g3_esbulk_new(const g3_esconf *conf, const char *index, const char *type,
		    const g3_esbulk_opts *opts, g3_esbulk **out, g3_err *err);
/* Adds one document; may wait for a free request slot. G3_FAIL once the
 * load has failed (err says why). */
g3_rc g3_esbulk_add(g3_esbulk *b, const char *id, const char *source, size_t len, g3_err *err);
/* Sends what is left and waits for every answer. */
g3_rc g3_esbulk_finish(g3_esbulk *b, g3_err *err);
const g3_esbulk_stats *g3_esbulk_stats_of(const g3_esbulk *b);
/* The _id of every document not loaded when the load failed (borrowed). */
char *const *g3_esbulk_failed_ids(const g3_esbulk *b, size_t *n);
void g3_esbulk_free(g3_esbulk *b);

/* ---- pieces exposed for unit tests ---- */

/* One batch: the NDJSON body and where each item (action + source) starts. */
typedef struct g3_bulk_batch {
	g3_buf body;
	size_t *off;
	size_t n, cap;
	int attempt;          /* 0 for the first send */
	double first;         /* monotonic seconds of the first send; 0: not yet */
	double not_before;    /* monotonic seconds */
} g3_bulk_batch;

void g3_bulk_batch_init(g3_bulk_batch *bb);
void g3_bulk_batch_release(g3_bulk_batch *bb);
/* Appends the action line and source line of one document. */
void g3_bulk_batch_add(g3_bulk_batch *bb, const char *type, const char *id,
		       const char *source, size_t len);
/* Bytes one document adds to a batch. */
size_t g3_bulk_item_size(const char *type, const char *id, size_t len);
/* Copies item i of from into to. */
void g3_bulk_batch_copy_item(g3_bulk_batch *to, const g3_bulk_batch *from, size_t i);
/* The _id of item i (caller frees), from its action line. */
char *g3_bulk_batch_item_id(const g3_bulk_batch *bb, size_t i);

/* 1 when the start of an answer (NUL-terminated) says "errors":false, so
 * its items need not be looked at. */
int g3_bulk_says_no_errors(const char *raw);

typedef enum g3_item_status { G3_ITEM_OK, G3_ITEM_RETRY, G3_ITEM_FAILED } g3_item_status;

/*
 * Classifies the items of a bulk answer for a batch of n items: status[i];
 * *n_failed; up to G3_ESBULK_MAX_REPORTED messages "document \"id\":
 * type: reason" appended to errors (one per line). G3_FAIL with err when the
 * answer does not describe n items.
 */
g3_rc g3_bulk_classify(json_object *resp, size_t n, unsigned char *status, size_t *n_failed,
		       g3_buf *errors, size_t *n_reported, g3_err *err);

#endif
