/*
 * Restoring a gen3db snapshot (docs/FORMAT.md), read once front to back.
 *
 * manifest.json first: parsed (an unknown format version is refused with
 * exit 2 before any server is touched) and planned: each database of the
 * snapshot gets a target (--map OLD=NEW, --database for a one-database
 * snapshot, --release NAME for <service>_<NAME>, SERVICE_PGDB for a
 * one-database snapshot, else its own name).
 * Then per database, in archive order: pre-data.sql on the leader; each
 * data chunk (header, then .copy) to a free worker's COPY while its rows,
 * bytes and sha256 are checked against the header as the bytes stream (a
 * mismatch fails the restore naming the member; the side database is
 * dropped, so nothing of it is ever seen); post-data.sql with indexes and
 * constraints per table once its data is in, foreign keys after all data;
 * sequences.sql; ANALYZE. end.json must come last and agree with what was
 * read; only then are the targets renamed into place (by the caller).
 */
#include <stdlib.h>
#include <string.h>

#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "kinds.h"

static const char *map_lookup(const struct restore_opts *o, const char *from)
{
	size_t n = strlen(from);

	for (size_t i = 0; i < o->n_maps; i++)
		if (!strncmp(o->maps[i], from, n) && o->maps[i][n] == '=')
			return o->maps[i] + n + 1;
	return NULL;
}

/* fence_gen3 -> fence_<release> */
static char *with_release(const char *name, const char *release)
{
	const char *us = strrchr(name, '_');
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%.*s_%s", us ? (int)(us - name) : (int)strlen(name), name, release);
	return g3_buf_detach(&b);
}

g3_rc snapshot_plan(const struct restore_opts *o, struct input *in,
		    struct plan *p, g3_err *err)
{
	const g3_manifest *m = &p->manifest;
	g3_rc rc = G3_OK;

	if ((rc = g3_snap_read_manifest(in->rd, in->src->name, &p->manifest, err)))
		return rc;
	if (!m->n_databases && (!m->n_indices || o->no_es)) {
		rc = g3_err_set(err, G3_USAGE, "snapshot \"%s\" holds no PostgreSQL database%s",
				in->src->name, m->n_indices ? " (and --no-es skips its indices)" : "");
		goto cleanup;
	}
	for (size_t i = 0; i < o->n_maps; i++) {
		const char *eq = strchr(o->maps[i], '=');
		int found = 0;

		for (size_t d = 0; d < m->n_databases; d++)
			found |= strlen(m->databases[d].name) == (size_t)(eq - o->maps[i]) &&
				 !strncmp(m->databases[d].name, o->maps[i], (size_t)(eq - o->maps[i]));
		if (!found) {
			rc = g3_err_set(err, G3_USAGE, "--map %s: the snapshot has no database \"%.*s\"",
					o->maps[i], (int)(eq - o->maps[i]), o->maps[i]);
			goto cleanup;
		}
	}
	if (o->database && m->n_databases > 1) {
		rc = g3_err_set(err, G3_USAGE,
				"--database names one target but the snapshot holds %zu %s",
				m->n_databases, g3_plural((long long)m->n_databases, "database", "databases"));
		g3_err_hint(err, "name the targets with --map OLD=NEW (or --release NAME)");
		goto cleanup;
	}
	for (size_t i = 0; i < m->n_databases; i++) {
		const char *from = m->databases[i].name;
		const char *mapped = map_lookup(o, from);
		struct db_load *d = plan_add(p);

		d->from = g3_xstrdup(from);
		d->mdb = &m->databases[i];
		if (mapped)
			d->svc.database = g3_xstrdup(mapped);
		else if (o->database)
			d->svc.database = g3_xstrdup(o->database);
		else if (o->release)
			d->svc.database = with_release(from, o->release);
		else if (m->n_databases == 1 && o->helm.pgdb)
			d->svc.database = g3_xstrdup(o->helm.pgdb);   /* the helm job's */
		else
			d->svc.database = g3_xstrdup(from);
		/* one database: the helm job's SERVICE_PGUSER; several: each
		 * role is named like its database, as Gen3 names them */
		if ((rc = plan_role(o, d, m->n_databases == 1 ? o->helm.pguser : NULL, err)))
			goto cleanup;
		for (size_t j = 0; j + 1 < p->n; j++)
			if (!strcmp(p->dbs[j].svc.database, d->svc.database)) {
				rc = g3_err_set(err, G3_USAGE,
						"databases \"%s\" and \"%s\" would both restore into \"%s\"",
						p->dbs[j].from, from, d->svc.database);
				goto cleanup;
			}
	}
	rc = es_plan_snapshot(o, in->src->name, p, err);
cleanup:
	return rc;
}

/* ---- streaming: the snapshot walk's callbacks ------------------------- */

struct snap_state {
	const struct restore_env *env;
	struct input *in;
	struct plan *p;
	struct db_load *cur;        /* the database whose members are streaming */
	int copying;                /* the current chunk's COPY is open */
	char item[G3_PROGRESS_NAME_MAX];  /* the current chunk's table, for progress */
};

static struct db_load *find_db(struct plan *p, const char *from)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->dbs[i].from, from))
			return &p->dbs[i];
	return NULL;
}

static g3_rc on_db_begin(void *u, const g3_snap_database *mdb, g3_err *err)
{
	struct snap_state *s = u;
	struct db_load *d = find_db(s->p, mdb->name);

	s->cur = d;
	if (d->target.skipped)
		return G3_OK;
	g3_info("restoring database \"%s\" into \"%s\"", d->from, d->svc.database);
	return db_load_begin(s->env, d, err);
}

static g3_rc on_db_end(void *u, const g3_snap_database *mdb, g3_err *err)
{
	struct snap_state *s = u;
	struct db_load *d = s->cur;

	(void)mdb;
	s->cur = NULL;
	if (d->target.skipped) {
		/* --on-existing skip: read and verified, nothing loaded */
		d->done = 1;
		return G3_OK;
	}
	return db_load_end(d, err);
}

static g3_rc on_sql(void *u, const g3_snap_database *mdb, g3_member_kind kind,
		    const char *member, g3_err *err)
{
	struct snap_state *s = u;
	g3_buf origin = G3_BUF_INIT;

	(void)mdb;
	(void)kind;
	if (s->cur->target.skipped)
		return G3_OK;       /* read through by the next member */
	g3_buf_addf(&origin, "%s line", member);
	g3_pgload_set_origin(s->cur->load, origin.data);
	g3_buf_release(&origin);
	return load_sql_member(s->in, s->cur, err);
}

static char *copy_statement(PGconn *conn, const g3_chunk_header *h, g3_err *err)
{
	g3_buf b = G3_BUF_INIT;
	char *q;

	g3_buf_adds(&b, "COPY ");
	if (!(q = g3_pg_ident(conn, h->schema, err)))
		goto fail;
	g3_buf_addf(&b, "%s.", q);
	PQfreemem(q);
	if (!(q = g3_pg_ident(conn, h->table, err)))
		goto fail;
	g3_buf_adds(&b, q);
	PQfreemem(q);
	g3_buf_adds(&b, " (");
	for (size_t i = 0; i < h->n_columns; i++) {
		if (!(q = g3_pg_ident(conn, h->columns[i], err)))
			goto fail;
		g3_buf_addf(&b, "%s%s", i ? ", " : "", q);
		PQfreemem(q);
	}
	g3_buf_adds(&b, ") FROM STDIN");
	return g3_buf_detach(&b);
fail:
	g3_buf_release(&b);
	return NULL;
}

/* A chunk's bytes into a worker's COPY as they stream; the walk checks
 * them against the header before on_chunk_done ends the COPY (on a
 * mismatch the COPY is cancelled with the rest of the restore). */
static g3_rc on_chunk(void *u, g3_snapwalk *w, const g3_snap_database *mdb,
		      const g3_chunk_header *h, const char *member, g3_err *err)
{
	struct snap_state *s = u;
	struct db_load *d = s->cur;
	char *sql = NULL;
	g3_rc rc = G3_OK;

	(void)mdb;
	s->copying = 0;
	snprintf(s->item, sizeof(s->item), "%s.%s.%s", d->svc.database, h->schema, h->table);
	if (h->part <= 1)
		g3_progress_item_start(s->item, G3_PROGRESS_ROWS);
	/* a table left out (--exclude-table...): read and verified, not loaded */
	if (d->target.skipped ||
	    (d->filter && !g3_sqlfilter_copy(d->filter, h->schema, h->table)) ||
	    (h->rows <= 0 && h->bytes <= 0))
		return G3_OK;
	if (!(sql = copy_statement(d->leader, h, err)))
		return G3_USAGE;
	g3_pgload_set_origin(d->load, member);
	if ((rc = g3_pgload_copy_begin(d->load, sql, 0, err)))
		goto cleanup;
	s->copying = 1;
	for (;;) {
		ssize_t n = g3_snapwalk_read(w, s->in->buf, RESTORE_READ_BYTES, err);

		if (restore_interrupted) {
			rc = g3_err_set(err, G3_FAIL, "interrupted");
			break;
		}
		if (n <= 0) {
			rc = n < 0 ? (err->rc ? err->rc : G3_FAIL) : G3_OK;
			break;
		}
		if ((rc = g3_pgload_copy_data(d->load, s->in->buf, (size_t)n, err)))
			break;
	}
cleanup:
	free(sql);
	return rc;
}

static g3_rc on_chunk_done(void *u, const g3_snap_database *mdb, const g3_chunk_header *h,
			   const char *member, g3_err *err)
{
	struct snap_state *s = u;
	struct db_load *d = s->cur;
	g3_rc rc;

	(void)mdb;
	(void)member;
	if (restore_interrupted)   /* chunks read through (skipped tables) too */
		return g3_err_set(err, G3_FAIL, "interrupted");
	if (s->copying && (rc = g3_pgload_copy_end(d->load, h->rows, err)))
		return rc;
	s->copying = 0;
	d->rows += h->rows;
	d->bytes += h->bytes;
	d->chunks++;
	g3_progress_item_add(s->item, h->rows);
	if (h->last)
		g3_progress_item_done(s->item, 0);
	return G3_OK;
}

/* The Elasticsearch members go to restore_snapshot_es.c. */
static int on_es_wanted(void *u, const char *index)
{
	return es_restores(((struct snap_state *)u)->p, index);
}

static g3_rc on_es_index(void *u, const char *index, const char *member, g3_esdef *def,
			 g3_err *err)
{
	struct snap_state *s = u;

	(void)member;
	return es_begin_index(s->p, s->in->src->name, index, def, err);
}

static g3_rc on_es_docs(void *u, g3_snapwalk *w, const char *index,
			const g3_es_docs_header *h, const char *member, g3_err *err)
{
	return es_load_docs(((struct snap_state *)u)->p, w, index, h, member, err);
}

static g3_rc on_es_docs_done(void *u, const char *index, const g3_es_docs_header *h,
			     g3_err *err)
{
	return es_docs_loaded(((struct snap_state *)u)->p, index, h, err);
}

static g3_rc on_es_failed(void *u, const char *index, g3_err *why, g3_err *err)
{
	return es_index_failed(((struct snap_state *)u)->p, index, why, err);
}

/* end.json agreed with everything read: the indices get their aliases */
static g3_rc on_end(void *u, const g3_snap_end *e, g3_err *err)
{
	(void)e;
	return es_publish(((struct snap_state *)u)->p, err);
}

static const g3_snapwalk_ops restore_walk = {
	.db_begin = on_db_begin, .db_end = on_db_end, .sql = on_sql,
	.chunk = on_chunk, .chunk_done = on_chunk_done,
	.es_wanted = on_es_wanted, .es_index = on_es_index, .es_docs = on_es_docs,
	.es_docs_done = on_es_docs_done, .es_failed = on_es_failed, .end = on_end,
};

g3_rc snapshot_load(const struct restore_env *env, struct input *in,
		    struct plan *p, g3_err *err)
{
	struct snap_state s;
	g3_snapwalk w;
	size_t items = es_plan_count(p->es);
	g3_rc rc;

	memset(&s, 0, sizeof(s));
	s.env = env;
	s.in = in;
	s.p = p;
	for (size_t i = 0; i < p->n; i++)
		items += p->dbs[i].mdb ? p->dbs[i].mdb->n_tables : 0;
	g3_progress_set_totals(-1, (int)items);
	g3_snapwalk_init(&w, in->rd, in->src, &p->manifest, &restore_walk, &s);
	w.label = in->src->name;
	rc = g3_snapwalk_run(&w, err);
	if (rc && w.truncated)
		g3_err_set(err, G3_FAIL, "snapshot \"%s\" ends without end.json: it is truncated",
			   in->src->name);
	g3_source_report_progress(in->src);
	if (rc)
		es_abort(p);
	g3_snapwalk_release(&w);
	return rc;
}
