/*
 * A job trace: one JSON line per finished job (a COPY, an index or
 * constraint build, a foreign key, an ANALYZE) or phase (pre-data
 * statements, provisioning, the side database's swap), with the
 * connection that ran it and its start and end in seconds since the
 * trace was opened (a monotonic clock), so idle connections show as gaps:
 *
 *   {"conn":1,"job":"copy","database":"fence_gen3","object":"public.user",
 *    "table":"public.user","start":0.012345,"end":0.345678,"rows":10,
 *    "bytes":1234,"ok":true}
 *
 * conn is 1..jobs for the loader's worker connections and 0 for the
 * leader (statements in file order) and the command's own phases. A failed
 * job has "ok":false and "error" (the message). Names are data, escaped
 * by json-c.
 *
 * Threads: g3_trace_record may be called from any thread; a record is
 * written whole, with one write under one mutex, so lines never
 * interleave and a crash leaves complete lines. Open and close belong to
 * one thread, after every writer has stopped.
 */
#ifndef G3_TRACE_H
#define G3_TRACE_H

#include "err.h"
#include "strbuf.h"

typedef struct g3_trace g3_trace;

typedef struct g3_trace_rec {
	int conn;               /* 1..jobs: a worker; 0: the leader, the command */
	const char *job;        /* "copy", "index", "constraint", "attach" (a key's
				 * ALTER TABLE ... USING INDEX after its build),
				 * "fk", "analyze",
				 * "pre-data", "statements", "prepare", "swap" */
	const char *database;   /* the target database, or NULL */
	const char *object;     /* the table, index or constraint, or NULL */
	const char *table;      /* the table the job is on, or NULL */
	double start, end;      /* g3_trace_now() */
	long long rows;         /* < 0: not known (left out) */
	long long bytes;        /* < 0: not known (left out) */
	long statements;        /* > 0: how many statements (leader spans) */
	int ok;
	const char *error;      /* when !ok, or NULL */
} g3_trace_rec;

/* Creates or truncates path (mode 0644). Refused (G3_USAGE): a symbolic
 * link, a directory or anything but a regular file, so a trace never
 * writes through a link into another file. */
g3_rc g3_trace_open(const char *path, g3_trace **out, g3_err *err);

/* Seconds since the trace was opened (0 for NULL). */
double g3_trace_now(const g3_trace *t);

/* Writes one record; nothing for a NULL trace. A write error is kept for
 * g3_trace_close and later records are dropped. */
void g3_trace_record(g3_trace *t, const g3_trace_rec *r);

/* One record as a JSON line (with its newline), appended to out. Pure:
 * exposed for tests. */
void g3_trace_format(const g3_trace_rec *r, g3_buf *out);

/* Closes the file; G3_FAIL naming the file if a write or the close
 * failed. NULL is fine. */
g3_rc g3_trace_close(g3_trace *t, g3_err *err);

#endif
