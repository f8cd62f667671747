#include "log.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static g3_log_format log_format = G3_LOG_PLAIN;
static int log_quiet;
static int log_verbose;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*log_before_write)(void);

void g3_log_set_format(g3_log_format fmt) { log_format = fmt; }
g3_log_format g3_log_get_format(void) { return log_format; }
void g3_log_set_quiet(int quiet) { log_quiet = quiet; }
void g3_log_set_verbose(int verbose) { log_verbose = verbose; }
int g3_log_get_quiet(void) { return log_quiet; }
int g3_log_get_verbose(void) { return log_verbose; }

void g3_log_set_before_write(void (*hook)(void))
{
	pthread_mutex_lock(&log_lock);
	log_before_write = hook;
	pthread_mutex_unlock(&log_lock);
}

void g3_log_locked(void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&log_lock);
	fn(arg);
	pthread_mutex_unlock(&log_lock);
}

int g3_log_parse_format(const char *name, g3_log_format *out)
{
	if (!strcmp(name, "plain") || !strcmp(name, "text")) {
		*out = G3_LOG_PLAIN;
		return 0;
	}
	if (!strcmp(name, "json")) {
		*out = G3_LOG_JSON;
		return 0;
	}
	return -1;
}

static const char *level_name(g3_log_level level)
{
	switch (level) {
	case G3_LOG_DEBUG: return "debug";
	case G3_LOG_INFO: return "info";
	case G3_LOG_WARN: return "warning";
	case G3_LOG_ERROR: return "error";
	}
	return "info";
}

static int level_shown(g3_log_level level)
{
	if (level == G3_LOG_DEBUG)
		return log_verbose;
	if (level == G3_LOG_INFO)
		return !log_quiet;
	return 1;
}

static void emit(g3_log_level level, const char *event, const char *msg,
		 const char *hint, const char *const *fields, json_object *typed)
{
	if (!level_shown(level))
		return;
	pthread_mutex_lock(&log_lock);
	if (log_before_write)
		log_before_write();
	if (log_format == G3_LOG_JSON) {
		json_object *o = json_object_new_object();
		char ts[32];
		struct timespec now;
		struct tm tm;
		const char *line;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec,
			 now.tv_nsec / 1000000);
		json_object_object_add(o, "ts", json_object_new_string(ts));
		json_object_object_add(o, "level",
				       json_object_new_string(level_name(level)));
		if (event)
			json_object_object_add(o, "event",
					       json_object_new_string(event));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		if (hint && *hint)
			json_object_object_add(o, "hint",
					       json_object_new_string(hint));
		for (; fields && fields[0] && fields[1]; fields += 2)
			json_object_object_add(o, fields[0],
					       json_object_new_string(fields[1]));
		if (typed) {
			json_object_object_foreach(typed, key, val)
				json_object_object_add(o, key, json_object_get(val));
		}
		line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
		fprintf(stderr, "%s\n", line);
		json_object_put(o);
	} else {
		const char *prefix = "";

		if (level == G3_LOG_WARN)
			prefix = "warning: ";
		if (hint && *hint)
			fprintf(stderr, "gen3db: %s%s\nhint: %s\n", prefix, msg, hint);
		else
			fprintf(stderr, "gen3db: %s%s\n", prefix, msg);
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

static void vlog(g3_log_level level, const char *hint, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	emit(level, NULL, msg, hint, NULL, NULL);
}

void g3_log(g3_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void g3_log_hint(g3_log_level level, const char *hint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, hint, fmt, ap);
	va_end(ap);
}

void g3_log_err(const g3_err *err)
{
	emit(G3_LOG_ERROR, NULL, err->msg[0] ? err->msg : "unknown error",
	     err->hint, NULL, NULL);
}

void g3_log_event(g3_log_level level, const char *event, const char *msg,
		  const char *const *fields)
{
	emit(level, event, msg, NULL, fields, NULL);
}

void g3_log_event_json(g3_log_level level, const char *event, const char *msg,
		       struct json_object *fields)
{
	emit(level, event, msg, NULL, NULL, fields);
}
