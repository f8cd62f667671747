/*
 * Where a source or sink spec goes: one table from URL scheme to the kind
 * that opens it. "-" and plain paths are the file kinds (source.c,
 * sink.c); a spec with "://" and a scheme not in the table is refused.
 * The kinds never include this file, so adding one is a row here.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "s3.h"
#include "sink.h"
#include "source.h"

static g3_rc http_source(const char *spec, g3_source **out, g3_err *err)
{
	g3_http_opts opts;

	g3_http_get_defaults(&opts);
	return g3_http_open(spec, NULL, &opts, out, err);
}

static g3_rc s3_source(const char *spec, g3_source **out, g3_err *err)
{
	return g3_s3_open_source(NULL, spec, out, err);
}

static g3_rc s3_sink(const char *spec, g3_sink **out, g3_err *err)
{
	return g3_s3_sink_open(NULL, spec, out, err);
}

static const struct scheme {
	const char *prefix;
	int any_case;        /* http(s) schemes were always case-insensitive */
	g3_rc (*source)(const char *spec, g3_source **out, g3_err *err);
	g3_rc (*sink)(const char *spec, g3_sink **out, g3_err *err);
} schemes[] = {
	{ "s3://", 0, s3_source, s3_sink },
	{ "http://", 1, http_source, NULL },
	{ "https://", 1, http_source, NULL },
};

static const struct scheme *scheme_of(const char *spec)
{
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		const struct scheme *s = &schemes[i];
		size_t n = strlen(s->prefix);

		if (s->any_case ? !strncasecmp(spec, s->prefix, n) : !strncmp(spec, s->prefix, n))
			return s;
	}
	return NULL;
}

g3_rc g3_source_open(const char *spec, g3_source **out, g3_err *err)
{
	const struct scheme *s = strcmp(spec, "-") ? scheme_of(spec) : NULL;

	*out = NULL;
	if (s && s->source)
		return s->source(spec, out, err);
	if (strcmp(spec, "-") && strstr(spec, "://")) {
		char *name = g3_url_redact(spec);

		g3_err_set(err, G3_USAGE, "unsupported source \"%s\"", name);
		g3_err_hint(err, "sources are a path, \"-\", http(s):// or s3:// URLs");
		free(name);
		return G3_USAGE;
	}
	return g3_file_source_open(spec, out, err);
}

g3_rc g3_sink_open(const char *spec, g3_sink **out, g3_err *err)
{
	const struct scheme *s = strcmp(spec, "-") ? scheme_of(spec) : NULL;

	*out = NULL;
	if (s && s->sink)
		return s->sink(spec, out, err);
	if (strcmp(spec, "-") && strstr(spec, "://"))
		return g3_err_set(err, G3_USAGE, "unsupported output \"%s\"", spec);
	return g3_file_sink_open(spec, out, err);
}
