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

#include "strbuf.h"

char *g3_layout_base(const char *bucket, const char *environment, const char *version)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "s3://%s/%s/%s/", bucket, environment, version);
	return g3_buf_detach(&b);
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

		free(x->name);
		free(x->mapping_url);
		free(x->data_url);
		free(x->settings_url);
		free(x->alias_url);
	}
	for (size_t i = 0; i < plan->n_snapshots; i++) {
		free(plan->snapshots[i].name);
		free(plan->snapshots[i].url);
	}
	free(plan->services);
	free(plan->indices);
	free(plan->snapshots);
	free(plan->base);
	free(plan->conflict);
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

void g3_layout_add(g3_layout_plan *plan, const char *rel, int64_t size)
{
	static const struct { const char *suffix; g3_dump_compression comp; } dumps[] = {
		{ ".sql.zst", G3_DUMP_ZSTD }, { ".sql.gz", G3_DUMP_GZIP }, { ".sql", G3_DUMP_PLAIN },
	};
	static const char *const es_suffixes[] = {
		"__mapping.json", "__data.json", "__settings.json", "__alias.json",
	};
	size_t len = strlen(rel), stem;

	if (!strncmp(rel, "pgdumps/", 8)) {
		const char *f = rel + 8;
		size_t fl = len - 8;

		for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
			if (ends_with(f, fl, dumps[i].suffix, &stem)) {
				if (good_name(f, stem))
					add_service(plan, rel, f, stem, dumps[i].comp, size);
				return;
			}
		}
		return;
	}
	if (!strncmp(rel, "elasticsearch/", 14)) {
		const char *f = rel + 14;
		size_t fl = len - 14;

		for (size_t i = 0; i < sizeof(es_suffixes) / sizeof(es_suffixes[0]); i++) {
			g3_layout_index *x;
			char **slot;

			if (!ends_with(f, fl, es_suffixes[i], &stem))
				continue;
			if (!good_name(f, stem))
				return;
			x = find_index(plan, f, stem);
			slot = i == 0 ? &x->mapping_url : i == 1 ? &x->data_url :
			       i == 2 ? &x->settings_url : &x->alias_url;
			free(*slot);
			*slot = url_of(plan, rel);
			if (i == 1)
				x->data_size = size;
			return;
		}
		return;
	}
	if (!strchr(rel, '/') && ends_with(rel, len, ".tar.zst", &stem) && stem > 0) {
		g3_layout_snapshot *s;

		plan->snapshots = g3_xrealloc(plan->snapshots, (plan->n_snapshots + 1) * sizeof(*s));
		s = &plan->snapshots[plan->n_snapshots++];
		s->name = g3_xstrdup(rel);
		s->url = url_of(plan, rel);
		s->size = size;
	}
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
			g3_err_set(err, G3_USAGE, "no dump for service \"%s\" under \"%spgdumps/\"",
				   filter->services[i], plan->base);
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
			g3_err_set(err, G3_USAGE, "no files for index \"%s\" under \"%selasticsearch/\"",
				   filter->indices[i], plan->base);
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
			free(x->name);
			free(x->mapping_url);
			free(x->data_url);
			free(x->settings_url);
			free(x->alias_url);
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
				g3_err_hint(err, "keep one dump per service under \"%spgdumps/\"",
					    plan->base);
				return G3_USAGE;
			}
			g3_buf_release(&b);
		}
	}
	for (size_t i = 0; i < plan->n_indices; i++) {
		g3_layout_index *x = &plan->indices[i];

		if (!x->mapping_url || !x->data_url)
			return g3_err_set(err, G3_USAGE, "index \"%s\" has no %s under \"%selasticsearch/\"",
					  x->name, !x->mapping_url ? "__mapping.json" : "__data.json",
					  plan->base);
	}
	return G3_OK;
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
		if (stat(path.data, &st) || !S_ISREG(st.st_mode))
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
	if (!rc)
		rc = g3_layout_finish(plan, filter, err);
	if (rc)
		g3_layout_plan_release(plan);
	return rc;
}
