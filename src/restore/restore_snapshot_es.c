/*
 * The Elasticsearch section of a snapshot (docs/FORMAT.md), restored while
 * the snapshot streams, after its PostgreSQL databases (the members come in
 * that order, and the source is read once).
 *
 * Plan (before any server is touched, with the manifest): the indices to
 * restore (all, or --index NAME ...), the cluster (--es or ESHOST; without
 * one, a snapshot holding indices is refused unless --no-es), and every
 * target checked as restore-es does (g3_esrestore_plan_target).
 *
 * Load, per index: es/<index>/index.json creates the versioned index
 * (g3_esrestore_begin: replicas 0, refresh -1); each documents chunk
 * (header docs.<N>.json, then docs.<N>.ndjson) streams through the snapshot walk's
 * checks (walk.h) and, line by line, into the bulk loader;
 * after the chunk marked last the load ends (settings back, refresh,
 * _count; the alias then, or for format 1.2 once end.json's member_sums
 * agree, index.json's included). A chunk that does not match its header fails its index:
 * the index is deleted and never gets the alias, the rest of its members
 * are skipped, the other indices go on, and the restore fails (exit 1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/es/esrestore.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "kinds.h"

enum ix_state { IX_PLANNED, IX_LOADING, IX_DONE, IX_FAILED,
		IX_SKIPPED /* --on-existing skip: it exists, its members are read only */ };

struct es_index {
	g3_esrestore_index ix;
	enum ix_state state;
	int64_t chunks;         /* documents chunks loaded */
	char *error;            /* why it failed */
};

struct es_plan {
	g3_esconf conf;
	g3_es es;
	g3_esrestore_opts ro;
	struct es_index *ix;
	size_t n;
	int failed;
};

void es_plan_free(struct es_plan *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		g3_esrestore_index_release(&e->ix[i].ix);
		free(e->ix[i].error);
	}
	free(e->ix);
	g3_es_release(&e->es);
	g3_esconf_release(&e->conf);
	free(e);
}

g3_rc es_plan_snapshot(const struct restore_opts *o, const char *source, struct plan *p,
		       g3_err *err)
{
	const g3_manifest *m = &p->manifest;
	struct es_plan *e;
	g3_rc rc;

	/* before any request: such a name could make a delete hit other indices */
	for (size_t i = 0; i < m->n_indices; i++)
		if ((rc = g3_es_name_check(m->indices[i].name, "the snapshot's manifest", err)))
			return rc;
	for (size_t i = 0; i < o->n_indices; i++)
		if (!g3_manifest_find_index(m, o->indices[i]))
			return g3_err_set(err, G3_USAGE, "--index %s: the snapshot has no index \"%s\"",
					  o->indices[i], o->indices[i]);
	if (!m->n_indices || o->no_es)
		return G3_OK;
	if (!o->es_url) {   /* --es, else ESHOST */
		rc = g3_err_set(err, G3_USAGE, "snapshot \"%s\" holds %zu Elasticsearch ind%s but no "
				"cluster is given", source, m->n_indices, m->n_indices == 1 ? "ex" : "ices");
		g3_err_hint(err, "give --es URL (or set ESHOST), or --no-es to restore only the "
			    "PostgreSQL databases");
		return rc;
	}
	e = g3_xcalloc(1, sizeof(*e));
	p->es = e;
	g3_esconf_init(&e->conf);
	g3_es_init(&e->es);
	e->ro = o->es;
	e->ro.clean = o->clean;
	e->ro.cancel = &restore_interrupted;
	if ((rc = g3_esconf_set(&e->conf, o->es_url, o->es_cacert, err)) ||
	    (rc = g3_es_connect(&e->es, &e->conf, (int)o->wait, err)))
		return rc;
	g3_info("connected to %s %s at \"%s\"",
		e->es.dist == G3_ES_OPENSEARCH ? "OpenSearch" : "Elasticsearch", e->es.version,
		e->conf.url);
	e->ix = g3_xcalloc(m->n_indices, sizeof(*e->ix));
	for (size_t i = 0; i < m->n_indices; i++) {
		const char *name = m->indices[i].name;
		int wanted = !o->n_indices;

		for (size_t k = 0; k < o->n_indices; k++)
			wanted |= !strcmp(o->indices[k], name);
		if (!wanted)
			continue;
		g3_esrestore_index_init(&e->ix[e->n].ix);
		if ((rc = g3_esrestore_plan_target(&e->es, name, &e->ro, &e->ix[e->n++].ix, err)))
			return rc;
		if (e->ix[e->n - 1].ix.skipped) {
			g3_info("skipped index \"%s\": it already exists (--on-existing skip)", name);
			e->ix[e->n - 1].state = IX_SKIPPED;
		}
	}
	return G3_OK;
}

static struct es_index *find_index(struct es_plan *e, const char *name)
{
	for (size_t i = 0; e && i < e->n; i++)
		if (!strcmp(e->ix[i].ix.name, name))
			return &e->ix[i];
	return NULL;
}

/* Ends a load that failed: the partial index is deleted (no alias). */
static void fail_index(struct es_plan *e, struct es_index *x, g3_err *why)
{
	g3_err_prefix(why, "index \"%s\" was not restored", x->ix.name);
	g3_log_err(why);
	if (x->state == IX_LOADING) {
		g3_err derr;

		g3_err_init(&derr);
		g3_esrestore_end(&e->es, &e->ro, &x->ix, G3_FAIL, &derr);
	}
	free(x->error);
	x->error = g3_xstrdup(why->msg);
	x->state = IX_FAILED;
	e->failed = 1;
}

static void finish_index(struct es_plan *e, struct es_index *x)
{
	g3_err ierr;

	g3_err_init(&ierr);
	if (g3_esrestore_end(&e->es, &e->ro, &x->ix, G3_OK, &ierr)) {
		x->state = IX_PLANNED;  /* end deleted the index already */
		fail_index(e, x, &ierr);
		return;
	}
	x->state = IX_DONE;
	if (x->ix.hold_alias)
		g3_info("loaded index \"%s\" (%s): %llu %s in %.2f s; its alias waits "
			"for end.json", x->ix.name, x->ix.concrete,
			(unsigned long long)x->ix.docs_read,
			g3_plural((long long)x->ix.docs_read, "document", "documents"), x->ix.seconds);
	else
		g3_info("restored index \"%s\" (%s): %llu %s in %.2f s", x->ix.name,
			x->ix.concrete, (unsigned long long)x->ix.docs_read,
			g3_plural((long long)x->ix.docs_read, "document", "documents"), x->ix.seconds);
}

/* A FILE over the current member: the walk checks every byte it hands out. */
struct docs_cookie {
	g3_snapwalk *w;
	g3_err *err;
	int failed;
};

static ssize_t cookie_read(void *c, char *buf, size_t len)
{
	struct docs_cookie *dc = c;
	ssize_t n = g3_snapwalk_read(dc->w, buf, len, dc->err);

	if (n < 0) {
		dc->failed = 1;
		errno = EIO;
		return -1;
	}
	return n;
}

size_t es_plan_count(const struct es_plan *e)
{
	return e ? e->n : 0;
}

int es_restores(const struct plan *p, const char *index)
{
	const struct es_index *x = find_index(p->es, index);

	/* not restored (--no-es, --index, skipped) or already failed */
	return x && x->state != IX_FAILED && x->state != IX_SKIPPED;
}

g3_rc es_begin_index(struct plan *p, const char *source, const char *index, g3_esdef *def,
		     g3_err *err)
{
	struct es_plan *e = p->es;
	struct es_index *x = find_index(e, index);
	g3_buf origin = G3_BUF_INIT;
	g3_rc rc;

	if (restore_interrupted)
		return g3_err_set(err, G3_FAIL, "interrupted");
	g3_esdef_release(&x->ix.def);
	x->ix.def = *def;
	g3_esdef_init(def);
	g3_info("restoring index \"%s\" into \"%s\"", x->ix.name, x->ix.concrete);
	g3_buf_addf(&origin, "snapshot \"%s\"", source);
	/* 1.2: the alias waits for end.json's member_sums (index.json's among them) */
	x->ix.hold_alias = p->manifest.format_minor >= G3_SNAP_MINOR_MEMBER_SUMS;
	rc = g3_esrestore_begin(&e->es, &e->ro, &x->ix, origin.data, err);
	g3_buf_release(&origin);
	x->state = IX_LOADING;
	g3_progress_item_start(x->ix.name, G3_PROGRESS_DOCS);
	return rc;
}

/* A documents chunk, line by line into the bulk loader as it streams. */
g3_rc es_load_docs(struct plan *p, g3_snapwalk *w, const char *index,
		   const g3_es_docs_header *h, const char *member, g3_err *err)
{
	struct es_index *x = find_index(p->es, index);
	cookie_io_functions_t io = { cookie_read, NULL, NULL, NULL };
	struct docs_cookie dc = { w, err, 0 };
	g3_docreader r;
	FILE *f;
	const char *id, *src;
	size_t len;
	int got;
	g3_rc rc = G3_OK;

	(void)h;
	if (restore_interrupted)
		return g3_err_set(err, G3_FAIL, "interrupted");
	if (x->state != IX_LOADING)
		return g3_err_set(err, G3_FAIL, "snapshot member \"%s\" comes after the index's "
				  "last documents chunk", member);
	if (!(f = fopencookie(&dc, "r", io)))
		return g3_err_set(err, G3_FAIL, "could not read member \"%s\": %s", member,
				  strerror(errno));
	g3_docreader_attach(&r, f, member);
	while ((got = g3_docreader_next(&r, &id, &src, &len, err)) > 0)
		if ((rc = g3_esrestore_add(&x->ix, &p->es->ro, id, src, len, err)))
			break;
	if (dc.failed)
		rc = err->rc ? err->rc : G3_FAIL;
	else if (got < 0)
		rc = G3_FAIL;
	g3_docreader_release(&r);
	fclose(f);
	return rc;
}

g3_rc es_docs_loaded(struct plan *p, const char *index, const g3_es_docs_header *h,
		     g3_err *err)
{
	struct es_index *x = find_index(p->es, index);

	(void)err;
	x->chunks++;
	g3_progress_item_add(x->ix.name, h->docs);
	if (h->last) {
		g3_progress_item_done(x->ix.name, 0);
		finish_index(p->es, x);
	}
	return G3_OK;
}

/* A fault of one index fails that index only; the walk goes on. */
g3_rc es_index_failed(struct plan *p, const char *index, g3_err *why, g3_err *err)
{
	struct es_plan *e = p->es;
	struct es_index *x = find_index(e, index);

	if (restore_interrupted)
		return g3_err_set(err, G3_FAIL, "interrupted");
	if (why->rc == G3_UNREACHABLE) {
		*err = *why;
		return G3_UNREACHABLE;
	}
	if (x->state == IX_DONE && x->ix.hold_alias && !x->ix.loaded) {
		/* loaded, waiting for end.json: deleted, never gets the alias */
		g3_esrestore_discard(&e->es, &x->ix);
		x->state = IX_PLANNED;
	} else if (x->state == IX_DONE) {
		/* 1.1: loaded and verified chunk by chunk, the alias has moved */
		g3_log_err(why);
		e->failed = 1;
		return G3_OK;
	}
	fail_index(e, x, why);
	return G3_OK;
}

/* end.json agreed: the indices loaded (1.2) get their aliases. */
g3_rc es_publish(struct plan *p, g3_err *err)
{
	struct es_plan *e = p->es;

	for (size_t i = 0; e && i < e->n; i++) {
		struct es_index *x = &e->ix[i];
		g3_err ierr;

		if (x->state != IX_DONE || !x->ix.hold_alias || x->ix.loaded)
			continue;
		g3_err_init(&ierr);
		if (g3_esrestore_publish(&e->es, &e->ro, &x->ix, &ierr)) {
			x->state = IX_PLANNED;   /* publish deleted it */
			fail_index(e, x, &ierr);
			continue;
		}
		g3_info("restored index \"%s\" (%s): %llu documents", x->ix.name,
			x->ix.concrete, (unsigned long long)x->ix.docs_read);
	}
	if (e && e->failed)
		return g3_err_set(err, G3_FAIL, "Elasticsearch indices failed (see above)");
	return G3_OK;
}

/* Fails the loads still open (the restore stopped early). */
void es_abort(struct plan *p)
{
	struct es_plan *e = p->es;

	for (size_t i = 0; e && i < e->n; i++) {
		/* loaded, waiting for end.json (1.2): never gets the alias */
		if (e->ix[i].state == IX_DONE && e->ix[i].ix.hold_alias && !e->ix[i].ix.loaded) {
			g3_esrestore_discard(&e->es, &e->ix[i].ix);
			e->ix[i].state = IX_FAILED;
		}
		if (e->ix[i].state == IX_LOADING) {
			g3_err derr;

			g3_err_init(&derr);
			g3_esrestore_end(&e->es, &e->ro, &e->ix[i].ix, G3_FAIL, &derr);
			e->ix[i].state = IX_FAILED;
		}
	}
}

size_t es_pending(const struct plan *p)
{
	size_t n = 0;

	for (size_t i = 0; p->es && i < p->es->n; i++)
		n += p->es->ix[i].state != IX_SKIPPED;
	return n;
}

json_object *es_report(const struct plan *p)
{
	json_object *list = json_object_new_array();
	const struct es_plan *e = p->es;

	for (size_t i = 0; e && i < e->n; i++) {
		const struct es_index *x = &e->ix[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(x->ix.name));
		if (x->ix.concrete)
			json_object_object_add(o, "index", json_object_new_string(x->ix.concrete));
		json_object_object_add(o, "status", json_object_new_string(
			x->state == IX_DONE ? "restored" : x->state == IX_SKIPPED ? "skipped" : "failed"));
		g3_esrestore_report_pruned(&x->ix, o);
		json_object_object_add(o, "documents", json_object_new_int64((int64_t)x->ix.docs_read));
		json_object_object_add(o, "chunks", json_object_new_int64(x->chunks));
		json_object_object_add(o, "seconds", json_object_new_double(x->ix.seconds));
		if (x->ix.n_failed_ids) {
			json_object *ids = json_object_new_array();

			for (size_t k = 0; k < x->ix.n_failed_ids; k++)
				json_object_array_add(ids, json_object_new_string(x->ix.failed_ids[k]));
			json_object_object_add(o, "documents_not_loaded", ids);
		}
		if (x->error)
			json_object_object_add(o, "error", json_object_new_string(x->error));
		json_object_array_add(list, o);
	}
	return list;
}
