/*
 * Results and error messages of the gen3db library.
 *
 * Library functions never print and never exit: they return a g3_rc and,
 * on failure, fill a g3_err with a lowercase message naming what failed
 * (and optionally a hint the user can act on). Only the command layer turns
 * a g3_rc into one of the documented exit codes.
 */
#ifndef G3_ERR_H
#define G3_ERR_H

#include <stddef.h>

typedef enum g3_rc {
	G3_OK = 0,
	G3_FAIL = 1,        /* the operation failed */
	G3_USAGE = 2,       /* bad input; nothing was changed */
	G3_UNREACHABLE = 3  /* a target did not answer within the wait */
} g3_rc;

#define G3_ERR_MSG_MAX 1024

typedef struct g3_err {
	g3_rc rc;
	char msg[G3_ERR_MSG_MAX];
	char hint[G3_ERR_MSG_MAX];
} g3_err;

void g3_err_init(g3_err *err);

/* Sets rc and the message (printf-style); returns rc so callers can write
 * `return g3_err_set(err, G3_FAIL, "could not open \"%s\"", path);` */
g3_rc g3_err_set(g3_err *err, g3_rc rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Adds a hint line to an error already set. */
void g3_err_hint(g3_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context: "restoring x: <old>". */
void g3_err_prefix(g3_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A failed command's --json report on stdout, one line: what the command
 * gathered so far (report, may be NULL; consumed) with "status": "failed",
 * "exit_code", "error" (err's message) and "hint" when there is one. */
struct json_object;
void g3_err_print_json(struct json_object *report, g3_rc rc, const g3_err *err);

/* Maps a g3_rc to the documented exit code (0, 1, 2, 3). */
int g3_exit_code(g3_rc rc);

#endif
