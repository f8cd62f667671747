/*
 * The one path for messages on stderr.
 *
 * Plain format: "gen3db: <message>" with an optional "hint: ..." line;
 * messages are lowercase, without a full stop, and quote the names they
 * mention. JSON format (--log-format json): one object per line with
 * "level", "msg" and optional "hint" and event fields, for CI logs.
 * stdout is never written here: it is for results only.
 *
 * Not thread-safe for configuration (set it before starting threads);
 * each message is written with a single fwrite so lines do not interleave.
 */
#ifndef G3_LOG_H
#define G3_LOG_H

#include "err.h"

typedef enum g3_log_format { G3_LOG_PLAIN, G3_LOG_JSON } g3_log_format;
typedef enum g3_log_level {
	G3_LOG_DEBUG, G3_LOG_INFO, G3_LOG_WARN, G3_LOG_ERROR
} g3_log_level;

void g3_log_set_format(g3_log_format fmt);
g3_log_format g3_log_get_format(void);
void g3_log_set_quiet(int quiet);       /* drops info messages */
void g3_log_set_verbose(int verbose);   /* shows debug messages */
int g3_log_parse_format(const char *name, g3_log_format *out);
int g3_log_get_quiet(void);
int g3_log_get_verbose(void);

/*
 * A function called, under the log's lock, before each message is
 * written: the progress meter clears its status line there. It must not
 * log. NULL removes it.
 */
void g3_log_set_before_write(void (*hook)(void));

/*
 * Runs fn(arg) under the log's lock, so what it writes to stderr (the
 * progress line) never lands inside a message. fn must not log.
 */
void g3_log_locked(void (*fn)(void *arg), void *arg);

void g3_log(g3_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define g3_error(...) g3_log(G3_LOG_ERROR, __VA_ARGS__)
#define g3_warn(...) g3_log(G3_LOG_WARN, __VA_ARGS__)
#define g3_info(...) g3_log(G3_LOG_INFO, __VA_ARGS__)
#define g3_debug(...) g3_log(G3_LOG_DEBUG, __VA_ARGS__)

/* Logs an error set by the library: its message and hint. */
void g3_log_err(const g3_err *err);

/* A message with a hint line. */
void g3_log_hint(g3_log_level level, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A structured event: in JSON format an object {"level","event",...fields};
 * in plain format the message text. fields is a NULL-terminated list of
 * key, value string pairs (values already free of secrets).
 */
void g3_log_event(g3_log_level level, const char *event, const char *msg,
		  const char *const *fields);

/*
 * The same with typed fields: the members of fields (a json-c object,
 * numbers and nulls kept as they are) are added to the JSON object; in
 * plain format only msg is written. fields stays the caller's.
 */
struct json_object;
void g3_log_event_json(g3_log_level level, const char *event, const char *msg,
		       struct json_object *fields);

#endif
