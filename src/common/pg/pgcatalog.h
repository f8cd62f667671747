/*
 * What `gen3db dump` reads of one PostgreSQL database before its data: the
 * catalog, in one exported snapshot.
 *
 * g3_pgcat_open connects the leader, opens a REPEATABLE READ READ ONLY
 * transaction, exports its snapshot (pg_dump and the COPY workers of
 * pgcopyout.h join it), lists the tables and their columns, takes an
 * ACCESS SHARE lock on every table it keeps (as pg_dump does: no DROP or
 * ALTER until the dump ends), builds each table's COPY ... TO STDOUT and
 * reads the sequences' values in that snapshot, as setval lines. Tables
 * and columns also go into the manifest.
 *
 * Filter (--table, --exclude-table, --exclude-table-data): a skipped table
 * is left out (named in excluded); a table without its data keeps its
 * definition and one empty chunk (no_rows, named in no_data); sequences
 * follow pg_dump's rule (kept when selected or owned by a kept table, an
 * identity sequence only with its table).
 *
 * Threads: open, close and release on one thread, which alone uses the
 * leader. While the COPY workers run they read name, conf, snapshot,
 * tables[].copy_sql and order[]; a table's seconds is written by the
 * worker that copied it, its rows, bytes and chunks by the thread that
 * writes the chunks (pgcopyout.h).
 * Memory: the catalog's size (names, COPY statements, sequences.sql).
 * Errors: g3_rc + g3_err naming the database and what failed; never exits.
 */
#ifndef G3_PGCATALOG_H
#define G3_PGCATALOG_H

#include <stdint.h>

#include "../base/strbuf.h"
#include "../snap/snapshot.h"
#include "pg.h"
#include "pgpattern.h"

typedef struct g3_pgcat_table {
	char *schema;
	char *name;
	char *copy_sql;         /* COPY "s"."t" ("a", ...) TO STDOUT */
	char **columns;
	size_t n_columns;
	int64_t est_bytes;      /* from the catalog (relpages), for the order */
	int no_rows;            /* --exclude-table-data: one empty chunk */
	/* filled by the thread that writes the chunks */
	int64_t rows;
	int64_t bytes;
	int64_t chunks;
	double seconds;         /* set by the worker that copied it */
} g3_pgcat_table;

typedef struct g3_pgcat {
	char *name;             /* the database */
	PGconn *leader;         /* holds the snapshot until g3_pgcat_close */
	char *snapshot;         /* pg_export_snapshot()'s id */
	g3_pgconf conf;         /* master parameters with dbname set */
	g3_pgcat_table *tables;
	size_t n_tables;
	size_t *order;          /* indexes of the tables to COPY, largest first */
	size_t n_order;
	g3_tablefilter *filter; /* borrowed, or NULL: every table */
	char **excluded;        /* "schema.table" left out */
	size_t n_excluded;
	char **no_data;         /* "schema.table" dumped without rows */
	size_t n_no_data;
	g3_buf sequences;       /* SELECT pg_catalog.setval(...); lines */
} g3_pgcat;

/* name and conf are copied; filter (may be NULL) is borrowed and must
 * outlive c. */
void g3_pgcat_init(g3_pgcat *c, const char *name, const g3_pgconf *conf,
		   g3_tablefilter *filter);
/* Frees everything, and closes the leader if still open. */
void g3_pgcat_release(g3_pgcat *c);

/* Connects (retrying up to wait seconds), exports the snapshot, locks and
 * lists the tables, reads the sequences; adds the database, its tables and
 * columns to m (and m's server version, once). G3_UNREACHABLE when the
 * server did not answer within wait. */
g3_rc g3_pgcat_open(g3_pgcat *c, g3_manifest *m, int wait, g3_err *err);

/* Ends the snapshot transaction and closes the leader (after every COPY
 * and pg_dump section: the locks go with it). */
void g3_pgcat_close(g3_pgcat *c);

#endif
