#include "pgtarget.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/clock.h"
#include "../base/log.h"
#include "../gen3/secret.h"
#include "../base/strbuf.h"

/* Server notices ("database ... does not exist, skipping") are debug
 * messages, not output. */
static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	g3_debug("server: %.*s", (int)strcspn(msg, "\n"), msg);
}

void g3_pgtarget_init(g3_pgtarget *t)
{
	memset(t, 0, sizeof(*t));
	g3_service_init(&t->svc);
}

void g3_pgtarget_release(g3_pgtarget *t)
{
	free(t->database);
	free(t->side);
	free(t->old);
	g3_service_release(&t->svc);
	g3_pgtarget_init(t);
}

static char *suffixed(const char *db, const char *suffix)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s%s", db, suffix);
	return g3_buf_detach(&b);
}

/* Runs "<fmt with one %s = a quoted database or role name>" as the master. */
static g3_rc exec_db(PGconn *master, const char *fmt, const char *db,
		     const char *what, g3_err *err)
{
	char *q = g3_pg_ident(master, db, err);
	g3_buf sql = G3_BUF_INIT;
	g3_rc rc;

	if (!q)
		return G3_USAGE;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	g3_buf_addf(&sql, fmt, q);
#pragma GCC diagnostic pop
	rc = g3_pg_exec(master, sql.data, what, err);
	g3_buf_release(&sql);
	PQfreemem(q);
	return rc;
}

static g3_rc drop_if_exists(PGconn *master, const char *db, g3_err *err)
{
	char what[256];

	snprintf(what, sizeof(what), "could not drop database \"%s\"", db);
	return exec_db(master, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db, what, err);
}

/* The comments that mark a side database and a swapped-out old target as
 * gen3db's own: only a database carrying its marker is ever dropped as a
 * leftover, so a database that merely has such a name is never touched. */
static char *marker(const char *kind, const char *target)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "gen3db: %s \"%s\"", kind, target);
	return g3_buf_detach(&b);
}

#define SIDE_MARK "restore in progress of"
#define OLD_MARK "previous content of"

/* Sets (or, with kind NULL, clears) db's marker; sql is appended to, for
 * a caller's transaction, when not NULL, else it runs at once. */
static g3_rc mark(PGconn *master, const char *db, const char *kind, const char *target,
		  g3_buf *sql, g3_err *err)
{
	char *qd = g3_pg_ident(master, db, err), *m = NULL, *ql = NULL;
	g3_buf own = G3_BUF_INIT;
	g3_rc rc = G3_USAGE;

	if (!qd)
		return G3_USAGE;
	if (kind) {
		m = marker(kind, target);
		if (!(ql = g3_pg_literal(master, m, err)))
			goto cleanup;
	}
	g3_buf_addf(sql ? sql : &own, "COMMENT ON DATABASE %s IS %s; ", qd, ql ? ql : "NULL");
	rc = sql ? G3_OK : g3_pg_exec(master, own.data, "could not mark a restore's database", err);
cleanup:
	PQfreemem(qd);
	PQfreemem(ql);
	free(m);
	g3_buf_release(&own);
	return rc;
}

/* Drops db if it exists and carries the marker kind of target; a database
 * of that name without it is refused, untouched. */
static g3_rc drop_leftover(PGconn *master, const char *db, const char *kind,
			   const char *target, g3_err *err)
{
	const char *params[1] = { db };
	PGresult *r = NULL;
	char *m = marker(kind, target);
	g3_rc rc;

	rc = g3_pg_query(master, "SELECT pg_catalog.shobj_description(oid, 'pg_database') "
			 "FROM pg_catalog.pg_database WHERE datname = $1",
			 1, params, &r, "could not look up databases", err);
	if (rc || PQntuples(r) == 0)
		goto cleanup;
	if (PQgetisnull(r, 0, 0) || strcmp(PQgetvalue(r, 0, 0), m)) {
		rc = g3_err_set(err, G3_USAGE, "database \"%s\" exists, but it is not a database "
				"that a restore of \"%s\" left behind; it was not touched", db, target);
		g3_err_hint(err, "rename or drop it yourself: gen3db uses that name while it "
			    "restores \"%s\"", target);
		goto cleanup;
	}
	rc = drop_if_exists(master, db, err);
cleanup:
	PQclear(r);
	free(m);
	return rc;
}

static g3_rc db_exists(PGconn *master, const char *db, int *exists, g3_err *err)
{
	const char *params[1] = { db };
	PGresult *r = NULL;
	g3_rc rc;

	rc = g3_pg_query(master, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
			 1, params, &r, "could not look up databases", err);
	if (!rc)
		*exists = PQntuples(r) == 1;
	PQclear(r);
	return rc;
}

static g3_rc count_tables(const g3_pgconf *master_conf, const char *db, long *n,
			  int wait_seconds, g3_err *err)
{
	g3_pgconf c;
	PGconn *conn = NULL;
	PGresult *r = NULL;
	g3_rc rc;

	g3_pgconf_copy(&c, master_conf);
	g3_pgconf_set(&c, "dbname", db);
	rc = g3_pg_connect(&c, wait_seconds, &conn, err);
	if (rc) {
		g3_err_prefix(err, "could not connect to database \"%s\" to check it", db);
		goto cleanup;
	}
	rc = g3_pg_query(conn,
			 "SELECT count(*) FROM pg_catalog.pg_class c "
			 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
			 "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
			 "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
			 "AND n.nspname NOT LIKE 'pg\\_%' "
			 "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
			 "  WHERE d.classid = 'pg_catalog.pg_class'::regclass "
			 "  AND d.objid = c.oid AND d.deptype = 'e')",
			 0, NULL, &r, "could not count the tables", err);
	if (!rc)
		*n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
cleanup:
	PQclear(r);
	PQfinish(conn);
	g3_pgconf_release(&c);
	return rc;
}

/* No password for the role: the master loads as the role through SET ROLE
 * where it may (a superuser, or a member of the role); a role that does
 * not exist is created with a generated password when the caller records
 * it (o->generate_password); else the role needs its password. Checked
 * before anything changes. */
static g3_rc choose_set_role(PGconn *master, g3_pgtarget *t, const g3_pgtarget_opts *o,
			     g3_err *err)
{
	int may, exists;
	g3_rc rc;

	if ((rc = g3_master_may_set_role(master, t->svc.username, &may, &exists, err)))
		return rc;
	if (may) {
		g3_debug("loading as role \"%s\" through the master's connections (SET ROLE)",
			 t->svc.username);
		t->svc.set_role = 1;
		return G3_OK;
	}
	if (!exists && o->generate_password && !o->no_create) {
		if ((rc = g3_secret_generate(G3_SECRET_GENERATED_LEN, &t->svc.password, err)))
			return rc;
		t->svc.password_generated = 1;
		g3_debug("role \"%s\" does not exist: it is created with a generated password",
			 t->svc.username);
		return G3_OK;
	}
	rc = g3_err_set(err, G3_USAGE, "no password for role \"%s\"", t->svc.username);
	if (exists)
		g3_err_hint(err, "set SERVICE_PGPASS: the data is loaded as the service role, and "
			    "the master is neither a superuser nor a member of it");
	else if (o->no_create)
		g3_err_hint(err, "the role does not exist, and --no-create does not create it");
	else
		g3_err_hint(err, "the role does not exist: set SERVICE_PGPASS to create it with "
			    "that password, or give --secret-out FILE to generate one and record "
			    "it in FILE");
	return rc;
}

/* The names of the target, its side and old databases, and the service
 * the side database is provisioned for. */
static g3_rc target_names(const g3_service *svc, g3_pgtarget *t, g3_err *err)
{
	g3_rc rc;

	t->database = g3_xstrdup(svc->database);
	t->side = suffixed(svc->database, G3_PGTARGET_SIDE_SUFFIX);
	t->old = suffixed(svc->database, G3_PGTARGET_OLD_SUFFIX);
	if ((rc = g3_pg_check_name("database", t->database, err)))
		return rc;
	if (strlen(t->side) >= G3_PG_NAMEDATALEN)
		return g3_err_set(err, G3_USAGE,
				  "database name \"%s\" is too long for a restore "
				  "(at most %d bytes, to leave room for \"%s\")",
				  t->database, G3_PG_NAMEDATALEN - 1 - (int)strlen(G3_PGTARGET_SIDE_SUFFIX),
				  G3_PGTARGET_SIDE_SUFFIX);
	t->svc.name = g3_xstrdup(svc->name ? svc->name : svc->database);
	t->svc.database = g3_xstrdup(t->side);
	t->svc.username = g3_xstrdup(svc->username);
	t->svc.password = svc->password ? g3_xstrdup(svc->password) : NULL;
	t->svc.set_role = svc->set_role;
	for (size_t i = 0; i < svc->n_extensions; i++)
		g3_service_add_extension(&t->svc, svc->extensions[i]);
	/* no default extensions: those the dump creates are provided as it
	 * loads (g3_pgtarget_extension) */
	if (!t->svc.extensions)
		t->svc.extensions = g3_xcalloc(1, sizeof(char *));
	return G3_OK;
}

/* One restore per target at a time: a session advisory lock. */
static g3_rc restore_lock(PGconn *master, const char *database, g3_err *err)
{
	g3_buf key = G3_BUF_INIT;
	const char *params[1];
	PGresult *r = NULL;
	g3_rc rc;

	g3_buf_addf(&key, "gen3db restore %s", database);
	params[0] = key.data;
	rc = g3_pg_query(master, "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1))",
			 1, params, &r, "could not take the restore lock", err);
	g3_buf_release(&key);
	if (rc)
		return rc;
	if (strcmp(PQgetvalue(r, 0, 0), "t"))
		rc = g3_err_set(err, G3_USAGE, "another restore into database \"%s\" is running",
				database);
	PQclear(r);
	return rc;
}

/* What a killed run left behind, and only that. */
static g3_rc drop_leftovers(PGconn *master, g3_pgtarget *t, g3_err *err)
{
	int target_exists;
	g3_rc rc;

	if ((rc = drop_leftover(master, t->side, SIDE_MARK, t->database, err)))
		return rc;
	if ((rc = db_exists(master, t->old, &t->exists, err)) || !t->exists)
		return rc;
	/* killed between the swap and the drop: the target is the new,
	 * complete database; the old one goes */
	if ((rc = db_exists(master, t->database, &target_exists, err)))
		return rc;
	if (!target_exists)
		return g3_err_set(err, G3_FAIL,
				  "database \"%s\" is missing but \"%s\" exists (a restore "
				  "was interrupted while swapping them)", t->database, t->old);
	return drop_leftover(master, t->old, OLD_MARK, t->database, err);
}

/* An existing target with tables: skipped, replaced (--clean) or refused. */
static g3_rc check_existing(const g3_pgconf *master_conf, const g3_pgtarget_opts *o,
			    g3_pgtarget *t, g3_err *err)
{
	g3_rc rc;

	if ((rc = count_tables(master_conf, t->database, &t->tables, o->wait_seconds, err)))
		return rc;
	if (t->tables && o->skip_existing && !o->clean) {
		g3_debug("database \"%s\" already has %ld %s: skipped, left as it is",
			t->database, t->tables,
			g3_plural(t->tables, "table or other relation",
				  "tables or other relations"));
		t->skipped = 1;
		return G3_OK;
	}
	if (t->tables && !o->clean) {
		rc = g3_err_set(err, G3_USAGE,
				"database \"%s\" already has %ld %s",
				t->database, t->tables,
				g3_plural(t->tables, "table or other relation",
					  "tables or other relations"));
		g3_err_hint(err, "--clean replaces it (its content stays until the restore "
			    "is complete); --on-existing skip leaves it as it is");
	}
	return rc;
}

/* Creates the side database: provisioned like the service's, or (with
 * no_create) a bare database owned by the service's role. */
static g3_rc create_side(PGconn *master, const g3_pgconf *master_conf,
			 const g3_pgtarget_opts *o, g3_pgtarget *t, g3_err *err)
{
	char what[256];
	char *role;
	g3_buf fmt = G3_BUF_INIT;
	g3_rc rc;

	if (!o->no_create) {
		g3_prov_opts po;
		g3_prov_result res;

		memset(&po, 0, sizeof(po));
		po.wait_seconds = o->wait_seconds;
		t->side_created = 1;
		rc = g3_provision(master, master_conf, &t->svc, &po, &res, err);
		/* also when a later step failed: abort drops it */
		t->role_created = res.role_created;
		if (!rc)
			rc = mark(master, t->side, SIDE_MARK, t->database, NULL, err);
		if (rc)
			g3_err_prefix(err, "could not prepare database \"%s\"", t->side);
		return rc;
	}
	snprintf(what, sizeof(what), "could not create database \"%s\"", t->side);
	role = g3_pg_ident(master, t->svc.username, err);
	if (!role)
		return G3_USAGE;
	g3_buf_addf(&fmt, "CREATE DATABASE %%s OWNER %s", role);
	PQfreemem(role);
	t->side_created = 1;
	rc = exec_db(master, fmt.data, t->side, what, err);
	g3_buf_release(&fmt);
	if (!rc)
		rc = mark(master, t->side, SIDE_MARK, t->database, NULL, err);
	return rc;
}

g3_rc g3_pgtarget_prepare(PGconn *master, const g3_pgconf *master_conf,
			  const g3_service *svc, const g3_pgtarget_opts *o,
			  g3_pgtarget *t, g3_err *err)
{
	g3_rc rc;

	PQsetNoticeProcessor(master, quiet_notice, NULL);
	if ((rc = target_names(svc, t, err)))
		return rc;
	if ((rc = g3_pg_check_name("role", svc->username, err)) ||
	    (rc = g3_target_guard_conn(master, t->database, svc->username, err)))
		return rc;
	if (!t->svc.password && (rc = choose_set_role(master, t, o, err)))
		return rc;
	if ((rc = restore_lock(master, t->database, err)) ||
	    (rc = drop_leftovers(master, t, err)) ||
	    (rc = db_exists(master, t->database, &t->exists, err)))
		return rc;
	if (t->exists && ((rc = check_existing(master_conf, o, t, err)) || t->skipped))
		return rc;
	return create_side(master, master_conf, o, t, err);
}

g3_rc g3_pgtarget_connect(const g3_pgconf *master_conf, const g3_pgtarget *t,
			  int wait_seconds, PGconn **out, g3_err *err)
{
	g3_rc rc = g3_service_connect(master_conf, &t->svc, wait_seconds, out, err);

	if (!rc)
		PQsetNoticeProcessor(*out, quiet_notice, NULL);
	return rc;
}

g3_rc g3_pgtarget_extension(const g3_pgconf *master_conf, const g3_pgtarget *t,
			    const char *name, int wait_seconds, g3_err *err)
{
	const char *params[1] = { name };
	g3_pgconf c;
	PGconn *conn = NULL;
	PGresult *r = NULL;
	char *ident = NULL;
	g3_buf sql = G3_BUF_INIT;
	char what[256], pkg[64];
	g3_rc rc;

	g3_pgconf_copy(&c, master_conf);
	g3_pgconf_set(&c, "dbname", t->side);
	rc = g3_pg_connect(&c, wait_seconds, &conn, err);
	if (rc) {
		g3_err_prefix(err, "could not connect as the master to database \"%s\"", t->side);
		goto cleanup;
	}
	PQsetNoticeProcessor(conn, quiet_notice, NULL);
	rc = g3_pg_query(conn, "SELECT installed_version FROM pg_catalog.pg_available_extensions "
			 "WHERE name = $1", 1, params, &r, "could not look up extensions", err);
	if (rc)
		goto cleanup;
	if (PQntuples(r) == 0) {
		rc = g3_err_set(err, G3_FAIL, "the dump needs extension \"%s\", which is not "
				"available on the server", name);
		g3_err_hint(err, "install the package %s on the database server",
			    g3_extension_package(name, PQserverVersion(conn) / 10000, pkg,
						 sizeof(pkg)));
		goto cleanup;
	}
	if (!PQgetisnull(r, 0, 0))
		goto cleanup;
	if (!(ident = g3_pg_ident(conn, name, err))) {
		rc = G3_USAGE;
		goto cleanup;
	}
	/* as the master: the role may not create every extension */
	g3_buf_addf(&sql, "CREATE EXTENSION IF NOT EXISTS %s", ident);
	snprintf(what, sizeof(what), "could not create extension \"%s\" in database \"%s\"",
		 name, t->side);
	rc = g3_pg_exec(conn, sql.data, what, err);
	if (!rc)
		g3_debug("created extension \"%s\" in database \"%s\"", name, t->side);
cleanup:
	PQclear(r);
	PQfreemem(ident);
	g3_buf_release(&sql);
	PQfinish(conn);
	g3_pgconf_release(&c);
	return rc;
}

static g3_rc terminate_sessions(PGconn *master, const char *db, g3_err *err)
{
	const char *params[1] = { db };
	PGresult *r = NULL;
	g3_rc rc;

	rc = g3_pg_query(master,
			 "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
			 "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
			 1, params, &r, "could not end the sessions on the old database", err);
	PQclear(r);
	return rc;
}

g3_rc g3_pgtarget_commit(PGconn *master, g3_pgtarget *t, g3_err *err)
{
	char *qt = NULL, *qs = NULL, *qo = NULL;
	g3_buf sql = G3_BUF_INIT;
	char what[256];
	g3_rc rc = G3_OK;
	int exists;

	if (t->skipped)
		return G3_OK;
	if ((rc = db_exists(master, t->database, &exists, err)))
		return rc;
	qt = g3_pg_ident(master, t->database, err);
	qs = g3_pg_ident(master, t->side, err);
	qo = g3_pg_ident(master, t->old, err);
	if (!qt || !qs || !qo) {
		rc = G3_USAGE;
		goto cleanup;
	}
	snprintf(what, sizeof(what), "could not rename database \"%s\" to \"%s\"",
		 t->side, t->database);
	if (!exists) {
		g3_buf_addf(&sql, "BEGIN; ALTER DATABASE %s RENAME TO %s; ", qs, qt);
		if (!(rc = mark(master, t->database, NULL, NULL, &sql, err))) {
			g3_buf_addf(&sql, "COMMIT");
			rc = g3_pg_exec(master, sql.data, what, err);
			if (rc)
				g3_pg_exec(master, "ROLLBACK", "rollback", err);
		}
		goto cleanup;
	}
	/* sessions on the old database would block the rename; applications
	 * reconnecting in between get a few more tries */
	for (int attempt = 0; attempt < 5; attempt++) {
		if ((rc = terminate_sessions(master, t->database, err)))
			goto cleanup;
		g3_buf_reset(&sql);
		g3_buf_addf(&sql, "BEGIN; ALTER DATABASE %s RENAME TO %s; "
			    "ALTER DATABASE %s RENAME TO %s; ", qt, qo, qs, qt);
		/* the old content is marked as ours to drop, the new one unmarked */
		if ((rc = mark(master, t->old, OLD_MARK, t->database, &sql, err)) ||
		    (rc = mark(master, t->database, NULL, NULL, &sql, err)))
			goto cleanup;
		g3_buf_addf(&sql, "COMMIT");
		rc = g3_pg_exec(master, sql.data, what, err);
		if (!rc)
			break;
		g3_pg_exec(master, "ROLLBACK", "rollback", err);
		g3_clock_sleep(0.2);
	}
	if (rc)
		goto cleanup;
	if (drop_if_exists(master, t->old, err)) {
		/* the new data is in place: only cleanup failed */
		g3_log_err(err);
		g3_warn("the old content of \"%s\" was kept as \"%s\"", t->database, t->old);
	}
cleanup:
	if (!rc) {
		t->role_created = 0;   /* it owns the database now in place */
		t->committed = 1;
	}
	PQfreemem(qt);
	PQfreemem(qs);
	PQfreemem(qo);
	g3_buf_release(&sql);
	return rc;
}

void g3_pgtarget_abort(PGconn *master, g3_pgtarget *t)
{
	g3_err err;
	char what[256];
	int side_left = 0;

	if (!master)
		return;
	g3_err_init(&err);
	if (t->side_created && drop_if_exists(master, t->side, &err)) {
		g3_log_err(&err);
		g3_warn("the partial database \"%s\" is dropped by the next restore", t->side);
		side_left = 1;
	}
	if (!t->role_created || side_left)
		return;
	t->role_created = 0;
	snprintf(what, sizeof(what), "could not drop role \"%s\" that this restore created",
		 t->svc.username);
	g3_err_init(&err);
	if (exec_db(master, "DROP ROLE %s", t->svc.username, what, &err)) {
		g3_log_err(&err);
		g3_warn("role \"%s\" was kept", t->svc.username);
		return;
	}
	g3_info("dropped role \"%s\", which this restore had created", t->svc.username);
}
