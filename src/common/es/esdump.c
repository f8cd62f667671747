/*
 * Elasticsearch indices read out into elasticdump files or snapshot
 * members (esdump.h). Both read an index the same way: its definition by
 * read_definition, its documents by g3_esdump_documents with a writer
 * callback (write_doc for a file, on_doc for snapshot chunks).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/log.h"
#include "../base/progress.h"
#include "../base/strbuf.h"
#include "esdump.h"
#include "esrestore.h"

#define FLUSH_BYTES (1u << 20)

/* An index's definition as read: GET /<index> parts for its concrete index. */
struct definition {
	char *concrete;
	json_object *mappings, *settings, *aliases;
};

static void definition_release(struct definition *def)
{
	free(def->concrete);
	json_object_put(def->mappings);
	json_object_put(def->settings);
	json_object_put(def->aliases);
	memset(def, 0, sizeof(*def));
}

static g3_rc read_definition(g3_esdump *d, const char *index, struct definition *def,
			     g3_err *err)
{
	memset(def, 0, sizeof(*def));
	return g3_esdump_definition(&d->es, index, &def->concrete, &def->mappings, &def->settings,
				    &def->aliases, err);
}

static g3_rc connect_es(g3_esdump *d, const char *url, const char *cacert, int wait,
			const char *dir, g3_err *err)
{
	g3_rc rc;

	if ((rc = g3_esconf_set(&d->conf, url, cacert, err)))
		return rc;
	if (dir && mkdir(dir, 0777) && errno != EEXIST)
		return g3_err_set(err, G3_FAIL, "could not create \"%s\": %s", dir, strerror(errno));
	return g3_es_connect(&d->es, &d->conf, wait, err);
}

void g3_esdump_init(g3_esdump *d)
{
	memset(d, 0, sizeof(*d));
	g3_esconf_init(&d->conf);
	g3_es_init(&d->es);
	d->page = G3_ESDUMP_PAGE;
}

void g3_esdump_release(g3_esdump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->ix[i].name);
		free(d->ix[i].concrete);
		g3_esdef_release(&d->ix[i].def);
	}
	free(d->ix);
	g3_es_release(&d->es);
	g3_esconf_release(&d->conf);
	memset(d, 0, sizeof(*d));
}

/* ---- elasticdump files ---------------------------------------------------- */

g3_rc g3_esdump_dir_open(g3_esdump *d, const char *url, const char *cacert, int wait,
			 const char *dir, g3_err *err)
{
	return connect_es(d, url, cacert, wait, dir, err);
}

struct datafile {
	FILE *f;
	const char *path;
	const char *index;
	g3_buf buf;
	int64_t docs;        /* in buf */
};

static g3_rc flush(struct datafile *f, g3_err *err)
{
	if (f->buf.len && fwrite(f->buf.data, 1, f->buf.len, f->f) != f->buf.len)
		return g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", f->path, strerror(errno));
	g3_progress_add_bytes((int64_t)f->buf.len);
	g3_progress_item_add(f->index, f->docs);
	f->docs = 0;
	g3_buf_reset(&f->buf);
	return G3_OK;
}

static g3_rc write_doc(void *arg, const char *index, const char *type, const char *id,
		       const char *source, size_t len, g3_err *err)
{
	struct datafile *f = arg;

	g3_docwriter_line(&f->buf, index, type, id, source, len);
	f->docs++;
	return f->buf.len >= FLUSH_BYTES ? flush(f, err) : G3_OK;
}

static char *out_path(const char *dir, const char *index, const char *what, int part)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s/%s__%s.json%s", dir, index, what, part ? ".part" : "");
	return g3_buf_detach(&b);
}

/* A written part file (ok: written and closed without error) renamed to
 * final; part is removed on failure. */
static g3_rc commit_file(const char *part, const char *final, int ok, g3_err *err)
{
	if (!ok) {
		int e = errno;

		unlink(part);
		return g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", part, strerror(e));
	}
	if (rename(part, final)) {
		g3_err_set(err, G3_FAIL, "could not rename \"%s\": %s", part, strerror(errno));
		unlink(part);
		return G3_FAIL;
	}
	return G3_OK;
}

/*
 * Writes {"<concrete>": {key: value}} into DIR/<index>__<what>.json; as a
 * JSON string holding that text when encoded, the way elasticdump writes
 * (and only reads back) its settings and alias files.
 */
static g3_rc write_def(const char *dir, const char *index, const char *what, const char *concrete,
		       const char *key, json_object *value, int encoded, g3_err *err)
{
	json_object *root = json_object_new_object(), *inner = json_object_new_object();
	json_object *str = NULL;
	char *part = out_path(dir, index, what, 1), *final = out_path(dir, index, what, 0);
	FILE *f = NULL;
	const char *text;
	int ok;
	g3_rc rc;

	json_object_object_add(inner, key, json_object_get(value));
	json_object_object_add(root, concrete, inner);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (encoded) {
		str = json_object_new_string(text);
		text = json_object_to_json_string_ext(str, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	if (!(f = fopen(part, "wb"))) {
		rc = g3_err_set(err, G3_FAIL, "could not create \"%s\": %s", part, strerror(errno));
		goto cleanup;
	}
	ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	ok = !fclose(f) && ok;
	rc = commit_file(part, final, ok, err);
cleanup:
	json_object_put(str);
	json_object_put(root);
	free(part);
	free(final);
	return rc;
}

/* index's documents into DIR/<index>__data.json; *count gets how many. */
static g3_rc write_data(g3_esdump *d, const char *dir, const char *index, uint64_t *count,
			g3_err *err)
{
	char *part = out_path(dir, index, "data", 1), *final = out_path(dir, index, "data", 0);
	struct datafile f = { NULL, part, index, G3_BUF_INIT, 0 };
	g3_rc rc;

	if (!(f.f = fopen(part, "wb"))) {
		rc = g3_err_set(err, G3_FAIL, "could not create \"%s\": %s", part, strerror(errno));
		goto cleanup;
	}
	g3_progress_item_start(index, G3_PROGRESS_DOCS);
	if (!(rc = g3_esdump_documents(&d->es, index, (int)d->page, write_doc, &f, count, err)))
		rc = flush(&f, err);
	if (rc) {
		fclose(f.f);
		unlink(part);
		goto cleanup;
	}
	g3_progress_item_done(index, (int64_t)*count);
	rc = commit_file(part, final, !fclose(f.f), err);
cleanup:
	g3_buf_release(&f.buf);
	free(part);
	free(final);
	return rc;
}

g3_rc g3_esdump_dir_index(g3_esdump *d, const char *dir, const char *index, g3_err *err)
{
	struct definition def;
	uint64_t count = 0;
	g3_rc rc;

	if ((rc = read_definition(d, index, &def, err)))
		goto cleanup;
	if ((rc = write_def(dir, index, "mapping", def.concrete, "mappings", def.mappings, 0, err)) ||
	    (rc = write_def(dir, index, "settings", def.concrete, "settings", def.settings, 1, err)) ||
	    (rc = write_def(dir, index, "alias", def.concrete, "aliases", def.aliases, 1, err)) ||
	    (rc = write_data(d, dir, index, &count, err)))
		goto cleanup;
	g3_info("dumped index \"%s\" (%s): %llu %s", index, def.concrete,
		(unsigned long long)count, g3_plural((long long)count, "document", "documents"));
cleanup:
	definition_release(&def);
	return rc;
}

/* ---- snapshot members -------------------------------------------------------- */

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* x's definition and count, x->name checked; listed in the manifest. */
static g3_rc plan_index(g3_esdump *d, g3_esdump_index *x, g3_manifest *m, g3_err *err)
{
	struct definition def;
	g3_snap_index *mi;
	g3_rc rc;

	if ((rc = read_definition(d, x->name, &def, err)))
		goto cleanup;
	x->concrete = def.concrete;
	def.concrete = NULL;
	if ((rc = g3_esdef_from_json(&x->def, x->concrete, def.mappings, def.settings,
				     def.aliases, err)) ||
	    (rc = g3_es_count(&d->es, x->concrete, &x->count, err)))
		goto cleanup;
	mi = g3_manifest_add_index(m, x->name, x->count, -1);
	mi->concrete = g3_xstrdup(x->concrete);
	mi->source_distribution = g3_xstrdup(d->es.dist == G3_ES_OPENSEARCH ? "opensearch"
									 : "elasticsearch");
	mi->source_version = g3_xstrdup(d->es.version);
cleanup:
	definition_release(&def);
	return rc;
}

g3_rc g3_esdump_plan(g3_esdump *d, const char *url, const char *cacert, int wait,
		     char *const *indices, size_t n, g3_manifest *m, g3_err *err)
{
	g3_rc rc;

	if ((rc = connect_es(d, url, cacert, wait, NULL, err)))
		return rc;
	d->ix = g3_xcalloc(n + 1, sizeof(*d->ix));
	for (size_t i = 0; i < n; i++) {
		g3_esdump_index *x = &d->ix[d->n++];

		g3_esdef_init(&x->def);
		x->name = g3_xstrdup(indices[i]);
		if (strchr(x->name, '/') || !g3_snap_name_ok(x->name))
			return g3_err_set(err, G3_USAGE, "index name \"%s\" cannot be a snapshot "
					  "member name", x->name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(indices[k], x->name))
				return g3_err_set(err, G3_USAGE, "index \"%s\" is given twice", x->name);
		if ((rc = plan_index(d, x, m, err)))
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
static g3_rc write_index(g3_esdump *d, g3_esdump_index *x, g3_snap_writer *w, g3_snap_end *end,
			 g3_err *err)
{
	struct docs_out o;
	g3_buf name = G3_BUF_INIT, json = G3_BUF_INIT;
	uint64_t count = 0;
	double t0 = now_seconds();
	g3_rc rc;

	memset(&o, 0, sizeof(o));
	o.w = w;
	o.name = x->name;
	o.chunk_size = d->chunk_size;
	o.ei = g3_snap_end_add_index(end, x->name);
	g3_es_index_member_to_json(x->name, &x->def, &json);
	g3_buf_addf(&name, "es/%s/index.json", x->name);
	g3_progress_item_start(x->name, G3_PROGRESS_DOCS);
	rc = g3_snap_add_member(w, name.data, json.data, json.len, err);
	if (!rc)
		rc = g3_esdump_documents(&d->es, x->concrete, (int)d->page, on_doc, &o, &count, err);
	if (!rc)
		rc = flush_chunk(&o, 1, err);
	g3_progress_item_done(x->name, 0);
	g3_buf_release(&o.chunk);
	g3_buf_release(&o.line);
	g3_buf_release(&name);
	g3_buf_release(&json);
	if (rc)
		return rc;
	x->seconds = now_seconds() - t0;
	g3_info("dumped index \"%s\" (%s): %" PRId64 " %s, %.1f MB in %" PRId64
		" %s in %.1f s", x->name, x->concrete, o.ei->docs,
		g3_plural(o.ei->docs, "document", "documents"),
		(double)o.ei->bytes / 1e6, o.ei->chunks,
		g3_plural(o.ei->chunks, "chunk", "chunks"), x->seconds);
	return G3_OK;
}

g3_rc g3_esdump_write(g3_esdump *d, g3_snap_writer *w, g3_snap_end *end, g3_err *err)
{
	g3_rc rc;

	for (size_t i = 0; i < d->n; i++) {
		if ((rc = write_index(d, &d->ix[i], w, end, err))) {
			g3_err_prefix(err, "index \"%s\"", d->ix[i].name);
			return rc;
		}
	}
	return G3_OK;
}
