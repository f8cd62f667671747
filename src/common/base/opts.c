#include "opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "size.h"
#include "strbuf.h"

g3_rc g3_parse_long(const char *what, const char *s, long min, long max,
		    long *out, g3_err *err)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return g3_err_set(err, G3_USAGE,
				  "%s must be a whole number from %ld to %ld, not \"%s\"",
				  what, min, max, s);
	*out = v;
	return G3_OK;
}

g3_rc g3_parse_choice(const char *what, const char *s, const char *const *choices, int *out,
		      g3_err *err)
{
	g3_buf list = G3_BUF_INIT;
	g3_rc rc;

	for (int i = 0; choices[i]; i++) {
		if (!strcmp(s, choices[i])) {
			*out = i;
			g3_buf_release(&list);
			return G3_OK;
		}
		g3_buf_addf(&list, "%s%s", i ? "|" : "", choices[i]);
	}
	rc = g3_err_set(err, G3_USAGE, "%s must be %s, not \"%s\"", what, list.data, s);
	g3_buf_release(&list);
	return rc;
}

const char *g3_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int g3_print_options_wanted(void)
{
	const char *v = g3_env("GEN3DB_PRINT_OPTIONS");

	return v && strcmp(v, "0");
}

void g3_opt_json_str(json_object *obj, const char *key, const char *v)
{
	json_object_object_add(obj, key, v ? json_object_new_string(v) : NULL);
}

void g3_opt_json_int(json_object *obj, const char *key, long long v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

void g3_opt_json_bool(json_object *obj, const char *key, int v)
{
	json_object_object_add(obj, key, json_object_new_boolean(v != 0));
}

void g3_opt_json_list(json_object *obj, const char *key, char *const *list, size_t n)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(list[i]));
	json_object_object_add(obj, key, a);
}

void g3_opt_json_url(json_object *obj, const char *key, const char *url)
{
	char *safe = url ? g3_mask_password(url) : NULL;

	g3_opt_json_str(obj, key, safe);
	free(safe);
}

int g3_options_print(FILE *out, const char *command, json_object *options, int argc,
		     char *const *argv)
{
	json_object *root = json_object_new_object();
	int r;

	json_object_object_add(root, "command", json_object_new_string(command));
	json_object_object_add(root, "options", options);
	g3_opt_json_list(root, "args", argv, argc > 0 ? (size_t)argc : 0);
	r = fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return r < 0 || fflush(out) ? -1 : 0;
}

/* Where a "password=" value ends: a quoted libpq value at its closing
 * quote, else at '&' (query string) or blank (key=value string). */
static size_t password_value_len(const char *v)
{
	size_t i = 0;

	if (*v != '\'')
		return strcspn(v, "& \t");
	for (i = 1; v[i] && v[i] != '\''; i++)
		if (v[i] == '\\' && v[i + 1])
			i++;
	return v[i] ? i + 1 : i;
}

char *g3_mask_password(const char *s)
{
	g3_buf b = G3_BUF_INIT;
	const char *p = s, *scheme = strstr(s, "://");

	if (scheme) {
		const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?#"), *at = NULL;
		const char *colon;

		for (const char *q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			g3_buf_add(&b, s, (size_t)(colon + 1 - s));
			g3_buf_adds(&b, "****");
			p = at;
		}
	}
	for (;;) {
		const char *k = strcasestr(p, "password=");

		if (!k) {
			g3_buf_adds(&b, p);
			break;
		}
		k += strlen("password=");
		g3_buf_add(&b, p, (size_t)(k - p));
		g3_buf_adds(&b, "****");
		p = k + password_value_len(k);
	}
	return g3_buf_detach(&b);
}

void g3_strlist_add(char ***list, size_t *n, const char *s)
{
	*list = g3_xrealloc(*list, (*n + 2) * sizeof(char *));
	(*list)[(*n)++] = g3_xstrdup(s);
	(*list)[*n] = NULL;
}

void g3_strlist_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

const char *const g3_on_existing_names[] = { "refuse", "skip", "replace", NULL };

g3_rc g3_on_existing_resolve(int *clean, int given, int *on_existing, g3_err *err)
{
	if (*clean && given && *on_existing != G3_ON_EXISTING_REPLACE) {
		g3_err_set(err, G3_USAGE, "--clean and --on-existing %s contradict each other",
			   g3_on_existing_names[*on_existing]);
		g3_err_hint(err, "--clean is --on-existing replace");
		return G3_USAGE;
	}
	if (*clean)
		*on_existing = G3_ON_EXISTING_REPLACE;
	*clean = *on_existing == G3_ON_EXISTING_REPLACE;
	return G3_OK;
}

g3_rc g3_parse_size(const char *what, const char *s, size_t min, size_t max, size_t *out,
		    g3_err *err)
{
	uint64_t v;

	if (g3_size_parse(s, 1, min, max, &v))
		return g3_err_set(err, G3_USAGE, "%s must be a size from %zu to %zu bytes (suffixes "
				  "KB, MB, GB), not \"%s\"", what, min, max, s);
	*out = (size_t)v;
	return G3_OK;
}

void g3_helm_env_read(g3_helm_env *h)
{
	h->pgdb = g3_env("SERVICE_PGDB");
	h->pguser = g3_env("SERVICE_PGUSER");
	h->pgpass = g3_env("SERVICE_PGPASS");
	h->bucket = g3_env("BUCKET");
	h->environment = g3_env("ENVIRONMENT");
	h->version = g3_env("VERSION");
	h->job_index = g3_env("JOB_COMPLETION_INDEX");
}

/* ---- the option layer ---- */

/* The row's field in the section's struct. */
#define FIELD(T, base, row) ((T *)(void *)((char *)(base) + (row)->off))
#define CFIELD(T, base, row) ((T const *)(const void *)((const char *)(base) + (row)->off))

static const g3_opt common_rows[3];
static const g3_opt help_rows[2] = { G3_ROW_HELP("help", 0), G3_ROW_HELP("help", 'h') };

/* Every command's sections: --help first, the command's own, then the
 * options every command takes. */
static size_t n_sections(const g3_cmd_spec *spec)
{
	return spec->n_sections + 2;
}

static g3_opt_section section_at(const g3_cmd_spec *spec, size_t i)
{
	g3_opt_section help = { &help_rows[spec->help_short ? 1 : 0], 1, 0 };
	g3_opt_section common = { common_rows, 3, 0 };

	if (!i)
		return help;
	return i <= spec->n_sections ? spec->sections[i - 1] : common;
}

static int takes_arg(const g3_opt *r)
{
	switch (r->kind) {
	case G3_OPT_NOTE:
	case G3_OPT_HELP:
	case G3_OPT_FLAG:
	case G3_OPT_COUNT:
		return 0;
	case G3_OPT_CUSTOM:
		return r->metavar != NULL;
	default:
		return 1;
	}
}

void g3_opts_table(const g3_cmd_spec *spec, g3_opt_ref **refs, size_t *n,
		   struct option **longopts, char **shortopts)
{
	g3_buf so = G3_BUF_INIT;
	size_t total = 0, k = 0;

	for (size_t s = 0; s < n_sections(spec); s++)
		total += section_at(spec, s).n;
	*refs = g3_xcalloc(total + 1, sizeof(**refs));
	*longopts = g3_xcalloc(total + 1, sizeof(**longopts));
	if (spec->bad == G3_BAD_OWN)
		g3_buf_addch(&so, ':');
	for (size_t s = 0; s < n_sections(spec); s++) {
		g3_opt_section sec = section_at(spec, s);

		for (size_t i = 0; i < sec.n; i++) {
			const g3_opt *r = &sec.rows[i];

			if (r->kind == G3_OPT_NOTE)
				continue;
			(*refs)[k].row = r;
			(*refs)[k].base = sec.base;
			(*refs)[k].id = G3_OPT_ID_BASE + (int)k;
			(*longopts)[k].name = r->name;
			(*longopts)[k].has_arg = takes_arg(r) ? required_argument : no_argument;
			(*longopts)[k].val = (*refs)[k].id;
			if (r->short_name) {
				g3_buf_addch(&so, (char)r->short_name);
				if (takes_arg(r))
					g3_buf_addch(&so, ':');
			}
			k++;
		}
	}
	g3_buf_addch(&so, '\0');
	*n = k;
	*shortopts = g3_buf_detach(&so);
}

static g3_rc set_row(const g3_opt *r, void *base, const char *arg, g3_err *err)
{
	char what[80];
	long v;
	g3_rc rc;

	if (r->set)
		return r->set(base, r, arg, err);
	snprintf(what, sizeof(what), "--%s", r->name);
	switch (r->kind) {
	case G3_OPT_FLAG:
		*FIELD(int, base, r) = 1;
		return G3_OK;
	case G3_OPT_COUNT:
		(*FIELD(int, base, r))++;
		return G3_OK;
	case G3_OPT_STR:
	case G3_OPT_URL:
		if (r->flags & G3_OPTF_OWNED) {
			free(*FIELD(char *, base, r));
			*FIELD(char *, base, r) = g3_xstrdup(arg);
		} else {
			*FIELD(const char *, base, r) = arg;
		}
		return G3_OK;
	case G3_OPT_LONG:
		return g3_parse_long(what, arg, r->min, r->max, FIELD(long, base, r), err);
	case G3_OPT_INT:
		if ((rc = g3_parse_long(what, arg, r->min, r->max, &v, err)))
			return rc;
		*FIELD(int, base, r) = (int)v;
		return G3_OK;
	case G3_OPT_SCALED:
	case G3_OPT_DOUBLE:
		if ((rc = g3_parse_long(what, arg, r->min, r->max, &v, err)))
			return rc;
		if (r->kind == G3_OPT_SCALED)
			*FIELD(size_t, base, r) = (size_t)v * r->scale;
		else
			*FIELD(double, base, r) = (double)v;
		return G3_OK;
	case G3_OPT_CHOICE:
		if ((rc = g3_parse_choice(what, arg, r->choices, FIELD(int, base, r), err)))
			return rc;
		if (r->flags & G3_OPTF_GIVEN)
			*(int *)(void *)((char *)base + r->off_n) = 1;
		return G3_OK;
	case G3_OPT_SIZE:
		return g3_parse_size(what, arg, (size_t)r->min, (size_t)r->max,
				     FIELD(size_t, base, r), err);
	case G3_OPT_LIST:
		g3_strlist_add(FIELD(char **, base, r), (size_t *)(void *)((char *)base + r->off_n),
			       arg);
		return G3_OK;
	default:
		return g3_err_set(err, G3_FAIL, "option --%s cannot be set", r->name);
	}
}

static void json_row(const g3_opt *r, const void *base, json_object *obj)
{
	if (r->json) {
		r->json(base, r, obj);
		return;
	}
	if (!r->key)
		return;
	switch (r->kind) {
	case G3_OPT_FLAG:
		g3_opt_json_bool(obj, r->key, *CFIELD(int, base, r));
		break;
	case G3_OPT_COUNT:
	case G3_OPT_INT:
		g3_opt_json_int(obj, r->key, *CFIELD(int, base, r));
		break;
	case G3_OPT_STR:
		g3_opt_json_str(obj, r->key, *CFIELD(const char *, base, r));
		break;
	case G3_OPT_URL:
		g3_opt_json_url(obj, r->key, *CFIELD(const char *, base, r));
		break;
	case G3_OPT_LONG:
		g3_opt_json_int(obj, r->key, *CFIELD(long, base, r));
		break;
	case G3_OPT_CHOICE:
		g3_opt_json_str(obj, r->key, r->choices[*CFIELD(int, base, r)]);
		break;
	case G3_OPT_SIZE:
	case G3_OPT_SCALED:
		g3_opt_json_int(obj, r->key, (long long)*CFIELD(size_t, base, r));
		break;
	case G3_OPT_DOUBLE:
		g3_opt_json_int(obj, r->key, (long long)*CFIELD(double, base, r));
		break;
	case G3_OPT_LIST:
		g3_opt_json_list(obj, r->key, *CFIELD(char **, base, r),
				 *(const size_t *)(const void *)((const char *)base + r->off_n));
		break;
	default:
		break;
	}
}

json_object *g3_opts_json(const g3_cmd_spec *spec, const void *opts)
{
	json_object *obj = json_object_new_object();

	for (size_t s = 0; s < n_sections(spec); s++) {
		g3_opt_section sec = section_at(spec, s);

		for (size_t i = 0; i < sec.n; i++)
			json_row(&sec.rows[i], (const char *)opts + sec.base, obj);
	}
	return obj;
}

/* "  -o, --output FILE  help": the help at column 31, or on the next line
 * when the option is wider; the help's further lines at column 31 too. */
static void help_row(const g3_opt *r, g3_buf *b)
{
	size_t start = b->len;
	const char *h = r->help ? r->help : "";

	if (r->short_name)
		g3_buf_addf(b, "  -%c, --%s", r->short_name, r->name);
	else
		g3_buf_addf(b, "      --%s", r->name);
	if (r->metavar) {
		g3_buf_addf(b, " %s", r->metavar);
	} else if (r->kind == G3_OPT_CHOICE) {
		for (size_t i = 0; r->choices[i]; i++)
			g3_buf_addf(b, "%c%s", i ? '|' : ' ', r->choices[i]);
	}
	if (b->len - start > 29)
		g3_buf_addf(b, "\n%31s", "");
	else
		g3_buf_addf(b, "%*s", (int)(31 - (b->len - start)), "");
	for (;;) {
		size_t len = strcspn(h, "\n");

		g3_buf_add(b, h, len);
		g3_buf_addch(b, '\n');
		if (!h[len] || !h[len + 1])
			break;
		h += len + 1;
		g3_buf_addf(b, "%31s", "");
	}
}

void g3_opts_help(const g3_cmd_spec *spec, g3_buf *out)
{
	g3_buf_adds(out, spec->synopsis);
	for (size_t s = 0; s < n_sections(spec); s++) {
		g3_opt_section sec = section_at(spec, s);

		for (size_t i = 0; i < sec.n; i++) {
			const g3_opt *r = &sec.rows[i];

			if (r->kind == G3_OPT_NOTE)
				g3_buf_adds(out, r->help);
			else if (r->kind != G3_OPT_HELP)
				help_row(r, out);
		}
	}
	if (spec->epilog)
		g3_buf_adds(out, spec->epilog);
}

static void print_help(const g3_cmd_spec *spec, FILE *f)
{
	g3_buf b = G3_BUF_INIT;

	g3_opts_help(spec, &b);
	fputs(b.data, f);
	g3_buf_release(&b);
}

static const g3_opt_ref *find_ref(const g3_opt_ref *refs, size_t n, int c)
{
	if (c >= G3_OPT_ID_BASE && (size_t)(c - G3_OPT_ID_BASE) < n)
		return &refs[c - G3_OPT_ID_BASE];
	for (size_t i = 0; i < n; i++)
		if (refs[i].row->short_name && refs[i].row->short_name == c)
			return &refs[i];
	return NULL;
}

/* An unknown option or a missing argument, as spec->bad says. */
static g3_rc bad_option(const g3_cmd_spec *spec, int c, char **argv, g3_err *err)
{
	switch (spec->bad) {
	case G3_BAD_HINT:
		fprintf(stderr, "hint: 'gen3db %s --help' lists the options\n", spec->name);
		break;
	case G3_BAD_USAGE:
		print_help(spec, stderr);
		break;
	case G3_BAD_SEE_HELP:
		return g3_err_set(err, G3_USAGE, "unknown option; see --help");
	case G3_BAD_OWN:
		if (c == ':')
			return g3_err_set(err, G3_USAGE, "option \"%s\" needs a value",
					  argv[optind - 1]);
		return g3_err_set(err, G3_USAGE, "unknown option \"%s\"", argv[optind - 1]);
	}
	err->msg[0] = '\0';
	return G3_USAGE;
}

/* The rows' environment fallbacks: a STR or URL not given takes the
 * variable's value. */
static void apply_env(const g3_opt_ref *refs, size_t n, void *opts)
{
	for (size_t i = 0; i < n; i++) {
		const g3_opt *r = refs[i].row;
		void *base = (char *)opts + refs[i].base;
		const char *v;

		if (!r->env || (r->kind != G3_OPT_STR && r->kind != G3_OPT_URL) ||
		    *FIELD(const char *, base, r) || !(v = g3_env(r->env)))
			continue;
		if (r->flags & G3_OPTF_OWNED)
			*FIELD(char *, base, r) = g3_xstrdup(v);
		else
			*FIELD(const char *, base, r) = v;
	}
}

g3_rc g3_opts_parse(const g3_cmd_spec *spec, void *opts, int argc, char **argv, int *args,
		    int *done, g3_err *err)
{
	g3_opt_ref *refs = NULL;
	struct option *lo = NULL;
	char *so = NULL;
	size_t n = 0;
	g3_rc rc = G3_OK;
	int c;

	*done = 0;
	g3_opts_table(spec, &refs, &n, &lo, &so);
	optind = 1;
	opterr = spec->bad != G3_BAD_OWN;
	while ((c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const g3_opt_ref *ref = find_ref(refs, n, c);

		if (!ref) {
			rc = bad_option(spec, c, argv, err);
			goto cleanup;
		}
		if (ref->row->kind == G3_OPT_HELP) {
			print_help(spec, stdout);
			*done = 1;
			goto cleanup;
		}
		if ((rc = set_row(ref->row, (char *)opts + ref->base, optarg, err)))
			goto cleanup;
	}
	*args = optind;
	if (spec->after && (rc = spec->after(opts, err)))
		goto cleanup;
	if (g3_print_options_wanted()) {
		*done = 1;
		if (g3_options_print(stdout, spec->name, g3_opts_json(spec, opts), argc - optind,
				     argv + optind))
			rc = g3_err_set(err, G3_FAIL, "could not write to standard output");
		goto cleanup;
	}
	apply_env(refs, n, opts);
	if (spec->helm_off >= 0)
		g3_helm_env_read((g3_helm_env *)(void *)((char *)opts + spec->helm_off));
cleanup:
	free(refs);
	free(lo);
	free(so);
	return rc;
}

g3_rc g3_opts_set(const g3_cmd_spec *spec, void *opts, const char *name, const char *value,
		  g3_err *err)
{
	for (size_t s = 0; s < n_sections(spec); s++) {
		g3_opt_section sec = section_at(spec, s);

		for (size_t i = 0; i < sec.n; i++) {
			const g3_opt *r = &sec.rows[i];
			void *base = (char *)opts + sec.base;

			if (r->kind == G3_OPT_NOTE || r->kind == G3_OPT_HELP || strcmp(r->name, name))
				continue;
			if ((r->kind == G3_OPT_STR || r->kind == G3_OPT_URL) &&
			    *FIELD(const char *, base, r))
				return G3_OK;
			return set_row(r, base, value, err);
		}
	}
	return g3_err_set(err, G3_USAGE, "unknown option \"%s\"", name);
}

/* ---- the options every command takes ---- */

static g3_rc set_log_format(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	g3_log_format fmt;

	(void)base;
	(void)row;
	if (g3_log_parse_format(arg, &fmt))
		return g3_err_set(err, G3_USAGE, "--log-format must be \"plain\" or \"json\", not \"%s\"",
				  arg);
	g3_log_set_format(fmt);
	return G3_OK;
}

/* --quiet and --verbose */
static g3_rc set_log_flag(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	(void)base;
	(void)arg;
	(void)err;
	if (!strcmp(row->name, "quiet"))
		g3_log_set_quiet(1);
	else
		g3_log_set_verbose(1);
	return G3_OK;
}

static void json_log(const void *base, const g3_opt *row, json_object *obj)
{
	(void)base;
	if (!strcmp(row->key, "log_format"))
		g3_opt_json_str(obj, row->key, g3_log_get_format() == G3_LOG_JSON ? "json" : "plain");
	else
		g3_opt_json_bool(obj, row->key, !strcmp(row->key, "quiet") ? g3_log_get_quiet()
									   : g3_log_get_verbose());
}

static const g3_opt common_rows[3] = {
	{ .name = "log-format", .kind = G3_OPT_CUSTOM, .set = set_log_format, .json = json_log,
	  .key = "log_format", .metavar = "plain|json",
	  .help = "messages on stderr as text lines or JSON objects" },
	{ .name = "quiet", .kind = G3_OPT_CUSTOM, .set = set_log_flag, .json = json_log,
	  .key = "quiet", .help = "only warnings and errors on stderr" },
	{ .name = "verbose", .kind = G3_OPT_CUSTOM, .set = set_log_flag, .json = json_log,
	  .key = "verbose", .help = "also debug messages" },
};
