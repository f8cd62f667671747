/*
 * gen3db dump: a consistent snapshot of live PostgreSQL databases into one
 * gen3db snapshot (docs/FORMAT.md).
 *
 * Per database a leader connection opens a REPEATABLE READ READ ONLY
 * transaction, exports its snapshot and takes ACCESS SHARE locks on the
 * tables (as pg_dump does, so they cannot be dropped or altered under us).
 * pg_dump writes the schema sections inside that snapshot; --jobs worker
 * threads, each with its own connection in the same snapshot, COPY tables
 * out (largest first) into chunk buffers taken from a fixed pool; this
 * thread, the only owner of the snapshot writer, appends finished chunks in
 * the order they come. Memory is bounded by the pool: (jobs + 1) chunks,
 * plus zstd's window. A failure anywhere stops the workers and aborts the
 * sink, so no partial output is left.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../commands.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/pg/pg.h"
#include "../common/pg/pgdump.h"
#include "../common/pg/pgpattern.h"
#include "../common/base/progress.h"
#include "../common/io/sink.h"
#include "../common/snap/snapshot.h"
#include "../common/snap/snapwriter.h"
#include "../common/base/strbuf.h"
#include "../version.h"
#include "dump.h"

#define DEFAULT_CHUNK_SIZE (8L * 1024 * 1024)
#define MIN_CHUNK_SIZE (64L * 1024)
#define MAX_CHUNK_SIZE (1024L * 1024 * 1024)

struct dump_opts {
	const char *output;
	char **databases;
	size_t n_databases;
	long jobs;
	long level;
	long threads;
	long chunk_size;
	const char *master_url;
	long wait;
	int json;
	char **indices;         /* Elasticsearch */
	size_t n_indices;
	const char *es_url;
	const char *es_cacert;
	int es;                 /* --es or --index given */
	/* --table, --exclude-table, --exclude-table-data: as given (by
	 * g3_tablefilter_list), compiled, and as pg_dump arguments */
	char **patterns[3];
	size_t n_patterns[3];
	g3_tablefilter filter;
	char **pgdump_args;
	size_t n_pgdump_args;
};

/* ---- the plan: per database, its tables and sequences --------------------- */

struct table {
	char *schema;
	char *name;
	char *copy_sql;         /* COPY "s"."t" ("a", ...) TO STDOUT */
	char **columns;
	size_t n_columns;
	int64_t est_bytes;
	int no_rows;            /* --exclude-table-data: one empty chunk */
	/* filled by the writer thread from the chunks it wrote */
	int64_t rows;
	int64_t bytes;
	int64_t chunks;
	/* set by the worker that dumped it */
	double seconds;
};

struct database {
	char *name;
	PGconn *leader;
	char *snapshot;
	g3_pgconf conf;         /* master parameters with dbname set */
	struct table *tables;
	size_t n_tables;
	size_t *order;          /* indexes of the tables to COPY, largest first */
	size_t n_order;         /* n_tables less those whose data is excluded */
	g3_tablefilter *filter; /* the command's, or NULL */
	char **excluded;        /* "schema.table" left out, for the summary */
	size_t n_excluded;
	char **no_data;         /* "schema.table" without rows */
	size_t n_no_data;
	char *const *pgdump_args;
	size_t n_pgdump_args;
	g3_buf sequences;       /* sequences.sql */
	double seconds;
};

static void database_release(struct database *d)
{
	for (size_t i = 0; i < d->n_tables; i++) {
		struct table *t = &d->tables[i];

		free(t->schema);
		free(t->name);
		free(t->copy_sql);
		g3_strlist_free(t->columns, t->n_columns);
	}
	free(d->tables);
	free(d->order);
	g3_strlist_free(d->excluded, d->n_excluded);
	g3_strlist_free(d->no_data, d->n_no_data);
	free(d->name);
	free(d->snapshot);
	if (d->leader)
		PQfinish(d->leader);
	g3_pgconf_release(&d->conf);
	g3_buf_release(&d->sequences);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void human_bytes(int64_t n, char *buf, size_t size)
{
	if (n >= 1024 * 1024)
		snprintf(buf, size, "%.1f MiB", (double)n / (1024.0 * 1024.0));
	else if (n >= 1024)
		snprintf(buf, size, "%.1f KiB", (double)n / 1024.0);
	else
		snprintf(buf, size, "%" PRId64 " bytes", n);
}

static g3_rc parse_size(const char *s, long *out, g3_err *err)
{
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	long long mult = 1;

	if (end == s || v <= 0)
		goto bad;
	if (*end == 'K' || *end == 'k')
		mult = 1024;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024;
	else if (*end == 'G' || *end == 'g')
		mult = 1024LL * 1024 * 1024;
	else if (*end)
		goto bad;
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		goto bad;
	if (v > MAX_CHUNK_SIZE / mult || v * mult < MIN_CHUNK_SIZE)
		goto bad;
	*out = (long)(v * mult);
	return G3_OK;
bad:
	return g3_err_set(err, G3_USAGE,
			  "--chunk-size must be a size from 64K to 1G (bytes, or with K, M, G), not \"%s\"", s);
}

static void report_names(const char *what, const char *database, char *const *names, size_t n)
{
	g3_buf b = G3_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		g3_buf_addf(&b, "%s\"%s\"", i ? ", " : "", names[i]);
	if (n)
		g3_info("%s of database \"%s\" (%zu): %s", what, database, n, b.data);
	g3_buf_release(&b);
}

/* The tables --table, --exclude-table and --exclude-table-data left out. */
static void report_filtered(const struct database *d)
{
	report_names("left out (--table, --exclude-table)", d->name, d->excluded, d->n_excluded);
	report_names("dumped without rows (--exclude-table-data)", d->name, d->no_data,
		     d->n_no_data);
}

/* pg_dump's rule: a sequence is dumped when selected itself or when its
 * owning table is, but an identity sequence only with its table. Row i of
 * sequences_sql. */
static int sequence_kept(g3_tablefilter *f, PGresult *seqs, int i)
{
	int owned = !PQgetisnull(seqs, i, 3);
	enum g3_table_fate own = g3_tablefilter_decide(f, PQgetvalue(seqs, i, 0),
						       PQgetvalue(seqs, i, 1));
	enum g3_table_fate owner = owned ? g3_tablefilter_decide(f, PQgetvalue(seqs, i, 2),
								 PQgetvalue(seqs, i, 3))
					 : G3_TABLE_SKIP;

	if (owned && owner == G3_TABLE_SKIP && !strcmp(PQgetvalue(seqs, i, 4), "t"))
		return 0;
	return own != G3_TABLE_SKIP || owner != G3_TABLE_SKIP;
}

/* Opens the leader: snapshot, locks, the tables and sequences to dump. */
static g3_rc plan_database(struct database *d, g3_manifest *m, int wait, g3_err *err)
{
	static const char tables_sql[] =
		"SELECT c.oid, n.nspname, c.relname, c.reltuples::bigint, "
		/* sizes from the catalog: pg_table_size() would wait for locks */
		"(c.relpages::bigint + coalesce(tc.relpages, 0)) * current_setting('block_size')::bigint "
		"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		"LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid "
		"WHERE c.relkind = 'r' AND c.relpersistence <> 't' "
		"AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
		"AND n.nspname !~ '^pg_(toast|temp_)' "
		"AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass "
		"AND e.objid = c.oid AND e.deptype = 'e') "
		"ORDER BY n.nspname, c.relname";
	static const char columns_sql[] =
		"SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod) "
		"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
		"WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped "
		"AND a.attgenerated = '' ORDER BY a.attrelid, a.attnum";
	/* with the table owning it (serial 'a', identity 'i'), for the filter */
	static const char sequences_sql[] =
		"SELECT n.nspname, c.relname, tn.nspname, t.relname, "
		"coalesce(dep.deptype = 'i', false) FROM pg_class c "
		"JOIN pg_namespace n ON n.oid = c.relnamespace "
		"LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid "
		"AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i') "
		"LEFT JOIN pg_class t ON t.oid = dep.refobjid "
		"LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace "
		"WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
		"AND n.nspname !~ '^pg_(toast|temp_)' "
		"AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass "
		"AND e.objid = c.oid AND e.deptype = 'e') "
		"ORDER BY n.nspname, c.relname";
	PGresult *res = NULL, *cols = NULL, *seqs = NULL;
	g3_snap_database *md;
	char what[512];
	int col = 0;
	g3_rc rc;

	g3_pgconf_set(&d->conf, "dbname", d->name);
	g3_pgconf_set(&d->conf, "application_name", "gen3db dump");
	if ((rc = g3_pg_connect(&d->conf, wait, &d->leader, err)))
		goto cleanup;
	snprintf(what, sizeof(what), "could not start a snapshot of database \"%s\"", d->name);
	if ((rc = g3_pg_exec(d->leader, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, err)) ||
	    (rc = g3_pg_query(d->leader, "SELECT pg_catalog.pg_export_snapshot(), "
			      "pg_catalog.pg_encoding_to_char(encoding) FROM pg_catalog.pg_database "
			      "WHERE datname = pg_catalog.current_database()", 0, NULL, &res, what, err)))
		goto cleanup;
	d->snapshot = g3_xstrdup(PQgetvalue(res, 0, 0));
	if (!m->server_version) {
		m->server_version = g3_xstrdup(PQparameterStatus(d->leader, "server_version"));
		m->server_version_num = PQserverVersion(d->leader);
	}
	md = g3_manifest_add_database(m, d->name, PQgetvalue(res, 0, 1));
	PQclear(res);
	res = NULL;
	snprintf(what, sizeof(what), "could not list the tables of database \"%s\"", d->name);
	if ((rc = g3_pg_query(d->leader, tables_sql, 0, NULL, &res, what, err)) ||
	    (rc = g3_pg_query(d->leader, columns_sql, 0, NULL, &cols, what, err)) ||
	    (rc = g3_pg_query(d->leader, sequences_sql, 0, NULL, &seqs, what, err)))
		goto cleanup;
	d->tables = g3_xcalloc((size_t)PQntuples(res) + 1, sizeof(*d->tables));
	d->order = g3_xcalloc((size_t)PQntuples(res) + 1, sizeof(size_t));
	for (int row = 0; row < PQntuples(res); row++) {
		enum g3_table_fate fate = G3_TABLE_KEEP;
		const char *oid = PQgetvalue(res, row, 0);
		struct table *t;
		g3_buf sql = G3_BUF_INIT;
		char *qs = NULL, *qt = NULL;
		g3_snap_table *mt;

		if (d->filter)
			fate = g3_tablefilter_decide(d->filter, PQgetvalue(res, row, 1),
						     PQgetvalue(res, row, 2));
		if (fate != G3_TABLE_KEEP) {
			g3_buf n = G3_BUF_INIT;

			g3_buf_addf(&n, "%s.%s", PQgetvalue(res, row, 1), PQgetvalue(res, row, 2));
			if (fate == G3_TABLE_SKIP)
				g3_strlist_add(&d->excluded, &d->n_excluded, n.data);
			else
				g3_strlist_add(&d->no_data, &d->n_no_data, n.data);
			g3_buf_release(&n);
		}
		if (fate == G3_TABLE_SKIP)
			continue;
		t = &d->tables[d->n_tables++];
		t->schema = g3_xstrdup(PQgetvalue(res, row, 1));
		t->name = g3_xstrdup(PQgetvalue(res, row, 2));
		t->est_bytes = strtoll(PQgetvalue(res, row, 4), NULL, 10);
		mt = g3_manifest_add_table(md, t->schema, t->name,
					   strtoll(PQgetvalue(res, row, 3), NULL, 10), t->est_bytes);
		qs = g3_pg_ident(d->leader, t->schema, err);
		qt = qs ? g3_pg_ident(d->leader, t->name, err) : NULL;
		if (!qt) {
			PQfreemem(qs);
			rc = G3_FAIL;
			goto cleanup;
		}
		g3_buf_addf(&sql, "%s.%s", qs, qt);
		PQfreemem(qs);
		PQfreemem(qt);
		/* lock it now, as pg_dump does: no DROP or ALTER until we are done */
		{
			g3_buf lock = G3_BUF_INIT;

			g3_buf_addf(&lock, "LOCK TABLE ONLY %s IN ACCESS SHARE MODE", sql.data);
			snprintf(what, sizeof(what), "could not lock table \"%s.%s\" of database \"%s\"",
				 t->schema, t->name, d->name);
			rc = g3_pg_exec(d->leader, lock.data, what, err);
			g3_buf_release(&lock);
			if (rc) {
				g3_buf_release(&sql);
				goto cleanup;
			}
		}
		{
			g3_buf copy = G3_BUF_INIT;

			g3_buf_addf(&copy, "COPY %s", sql.data);
			/* columns of this table: cols is ordered by oid, tables by name */
			for (col = 0; col < PQntuples(cols); col++) {
				char *qc;

				if (strcmp(PQgetvalue(cols, col, 0), oid))
					continue;
				qc = g3_pg_ident(d->leader, PQgetvalue(cols, col, 1), err);
				if (!qc) {
					g3_buf_release(&copy);
					g3_buf_release(&sql);
					rc = G3_FAIL;
					goto cleanup;
				}
				g3_buf_adds(&copy, t->n_columns ? ", " : " (");
				g3_buf_adds(&copy, qc);
				PQfreemem(qc);
				g3_strlist_add(&t->columns, &t->n_columns, PQgetvalue(cols, col, 1));
				g3_manifest_add_column(mt, PQgetvalue(cols, col, 1), PQgetvalue(cols, col, 2));
			}
			g3_buf_adds(&copy, t->n_columns ? ") TO STDOUT" : " TO STDOUT");
			t->copy_sql = g3_buf_detach(&copy);
		}
		g3_buf_release(&sql);
		/* a table without its rows still gets its one (empty) part, as an
		 * empty table does: every table of a snapshot has parts 1..n */
		t->no_rows = fate != G3_TABLE_KEEP;
		d->order[d->n_order++] = (size_t)(t - d->tables);
	}
	/* largest first, so the longest COPY starts at once */
	for (size_t i = 1; i < d->n_order; i++) {
		size_t k = d->order[i], j = i;

		while (j > 0 && d->tables[d->order[j - 1]].est_bytes < d->tables[k].est_bytes) {
			d->order[j] = d->order[j - 1];
			j--;
		}
		d->order[j] = k;
	}
	/* sequence values, read in the snapshot like pg_dump's setval lines */
	for (int i = 0; i < PQntuples(seqs); i++) {
		char *qs;
		char *qn;
		g3_buf q = G3_BUF_INIT, name = G3_BUF_INIT;
		PGresult *v = NULL;
		char *lit = NULL;

		if (d->filter && !sequence_kept(d->filter, seqs, i))
			continue;
		qs = g3_pg_ident(d->leader, PQgetvalue(seqs, i, 0), err);
		qn = qs ? g3_pg_ident(d->leader, PQgetvalue(seqs, i, 1), err) : NULL;
		if (!qn) {
			PQfreemem(qs);
			rc = G3_FAIL;
			goto cleanup;
		}
		g3_buf_addf(&name, "%s.%s", qs, qn);
		g3_buf_addf(&q, "SELECT last_value, is_called FROM %s", name.data);
		snprintf(what, sizeof(what), "could not read sequence \"%s.%s\" of database \"%s\"",
			 PQgetvalue(seqs, i, 0), PQgetvalue(seqs, i, 1), d->name);
		rc = g3_pg_query(d->leader, q.data, 0, NULL, &v, what, err);
		if (!rc)
			lit = g3_pg_literal(d->leader, name.data, err);
		if (!rc && !lit)
			rc = G3_FAIL;
		if (!rc)
			g3_buf_addf(&d->sequences, "SELECT pg_catalog.setval(%s, %s, %s);\n", lit,
				    PQgetvalue(v, 0, 0), !strcmp(PQgetvalue(v, 0, 1), "t") ? "true" : "false");
		PQfreemem(lit);
		PQfreemem(qs);
		PQfreemem(qn);
		PQclear(v);
		g3_buf_release(&q);
		g3_buf_release(&name);
		if (rc)
			goto cleanup;
	}
	rc = G3_OK;
cleanup:
	PQclear(res);
	PQclear(cols);
	PQclear(seqs);
	return rc;
}

/* ---- workers and the chunk pool ------------------------------------------ */

struct chunk {
	char *data;
	size_t len;
	size_t cap;
	int64_t rows;
	size_t table;
	uint64_t part;
	int last;
	char sha256[65];
	struct chunk *next;
};

struct run {
	struct database *db;
	size_t chunk_size;
	pthread_mutex_t mu;
	pthread_cond_t cv_free;     /* a chunk came back to the pool */
	pthread_cond_t cv_ready;    /* a chunk is ready, or a worker ended */
	struct chunk *free_list;
	struct chunk *ready_head, *ready_tail;
	size_t next_table;          /* into db->order */
	int running;                /* workers not yet ended */
	int failed;                 /* stop everything (first error in err) */
	g3_err err;
};

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
static struct chunk *chunk_get(struct run *r)
{
	struct chunk *c = NULL;

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

static void chunk_put(struct run *r, struct chunk *c)
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
static void chunk_ready(struct run *r, struct chunk *c)
{
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

static g3_rc dump_table(struct run *r, PGconn *conn, size_t ti, g3_err *err)
{
	struct table *t = &r->db->tables[ti];
	double start = now_seconds();
	struct chunk *c = NULL;
	PGresult *res = NULL;
	char *row = NULL;
	uint64_t part = 1;
	int n;
	char msg[768];
	g3_rc rc = G3_OK;

	if (t->no_rows) {
		if (!(c = chunk_get(r)))
			goto stopped;
		goto last;
	}
	res = PQexec(conn, t->copy_sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		g3_pg_result_message(res, msg, sizeof(msg));
		rc = g3_err_set(err, G3_FAIL, "could not dump table \"%s.%s\" of database \"%s\": %s",
				t->schema, t->name, r->db->name, msg);
		goto cleanup;
	}
	PQclear(res);
	res = NULL;
	if (!(c = chunk_get(r)))
		goto stopped;
	while ((n = PQgetCopyData(conn, &row, 0)) > 0) {
		size_t len = (size_t)n;

		if (c->len && c->len + len > r->chunk_size) {
			c->table = ti;
			c->part = part++;
			chunk_ready(r, c);
			if (!(c = chunk_get(r)))
				goto stopped;
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
			goto stopped;
	}
	if (n == -2) {
		/* the server's own reason, when it sent one before closing */
		res = PQgetResult(conn);
		if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
			g3_pg_result_message(res, msg, sizeof(msg));
		else
			g3_pg_conn_message(conn, msg, sizeof(msg));
		rc = g3_err_set(err, G3_FAIL, "could not dump table \"%s.%s\" of database \"%s\": %s",
				t->schema, t->name, r->db->name, msg);
		goto cleanup;
	}
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		g3_pg_result_message(res, msg, sizeof(msg));
		rc = g3_err_set(err, G3_FAIL, "could not dump table \"%s.%s\" of database \"%s\": %s",
				t->schema, t->name, r->db->name, msg);
		goto cleanup;
	}
last:
	c->table = ti;
	c->part = part;
	c->last = 1;
	chunk_ready(r, c);
	c = NULL;
	t->seconds = now_seconds() - start;
	goto cleanup;
stopped:
	rc = G3_FAIL;
	g3_err_set(err, G3_FAIL, "stopped");
cleanup:
	if (c)
		chunk_put(r, c);
	PQfreemem(row);
	PQclear(res);
	return rc;
}

static void *worker_main(void *arg)
{
	struct run *r = arg;
	PGconn *conn = NULL;
	g3_buf set = G3_BUF_INIT;
	char what[512];
	char *lit = NULL;
	g3_err err;
	g3_rc rc;

	g3_err_init(&err);
	if ((rc = g3_pg_connect(&r->db->conf, 0, &conn, &err)))
		goto cleanup;
	snprintf(what, sizeof(what), "could not join the snapshot of database \"%s\"", r->db->name);
	if ((rc = g3_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what, &err)))
		goto cleanup;
	if (!(lit = g3_pg_literal(conn, r->db->snapshot, &err))) {
		rc = G3_FAIL;
		goto cleanup;
	}
	g3_buf_addf(&set, "SET TRANSACTION SNAPSHOT %s", lit);
	if ((rc = g3_pg_exec(conn, set.data, what, &err)))
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
		if ((rc = dump_table(r, conn, ti, &err)))
			goto cleanup;
	}
cleanup:
	if (rc && strcmp(err.msg, "stopped"))
		run_fail(r, &err);
	PQfreemem(lit);
	g3_buf_release(&set);
	PQfinish(conn);
	pthread_mutex_lock(&r->mu);
	r->running--;
	pthread_cond_broadcast(&r->cv_ready);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- the writer side ------------------------------------------------------- */

struct dump_state {
	g3_snap_writer *w;
	g3_snap_end end;
	/* the chunk pool, allocated once for every database: jobs + 1 chunks
	 * (one being filled per worker, one being written); reused rather than
	 * freed so the allocator does not scatter 8 MiB blocks */
	struct chunk *pool;
	size_t n_pool;
};

static g3_rc write_chunk(struct run *r, struct dump_state *st, g3_end_database *ed,
			 uint64_t number, struct chunk *c, g3_err *err)
{
	struct table *t = &r->db->tables[c->table];
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
	snprintf(item, sizeof(item), "%s.%s.%s", r->db->name, t->schema, t->name);
	if (c->part <= 1)
		g3_progress_item_start(item, G3_PROGRESS_ROWS);
	g3_chunk_header_to_json(&h, &json);
	g3_buf_addf(&name, "pg/%s/data/%06" PRIu64 ".json", r->db->name, number);
	if ((rc = g3_snap_add_member(st->w, name.data, json.data, json.len, err)))
		goto cleanup;
	g3_buf_reset(&name);
	g3_buf_addf(&name, "pg/%s/data/%06" PRIu64 ".copy", r->db->name, number);
	g3_snap_writer_member_sum(st->w, c->sha256);   /* hashed by the worker */
	if ((rc = g3_snap_add_member(st->w, name.data, c->data, c->len, err)))
		goto cleanup;
	t->rows += c->rows;
	t->bytes += (int64_t)c->len;
	t->chunks++;
	ed->rows += c->rows;
	ed->bytes += (int64_t)c->len;
	ed->chunks++;
	g3_progress_add_bytes((int64_t)c->len);
	g3_progress_item_add(item, c->rows);
	if (c->last)
		g3_progress_item_done(item, 0);
	if (c->last) {
		char size[32], msg[1024], rows[32], bytes[32], secs[32];
		const char *fields[] = { "database", r->db->name, "schema", t->schema,
					 "table", t->name, "rows", rows, "bytes", bytes,
					 "seconds", secs, NULL };

		human_bytes(t->bytes, size, sizeof(size));
		snprintf(rows, sizeof(rows), "%" PRId64, t->rows);
		snprintf(bytes, sizeof(bytes), "%" PRId64, t->bytes);
		snprintf(secs, sizeof(secs), "%.3f", t->seconds);
		snprintf(msg, sizeof(msg), "%s: \"%s.%s\" %" PRId64 " %s, %s in %.1f s",
			 r->db->name, t->schema, t->name, t->rows, g3_plural(t->rows, "row", "rows"),
			 size, t->seconds);
		g3_log_event(G3_LOG_INFO, "table_dumped", msg, fields);
	}
cleanup:
	g3_buf_release(&name);
	g3_buf_release(&json);
	return rc;
}

static g3_rc dump_data(struct database *d, struct dump_state *st, g3_end_database *ed,
		       long jobs, size_t chunk_size, g3_err *err)
{
	struct run r;
	pthread_t *threads = g3_xcalloc((size_t)jobs, sizeof(pthread_t));
	uint64_t number = 0;
	long started = 0;
	g3_rc rc = G3_OK;

	memset(&r, 0, sizeof(r));
	r.db = d;
	r.chunk_size = chunk_size;
	g3_err_init(&r.err);
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv_free, NULL);
	pthread_cond_init(&r.cv_ready, NULL);
	for (size_t i = 0; i < st->n_pool; i++) {
		st->pool[i].next = r.free_list;
		r.free_list = &st->pool[i];
	}
	if ((size_t)jobs > d->n_order)
		jobs = d->n_order ? (long)d->n_order : 0;
	r.running = (int)jobs;
	for (started = 0; started < jobs; started++) {
		if (pthread_create(&threads[started], NULL, worker_main, &r)) {
			g3_err e;

			g3_err_set(&e, G3_FAIL, "could not start a worker thread");
			pthread_mutex_lock(&r.mu);
			r.running -= (int)(jobs - started);
			pthread_mutex_unlock(&r.mu);
			run_fail(&r, &e);
			break;
		}
	}
	pthread_mutex_lock(&r.mu);
	for (;;) {
		struct chunk *c;

		while (!r.ready_head && r.running > 0 && !r.failed)
			pthread_cond_wait(&r.cv_ready, &r.mu);
		if (r.failed || !r.ready_head)
			break;
		c = r.ready_head;
		r.ready_head = c->next;
		if (!r.ready_head)
			r.ready_tail = NULL;
		pthread_mutex_unlock(&r.mu);
		rc = write_chunk(&r, st, ed, ++number, c, err);
		chunk_put(&r, c);
		if (rc) {
			run_fail(&r, err);
			pthread_mutex_lock(&r.mu);
			break;
		}
		pthread_mutex_lock(&r.mu);
	}
	pthread_mutex_unlock(&r.mu);
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

/* pg_dump's section into a temporary file, then into the snapshot. */
struct file_reader {
	FILE *f;
	const char *name;
};

static ssize_t file_read(void *ctx, void *buf, size_t len, g3_err *err)
{
	struct file_reader *fr = ctx;
	size_t n = fread(buf, 1, len, fr->f);

	if (n == 0 && ferror(fr->f)) {
		g3_err_set(err, G3_FAIL, "could not read the temporary file for \"%s\"", fr->name);
		return -1;
	}
	return (ssize_t)n;
}

static g3_rc dump_section(struct database *d, struct dump_state *st, const char *section,
			  g3_err *err)
{
	FILE *tmp = tmpfile();
	g3_buf name = G3_BUF_INIT;
	struct file_reader fr;
	char *text = NULL;
	long size;
	g3_rc rc;

	if (!tmp)
		return g3_err_set(err, G3_FAIL, "could not create a temporary file");
	if ((rc = g3_pgdump_section(&d->conf, d->name, section, d->snapshot, d->pgdump_args,
				    d->n_pgdump_args, tmp, err)))
		goto cleanup;
	fflush(tmp);
	size = ftell(tmp);
	rewind(tmp);
	g3_buf_addf(&name, "pg/%s/%s.sql", d->name, section);
	fr.f = tmp;
	fr.name = name.data;
	if ((rc = g3_snap_add_member_stream(st->w, name.data, size, file_read, &fr, err)))
		goto cleanup;
	if (!strcmp(section, "post-data")) {
		/* the item list: post-data holds indexes and constraints, a
		 * size bounded by the schema, not the data */
		g3_postdata p;
		g3_buf json = G3_BUF_INIT;

		text = g3_xmalloc((size_t)size + 1);
		rewind(tmp);
		if (fread(text, 1, (size_t)size, tmp) != (size_t)size) {
			rc = g3_err_set(err, G3_FAIL, "could not read the temporary file for \"%s\"",
					name.data);
			goto cleanup;
		}
		g3_postdata_split(text, (size_t)size, &p);
		g3_postdata_to_json(&p, &json);
		g3_buf_reset(&name);
		g3_buf_addf(&name, "pg/%s/post-data.json", d->name);
		rc = g3_snap_add_member(st->w, name.data, json.data, json.len, err);
		g3_postdata_release(&p);
		g3_buf_release(&json);
	}
cleanup:
	free(text);
	fclose(tmp);
	g3_buf_release(&name);
	return rc;
}

static g3_rc dump_database(struct database *d, struct dump_state *st,
			   const struct dump_opts *o, g3_err *err)
{
	double start = now_seconds();
	g3_end_database *ed = g3_snap_end_add_database(&st->end, d->name);
	g3_buf name = G3_BUF_INIT;
	g3_rc rc;

	if ((rc = dump_section(d, st, "pre-data", err)) ||
	    (rc = dump_data(d, st, ed, o->jobs, (size_t)o->chunk_size, err)) ||
	    (rc = dump_section(d, st, "post-data", err)))
		goto cleanup;
	g3_buf_addf(&name, "pg/%s/sequences.sql", d->name);
	if ((rc = g3_snap_add_member(st->w, name.data, d->sequences.data ? d->sequences.data : "",
				     d->sequences.len, err)))
		goto cleanup;
	for (size_t i = 0; i < d->n_tables; i++) {
		g3_end_table *et = g3_snap_end_add_table(ed, d->tables[i].schema, d->tables[i].name);

		et->rows = d->tables[i].rows;
		et->bytes = d->tables[i].bytes;
		et->chunks = d->tables[i].chunks;
	}
	/* the snapshot is no longer needed */
	g3_pg_exec(d->leader, "COMMIT", "could not end the snapshot transaction", NULL);
	PQfinish(d->leader);
	d->leader = NULL;
	d->seconds = now_seconds() - start;
cleanup:
	g3_buf_release(&name);
	return rc;
}

/* ---- the command ------------------------------------------------------------ */

/* Killed by SIGINT or SIGTERM: remove the partial output (unlink is
 * async-signal-safe), then die of the same signal. */
static const char *volatile partial_path;

static void on_fatal_signal(int sig)
{
	const char *p = partial_path;

	if (p)
		unlink(p);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* a closed pipe on --output - is an error to report, not a kill */
	signal(SIGPIPE, SIG_IGN);
}

static void print_summary(const struct dump_opts *o, struct database *dbs, size_t n,
			  const g3_snap_end *end, uint64_t out_bytes, double seconds)
{
	json_object *jix = json_object_new_array();

	json_object *root = json_object_new_object();
	json_object *jdbs = json_object_new_array();

	json_object_object_add(root, "output", json_object_new_string(o->output));
	json_object_object_add(root, "output_bytes", json_object_new_int64((int64_t)out_bytes));
	json_object_object_add(root, "seconds", json_object_new_double(seconds));
	for (size_t i = 0; i < n; i++) {
		json_object *jd = json_object_new_object(), *tabs = json_object_new_array();
		int64_t rows = 0, bytes = 0;

		for (size_t k = 0; k < dbs[i].n_tables; k++) {
			struct table *t = &dbs[i].tables[k];
			json_object *jt = json_object_new_object();

			json_object_object_add(jt, "schema", json_object_new_string(t->schema));
			json_object_object_add(jt, "name", json_object_new_string(t->name));
			json_object_object_add(jt, "rows", json_object_new_int64(t->rows));
			json_object_object_add(jt, "bytes", json_object_new_int64(t->bytes));
			json_object_object_add(jt, "chunks", json_object_new_int64(t->chunks));
			json_object_object_add(jt, "seconds", json_object_new_double(t->seconds));
			json_object_array_add(tabs, jt);
			rows += t->rows;
			bytes += t->bytes;
		}
		json_object_object_add(jd, "name", json_object_new_string(dbs[i].name));
		json_object_object_add(jd, "rows", json_object_new_int64(rows));
		json_object_object_add(jd, "bytes", json_object_new_int64(bytes));
		json_object_object_add(jd, "seconds", json_object_new_double(dbs[i].seconds));
		json_object_object_add(jd, "tables", tabs);
		g3_opt_json_list(jd, "excluded_tables", dbs[i].excluded, dbs[i].n_excluded);
		g3_opt_json_list(jd, "excluded_table_data", dbs[i].no_data, dbs[i].n_no_data);
		json_object_array_add(jdbs, jd);
	}
	json_object_object_add(root, "databases", jdbs);
	for (size_t i = 0; i < end->n_indices; i++) {
		json_object *ji = json_object_new_object();

		json_object_object_add(ji, "name", json_object_new_string(end->indices[i].name));
		json_object_object_add(ji, "docs", json_object_new_int64(end->indices[i].docs));
		json_object_object_add(ji, "bytes", json_object_new_int64(end->indices[i].bytes));
		json_object_object_add(ji, "chunks", json_object_new_int64(end->indices[i].chunks));
		json_object_array_add(jix, ji);
	}
	json_object_object_add(root, "indices", jix);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(root);
}

/* A table pattern: compiled (exit 2 on a bad one) and handed to pg_dump
 * too, which applies it to the schema sections the same way. */
static g3_rc filter_option(struct dump_opts *o, enum g3_tablefilter_list list, const char *arg,
			   g3_err *err)
{
	g3_buf b = G3_BUF_INIT;

	g3_strlist_add(&o->patterns[list], &o->n_patterns[list], arg);
	g3_buf_addf(&b, "%s=%s", g3_tablefilter_option(list), arg);
	g3_strlist_add(&o->pgdump_args, &o->n_pgdump_args, b.data);
	g3_buf_release(&b);
	return g3_tablefilter_add(&o->filter, list, arg, err);
}

static g3_rc set_filter(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	size_t list = (row->off - offsetof(struct dump_opts, patterns)) / sizeof(char **);

	return filter_option(base, (enum g3_tablefilter_list)list, arg, err);
}

static g3_rc set_chunk_size(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	(void)row;
	return parse_size(arg, &((struct dump_opts *)base)->chunk_size, err);
}

/* --es or --index: Elasticsearch is dumped too */
static g3_rc dump_after(void *opts, g3_err *err)
{
	struct dump_opts *o = opts;

	(void)err;
	o->es = o->es_url || o->n_indices;
	return G3_OK;
}

#define DO struct dump_opts
#define FILTER_ROW(name, l, key, mv, help) \
	G3_ROW_SET(name, 0, G3_OPT_LIST, set_filter, DO, patterns[l], n_patterns[l], key, mv, help)

static const g3_opt dump_rows[] = {
	G3_ROW_STR("output", 0, DO, output, "output", "FILE|-",
		   "the snapshot; FILE appears only when complete\n"
		   "(written as FILE.partial until then)"),
	G3_ROW_LIST("database", 0, DO, databases, n_databases, "databases", "NAME",
		    "repeatable: a database to dump"),
	G3_ROW_LONG("jobs", 0, DO, jobs, 1, 64, "jobs", "N",
		    "worker connections per database (default 2)"),
	G3_ROW_LONG("level", 0, DO, level, 1, 19, "level", "N", "zstd level 1..19 (default 3)"),
	G3_ROW_LONG("compress-threads", 0, DO, threads, 1, 64, "compress_threads", "N",
		    "zstd threads (default 1: in the writer thread)"),
	G3_ROW_SET("chunk-size", 0, G3_OPT_LONG, set_chunk_size, DO, chunk_size, chunk_size,
		   "chunk_size", "BYTES",
		   "table data and documents chunk size, with optional\n"
		   "K, M or G (default 8M)"),
	G3_ROW_FLAG("json", 0, DO, json, "json", "a JSON summary on stdout (not with --output -)"),
	G3_ROW_NOTE("\nTables (as pg_dump's -t, -T and --exclude-table-data; repeatable):\n"),
	FILTER_ROW("table", G3_FILTER_TABLE, "tables", "PATTERN",
		   "dump only matching tables (with their indexes,\n"
		   "constraints and owned sequences)"),
	FILTER_ROW("exclude-table", G3_FILTER_EXCLUDE, "exclude_tables", "PATTERN",
		   "leave matching tables out"),
	FILTER_ROW("exclude-table-data", G3_FILTER_EXCLUDE_DATA, "exclude_table_data", "PATTERN",
		   "dump matching tables' definitions, not their rows"),
	G3_ROW_NOTE("  PATTERN as psql's (see 'gen3db restore --help'); one that matches no table\n"
		    "  of any database is an error (exit 2).\n"
		    "\n"
		    "Connection (libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE,\n"
		    "PGSSLMODE, ... or):\n"),
	G3_ROW_URL("master", 0, DO, master_url, "master", "URL",
		   "postgresql://user@host:port (no password)"),
	G3_ROW_WAIT(DO, wait, "the servers"),
	G3_ROW_NOTE("\nElasticsearch (after the databases, in the same snapshot):\n"),
	G3_ROW_LIST("index", 0, DO, indices, n_indices, "indices", "NAME",
		    "repeatable: an index or alias to dump (with --es\n"
		    "and no --index: GUPPY_INDICES, GUPPY_CONFIGINDEX)"),
	G3_ES_ROWS(DO, es_url, es_cacert),
};

const g3_cmd_spec cmd_dump_spec =
	G3_CMD_SPEC_ROWS("dump", dump_rows, 0, G3_BAD_OWN, dump_after, -1,
	"usage: gen3db dump --output FILE|- [--database DB ...] [--es URL --index NAME ...]\n"
	"                   [options]\n"
	"\n"
	"Write a consistent snapshot of PostgreSQL databases (schema from pg_dump,\n"
	"data with COPY in the same exported snapshot) and Elasticsearch indices\n"
	"(definition, and every document read in a point in time) as one .tar.zst\n"
	"in gen3db's snapshot format, while they stay in use.\n"
	"\n",
	"\n"
	"exit codes: 0 snapshot written, 1 failure (no output left), 2 usage or bad\n"
	"input, 3 a server was unreachable within --wait\n");

/* *done: --help was given or the options were printed (GEN3DB_PRINT_OPTIONS);
 * nothing else is to be done. */
static g3_rc parse_options(int argc, char **argv, struct dump_opts *o, int *done, g3_err *err)
{
	int args = 0;
	g3_rc rc;

	o->jobs = 2;
	o->level = 3;
	o->threads = 1;
	o->chunk_size = DEFAULT_CHUNK_SIZE;
	o->wait = 300;
	if ((rc = g3_opts_parse(&cmd_dump_spec, o, argc, argv, &args, done, err)) || *done)
		return rc;
	if (args < argc)
		return g3_err_set(err, G3_USAGE, "unexpected argument \"%s\"", argv[args]);
	if (!o->output)
		return g3_err_set(err, G3_USAGE, "give --output FILE (or - for standard output)");
	for (size_t i = 0; i < o->n_indices; i++)
		if (g3_es_name_check(o->indices[i], "--index", err))
			return G3_USAGE;
	if (o->es && !o->n_indices) {
		g3_es_indices_from_env(&o->indices, &o->n_indices);
		for (size_t i = 0; i < o->n_indices; i++)
			if (g3_es_name_check(o->indices[i], G3_ES_ENV_ORIGIN, err))
				return G3_USAGE;
	}
	if (o->es && !o->n_indices)
		return g3_err_set(err, G3_USAGE, "no index to dump: give --index NAME (or "
				  "GUPPY_INDICES)");
	if (!o->n_databases && !o->es)
		return g3_err_set(err, G3_USAGE, "nothing to dump: give --database NAME");
	if (o->json && !strcmp(o->output, "-"))
		return g3_err_set(err, G3_USAGE, "--json needs --output FILE: standard output holds the snapshot");
	for (size_t i = 0; i < o->n_databases; i++) {
		const char *name = o->databases[i];

		if ((rc = g3_pg_check_name("database", name, err)))
			return rc;
		if (strchr(name, '/') || strstr(name, ".."))
			return g3_err_set(err, G3_USAGE,
					  "database name \"%s\" cannot be a snapshot member name (\"/\" or \"..\")",
					  name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(o->databases[k], name))
				return g3_err_set(err, G3_USAGE, "database \"%s\" is given twice", name);
	}
	return G3_OK;
}

/* The start of a failed run's --json report: nothing was written. */
static json_object *failure_report(const struct dump_opts *o)
{
	json_object *root = json_object_new_object();
	json_object *dbs = json_object_new_array();

	if (o->output)
		json_object_object_add(root, "output", json_object_new_string(o->output));
	json_object_object_add(root, "output_written", json_object_new_boolean(0));
	for (size_t i = 0; i < o->n_databases; i++)
		json_object_array_add(dbs, json_object_new_string(o->databases[i]));
	json_object_object_add(root, "databases", dbs);
	return root;
}

int cmd_dump(int argc, char **argv)
{
	struct dump_opts o;
	struct database *dbs = NULL;
	struct dump_state st;
	g3_manifest m;
	struct dump_es es;
	g3_pgconf conf;
	g3_sink *sink = NULL;
	g3_buf json = G3_BUF_INIT;
	g3_err err;
	double start = now_seconds();
	uint64_t out_bytes = 0;
	int done = 0;
	g3_rc rc;

	memset(&o, 0, sizeof(o));
	g3_tablefilter_init(&o.filter);
	memset(&st, 0, sizeof(st));
	g3_err_init(&err);
	g3_manifest_init(&m);
	g3_pgconf_init(&conf);
	g3_snap_end_init(&st.end);
	dump_es_init(&es);
	if ((rc = parse_options(argc, argv, &o, &done, &err)) || done)
		goto cleanup;
	if (o.n_databases && (rc = g3_pgconf_master(&conf, o.master_url, &err)))
		goto cleanup;
	dbs = g3_xcalloc(o.n_databases + 1, sizeof(*dbs));
	{
		struct timespec ts;
		struct tm tm;
		char created[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
		m.created = g3_xstrdup(created);
	}
	m.gen3db_version = g3_xstrdup(GEN3DB_VERSION);
	if (o.n_databases && (rc = g3_pgdump_version(&m.pg_dump_version, &err)))
		goto cleanup;
	/* every snapshot first, so the manifest can list every table */
	for (size_t i = 0; i < o.n_databases; i++) {
		dbs[i].name = g3_xstrdup(o.databases[i]);
		g3_pgconf_copy(&dbs[i].conf, &conf);
		if (g3_tablefilter_active(&o.filter))
			dbs[i].filter = &o.filter;
		dbs[i].pgdump_args = o.pgdump_args;
		dbs[i].n_pgdump_args = o.n_pgdump_args;
		if ((rc = plan_database(&dbs[i], &m, (int)o.wait, &err)))
			goto cleanup;
	}
	/* before any output: a pattern that matches no table is a mistake */
	if (o.n_databases && (rc = g3_tablefilter_check(&o.filter, &err)))
		goto cleanup;
	for (size_t i = 0; i < o.n_databases; i++)
		report_filtered(&dbs[i]);
	es.chunk_size = (size_t)o.chunk_size;
	if (o.es && (rc = dump_es_plan(&es, o.es_url, o.es_cacert, (int)o.wait, o.indices,
				       o.n_indices, &m, &err)))
		goto cleanup;
	st.n_pool = (size_t)o.jobs + 1;
	st.pool = g3_xcalloc(st.n_pool, sizeof(*st.pool));
	for (size_t i = 0; i < st.n_pool; i++) {
		st.pool[i].data = g3_xmalloc((size_t)o.chunk_size);
		st.pool[i].cap = (size_t)o.chunk_size;
	}
	catch_signals();
	if ((rc = g3_sink_open(o.output, &sink, &err)))
		goto cleanup;
	partial_path = sink->temp_path;
	if ((rc = g3_snap_writer_open(sink, (int)o.level, (int)o.threads, &st.w, &err)))
		goto cleanup;
	g3_manifest_to_json(&m, &json);
	if ((rc = g3_snap_add_member(st.w, G3_SNAP_MANIFEST, json.data, json.len, &err)))
		goto cleanup;
	{
		/* bytes are COPY data and documents written; the total is not
		 * known before they are read */
		size_t items = o.es ? es.n : 0;

		for (size_t i = 0; i < o.n_databases; i++)
			items += dbs[i].n_order;
		g3_progress_init(-1);
		g3_progress_set_totals(-1, (int)items);
	}
	for (size_t i = 0; i < o.n_databases; i++)
		if ((rc = dump_database(&dbs[i], &st, &o, &err)))
			goto cleanup;
	if (o.es && (rc = dump_es_write(&es, st.w, &st.end, &err)))
		goto cleanup;
	st.end.members = g3_snap_writer_members(st.w);
	{
		const g3_snap_log *log = g3_snap_writer_log(st.w);

		st.end.has_sums = 1;
		for (size_t i = 0; i < log->n; i++)
			g3_snap_log_add(&st.end.sums, log->v[i].name, log->v[i].bytes,
					log->v[i].sha256);
	}
	g3_buf_reset(&json);
	g3_snap_end_to_json(&st.end, &json);
	if ((rc = g3_snap_add_member(st.w, G3_SNAP_END, json.data, json.len, &err)))
		goto cleanup;
	out_bytes = sink->written;
	rc = g3_snap_writer_finish(st.w, &err);
	st.w = NULL;
	out_bytes = sink->written;
	g3_progress_finish();
	if (rc)
		goto cleanup;
	{
		int64_t rows = 0, bytes = 0;
		char size[32], osize[32];

		for (size_t i = 0; i < st.end.n_databases; i++) {
			rows += st.end.databases[i].rows;
			bytes += st.end.databases[i].bytes;
		}
		human_bytes(bytes, size, sizeof(size));
		human_bytes((int64_t)out_bytes, osize, sizeof(osize));
		if (o.n_databases)
			g3_info("dumped %zu %s: %" PRId64 " %s, %s of COPY data, %s written to \"%s\" in %.1f s",
				o.n_databases,
				g3_plural((long long)o.n_databases, "database", "databases"), rows,
				g3_plural(rows, "row", "rows"), size, osize,
				sink->name, now_seconds() - start);
		else
			g3_info("dumped %zu %s, %s written to \"%s\" in %.1f s", o.n_indices,
				g3_plural((long long)o.n_indices, "index", "indexes"), osize, sink->name,
				now_seconds() - start);
	}
	if (o.json)
		print_summary(&o, dbs, o.n_databases, &st.end, out_bytes, now_seconds() - start);
cleanup:
	g3_progress_finish();
	if (rc) {
		g3_log_err(&err);
		if (st.w)
			g3_snap_writer_abort(st.w);
	}
	partial_path = NULL;
	g3_sink_close(sink);   /* aborts (removes FILE.partial) unless committed */
	if (rc && o.json)
		g3_err_print_json(failure_report(&o), rc, &err);
	for (size_t i = 0; dbs && i < o.n_databases; i++)
		database_release(&dbs[i]);
	free(dbs);
	for (size_t i = 0; i < st.n_pool; i++)
		free(st.pool[i].data);
	free(st.pool);
	g3_buf_release(&json);
	g3_manifest_release(&m);
	g3_snap_end_release(&st.end);
	g3_pgconf_release(&conf);
	g3_strlist_free(o.databases, o.n_databases);
	g3_strlist_free(o.indices, o.n_indices);
	for (int l = 0; l < 3; l++)
		g3_strlist_free(o.patterns[l], o.n_patterns[l]);
	g3_strlist_free(o.pgdump_args, o.n_pgdump_args);
	g3_tablefilter_release(&o.filter);
	dump_es_release(&es);
	return g3_exit_code(rc);
}
