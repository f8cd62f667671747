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
