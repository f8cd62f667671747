/*
 * One plain dump, or one pg_dump archive (its SQL written by pg_restore,
 * input.c), restored into one database: the plan names the target
 * (--database, SERVICE_PGDB, or <file name>_<release>) and the load runs
 * the script once through the load core.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/base/opts.h"
#include "../common/base/strbuf.h"
#include "kinds.h"
#include "restore_filter.h"

/* "fence.sql.gz" -> "fence" */
static char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	char *s = g3_xstrdup(b ? b + 1 : path);
	char *dot = strchr(s, '.');

	if (dot)
		*dot = '\0';
	return s;
}

g3_rc plain_plan(const struct restore_opts *o, struct input *in, struct plan *p, g3_err *err)
{
	const char *db = o->database ? o->database : o->helm.pgdb;
	struct db_load *d;
	g3_rc rc;

	(void)in;   /* read by the load: nothing in it names the target */
	if (o->n_maps)
		return g3_err_set(err, G3_USAGE, "--map applies to snapshots, not to a plain SQL file");
	d = plan_add(p);
	if (strcmp(o->source, "-"))
		d->service = base_name(o->source);
	if (db) {
		d->svc.database = g3_xstrdup(db);
	} else if (o->release && strcmp(o->source, "-")) {
		char *b = base_name(o->source);
		g3_buf n = G3_BUF_INIT;

		g3_buf_addf(&n, "%s_%s", b, o->release);
		free(b);
		d->svc.database = g3_buf_detach(&n);
	} else {
		rc = g3_err_set(err, G3_USAGE, "no target database");
		g3_err_hint(err, "give --database NAME (or SERVICE_PGDB)");
		return rc;
	}
	return plan_role(o, d, o->helm.pguser, err);
}

g3_rc plain_load(const struct restore_env *env, struct input *in,
			struct plan *p, g3_err *err)
{
	struct db_load *d = &p->dbs[0];
	g3_rc rc;

	if ((rc = db_load_begin(env, d, err)) ||
	    (rc = load_sql_member(in, d, err)) ||
	    (rc = filter_check(env->o, err)))
		return rc;
	return db_load_end(d, err);
}
