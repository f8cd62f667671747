#include "err.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void g3_err_init(g3_err *err)
{
	err->rc = G3_OK;
	err->msg[0] = '\0';
	err->hint[0] = '\0';
}

g3_rc g3_err_set(g3_err *err, g3_rc rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	err->rc = rc;
	err->hint[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void g3_err_hint(g3_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void g3_err_prefix(g3_err *err, const char *fmt, ...)
{
	char head[G3_ERR_MSG_MAX];
	char old[G3_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
}

int g3_exit_code(g3_rc rc)
{
	switch (rc) {
	case G3_OK: return 0;
	case G3_USAGE: return 2;
	case G3_UNREACHABLE: return 3;
	case G3_FAIL: break;
	}
	return 1;
}

void g3_err_print_json(struct json_object *report, g3_rc rc, const g3_err *err)
{
	json_object *root = report ? report : json_object_new_object();

	json_object_object_add(root, "status", json_object_new_string("failed"));
	json_object_object_add(root, "exit_code", json_object_new_int(g3_exit_code(rc)));
	json_object_object_add(root, "error", json_object_new_string(
		err && err->msg[0] ? err->msg : "failed (see the messages above)"));
	if (err && err->hint[0])
		json_object_object_add(root, "hint", json_object_new_string(err->hint));
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(root);
}
