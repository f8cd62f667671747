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
 * (header docs.<N>.json, then docs.<N>.ndjson) streams through the sha256
 * and line count of g3_chunk_check and, line by line, into the bulk loader;
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

#define MAX_ES_JSON (64 * 1024 * 1024)

enum ix_state { IX_PLANNED, IX_LOADING, IX_DONE, IX_FAILED,
		IX_SKIPPED /* --on-existing skip: it exists, its members are read only */ };

struct es_index {
	g3_esrestore_index ix;
	enum ix_state state;
	g3_es_docs_header hdr;  /* the pending documents chunk header */
	uint64_t hdr_number;    /* 0: none */
	uint64_t next_part;
	int64_t docs, bytes, chunks;   /* sums of the headers read */
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

/* A FILE over the current member that checks every byte it hands out. */
struct docs_cookie {
	struct input *in;
	g3_chunk_check *check;
	g3_err *err;
	int failed;
};

static ssize_t cookie_read(void *c, char *buf, size_t len)
{
	struct docs_cookie *dc = c;
	ssize_t n = g3_reader_read(dc->in->rd, buf, len, dc->err);

	if (n < 0) {
		dc->failed = 1;
		errno = EIO;
		return -1;
	}
	g3_chunk_check_update(dc->check, buf, (size_t)n);
	return n;
}

static g3_rc load_docs(struct es_plan *e, struct es_index *x, struct input *in,
		       const char *member, g3_err *err)
{
	cookie_io_functions_t io = { cookie_read, NULL, NULL, NULL };
	struct docs_cookie dc;
	g3_chunk_check check;
	g3_docreader r;
	FILE *f;
	const char *id, *src;
	size_t len;
	int got;
	g3_rc rc = G3_OK;

	g3_chunk_check_init(&check);
	/* checked against the header below: the reader need not hash it again */
	g3_reader_member_sum(in->rd, x->hdr.sha256);
	memset(&dc, 0, sizeof(dc));
	dc.in = in;
	dc.check = &check;
	dc.err = err;
	f = fopencookie(&dc, "r", io);
	if (!f) {
		g3_chunk_check_release(&check);
		return g3_err_set(err, G3_FAIL, "could not read member \"%s\": %s", member,
				  strerror(errno));
	}
	g3_docreader_attach(&r, f, member);
	while ((got = g3_docreader_next(&r, &id, &src, &len, err)) > 0) {
		if ((rc = g3_esrestore_add(&x->ix, &e->ro, id, src, len, err)))
			break;
	}
	if (dc.failed)
		rc = err->rc ? err->rc : G3_FAIL;
	else if (got < 0)
		rc = G3_FAIL;
	g3_docreader_release(&r);
	fclose(f);
	if (!rc)
		rc = g3_es_docs_check_finish(&check, &x->hdr, x->ix.name, member, err);
	g3_chunk_check_release(&check);
	return rc;
}

size_t es_plan_count(const struct es_plan *e)
{
	return e ? e->n : 0;
}

g3_rc es_member(struct plan *p, struct input *in, g3_member_kind kind, const char *name,
		const char *index, uint64_t number, g3_err *err)
{
	struct es_plan *e = p->es;
	struct es_index *x = find_index(e, index);
	g3_buf json = G3_BUF_INIT;
	g3_err ierr;
	g3_rc rc = G3_OK;

	if (!x || x->state == IX_FAILED || x->state == IX_SKIPPED)
		return G3_OK;      /* not restored (--no-es, --index, skipped) or already failed */
	g3_err_init(&ierr);
	if (restore_interrupted)
		return g3_err_set(err, G3_FAIL, "interrupted");
	switch (kind) {
	case G3_MEMBER_ES_INDEX:
		if (x->state != IX_PLANNED) {
			g3_err_set(&ierr, G3_FAIL, "a second \"%s\"", name);
			break;
		}
		if ((rc = g3_reader_slurp(in->rd, MAX_ES_JSON, &json, &ierr)) ||
		    (rc = g3_es_index_member_parse(json.data ? json.data : "", json.len, name,
						   &x->ix.def, &ierr)))
			break;
		g3_info("restoring index \"%s\" into \"%s\"", x->ix.name, x->ix.concrete);
		{
			g3_buf origin = G3_BUF_INIT;

			g3_buf_addf(&origin, "snapshot \"%s\"", in->src->name);
			/* 1.2: the alias waits for end.json's member_sums (index.json's
			 * among them) */
			x->ix.hold_alias = p->manifest.format_minor >= G3_SNAP_MINOR_MEMBER_SUMS;
			rc = g3_esrestore_begin(&e->es, &e->ro, &x->ix, origin.data, &ierr);
			g3_buf_release(&origin);
		}
		x->state = IX_LOADING;
		x->next_part = 1;
		g3_progress_item_start(x->ix.name, G3_PROGRESS_DOCS);
		break;
	case G3_MEMBER_ES_DOCS_HEADER:
		if (x->state != IX_LOADING || x->hdr_number) {
			rc = g3_err_set(&ierr, G3_FAIL, "snapshot member \"%s\" comes %s", name,
					x->hdr_number ? "after a header without its documents"
						      : "before es/<index>/index.json");
			break;
		}
		if ((rc = g3_reader_slurp(in->rd, MAX_ES_JSON, &json, &ierr)) ||
		    (rc = g3_es_docs_header_parse(json.data ? json.data : "", json.len, name,
						  &x->hdr, &ierr)))
			break;
		if (x->hdr.part != x->next_part || number != x->next_part) {
			rc = g3_err_set(&ierr, G3_FAIL, "snapshot member \"%s\" is part %llu where "
					"part %llu was expected", name, (unsigned long long)x->hdr.part,
					(unsigned long long)x->next_part);
			break;
		}
		x->hdr_number = number;
		break;
	case G3_MEMBER_ES_DOCS:
		if (x->state != IX_LOADING || x->hdr_number != number) {
			rc = g3_err_set(&ierr, G3_FAIL, "snapshot member \"%s\" has no header before it",
					name);
			break;
		}
		x->hdr_number = 0;
		if ((rc = load_docs(e, x, in, name, &ierr)))
			break;
		x->docs += x->hdr.docs;
		x->bytes += x->hdr.bytes;
		x->chunks++;
		x->next_part++;
		g3_progress_item_add(x->ix.name, x->hdr.docs);
		if (x->hdr.last) {
			g3_progress_item_done(x->ix.name, 0);
			finish_index(e, x);
		}
		break;
	default:
		break;
	}
	g3_buf_release(&json);
	if (rc) {
		if (restore_interrupted)
			return g3_err_set(err, G3_FAIL, "interrupted");
		if (ierr.rc == G3_UNREACHABLE) {
			*err = ierr;
			return G3_UNREACHABLE;
		}
		fail_index(e, x, &ierr);
	}
	return G3_OK;
}

g3_rc es_end(struct plan *p, const g3_snap_end *end, const char *source, g3_err *err)
{
	struct es_plan *e = p->es;

	for (size_t i = 0; e && i < e->n; i++) {
		struct es_index *x = &e->ix[i];
		const g3_end_index *ei = NULL;
		g3_err ierr;

		if (x->state == IX_FAILED || x->state == IX_SKIPPED)
			continue;
		g3_err_init(&ierr);
		for (size_t k = 0; k < end->n_indices; k++)
			if (!strcmp(end->indices[k].name, x->ix.name))
				ei = &end->indices[k];
		if (x->state != IX_DONE) {
			g3_err_set(&ierr, G3_FAIL, "snapshot \"%s\" %s", source, x->state == IX_PLANNED
				   ? "has no members for it" : "ends before its last documents chunk");
			fail_index(e, x, &ierr);
		} else if (!ei || ei->docs != x->docs || ei->bytes != x->bytes ||
			   ei->chunks != x->chunks) {
			g3_err_set(&ierr, G3_FAIL, "snapshot \"%s\": end.json does not agree with the "
				   "documents of index \"%s\" (%lld %s, %lld %s, %lld %s read)", source,
				   x->ix.name, (long long)x->docs,
				   g3_plural(x->docs, "document", "documents"), (long long)x->bytes,
				   g3_plural(x->bytes, "byte", "bytes"), (long long)x->chunks,
				   g3_plural(x->chunks, "chunk", "chunks"));
			if (x->ix.hold_alias && !x->ix.loaded) {
				g3_esrestore_discard(&e->es, &x->ix);
				x->state = IX_PLANNED;
				fail_index(e, x, &ierr);
				continue;
			}
			/* 1.1: loaded and verified chunk by chunk, the alias has moved */
			g3_log_err(&ierr);
			e->failed = 1;
		} else if (x->ix.hold_alias && !x->ix.loaded) {
			if (g3_esrestore_publish(&e->es, &e->ro, &x->ix, &ierr)) {
				x->state = IX_PLANNED;   /* publish deleted it */
				fail_index(e, x, &ierr);
				continue;
			}
			g3_info("restored index \"%s\" (%s): %llu documents", x->ix.name,
				x->ix.concrete, (unsigned long long)x->ix.docs_read);
		}
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
