/*
 * Options: every option of every command is one row of a table (g3_opt),
 * and this layer does the rest from the rows: getopt ids and the
 * struct option array, parsing into the command's options struct, the
 * environment fallbacks (one place), the --help text and the
 * GEN3DB_PRINT_OPTIONS object. Shared fragments (the remote options in
 * remoteopts.h, the Elasticsearch connection in es.h, the bulk loader in
 * esbulk.h, --keep-versions in esrestore.h) are row arrays a command lists
 * as sections of its g3_cmd_spec, each at the offset of the sub-struct it
 * fills; --help and the common options (--log-format, --quiet, --verbose)
 * the layer gives every command.
 *
 * A row: long name, optional short char, argument kind, target field
 * (offsetof in the section's struct), JSON key for GEN3DB_PRINT_OPTIONS
 * (NULL: not printed), environment fallback (NULL: none), metavar and help
 * (lines separated by '\n'). Rows of kind G3_OPT_NOTE are only help text.
 * Config files go through the same setters (g3_opts_set). Strings point
 * into argv (or the config) unless G3_OPTF_OWNED; lists are copies the
 * command frees (g3_strlist_free).
 *
 * Not thread-safe (getopt): parse before starting threads.
 */
#ifndef G3_OPTS_H
#define G3_OPTS_H

#include <getopt.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "strbuf.h"

/* Parses a whole decimal number in [min, max]; what names the option. */
g3_rc g3_parse_long(const char *what, const char *s, long min, long max,
		    long *out, g3_err *err);

/* Parses a size: bytes, or with KB/MB/GB (KiB/MiB/GiB, 1024-based). */
g3_rc g3_parse_size(const char *what, const char *s, size_t min, size_t max, size_t *out,
		    g3_err *err);

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

/* What the gen3-helm jobs put in the environment, read once by the option
 * layer (g3_cmd_spec.helm_off) right after parsing: the pointers are
 * getenv's (NULL when unset or empty). ESHOST and ES_CACERT are the
 * environment fallbacks of --es and --es-cacert (es.h's rows). */
typedef struct g3_helm_env {
	const char *pgdb;         /* SERVICE_PGDB: the service's database */
	const char *pguser;       /* SERVICE_PGUSER: its role */
	const char *pgpass;       /* SERVICE_PGPASS: the role's password */
	const char *bucket;       /* BUCKET, ENVIRONMENT, VERSION: a whole */
	const char *environment;  /* environment's dumps, */
	const char *version;      /* s3://BUCKET/ENVIRONMENT/VERSION/ */
	const char *job_index;    /* JOB_COMPLETION_INDEX (Indexed Jobs) */
} g3_helm_env;

void g3_helm_env_read(g3_helm_env *h);

/* ---- the option layer ---------------------------------------------------- */

enum g3_opt_kind {
	G3_OPT_NOTE,    /* no option: help is printed as it is */
	G3_OPT_HELP,    /* --help: prints the command's help (not listed in it) */
	G3_OPT_FLAG,    /* int, set to 1 */
	G3_OPT_COUNT,   /* int, one more each time */
	G3_OPT_STR,     /* const char *, pointing into argv (G3_OPTF_OWNED: a copy) */
	G3_OPT_URL,     /* the same, printed with its password masked */
	G3_OPT_LONG,    /* long in [min, max] */
	G3_OPT_INT,     /* int in [min, max] */
	G3_OPT_CHOICE,  /* int: the index in choices */
	G3_OPT_SIZE,    /* size_t in [min, max] bytes, with KB/MB/GB */
	G3_OPT_SCALED,  /* size_t: a whole number in [min, max] of units of scale */
	G3_OPT_DOUBLE,  /* double: a whole number in [min, max] (seconds) */
	G3_OPT_LIST,    /* char ** and its size_t count at off_n; repeatable */
	G3_OPT_CUSTOM,  /* set and json do it all (an argument when metavar) */
};

/* Flags of a row. */
#define G3_OPTF_OWNED 1u   /* STR/URL: the field owns a copy (old one freed) */
#define G3_OPTF_GIVEN 2u   /* the int at off_n is set to 1 when given */

typedef struct g3_opt g3_opt;

/* A row's setter: base is the section's struct, arg NULL for options
 * without an argument. Returns G3_USAGE with err set on a bad value. */
typedef g3_rc (*g3_opt_set_fn)(void *base, const g3_opt *row, const char *arg, g3_err *err);
/* Adds the row's field(s) to obj for GEN3DB_PRINT_OPTIONS. */
typedef void (*g3_opt_json_fn)(const void *base, const g3_opt *row, json_object *obj);

struct g3_opt {
	const char *name;           /* long name, without "--" */
	int short_name;             /* 0: none */
	enum g3_opt_kind kind;
	size_t off, off_n;          /* target field (and LIST's count) */
	long min, max;              /* LONG, INT, SIZE, SCALED, DOUBLE */
	size_t scale;               /* SCALED: bytes of one unit */
	const char *const *choices; /* CHOICE: NULL-terminated */
	g3_opt_set_fn set;          /* NULL: set by kind (CUSTOM: required) */
	g3_opt_json_fn json;        /* NULL: printed by kind under key */
	const char *key;            /* GEN3DB_PRINT_OPTIONS field; NULL: none */
	const char *env;            /* STR/URL: taken from it when not given */
	const char *metavar;        /* the argument in --help; NULL: none */
	const char *help;
	unsigned flags;
};

/* One row per line: T is the section's struct type, F a field. */
#define G3_OFF(T, F) offsetof(T, F)
#define G3_ROW_NOTE(t_) { .kind = G3_OPT_NOTE, .help = (t_) }
#define G3_ROW_HELP(n_, s_) { .name = (n_), .short_name = (s_), .kind = G3_OPT_HELP }
#define G3_ROW_FLAG(n_, s_, T, F, k_, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_FLAG, .off = G3_OFF(T, F), \
	  .key = (k_), .help = (h_) }
#define G3_ROW_STR(n_, s_, T, F, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_STR, .off = G3_OFF(T, F), \
	  .key = (k_), .metavar = (mv), .help = (h_) }
#define G3_ROW_URL(n_, s_, T, F, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_URL, .off = G3_OFF(T, F), \
	  .key = (k_), .metavar = (mv), .help = (h_) }
#define G3_ROW_LONG(n_, s_, T, F, lo, hi, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_LONG, .off = G3_OFF(T, F), \
	  .min = (lo), .max = (hi), .key = (k_), .metavar = (mv), .help = (h_) }
#define G3_ROW_INT(n_, s_, T, F, lo, hi, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_INT, .off = G3_OFF(T, F), \
	  .min = (lo), .max = (hi), .key = (k_), .metavar = (mv), .help = (h_) }
#define G3_ROW_SIZE(n_, s_, T, F, lo, hi, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_SIZE, .off = G3_OFF(T, F), \
	  .min = (lo), .max = (hi), .key = (k_), .metavar = (mv), .help = (h_) }
#define G3_ROW_CHOICE(n_, s_, T, F, list, k_, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_CHOICE, .off = G3_OFF(T, F), \
	  .choices = (list), .key = (k_), .help = (h_) }
/* The same, noting in int G that it was given. */
#define G3_ROW_CHOICE_GIVEN(n_, s_, T, F, G, list, k_, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_CHOICE, .off = G3_OFF(T, F), \
	  .off_n = G3_OFF(T, G), .flags = G3_OPTF_GIVEN, .choices = (list), .key = (k_), \
	  .help = (h_) }
#define G3_ROW_LIST(n_, s_, T, F, N, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = G3_OPT_LIST, .off = G3_OFF(T, F), \
	  .off_n = G3_OFF(T, N), .key = (k_), .metavar = (mv), .help = (h_) }
/* --wait SECONDS, for what (e.g. "the server"); default 300 (the caller's) */
#define G3_ROW_WAIT(T, F, what) \
	G3_ROW_LONG("wait", 0, T, F, 0, 86400, "wait", "SECONDS", \
		    "keep trying this long for " what ", the last\n" \
		    "try when it has passed (default 300)")
/* The PostgreSQL master connection: a heading naming libpq's variables,
 * --master URL (help: url_help) and --wait (for what). heading is "Master
 * connection" or the like. */
#define G3_ROWS_MASTER(T, U, W, heading, url_help, what) \
	G3_ROW_NOTE(heading " (libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGPASSFILE,\n" \
		    "PGSSLMODE, ... or):\n"), \
	G3_ROW_URL("master", 0, T, U, "master", "URL", url_help), \
	G3_ROW_WAIT(T, W, what)
/* A row of kind K (how it prints) whose setter is fn; F and N as the
 * setter uses them (N: a LIST's count; else F again). */
#define G3_ROW_SET(n_, s_, K, fn, T, F, N, k_, mv, h_) \
	{ .name = (n_), .short_name = (s_), .kind = (K), .set = (fn), .off = G3_OFF(T, F), \
	  .off_n = G3_OFF(T, N), .key = (k_), .metavar = (mv), .help = (h_) }

/* A run of rows filling the struct at offset base of the command's. */
typedef struct g3_opt_section {
	const g3_opt *rows;
	size_t n;
	size_t base;
} g3_opt_section;

#define G3_SECTION(rows, base) { (rows), sizeof(rows) / sizeof((rows)[0]), (base) }

/* How a command reports an unknown option or a missing argument (each
 * command keeps its own wording): getopt's message then ... */
enum g3_opt_bad {
	G3_BAD_HINT,      /* "hint: 'gen3db NAME --help' lists the options" */
	G3_BAD_USAGE,     /* the whole help text on stderr */
	G3_BAD_SEE_HELP,  /* err: "unknown option; see --help" */
	G3_BAD_OWN,       /* no getopt message; err: "unknown option \"X\"" or
			   * "option \"X\" needs a value" */
};

typedef struct g3_cmd_spec {
	const char *name;
	const char *synopsis;       /* "usage: ...", the description, a blank line */
	const g3_opt_section *sections;
	size_t n_sections;
	const char *epilog;         /* after the rows (exit codes) */
	int help_short;             /* 'h': -h is --help too; 0: only --help */
	enum g3_opt_bad bad;
	/* run after parsing, before the options are printed (checks that
	 * combine options); NULL: none */
	g3_rc (*after)(void *opts, g3_err *err);
	long helm_off;              /* the g3_helm_env to fill; -1: none */
} g3_cmd_spec;

/* A command's spec from its name, sections (an array), -h or not, how it
 * reports a bad option, its after hook (or NULL), helm offset (or -1) and
 * texts. --help and the common options are every command's: the layer
 * adds them (--help first, the common ones last). */
#define G3_CMD_SPEC(n_, secs, h_, bad_, after_, helm_, syn, epi) \
	{ .name = (n_), .synopsis = (syn), .sections = (secs), \
	  .n_sections = sizeof(secs) / sizeof((secs)[0]), .epilog = (epi), .help_short = (h_), \
	  .bad = (bad_), .after = (after_), .helm_off = (helm_) }
/* The same for a command whose options are one row array. */
#define G3_CMD_SPEC_ROWS(n_, rows, h_, bad_, after_, helm_, syn, epi) \
	{ .name = (n_), .synopsis = (syn), \
	  .sections = (const g3_opt_section[]){ G3_SECTION(rows, 0) }, .n_sections = 1, \
	  .epilog = (epi), .help_short = (h_), .bad = (bad_), .after = (after_), \
	  .helm_off = (helm_) }

/*
 * Parses argv into opts (defaults already set by the caller). Then, in
 * this order: spec->after; GEN3DB_PRINT_OPTIONS (the values as parsed,
 * before any environment fallback); the rows' environment fallbacks and
 * the helm environment. *done is set when --help was printed or the
 * options were (nothing else is to be done; G3_OK unless stdout failed).
 * *args is where the positional arguments start. G3_USAGE on a bad
 * option (err's message empty when getopt already said it).
 */
g3_rc g3_opts_parse(const g3_cmd_spec *spec, void *opts, int argc, char **argv, int *args,
		    int *done, g3_err *err);

/* Sets option name (a long name) from a config file value, through its
 * row's setter; a STR or URL field already set (by the command line) is
 * kept. G3_USAGE for an unknown name or a bad value. */
g3_rc g3_opts_set(const g3_cmd_spec *spec, void *opts, const char *name, const char *value,
		  g3_err *err);

/* The rows flattened (--help first, the common options last, NOTE rows
 * left out), with their getopt ids
 * (G3_OPT_ID_BASE + position), and the matching struct option array
 * (NULL-terminated) and short option string. Caller frees all three. */
#define G3_OPT_ID_BASE 0x100
typedef struct g3_opt_ref {
	const g3_opt *row;
	size_t base;
	int id;
} g3_opt_ref;
void g3_opts_table(const g3_cmd_spec *spec, g3_opt_ref **refs, size_t *n,
		   struct option **longopts, char **shortopts);

/* The --help text. */
void g3_opts_help(const g3_cmd_spec *spec, g3_buf *out);
/* The GEN3DB_PRINT_OPTIONS "options" object of opts (caller puts it). */
json_object *g3_opts_json(const g3_cmd_spec *spec, const void *opts);

/*
 * GEN3DB_PRINT_OPTIONS=1, a debugging aid: every command, right after
 * parsing its command line and before any file, network or server access,
 * prints what it parsed as one JSON object on stdout,
 *   {"command": NAME, "options": {FIELD: VALUE, ...}, "args": [...]}
 * (a field per option, null or the default when not given; the positional
 * arguments in args) and exits 0. Values are as parsed, before any
 * environment fallback; URLs that may carry a password are masked, so no
 * secret is ever printed.
 */
int g3_print_options_wanted(void);
/* Adds key = v (NULL: null), an integer, a boolean, a string list. */
void g3_opt_json_str(json_object *obj, const char *key, const char *v);
void g3_opt_json_int(json_object *obj, const char *key, long long v);
void g3_opt_json_bool(json_object *obj, const char *key, int v);
void g3_opt_json_list(json_object *obj, const char *key, char *const *list, size_t n);
/* Adds a URL or libpq connection string with its password masked. */
void g3_opt_json_url(json_object *obj, const char *key, const char *url);
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
