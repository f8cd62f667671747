/*
 * Running PostgreSQL's pg_dump as a child process for the schema sections
 * of a snapshot (pre-data, post-data), inside an exported snapshot.
 *
 * The child connects with the same parameters as gen3db (a conninfo string
 * built from the g3_pgconf, without the password); a password gen3db holds
 * reaches it only through its environment (PGPASSWORD), never argv.
 * Lines starting with a backslash (psql meta-commands such as pg_dump
 * 15.14+'s \restrict / \unrestrict) are removed from the output, so it is
 * plain SQL. The program is "pg_dump" on PATH, or $GEN3DB_PG_DUMP.
 *
 * Contract: out receives the SQL and is left positioned at its end. Any
 * thread may call (pipes are close-on-exec, so a child started by another
 * thread at the same time does not keep this one's pipe open).
 */
#ifndef G3_PGDUMP_H
#define G3_PGDUMP_H

#include <pthread.h>
#include <stdio.h>

#include "../base/err.h"
#include "pg.h"

/* section: "pre-data" or "post-data"; snapshot: pg_export_snapshot()'s id;
 * extra: more pg_dump arguments ("--table=PATTERN", ...), n_extra of them. */
g3_rc g3_pgdump_section(const g3_pgconf *conf, const char *dbname,
			const char *section, const char *snapshot,
			char *const *extra, size_t n_extra, FILE *out, g3_err *err);

/* One section dumped by a thread of its own, into a temporary file, so
 * that a database's two sections run beside each other and beside its
 * data; with section NULL, pg_dump --version instead (about 25 ms through
 * Debian's pg_wrapper, asked while the caller opens its databases; only
 * out and the results are used). The arguments must outlive the job. */
typedef struct g3_pgdump_job {
	const g3_pgconf *conf;
	const char *dbname, *section, *snapshot;
	char *const *extra;
	size_t n_extra;
	FILE *out;              /* the temporary file */
	pthread_t thread;
	int started;
	g3_rc rc;
	g3_err err;
} g3_pgdump_job;

/* Starts the job (j's fields before `out` set by the caller). */
g3_rc g3_pgdump_section_start(g3_pgdump_job *j, g3_err *err);

/* Waits for the job; on success *out is its SQL, rewound, of *size bytes
 * (the caller closes it). Idempotent; a job never started fails. */
g3_rc g3_pgdump_section_wait(g3_pgdump_job *j, FILE **out, long *size, g3_err *err);

/* Waits for a started job and drops its output (on another failure). */
void g3_pgdump_section_abandon(g3_pgdump_job *j);

/* The first line of a version job's output, "pg_dump (PostgreSQL) 15.20
 * (Debian ...)"; caller frees. */
void g3_pgdump_version_read(FILE *f, char **out);

#endif
