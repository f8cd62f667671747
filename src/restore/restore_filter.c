/*
 * Table patterns of a restore (--table, --exclude-table,
 * --exclude-table-data): options, the check that each pattern matched a
 * table, and the summary of what was left out. The statements themselves
 * are filtered by g3_sqlfilter (src/common/pg/pgfilter.h) in the SQL loader
 * (load.c) and the snapshot loader (restore_snapshot.c).
 *
 * A pattern that matches no table is an error (exit 2), as pg_dump's
 * --strict-names makes it: a pipeline that means to leave out a table
 * should hear that the name is wrong rather than restore it. A snapshot's
 * manifest lists its tables, so that is checked before anything is
 * touched; a plain dump is checked once read, before its target is
 * replaced (the side database is dropped).
 */
#include <stdlib.h>
#include <string.h>

#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/strbuf.h"
#include "restore_filter.h"

g3_rc filter_add(struct restore_opts *o, enum g3_tablefilter_list list, const char *pattern,
		 g3_err *err)
{
	if (!o->filter) {
		o->filter = g3_xcalloc(1, sizeof(*o->filter));
		g3_tablefilter_init(o->filter);
	}
	g3_strlist_add(&o->patterns[list], &o->n_patterns[list], pattern);
	return g3_tablefilter_add(o->filter, list, pattern, err);
}

g3_rc filter_check_plan(const struct restore_opts *o, const struct plan *p, g3_err *err)
{
	g3_tablefilter *f = o->filter;
	g3_rc rc;

	if (!f || !p->manifest.n_databases)
		return G3_OK;
	for (size_t i = 0; i < p->n; i++)
		for (size_t t = 0; p->dbs[i].mdb && t < p->dbs[i].mdb->n_tables; t++)
			g3_tablefilter_decide(f, p->dbs[i].mdb->tables[t].schema,
					      p->dbs[i].mdb->tables[t].name);
	rc = g3_tablefilter_check(f, err);
	/* the load counts again, from the statements it reads */
	for (int l = 0; l < 3; l++)
		for (size_t i = 0; i < f->n[l]; i++)
			f->p[l][i].matches = 0;
	return rc;
}

g3_rc filter_check(const struct restore_opts *o, g3_err *err)
{
	return o->filter ? g3_tablefilter_check(o->filter, err) : G3_OK;
}

static json_object *name_list(const char *what, const char *database, char *const *names,
			      size_t n)
{
	json_object *a = json_object_new_array();
	g3_buf b = G3_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		json_object_array_add(a, json_object_new_string(names[i]));
		g3_buf_addf(&b, "%s\"%s\"", i ? ", " : "", names[i]);
	}
	if (n)
		g3_info("%s of database \"%s\" (%zu): %s", what, database, n, b.data);
	g3_buf_release(&b);
	return a;
}

void filter_report(const struct db_load *d, json_object *o)
{
	char *const *names;
	size_t n;

	if (!d->filter)
		return;
	names = g3_sqlfilter_excluded(d->filter, &n);
	json_object_object_add(o, "excluded_tables",
			       name_list("left out (--table, --exclude-table)", d->svc.database,
					 names, n));
	names = g3_sqlfilter_no_data(d->filter, &n);
	json_object_object_add(o, "excluded_table_data",
			       name_list("restored without rows (--exclude-table-data)",
					 d->svc.database, names, n));
	json_object_object_add(o, "dropped_foreign_keys",
			       json_object_new_int64(g3_sqlfilter_dropped_fks(d->filter)));
}

void filter_free(struct restore_opts *o)
{
	for (int l = 0; l < 3; l++) {
		g3_strlist_free(o->patterns[l], o->n_patterns[l]);
		o->patterns[l] = NULL;
		o->n_patterns[l] = 0;
	}
	if (o->filter)
		g3_tablefilter_release(o->filter);
	free(o->filter);
	o->filter = NULL;
}
