/*
 * One database's catalog in an exported snapshot (pgcatalog.h): the
 * queries pg_dump's own would make for the tables, columns and sequences
 * gen3db dump copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/opts.h"
#include "pgcatalog.h"

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
static const char snapshot_sql[] =
	"SELECT pg_catalog.pg_export_snapshot(), "
	"pg_catalog.pg_encoding_to_char(encoding) FROM pg_catalog.pg_database "
	"WHERE datname = pg_catalog.current_database()";

void g3_pgcat_init(g3_pgcat *c, const char *name, const g3_pgconf *conf,
		   g3_tablefilter *filter)
{
	memset(c, 0, sizeof(*c));
	c->name = g3_xstrdup(name);
	g3_pgconf_copy(&c->conf, conf);
	c->filter = filter;
}

void g3_pgcat_release(g3_pgcat *c)
{
	for (size_t i = 0; i < c->n_tables; i++) {
		g3_pgcat_table *t = &c->tables[i];

		free(t->schema);
		free(t->name);
		free(t->copy_sql);
		g3_strlist_free(t->columns, t->n_columns);
	}
	free(c->tables);
	free(c->order);
	g3_strlist_free(c->excluded, c->n_excluded);
	g3_strlist_free(c->no_data, c->n_no_data);
	free(c->name);
	free(c->snapshot);
	if (c->leader)
		PQfinish(c->leader);
	g3_pgconf_release(&c->conf);
	g3_buf_release(&c->sequences);
	memset(c, 0, sizeof(*c));
}

void g3_pgcat_close(g3_pgcat *c)
{
	if (!c->leader)
		return;
	g3_pg_exec(c->leader, "COMMIT", "could not end the snapshot transaction", NULL);
	PQfinish(c->leader);
	c->leader = NULL;
}

/* "schema"."name" quoted for SQL; NULL on an encoding error (err set). */
static char *qualified(PGconn *conn, const char *schema, const char *name, g3_err *err)
{
	char *qs = g3_pg_ident(conn, schema, err);
	char *qn = qs ? g3_pg_ident(conn, name, err) : NULL;
	g3_buf b = G3_BUF_INIT;

	if (qn)
		g3_buf_addf(&b, "%s.%s", qs, qn);
	PQfreemem(qs);
	PQfreemem(qn);
	return qn ? g3_buf_detach(&b) : NULL;
}

/* The leader's transaction, its exported snapshot, and the manifest's
 * entry for the database (*md). */
static g3_rc begin_snapshot(g3_pgcat *c, g3_manifest *m, int wait, g3_snap_database **md,
			    g3_err *err)
{
	PGresult *res = NULL;
	char what[512];
	g3_rc rc;

	g3_pgconf_set(&c->conf, "dbname", c->name);
	g3_pgconf_set(&c->conf, "application_name", "gen3db dump");
	if ((rc = g3_pg_connect(&c->conf, wait, &c->leader, err)))
		return rc;
	snprintf(what, sizeof(what), "could not start a snapshot of database \"%s\"", c->name);
	if ((rc = g3_pg_exec(c->leader, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", what,
			     err)) ||
	    (rc = g3_pg_query(c->leader, snapshot_sql, 0, NULL, &res, what, err)))
		return rc;
	c->snapshot = g3_xstrdup(PQgetvalue(res, 0, 0));
	if (!m->server_version) {
		m->server_version = g3_xstrdup(PQparameterStatus(c->leader, "server_version"));
		m->server_version_num = PQserverVersion(c->leader);
	}
	*md = g3_manifest_add_database(m, c->name, PQgetvalue(res, 0, 1));
	PQclear(res);
	return G3_OK;
}

/* Locks the table now, as pg_dump does: no DROP or ALTER until we are done. */
static g3_rc lock_table(g3_pgcat *c, const g3_pgcat_table *t, const char *qname, g3_err *err)
{
	g3_buf lock = G3_BUF_INIT;
	char what[512];
	g3_rc rc;

	g3_buf_addf(&lock, "LOCK TABLE ONLY %s IN ACCESS SHARE MODE", qname);
	snprintf(what, sizeof(what), "could not lock table \"%s.%s\" of database \"%s\"",
		 t->schema, t->name, c->name);
	rc = g3_pg_exec(c->leader, lock.data, what, err);
	g3_buf_release(&lock);
	return rc;
}

/* t's COPY statement from its columns (rows of cols whose oid is the
 * table's; cols is ordered by oid, tables by name), into the manifest too. */
static g3_rc copy_statement(g3_pgcat *c, g3_pgcat_table *t, g3_snap_table *mt, const char *qname,
			    const char *oid, PGresult *cols, g3_err *err)
{
	g3_buf copy = G3_BUF_INIT;

	g3_buf_addf(&copy, "COPY %s", qname);
	for (int col = 0; col < PQntuples(cols); col++) {
		char *qc;

		if (strcmp(PQgetvalue(cols, col, 0), oid))
			continue;
		if (!(qc = g3_pg_ident(c->leader, PQgetvalue(cols, col, 1), err))) {
			g3_buf_release(&copy);
			return G3_FAIL;
		}
		g3_buf_adds(&copy, t->n_columns ? ", " : " (");
		g3_buf_adds(&copy, qc);
		PQfreemem(qc);
		g3_strlist_add(&t->columns, &t->n_columns, PQgetvalue(cols, col, 1));
		g3_manifest_add_column(mt, PQgetvalue(cols, col, 1), PQgetvalue(cols, col, 2));
	}
	g3_buf_adds(&copy, t->n_columns ? ") TO STDOUT" : " TO STDOUT");
	t->copy_sql = g3_buf_detach(&copy);
	return G3_OK;
}

/* The filter's decision on row of the tables query, named in excluded or
 * no_data when it is not G3_TABLE_KEEP. */
static enum g3_table_fate table_fate(g3_pgcat *c, PGresult *res, int row)
{
	const char *schema = PQgetvalue(res, row, 1), *name = PQgetvalue(res, row, 2);
	enum g3_table_fate fate = c->filter ? g3_tablefilter_decide(c->filter, schema, name)
					    : G3_TABLE_KEEP;
	g3_buf n = G3_BUF_INIT;

	if (fate == G3_TABLE_KEEP)
		return fate;
	g3_buf_addf(&n, "%s.%s", schema, name);
	if (fate == G3_TABLE_SKIP)
		g3_strlist_add(&c->excluded, &c->n_excluded, n.data);
	else
		g3_strlist_add(&c->no_data, &c->n_no_data, n.data);
	g3_buf_release(&n);
	return fate;
}

/* Row of the tables query: kept, locked, with its COPY statement. */
static g3_rc add_table(g3_pgcat *c, g3_snap_database *md, PGresult *res, int row,
		       PGresult *cols, g3_err *err)
{
	enum g3_table_fate fate = table_fate(c, res, row);
	g3_pgcat_table *t;
	g3_snap_table *mt;
	char *qname = NULL;
	g3_rc rc;

	if (fate == G3_TABLE_SKIP)
		return G3_OK;
	t = &c->tables[c->n_tables++];
	t->schema = g3_xstrdup(PQgetvalue(res, row, 1));
	t->name = g3_xstrdup(PQgetvalue(res, row, 2));
	t->est_bytes = strtoll(PQgetvalue(res, row, 4), NULL, 10);
	mt = g3_manifest_add_table(md, t->schema, t->name,
				   strtoll(PQgetvalue(res, row, 3), NULL, 10), t->est_bytes);
	if (!(qname = qualified(c->leader, t->schema, t->name, err)))
		return G3_FAIL;
	if (!(rc = lock_table(c, t, qname, err)))
		rc = copy_statement(c, t, mt, qname, PQgetvalue(res, row, 0), cols, err);
	free(qname);
	if (rc)
		return rc;
	/* a table without its rows still gets its one (empty) part, as an
	 * empty table does: every table of a snapshot has parts 1..n */
	t->no_rows = fate != G3_TABLE_KEEP;
	c->order[c->n_order++] = (size_t)(t - c->tables);
	return G3_OK;
}

/* Largest first, so the longest COPY starts at once. */
static void order_tables(g3_pgcat *c)
{
	for (size_t i = 1; i < c->n_order; i++) {
		size_t k = c->order[i], j = i;

		while (j > 0 && c->tables[c->order[j - 1]].est_bytes < c->tables[k].est_bytes) {
			c->order[j] = c->order[j - 1];
			j--;
		}
		c->order[j] = k;
	}
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

/* Row i's value, read in the snapshot like pg_dump's setval lines. */
static g3_rc read_sequence(g3_pgcat *c, PGresult *seqs, int i, g3_err *err)
{
	const char *schema = PQgetvalue(seqs, i, 0), *name = PQgetvalue(seqs, i, 1);
	char *qname = qualified(c->leader, schema, name, err);
	g3_buf q = G3_BUF_INIT;
	PGresult *v = NULL;
	char *lit = NULL;
	char what[512];
	g3_rc rc;

	if (!qname)
		return G3_FAIL;
	g3_buf_addf(&q, "SELECT last_value, is_called FROM %s", qname);
	snprintf(what, sizeof(what), "could not read sequence \"%s.%s\" of database \"%s\"",
		 schema, name, c->name);
	if ((rc = g3_pg_query(c->leader, q.data, 0, NULL, &v, what, err)))
		goto cleanup;
	if (!(lit = g3_pg_literal(c->leader, qname, err))) {
		rc = G3_FAIL;
		goto cleanup;
	}
	g3_buf_addf(&c->sequences, "SELECT pg_catalog.setval(%s, %s, %s);\n", lit,
		    PQgetvalue(v, 0, 0), !strcmp(PQgetvalue(v, 0, 1), "t") ? "true" : "false");
cleanup:
	PQfreemem(lit);
	PQclear(v);
	g3_buf_release(&q);
	free(qname);
	return rc;
}

g3_rc g3_pgcat_open(g3_pgcat *c, g3_manifest *m, int wait, g3_err *err)
{
	PGresult *res = NULL, *cols = NULL, *seqs = NULL;
	g3_snap_database *md = NULL;
	char what[512];
	g3_rc rc;

	if ((rc = begin_snapshot(c, m, wait, &md, err)))
		return rc;
	snprintf(what, sizeof(what), "could not list the tables of database \"%s\"", c->name);
	if ((rc = g3_pg_query(c->leader, tables_sql, 0, NULL, &res, what, err)) ||
	    (rc = g3_pg_query(c->leader, columns_sql, 0, NULL, &cols, what, err)) ||
	    (rc = g3_pg_query(c->leader, sequences_sql, 0, NULL, &seqs, what, err)))
		goto cleanup;
	c->tables = g3_xcalloc((size_t)PQntuples(res) + 1, sizeof(*c->tables));
	c->order = g3_xcalloc((size_t)PQntuples(res) + 1, sizeof(size_t));
	for (int row = 0; row < PQntuples(res); row++)
		if ((rc = add_table(c, md, res, row, cols, err)))
			goto cleanup;
	order_tables(c);
	for (int i = 0; i < PQntuples(seqs); i++) {
		if (c->filter && !sequence_kept(c->filter, seqs, i))
			continue;
		if ((rc = read_sequence(c, seqs, i, err)))
			goto cleanup;
	}
cleanup:
	PQclear(res);
	PQclear(cols);
	PQclear(seqs);
	return rc;
}
