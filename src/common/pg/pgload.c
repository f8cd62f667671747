/*
 * The parallel PostgreSQL loader: see pgload.h for the schedule.
 *
 * Locking: one mutex (mu) guards the schedule and every worker's slot and
 * queue. A worker sleeps on its own condition variable until the leader
 * gives it a job or a chunk; the leader sleeps on leader_cv until a worker
 * finishes a job or frees queue space. Only the leader assigns jobs and
 * updates table state; a worker writes only its job's result fields and
 * its own status.
 */
#include "pgload.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "pg.h"
#include "pgconstraint.h"
#include "sqltok.h"
#include "../base/strbuf.h"

#define CHUNK_BYTES (1024 * 1024)
/* A COPY from a plain dump is one stream to one connection however big
 * its table; past this many bytes, at a row's end, the rest goes to an
 * idle connection as a COPY of its own (a snapshot's data is already in
 * chunks of its --chunk-size, 8 MiB by default, the same size). */
#define COPY_SEGMENT_BYTES (8 * 1024 * 1024)
#define DEFAULT_QUEUE_BYTES (4 * 1024 * 1024)
#define NAME_MAX_LEN 200

enum job_kind { J_COPY, J_INDEX, J_FK, J_ANALYZE };
enum lock_mode { L_NONE, L_SHARE, L_EXCL };

struct chunk {
	struct chunk *next;
	size_t len;
	char data[];
};

struct job {
	enum job_kind kind;
	char *sql;
	char *origin;           /* "line", or "<member> line" */
	long line;
	long long row0;         /* COPY: rows of the same COPY sent before this
				 * segment (its error lines count from there) */
	int table;              /* index into tables[], -1 if none */
	int table2;             /* FK: the referenced table, -1 if unknown */
	enum lock_mode mode;
	long long weight;       /* bytes of its table, for largest first */
	int gin;                /* CREATE INDEX ... USING gin */
	int constraint;         /* ADD CONSTRAINT: primary key, unique, check, exclude */
	char *attach;           /* a key built as CREATE UNIQUE INDEX: the ALTER TABLE
				 * ... USING INDEX that follows it, a job of its own */
	int attaching;          /* this job is such an ALTER TABLE */
	int validating;         /* a foreign key added NOT VALID: its VALIDATE
				 * CONSTRAINT, which holds only ROW SHARE on
				 * the referenced table (weak2) */
	int weak2;
	long long mwm_kb;       /* > 0: maintenance_work_mem for the build */
	char *object;           /* for the trace: index or constraint name, else
				 * the table (NULL when not tracing) */
	char *tname;            /* for the trace: its table (NULL when not tracing) */
	/* results, written by the worker */
	long long rows;
	long long sent;         /* COPY: bytes sent */
	double seconds;
	long long expected;     /* COPY: rows sent, set with eof */
};

struct worker {
	struct g3_pgload *l;
	int id;
	pthread_t thread;
	int started;
	PGconn *conn;
	PGcancel *cancel;
	pthread_cond_t cv;
	struct job *job;        /* running, NULL when idle */
	struct job *finished;   /* done, not yet reaped by the leader */
	struct chunk *head, *tail;
	size_t queued;
	int eof;                /* COPY data complete */
	size_t applied;         /* session statements replayed */
};

struct g3_pgload {
	g3_pgload_opts o;
	char *origin;           /* of the statements being handed in */
	PGconn *leader;
	pthread_mutex_t mu;
	pthread_cond_t leader_cv;
	struct worker *w;
	int nw;
	int quit;
	int stopped;

	char **session;         /* SET statements, replayed on workers */
	size_t nsession;

	g3_pgload_table *tables;
	int *inflight;          /* per table: COPYs not finished */
	size_t ntables;

	struct job **pending;   /* post-data jobs not yet given out */
	size_t npending;
	struct job **done;      /* finished jobs (freed at the end) */
	size_t ndone;

	struct worker *cur;     /* worker receiving the current COPY */
	struct job *cur_job;
	struct chunk *open;     /* the chunk being filled */
	/* the current COPY, when it may be split into segments (text format
	 * from stdin, copy_splittable): its statement, the rows (newlines)
	 * of the segments before the current one and of the current one,
	 * the current segment's bytes, and whether the last byte
	 * handed in was a backslash (a newline after it is data) */
	char *split_sql;
	long split_line;
	long long split_before, seg_rows;
	size_t seg_bytes;
	int last_backslash;

	int data_started;
	double t_data0, t_data1;     /* g3_clock_now() at the first and last data */
	/* the trace's open run of leader statements: lead_n statements since
	 * lead_start, begun before the first COPY (lead_pre) or not */
	long lead_n;
	double lead_start;
	int lead_pre;
	long long mwm_budget_kb;        /* maintenance_work_mem shared by the builds */
	long long mwm_server_kb;        /* the server's own, -1 before it is read */
	g3_pgload_stats st;
	g3_err failure;         /* the first worker failure */
	int failed;
};

/* ---- statement text ------------------------------------------------- */

/* A possibly qualified name at *pp: key "a.b" (normalised), qname the
 * text as written. */
static int qualified_name(const char **pp, char *key, size_t keysize,
			  char *qname, size_t qnamesize)
{
	const char *p = *pp, *start;
	char t[NAME_MAX_LEN];
	size_t kl = 0;
	int k;

	p = g3_sql_skip_space(p);
	start = p;
	key[0] = '\0';
	for (;;) {
		k = g3_sql_tok(&p, t, sizeof(t));
		if (k != 'w' && k != 'q')
			return 0;
		kl += (size_t)snprintf(key + kl, kl < keysize ? keysize - kl : 0, "%s%s",
				       kl ? "." : "", t);
		if (*p != '.')
			break;
		p++;
	}
	if (qname)
		snprintf(qname, qnamesize, "%.*s", (int)(p - start), start);
	*pp = p;
	return kl < keysize;
}

int g3_pgload_copy_table(const char *sql, char *key, size_t keysize,
			 char *qname, size_t qnamesize)
{
	const char *p = sql;

	if (!g3_sql_word_is(&p, "copy"))
		return 0;
	return qualified_name(&p, key, keysize, qname, qnamesize);
}

enum stmt_kind {
	K_OTHER, K_SESSION, K_SETVAL, K_INDEX, K_CONSTRAINT, K_FK, K_OWNER,
	K_COMMENT_EXTENSION, K_ROLE, K_EXTENSION, K_DATABASE
};

struct stmt_class {
	enum stmt_kind kind;
	char t1[NAME_MAX_LEN], t2[NAME_MAX_LEN];
	char name[NAME_MAX_LEN];    /* the index's or constraint's, or "" */
	int db_create;              /* K_DATABASE: CREATE DATABASE */
	int db_setting;             /* K_DATABASE: ALTER DATABASE ... SET/RESET */
};

/* COPY ... FROM stdin in text format with its default options: the only
 * form whose rows end at every newline not escaped by a backslash (a CSV
 * field may hold newlines; binary has no lines). pg_dump writes exactly
 * "COPY name (columns) FROM stdin;". */
int g3_pgload_copy_splittable(const char *sql)
{
	static const char tail[] = "from stdin";
	const char *end = sql + strlen(sql);
	size_t n = sizeof(tail) - 1;

	while (end > sql && (isspace((unsigned char)end[-1]) || end[-1] == ';'))
		end--;
	if ((size_t)(end - sql) <= n || strncasecmp(end - n, tail, n) ||
	    !isspace((unsigned char)end[-n - 1]))
		return 0;
	/* COPY BINARY name ... (the old syntax) */
	while (isspace((unsigned char)*sql))
		sql++;
	if (strncasecmp(sql, "copy", 4))
		return 0;
	sql += 4;
	while (isspace((unsigned char)*sql))
		sql++;
	return strncasecmp(sql, "binary", 6) || !isspace((unsigned char)sql[6]);
}

/* The end of the first row that ends at or after data[from]: the offset
 * just past its newline, or 0 when data holds none. A newline right after
 * a backslash is data (COPY text format's escape), so it is passed over,
 * even where the backslash was itself escaped: a row ending in an escaped
 * backslash is only cut at the next row. prev_backslash: the byte before
 * data[0] was a backslash. */
size_t g3_pgload_row_cut(const char *data, size_t len, size_t from, int prev_backslash)
{
	const char *p = data + from, *end = data + len;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		int escaped = p > data ? p[-1] == '\\' : prev_backslash;

		p++;
		if (!escaped)
			return (size_t)(p - data);
	}
	return 0;
}

/* After GRANT/REVOKE/SECURITY LABEL: "... ON DATABASE" */
static int on_database(const char *p)
{
	char t[NAME_MAX_LEN];
	int k;

	while ((k = g3_sql_tok(&p, t, sizeof(t))))
		if (k == 'w' && !strcmp(t, "on"))
			return g3_sql_word_is(&p, "database");
	return 0;
}

/* SET / RESET [SESSION | LOCAL] ...: session state, or the role. */
static void classify_set(const char *p, const char *t, struct stmt_class *c)
{
	c->kind = strcmp(t, "set") ? K_OTHER : K_SESSION;
	if (!g3_sql_word_is(&p, "session"))
		g3_sql_word_is(&p, "local");
	if (g3_sql_word_is(&p, "role") || g3_sql_word_is(&p, "authorization") ||
	    g3_sql_word_is(&p, "session_authorization"))
		c->kind = K_ROLE;
}

/* SELECT [pg_catalog.]set_config(...) or setval(...). */
static void classify_select(const char *p, struct stmt_class *c)
{
	if (g3_sql_word_is(&p, "pg_catalog") && *p == '.')
		p++;
	if (g3_sql_word_is(&p, "set_config")) {
		c->kind = K_SESSION;
		p = g3_sql_skip_space(p);
		if (*p == '(')
			p = g3_sql_skip_space(p + 1);
		if (!strncasecmp(p, "'role'", 6) ||
		    !strncasecmp(p, "'session_authorization'", 23))
			c->kind = K_ROLE;
	} else if (g3_sql_word_is(&p, "setval")) {
		c->kind = K_SETVAL;
	}
}

/* CREATE DATABASE, CREATE EXTENSION, CREATE [UNIQUE] INDEX. */
static void classify_create(const char *p, struct stmt_class *c)
{
	char t[NAME_MAX_LEN];
	int k;

	if (g3_sql_word_is(&p, "database")) {
		c->kind = K_DATABASE;
		c->db_create = 1;
		return;
	}
	if (g3_sql_word_is(&p, "extension")) {
		const char *q = p;

		if (g3_sql_word_is(&q, "if") && g3_sql_word_is(&q, "not") && g3_sql_word_is(&q, "exists"))
			p = q;
		k = g3_sql_tok(&p, c->t1, sizeof(c->t1));
		if (k == 'w' || k == 'q')
			c->kind = K_EXTENSION;
		return;
	}
	g3_sql_word_is(&p, "unique");
	if (!g3_sql_word_is(&p, "index"))
		return;
	/* the name is the last word before ON, if it is not a keyword */
	while ((k = g3_sql_tok(&p, t, sizeof(t))) && !(k == 'w' && !strcmp(t, "on")))
		if ((k == 'w' || k == 'q') &&
		    (k == 'q' || (strcmp(t, "concurrently") && strcmp(t, "exists") &&
				  strcmp(t, "if") && strcmp(t, "not"))))
			snprintf(c->name, sizeof(c->name), "%s", t);
	if (!k)
		return;
	g3_sql_word_is(&p, "only");
	if (qualified_name(&p, c->t1, sizeof(c->t1), NULL, 0))
		c->kind = K_INDEX;
}

/* ALTER TABLE [ONLY] [IF EXISTS] name ADD [CONSTRAINT name] ...: a foreign
 * key or another constraint. Returns 1 when classified. */
static int classify_alter_table(const char *p, struct stmt_class *c)
{
	char t[NAME_MAX_LEN];
	int k;

	g3_sql_word_is(&p, "only");
	if (g3_sql_word_is(&p, "if"))
		g3_sql_word_is(&p, "exists");
	if (!qualified_name(&p, c->t1, sizeof(c->t1), NULL, 0) || !g3_sql_word_is(&p, "add"))
		return 0;
	if (g3_sql_word_is(&p, "constraint"))
		g3_sql_tok(&p, c->name, sizeof(c->name));
	k = g3_sql_tok(&p, t, sizeof(t));
	if (k == 'w' && !strcmp(t, "foreign")) {
		while ((k = g3_sql_tok(&p, t, sizeof(t))) && !(k == 'w' && !strcmp(t, "references")))
			;
		if (k && qualified_name(&p, c->t2, sizeof(c->t2), NULL, 0))
			c->kind = K_FK;
		return 1;
	}
	if (k == 'w' && (!strcmp(t, "primary") || !strcmp(t, "unique") ||
			 !strcmp(t, "check") || !strcmp(t, "exclude"))) {
		c->kind = K_CONSTRAINT;
		return 1;
	}
	return 0;
}

/* ALTER DATABASE, ALTER TABLE ... ADD constraint, ALTER ... OWNER TO. */
static void classify_alter(const char *p, struct stmt_class *c)
{
	const char *q = p;
	char t[NAME_MAX_LEN];
	int k;

	if (g3_sql_word_is(&p, "database")) {
		c->kind = K_DATABASE;
		while ((k = g3_sql_tok(&p, t, sizeof(t))))
			if (k == 'w' && (!strcmp(t, "set") || !strcmp(t, "reset")))
				c->db_setting = 1;
		return;
	}
	if (g3_sql_word_is(&p, "table") && classify_alter_table(p, c))
		return;
	/* ALTER <anything> ... OWNER TO role */
	p = q;
	while ((k = g3_sql_tok(&p, t, sizeof(t)))) {
		if (k == 'w' && !strcmp(t, "owner")) {
			if (g3_sql_word_is(&p, "to"))
				c->kind = K_OWNER;
			return;
		}
	}
}

static void classify(const char *sql, struct stmt_class *c)
{
	const char *p = sql;
	char t[NAME_MAX_LEN];

	memset(c, 0, sizeof(*c));
	c->kind = K_OTHER;
	if (g3_sql_tok(&p, t, sizeof(t)) != 'w')
		return;
	if (!strcmp(t, "set") || !strcmp(t, "reset")) {
		classify_set(p, t, c);
	} else if (!strcmp(t, "discard")) {
		if (g3_sql_word_is(&p, "all"))
			c->kind = K_ROLE;
	} else if (!strcmp(t, "select")) {
		classify_select(p, c);
	} else if (!strcmp(t, "comment")) {
		if (g3_sql_word_is(&p, "on")) {
			if (g3_sql_word_is(&p, "extension"))
				c->kind = K_COMMENT_EXTENSION;
			else if (g3_sql_word_is(&p, "database"))
				c->kind = K_DATABASE;
		}
	} else if (!strcmp(t, "grant") || !strcmp(t, "revoke") || !strcmp(t, "security")) {
		if (on_database(p))
			c->kind = K_DATABASE;
	} else if (!strcmp(t, "create")) {
		classify_create(p, c);
	} else if (!strcmp(t, "alter")) {
		classify_alter(p, c);
	}
}

/* The statement's start on one line, for messages. */
static void stmt_excerpt(const char *sql, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *p = sql; *p && n + 4 < size && n < 60; p++) {
		char c = isspace((unsigned char)*p) ? ' ' : *p;

		if (c == ' ' && n && buf[n - 1] == ' ')
			continue;
		buf[n++] = c;
	}
	if (n >= 60 && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static void result_error(PGconn *conn, PGresult *res, char *buf, size_t size)
{
	if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
		g3_pg_result_message(res, buf, size);
	else
		g3_pg_conn_message(conn, buf, size);
}

static g3_rc stmt_error(const char *origin, const char *sql, long line,
			PGconn *conn, PGresult *res, g3_err *err)
{
	char ex[80], msg[768];

	stmt_excerpt(sql, ex, sizeof(ex));
	result_error(conn, res, msg, sizeof(msg));
	if (line > 0)
		return g3_err_set(err, G3_FAIL, "%s %ld: could not run \"%s\": %s",
				  origin, line, ex, msg);
	return g3_err_set(err, G3_FAIL, "could not run \"%s\": %s", ex, msg);
}

/* ---- tables --------------------------------------------------------- */

static int table_find(g3_pgload *l, const char *key)
{
	for (size_t i = 0; i < l->ntables; i++)
		if (!strcmp(l->tables[i].name, key))
			return (int)i;
	return -1;
}

static int table_get(g3_pgload *l, const char *key, const char *qname)
{
	int i = table_find(l, key);
	g3_pgload_table *t;

	if (i >= 0)
		return i;
	l->tables = g3_xrealloc(l->tables, (l->ntables + 1) * sizeof(*l->tables));
	l->inflight = g3_xrealloc(l->inflight, (l->ntables + 1) * sizeof(int));
	t = &l->tables[l->ntables];
	memset(t, 0, sizeof(*t));
	t->name = g3_xstrdup(key);
	t->qname = g3_xstrdup(qname ? qname : key);
	l->inflight[l->ntables] = 0;
	return (int)l->ntables++;
}

/* ---- workers -------------------------------------------------------- */

static g3_rc apply_session(struct worker *w, g3_err *err)
{
	g3_pgload *l = w->l;

	for (;;) {
		char *sql = NULL;
		PGresult *res;
		g3_rc rc = G3_OK;

		pthread_mutex_lock(&l->mu);
		if (w->applied < l->nsession)
			sql = g3_xstrdup(l->session[w->applied++]);
		pthread_mutex_unlock(&l->mu);
		if (!sql)
			return G3_OK;
		res = PQexec(w->conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK)
			rc = stmt_error("session setting", sql, 0, w->conn, res, err);
		PQclear(res);
		free(sql);
		if (rc)
			return rc;
	}
}

/* "line 1234" from the error context of a failed COPY, or 0. */
static long copy_error_line(PGresult *res)
{
	const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	const char *p = ctx ? strstr(ctx, ", line ") : NULL;

	return p ? strtol(p + 7, NULL, 10) : 0;
}

static g3_rc run_copy(struct worker *w, struct job *j, g3_err *err)
{
	g3_pgload *l = w->l;
	const g3_pgload_table *t;
	PGresult *res = NULL;
	char msg[768];
	int put_failed = 0;
	g3_rc rc = G3_OK;
	double t0 = g3_clock_now();
	char name[NAME_MAX_LEN];

	pthread_mutex_lock(&l->mu);
	t = &l->tables[j->table];
	snprintf(name, sizeof(name), "%s", t->name);
	pthread_mutex_unlock(&l->mu);

	res = PQexec(w->conn, j->sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		rc = stmt_error(j->origin, j->sql, j->line, w->conn, res, err);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	res = NULL;
	for (;;) {
		struct chunk *c;

		pthread_mutex_lock(&l->mu);
		while (!w->head && !w->eof && !l->quit)
			pthread_cond_wait(&w->cv, &l->mu);
		if (l->quit) {
			pthread_mutex_unlock(&l->mu);
			PQputCopyEnd(w->conn, "restore cancelled");
			PQclear(PQgetResult(w->conn));
			return g3_err_set(err, G3_FAIL, "cancelled");
		}
		c = w->head;
		if (c) {
			w->head = c->next;
			if (!w->head)
				w->tail = NULL;
			w->queued -= c->len;
			pthread_cond_broadcast(&l->leader_cv);
		}
		pthread_mutex_unlock(&l->mu);
		if (!c)
			break;   /* eof */
		if (PQputCopyData(w->conn, c->data, (int)c->len) != 1) {
			/* the connection failed: the result below says why; the
			 * leader stops when this job reports the failure */
			put_failed = 1;
			free(c);
			break;
		}
		j->sent += (long long)c->len;
		free(c);
	}
	if (!put_failed)
		PQputCopyEnd(w->conn, NULL);
	res = PQgetResult(w->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		long line = copy_error_line(res);

		if (line > 0)
			line += (long)j->row0;   /* a later segment of a split COPY */

		result_error(w->conn, res, msg, sizeof(msg));
		if (line > 0 && j->line > 0)
			rc = g3_err_set(err, G3_FAIL,
					"could not load table \"%s\": line %ld: %s (%s %ld)",
					name, line, msg, j->origin, j->line + line);
		else if (line > 0 && strcmp(j->origin, "line"))
			rc = g3_err_set(err, G3_FAIL,
					"could not load table \"%s\": line %ld of \"%s\": %s",
					name, line, j->origin, msg);
		else if (line > 0)
			rc = g3_err_set(err, G3_FAIL, "could not load table \"%s\": line %ld: %s",
					name, line, msg);
		else
			rc = g3_err_set(err, G3_FAIL, "could not load table \"%s\": %s", name, msg);
	} else {
		j->rows = strtoll(PQcmdTuples(res), NULL, 10);
		if (j->rows != j->expected)
			rc = g3_err_set(err, G3_FAIL,
					"could not load table \"%s\": the server stored %lld %s "
					"but %lld %s of data %s sent", name, j->rows,
					g3_plural(j->rows, "row", "rows"), j->expected,
					g3_plural(j->expected, "line", "lines"),
					g3_plural(j->expected, "was", "were"));
	}
	/* a failed put may leave more results */
	while (res) {
		PQclear(res);
		res = PQgetResult(w->conn);
	}
	j->seconds = g3_clock_now() - t0;
	return rc;
}

/* A GIN build collects its entries in maintenance_work_mem before each
 * flush; on the 2-core test machine (2 MiB L2 per core) node_file's GIN
 * indexes built 15-25 % faster with 16MB than with the default 64MB
 * (1GB was slower still), so GIN jobs get 16MB for their transaction. */
#define GIN_WORK_MEM "SET LOCAL maintenance_work_mem = '16MB'"

/* Runs a command; G3_FAIL if it failed (the caller reports). */
static g3_rc exec_cmd(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	g3_rc rc = PQresultStatus(res) == PGRES_COMMAND_OK ? G3_OK : G3_FAIL;

	PQclear(res);
	return rc;
}

static g3_rc run_sql(struct worker *w, struct job *j, g3_err *err)
{
	double t0 = g3_clock_now();
	char set[96];
	int txn;
	PGresult *res = NULL;
	g3_rc rc = G3_OK;

	set[0] = '\0';
	if (j->gin)
		snprintf(set, sizeof(set), "%s", GIN_WORK_MEM);
	else if (j->mwm_kb > 0)
		snprintf(set, sizeof(set), "SET LOCAL maintenance_work_mem = '%lldkB'", j->mwm_kb);
	txn = set[0] && !exec_cmd(w->conn, "BEGIN");
	if (txn && exec_cmd(w->conn, set)) {
		exec_cmd(w->conn, "ROLLBACK");
		txn = 0;
	}
	res = PQexec(w->conn, j->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = stmt_error(j->origin, j->sql, j->line, w->conn, res, err);
	PQclear(res);
	if (txn && exec_cmd(w->conn, rc ? "ROLLBACK" : "COMMIT") && !rc)
		rc = g3_err_set(err, G3_FAIL, "%s %ld: could not commit the index build",
				j->origin, j->line);
	j->seconds = g3_clock_now() - t0;
	return rc;
}

static const char *job_name(const struct job *j)
{
	switch (j->kind) {
	case J_COPY: return "copy";
	case J_INDEX: return j->attaching ? "attach" : j->constraint ? "constraint" : "index";
	case J_FK: return j->validating ? "validate" : "fk";
	case J_ANALYZE: return "analyze";
	}
	return "job";
}

/* The worker's record of a job it ran (its own fields, and the leader's
 * that do not change once the job was given out). */
static void trace_job(struct worker *w, const struct job *j, double start, g3_rc rc,
		      const g3_err *err)
{
	g3_trace_rec r;

	memset(&r, 0, sizeof(r));
	r.conn = w->id + 1;
	r.job = job_name(j);
	r.database = w->l->o.trace_database;
	r.object = j->object;
	r.table = j->tname;
	r.start = start;
	r.end = g3_trace_now(w->l->o.trace);
	r.rows = j->kind == J_COPY && !rc ? j->rows : -1;
	r.bytes = j->kind == J_COPY ? j->sent : -1;
	r.ok = !rc;
	r.error = rc ? err->msg : NULL;
	g3_trace_record(w->l->o.trace, &r);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	g3_pgload *l = w->l;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct job *j;
		g3_err err;
		double start;
		g3_rc rc;

		while (!w->job && !l->quit)
			pthread_cond_wait(&w->cv, &l->mu);
		if (l->quit)
			break;
		j = w->job;
		pthread_mutex_unlock(&l->mu);

		start = g3_trace_now(l->o.trace);
		g3_err_init(&err);
		rc = apply_session(w, &err);
		if (!rc)
			rc = j->kind == J_COPY ? run_copy(w, j, &err) : run_sql(w, j, &err);
		if (l->o.trace)
			trace_job(w, j, start, rc, &err);

		pthread_mutex_lock(&l->mu);
		if (rc) {
			if (!l->failed && !l->quit) {
				l->failed = 1;
				l->failure = err;
			}
		}
		w->finished = j;
		w->job = NULL;
		pthread_cond_broadcast(&l->leader_cv);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- the leader's schedule ------------------------------------------ */

static void job_free(struct job *j)
{
	if (!j)
		return;
	G3_FREE_ALL(j->sql, j->attach, j->origin, j->object, j->tname, j);
}

static void push_pending(g3_pgload *l, struct job *j)
{
	l->pending = g3_xrealloc(l->pending, (l->npending + 1) * sizeof(*l->pending));
	l->pending[l->npending++] = j;
}

/* The second half of a split job, pending now (with mu held). A key built
 * as a unique index: its ALTER TABLE ... USING INDEX, which holds ACCESS
 * EXCLUSIVE for a moment, so it waits for the table's running builds
 * (job_conflicts) and then goes before other jobs (job_before): the
 * table's keys and ANALYZE wait for it. A foreign key added NOT VALID: its
 * VALIDATE CONSTRAINT, the scan, which shares the referenced table with
 * that table's builds, ANALYZE and other checks. */
static void queue_attach(g3_pgload *l, struct job *b)
{
	struct job *j = g3_xcalloc(1, sizeof(*j));

	j->kind = b->kind;
	j->sql = b->attach;
	b->attach = NULL;
	j->origin = g3_xstrdup(b->origin);
	j->line = b->line;
	j->table = b->table;
	j->table2 = -1;
	j->mode = L_EXCL;
	j->weight = b->weight;
	if (b->kind == J_FK) {
		j->validating = 1;
		j->table2 = b->table2;
		j->weak2 = 1;
	} else {
		j->constraint = 1;
		j->attaching = 1;
	}
	j->object = b->object ? g3_xstrdup(b->object) : NULL;
	j->tname = b->tname ? g3_xstrdup(b->tname) : NULL;
	push_pending(l, j);
}

/* Called with mu held when a worker has finished its job. */
static void reap(g3_pgload *l, struct job *j)
{
	if (j->attach && !l->failed)
		queue_attach(l, j);
	if (j->kind == J_COPY && j->table >= 0) {
		g3_pgload_table *t = &l->tables[j->table];

		l->inflight[j->table]--;
		t->rows += j->rows;
		t->seconds += j->seconds;
		t->copies++;
		l->st.rows += j->rows;
		l->t_data1 = g3_clock_now();
	}
	l->done = g3_xrealloc(l->done, (l->ndone + 1) * sizeof(*l->done));
	l->done[l->ndone++] = j;
}

static int job_conflicts(const g3_pgload *l, const struct job *j,
			 struct job *const *running, int nrunning)
{
	for (int i = 0; i < nrunning; i++) {
		const struct job *r = running[i];
		/* each job's two tables with its lock on each: a validation's
		 * ROW SHARE on the referenced table (weak2) conflicts only
		 * with an exclusive lock there, and with a COPY still loading
		 * it */
		int jt[2] = { j->table, j->table2 }, rt[2] = { r->table, r->table2 };
		int jw[2] = { 0, j->weak2 }, rw[2] = { 0, r->weak2 };

		for (int a = 0; a < 2; a++) {
			for (int b = 0; b < 2; b++) {
				if (jt[a] < 0 || jt[a] != rt[b])
					continue;
				if (r->kind == J_COPY || j->kind == J_COPY)
					return 1;
				if (jw[a] && rw[b])
					continue;
				if (jw[a] ? r->mode == L_EXCL : rw[b] ? j->mode == L_EXCL :
				    (j->mode == L_EXCL || r->mode == L_EXCL))
					return 1;
			}
		}
	}
	(void)l;
	return 0;
}

/* Is an index job pending or running on table t (or on any table, t < 0)? */
static int index_job_on(const g3_pgload *l, int t, struct job *const *running,
			int nrunning)
{
	for (int i = 0; i < nrunning; i++)
		if (running[i]->kind == J_INDEX && (t < 0 || running[i]->table == t))
			return 1;
	for (size_t i = 0; i < l->npending; i++)
		if (l->pending[i]->kind == J_INDEX && (t < 0 || l->pending[i]->table == t))
			return 1;
	return 0;
}

/* Is a foreign key to be added NOT VALID (then validated) pending on
 * table t, as either of its tables? */
static int fk_add_pending(const g3_pgload *l, int t)
{
	for (size_t i = 0; i < l->npending; i++) {
		const struct job *p = l->pending[i];

		if (p->kind == J_FK && p->attach && (p->table == t || p->table2 == t))
			return 1;
	}
	return 0;
}

/* Readiness per table, so that the two connections stay busy: a table's
 * ANALYZE runs once its own data and indexes are in (ANALYZE reads
 * expression indexes' values), and a foreign key once both its tables'
 * data and indexes are (the referenced key's unique index must exist),
 * while index builds of other tables still run. Measured on the 200MB
 * dataset: sheepdog's post-data went from one GIN build at a time plus a
 * serial tail of keys and ANALYZEs to both connections busy to the end. */
static int job_ready(const g3_pgload *l, const struct job *j,
		     struct job *const *running, int nrunning)
{
	if (j->table >= 0 && l->inflight[j->table])
		return 0;
	if (j->kind == J_FK || j->kind == J_ANALYZE) {
		if (j->table < 0 || index_job_on(l, j->table, running, nrunning))
			return 0;
		/* a table's ANALYZE lets the foreign keys on or to it be added
		 * first (a moment each): their checks then run beside it, not
		 * after it */
		if (j->kind == J_ANALYZE && fk_add_pending(l, j->table))
			return 0;
		/* a validation's add already waited for the referenced table's
		 * builds (its key): it need not wait for the rest */
		if (j->validating)
			return !l->inflight[j->table2] && !job_conflicts(l, j, running, nrunning);
		if (j->kind == J_FK && (j->table2 < 0 ? index_job_on(l, -1, running, nrunning) :
					(l->inflight[j->table2] ||
					 index_job_on(l, j->table2, running, nrunning))))
			return 0;
	}
	return !job_conflicts(l, j, running, nrunning);
}

/* A build's estimated cost: its table's bytes, a GIN build's counted
 * GIN_COST times (node_file's GIN builds took 2.6 and 3.7 s of its 5.6 s
 * post-data at 200MB, its btree builds under 1 s each). */
#define GIN_COST 4
static long long job_cost(const struct job *j)
{
	return j->gin ? j->weight * GIN_COST : j->weight;
}

/* Which ready job goes first: a key's USING INDEX step (a moment's work
 * that the table's keys and ANALYZE wait for), then index builds (they
 * gate the keys and ANALYZEs), longest first so that no long build starts
 * last while the other connection idles, then the biggest table. */
static int job_before(const struct job *a, const struct job *b)
{
	int add_a = a->kind == J_FK && a->attach, add_b = b->kind == J_FK && b->attach;

	if (a->attaching != b->attaching)
		return a->attaching;
	/* a foreign key added NOT VALID is as short: before a long ANALYZE
	 * of its table locks it out */
	if (add_a != add_b)
		return add_a;
	if ((a->kind == J_INDEX) != (b->kind == J_INDEX))
		return a->kind == J_INDEX;
	return job_cost(a) > job_cost(b);
}

/* Waits for a worker's news (with mu held); wakes up now and then to see
 * whether the user interrupted the restore. */
static g3_rc leader_wait(g3_pgload *l, g3_err *err)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += 200 * 1000 * 1000;
	if (t.tv_nsec >= 1000 * 1000 * 1000) {
		t.tv_sec++;
		t.tv_nsec -= 1000 * 1000 * 1000;
	}
	pthread_cond_timedwait(&l->leader_cv, &l->mu, &t);
	if (l->o.interrupted && *l->o.interrupted)
		return g3_err_set(err, G3_FAIL, "interrupted");
	return G3_OK;
}

/* Records finished jobs and the first failure; with mu held. */
static g3_rc collect(g3_pgload *l, g3_err *err)
{
	for (int i = 0; i < l->nw; i++) {
		struct worker *w = &l->w[i];

		if (w->finished) {
			reap(l, w->finished);
			w->finished = NULL;
		}
	}
	if (l->failed) {
		*err = l->failure;
		return err->rc ? err->rc : G3_FAIL;
	}
	return G3_OK;
}

/* Gives pending jobs to idle workers; with wait_all, returns only when
 * nothing is pending or running. With mu held. */
static g3_rc pump(g3_pgload *l, int wait_all, g3_err *err)
{
	g3_rc rc = G3_OK;

	for (;;) {
		struct job *running[64];
		int nrunning = 0, busy = 0;

		if ((rc = collect(l, err)))
			break;
		for (int i = 0; i < l->nw && nrunning < 64; i++)
			if (l->w[i].job) {
				running[nrunning++] = l->w[i].job;
				busy++;
			}
		for (int i = 0; i < l->nw; i++) {
			struct worker *w = &l->w[i];
			long best = -1;

			if (w->job || w == l->cur)
				continue;
			for (size_t k = 0; k < l->npending; k++) {
				struct job *j = l->pending[k];

				if (!job_ready(l, j, running, nrunning))
					continue;
				if (best < 0 || job_before(j, l->pending[best]))
					best = (long)k;
			}
			if (best < 0)
				break;
			w->job = l->pending[best];
			memmove(&l->pending[best], &l->pending[best + 1],
				(l->npending - (size_t)best - 1) * sizeof(*l->pending));
			l->npending--;
			running[nrunning++] = w->job;
			busy++;
			pthread_cond_signal(&w->cv);
		}
		if (!wait_all || (!busy && !l->npending))
			break;
		if (!busy && l->npending) {
			rc = g3_err_set(err, G3_FAIL, "internal error: post-data jobs cannot be scheduled");
			break;
		}
		if ((rc = leader_wait(l, err)))
			break;
	}
	return rc;
}

/* ---- public --------------------------------------------------------- */

g3_rc g3_pgload_start(const g3_pgload_opts *o, PGconn *leader,
		      g3_pgload **out, g3_err *err)
{
	g3_pgload *l = g3_xcalloc(1, sizeof(*l));
	g3_rc rc = G3_OK;

	*out = l;
	l->o = *o;
	if (l->o.jobs < 1)
		l->o.jobs = 1;
	if (!l->o.queue_bytes)
		l->o.queue_bytes = DEFAULT_QUEUE_BYTES;
	l->origin = g3_xstrdup(l->o.origin ? l->o.origin : "line");
	l->mwm_budget_kb = l->o.maintenance_work_mem_kb > 0 ? l->o.maintenance_work_mem_kb : 0;
	l->mwm_server_kb = -1;
	l->leader = leader;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->leader_cv, NULL);
	l->w = g3_xcalloc((size_t)l->o.jobs, sizeof(*l->w));
	for (int i = 0; i < l->o.jobs; i++) {
		struct worker *w = &l->w[i];

		w->l = l;
		w->id = i;
		pthread_cond_init(&w->cv, NULL);
		l->nw++;
		if ((rc = l->o.connect(l->o.connect_ctx, &w->conn, err)))
			return rc;
		w->cancel = PQgetCancel(w->conn);
		if (pthread_create(&w->thread, NULL, worker_main, w))
			return g3_err_set(err, G3_FAIL, "could not start a worker thread");
		w->started = 1;
	}
	return G3_OK;
}

/* Writes the open run of leader statements to the trace (leader thread). */
static void lead_flush(g3_pgload *l, g3_rc rc, const g3_err *err)
{
	g3_trace_rec r;

	if (!l->lead_n)
		return;
	memset(&r, 0, sizeof(r));
	r.conn = 0;
	r.job = l->lead_pre ? "pre-data" : "statements";
	r.database = l->o.trace_database;
	r.start = l->lead_start;
	r.end = g3_trace_now(l->o.trace);
	r.rows = r.bytes = -1;
	r.statements = l->lead_n;
	r.ok = !rc;
	r.error = rc ? err->msg : NULL;
	g3_trace_record(l->o.trace, &r);
	l->lead_n = 0;
}

/* What leader_exec lets pass with a note instead of failing the load. */
enum {
	TOLERATE_PRIVILEGE = 1,    /* COMMENT ON EXTENSION by a non-owner */
	TOLERATE_SETTING = 2,      /* SET of a parameter the server does not know */
};

/* A statement whose failure the load tolerates: logged at level with why,
 * counted, and the caller told through *skipped (when not NULL). */
static void skip_tolerated(const g3_pgload *l, const char *sql, long line, g3_log_level level,
			   const char *why, long *count, int *skipped)
{
	char ex[80];

	stmt_excerpt(sql, ex, sizeof(ex));
	g3_log(level, "%s %ld: skipped \"%s\": %s", l->origin, line, ex, why);
	(*count)++;
	if (skipped)
		*skipped = 1;
}

/* Runs sql on the leader; *skipped (when not NULL) tells that a tolerated
 * error skipped it. */
static g3_rc leader_exec(g3_pgload *l, const char *sql, long line,
			 int tolerate, int *skipped, g3_err *err)
{
	PGresult *res;
	g3_rc rc = G3_OK;

	if (skipped)
		*skipped = 0;

	if (l->o.trace && !l->lead_n++) {
		l->lead_start = g3_trace_now(l->o.trace);
		l->lead_pre = !l->data_started;
	}
	res = PQexec(l->leader, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if ((tolerate & TOLERATE_PRIVILEGE) && state && !strcmp(state, "42501")) {
			skip_tolerated(l, sql, line, G3_LOG_DEBUG,
				       "only the extension's owner may run it",
				       &l->st.skipped_comments, skipped);
		} else if ((tolerate & TOLERATE_SETTING) && state && !strcmp(state, "42704")) {
			/* a newer pg_dump's session setting (transaction_timeout
			 * of pg_dump 17 on an older server): unknown to the server,
			 * it cannot change how the data is read */
			skip_tolerated(l, sql, line, G3_LOG_WARN,
				       "the server does not know this setting",
				       &l->st.skipped_settings, skipped);
		} else {
			rc = stmt_error(l->origin, sql, line, l->leader, res, err);
		}
	}
	PQclear(res);
	l->st.statements++;
	if (rc)
		lead_flush(l, rc, err);
	return rc;
}

/* What the leader decides about a build before queueing it (without mu:
 * it may ask the server). */
struct build_plan {
	g3_pgconstraint_split split;
	int use_split;          /* built as CREATE UNIQUE INDEX, then USING INDEX */
	long long mwm_kb;
};

/* One value from the leader (NULL on failure: the caller keeps its
 * default); never inside the leader's transaction, where a failure would
 * abort it. */
static char *leader_value(g3_pgload *l, const char *sql, const char *param)
{
	PGresult *res;
	char *v = NULL;

	if (PQtransactionStatus(l->leader) != PQTRANS_IDLE)
		return NULL;
	res = PQexecParams(l->leader, sql, param ? 1 : 0, NULL, param ? &param : NULL,
			   NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		v = g3_xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* maintenance_work_mem for a build on a table of `bytes` COPY bytes: the
 * sort's tuples fit in about the table's size and a quarter; at most the
 * budget's share per connection, and 0 (the server's own) when that is
 * already enough. */
static long long build_mwm_kb(g3_pgload *l, long long bytes)
{
	long long want = bytes / 1024 + bytes / 4096 + 1024;
	long long share = l->mwm_budget_kb / l->o.jobs;

	if (share <= 0)
		return 0;   /* no budget: the server's own, not even asked */
	if (l->mwm_server_kb < 0) {
		char *v = leader_value(l, "SELECT setting FROM pg_catalog.pg_settings "
				       "WHERE name = 'maintenance_work_mem'", NULL);

		l->mwm_server_kb = v ? strtoll(v, NULL, 10) : 0;
		if (l->mwm_server_kb <= 0)
			l->mwm_server_kb = 64 * 1024;   /* the server's default */
		free(v);
	}
	if (want > share)
		want = share;
	return want > l->mwm_server_kb ? want : 0;
}

/* A key is split (built beside the table's other builds, then attached),
 * and a foreign key (added NOT VALID, then validated beside the referenced
 * table's work), only on a table of at least this many COPY bytes: on a smaller one the
 * build is over in milliseconds and the extra job and catalog update cost
 * more than the overlap gains (shape b of the bench, 300 tables of
 * 170 KB: 10.8 s split against 8.7 s not). */
#define SPLIT_MIN_BYTES (1024 * 1024)

static void plan_build(g3_pgload *l, const struct stmt_class *c, const char *sql,
		       struct build_plan *b)
{
	int t = table_find(l, c->t1);
	long long bytes = t >= 0 ? l->tables[t].bytes : 0;

	memset(b, 0, sizeof(*b));
	if (bytes >= SPLIT_MIN_BYTES &&
	    (c->kind == K_CONSTRAINT ? g3_pgconstraint_split_sql(sql, &b->split) :
	     c->kind == K_FK && g3_pgconstraint_split_fk(sql, &b->split))) {
		/* USING INDEX, and NOT VALID foreign keys before PostgreSQL
		 * 18, are refused on a partitioned table: only a plain one
		 * ('r') takes the new path */
		const char *q = "SELECT c.relkind FROM pg_catalog.pg_class c "
				"WHERE c.oid = pg_catalog.to_regclass($1)";
		char *kind = leader_value(l, q, b->split.table);
		char *ref = b->split.ref ? leader_value(l, q, b->split.ref) : NULL;

		b->use_split = kind && !strcmp(kind, "r") &&
			       (!b->split.ref || (ref && !strcmp(ref, "r")));
		free(ref);
		if (!b->use_split)
			g3_pgconstraint_release(&b->split);
		free(kind);
	}
	if (c->kind != K_FK)
		b->mwm_kb = build_mwm_kb(l, bytes);
}

static g3_rc defer(g3_pgload *l, const struct stmt_class *c, const char *sql,
		   long line, struct build_plan *b)
{
	struct job *j = g3_xcalloc(1, sizeof(*j));

	if (b->use_split) {
		j->sql = b->split.index_sql;
		j->attach = b->split.attach_sql;
		b->split.index_sql = b->split.attach_sql = NULL;
		g3_pgconstraint_release(&b->split);
	} else {
		j->sql = g3_xstrdup(sql);
	}
	j->mwm_kb = b->mwm_kb;
	j->origin = g3_xstrdup(l->origin);
	j->line = line;
	j->table = table_get(l, c->t1, NULL);
	j->table2 = c->t2[0] ? table_get(l, c->t2, NULL) : -1;
	j->kind = c->kind == K_FK ? J_FK : J_INDEX;
	/* a split key's build shares the table; a foreign key's NOT VALID add
	 * still locks both tables out (for a moment) */
	j->mode = c->kind == K_INDEX || (b->use_split && c->kind == K_CONSTRAINT) ? L_SHARE :
		  L_EXCL;
	j->weight = l->tables[j->table].bytes;
	j->gin = c->kind == K_INDEX && strcasestr(sql, " using gin ") != NULL;
	j->constraint = c->kind == K_CONSTRAINT;
	if (l->o.trace) {
		j->tname = g3_xstrdup(l->tables[j->table].name);
		j->object = g3_xstrdup(c->name[0] ? c->name : c->t1);
	}
	if (c->kind == K_FK)
		l->st.fk_jobs++;
	else
		l->st.index_jobs++;
	push_pending(l, j);
	return G3_OK;
}

void g3_pgload_set_origin(g3_pgload *l, const char *origin)
{
	free(l->origin);
	l->origin = g3_xstrdup(origin);
}

g3_rc g3_pgload_statement(g3_pgload *l, const char *sql, long line, g3_err *err)
{
	struct stmt_class c;
	g3_rc rc = G3_OK;

	classify(sql, &c);
	switch (c.kind) {
	case K_SESSION: {
		int skipped;

		if ((rc = leader_exec(l, sql, line, TOLERATE_SETTING, &skipped, err)))
			return rc;
		if (skipped)
			return G3_OK;   /* not replayed on the workers */
		pthread_mutex_lock(&l->mu);
		l->session = g3_xrealloc(l->session, (l->nsession + 1) * sizeof(char *));
		l->session[l->nsession++] = g3_xstrdup(sql);
		pthread_mutex_unlock(&l->mu);
		return G3_OK;
	}
	case K_SETVAL:
		return leader_exec(l, sql, line, 0, NULL, err);
	case K_OWNER:
		l->st.skipped_owner++;
		return G3_OK;
	case K_DATABASE: {
		char ex[80];

		/* pg_dump --create: statements on the dump's own database, not
		 * the target (which the restore named and created) */
		l->st.skipped_database++;
		if (c.db_create)
			l->st.create_database = 1;
		if (c.db_setting) {
			stmt_excerpt(sql, ex, sizeof(ex));
			g3_warn("%s %ld: not applied: \"%s\" sets a parameter of the dump's own "
				"database, not of the target", l->origin, line, ex);
		}
		return G3_OK;
	}
	case K_INDEX:
	case K_CONSTRAINT:
	case K_FK: {
		struct build_plan b;

		plan_build(l, &c, sql, &b);
		pthread_mutex_lock(&l->mu);
		rc = collect(l, err);
		if (!rc)
			defer(l, &c, sql, line, &b);
		pthread_mutex_unlock(&l->mu);
		g3_pgconstraint_release(&b.split);
		return rc;
	}
	case K_ROLE: {
		char ex[80];

		/* the data is loaded as the service role; on a master's
		 * connection (SET ROLE) this would leave it */
		stmt_excerpt(sql, ex, sizeof(ex));
		rc = g3_err_set(err, G3_USAGE, "%s %ld: \"%s\" changes the role the data is "
				"loaded as", l->origin, line, ex);
		g3_err_hint(err, "gen3db restore loads everything as the service role; dump "
			    "without --use-set-session-authorization");
		return rc;
	}
	case K_EXTENSION:
		if (l->o.extension && (rc = l->o.extension(l->o.extension_ctx, c.t1, err))) {
			g3_err_prefix(err, "%s %ld", l->origin, line);
			return rc;
		}
		break;
	case K_COMMENT_EXTENSION:
	case K_OTHER:
		break;
	}
	if (l->data_started || l->npending) {
		/* a barrier: the statement may depend on anything before it */
		lead_flush(l, G3_OK, NULL);
		pthread_mutex_lock(&l->mu);
		rc = pump(l, 1, err);
		pthread_mutex_unlock(&l->mu);
		if (rc)
			return rc;
	}
	return leader_exec(l, sql, line, c.kind == K_COMMENT_EXTENSION ? TOLERATE_PRIVILEGE : 0,
			   NULL, err);
}

/* Gives the COPY of table t (rows row0 on) to the next idle worker. */
static g3_rc copy_start(g3_pgload *l, const char *copy_sql, long line, int t,
			long long row0, g3_err *err)
{
	struct worker *w = NULL;
	struct job *j;
	g3_rc rc = G3_OK;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		if ((rc = collect(l, err)))
			goto cleanup;
		for (int i = 0; i < l->nw && !w; i++)
			if (!l->w[i].job)
				w = &l->w[i];
		if (w)
			break;
		if ((rc = leader_wait(l, err)))
			goto cleanup;
	}
	j = g3_xcalloc(1, sizeof(*j));
	j->kind = J_COPY;
	j->sql = g3_xstrdup(copy_sql);
	j->origin = g3_xstrdup(l->origin);
	j->line = line;
	j->row0 = row0;
	j->table = t;
	j->table2 = -1;
	j->mode = L_EXCL;
	if (l->o.trace) {
		j->tname = g3_xstrdup(l->tables[t].name);
		j->object = g3_xstrdup(l->tables[t].name);
	}
	l->inflight[t]++;
	w->eof = 0;
	w->job = j;
	l->cur = w;
	l->cur_job = j;
	pthread_cond_signal(&w->cv);
cleanup:
	pthread_mutex_unlock(&l->mu);
	return rc;
}

g3_rc g3_pgload_copy_begin(g3_pgload *l, const char *copy_sql, long line,
			   g3_err *err)
{
	char key[NAME_MAX_LEN], qname[NAME_MAX_LEN];
	int t;

	if (!g3_pgload_copy_table(copy_sql, key, sizeof(key), qname, sizeof(qname)))
		return g3_err_set(err, G3_USAGE, "%s %ld: cannot tell the table of a COPY statement",
				  l->origin, line);
	lead_flush(l, G3_OK, NULL);
	pthread_mutex_lock(&l->mu);
	if (!l->data_started) {
		l->data_started = 1;
		l->t_data0 = g3_clock_now();
		l->t_data1 = l->t_data0;
	}
	t = table_get(l, key, qname);
	pthread_mutex_unlock(&l->mu);
	free(l->split_sql);
	l->split_sql = l->o.jobs > 1 && g3_pgload_copy_splittable(copy_sql) ?
		       g3_xstrdup(copy_sql) : NULL;
	l->split_line = line;
	l->split_before = l->seg_rows = 0;
	l->seg_bytes = 0;
	l->last_backslash = 0;
	return copy_start(l, copy_sql, line, t, 0, err);
}

/* Hands the open chunk to the current worker; waits for queue room. */
static g3_rc push_chunk(g3_pgload *l, g3_err *err)
{
	struct worker *w = l->cur;
	struct chunk *c = l->open;
	g3_rc rc = G3_OK;

	l->open = NULL;
	if (!c || !c->len) {
		free(c);
		return G3_OK;
	}
	pthread_mutex_lock(&l->mu);
	while (w->queued && w->queued + c->len > l->o.queue_bytes && !l->failed) {
		if ((rc = leader_wait(l, err))) {
			free(c);
			pthread_mutex_unlock(&l->mu);
			return rc;
		}
	}
	if (l->failed) {
		free(c);
		rc = collect(l, err);
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	c->next = NULL;
	if (w->tail)
		w->tail->next = c;
	else
		w->head = c;
	w->tail = c;
	w->queued += c->len;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&l->mu);
	return G3_OK;
}

/* The current COPY's data, into chunks for its worker. */
static g3_rc copy_append(g3_pgload *l, const char *data, size_t len, g3_err *err)
{
	g3_rc rc;

	while (len) {
		size_t n;

		if (!l->open) {
			l->open = g3_xmalloc(sizeof(struct chunk) + CHUNK_BYTES);
			l->open->len = 0;
		}
		n = CHUNK_BYTES - l->open->len;
		if (n > len)
			n = len;
		memcpy(l->open->data + l->open->len, data, n);
		l->open->len += n;
		data += n;
		len -= n;
		if (l->open->len == CHUNK_BYTES && (rc = push_chunk(l, err)))
			return rc;
	}
	return G3_OK;
}

/* Ends the current COPY's worker stream with `rows` rows expected. */
static g3_rc copy_finish(g3_pgload *l, long long rows, g3_err *err)
{
	g3_rc rc = push_chunk(l, err);

	pthread_mutex_lock(&l->mu);
	l->cur_job->expected = rows;
	l->cur->eof = 1;
	pthread_cond_signal(&l->cur->cv);
	l->cur = NULL;
	l->cur_job = NULL;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* With mu held: is a worker other than the current one idle? */
static int other_worker_idle(const g3_pgload *l)
{
	for (int i = 0; i < l->nw; i++)
		if (&l->w[i] != l->cur && !l->w[i].job)
			return 1;
	return 0;
}

/* A splittable COPY's data: once its segment holds COPY_SEGMENT_BYTES,
 * at the first row end of each piece handed in, the segment ends if
 * another connection is idle, and the rest is a new COPY there (its rows
 * counted from the segment's end, for the row checks and error lines). */
static g3_rc copy_split_data(g3_pgload *l, const char *data, size_t len, g3_err *err)
{
	g3_rc rc;

	while (len) {
		size_t from = COPY_SEGMENT_BYTES > l->seg_bytes ?
			      COPY_SEGMENT_BYTES - l->seg_bytes - 1 : 0;
		size_t cut = from < len ? g3_pgload_row_cut(data, len, from, l->last_backslash) : 0;
		size_t n = cut ? cut : len;
		int split, t;

		l->seg_rows += g3_count_newlines(data, n);
		l->seg_bytes += n;
		l->last_backslash = data[n - 1] == '\\';
		if ((rc = copy_append(l, data, n, err)))
			return rc;
		data += n;
		len -= n;
		if (!cut)
			break;
		pthread_mutex_lock(&l->mu);
		split = other_worker_idle(l);
		pthread_mutex_unlock(&l->mu);
		if (!split)
			continue;   /* looks again at the next piece's first row end */
		l->seg_bytes = 0;
		t = l->cur_job->table;
		if ((rc = copy_finish(l, l->seg_rows, err)))
			return rc;
		l->split_before += l->seg_rows;
		l->seg_rows = 0;
		if ((rc = copy_start(l, l->split_sql, l->split_line, t,
				     l->split_before, err)))
			return rc;
	}
	return G3_OK;
}

g3_rc g3_pgload_copy_data(g3_pgload *l, const char *data, size_t len, g3_err *err)
{
	l->tables[l->cur_job->table].bytes += (long long)len;
	l->st.bytes += (long long)len;
	if (l->split_sql && len)
		return copy_split_data(l, data, len, err);
	return copy_append(l, data, len, err);
}

/* rows: the whole COPY's; the last segment is checked for what the
 * segments before it did not hold. */
g3_rc g3_pgload_copy_end(g3_pgload *l, long long rows, g3_err *err)
{
	g3_rc rc = copy_finish(l, rows - l->split_before, err);

	free(l->split_sql);
	l->split_sql = NULL;
	l->split_before = 0;
	return rc;
}

g3_rc g3_pgload_finish(g3_pgload *l, g3_err *err)
{
	double t0;
	g3_rc rc;

	t0 = g3_clock_now();
	lead_flush(l, G3_OK, NULL);
	pthread_mutex_lock(&l->mu);
	rc = collect(l, err);
	if (!rc) {
		/* queued with the pending post-data jobs: each runs as soon as
		 * its table is ready (job_ready), not after all of them */
		for (size_t i = 0; i < l->ntables; i++) {
			struct job *j;
			g3_buf b = G3_BUF_INIT;

			/* a table whose last COPY still runs counts too: its
			 * ANALYZE waits for it (job_ready) */
			if (l->o.no_analyze || (!l->tables[i].copies && !l->inflight[i]))
				continue;
			j = g3_xcalloc(1, sizeof(*j));
			g3_buf_addf(&b, "ANALYZE %s", l->tables[i].qname);
			j->sql = g3_buf_detach(&b);
			j->origin = g3_xstrdup(l->origin);
			j->kind = J_ANALYZE;
			j->table = (int)i;
			j->table2 = -1;
			j->mode = L_SHARE;
			if (l->o.trace) {
				j->tname = g3_xstrdup(l->tables[i].name);
				j->object = g3_xstrdup(l->tables[i].name);
			}
			j->weight = l->tables[i].bytes;
			push_pending(l, j);
		}
		rc = pump(l, 1, err);
	}
	l->st.post_seconds += g3_clock_now() - t0;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

const g3_pgload_table *g3_pgload_tables(const g3_pgload *l, size_t *n)
{
	*n = l->ntables;
	return l->tables;
}

const g3_pgload_stats *g3_pgload_get_stats(const g3_pgload *l)
{
	g3_pgload_stats *st = (g3_pgload_stats *)&l->st;

	st->data_seconds = l->t_data1 - l->t_data0;
	return st;
}

void g3_pgload_stop(g3_pgload *l)
{
	if (!l || l->stopped)
		return;
	l->stopped = 1;
	lead_flush(l, G3_OK, NULL);
	pthread_mutex_lock(&l->mu);
	l->quit = 1;
	for (int i = 0; i < l->nw; i++) {
		struct worker *w = &l->w[i];
		char buf[256];

		if (w->job && w->cancel)
			PQcancel(w->cancel, buf, sizeof(buf));
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; i < l->nw; i++) {
		struct worker *w = &l->w[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		while (w->head) {
			struct chunk *c = w->head;

			w->head = c->next;
			free(c);
		}
		job_free(w->job);
		job_free(w->finished);
		w->job = w->finished = NULL;
		PQfreeCancel(w->cancel);
		w->cancel = NULL;
		PQfinish(w->conn);
		w->conn = NULL;
	}
}

void g3_pgload_free(g3_pgload *l)
{
	if (!l)
		return;
	g3_pgload_stop(l);
	for (int i = 0; i < l->nw; i++)
		pthread_cond_destroy(&l->w[i].cv);
	free(l->open);
	for (size_t i = 0; i < l->npending; i++)
		job_free(l->pending[i]);
	for (size_t i = 0; i < l->ndone; i++)
		job_free(l->done[i]);
	for (size_t i = 0; i < l->nsession; i++)
		free(l->session[i]);
	for (size_t i = 0; i < l->ntables; i++) {
		free(l->tables[i].name);
		free(l->tables[i].qname);
	}
	G3_FREE_ALL(l->session, l->origin, l->pending, l->done, l->tables, l->inflight, l->w,
		    l->split_sql);
	pthread_cond_destroy(&l->leader_cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
