/*
 * Option and environment helpers shared by every command: number parsing
 * with range checks, non-empty environment lookups, and the options every
 * command takes (--log-format, --quiet, --verbose) as one table fragment.
 * Option ids: optids.h.
 */
#ifndef G3_OPTS_H
#define G3_OPTS_H

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "err.h"
#include "optids.h"

/* Parses a whole decimal number in [min, max]; what names the option. */
g3_rc g3_parse_long(const char *what, const char *s, long min, long max,
		    long *out, g3_err *err);

/* Parses one of choices (a NULL-terminated list) into its index; what
 * names the option, and the error lists the choices. */
g3_rc g3_parse_choice(const char *what, const char *s, const char *const *choices, int *out,
		      g3_err *err);

/* --on-existing: what happens to a target database that has tables, or an
 * index or alias that exists (the order of g3_on_existing_names). */
enum g3_on_existing { G3_ON_EXISTING_REFUSE, G3_ON_EXISTING_SKIP, G3_ON_EXISTING_REPLACE };
extern const char *const g3_on_existing_names[];

/* --clean is --on-existing replace: with clean set, *on_existing becomes
 * replace, unless --on-existing was given (given) as something else, a
 * usage error; then *clean is set from *on_existing. */
g3_rc g3_on_existing_resolve(int *clean, int given, int *on_existing, g3_err *err);

/* The variable's value, or NULL when it is unset or empty. */
const char *g3_env(const char *name);

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

/*
 * GEN3DB_PRINT_OPTIONS=1, a debugging aid: every command, right after
 * parsing its command line and before any file, network or server access,
 * prints what it parsed as one JSON object on stdout,
 *   {"command": NAME, "options": {FIELD: VALUE, ...}, "args": [...]}
 * (a field per option, null or the default when not given; the positional
 * arguments in args) and exits 0. Values are as parsed, before any
 * environment fallback; URLs that may carry a password go through
 * g3_opt_json_url, so no secret is ever printed.
 */
int g3_print_options_wanted(void);
/* Adds key = v (NULL: null), an integer, a boolean, a string list. */
void g3_opt_json_str(json_object *obj, const char *key, const char *v);
void g3_opt_json_int(json_object *obj, const char *key, long long v);
void g3_opt_json_bool(json_object *obj, const char *key, int v);
void g3_opt_json_list(json_object *obj, const char *key, char *const *list, size_t n);
/* Adds a URL or libpq connection string with its password masked. */
void g3_opt_json_url(json_object *obj, const char *key, const char *url);
/* Adds the common options: log_format, quiet, verbose. */
void g3_common_options_json(json_object *obj);
/* Writes {"command", "options", "args"} and a newline to out; puts options.
 * Returns 0, or -1 when out could not be written. */
int g3_options_print(FILE *out, const char *command, json_object *options, int argc,
		     char *const *argv);
/* A copy of s (caller frees) with the password of a URL's userinfo and
 * the value of any "password=" key (query string, key=value connection
 * string) replaced by "****". */
char *g3_mask_password(const char *s);

/* Appends to a NULL-terminated string list (caller owns all). */
void g3_strlist_add(char ***list, size_t *n, const char *s);
void g3_strlist_free(char **list, size_t n);

#endif
