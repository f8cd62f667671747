/*
 * Option and environment helpers shared by every command: number parsing
 * with range checks, non-empty environment lookups, and the options every
 * command takes (--log-format, --quiet, --verbose) as one table fragment.
 */
#ifndef G3_OPTS_H
#define G3_OPTS_H

#include <getopt.h>

#include "err.h"

/* Parses a whole decimal number in [min, max]; what names the option. */
g3_rc g3_parse_long(const char *what, const char *s, long min, long max,
		    long *out, g3_err *err);

/* The variable's value, or NULL when it is unset or empty. */
const char *g3_env(const char *name);

enum {
	G3_OPT_LOG_FORMAT = 0x1000,
	G3_OPT_QUIET,
	G3_OPT_VERBOSE,
	G3_OPT_COMMON_LAST
};

#define G3_COMMON_LONG_OPTIONS \
	{ "log-format", required_argument, NULL, G3_OPT_LOG_FORMAT }, \
	{ "quiet", no_argument, NULL, G3_OPT_QUIET }, \
	{ "verbose", no_argument, NULL, G3_OPT_VERBOSE }

#define G3_COMMON_HELP \
	"      --log-format plain|json  messages on stderr as text lines or JSON objects\n" \
	"      --quiet                  only warnings and errors on stderr\n" \
	"      --verbose                also debug messages\n"

/* Handles a common option; returns 1 if it was one (0 otherwise), sets err
 * and returns -1 on a bad value. */
int g3_common_option(int c, const char *arg, g3_err *err);

/* Appends to a NULL-terminated string list (caller owns all). */
void g3_strlist_add(char ***list, size_t *n, const char *s);
void g3_strlist_free(char **list, size_t n);

#endif
