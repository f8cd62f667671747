/*
 * One index restored (plan, load) or dumped (definition, documents).
 * See esrestore.h.
 */
#include "esrestore.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../base/opts.h"

#define MAX_VERSIONS 10000

void g3_esrestore_opts_init(g3_esrestore_opts *o)
{
	memset(o, 0, sizeof(*o));
	g3_esbulk_opts_init(&o->bulk);
	o->keep_versions = 1;
}

const g3_opt g3_esrestore_rows[1] = {
	G3_ROW_LONG("keep-versions", 0, g3_esrestore_opts, keep_versions, 0, G3_ESRESTORE_MAX_KEEP,
		    "keep_versions", "N",
		    "earlier versions NAME_<n> kept once alias NAME has\n"
		    "moved (default 1: the previous one); older ones\n"
		    "gen3db made for NAME are deleted, never one with\n"
		    "an alias, another's or without gen3db's marker"),
};

void g3_esrestore_index_init(g3_esrestore_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	g3_esdef_init(&ix->def);
}

void g3_esrestore_index_release(g3_esrestore_index *ix)
{
	free(ix->name);
	g3_edump_files_release(&ix->files);
	g3_esdef_release(&ix->def);
	free(ix->concrete);
	g3_strlist_free(ix->old, ix->n_old);
	g3_esbulk_free(ix->loader);
	json_object_put(ix->replicas);
	json_object_put(ix->refresh);
	json_object_put(ix->meta);
	g3_strlist_free(ix->leftovers, ix->n_leftovers);
	g3_strlist_free(ix->failed_ids, ix->n_failed_ids);
	g3_strlist_free(ix->pruned, ix->n_pruned);
	free(ix->origin);
	memset(ix, 0, sizeof(*ix));
}

void g3_esrestore_report_pruned(const g3_esrestore_index *ix, json_object *o)
{
	json_object *a;

	if (!ix->n_pruned)
		return;
	a = json_object_new_array();
	for (size_t i = 0; i < ix->n_pruned; i++)
		json_object_array_add(a, json_object_new_string(ix->pruned[i]));
	json_object_object_add(o, "deleted_versions", a);
}

/* 1 when name is "<base>_<digits>", a version of base. */
static int is_version_of(const char *name, const char *base)
{
	size_t bl = strlen(base);

	if (strncmp(name, base, bl) || name[bl] != '_' || !name[bl + 1])
		return 0;
	for (const char *p = name + bl + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* n of a version "<base>_<n>" (is_version_of), -1 when it is too large
 * to be one of ours. */
static long version_number(const char *name, const char *base)
{
	const char *d = name + strlen(base) + 1;

	if (strlen(d) > 9)
		return -1;
	return strtol(d, NULL, 10);
}

/* The gen3db marker of an index (an entry of `GET /<index>`): its
 * mapping's _meta.gen3db, typed (ES 6) or not; borrowed, NULL if none. */
static json_object *marker_of(json_object *entry)
{
	json_object *m, *meta, *g;

	if (!json_object_object_get_ex(entry, "mappings", &m) ||
	    !json_object_is_type(m, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(m, "_meta", &meta)) {
		meta = NULL;
		if (json_object_object_length(m) == 1) {
			json_object_object_foreach(m, k, v) {
				(void)k;
				if (json_object_is_type(v, json_type_object))
					json_object_object_get_ex(v, "_meta", &meta);
			}
		}
	}
	if (meta && json_object_object_get_ex(meta, "gen3db", &g) &&
	    json_object_is_type(g, json_type_object))
		return g;
	return NULL;
}

/* The index carries gen3db's marker for target, not yet complete. */
static int incomplete_of(json_object *entry, const char *target)
{
	json_object *g = marker_of(entry), *t, *c;

	return g && json_object_object_get_ex(g, "target", &t) &&
	       !strcmp(json_object_get_string(t), target) &&
	       !(json_object_object_get_ex(g, "complete", &c) && json_object_get_boolean(c));
}

static int has_aliases(json_object *entry)
{
	json_object *a;

	return json_object_object_get_ex(entry, "aliases", &a) &&
	       json_object_is_type(a, json_type_object) && json_object_object_length(a) > 0;
}

/* The index carries gen3db's marker for target, complete. */
static int complete_of(json_object *entry, const char *target)
{
	json_object *g = marker_of(entry), *t, *c;

	return g && json_object_object_get_ex(g, "target", &t) &&
	       !strcmp(json_object_get_string(t), target) &&
	       json_object_object_get_ex(g, "complete", &c) && json_object_get_boolean(c);
}

/* Delete checks (g3_es_delete_check); arg is the target name X. */
static g3_rc check_version(const char *name, json_object *entry, void *arg, g3_err *err)
{
	(void)entry;
	if (!is_version_of(name, arg))
		return g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": it is not a version "
				  "\"%s_<n>\" of \"%s\"", name, (const char *)arg, (const char *)arg);
	return G3_OK;
}

static g3_rc check_incomplete(const char *name, json_object *entry, void *arg, g3_err *err)
{
	if (!incomplete_of(entry, arg))
		return g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": it is not an incomplete "
				  "index gen3db created for \"%s\"", name, (const char *)arg);
	return G3_OK;
}

static g3_rc check_leftover(const char *name, json_object *entry, void *arg, g3_err *err)
{
	g3_rc rc;

	if ((rc = check_version(name, entry, arg, err)) ||
	    (rc = check_incomplete(name, entry, arg, err)))
		return rc;
	if (has_aliases(entry))
		return g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": an alias points at it",
				  name);
	return G3_OK;
}

/* What --keep-versions may delete (arg: the index restored now). */
static g3_rc check_prunable(const char *name, json_object *entry, void *arg, g3_err *err)
{
	const g3_esrestore_index *ix = arg;
	g3_rc rc;

	if ((rc = check_version(name, entry, ix->name, err)))
		return rc;
	if (!strcmp(name, ix->concrete))
		return g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": alias \"%s\" points "
				  "at it", name, ix->name);
	if (!complete_of(entry, ix->name))
		return g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": it is not a complete "
				  "version gen3db restored for \"%s\"", name, ix->name);
	if (has_aliases(entry))
		return g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": an alias points at it",
				  name);
	return G3_OK;
}

/* Versions of name that an interrupted restore left: X_<n>, gen3db's
 * incomplete marker for X, no alias; and in *next one above the highest
 * n of any X_<n>. Read only. */
static g3_rc find_leftovers(g3_es *es, const char *name, g3_esrestore_index *ix, long *next,
			    g3_err *err)
{
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	json_object *root = NULL;
	g3_rc rc;

	g3_buf_addch(&path, '/');
	g3_url_encode(&path, name, 0);
	g3_buf_adds(&path, "_*");
	g3_buf_addf(&what, "could not look for versions of index \"%s\"", name);
	if ((rc = g3_es_call(es, "GET", path.data, NULL, what.data, &root, err)))
		goto cleanup;
	if (root && json_object_is_type(root, json_type_object)) {
		json_object_object_foreach(root, k, v) {
			if (!is_version_of(k, name))
				continue;
			if (version_number(k, name) >= *next)
				*next = version_number(k, name) + 1;
			if (json_object_is_type(v, json_type_object) &&
			    incomplete_of(v, name) && !has_aliases(v))
				g3_strlist_add(&ix->leftovers, &ix->n_leftovers, k);
		}
	}
cleanup:
	json_object_put(root);
	g3_buf_release(&path);
	g3_buf_release(&what);
	return rc;
}

/* The target is the name the files are under; the index inside may be
 * another (an export of "src" saved as copy__*.json). */
static void note_source(const g3_esrestore_index *ix, const char *name)
{
	if (ix->def.source_index && strcmp(ix->def.source_index, name))
		g3_debug("\"%s\" holds the definition of index \"%s\"; it is restored as \"%s\"",
			 ix->files.mapping ? ix->files.mapping : ix->files.index,
			 ix->def.source_index, name);
}

g3_rc g3_esrestore_plan(g3_es *es, const char *dir, const char *name,
			const g3_esrestore_opts *o, g3_esrestore_index *ix, g3_err *err)
{
	g3_rc rc;

	if ((rc = g3_edump_locate(dir, name, &ix->files, err)))
		return rc;
	g3_debug("index \"%s\": %s's files, data \"%s\"", name, ix->files.layout, ix->files.data);
	if ((rc = g3_esdef_read(&ix->def, &ix->files, err)))
		return rc;
	note_source(ix, name);
	return g3_esrestore_plan_target(es, name, o, ix, err);
}

g3_rc g3_esrestore_plan_files(g3_es *es, const char *name, g3_edump_files *files,
			      const g3_esrestore_opts *o, g3_esrestore_index *ix, g3_err *err)
{
	g3_rc rc;

	g3_edump_files_release(&ix->files);
	ix->files = *files;
	memset(files, 0, sizeof(*files));
	if ((rc = g3_esdef_read(&ix->def, &ix->files, err)))
		return rc;
	note_source(ix, name);
	return g3_esrestore_plan_target(es, name, o, ix, err);
}

/* --clean deletes an existing concrete index of the target's name only
 * when nothing else depends on it: an index an alias points at serves that
 * alias's name (e.g. "keep_0" behind "keep"), and one gen3db made for
 * another name is that name's version. Refused before any change. */
static g3_rc check_concrete_drop(g3_es *es, const char *name, g3_err *err)
{
	json_object *entry = NULL, *a, *g, *t;
	int concrete = 0;
	g3_rc rc;

	if ((rc = g3_es_index_get(es, name, &entry, &concrete, err)) || !entry)
		return rc;
	if (has_aliases(entry) && json_object_object_get_ex(entry, "aliases", &a)) {
		json_object_object_foreach(a, k, v) {
			(void)v;
			rc = g3_err_set(err, G3_USAGE, "index \"%s\" is behind alias \"%s\": --clean "
					"does not delete it", name, k);
			break;
		}
	} else if ((g = marker_of(entry)) && json_object_object_get_ex(g, "target", &t) &&
		   strcmp(json_object_get_string(t), name)) {
		rc = g3_err_set(err, G3_USAGE, "index \"%s\" is a version gen3db restored for "
				"\"%s\": --clean does not delete it", name, json_object_get_string(t));
	}
	if (rc)
		g3_err_hint(err, "restore under another name, or delete it yourself if it is "
			    "no longer needed");
	json_object_put(entry);
	return rc;
}

g3_rc g3_esrestore_plan_target(g3_es *es, const char *name, const g3_esrestore_opts *o,
			       g3_esrestore_index *ix, g3_err *err)
{
	int is_alias = 0, exists = 0;
	long next = 0;
	g3_rc rc;

	if ((rc = g3_es_name_check(name, NULL, err)))
		return rc;
	free(ix->name);
	ix->name = g3_xstrdup(name);
	if ((rc = g3_es_alias_get(es, name, &is_alias, &ix->old, &ix->n_old, err)))
		return rc;
	if (!is_alias && (rc = g3_es_index_exists(es, name, &exists, err)))
		return rc;
	if (o->skip_existing && !o->clean && (is_alias || exists)) {
		g3_debug("%s \"%s\" already exists: skipped, left as it is",
			is_alias ? "alias" : "index", name);
		ix->skipped = 1;
		return G3_OK;
	}
	if (o->no_alias && is_alias) {
		g3_err_set(err, G3_USAGE, "\"%s\" is an alias on the target: cannot create an "
			   "index of that name", name);
		g3_err_hint(err, "restore without --no-alias to get a new version behind the alias");
		return G3_USAGE;
	}
	if (exists) {
		if (!o->clean) {
			g3_err_set(err, G3_USAGE, "index \"%s\" already exists", name);
			g3_err_hint(err, "give --clean to delete it first");
			return G3_USAGE;
		}
		if ((rc = check_concrete_drop(es, name, err)))
			return rc;
		ix->drop_concrete = 1;
	}
	if (o->no_alias) {
		ix->concrete = g3_xstrdup(name);
		return G3_OK;
	}
	if ((rc = find_leftovers(es, name, ix, &next, err)))
		return rc;
	for (long n = next; n < next + MAX_VERSIONS; n++) {
		g3_buf b = G3_BUF_INIT;

		g3_buf_addf(&b, "%s_%ld", name, n);
		if ((rc = g3_es_index_exists(es, b.data, &exists, err))) {
			g3_buf_release(&b);
			return rc;
		}
		if (!exists) {
			ix->concrete = g3_buf_detach(&b);
			return G3_OK;
		}
		g3_buf_release(&b);
	}
	return g3_err_set(err, G3_USAGE, "no free version of index \"%s\" (%s_%ld to %s_%ld "
			  "exist)", name, name, next, name, next + MAX_VERSIONS - 1);
}

/* Value of an index setting given nested ({"index":{k:v}}) or flat
 * ("index.k"), removed from settings; a new reference or NULL. */
static json_object *take_setting(json_object *settings, const char *key)
{
	json_object *idx, *v, *out = NULL;
	char flat[128];

	snprintf(flat, sizeof(flat), "index.%s", key);
	if (json_object_object_get_ex(settings, "index", &idx) &&
	    json_object_object_get_ex(idx, key, &v)) {
		out = json_object_get(v);
		json_object_object_del(idx, key);
	}
	if (json_object_object_get_ex(settings, flat, &v)) {
		json_object_put(out);
		out = json_object_get(v);
		json_object_object_del(settings, flat);
	}
	if (json_object_object_get_ex(settings, key, &v)) {
		json_object_put(out);
		out = json_object_get(v);
		json_object_object_del(settings, key);
	}
	return out;
}

static json_object *index_object(json_object *settings)
{
	json_object *idx;

	if (!json_object_object_get_ex(settings, "index", &idx) ||
	    !json_object_is_type(idx, json_type_object)) {
		idx = json_object_new_object();
		json_object_object_add(settings, "index", idx);
	}
	return idx;
}

g3_rc g3_esrestore_add(g3_esrestore_index *ix, const g3_esrestore_opts *o, const char *id,
		       const char *source, size_t len, g3_err *err)
{
	ix->docs_read++;
	if (o->cancel && *o->cancel)
		return g3_err_set(err, G3_FAIL, "interrupted after %llu %s",
				  (unsigned long long)ix->docs_read - 1,
				  g3_plural((long long)ix->docs_read - 1, "document", "documents"));
	if (strlen(id) > G3_ES_MAX_ID_BYTES)
		/* Elasticsearch would refuse the whole bulk request */
		return g3_err_set(err, G3_FAIL, "%s: the _id \"%.40s...\" is longer than %d bytes, "
				  "which Elasticsearch refuses", ix->origin ? ix->origin : ix->name,
				  id, G3_ES_MAX_ID_BYTES);
	return g3_esbulk_add(ix->loader, id, source, len, err);
}

/* read_rc set: a bad data file (or a stop) rather than a failed load. */
static g3_rc load_documents(const g3_esrestore_opts *o, g3_esrestore_index *ix, g3_err *err)
{
	g3_docreader r;
	const char *id, *src;
	size_t len;
	int got;
	g3_rc rc = G3_OK;

	if ((rc = g3_docreader_open(&r, ix->files.data, err)))
		return rc;
	while ((got = g3_docreader_next(&r, &id, &src, &len, err)) > 0) {
		g3_buf where = G3_BUF_INIT;

		free(ix->origin);
		g3_buf_addf(&where, "\"%s\" line %ld", r.path, r.lineno);
		ix->origin = g3_buf_detach(&where);
		if ((rc = g3_esrestore_add(ix, o, id, src, len, err)))
			break;
	}
	if (got < 0)
		rc = G3_FAIL;
	if (!rc) {
		g3_buf file = G3_BUF_INIT;

		free(ix->origin);
		g3_buf_addf(&file, "\"%s\"", r.path);
		ix->origin = g3_buf_detach(&file);
	}
	g3_docreader_release(&r);
	return rc;
}

static g3_rc switch_aliases(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			    g3_err *err)
{
	json_object *actions = json_object_new_array();
	g3_rc rc = G3_OK;

	if (!o->no_alias) {
		for (size_t i = 0; i < ix->n_old; i++) {
			json_object *a = json_object_new_object(), *spec = json_object_new_object();

			json_object_object_add(spec, "index", json_object_new_string(ix->old[i]));
			json_object_object_add(spec, "alias", json_object_new_string(ix->name));
			json_object_object_add(a, "remove", spec);
			json_object_array_add(actions, a);
		}
		{
			json_object *a = json_object_new_object(), *spec = json_object_new_object();

			json_object_object_add(spec, "index", json_object_new_string(ix->concrete));
			json_object_object_add(spec, "alias", json_object_new_string(ix->name));
			json_object_object_add(a, "add", spec);
			json_object_array_add(actions, a);
		}
	}
	if (ix->def.aliases) {
		json_object_object_foreach(ix->def.aliases, alias, props) {
			json_object *a, *spec = NULL;

			if (!strcmp(alias, ix->name) || !strcmp(alias, ix->concrete))
				continue;
			a = json_object_new_object();
			if (json_object_is_type(props, json_type_object))
				json_object_deep_copy(props, &spec, NULL);
			else
				spec = json_object_new_object();
			json_object_object_add(spec, "index", json_object_new_string(ix->concrete));
			json_object_object_add(spec, "alias", json_object_new_string(alias));
			json_object_object_add(a, "add", spec);
			json_object_array_add(actions, a);
		}
	}
	if (json_object_array_length(actions))
		rc = g3_es_aliases_update(es, actions, err);
	json_object_put(actions);
	return rc;
}

/* The root mapping of a create body (typed or not), made the body's own. */
static json_object *own_root_mapping(json_object *body, int typed)
{
	json_object *m, *root = NULL, *copy = NULL;
	const char *type = NULL;

	if (!json_object_object_get_ex(body, "mappings", &m) ||
	    !json_object_is_type(m, json_type_object)) {
		m = json_object_new_object();
		json_object_object_add(body, "mappings", m);
	}
	if (typed) {
		json_object_object_foreach(m, k, v) {
			type = k;
			root = v;
			break;
		}
	} else {
		root = m;
	}
	if (root && json_object_is_type(root, json_type_object))
		json_object_deep_copy(root, &copy, NULL);
	else
		copy = json_object_new_object();
	if (typed) {
		json_object *nm = json_object_new_object();

		json_object_object_add(nm, type ? type : "_doc", copy);
		json_object_object_add(body, "mappings", nm);
	} else {
		json_object_object_add(body, "mappings", copy);
	}
	return copy;
}

/* Puts gen3db's incomplete marker into the mapping's _meta (kept beside
 * whatever _meta the dump had); ix->meta keeps it for the final update. */
static void add_marker(json_object *body, int typed, g3_esrestore_index *ix)
{
	json_object *root = own_root_mapping(body, typed), *meta, *g;

	if (!json_object_object_get_ex(root, "_meta", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		meta = json_object_new_object();
		json_object_object_add(root, "_meta", meta);
	}
	g = json_object_new_object();
	json_object_object_add(g, "target", json_object_new_string(ix->name));
	json_object_object_add(g, "complete", json_object_new_boolean(0));
	json_object_object_add(meta, "gen3db", g);
	json_object_put(ix->meta);
	ix->meta = json_object_get(meta);
}

/* Sets the marker complete: the index is whole and has its alias. */
static g3_rc mark_complete(g3_es *es, g3_esrestore_index *ix, g3_err *err)
{
	json_object *body = json_object_new_object(), *g;
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	g3_rc rc;

	if (json_object_object_get_ex(ix->meta, "gen3db", &g))
		json_object_object_add(g, "complete", json_object_new_boolean(1));
	json_object_object_add(body, "_meta", json_object_get(ix->meta));
	g3_buf_addch(&path, '/');
	g3_url_encode(&path, ix->concrete, 0);
	g3_buf_adds(&path, "/_mapping");
	if (es->typed) {
		g3_buf_addch(&path, '/');
		g3_url_encode(&path, ix->def.type_name ? ix->def.type_name : "_doc", 0);
	}
	g3_buf_addf(&what, "could not mark index \"%s\" complete", ix->concrete);
	rc = g3_es_call(es, "PUT", path.data, body, what.data, NULL, err);
	json_object_put(body);
	g3_buf_release(&path);
	g3_buf_release(&what);
	return rc;
}

g3_rc g3_esrestore_begin(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			 const char *origin, g3_err *err)
{
	json_object *body = NULL, *settings = NULL, *idx;
	g3_rc rc;

	ix->t0 = g3_clock_now();
	free(ix->origin);
	ix->origin = g3_xstrdup(origin);
	for (size_t i = 0; i < ix->n_leftovers; i++) {
		g3_err derr;

		g3_err_init(&derr);
		if (g3_es_index_delete_if(es, ix->leftovers[i], check_leftover, ix->name, &derr))
			g3_log_err(&derr);
		else
			g3_info("deleted \"%s\", an incomplete version of \"%s\" that an interrupted "
				"restore left", ix->leftovers[i], ix->name);
	}
	if (ix->drop_concrete) {
		if ((rc = g3_es_index_delete(es, ix->name, err)))
			goto cleanup;
		g3_info("deleted the existing index \"%s\" (--clean)", ix->name);
	}
	body = g3_esdef_create_body(&ix->def, es->typed);
	add_marker(body, es->typed, ix);
	if (!json_object_object_get_ex(body, "settings", &settings)) {
		settings = json_object_new_object();
		json_object_object_add(body, "settings", settings);
	}
	ix->replicas = take_setting(settings, "number_of_replicas");
	ix->refresh = take_setting(settings, "refresh_interval");
	idx = index_object(settings);
	json_object_object_add(idx, "number_of_replicas", json_object_new_int(0));
	json_object_object_add(idx, "refresh_interval", json_object_new_string("-1"));
	if ((rc = g3_es_index_create(es, ix->concrete, body, err)))
		goto cleanup;
	ix->created = 1;
	rc = g3_esbulk_new(es->conf, ix->concrete, es->typed ? (ix->def.type_name ?
		ix->def.type_name : "_doc") : NULL, &o->bulk, &ix->loader, err);
cleanup:
	json_object_put(body);
	return rc;
}

/* Keeps the ids of the documents the loader could not load, and logs them
 * all when the error message (which names the first few) cannot. */
static void note_failed_ids(g3_esrestore_index *ix)
{
	size_t n = 0;
	char *const *ids = g3_esbulk_failed_ids(ix->loader, &n);
	g3_buf msg = G3_BUF_INIT;
	char count[32];
	const char *fields[5];

	for (size_t i = 0; i < n; i++)
		g3_strlist_add(&ix->failed_ids, &ix->n_failed_ids, ids[i]);
	if (n <= G3_ESBULK_IDS_IN_MESSAGE)
		return;
	g3_buf_addf(&msg, "index \"%s\": the %zu documents not loaded:", ix->concrete, n);
	for (size_t i = 0; i < n; i++)
		g3_buf_addf(&msg, "%s \"%s\"", i ? "," : "", ids[i]);
	snprintf(count, sizeof(count), "%zu", n);
	fields[0] = "index"; fields[1] = ix->concrete;
	fields[2] = "documents"; fields[3] = count;
	fields[4] = NULL;
	g3_log_event(G3_LOG_ERROR, "es_documents_not_loaded", msg.data, fields);
	g3_buf_release(&msg);
}

static g3_rc publish(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
		     g3_err *err);
static void delete_partial(g3_es *es, g3_esrestore_index *ix);

g3_rc g3_esrestore_end(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
		       g3_rc read_rc, g3_err *err)
{
	json_object *after = NULL, *idx;
	long long count = -1;
	g3_rc rc = read_rc;

	if (ix->loader) {
		if (!rc) {
			rc = g3_esbulk_finish(ix->loader, err);
		} else {
			g3_err drain;

			g3_err_init(&drain);
			g3_esbulk_finish(ix->loader, &drain);
		}
		ix->bulk = *g3_esbulk_stats_of(ix->loader);
		note_failed_ids(ix);
	} else if (!rc) {
		rc = g3_err_set(err, G3_FAIL, "index \"%s\" was never created", ix->name);
	}
	if (rc)
		goto cleanup;

	after = json_object_new_object();
	idx = index_object(after);
	/* the defaults spelled out where the dump had none: null (reset) is
	 * not understood everywhere */
	json_object_object_add(idx, "number_of_replicas",
			       ix->replicas ? json_object_get(ix->replicas) : json_object_new_int(1));
	json_object_object_add(idx, "refresh_interval",
			       ix->refresh ? json_object_get(ix->refresh) : json_object_new_string("1s"));
	if ((rc = g3_es_settings_put(es, ix->concrete, after, err)))
		goto cleanup;
	if ((rc = g3_es_refresh(es, ix->concrete, err)))
		goto cleanup;
	if ((rc = g3_es_count(es, ix->concrete, &count, err)))
		goto cleanup;
	if (count < 0 || (uint64_t)count != ix->docs_read) {
		rc = g3_err_set(err, G3_FAIL, "index \"%s\" holds %lld %s after the load, "
				"but %llu %s read from %s", ix->concrete, count,
				g3_plural(count, "document", "documents"),
				(unsigned long long)ix->docs_read,
				g3_plural((long long)ix->docs_read, "was", "were"),
				ix->origin ? ix->origin : "the dump");
		if (count >= 0 && (uint64_t)count < ix->docs_read)
			g3_err_hint(err, "the data may hold the same _id more than once");
		goto cleanup;
	}
	if (ix->hold_alias)
		goto cleanup;
	rc = publish(es, o, ix, err);
cleanup:
	ix->seconds = g3_clock_now() - ix->t0;
	if (rc && ix->created)
		delete_partial(es, ix);
	g3_esbulk_free(ix->loader);
	ix->loader = NULL;
	json_object_put(after);
	return rc;
}

struct version {
	const char *name;
	long n;
};

static int by_number_desc(const void *a, const void *b)
{
	const struct version *x = a, *y = b;

	return x->n > y->n ? -1 : x->n < y->n;
}

/* --keep-versions, after the alias moved: the earlier complete versions of
 * X gen3db made, newest first; all but the first keep_versions are
 * deleted, each checked again (check_prunable) right before its DELETE.
 * A failure is a warning: the restore itself is complete. */
static void prune_versions(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix)
{
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	json_object *root = NULL;
	struct version *v = NULL;
	size_t n = 0;
	g3_err err;

	if (o->no_alias || o->keep_versions < 0)
		return;
	g3_err_init(&err);
	g3_buf_addch(&path, '/');
	g3_url_encode(&path, ix->name, 0);
	g3_buf_adds(&path, "_*");
	g3_buf_addf(&what, "could not look for earlier versions of index \"%s\"", ix->name);
	if (g3_es_call(es, "GET", path.data, NULL, what.data, &root, &err)) {
		g3_log_err(&err);
		goto cleanup;
	}
	if (!root || !json_object_is_type(root, json_type_object))
		goto cleanup;
	v = g3_xcalloc((size_t)json_object_object_length(root) + 1, sizeof(*v));
	json_object_object_foreach(root, k, e) {
		if (is_version_of(k, ix->name) && strcmp(k, ix->concrete) &&
		    json_object_is_type(e, json_type_object) && complete_of(e, ix->name) &&
		    !has_aliases(e) && version_number(k, ix->name) >= 0) {
			v[n].name = k;
			v[n++].n = version_number(k, ix->name);
		}
	}
	qsort(v, n, sizeof(*v), by_number_desc);
	for (size_t i = (size_t)o->keep_versions; i < n; i++) {
		g3_err_init(&err);
		if (g3_es_index_delete_if(es, v[i].name, check_prunable, ix, &err)) {
			g3_log_err(&err);
			continue;
		}
		g3_strlist_add(&ix->pruned, &ix->n_pruned, v[i].name);
		g3_info("deleted \"%s\", an earlier version of \"%s\" (--keep-versions %ld)",
			v[i].name, ix->name, o->keep_versions);
	}
cleanup:
	free(v);
	json_object_put(root);
	g3_buf_release(&path);
	g3_buf_release(&what);
}

/* The aliases, then --clean's deletions of the versions they left, then
 * the versions beyond --keep-versions. */
static g3_rc publish(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
		     g3_err *err)
{
	g3_rc rc;

	if ((rc = switch_aliases(es, o, ix, err)))
		return rc;
	ix->loaded = 1;
	ix->created = 0;  /* whole and behind its alias: never deleted as partial */
	{
		g3_err merr;

		/* without the flag a later run would take it for a leftover only
		 * while no alias points at it */
		g3_err_init(&merr);
		if (mark_complete(es, ix, &merr))
			g3_log_err(&merr);
	}
	if (o->clean && !o->no_alias) {
		for (size_t i = 0; i < ix->n_old; i++) {
			g3_err derr;

			g3_err_init(&derr);
			if (g3_es_index_delete_if(es, ix->old[i], check_version, ix->name, &derr))
				g3_log_err(&derr);
			else
				g3_info("deleted the previous version \"%s\" of \"%s\" (--clean)",
					ix->old[i], ix->name);
		}
	}
	prune_versions(es, o, ix);
	return G3_OK;
}

/* never leave a partial index behind (it never got the alias) */
static void delete_partial(g3_es *es, g3_esrestore_index *ix)
{
	g3_err derr;

	g3_err_init(&derr);
	if (g3_es_index_delete_if(es, ix->concrete, check_incomplete, ix->name, &derr))
		g3_log_err(&derr);
	else
		g3_info("deleted the partial index \"%s\"", ix->concrete);
	ix->created = 0;
}

g3_rc g3_esrestore_publish(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			   g3_err *err)
{
	g3_rc rc = publish(es, o, ix, err);

	if (rc && ix->created)
		delete_partial(es, ix);
	return rc;
}

void g3_esrestore_discard(g3_es *es, g3_esrestore_index *ix)
{
	if (ix->created && !ix->loaded)
		delete_partial(es, ix);
}

g3_rc g3_esrestore_load(g3_es *es, const g3_esrestore_opts *o, g3_esrestore_index *ix,
			g3_err *err)
{
	g3_buf origin = G3_BUF_INIT;
	g3_rc rc;

	g3_buf_addf(&origin, "\"%s\"", ix->files.data);
	rc = g3_esrestore_begin(es, o, ix, origin.data, err);
	g3_buf_release(&origin);
	if (!rc)
		rc = load_documents(o, ix, err);
	{
		g3_rc erc = g3_esrestore_end(es, o, ix, rc, err);

		return rc ? rc : erc;
	}
}

/* ---- dump ---- */

static g3_rc get_single(g3_es *es, const char *index, const char *suffix, const char *key,
			char **concrete, json_object **out, g3_err *err)
{
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	json_object *root = NULL, *v;
	g3_rc rc;

	*out = NULL;
	g3_buf_addch(&path, '/');
	g3_url_encode(&path, index, 0);
	g3_buf_adds(&path, suffix);
	g3_buf_addf(&what, "could not read the %s of index \"%s\"", key, index);
	if ((rc = g3_es_call(es, "GET", path.data, NULL, what.data, &root, err)))
		goto cleanup;
	if (!json_object_is_type(root, json_type_object) || json_object_object_length(root) != 1) {
		rc = g3_err_set(err, G3_FAIL, "%s: \"%s\" names %d indices, not one", what.data, index,
				root ? json_object_object_length(root) : 0);
		goto cleanup;
	}
	json_object_object_foreach(root, k, val) {
		if (concrete && !*concrete)
			*concrete = g3_xstrdup(k);
		if (json_object_object_get_ex(val, key, &v))
			*out = json_object_get(v);
	}
	if (!*out)
		*out = json_object_new_object();
cleanup:
	json_object_put(root);
	g3_buf_release(&path);
	g3_buf_release(&what);
	return rc;
}

/* gen3db's marker describes an index of this cluster (like its uuid): a
 * dump leaves it out, so whatever loads the dump starts without it. */
static void strip_marker(json_object *mappings)
{
	json_object *root = mappings, *meta;

	if (!json_object_object_get_ex(root, "_meta", &meta) &&
	    json_object_object_length(mappings) == 1) {
		json_object_object_foreach(mappings, k, v) {
			if (strcmp(k, "properties"))
				root = v;  /* typed (ES 6): {"<type>": {...}} */
		}
	}
	if (json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "_meta", &meta) &&
	    json_object_is_type(meta, json_type_object)) {
		json_object_object_del(meta, "gen3db");
		if (!json_object_object_length(meta))
			json_object_object_del(root, "_meta");
	}
}

g3_rc g3_esdump_definition(g3_es *es, const char *index, char **concrete, json_object **mappings,
			   json_object **settings, json_object **aliases, g3_err *err)
{
	g3_rc rc;

	*concrete = NULL;
	*mappings = *settings = *aliases = NULL;
	if ((rc = get_single(es, index, "/_mapping", "mappings", concrete, mappings, err)))
		goto fail;
	strip_marker(*mappings);
	if ((rc = get_single(es, index, "/_settings", "settings", NULL, settings, err)))
		goto fail;
	g3_es_settings_clean(*settings);
	if ((rc = get_single(es, index, "/_alias", "aliases", NULL, aliases, err)))
		goto fail;
	return G3_OK;
fail:
	free(*concrete);
	*concrete = NULL;
	json_object_put(*mappings);
	json_object_put(*settings);
	json_object_put(*aliases);
	*mappings = *settings = *aliases = NULL;
	return rc;
}

static g3_rc pit_open(g3_es *es, const char *index, char **id, g3_err *err)
{
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	json_object *out = NULL, *v;
	g3_rc rc;

	g3_buf_addch(&path, '/');
	g3_url_encode(&path, index, 0);
	g3_buf_adds(&path, "/_pit?keep_alive=5m");
	g3_buf_addf(&what, "could not open a point in time on index \"%s\"", index);
	rc = g3_es_call(es, "POST", path.data, NULL, what.data, &out, err);
	if (!rc) {
		if (json_object_object_get_ex(out, "id", &v))
			*id = g3_xstrdup(json_object_get_string(v));
		else
			rc = g3_err_set(err, G3_FAIL, "%s: no id in the answer", what.data);
	}
	json_object_put(out);
	g3_buf_release(&path);
	g3_buf_release(&what);
	return rc;
}

static void pit_close(g3_es *es, const char *id)
{
	json_object *body = json_object_new_object();
	g3_err err;

	g3_err_init(&err);
	json_object_object_add(body, "id", json_object_new_string(id));
	if (g3_es_call(es, "DELETE", "/_pit", body, "could not close a point in time", NULL, &err))
		g3_debug("%s", err.msg);
	json_object_put(body);
}

g3_rc g3_esdump_documents(g3_es *es, const char *index, int page, g3_esdoc_fn fn, void *arg,
			  uint64_t *count, g3_err *err)
{
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	json_object *after = NULL, *resp = NULL;
	char *pit = NULL;
	g3_rc rc = G3_OK;

	*count = 0;
	if (es->has_pit) {
		if ((rc = pit_open(es, index, &pit, err)))
			goto cleanup;
		g3_buf_adds(&path, "/_search");
	} else {
		g3_buf_addch(&path, '/');
		g3_url_encode(&path, index, 0);
		g3_buf_adds(&path, "/_search");
	}
	g3_buf_addf(&what, "could not read the documents of index \"%s\"", index);
	for (;;) {
		json_object *body = json_object_new_object(), *sort = json_object_new_array();
		json_object *s1 = json_object_new_object(), *hits, *list, *v;
		size_t n;

		json_object_object_add(body, "size", json_object_new_int(page));
		json_object_object_add(s1, pit ? "_shard_doc" : "_id", json_object_new_string("asc"));
		json_object_array_add(sort, s1);
		json_object_object_add(body, "sort", sort);
		json_object_object_add(body, "track_total_hits", json_object_new_boolean(0));
		if (pit) {
			json_object *p = json_object_new_object();

			json_object_object_add(p, "id", json_object_new_string(pit));
			json_object_object_add(p, "keep_alive", json_object_new_string("5m"));
			json_object_object_add(body, "pit", p);
		}
		if (after)
			json_object_object_add(body, "search_after", json_object_get(after));
		json_object_put(resp);
		resp = NULL;
		rc = g3_es_call(es, "POST", path.data, body, what.data, &resp, err);
		json_object_put(body);
		if (rc)
			goto cleanup;
		if (pit && json_object_object_get_ex(resp, "pit_id", &v)) {
			free(pit);
			pit = g3_xstrdup(json_object_get_string(v));
		}
		if (!json_object_object_get_ex(resp, "hits", &hits) ||
		    !json_object_object_get_ex(hits, "hits", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			rc = g3_err_set(err, G3_FAIL, "%s: the answer has no hits", what.data);
			goto cleanup;
		}
		n = json_object_array_length(list);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			json_object *hit = json_object_array_get_idx(list, i), *id, *src, *ix, *ty, *so;
			const char *text;
			size_t len;

			if (!json_object_object_get_ex(hit, "_id", &id) ||
			    !json_object_object_get_ex(hit, "_source", &src)) {
				rc = g3_err_set(err, G3_FAIL, "%s: a hit without _id or _source", what.data);
				goto cleanup;
			}
			text = json_object_to_json_string_length(
				src, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
			rc = fn(arg,
				json_object_object_get_ex(hit, "_index", &ix) ? json_object_get_string(ix)
									       : index,
				json_object_object_get_ex(hit, "_type", &ty) ? json_object_get_string(ty)
									      : NULL,
				json_object_get_string(id), text, len, err);
			if (rc)
				goto cleanup;
			(*count)++;
			if (i + 1 == n) {
				if (!json_object_object_get_ex(hit, "sort", &so)) {
					rc = g3_err_set(err, G3_FAIL, "%s: a hit without sort values",
							what.data);
					goto cleanup;
				}
				json_object_put(after);
				after = json_object_get(so);
			}
		}
		if (n < (size_t)page)
			break;
	}
cleanup:
	if (pit) {
		pit_close(es, pit);
		free(pit);
	}
	json_object_put(after);
	json_object_put(resp);
	g3_buf_release(&path);
	g3_buf_release(&what);
	return rc;
}
