/*
 * COPY-out workers in an exported snapshot and a bounded chunk pool
 * (pgcopyout.h). One mutex guards the pool's free list, the ready queue,
 * the next table to take and the failure; workers wait on cv_free for a
 * chunk, the writer on cv_ready for a finished chunk or a worker's end.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/progress.h"
#include "pgcopyout.h"

struct g3_copyout_chunk {
	char *data;
	size_t len;
	size_t cap;
	int64_t rows;
	size_t table;
	uint64_t part;
	int last;
	char sha256[65];
	struct g3_copyout_chunk *next;
};

typedef struct g3_copyout_chunk chunk;

struct run {
	g3_pgcat *db;
	size_t chunk_size;
	pthread_mutex_t mu;
	pthread_cond_t cv_free;     /* a chunk came back to the pool */
	pthread_cond_t cv_ready;    /* a chunk is ready, or a worker ended */
	chunk *free_list;
	chunk *ready_head, *ready_tail;
	size_t next_table;          /* into db->order */
	int running;                /* workers not yet ended */
	int failed;                 /* stop everything (first error in err) */
	g3_err err;
};

void g3_copyout_pool_init(g3_copyout_pool *p, long jobs, size_t chunk_size)
{
	p->n = (size_t)jobs + 1;
	p->chunk_size = chunk_size;
	p->chunks = g3_xcalloc(p->n, sizeof(*p->chunks));
	for (size_t i = 0; i < p->n; i++) {
		p->chunks[i].data = g3_xmalloc(chunk_size);
		p->chunks[i].cap = chunk_size;
	}
}

void g3_copyout_pool_release(g3_copyout_pool *p)
{
	for (size_t i = 0; p->chunks && i < p->n; i++)
		free(p->chunks[i].data);
	free(p->chunks);
	memset(p, 0, sizeof(*p));
}

static void run_fail(struct run *r, const g3_err *err)
{
	pthread_mutex_lock(&r->mu);
	if (!r->failed) {
		r->failed = 1;
		r->err = *err;
	}
	pthread_cond_broadcast(&r->cv_free);
	pthread_cond_broadcast(&r->cv_ready);
	pthread_mutex_unlock(&r->mu);
}

static int run_failed(struct run *r)
{
	int f;

	pthread_mutex_lock(&r->mu);
	f = r->failed;
	pthread_mutex_unlock(&r->mu);
	return f;
}

/* A free chunk from the pool; NULL when the run failed. */
static chunk *chunk_get(struct run *r)
{
	chunk *c = NULL;

	pthread_mutex_lock(&r->mu);
	while (!r->free_list && !r->failed)
		pthread_cond_wait(&r->cv_free, &r->mu);
	if (!r->failed) {
		c = r->free_list;
		r->free_list = c->next;
		c->next = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	if (c) {
		c->len = 0;
		c->rows = 0;
		c->last = 0;
	}
	return c;
}

static void chunk_put(struct run *r, chunk *c)
{
	if (c->cap > r->chunk_size) {
		/* grown for a big row: back to the normal size */
		free(c->data);
		c->data = g3_xmalloc(r->chunk_size);
		c->cap = r->chunk_size;
	}
	pthread_mutex_lock(&r->mu);
	c->next = r->free_list;
	r->free_list = c;
	pthread_cond_signal(&r->cv_free);
	pthread_mutex_unlock(&r->mu);
}

/* Hands a filled chunk to the writer (sha256 computed here, in parallel). */
static void chunk_ready(struct run *r, chunk *c, size_t table, uint64_t part, int last)
{
	c->table = table;
	c->part = part;
	c->last = last;
	g3_sha256_hex(c->data, c->len, c->sha256);
	pthread_mutex_lock(&r->mu);
	c->next = NULL;
	if (r->ready_tail)
		r->ready_tail->next = c;
	else
		r->ready_head = c;
	r->ready_tail = c;
	pthread_cond_signal(&r->cv_ready);
	pthread_mutex_unlock(&r->mu);
}

static g3_rc table_failed(struct run *r, const g3_pgcat_table *t, const char *msg, g3_err *err)
{
	return g3_err_set(err, G3_FAIL, "could not dump table \"%s.%s\" of database \"%s\": %s",
			  t->schema, t->name, r->db->name, msg);
}

/* The rows of a COPY under way into chunks; *cp is the chunk being filled
 * (NULL when the run was stopped), *part its number. Returns
 * PQgetCopyData's last result: -1 at the end, -2 on an error, > 0 when
 * stopped because the run failed. */
static int copy_rows(struct run *r, PGconn *conn, size_t ti, chunk **cp, uint64_t *part)
{
	char *row = NULL;
	int n;

	while ((n = PQgetCopyData(conn, &row, 0)) > 0) {
		size_t len = (size_t)n;
		chunk *c = *cp;

		if (c->len && c->len + len > r->chunk_size) {
			chunk_ready(r, c, ti, (*part)++, 0);
			if (!(c = *cp = chunk_get(r)))
				break;
		}
		if (c->len + len > c->cap) {
			/* a row larger than a chunk gets a chunk of its own */
			c->cap = c->len + len;
			c->data = g3_xrealloc(c->data, c->cap);
		}
		memcpy(c->data + c->len, row, len);
		c->len += len;
		c->rows++;
		PQfreemem(row);
		row = NULL;
		if ((c->rows & 1023) == 0 && run_failed(r))
			break;
	}
	PQfreemem(row);
	return n;
}

/* The end of a COPY: its status, or the server's reason for a broken one. */
static g3_rc copy_end(struct run *r, PGconn *conn, const g3_pgcat_table *t, int n, g3_err *err)
{
	PGresult *res = PQgetResult(conn);
	char msg[768];
	g3_rc rc = G3_OK;

	if (n == -2) {
		/* the server's own reason, when it sent one before closing */
		if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
			g3_pg_result_message(res, msg, sizeof(msg));
		else
			g3_pg_conn_message(conn, msg, sizeof(msg));
		rc = table_failed(r, t, msg, err);
	} else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		g3_pg_result_message(res, msg, sizeof(msg));
		rc = table_failed(r, t, msg, err);
	}
	PQclear(res);
	return rc;
}

static g3_rc copy_table(struct run *r, PGconn *conn, size_t ti, g3_err *err)
{
	g3_pgcat_table *t = &r->db->tables[ti];
	double start = g3_clock_now();
	chunk *c = NULL;
	uint64_t part = 1;
	char msg[768];
	int n;
	g3_rc rc = G3_OK;

	if (!t->no_rows) {
		PGresult *res = PQexec(conn, t->copy_sql);

		if (PQresultStatus(res) != PGRES_COPY_OUT) {
			g3_pg_result_message(res, msg, sizeof(msg));
			PQclear(res);
			return table_failed(r, t, msg, err);
		}
		PQclear(res);
	}
	if (!(c = chunk_get(r)))
		goto stopped;
	if (!t->no_rows) {
		/* n > 0: stopped in the middle (the run failed) */
		n = copy_rows(r, conn, ti, &c, &part);
		if (!c || n > 0)
			goto stopped;
		if ((rc = copy_end(r, conn, t, n, err)))
			goto cleanup;
	}
	chunk_ready(r, c, ti, part, 1);
	c = NULL;
	t->seconds = g3_clock_now() - start;
	goto cleanup;
stopped:
	rc = g3_err_set(err, G3_FAIL, "stopped");
cleanup:
	if (c)
		chunk_put(r, c);
	return rc;
}

/* A worker's connection, in the leader's snapshot. */
static g3_rc join_snapshot(struct run *r, PGconn **conn, g3_err *err)
{
	g3_buf set = G3_BUF_INIT;
	char what[512];
	char *lit = NULL;
	g3_rc rc;

	if ((rc = g3_pg_connect(&r->db->conf, 0, conn, err)))
		return rc;
	snprintf(what, sizeof(what), "could not join the snapshot of database \"%s\"", r->db->name);
	if ((rc = g3_pg_exec(*conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, err)))
		return rc;
	if (!(lit = g3_pg_literal(*conn, r->db->snapshot, err)))
		return G3_FAIL;
	g3_buf_addf(&set, "SET TRANSACTION SNAPSHOT %s", lit);
	rc = g3_pg_exec(*conn, set.data, what, err);
	PQfreemem(lit);
	g3_buf_release(&set);
	return rc;
}

static void *worker_main(void *arg)
{
	struct run *r = arg;
	PGconn *conn = NULL;
	g3_err err;
	g3_rc rc;

	g3_err_init(&err);
	if ((rc = join_snapshot(r, &conn, &err)))
		goto cleanup;
	for (;;) {
		size_t ti;

		pthread_mutex_lock(&r->mu);
		if (r->failed || r->next_table >= r->db->n_order) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		ti = r->db->order[r->next_table++];
		pthread_mutex_unlock(&r->mu);
		if ((rc = copy_table(r, conn, ti, &err)))
			goto cleanup;
	}
cleanup:
	if (rc && strcmp(err.msg, "stopped"))
		run_fail(r, &err);
	PQfinish(conn);
	pthread_mutex_lock(&r->mu);
	r->running--;
	pthread_cond_broadcast(&r->cv_ready);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- the writing thread ---------------------------------------------------- */

struct writer {
	struct run *r;
	g3_snap_writer *w;
	g3_end_database *ed;
	g3_copyout_done_fn done;
	void *arg;
	uint64_t number;
};

static void chunk_counted(struct writer *wr, g3_pgcat_table *t, const chunk *c, const char *item)
{
	t->rows += c->rows;
	t->bytes += (int64_t)c->len;
	t->chunks++;
	wr->ed->rows += c->rows;
	wr->ed->bytes += (int64_t)c->len;
	wr->ed->chunks++;
	g3_progress_add_bytes((int64_t)c->len);
	g3_progress_item_add(item, c->rows);
	if (!c->last)
		return;
	g3_progress_item_done(item, 0);
	if (wr->done)
		wr->done(wr->arg, wr->r->db, t);
}

static g3_rc write_chunk(struct writer *wr, const chunk *c, g3_err *err)
{
	g3_pgcat *db = wr->r->db;
	g3_pgcat_table *t = &db->tables[c->table];
	uint64_t number = ++wr->number;
	g3_chunk_header h;
	g3_buf name = G3_BUF_INIT, json = G3_BUF_INIT;
	char item[G3_PROGRESS_NAME_MAX];
	g3_rc rc;

	g3_chunk_header_init(&h);
	h.schema = t->schema;
	h.table = t->name;
	h.columns = t->columns;
	h.n_columns = t->n_columns;
	h.part = c->part;
	h.last = c->last;
	h.rows = c->rows;
	h.bytes = (int64_t)c->len;
	memcpy(h.sha256, c->sha256, sizeof(h.sha256));
	snprintf(item, sizeof(item), "%s.%s.%s", db->name, t->schema, t->name);
	if (c->part <= 1)
		g3_progress_item_start(item, G3_PROGRESS_ROWS);
	g3_chunk_header_to_json(&h, &json);
	g3_buf_addf(&name, "pg/%s/data/%06" PRIu64 ".json", db->name, number);
	if ((rc = g3_snap_add_member(wr->w, name.data, json.data, json.len, err)))
		goto cleanup;
	g3_buf_reset(&name);
	g3_buf_addf(&name, "pg/%s/data/%06" PRIu64 ".copy", db->name, number);
	g3_snap_writer_member_sum(wr->w, c->sha256);   /* hashed by the worker */
	if ((rc = g3_snap_add_member(wr->w, name.data, c->data, c->len, err)))
		goto cleanup;
	chunk_counted(wr, t, c, item);
cleanup:
	g3_buf_release(&name);
	g3_buf_release(&json);
	return rc;
}

/* Writes chunks as they come until every worker has ended or one failed. */
static g3_rc write_chunks(struct writer *wr, g3_err *err)
{
	struct run *r = wr->r;
	g3_rc rc = G3_OK;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		chunk *c;

		while (!r->ready_head && r->running > 0 && !r->failed)
			pthread_cond_wait(&r->cv_ready, &r->mu);
		if (r->failed || !r->ready_head)
			break;
		c = r->ready_head;
		r->ready_head = c->next;
		if (!r->ready_head)
			r->ready_tail = NULL;
		pthread_mutex_unlock(&r->mu);
		rc = write_chunk(wr, c, err);
		chunk_put(r, c);
		if (rc) {
			run_fail(r, err);
			pthread_mutex_lock(&r->mu);
			break;
		}
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Starts the workers; the ones that could not start count as ended. */
static long start_workers(struct run *r, pthread_t *threads, long jobs)
{
	long started;

	r->running = (int)jobs;
	for (started = 0; started < jobs; started++) {
		if (pthread_create(&threads[started], NULL, worker_main, r)) {
			g3_err e;

			g3_err_set(&e, G3_FAIL, "could not start a worker thread");
			pthread_mutex_lock(&r->mu);
			r->running -= (int)(jobs - started);
			pthread_mutex_unlock(&r->mu);
			run_fail(r, &e);
			break;
		}
	}
	return started;
}

g3_rc g3_copyout_database(g3_pgcat *c, g3_copyout_pool *pool, long jobs, g3_snap_writer *w,
			  g3_end_database *ed, g3_copyout_done_fn done, void *arg, g3_err *err)
{
	struct run r;
	struct writer wr = { &r, w, ed, done, arg, 0 };
	pthread_t *threads;
	long started;
	g3_rc rc;

	if ((size_t)jobs + 1 > pool->n)
		jobs = (long)pool->n - 1;
	if ((size_t)jobs > c->n_order)
		jobs = (long)c->n_order;
	memset(&r, 0, sizeof(r));
	r.db = c;
	r.chunk_size = pool->chunk_size;
	g3_err_init(&r.err);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv_free, NULL);
	pthread_cond_init(&r.cv_ready, NULL);
	for (size_t i = 0; i < pool->n; i++) {
		pool->chunks[i].next = r.free_list;
		r.free_list = &pool->chunks[i];
	}
	threads = g3_xcalloc((size_t)jobs + 1, sizeof(pthread_t));
	started = start_workers(&r, threads, jobs);
	rc = write_chunks(&wr, err);
	for (long i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (r.failed && !rc) {
		*err = r.err;
		rc = r.err.rc ? r.err.rc : G3_FAIL;
	}
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv_free);
	pthread_cond_destroy(&r.cv_ready);
	/* chunks taken from the pool are all back: the workers have ended */
	free(threads);
	return rc;
}
