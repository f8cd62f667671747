/*
 * The PostgreSQL loader: one leader connection and up to `jobs` worker
 * connections, after pg_restore's parallel mode.
 *
 * The caller (the leader thread) hands statements and COPY data in file
 * order. Statements are classified from their text:
 *   - session settings (SET, set_config) run on the leader and are
 *     replayed on every worker before its next job;
 *   - setval and other statements run on the leader, in order; once data
 *     loading has started, such a statement first waits for all loads and
 *     pending jobs (a barrier: it may depend on them);
 *   - CREATE INDEX and ALTER TABLE ... ADD CONSTRAINT (primary key,
 *     unique, check, exclude) are post-data jobs for a table: they run on
 *     the workers once that table's data is in, longest first (estimated
 *     from the table's bytes, a GIN build counting more), at the next
 *     barrier or at the end; a primary key or unique constraint on a
 *     plain table is built as CREATE UNIQUE INDEX beside the table's
 *     other builds, then added with ALTER TABLE ... USING INDEX
 *     (pgconstraint.h); with a memory budget (opts), each build gets
 *     maintenance_work_mem sized from its table;
 *   - ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY runs on the workers
 *     once the data and index jobs of both its tables are done; between
 *     plain tables it is added NOT VALID and then validated, a job of its
 *     own that shares the referenced table with that table's other work
 *     (pgconstraint.h), and a table's ANALYZE lets such adds go first;
 *   - CREATE EXTENSION goes to the caller's extension callback first;
 *   - SET ROLE, RESET ROLE, SET SESSION AUTHORIZATION, set_config('role')
 *     and DISCARD ALL are refused: they would change the loading role;
 *   - ALTER ... OWNER TO is skipped (objects belong to the loading role);
 *     COMMENT ON EXTENSION that the role may not run is skipped with a note.
 * COPY data goes to a free worker's bounded queue (queue_bytes) in chunks
 * that worker sends with PQputCopyData (a big text-format COPY in segments
 * over several workers, see g3_pgload_copy_begin); memory is bounded by
 * jobs x (queue_bytes + one chunk). Each COPY's row count is checked
 * against the data lines sent. At the end (unless opts.no_analyze):
 * ANALYZE of every loaded table, each as soon as its table's index jobs
 * are done (other tables' jobs may still run: both connections stay busy).
 *
 * With opts.trace, each job's start and end on its connection is written
 * to the trace (no per-row cost; the schedule is the same).
 *
 * Threads: only the leader changes the schedule; a worker owns its PGconn,
 * runs the job it was given and reports a status. All functions here are
 * called by the leader thread.
 */
#ifndef G3_PGLOAD_H
#define G3_PGLOAD_H

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>

#include "../base/err.h"
#include "../base/trace.h"

typedef struct g3_pgload g3_pgload;

/* Opens one more connection as the loading role, for a worker. */
typedef g3_rc (*g3_pgload_connect_fn)(void *ctx, PGconn **out, g3_err *err);

typedef struct g3_pgload_opts {
	int jobs;                   /* worker connections, >= 1 */
	size_t queue_bytes;         /* per worker; 0: 4 MiB */
	g3_pgload_connect_fn connect;
	void *connect_ctx;
	/* when set and nonzero (a signal handler's flag), waits for workers
	 * end with "interrupted" within a fraction of a second */
	volatile sig_atomic_t *interrupted;
	const char *origin;         /* what a line number counts in: "line" (the
				     * default) gives "line 12: ..." */
	/* when set, called (by the leader thread) before a CREATE EXTENSION
	 * statement runs, with the extension's name: it provides the
	 * extension (a role may not create every one) or fails naming what
	 * the server lacks */
	g3_rc (*extension)(void *ctx, const char *name, g3_err *err);
	void *extension_ctx;
	/* when set, every job writes one record when it ends (trace.h):
	 * conn 1..jobs for the workers, and conn 0 for each run of
	 * statements on the leader ("pre-data" before the first COPY, else
	 * "statements"); database names them. Not owned; outlives the
	 * loader's stop. */
	g3_trace *trace;
	const char *trace_database;
	/* maintenance_work_mem (kB) shared among the connections' index
	 * builds: each gets up to its share, sized from its table; 0: none
	 * (the server's own for every build). Off by default: on the
	 * bench's shapes a and c at 120MB a 256MB budget made no difference
	 * beyond the noise (README, "Post-data levers"). */
	long long maintenance_work_mem_kb;
	/* no ANALYZE at the end (statistics left to autovacuum) */
	int no_analyze;
} g3_pgload_opts;

typedef struct g3_pgload_table {
	char *name;                 /* schema.table, unquoted, for reports */
	char *qname;                /* as written in the COPY statement */
	long long rows;
	long long bytes;            /* COPY text bytes */
	double seconds;             /* of its COPY streams */
	int copies;                 /* COPY statements/chunks loaded */
} g3_pgload_table;

typedef struct g3_pgload_stats {
	long statements;            /* run on the leader */
	long index_jobs;
	long fk_jobs;
	long skipped_owner;
	long skipped_comments;
	long skipped_database;      /* on the dump's own database (pg_dump --create) */
	long skipped_settings;      /* SET of parameters the server does not know */
	int create_database;        /* one of them was CREATE DATABASE */
	long long rows;
	long long bytes;
	double data_seconds;        /* first COPY start to last COPY end */
	double post_seconds;        /* post-data jobs and ANALYZE */
} g3_pgload_stats;

/* Starts the workers (connecting them). leader stays the caller's. */
g3_rc g3_pgload_start(const g3_pgload_opts *o, PGconn *leader,
		      g3_pgload **out, g3_err *err);

/* What the next statements' and COPYs' line numbers count in, for
 * messages: "pg/fence/post-data.sql line" gives "pg/fence/post-data.sql
 * line 12: could not run ..."; for a COPY with line 0, a member name gives
 * "line 5 of \"<member>\"". Copied. */
void g3_pgload_set_origin(g3_pgload *l, const char *origin);

/* A statement in file order; line is for messages (0: none). */
g3_rc g3_pgload_statement(g3_pgload *l, const char *sql, long line, g3_err *err);

/* A COPY ... FROM stdin statement, then its data in pieces of any size,
 * then its end with the number of data lines (rows) sent. With more than
 * one worker, a COPY in text format (g3_pgload_copy_splittable) is split
 * at a row's end every 8 MiB while another worker is idle: each segment
 * is a COPY of its own on its own connection, its rows checked and its
 * error lines counted from the COPY's first row. */
g3_rc g3_pgload_copy_begin(g3_pgload *l, const char *copy_sql, long line,
			   g3_err *err);
g3_rc g3_pgload_copy_data(g3_pgload *l, const char *data, size_t len,
			  g3_err *err);
g3_rc g3_pgload_copy_end(g3_pgload *l, long long rows, g3_err *err);

/* Is this COPY ... FROM stdin in text format with default options (its
 * rows end at each newline not escaped by a backslash)? */
int g3_pgload_copy_splittable(const char *sql);

/* Offset just past the first unescaped newline at or after data[from]
 * (prev_backslash: the byte before data[0] was a backslash), or 0. */
size_t g3_pgload_row_cut(const char *data, size_t len, size_t from, int prev_backslash);

/* Runs what is pending: post-data jobs, foreign keys, ANALYZE. */
g3_rc g3_pgload_finish(g3_pgload *l, g3_err *err);

/* Per-table results, in first-load order; valid until _free. */
const g3_pgload_table *g3_pgload_tables(const g3_pgload *l, size_t *n);
const g3_pgload_stats *g3_pgload_get_stats(const g3_pgload *l);

/* Stops the workers (cancelling running statements) and closes their
 * connections; safe after a failure at any point, and more than once.
 * Statistics stay readable. */
void g3_pgload_stop(g3_pgload *l);
/* Stops and frees. */
void g3_pgload_free(g3_pgload *l);

/* The table a COPY statement loads: normalised "schema.table" (unquoted,
 * unquoted parts lowercased) in key, as written in qname. Exposed for
 * tests. Returns 0 if the text is not a COPY. */
int g3_pgload_copy_table(const char *sql, char *key, size_t keysize,
			 char *qname, size_t qnamesize);

#endif
