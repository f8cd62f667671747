#include "opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
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

int g3_common_option(int c, const char *arg, g3_err *err)
{
	g3_log_format fmt;

	switch (c) {
	case G3_OPT_LOG_FORMAT:
		if (g3_log_parse_format(arg, &fmt)) {
			g3_err_set(err, G3_USAGE,
				   "--log-format must be \"plain\" or \"json\", not \"%s\"", arg);
			return -1;
		}
		g3_log_set_format(fmt);
		return 1;
	case G3_OPT_QUIET:
		g3_log_set_quiet(1);
		return 1;
	case G3_OPT_VERBOSE:
		g3_log_set_verbose(1);
		return 1;
	}
	return 0;
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

void g3_common_options_json(json_object *obj)
{
	g3_opt_json_str(obj, "log_format", g3_log_get_format() == G3_LOG_JSON ? "json" : "plain");
	g3_opt_json_bool(obj, "quiet", g3_log_get_quiet());
	g3_opt_json_bool(obj, "verbose", g3_log_get_verbose());
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
