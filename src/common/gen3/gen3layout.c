/*
 * The gen3 bucket layout (see gen3layout.h): classifying keys into
 * service dumps, Elasticsearch index files and snapshots.
 */
#include "gen3layout.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../base/opts.h"
#include "../base/strbuf.h"

char *g3_layout_base(const char *bucket, const char *environment, const char *version)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "s3://%s/%s/%s/", bucket, environment, version);
	return g3_buf_detach(&b);
}

static const char *es_dir(const g3_layout_plan *plan)
{
	return plan->es_only ? "" : "elasticsearch/";
}

void g3_layout_plan_init(g3_layout_plan *plan, const char *base)
{
	g3_buf b = G3_BUF_INIT;

	memset(plan, 0, sizeof(*plan));
	g3_buf_adds(&b, base);
	if (!b.len || b.data[b.len - 1] != '/')
		g3_buf_addch(&b, '/');
	plan->base = g3_buf_detach(&b);
}

void g3_layout_plan_release(g3_layout_plan *plan)
{
	for (size_t i = 0; i < plan->n_services; i++) {
		free(plan->services[i].name);
		free(plan->services[i].url);
	}
	for (size_t i = 0; i < plan->n_indices; i++) {
		g3_layout_index *x = &plan->indices[i];

		G3_FREE_ALL(x->name, x->mapping_url, x->data_url, x->settings_url,
			    x->alias_url);
	}
	for (size_t i = 0; i < plan->n_snapshots; i++) {
		free(plan->snapshots[i].name);
		free(plan->snapshots[i].url);
	}
	for (size_t i = 0; i < plan->n_refused; i++)
		free(plan->refused[i].rel);
	for (size_t i = 0; i < plan->n_unknown; i++)
		free(plan->unknown[i].rel);
	G3_FREE_ALL(plan->refused, plan->unknown, plan->services, plan->indices, plan->snapshots,
		    plan->base, plan->conflict);
	memset(plan, 0, sizeof(*plan));
}

/* Service and index names: letters, digits, '_', '-', '.'; no "..". */
static int good_name(const char *s, size_t len)
{
	if (!len || (len == 1 && s[0] == '.') || (len == 2 && !memcmp(s, "..", 2)))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

const char *g3_layout_service_name(const char *name, size_t len)
{
	static const char *const system[] = { "postgres", "template0", "template1" };
	char c = len ? name[0] : '\0';

	if (!good_name(name, len) || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				       (c >= '0' && c <= '9')))
		return "a service name holds letters, digits, '_', '-' and '.', and starts with a "
		       "letter or digit";
	if (len > G3_LAYOUT_SERVICE_MAX)
		return "a service name is at most 61 bytes (<service>_<release> is a PostgreSQL "
		       "name of at most 63)";
	for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++)
		if (strlen(system[i]) == len && !memcmp(name, system[i], len))
			return "it is the name of a PostgreSQL system database";
	if (len >= 3 && !memcmp(name, "pg_", 3))
		return "names starting with \"pg_\" are reserved by PostgreSQL";
	return NULL;
}

/* Keeps the first G3_LAYOUT_NOTED_MAX, counts all. */
static void note(g3_layout_skip **list, size_t *n, size_t *all, const char *rel, const char *why)
{
	(*all)++;
	if (*n >= G3_LAYOUT_NOTED_MAX)
		return;
	*list = g3_xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[*n].rel = g3_xstrdup(rel);
	(*list)[*n].why = why;
	(*n)++;
}

static void note_unknown(g3_layout_plan *plan, const char *rel)
{
	note(&plan->unknown, &plan->n_unknown, &plan->n_unknown_all, rel, NULL);
}

void g3_layout_quote(g3_buf *b, const char *s, size_t max)
{
	size_t i;

	g3_buf_addch(b, '"');
	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		g3_buf_addch(b, c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c);
	}
	g3_buf_adds(b, s[i] ? "...\"" : "\"");
}

/* Names in one-line messages: 64 bytes are enough to tell them apart. */
static void add_shown(g3_buf *b, const char *s)
{
	g3_layout_quote(b, s, 64);
}

static int ends_with(const char *s, size_t len, const char *suffix, size_t *stem)
{
	size_t sl = strlen(suffix);

	if (len <= sl || memcmp(s + len - sl, suffix, sl))
		return 0;
	*stem = len - sl;
	return 1;
}

static char *url_of(const g3_layout_plan *plan, const char *rel)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s%s", plan->base, rel);
	return g3_buf_detach(&b);
}

static char *dupn(const char *s, size_t n)
{
	char *p = g3_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void add_service(g3_layout_plan *plan, const char *rel, const char *name, size_t nlen,
			g3_dump_compression comp, int64_t size)
{
	g3_layout_service *s;

	for (size_t i = 0; i < plan->n_services; i++) {
		if (strlen(plan->services[i].name) == nlen &&
		    !memcmp(plan->services[i].name, name, nlen)) {
			if (!plan->conflict) {
				g3_buf b = G3_BUF_INIT;

				g3_buf_addf(&b, "service \"%s\" has more than one dump: \"%s\" and \"%s%s\"",
					    plan->services[i].name, plan->services[i].url, plan->base, rel);
				plan->conflict = g3_buf_detach(&b);
			}
			return;
		}
	}
	plan->services = g3_xrealloc(plan->services, (plan->n_services + 1) * sizeof(*s));
	s = &plan->services[plan->n_services++];
	s->name = dupn(name, nlen);
	s->url = url_of(plan, rel);
	s->compression = comp;
	s->size = size;
}

static g3_layout_index *find_index(g3_layout_plan *plan, const char *name, size_t nlen)
{
	g3_layout_index *x;

	for (size_t i = 0; i < plan->n_indices; i++)
		if (strlen(plan->indices[i].name) == nlen && !memcmp(plan->indices[i].name, name, nlen))
			return &plan->indices[i];
	plan->indices = g3_xrealloc(plan->indices, (plan->n_indices + 1) * sizeof(*x));
	x = &plan->indices[plan->n_indices++];
	memset(x, 0, sizeof(*x));
	x->name = dupn(name, nlen);
	x->data_size = -1;
	return x;
}

/* A dump of f's name (f: rel without its folder): 1 when it was taken or
 * refused, 0 when it is no dump. */
static int add_dump(g3_layout_plan *plan, const char *rel, const char *f, int64_t size)
{
	static const struct { const char *suffix; g3_dump_compression comp; } dumps[] = {
		{ ".sql.zst", G3_DUMP_ZSTD }, { ".sql.gz", G3_DUMP_GZIP }, { ".sql", G3_DUMP_PLAIN },
	};
	size_t fl = strlen(f), stem;

	if (strchr(f, '/'))
		return 0;
	for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		if (ends_with(f, fl, dumps[i].suffix, &stem)) {
			const char *why = g3_layout_service_name(f, stem);

			if (why)
				note(&plan->refused, &plan->n_refused, &plan->n_refused_all, rel, why);
			else
				add_service(plan, rel, f, stem, dumps[i].comp, size);
			return 1;
		}
	}
	return 0;
}

/* An elasticdump file f (rel, relative to base, ends with it): 1 if taken. */
static int add_es_file(g3_layout_plan *plan, const char *rel, const char *f, int64_t size)
{
	static const char *const es_suffixes[] = {
		"__mapping.json", "__data.json", "__settings.json", "__alias.json",
	};
	size_t fl = strlen(f), stem;

	if (strchr(f, '/'))
		return 0;
	for (size_t i = 0; i < sizeof(es_suffixes) / sizeof(es_suffixes[0]); i++) {
		g3_layout_index *x;
		char **slot;

		if (!ends_with(f, fl, es_suffixes[i], &stem) || !good_name(f, stem))
			continue;
		x = find_index(plan, f, stem);
		slot = i == 0 ? &x->mapping_url : i == 1 ? &x->data_url :
		       i == 2 ? &x->settings_url : &x->alias_url;
		free(*slot);
		*slot = url_of(plan, rel);
		if (i == 1)
			x->data_size = size;
		return 1;
	}
	return 0;
}

void g3_layout_add(g3_layout_plan *plan, const char *rel, int64_t size)
{
	size_t len = strlen(rel), stem;

	if (plan->es_only) {
		/* restore-es over a prefix: elasticdump's files at its top */
		if (!add_es_file(plan, rel, rel, size))
			note_unknown(plan, rel);
		return;
	}
	if (len && rel[len - 1] == '/') {
		/* a folder: the layout's own are read, not noted */
		if (strcmp(rel, "pgdumps/") && strcmp(rel, "elasticsearch/"))
			note_unknown(plan, rel);
		return;
	}
	if (!strncmp(rel, "pgdumps/", 8)) {
		if (add_dump(plan, rel, rel + 8, size))
			return;
	} else if (!strncmp(rel, "elasticsearch/", 14)) {
		if (add_es_file(plan, rel, rel + 14, size))
			return;
	} else if (!strchr(rel, '/')) {
		if (ends_with(rel, len, ".tar.zst", &stem)) {
			g3_layout_snapshot *s;

			plan->snapshots = g3_xrealloc(plan->snapshots,
						      (plan->n_snapshots + 1) * sizeof(*s));
			s = &plan->snapshots[plan->n_snapshots++];
			s->name = g3_xstrdup(rel);
			s->url = url_of(plan, rel);
			s->size = size;
			return;
		}
		if (add_dump(plan, rel, rel, size))
			return;
	}
	note_unknown(plan, rel);
}

static int listed(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return 1;
	return 0;
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const g3_layout_service *)a)->name, ((const g3_layout_service *)b)->name);
}

static int cmp_index(const void *a, const void *b)
{
	return strcmp(((const g3_layout_index *)a)->name, ((const g3_layout_index *)b)->name);
}

static int cmp_snapshot(const void *a, const void *b)
{
	return strcmp(((const g3_layout_snapshot *)a)->name, ((const g3_layout_snapshot *)b)->name);
}

/* Adds "<what> found: "a", "b", ..." (at most 20 names) as the hint. */
static void names_hint(g3_err *err, const char *what, g3_buf *names, size_t n)
{
	if (n > 20)
		g3_buf_adds(names, ", ...");
	if (n)
		g3_err_hint(err, "%s found: %s", what, names->data);
	else
		g3_err_hint(err, "no %s found there", what);
	g3_buf_release(names);
}

g3_rc g3_layout_finish(g3_layout_plan *plan, const g3_layout_filter *filter, g3_err *err)
{
	size_t n_ws = filter ? filter->n_services : 0;
	size_t n_wi = filter ? filter->n_indices : 0;
	size_t k;

	/* sorted first, so hints list names in order; narrowing below keeps
	 * the order (it only drops entries) */
	if (plan->n_services)
		qsort(plan->services, plan->n_services, sizeof(*plan->services), cmp_service);
	if (plan->n_indices)
		qsort(plan->indices, plan->n_indices, sizeof(*plan->indices), cmp_index);
	if (plan->n_snapshots)
		qsort(plan->snapshots, plan->n_snapshots, sizeof(*plan->snapshots), cmp_snapshot);
	/* requested names must exist */
	for (size_t i = 0; i < n_ws; i++) {
		for (k = 0; k < plan->n_services; k++)
			if (!strcmp(plan->services[k].name, filter->services[i]))
				break;
		if (k == plan->n_services) {
			g3_err_set(err, G3_USAGE, "no dump for service \"%s\" in \"%s\": no "
				   "pgdumps/%s.sql[.gz|.zst] or %s.sql[.gz|.zst]", filter->services[i],
				   plan->base, filter->services[i], filter->services[i]);
			g3_buf names = G3_BUF_INIT;

			for (k = 0; k < plan->n_services && k < 20; k++)
				g3_buf_addf(&names, "%s\"%s\"", k ? ", " : "", plan->services[k].name);
			names_hint(err, "services", &names, plan->n_services);
			return G3_USAGE;
		}
	}
	for (size_t i = 0; i < n_wi; i++) {
		for (k = 0; k < plan->n_indices; k++)
			if (!strcmp(plan->indices[k].name, filter->indices[i]))
				break;
		if (k == plan->n_indices) {
			g3_err_set(err, G3_USAGE, "no files for index \"%s\" under \"%s%s\"",
				   filter->indices[i], plan->base, es_dir(plan));
			g3_buf names = G3_BUF_INIT;

			for (k = 0; k < plan->n_indices && k < 20; k++)
				g3_buf_addf(&names, "%s\"%s\"", k ? ", " : "", plan->indices[k].name);
			names_hint(err, "indices", &names, plan->n_indices);
			return G3_USAGE;
		}
	}
	/* narrow */
	for (size_t i = 0; i < plan->n_services;) {
		if (n_ws && !listed(filter->services, n_ws, plan->services[i].name)) {
			free(plan->services[i].name);
			free(plan->services[i].url);
			memmove(&plan->services[i], &plan->services[i + 1],
				(--plan->n_services - i) * sizeof(*plan->services));
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < plan->n_indices;) {
		g3_layout_index *x = &plan->indices[i];

		if (n_wi && !listed(filter->indices, n_wi, x->name)) {
			G3_FREE_ALL(x->name, x->mapping_url, x->data_url, x->settings_url,
				    x->alias_url);
			memmove(x, x + 1, (--plan->n_indices - i) * sizeof(*x));
			continue;
		}
		i++;
	}
	if (plan->conflict) {
		/* only an error when the ambiguous service was kept */
		for (k = 0; k < plan->n_services; k++) {
			g3_buf b = G3_BUF_INIT;

			g3_buf_addf(&b, "service \"%s\" ", plan->services[k].name);
			if (!strncmp(plan->conflict, b.data, b.len)) {
				g3_buf_release(&b);
				g3_err_set(err, G3_USAGE, "%s", plan->conflict);
				g3_err_hint(err, "keep one dump per service in \"%s\" (pgdumps/ or "
					    "the top level)", plan->base);
				return G3_USAGE;
			}
			g3_buf_release(&b);
		}
	}
	for (size_t i = 0; i < plan->n_indices; i++) {
		g3_layout_index *x = &plan->indices[i];

		if (!x->mapping_url || !x->data_url)
			return g3_err_set(err, G3_USAGE, "index \"%s\" has no %s under \"%s%s\"",
					  x->name, !x->mapping_url ? "__mapping.json" : "__data.json",
					  plan->base, es_dir(plan));
	}
	return G3_OK;
}

g3_rc g3_layout_check_refused(const g3_layout_plan *plan, g3_err *err)
{
	g3_buf shown = G3_BUF_INIT;
	g3_rc rc;

	if (!plan->n_refused_all)
		return G3_OK;
	add_shown(&shown, plan->refused[0].rel);
	rc = g3_err_set(err, G3_USAGE, "refusing the dump %s in \"%s\": %s%s", shown.data,
			plan->base, plan->refused[0].why, plan->n_refused_all > 1 ?
			" (and more: --verbose lists them)" : "");
	g3_err_hint(err, "rename the file, or name the services to restore with --service NAME");
	g3_buf_release(&shown);
	return rc;
}

/* The folder above an s3:// base ("s3://b/env/" for "s3://b/env/v1/"),
 * NULL for a bucket's root. */
static char *s3_parent(const char *base)
{
	const char *key = strchr(base + 5, '/');
	size_t len = strlen(base);

	if (!key || (size_t)(key - base) + 1 >= len)
		return NULL;
	len--;                               /* the trailing '/' */
	while (len > (size_t)(key - base) && base[len - 1] != '/')
		len--;
	return dupn(base, len);
}

g3_rc g3_layout_nothing(const g3_layout_plan *plan, const g3_s3_config *cfg, g3_err *err)
{
	g3_buf h = G3_BUF_INIT;
	char **dirs = NULL;
	size_t n_dirs = 0, shown = 0;
	int more = 0;
	g3_rc rc = G3_USAGE;

	g3_err_set(err, G3_USAGE, "nothing to restore in \"%s\": it holds no "
		   "pgdumps/<service>.sql[.gz|.zst], <service>.sql[.gz|.zst] or "
		   "elasticsearch/<index>__mapping.json with __data.json", plan->base);
	if (!plan->n_unknown_all && !plan->n_refused_all && !plan->n_snapshots) {
		char *parent = !strncmp(plan->base, "s3://", 5) ? s3_parent(plan->base) : NULL;
		g3_err lerr;

		if (!parent) {
			g3_err_hint(err, "\"%s\" is empty", plan->base);
			return G3_USAGE;
		}
		g3_err_init(&lerr);
		if (g3_s3_list_dirs(cfg, parent, G3_LAYOUT_NOTED_MAX, &dirs, &n_dirs, &more, &lerr)) {
			g3_err_hint(err, "there is no object under it, and listing \"%s\" failed: %s",
				    parent, lerr.msg);
		} else if (!n_dirs) {
			g3_err_hint(err, "there is no object under it, and no folder under \"%s\"",
				    parent);
		} else {
			for (size_t i = 0; i < n_dirs; i++) {
				g3_buf_adds(&h, i ? ", " : "");
				add_shown(&h, dirs[i]);
			}
			g3_err_hint(err, "there is no object under it; versions under \"%s\": %s%s",
				    parent, h.data, more ? ", ..." : "");
		}
		g3_strlist_free(dirs, n_dirs);
		free(parent);
		g3_buf_release(&h);
		return rc;
	}
	g3_buf_adds(&h, "");
	for (size_t i = 0; i < plan->n_unknown; i++, shown++) {
		g3_buf_adds(&h, shown ? ", " : "");
		add_shown(&h, plan->unknown[i].rel);
	}
	for (size_t i = 0; i < plan->n_refused; i++, shown++) {
		g3_buf_adds(&h, shown ? ", " : "");
		add_shown(&h, plan->refused[i].rel);
		g3_buf_adds(&h, " (refused: ");
		g3_buf_adds(&h, plan->refused[i].why);
		g3_buf_adds(&h, ")");
	}
	for (size_t i = 0; i < plan->n_snapshots && i < G3_LAYOUT_NOTED_MAX; i++, shown++) {
		g3_buf_adds(&h, shown ? ", " : "");
		add_shown(&h, plan->snapshots[i].name);
		g3_buf_adds(&h, " (a snapshot: 'gen3db restore FILE' restores it)");
	}
	if (plan->n_unknown_all > plan->n_unknown || plan->n_refused_all > plan->n_refused ||
	    plan->n_snapshots > G3_LAYOUT_NOTED_MAX)
		g3_buf_adds(&h, ", ...");
	g3_err_hint(err, "found instead: %s", h.data);
	g3_buf_release(&h);
	return rc;
}

struct scan_ctx {
	g3_layout_plan *plan;
	size_t prefix_len;     /* of the key prefix, to make keys relative */
};

static g3_rc scan_object(void *p, const g3_s3_object *o, g3_err *err)
{
	struct scan_ctx *c = p;

	(void)err;
	if (strlen(o->key) > c->prefix_len)
		g3_layout_add(c->plan, o->key + c->prefix_len, o->size);
	return G3_OK;
}

static g3_rc scan_dir(g3_layout_plan *plan, const char *sub, g3_err *err)
{
	g3_buf path = G3_BUF_INIT;
	g3_buf rel = G3_BUF_INIT;
	DIR *d;
	struct dirent *e;
	g3_rc rc = G3_OK;

	g3_buf_addf(&path, "%s%s", plan->base, sub);
	d = opendir(path.data);
	if (!d) {
		if (*sub && errno == ENOENT)
			goto cleanup;
		rc = g3_err_set(err, G3_USAGE, "could not read directory \"%s\": %s", path.data,
				strerror(errno));
		goto cleanup;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		g3_buf_reset(&rel);
		g3_buf_addf(&rel, "%s%s", sub, e->d_name);
		g3_buf_reset(&path);
		g3_buf_addf(&path, "%s%s", plan->base, rel.data);
		if (stat(path.data, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			/* noted (pgdumps/ and elasticsearch/ are read next) */
			g3_buf_addch(&rel, '/');
			g3_layout_add(plan, rel.data, -1);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		g3_layout_add(plan, rel.data, (int64_t)st.st_size);
	}
	closedir(d);
cleanup:
	g3_buf_release(&path);
	g3_buf_release(&rel);
	return rc;
}

g3_rc g3_layout_scan(const char *base, const g3_s3_config *cfg, const g3_layout_filter *filter,
		     g3_layout_plan *plan, g3_err *err)
{
	g3_rc rc;

	g3_layout_plan_init(plan, base);
	if (!strncmp(plan->base, "s3://", 5)) {
		const char *slash = strchr(plan->base + 5, '/');
		struct scan_ctx c = { plan, strlen(slash + 1) };

		rc = g3_s3_list(cfg, plan->base, scan_object, &c, err);
	} else if (strstr(plan->base, "://")) {
		rc = g3_err_set(err, G3_USAGE, "cannot list \"%s\": only s3:// prefixes and directories",
				base);
	} else if (!(rc = scan_dir(plan, "", err)) && !(rc = scan_dir(plan, "pgdumps/", err))) {
		rc = scan_dir(plan, "elasticsearch/", err);
	}
	if (!rc && (rc = g3_layout_finish(plan, filter, err)) == G3_USAGE && !plan->n_services &&
	    !plan->n_indices && !plan->n_snapshots && !plan->n_unknown_all && !plan->n_refused_all)
		/* a name asked for in a location holding nothing: the location
		 * is what is wrong (a VERSION of 0.0.0), say what is beside it */
		rc = g3_layout_nothing(plan, cfg, err);
	if (rc)
		g3_layout_plan_release(plan);
	return rc;
}

void g3_layout_index_files(const g3_layout_index *x, g3_edump_files *f)
{
	memset(f, 0, sizeof(*f));
	f->layout = "elasticdump";
	f->mapping = g3_xstrdup(x->mapping_url);
	f->data = g3_xstrdup(x->data_url);
	f->settings = x->settings_url ? g3_xstrdup(x->settings_url) : NULL;
	f->alias = x->alias_url ? g3_xstrdup(x->alias_url) : NULL;
}

g3_rc g3_layout_scan_es(const char *url, const g3_s3_config *cfg, const g3_layout_filter *filter,
			g3_layout_plan *plan, g3_err *err)
{
	const char *slash;
	struct scan_ctx c;
	g3_rc rc;

	g3_layout_plan_init(plan, url);
	plan->es_only = 1;
	slash = strncmp(plan->base, "s3://", 5) ? NULL : strchr(plan->base + 5, '/');
	if (!slash) {
		rc = g3_err_set(err, G3_USAGE, "cannot list \"%s\": not an s3://BUCKET/PREFIX/ URL",
				url);
		goto cleanup;
	}
	c = (struct scan_ctx){ plan, strlen(slash + 1) };
	if ((rc = g3_s3_list(cfg, plan->base, scan_object, &c, err)))
		goto cleanup;
	if ((rc = g3_layout_finish(plan, filter, err)))
		goto cleanup;
	if (!plan->n_indices) {
		g3_buf h = G3_BUF_INIT;

		rc = g3_err_set(err, G3_USAGE, "no index to restore in \"%s\": it holds no "
				"<index>__mapping.json with <index>__data.json", plan->base);
		for (size_t i = 0; i < plan->n_unknown; i++) {
			g3_buf_adds(&h, i ? ", " : "");
			g3_layout_quote(&h, plan->unknown[i].rel, 200);
		}
		if (plan->n_unknown)
			g3_err_hint(err, "found instead: %s%s", h.data,
				    plan->n_unknown_all > plan->n_unknown ? ", ..." : "");
		else
			g3_err_hint(err, "\"%s\" is empty", plan->base);
		g3_buf_release(&h);
	}
cleanup:
	if (rc)
		g3_layout_plan_release(plan);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the index names of dir's elasticdump files; notes up to
 * G3_LAYOUT_NOTED_MAX other names in *seen for the error. */
static g3_rc edump_dir(const char *dir, int required, char ***names, size_t *n, g3_buf *seen,
		       size_t *n_seen, g3_err *err)
{
	/* elasticdump's and multielasticdump's (whose data file, <index>.json,
	 * is no sign of an index by itself: any JSON file would match) */
	static const char *const suffixes[] = { "__mapping.json", "__data.json",
						".mapping.json", ".index.json" };
	g3_buf path = G3_BUF_INIT;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d) {
		if (!required && errno == ENOENT)
			return G3_OK;
		return g3_err_set(err, G3_USAGE, "could not read directory \"%s\": %s", dir,
				  strerror(errno));
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), stem = 0;
		struct stat st;
		int taken = 0;

		if (e->d_name[0] == '.')
			continue;
		g3_buf_reset(&path);
		g3_buf_addf(&path, "%s/%s", dir, e->d_name);
		if (stat(path.data, &st))
			continue;
		for (size_t i = 0; S_ISREG(st.st_mode) && !taken &&
				   i < sizeof(suffixes) / sizeof(*suffixes); i++) {
			char *name;

			if (!ends_with(e->d_name, len, suffixes[i], &stem))
				continue;
			taken = 1;
			name = dupn(e->d_name, stem);
			if (!listed((const char *const *)*names, *n, name))
				g3_strlist_add(names, n, name);
			free(name);
		}
		if (!taken && (!required || strcmp(e->d_name, "es") || !S_ISDIR(st.st_mode)) &&
		    (*n_seen)++ < G3_LAYOUT_NOTED_MAX) {
			g3_buf_adds(seen, *n_seen > 1 ? ", " : "");
			add_shown(seen, e->d_name);
			if (S_ISDIR(st.st_mode))
				g3_buf_adds(seen, " (a folder)");
		}
	}
	closedir(d);
	g3_buf_release(&path);
	return G3_OK;
}

g3_rc g3_layout_edump_indices(const char *dir, char ***names, size_t *n, g3_err *err)
{
	g3_buf sub = G3_BUF_INIT, seen = G3_BUF_INIT;
	size_t n_seen = 0;
	g3_rc rc;

	*names = NULL;
	*n = 0;
	g3_buf_addf(&sub, "%s/es", dir);
	g3_buf_adds(&seen, "");
	if (!(rc = edump_dir(dir, 1, names, n, &seen, &n_seen, err)))
		rc = edump_dir(sub.data, 0, names, n, &seen, &n_seen, err);
	if (!rc && !*n) {
		rc = g3_err_set(err, G3_USAGE, "no index to restore in \"%s\": it holds no "
				"<index>__mapping.json, <index>__data.json, "
				"<index>.mapping.json or <index>.index.json, nor does \"%s\"", dir,
				sub.data);
		if (n_seen)
			g3_err_hint(err, "found instead: %s%s", seen.data,
				    n_seen > G3_LAYOUT_NOTED_MAX ? ", ..." : "");
		else
			g3_err_hint(err, "\"%s\" is empty", dir);
	}
	if (rc) {
		g3_strlist_free(*names, *n);
		*names = NULL;
		*n = 0;
	} else if (*n > 1) {
		qsort(*names, *n, sizeof(**names), cmp_str);
	}
	g3_buf_release(&sub);
	g3_buf_release(&seen);
	return rc;
}
