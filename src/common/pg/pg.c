#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../base/strbuf.h"

void g3_pgconf_init(g3_pgconf *c)
{
	memset(c, 0, sizeof(*c));
}

void g3_pgconf_release(g3_pgconf *c)
{
	for (int i = 0; i < c->n; i++) {
		if (!strcmp(c->keys[i], "password"))
			explicit_bzero(c->values[i], strlen(c->values[i]));
		free((char *)c->keys[i]);
		free(c->values[i]);
	}
	g3_pgconf_init(c);
}

void g3_pgconf_copy(g3_pgconf *dst, const g3_pgconf *src)
{
	g3_pgconf_init(dst);
	for (int i = 0; i < src->n; i++)
		g3_pgconf_set(dst, src->keys[i], src->values[i]);
}

void g3_pgconf_set(g3_pgconf *c, const char *key, const char *value)
{
	for (int i = 0; i < c->n; i++) {
		if (strcmp(c->keys[i], key))
			continue;
		if (!strcmp(key, "password"))
			explicit_bzero(c->values[i], strlen(c->values[i]));
		free(c->values[i]);
		if (value) {
			c->values[i] = g3_xstrdup(value);
			return;
		}
		free((char *)c->keys[i]);
		c->n--;
		c->keys[i] = c->keys[c->n];
		c->values[i] = c->values[c->n];
		c->keys[c->n] = NULL;
		c->values[c->n] = NULL;
		return;
	}
	if (!value)
		return;
	if (c->n >= G3_PG_MAX_PARAMS)
		abort(); /* a programming error: libpq has fewer keywords */
	c->keys[c->n] = g3_xstrdup(key);
	c->values[c->n] = g3_xstrdup(value);
	c->n++;
}

const char *g3_pgconf_get(const g3_pgconf *c, const char *key)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->keys[i], key))
			return c->values[i];
	return NULL;
}

g3_rc g3_pgconf_from_url(g3_pgconf *c, const char *url, int allow_password,
			 g3_err *err)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &errmsg);

	if (!opts) {
		/* libpq's message never repeats a password */
		g3_err_set(err, G3_USAGE, "could not parse connection string: %s",
			   errmsg ? errmsg : "out of memory");
		if (errmsg) {
			char *nl = strchr(err->msg, '\n');

			if (nl)
				*nl = '\0';
		}
		PQfreemem(errmsg);
		return G3_USAGE;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (!strcmp(o->keyword, "password") && !allow_password) {
			PQconninfoFree(opts);
			g3_err_set(err, G3_USAGE,
				   "refusing a password in the connection string: "
				   "command lines are visible to other users");
			g3_err_hint(err, "give it in PGPASSWORD or a PGPASSFILE");
			return G3_USAGE;
		}
		g3_pgconf_set(c, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	return G3_OK;
}

const char *g3_pgconf_effective(const g3_pgconf *c, const char *key,
				char *buf, size_t bufsize)
{
	const char *v = g3_pgconf_get(c, key);
	PQconninfoOption *defs;

	if (v) {
		snprintf(buf, bufsize, "%s", v);
		return buf;
	}
	buf[0] = '\0';
	defs = PQconndefaults();
	for (PQconninfoOption *o = defs; o && o->keyword; o++) {
		if (!strcmp(o->keyword, key) && o->val) {
			snprintf(buf, bufsize, "%s", o->val);
			break;
		}
	}
	PQconninfoFree(defs);
	return buf[0] ? buf : NULL;
}

void g3_pgconf_describe(const g3_pgconf *c, char *buf, size_t bufsize)
{
	char host[256], port[32];

	if (!g3_pgconf_effective(c, "host", host, sizeof(host)))
		snprintf(host, sizeof(host), "%s", "/var/run/postgresql");
	if (!g3_pgconf_effective(c, "port", port, sizeof(port)))
		snprintf(port, sizeof(port), "%s", "5432");
	snprintf(buf, bufsize, "%s:%s", host, port);
}

/* First meaningful line of a libpq connection error, without the
 * "connection to server at ... failed: " and "FATAL:  " prefixes (the
 * caller names host and port itself). */
void g3_pg_conn_message(const PGconn *conn, char *buf, size_t bufsize)
{
	const char *m = conn ? PQerrorMessage(conn) : "out of memory";
	const char *p;

	if (!m || !*m)
		m = "unknown error";
	p = strstr(m, " failed: ");
	if (p && p - m < 200 && !memchr(m, '\n', (size_t)(p - m)))
		m = p + strlen(" failed: ");
	if (!strncmp(m, "FATAL:  ", 8))
		m += 8;
	else if (!strncmp(m, "ERROR:  ", 8))
		m += 8;
	g3_first_line(buf, bufsize, m);
}

void g3_pg_tool_error(const g3_buf *text, const char *prog, char *buf, size_t size)
{
	const char *s = text->data ? text->data : "";
	const char *e = strstr(s, "error: ");

	if (e)
		s = e + strlen("error: ");
	else if (prog && !strncmp(s, prog, strlen(prog)))
		s += strlen(prog);
	g3_first_line(buf, size, s);
}

void g3_pg_result_message(const PGresult *res, char *buf, size_t bufsize)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (!primary) {
		const char *m = res ? PQresultErrorMessage(res) : "";

		if (!strncmp(m, "ERROR:  ", 8))
			m += 8;
		g3_first_line(buf, bufsize, m);
		if (!buf[0])
			snprintf(buf, bufsize, "%s", "connection lost");
		return;
	}
	if (detail)
		snprintf(buf, bufsize, "%s (%s)", primary, detail);
	else
		snprintf(buf, bufsize, "%s", primary);
}

g3_rc g3_pg_connect(const g3_pgconf *c, int wait_seconds, PGconn **out,
		    g3_err *err)
{
	g3_pgconf tmp;
	char target[300];
	char reason[512] = "no answer";
	double deadline = g3_clock_now() + (wait_seconds > 0 ? wait_seconds : 0);
	double backoff = 0.25;
	g3_rc rc = G3_FAIL;

	*out = NULL;
	g3_pgconf_copy(&tmp, c);
	g3_pgconf_describe(c, target, sizeof(target));
	if (!g3_pgconf_get(&tmp, "connect_timeout"))
		g3_pgconf_set(&tmp, "connect_timeout", "10");
	if (!g3_pgconf_get(&tmp, "application_name"))
		g3_pgconf_set(&tmp, "application_name", "gen3db");

	for (;;) {
		PGconn *conn = PQconnectdbParams(tmp.keys,
						 (const char *const *)tmp.values, 0);
		PGPing ping;

		if (conn && PQstatus(conn) == CONNECTION_OK) {
			*out = conn;
			rc = G3_OK;
			goto cleanup;
		}
		g3_pg_conn_message(conn, reason, sizeof(reason));
		PQfinish(conn);
		ping = PQpingParams(tmp.keys, (const char *const *)tmp.values, 0);
		if (ping == PQPING_NO_ATTEMPT) {
			rc = g3_err_set(err, G3_USAGE,
					"could not connect to \"%s\": %s", target, reason);
			goto cleanup;
		}
		if (ping == PQPING_OK) {
			/* the server is up and refused us: waiting will not help */
			rc = g3_err_set(err, G3_FAIL,
					"could not connect to \"%s\": %s", target, reason);
			goto cleanup;
		}
		/* the last attempt is at the deadline, not a backoff before it:
		 * "within N seconds" means N seconds were waited */
		if (g3_clock_now() >= deadline) {
			if (wait_seconds > 0)
				rc = g3_err_set(err, G3_UNREACHABLE,
						"could not reach PostgreSQL at \"%s\" within %d %s: %s",
						target, wait_seconds,
						g3_plural(wait_seconds, "second", "seconds"), reason);
			else
				rc = g3_err_set(err, G3_UNREACHABLE,
						"could not reach PostgreSQL at \"%s\": %s",
						target, reason);
			g3_err_hint(err, "check the host and port, or wait longer with --wait");
			goto cleanup;
		}
		g3_clock_sleep(deadline - g3_clock_now() < backoff ? deadline - g3_clock_now() : backoff);
		backoff = backoff * 2 > 5 ? 5 : backoff * 2;
	}
cleanup:
	g3_pgconf_release(&tmp);
	return rc;
}

g3_rc g3_pg_exec(PGconn *conn, const char *sql, const char *what, g3_err *err)
{
	PGresult *res = PQexec(conn, sql);
	g3_rc rc = G3_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[768];

		g3_pg_result_message(res, msg, sizeof(msg));
		if (!res || !PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
			g3_pg_conn_message(conn, msg, sizeof(msg));
		rc = g3_err_set(err, G3_FAIL, "%s: %s", what, msg);
	}
	PQclear(res);
	return rc;
}

g3_rc g3_pg_query(PGconn *conn, const char *sql, int nparams,
		  const char *const *params, PGresult **out, const char *what,
		  g3_err *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL,
				     NULL, 0);

	*out = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK) {
		char msg[768];

		g3_pg_result_message(res, msg, sizeof(msg));
		if (!res || !PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
			g3_pg_conn_message(conn, msg, sizeof(msg));
		PQclear(res);
		return g3_err_set(err, G3_FAIL, "%s: %s", what, msg);
	}
	*out = res;
	return G3_OK;
}

/* PQescapeIdentifier (ident) or PQescapeLiteral of s; NULL with err set. */
static char *escape(PGconn *conn, const char *s, int ident, g3_err *err)
{
	char *q = ident ? PQescapeIdentifier(conn, s, strlen(s))
			: PQescapeLiteral(conn, s, strlen(s));
	char msg[512];

	if (q)
		return q;
	g3_pg_conn_message(conn, msg, sizeof(msg));
	if (ident)
		g3_err_set(err, G3_USAGE, "could not quote name \"%s\": %s", s, msg);
	else   /* the value may be a secret: never quoted */
		g3_err_set(err, G3_USAGE, "could not quote a literal: %s", msg);
	return NULL;
}

char *g3_pg_ident(PGconn *conn, const char *name, g3_err *err)
{
	return escape(conn, name, 1, err);
}

char *g3_pg_literal(PGconn *conn, const char *value, g3_err *err)
{
	return escape(conn, value, 0, err);
}

g3_rc g3_pg_check_name(const char *what, const char *name, g3_err *err)
{
	size_t len = strlen(name);

	if (!len)
		return g3_err_set(err, G3_USAGE, "%s name is empty", what);
	if (len >= G3_PG_NAMEDATALEN)
		return g3_err_set(err, G3_USAGE,
				  "%s name \"%s\" is %zu bytes long; PostgreSQL allows at most %d",
				  what, name, len, G3_PG_NAMEDATALEN - 1);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return g3_err_set(err, G3_USAGE,
					  "%s name holds a control character (byte 0x%02x)",
					  what, *p);
	}
	return G3_OK;
}

g3_rc g3_pgconf_master(g3_pgconf *c, const char *url, g3_err *err)
{
	g3_rc rc;

	g3_pgconf_init(c);
	if (url && (rc = g3_pgconf_from_url(c, url, 0, err)))
		return rc;
	if (!g3_pgconf_get(c, "dbname") && !getenv("PGDATABASE"))
		g3_pgconf_set(c, "dbname", "postgres");
	return G3_OK;
}
