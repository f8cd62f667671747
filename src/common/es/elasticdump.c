/*
 * elasticdump's file layout: index definitions and streamed documents.
 * See elasticdump.h.
 */
#include "elasticdump.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "es.h"
#include "../base/log.h"
#include "../base/opts.h"
#include "../io/sourcefile.h"

/* Nesting allowed in one document line (json-c's default is 32). */
#define DOC_MAX_DEPTH 256

void g3_esdef_init(g3_esdef *d)
{
	memset(d, 0, sizeof(*d));
}

void g3_esdef_release(g3_esdef *d)
{
	free(d->source_index);
	json_object_put(d->mappings);
	free(d->type_name);
	json_object_put(d->settings);
	json_object_put(d->aliases);
	memset(d, 0, sizeof(*d));
}

void g3_edump_files_release(g3_edump_files *f)
{
	G3_FREE_ALL(f->mapping, f->settings, f->alias, f->data, f->analyzer, f->templates,
		    f->index);
	memset(f, 0, sizeof(*f));
}

static int is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* One layout's file names: <index><sep><type>.json, the data file's type
 * being data_type (NULL: <index>.json). */
typedef struct layout {
	const char *name, *sep, *data_type;
} layout;

static const layout layouts[] = {
	{ "elasticdump", "__", "data" },
	{ "multielasticdump", ".", NULL },
};

static const char *const def_types[] = {
	"mapping", "settings", "analyzer", "alias", "template", "index", NULL
};

static char *layout_path(const char *dir, const char *sub, const char *index, const layout *l,
			 const char *type)
{
	g3_buf b = G3_BUF_INIT;

	if (type)
		g3_buf_addf(&b, "%s/%s%s%s%s.json", dir, sub, index, l->sep, type);
	else
		g3_buf_addf(&b, "%s/%s%s.json", dir, sub, index);
	return g3_buf_detach(&b);
}

/* The path of type's file in layout l when it exists, else NULL. */
static char *existing(const char *dir, const char *sub, const char *index, const layout *l,
		      const char *type)
{
	char *p = layout_path(dir, sub, index, l, type);

	if (is_file(p))
		return p;
	free(p);
	return NULL;
}

/* The first file of index in layout l under dir/sub, or NULL. */
static char *any_file(const char *dir, const char *sub, const char *index, const layout *l)
{
	char *p = existing(dir, sub, index, l, l->data_type);

	for (size_t i = 0; !p && def_types[i]; i++)
		p = existing(dir, sub, index, l, def_types[i]);
	return p;
}

g3_rc g3_edump_locate(const char *dir, const char *index, g3_edump_files *f, g3_err *err)
{
	static const char *const subs[] = { "", "es/" };
	const layout *l = &layouts[0];
	const char *sub = "";

	memset(f, 0, sizeof(*f));
	if (strchr(index, '/') || !strcmp(index, "..") || !strcmp(index, ".") || !*index)
		return g3_err_set(err, G3_USAGE, "\"%s\" is not a valid index name", index);
	for (size_t s = 0; s < sizeof(subs) / sizeof(subs[0]); s++) {
		char *found[2];
		int n = 0;

		for (size_t i = 0; i < 2; i++)
			if ((found[i] = any_file(dir, subs[s], index, &layouts[i])))
				n++;
		if (n == 2) {
			g3_err_set(err, G3_USAGE, "index \"%s\" is in two layouts: \"%s\" (%s) and "
				   "\"%s\" (%s)", index, found[0], layouts[0].name, found[1],
				   layouts[1].name);
			g3_err_hint(err, "keep one layout's files of the index in the directory");
			free(found[0]);
			free(found[1]);
			return G3_USAGE;
		}
		free(found[0]);
		free(found[1]);
		if (n) {
			sub = subs[s];
			l = found[0] ? &layouts[0] : &layouts[1];
			break;
		}
	}
	f->layout = l->name;
	f->mapping = existing(dir, sub, index, l, "mapping");
	f->settings = existing(dir, sub, index, l, "settings");
	f->analyzer = existing(dir, sub, index, l, "analyzer");
	f->alias = existing(dir, sub, index, l, "alias");
	f->templates = existing(dir, sub, index, l, "template");
	f->index = existing(dir, sub, index, l, "index");
	f->data = layout_path(dir, sub, index, l, l->data_type);
	if (!f->mapping && !f->index) {
		char *want = layout_path(dir, sub, index, l, "mapping");

		g3_err_set(err, G3_USAGE, "no mapping file for index \"%s\": \"%s\" is missing",
			   index, want);
		free(want);
		g3_err_hint(err, "the directory should hold <index>__mapping.json and "
			    "<index>__data.json (elasticdump's layout), or <index>.mapping.json "
			    "and <index>.json (multielasticdump's)");
		goto fail;
	}
	if (!is_file(f->data)) {
		g3_err_set(err, G3_USAGE, "no data file for index \"%s\": \"%s\" is missing",
			   index, f->data);
		goto fail;
	}
	return G3_OK;
fail:
	g3_edump_files_release(f);
	return G3_USAGE;
}

/* Parses a whole (small) definition file; errors name it. */
static g3_rc read_json_file(const char *path, json_object **out, g3_err *err)
{
	FILE *f = g3_source_is_url(path) ? g3_source_fopen(path, err) : fopen(path, "rb");
	json_tokener *tok = NULL;
	char buf[65536];
	size_t n;
	long line = 1, total = 0;
	g3_rc rc = G3_OK;

	*out = NULL;
	if (!f)
		return g3_source_is_url(path) ? err->rc
			: g3_err_set(err, G3_USAGE, "could not open \"%s\": %s", path, strerror(errno));
	tok = json_tokener_new();
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		enum json_tokener_error je;

		total += (long)n;
		if (total > G3_EDUMP_DEF_MAX) {
			rc = g3_err_set(err, G3_USAGE, "\"%s\" is larger than %ld MiB, too large for "
					"an index definition", path, G3_EDUMP_DEF_MAX >> 20);
			goto cleanup;
		}
		*out = json_tokener_parse_ex(tok, buf, (int)n);
		je = json_tokener_get_error(tok);
		if (je != json_tokener_continue && je != json_tokener_success) {
			size_t off = json_tokener_get_parse_end(tok);

			for (size_t i = 0; i < off && i < n; i++)
				line += buf[i] == '\n';
			rc = g3_err_set(err, G3_USAGE, "\"%s\" is not valid JSON (line %ld): %s",
					path, line, json_tokener_error_desc(je));
			goto cleanup;
		}
		if (*out) {
			/* anything but whitespace after the value is an error */
			for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
				if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\r' && buf[i] != '\t') {
					rc = g3_err_set(err, G3_USAGE,
							"\"%s\" is not valid JSON: trailing data", path);
					goto cleanup;
				}
			break;
		}
		for (size_t i = 0; i < n; i++)
			line += buf[i] == '\n';
	}
	if (ferror(f)) {
		rc = g3_err_set(err, G3_USAGE, "could not read \"%s\": %s", path, strerror(errno));
		goto cleanup;
	}
	if (!*out) {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is not valid JSON: %s", path,
				n == 0 && line == 1 ? "the file is empty" : "unexpected end of file");
		goto cleanup;
	}
cleanup:
	if (rc) {
		json_object_put(*out);
		*out = NULL;
	}
	json_tokener_free(tok);
	fclose(f);
	return rc;
}

/*
 * A definition file: elasticdump writes every type but mapping as a JSON
 * string holding the document; the string is decoded and the document in
 * it parsed (the file's size bound holds for it too).
 */
static g3_rc read_def_file(const char *path, json_object **out, g3_err *err)
{
	json_object *inner = NULL;
	json_tokener *tok = NULL;
	enum json_tokener_error je;
	const char *text;
	int len;
	g3_rc rc;

	if ((rc = read_json_file(path, out, err)) || !json_object_is_type(*out, json_type_string))
		return rc;
	text = json_object_get_string(*out);
	len = json_object_get_string_len(*out);
	tok = json_tokener_new();
	inner = json_tokener_parse_ex(tok, text, len);
	je = json_tokener_get_error(tok);
	if (inner && je == json_tokener_success) {
		for (size_t i = json_tokener_get_parse_end(tok); i < (size_t)len; i++)
			if (!strchr(" \t\r\n", text[i])) {
				je = json_tokener_error_parse_unexpected;
				break;
			}
	}
	if (!inner || je != json_tokener_success) {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" holds a JSON string that is not a JSON "
				"document: %s", path, je == json_tokener_continue
				? "unexpected end of string" : json_tokener_error_desc(je));
		json_object_put(inner);
		inner = NULL;
	}
	json_tokener_free(tok);
	json_object_put(*out);
	*out = inner;
	return rc;
}

/*
 * {"<concrete>": {key: value}} -> value (borrowed), *name the concrete
 * index. Entries with an empty object are passed over: elasticdump, given
 * an alias, writes {"<concrete>":{...},"<alias>":{}}. One concrete index
 * per file: the first other entry.
 */
static g3_rc unwrap_entry(json_object *root, const char *key, const char *path,
			  const char **name, json_object **entry, g3_err *err)
{
	*entry = NULL;
	if (json_object_is_type(root, json_type_object)) {
		json_object_object_foreach(root, k, inner) {
			if (json_object_is_type(inner, json_type_object) &&
			    !json_object_object_length(inner))
				continue;
			if (!json_object_is_type(inner, json_type_object))
				return g3_err_set(err, G3_USAGE, "\"%s\": index \"%s\" is not an object",
						  path, k);
			*name = k;
			*entry = inner;
			return G3_OK;
		}
	}
	return g3_err_set(err, G3_USAGE, "\"%s\" is not {\"<index>\": {\"%s\": ...}}", path, key);
}

static g3_rc unwrap(json_object *root, const char *key, const char *path, const char **name,
		    json_object **out, g3_err *err)
{
	json_object *entry;
	g3_rc rc;

	*out = NULL;
	if ((rc = unwrap_entry(root, key, path, name, &entry, err)))
		return rc;
	if (!json_object_object_get_ex(entry, key, out) || !json_object_is_type(*out, json_type_object)) {
		*out = NULL;
		return g3_err_set(err, G3_USAGE, "\"%s\": index \"%s\" has no \"%s\" object",
				  path, *name, key);
	}
	return G3_OK;
}

static const char *const mapping_params[] = {
	"properties", "dynamic", "_source", "_meta", "_routing", "dynamic_templates",
	"date_detection", "numeric_detection", "dynamic_date_formats", "_all",
	"_field_names", "enabled", "_size", "runtime", "_data_stream_timestamp",
	"subobjects", "_parent", "_timestamp", "_ttl", "include_in_all", NULL
};

json_object *g3_es_mapping_untype(json_object *mappings, char **type)
{
	*type = NULL;
	if (json_object_is_type(mappings, json_type_object) &&
	    json_object_object_length(mappings) == 1) {
		json_object_object_foreach(mappings, k, v) {
			int param = 0;

			for (size_t i = 0; mapping_params[i]; i++)
				if (!strcmp(k, mapping_params[i]))
					param = 1;
			if (!param && json_object_is_type(v, json_type_object)) {
				*type = g3_xstrdup(k);
				return json_object_get(v);
			}
		}
	}
	return json_object_get(mappings);
}

static const char *const cluster_keys[] = {
	"uuid", "creation_date", "creation_date_string", "version", "provided_name",
	"history_uuid", "resize", "verified_before_close", "frozen", "shrink", NULL
};

static void clean_index_object(json_object *idx)
{
	json_object *routing, *alloc;

	for (size_t i = 0; cluster_keys[i]; i++)
		json_object_object_del(idx, cluster_keys[i]);
	if (json_object_object_get_ex(idx, "routing", &routing) &&
	    json_object_object_get_ex(routing, "allocation", &alloc)) {
		json_object_object_del(alloc, "initial_recovery");
		if (json_object_object_length(alloc) == 0)
			json_object_object_del(routing, "allocation");
		if (json_object_object_length(routing) == 0)
			json_object_object_del(idx, "routing");
	}
}

void g3_es_settings_clean(json_object *settings)
{
	json_object *idx;
	char **flat = NULL;
	size_t n = 0;

	if (!json_object_is_type(settings, json_type_object))
		return;
	if (json_object_object_get_ex(settings, "index", &idx) &&
	    json_object_is_type(idx, json_type_object))
		clean_index_object(idx);
	json_object_object_foreach(settings, k, v) {
		(void)v;
		if (strncmp(k, "index.", 6))
			continue;
		for (size_t i = 0; cluster_keys[i]; i++) {
			size_t l = strlen(cluster_keys[i]);

			if (!strncmp(k + 6, cluster_keys[i], l) && (!k[6 + l] || k[6 + l] == '.'))
				g3_strlist_add(&flat, &n, k);
		}
		if (!strncmp(k, "index.routing.allocation.initial_recovery", 41))
			g3_strlist_add(&flat, &n, k);
	}
	for (size_t i = 0; i < n; i++)
		json_object_object_del(settings, flat[i]);
	g3_strlist_free(flat, n);
}

g3_rc g3_esdef_from_json(g3_esdef *d, const char *index, json_object *mappings,
			 json_object *settings, json_object *aliases, g3_err *err)
{
	(void)err;
	free(d->source_index);
	d->source_index = g3_xstrdup(index);
	json_object_put(d->mappings);
	free(d->type_name);
	d->type_name = NULL;
	d->mappings = mappings ? g3_es_mapping_untype(mappings, &d->type_name)
			       : json_object_new_object();
	json_object_put(d->settings);
	d->settings = NULL;
	if (settings) {
		/* a deep copy: cleaning must not change the caller's object */
		json_object_deep_copy(settings, &d->settings, NULL);
		g3_es_settings_clean(d->settings);
	}
	json_object_put(d->aliases);
	d->aliases = aliases && json_object_object_length(aliases) ? json_object_get(aliases) : NULL;
	return G3_OK;
}

/* An optional member of an index file's entry: borrowed or NULL. */
static g3_rc optional_object(json_object *entry, const char *key, const char *path,
			     const char *name, json_object **out, g3_err *err)
{
	*out = NULL;
	if (!json_object_object_get_ex(entry, key, out) || !*out)
		return G3_OK;
	if (!json_object_is_type(*out, json_type_object)) {
		*out = NULL;
		return g3_err_set(err, G3_USAGE, "\"%s\": \"%s\" of index \"%s\" is not an object",
				  path, key, name);
	}
	return G3_OK;
}

/* The analysis settings of an analyzer file put into d's settings: what
 * elasticdump's analyzer import applies, and nothing else of the file. */
static g3_rc merge_analysis(g3_esdef *d, json_object *s, const char *path, g3_err *err)
{
	json_object *idx, *analysis, *mine, *copy = NULL;

	if (!json_object_object_get_ex(s, "index", &idx) ||
	    !json_object_object_get_ex(idx, "analysis", &analysis)) {
		if (json_object_object_get_ex(s, "analysis", &analysis) ||
		    json_object_object_get_ex(s, "index.analysis", &analysis))
			return g3_err_set(err, G3_USAGE, "\"%s\": analysis settings are only read as "
					  "{\"settings\":{\"index\":{\"analysis\":...}}}", path);
		return G3_OK;  /* the index had no analysis */
	}
	if (!json_object_is_type(analysis, json_type_object))
		return g3_err_set(err, G3_USAGE, "\"%s\": \"analysis\" is not an object", path);
	if (!d->settings)
		d->settings = json_object_new_object();
	if (!json_object_object_get_ex(d->settings, "index", &idx) ||
	    !json_object_is_type(idx, json_type_object)) {
		idx = json_object_new_object();
		json_object_object_add(d->settings, "index", idx);
	}
	if (json_object_object_get_ex(idx, "analysis", &mine)) {
		if (!json_object_equal(mine, analysis))
			return g3_err_set(err, G3_USAGE, "\"%s\" and the settings file give different "
					  "analysis settings", path);
		return G3_OK;
	}
	json_object_deep_copy(analysis, &copy, NULL);
	json_object_object_add(idx, "analysis", copy);
	return G3_OK;
}

/* Templates are cluster-wide (multielasticdump saves every template of the
 * cluster beside each index): checked, named, never restored. */
static g3_rc check_templates(json_object *root, const char *path, g3_err *err)
{
	g3_buf names = G3_BUF_INIT;

	if (!json_object_is_type(root, json_type_object))
		return g3_err_set(err, G3_USAGE, "\"%s\" is not {\"<template>\": {...}}", path);
	json_object_object_foreach(root, k, v) {
		if (!json_object_is_type(v, json_type_object)) {
			g3_buf_release(&names);
			return g3_err_set(err, G3_USAGE, "\"%s\": template \"%s\" is not an object",
					  path, k);
		}
		g3_buf_addf(&names, "%s\"%s\"", names.len ? ", " : "", k);
	}
	if (names.len)
		g3_debug("\"%s\": index templates are not restored (they belong to the cluster): %s",
			 path, names.data);
	g3_buf_release(&names);
	return G3_OK;
}

g3_rc g3_esdef_read(g3_esdef *d, const g3_edump_files *f, g3_err *err)
{
	json_object *mroot = NULL, *sroot = NULL, *aroot = NULL, *nroot = NULL, *troot = NULL;
	json_object *m = NULL, *s = NULL, *a = NULL, *ns = NULL, *entry;
	const char *name = NULL, *other;
	g3_rc rc;

	if (f->mapping) {
		if ((rc = read_def_file(f->mapping, &mroot, err)))
			goto cleanup;
		if ((rc = unwrap(mroot, "mappings", f->mapping, &name, &m, err)))
			goto cleanup;
	} else if (f->index) {
		/* GET /<index>: the whole definition in one entry */
		if ((rc = read_def_file(f->index, &mroot, err)))
			goto cleanup;
		if ((rc = unwrap(mroot, "mappings", f->index, &name, &m, err)) ||
		    (rc = unwrap_entry(mroot, "mappings", f->index, &name, &entry, err)) ||
		    (rc = optional_object(entry, "settings", f->index, name, &s, err)) ||
		    (rc = optional_object(entry, "aliases", f->index, name, &a, err)))
			goto cleanup;
	} else {
		rc = g3_err_set(err, G3_USAGE, "no mapping file");
		goto cleanup;
	}
	if (f->settings) {
		if ((rc = read_def_file(f->settings, &sroot, err)))
			goto cleanup;
		if ((rc = unwrap(sroot, "settings", f->settings, &other, &s, err)))
			goto cleanup;
	}
	if (f->alias) {
		if ((rc = read_def_file(f->alias, &aroot, err)))
			goto cleanup;
		if ((rc = unwrap(aroot, "aliases", f->alias, &other, &a, err)))
			goto cleanup;
	}
	if (f->analyzer) {
		if ((rc = read_def_file(f->analyzer, &nroot, err)))
			goto cleanup;
		if ((rc = unwrap(nroot, "settings", f->analyzer, &other, &ns, err)))
			goto cleanup;
	}
	if (f->templates) {
		if ((rc = read_def_file(f->templates, &troot, err)))
			goto cleanup;
		if ((rc = check_templates(troot, f->templates, err)))
			goto cleanup;
	}
	if ((rc = g3_esdef_from_json(d, name, m, s, a, err)))
		goto cleanup;
	if (ns)
		rc = merge_analysis(d, ns, f->analyzer, err);
cleanup:
	json_object_put(mroot);
	json_object_put(sroot);
	json_object_put(aroot);
	json_object_put(nroot);
	json_object_put(troot);
	return rc;
}

json_object *g3_esdef_create_body(const g3_esdef *d, int typed)
{
	json_object *body = json_object_new_object();
	json_object *m;

	if (d->settings)
		json_object_object_add(body, "settings", json_object_get(d->settings));
	if (typed) {
		m = json_object_new_object();
		json_object_object_add(m, d->type_name ? d->type_name : "_doc",
				       json_object_get(d->mappings));
	} else {
		m = json_object_get(d->mappings);
	}
	json_object_object_add(body, "mappings", m);
	return body;
}

g3_rc g3_docreader_open(g3_docreader *r, const char *path, g3_err *err)
{
	FILE *f;

	/* s3:// and http(s):// stream through a g3_source: no local copy */
	if (g3_source_is_url(path)) {
		memset(r, 0, sizeof(*r));
		if (!(f = g3_source_fopen(path, err)))
			return err->rc;
		g3_docreader_attach(r, f, path);
		r->own = 1;
		r->report = 1;
		return G3_OK;
	}
	f = fopen(path, "rb");
	memset(r, 0, sizeof(*r));
	if (!f)
		return g3_err_set(err, G3_USAGE, "could not open \"%s\": %s", path, strerror(errno));
	g3_docreader_attach(r, f, path);
	r->own = 1;
	r->report = 1;
	return G3_OK;
}

void g3_docreader_attach(g3_docreader *r, FILE *f, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->path = g3_xstrdup(name);
	g3_jscan_init(&r->scan);
}

void g3_docreader_release(g3_docreader *r)
{
	if (r->report)
		g3_progress_batch_flush(&r->progress);
	if (r->own && r->f)
		fclose(r->f);
	free(r->path);
	free(r->line);
	json_object_put(r->cur);
	if (r->tok)
		json_tokener_free(r->tok);
	g3_jscan_release(&r->scan);
	memset(r, 0, sizeof(*r));
}

int g3_docreader_next(g3_docreader *r, const char **id, const char **source, size_t *len,
		      g3_err *err)
{
	json_object *v, *src;
	g3_jscan_hit hit;
	ssize_t n;

	json_object_put(r->cur);
	r->cur = NULL;
	for (;;) {
		size_t i = 0;
		enum json_tokener_error je;

		errno = 0;
		n = getline(&r->line, &r->cap, r->f);
		if (r->report) {
			if (n > 0)
				g3_progress_batch_add(&r->progress, n);
			else
				g3_progress_batch_flush(&r->progress);
		}
		if (n < 0) {
			if (ferror(r->f)) {
				g3_err_set(err, G3_FAIL, "could not read \"%s\": %s", r->path,
					   strerror(errno));
				return -1;
			}
			return 0;
		}
		r->lineno++;
		while (i < (size_t)n && (r->line[i] == ' ' || r->line[i] == '\t' ||
					 r->line[i] == '\r' || r->line[i] == '\n'))
			i++;
		if (i == (size_t)n)
			continue;
		if (n > INT_MAX) {
			g3_err_set(err, G3_USAGE, "\"%s\" line %ld is longer than 2 GiB", r->path,
				   r->lineno);
			return -1;
		}
		if (!r->json_c_only && g3_jscan_hit_line(&r->scan, r->line, (size_t)n, &hit)) {
			/* both ends are outside the other span: the id's closing
			 * quote, the byte after _source (',', '}' or space) */
			r->line[hit.id_off + hit.id_len] = '\0';
			r->line[hit.src_off + hit.src_len] = '\0';
			*id = r->line + hit.id_off;
			*source = r->line + hit.src_off;
			*len = hit.src_len;
			return 1;
		}
		if (!r->tok)
			r->tok = json_tokener_new_ex(DOC_MAX_DEPTH);
		json_tokener_reset(r->tok);
		r->cur = json_tokener_parse_ex(r->tok, r->line, (int)n);
		je = json_tokener_get_error(r->tok);
		if (r->cur) {
			for (size_t k = json_tokener_get_parse_end(r->tok); k < (size_t)n; k++)
				if (!strchr(" \t\r\n", r->line[k])) {
					je = json_tokener_error_parse_unexpected;
					break;
				}
		}
		if (!r->cur || je != json_tokener_success) {
			g3_err_set(err, G3_USAGE, "\"%s\" line %ld is not valid JSON: %s", r->path,
				   r->lineno, je == json_tokener_continue ? "unexpected end of line"
									 : json_tokener_error_desc(je));
			return -1;
		}
		break;
	}
	if (!json_object_is_type(r->cur, json_type_object) ||
	    !json_object_object_get_ex(r->cur, "_id", &v) || !json_object_is_type(v, json_type_string) ||
	    !json_object_get_string_len(v)) {
		g3_err_set(err, G3_USAGE, "\"%s\" line %ld has no \"_id\" string", r->path, r->lineno);
		return -1;
	}
	*id = json_object_get_string(v);
	if (strlen(*id) != (size_t)json_object_get_string_len(v)) {
		/* ids go on as C strings: "a\u0000b" would load as "a" */
		g3_err_set(err, G3_USAGE, "\"%s\" line %ld has an \"_id\" holding a NUL character",
			   r->path, r->lineno);
		return -1;
	}
	if (!json_object_object_get_ex(r->cur, "_source", &src) ||
	    !json_object_is_type(src, json_type_object)) {
		g3_err_set(err, G3_USAGE, "\"%s\" line %ld has no \"_source\" object", r->path, r->lineno);
		return -1;
	}
	*source = json_object_to_json_string_length(src,
						    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						    len);
	return 1;
}

void g3_docwriter_line(g3_buf *out, const char *index, const char *type, const char *id,
		       const char *source, size_t len)
{
	g3_buf_adds(out, "{\"_index\":");
	g3_json_quote(out, index);
	g3_buf_adds(out, ",\"_type\":");
	g3_json_quote(out, type ? type : "_doc");
	g3_buf_adds(out, ",\"_id\":");
	g3_json_quote(out, id);
	g3_buf_adds(out, ",\"_score\":1,\"_source\":");
	g3_buf_add(out, source, len);
	g3_buf_adds(out, "}\n");
}
