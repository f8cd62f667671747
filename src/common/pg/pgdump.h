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
 * Contract: call while no other thread forks; out receives the SQL and is
 * left positioned at its end.
 */
#ifndef G3_PGDUMP_H
#define G3_PGDUMP_H

#include <stdio.h>

#include "../base/err.h"
#include "pg.h"

/* section: "pre-data" or "post-data"; snapshot: pg_export_snapshot()'s id;
 * extra: more pg_dump arguments ("--table=PATTERN", ...), n_extra of them. */
g3_rc g3_pgdump_section(const g3_pgconf *conf, const char *dbname,
			const char *section, const char *snapshot,
			char *const *extra, size_t n_extra, FILE *out, g3_err *err);

/* "pg_dump (PostgreSQL) 15.20 (Debian ...)"; caller frees. */
g3_rc g3_pgdump_version(char **out, g3_err *err);

#endif
