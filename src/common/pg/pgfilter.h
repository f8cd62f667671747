/*
 * Filtering a dump's statements by table (restore's --table,
 * --exclude-table, --exclude-table-data), so that the restored database
 * is what `pg_dump -t/-T/--exclude-table-data` of the source would hold.
 *
 * Each statement is told apart by the relation it concerns (plain pg_dump
 * output names every object schema-qualified):
 *   CREATE [UNLOGGED|FOREIGN] TABLE, CREATE [MATERIALIZED] VIEW, CREATE
 *   SEQUENCE x (a definition); ALTER TABLE/VIEW/SEQUENCE/... x, CREATE
 *   INDEX ... ON x, CREATE TRIGGER ... ON x, CREATE POLICY/RULE ... x,
 *   COMMENT ON TABLE/COLUMN/... x, GRANT/REVOKE ... ON x, setval('x');
 *   COPY x FROM stdin (data).
 * A statement on a table left out is dropped; one on no relation
 * (schemas, types, functions, extensions) always runs. A table whose data
 * is excluded keeps every statement but its COPY. As pg_dump does, a
 * sequence owned by a table (serial) goes with its table under --table,
 * and stays (without OWNED BY) when only its table is excluded; an
 * identity column's sequence and an index (ALTER INDEX, COMMENT ON INDEX)
 * always go with their table; a foreign
 * key that references a table left out is dropped with a warning (pg_dump
 * would write it, and it could not be restored).
 *
 * Under --table, an unmatched CREATE SEQUENCE and its ALTER SEQUENCE lines
 * are held until its ALTER SEQUENCE ... OWNED BY tells its table; any
 * other statement, or the end of a member, drops them (not owned by a kept
 * table). Memory: those few statements, and one name per relation decided.
 * One thread.
 */
#ifndef G3_PGFILTER_H
#define G3_PGFILTER_H

#include "../base/err.h"
#include "pgpattern.h"

typedef struct g3_sqlfilter g3_sqlfilter;

/* Runs one statement kept by the filter. */
typedef g3_rc (*g3_sqlfilter_emit_fn)(void *ctx, const char *sql, long line, g3_err *err);

/* tf stays the caller's and outlives the filter; its match counts grow. */
g3_sqlfilter *g3_sqlfilter_new(g3_tablefilter *tf);
void g3_sqlfilter_free(g3_sqlfilter *f);

/* A statement (not a COPY) in file order: emit runs for it when it is
 * kept, after any held statements it releases. */
g3_rc g3_sqlfilter_statement(g3_sqlfilter *f, const char *sql, long line,
			     g3_sqlfilter_emit_fn emit, void *ctx, g3_err *err);
/* End of a script (member): drops held statements. */
void g3_sqlfilter_end(g3_sqlfilter *f);

/* 1 when the rows of table schema.name load. */
int g3_sqlfilter_copy(g3_sqlfilter *f, const char *schema, const char *name);
/* The same for a "COPY x (...) FROM stdin" statement (1 when its table
 * cannot be told: the loader reports that). */
int g3_sqlfilter_copy_sql(g3_sqlfilter *f, const char *sql);

/* "schema.name" of the tables (and views, sequences) left out, and of the
 * tables whose rows were left out, as their definitions were seen; valid
 * until _free. */
char *const *g3_sqlfilter_excluded(const g3_sqlfilter *f, size_t *n);
char *const *g3_sqlfilter_no_data(const g3_sqlfilter *f, size_t *n);
/* Foreign keys dropped because they reference a table left out. */
long g3_sqlfilter_dropped_fks(const g3_sqlfilter *f);

/* Exposed for tests: the relation a statement concerns, "schema.name"
 * (names unquoted, unquoted ones lower case) in rel, and for a foreign key
 * or OWNED BY the other table in ref, for CREATE INDEX the index (else "").
 * Returns 0 when the statement concerns no relation. */
int g3_sqlfilter_relation(const char *sql, char *rel, size_t relsize, char *ref,
			  size_t refsize);

#endif
