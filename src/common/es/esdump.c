/*
 * Elasticsearch indices read out into elasticdump files (esdump.h): per
 * index its definition (g3_esdump_definition), then its documents
 * (g3_esdump_documents) through write_doc into the data file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	g3_es_release(&d->es);
	g3_esconf_release(&d->conf);
	memset(d, 0, sizeof(*d));
}

g3_rc g3_esdump_open(g3_esdump *d, const char *url, const char *cacert, int wait, g3_err *err)
{
	return connect_es(d, url, cacert, wait, NULL, err);
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
