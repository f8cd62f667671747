/*
 * A primary key or unique constraint from a dump's post-data, split in two
 * so that it builds beside the table's other indexes:
 *
 *   ALTER TABLE [ONLY] t ADD CONSTRAINT c PRIMARY KEY (a, b) ...
 * becomes
 *   CREATE UNIQUE INDEX c ON t USING btree (a, b) ...     (SHARE lock)
 *   ALTER TABLE [ONLY] t ADD CONSTRAINT c PRIMARY KEY USING INDEX c
 *                                                       (metadata only)
 *
 * as pgcopydb does. The index gets the constraint's name, as the server
 * would give it. Only forms read in full are split: a plain list of column
 * names, then in any order pg_dump writes them NULLS [NOT] DISTINCT,
 * INCLUDE (columns), WITH (storage parameters), USING INDEX TABLESPACE,
 * [NOT] DEFERRABLE, INITIALLY DEFERRED|IMMEDIATE. Expressions, WITHOUT
 * OVERLAPS, exclusion constraints and anything else keep the old path
 * (the statement as written). Names are copied exactly as written.
 *
 * The table's name has one or two parts (to_regclass() takes it without
 * an error). The caller must still keep partitioned tables on the old
 * path: USING INDEX is not supported for them.
 */
#ifndef G3_PGCONSTRAINT_H
#define G3_PGCONSTRAINT_H

typedef struct g3_pgconstraint_split {
	char *index_sql;        /* CREATE UNIQUE INDEX ... */
	char *attach_sql;       /* ALTER TABLE ... ADD CONSTRAINT ... USING INDEX ... */
	char *table;            /* the table's name as written ("schema"."t"), for
				 * to_regclass() */
} g3_pgconstraint_split;

/* 1 and both statements (freed with _release) when sql is a primary key
 * or unique constraint this module can split; else 0 and nothing set. */
int g3_pgconstraint_split_sql(const char *sql, g3_pgconstraint_split *out);
void g3_pgconstraint_release(g3_pgconstraint_split *s);

#endif
