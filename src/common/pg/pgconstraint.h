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
	char *ref;              /* a foreign key's referenced table, the same way */
} g3_pgconstraint_split;

/* 1 and both statements (freed with _release) when sql is a primary key
 * or unique constraint this module can split; else 0 and nothing set. */
int g3_pgconstraint_split_sql(const char *sql, g3_pgconstraint_split *out);
void g3_pgconstraint_release(g3_pgconstraint_split *s);

/* A foreign key, split the same way so that its check runs beside other
 * work on the referenced table:
 *
 *   ALTER TABLE [ONLY] t ADD CONSTRAINT c FOREIGN KEY (...) REFERENCES p ...
 * becomes
 *   the same statement ending in NOT VALID   (SHARE ROW EXCLUSIVE on t and
 *                                             p, metadata only)
 *   ALTER TABLE [ONLY] t VALIDATE CONSTRAINT c
 *                     (SHARE UPDATE EXCLUSIVE on t, only ROW SHARE on p:
 *                      it runs beside p's index builds and ANALYZE)
 *
 * index_sql gets the first, attach_sql the second, table t, ref p. A statement
 * already NOT VALID (the source's constraint was never checked) is not
 * split: it must stay unchecked. The caller must keep partitioned tables,
 * referencing or referenced, on the old path (NOT VALID foreign keys on
 * them need PostgreSQL 18; a key referencing one gets a constraint per
 * partition that VALIDATE leaves not valid). */
int g3_pgconstraint_split_fk(const char *sql, g3_pgconstraint_split *out);

#endif
