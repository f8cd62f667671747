/*
 * Elasticsearch indices into a snapshot's members (snapesdump.h): the plan
 * reads each definition and count for the manifest, then write_index
 * streams the documents through on_doc into chunks.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../base/progress.h"
#include "../base/strbuf.h"
#include "../es/esrestore.h"
#include "snapesdump.h"

void g3_snap_esdump_init(g3_snap_esdump *s)
{
	memset(s, 0, sizeof(*s));
	g3_esdump_init(&s->d);
}

void g3_snap_esdump_release(g3_snap_esdump *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->ix[i].name);
		free(s->ix[i].concrete);
		g3_esdef_release(&s->ix[i].def);
	}
	free(s->ix);
	g3_esdump_release(&s->d);
	memset(s, 0, sizeof(*s));
}

/* x's definition and count; listed in the manifest. */
static g3_rc plan_index(g3_esdump *d, g3_snap_esdump_index *x, g3_manifest *m, g3_err *err)
{
	json_object *mappings = NULL, *settings = NULL, *aliases = NULL;
	g3_snap_index *mi;
	g3_rc rc;

	if ((rc = g3_esdump_definition(&d->es, x->name, &x->concrete, &mappings, &settings,
				       &aliases, err)) ||
	    (rc = g3_esdef_from_json(&x->def, x->concrete, mappings, settings, aliases, err)) ||
	    (rc = g3_es_count(&d->es, x->concrete, &x->count, err)))
		goto cleanup;
	mi = g3_manifest_add_index(m, x->name, x->count, -1);
	mi->concrete = g3_xstrdup(x->concrete);
	mi->source_distribution = g3_xstrdup(d->es.dist == G3_ES_OPENSEARCH ? "opensearch"
									 : "elasticsearch");
	mi->source_version = g3_xstrdup(d->es.version);
cleanup:
	json_object_put(mappings);
	json_object_put(settings);
	json_object_put(aliases);
	return rc;
}

g3_rc g3_snap_esdump_plan(g3_snap_esdump *s, const char *url, const char *cacert, int wait,
			  char *const *indices, size_t n, g3_manifest *m, g3_err *err)
{
	g3_rc rc;

	if ((rc = g3_esdump_open(&s->d, url, cacert, wait, err)))
		return rc;
	s->ix = g3_xcalloc(n + 1, sizeof(*s->ix));
	for (size_t i = 0; i < n; i++) {
		g3_snap_esdump_index *x = &s->ix[s->n++];

		g3_esdef_init(&x->def);
		x->name = g3_xstrdup(indices[i]);
		if (strchr(x->name, '/') || !g3_snap_name_ok(x->name))
			return g3_err_set(err, G3_USAGE, "index name \"%s\" cannot be a snapshot "
					  "member name", x->name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(indices[k], x->name))
				return g3_err_set(err, G3_USAGE, "index \"%s\" is given twice", x->name);
		if ((rc = plan_index(&s->d, x, m, err)))
			return rc;
	}
	return G3_OK;
}

struct docs_out {
	g3_snap_writer *w;
	const char *name;
	g3_end_index *ei;
	size_t chunk_size;
	g3_buf chunk;
	int64_t docs;           /* in chunk */
	uint64_t number;
	g3_buf line;
};

static g3_rc flush_chunk(struct docs_out *o, int last, g3_err *err)
{
	g3_es_docs_header h;
	g3_buf name = G3_BUF_INIT, json = G3_BUF_INIT;
	g3_rc rc;

	memset(&h, 0, sizeof(h));
	h.part = ++o->number;
	h.last = last;
	h.docs = o->docs;
	h.bytes = (int64_t)o->chunk.len;
	g3_sha256_hex(o->chunk.data ? o->chunk.data : "", o->chunk.len, h.sha256);
	g3_es_docs_header_to_json(&h, &json);
	g3_buf_addf(&name, "es/%s/docs.%06" PRIu64 ".json", o->name, o->number);
	if ((rc = g3_snap_add_member(o->w, name.data, json.data, json.len, err)))
		goto cleanup;
	g3_buf_reset(&name);
	g3_buf_addf(&name, "es/%s/docs.%06" PRIu64 ".ndjson", o->name, o->number);
	g3_snap_writer_member_sum(o->w, h.sha256);
	if ((rc = g3_snap_add_member(o->w, name.data, o->chunk.data ? o->chunk.data : "",
				     o->chunk.len, err)))
		goto cleanup;
	g3_progress_add_bytes((int64_t)o->chunk.len);
	g3_progress_item_add(o->name, o->docs);
	o->ei->docs += o->docs;
	o->ei->bytes += (int64_t)o->chunk.len;
	o->ei->chunks++;
	o->docs = 0;
	g3_buf_reset(&o->chunk);
cleanup:
	g3_buf_release(&name);
	g3_buf_release(&json);
	return rc;
}

static g3_rc on_doc(void *arg, const char *index, const char *type, const char *id,
		    const char *source, size_t len, g3_err *err)
{
	struct docs_out *o = arg;
	g3_rc rc;

	(void)index;
	g3_buf_reset(&o->line);
	/* _type only where the source has types other than the default */
	g3_es_doc_line(&o->line, id, type && strcmp(type, "_doc") ? type : NULL, source, len);
	if (o->chunk.len && o->chunk.len + o->line.len > o->chunk_size &&
	    (rc = flush_chunk(o, 0, err)))
		return rc;
	g3_buf_add(&o->chunk, o->line.data, o->line.len);
	o->docs++;
	return G3_OK;
}

/* One planned index: es/<index>/index.json, then its documents' chunks. */
static g3_rc write_index(g3_snap_esdump *s, g3_snap_esdump_index *x, g3_snap_writer *w,
			 g3_snap_end *end, g3_err *err)
{
	struct docs_out o;
	g3_buf name = G3_BUF_INIT, json = G3_BUF_INIT;
	uint64_t count = 0;
	double t0 = g3_clock_now();
	g3_rc rc;

	memset(&o, 0, sizeof(o));
	o.w = w;
	o.name = x->name;
	o.chunk_size = s->chunk_size;
	o.ei = g3_snap_end_add_index(end, x->name);
	g3_es_index_member_to_json(x->name, &x->def, &json);
	g3_buf_addf(&name, "es/%s/index.json", x->name);
	g3_progress_item_start(x->name, G3_PROGRESS_DOCS);
	rc = g3_snap_add_member(w, name.data, json.data, json.len, err);
	if (!rc)
		rc = g3_esdump_documents(&s->d.es, x->concrete, (int)s->d.page, on_doc, &o, &count,
					 err);
	if (!rc)
		rc = flush_chunk(&o, 1, err);
	g3_progress_item_done(x->name, 0);
	g3_buf_release(&o.chunk);
	g3_buf_release(&o.line);
	g3_buf_release(&name);
	g3_buf_release(&json);
	if (rc)
		return rc;
	x->seconds = g3_clock_now() - t0;
	g3_info("dumped index \"%s\" (%s): %" PRId64 " %s, %.1f MB in %" PRId64
		" %s in %.1f s", x->name, x->concrete, o.ei->docs,
		g3_plural(o.ei->docs, "document", "documents"),
		(double)o.ei->bytes / 1e6, o.ei->chunks,
		g3_plural(o.ei->chunks, "chunk", "chunks"), x->seconds);
	return G3_OK;
}

g3_rc g3_snap_esdump_write(g3_snap_esdump *s, g3_snap_writer *w, g3_snap_end *end, g3_err *err)
{
	g3_rc rc;

	for (size_t i = 0; i < s->n; i++) {
		if ((rc = write_index(s, &s->ix[i], w, end, err))) {
			g3_err_prefix(err, "index \"%s\"", s->ix[i].name);
			return rc;
		}
	}
	return G3_OK;
}
