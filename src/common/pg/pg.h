/*
 * PostgreSQL connections through libpq.
 *
 * A g3_pgconf holds connection parameters as libpq keyword/value pairs:
 * what a --master URL gave, overlaid with explicit settings; everything
 * left unset comes from libpq's own environment (PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGPASSFILE, PGSSLMODE, ...), exactly as psql would use it.
 * Passwords never appear in a URL given on the command line (argv is
 * visible to every user of the machine): g3_pgconf_from_url refuses one.
 */
#ifndef G3_PG_H
#define G3_PG_H

#include <libpq-fe.h>

#include "../base/err.h"
#include "../base/strbuf.h"

#define G3_PG_MAX_PARAMS 40
#define G3_PG_NAMEDATALEN 64   /* PostgreSQL's NAMEDATALEN: names < 64 bytes */

typedef struct g3_pgconf {
	const char *keys[G3_PG_MAX_PARAMS + 1];
	char *values[G3_PG_MAX_PARAMS + 1];
	int n;
} g3_pgconf;

void g3_pgconf_init(g3_pgconf *c);
void g3_pgconf_release(g3_pgconf *c);
void g3_pgconf_copy(g3_pgconf *dst, const g3_pgconf *src);
/* Sets (or replaces, or with value NULL removes) one parameter. */
void g3_pgconf_set(g3_pgconf *c, const char *key, const char *value);
const char *g3_pgconf_get(const g3_pgconf *c, const char *key);
/* Parses a postgresql:// URL or key=value string into c. A password in it
 * is refused (G3_USAGE) unless allow_password. */
g3_rc g3_pgconf_from_url(g3_pgconf *c, const char *url, int allow_password,
			 g3_err *err);
/* The value libpq would use for key: conf, then environment, then default. */
const char *g3_pgconf_effective(const g3_pgconf *c, const char *key,
				char *buf, size_t bufsize);
/* "host:port" as libpq would reach it, for messages. */
void g3_pgconf_describe(const g3_pgconf *c, char *buf, size_t bufsize);

/*
 * Connects; on failure the message names host:port and the server's one-line
 * reason ("password authentication failed for user ..."). With wait_seconds
 * > 0, retries with backoff while the server does not answer (or is starting
 * up) and returns G3_UNREACHABLE when the time is up. Authentication and
 * other definite refusals fail at once with G3_FAIL.
 */
g3_rc g3_pg_connect(const g3_pgconf *c, int wait_seconds, PGconn **out,
		    g3_err *err);

/* Runs a command that returns no rows; on error the message starts with
 * what (e.g. "could not create role \"x\"") and gives the server's message. */
g3_rc g3_pg_exec(PGconn *conn, const char *sql, const char *what, g3_err *err);

/* Runs a parameterised query expecting tuples; *res owned by caller. */
g3_rc g3_pg_query(PGconn *conn, const char *sql, int nparams,
		  const char *const *params, PGresult **res, const char *what,
		  g3_err *err);

/* The server's error text of a result, on one line (primary message,
 * then detail), without the "ERROR:  " prefix. */
/* The first "error:" line of a PostgreSQL tool's stderr (pg_dump,
 * pg_restore), without its prefix; without one, the first line, without
 * prog ("pg_restore: ") when given. */
void g3_pg_tool_error(const g3_buf *text, const char *prog, char *buf, size_t size);

void g3_pg_result_message(const PGresult *res, char *buf, size_t bufsize);
/* The connection's last error on one line. */
void g3_pg_conn_message(const PGconn *conn, char *buf, size_t bufsize);

/* Quoted identifier / literal (libpq escaping); caller frees with PQfreemem.
 * Returns NULL only on encoding errors (err set). */
char *g3_pg_ident(PGconn *conn, const char *name, g3_err *err);
char *g3_pg_literal(PGconn *conn, const char *value, g3_err *err);

/* Checks a name for PostgreSQL: non-empty, under 64 bytes (no silent
 * truncation), no control characters. what is "database", "role", ... */
g3_rc g3_pg_check_name(const char *what, const char *name, g3_err *err);

/* The master connection's parameters: url (may be NULL) over libpq's
 * environment; the database defaults to "postgres" when neither the URL
 * nor PGDATABASE names one. */
g3_rc g3_pgconf_master(g3_pgconf *c, const char *url, g3_err *err);
#endif
