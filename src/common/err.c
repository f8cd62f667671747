#include "err.h"

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
