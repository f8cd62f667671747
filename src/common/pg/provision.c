#include "provision.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/log.h"
#include "../base/strbuf.h"

const char *const g3_default_extensions[] = { "ltree", "vector", NULL };

void g3_service_init(g3_service *s)
{
	memset(s, 0, sizeof(*s));
}

void g3_service_release(g3_service *s)
{
	free(s->name);
	free(s->database);
	free(s->username);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	for (size_t i = 0; i < s->n_extensions; i++)
		free(s->extensions[i]);
	free(s->extensions);
	g3_service_init(s);
}

void g3_service_add_extension(g3_service *s, const char *name)
{
	s->extensions = g3_xrealloc(s->extensions,
				    (s->n_extensions + 1) * sizeof(char *));
	s->extensions[s->n_extensions++] = g3_xstrdup(name);
}

const char *g3_extension_package(const char *ext, int server_major,
				 char *buf, size_t bufsize)
{
	if (!strcmp(ext, "vector"))
		snprintf(buf, bufsize, "postgresql-%d-pgvector", server_major);
	else if (!strcmp(ext, "postgis"))
		snprintf(buf, bufsize, "postgresql-%d-postgis-3", server_major);
	else
		snprintf(buf, bufsize, "postgresql-contrib");
	return buf;
}

g3_rc g3_master_may_set_role(PGconn *master, const char *role, int *may, int *exists,
			     g3_err *err)
{
	const char *params[1] = { role };
	PGresult *r = NULL;
	g3_rc rc;

	*may = *exists = 0;
	rc = g3_pg_query(master, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
			 1, params, &r, "could not look up roles", err);
	if (rc || PQntuples(r) == 0)
		goto cleanup;
	*exists = 1;
	PQclear(r);
	rc = g3_pg_query(master,
			 "SELECT r.rolsuper OR pg_catalog.pg_has_role(current_user, $1, 'USAGE') "
			 "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
			 1, params, &r, "could not check role membership", err);
	if (!rc)
		*may = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
cleanup:
	PQclear(r);
	return rc;
}

/* SET ROLE on a master connection: from here on it creates objects as the
 * role. */
static g3_rc set_role(PGconn *conn, const char *role, g3_err *err)
{
	char *ident = g3_pg_ident(conn, role, err);
	g3_buf sql = G3_BUF_INIT;
	char what[256];
	g3_rc rc;

	if (!ident)
		return G3_USAGE;
	g3_buf_addf(&sql, "SET ROLE %s", ident);
	snprintf(what, sizeof(what), "could not act as role \"%s\" (SET ROLE)", role);
	rc = g3_pg_exec(conn, sql.data, what, err);
	g3_buf_release(&sql);
	PQfreemem(ident);
	return rc;
}

g3_rc g3_service_connect(const g3_pgconf *master_conf, const g3_service *svc,
			 int wait_seconds, PGconn **out, g3_err *err)
{
	g3_pgconf c;
	g3_rc rc;

	g3_pgconf_copy(&c, master_conf);
	g3_pgconf_set(&c, "dbname", svc->database);
	if (svc->set_role) {
		rc = g3_pg_connect(&c, wait_seconds, out, err);
		g3_pgconf_release(&c);
		if (!rc && (rc = set_role(*out, svc->username, err))) {
			PQfinish(*out);
			*out = NULL;
		}
		return rc;
	}
	g3_pgconf_set(&c, "user", svc->username);
	/* an explicit password overrides PGPASSWORD and PGPASSFILE, so the
	 * master's credentials never stand in for the service's */
	g3_pgconf_set(&c, "password", svc->password ? svc->password : "");
	g3_pgconf_set(&c, "passfile", "/dev/null");
	rc = g3_pg_connect(&c, wait_seconds, out, err);
	g3_pgconf_release(&c);
	return rc;
}

/* Refuses name as a target database (is_role 0) or service role (1). */
static g3_rc refuse(int is_role, const char *name, const char *why, g3_err *err)
{
	g3_rc rc;

	if (is_role)
		rc = g3_err_set(err, G3_USAGE, "role \"%s\" cannot be a service role: %s", name, why);
	else
		rc = g3_err_set(err, G3_USAGE, "database \"%s\" cannot be a target: %s", name, why);
	g3_err_hint(err, "name the service's own %s", is_role ? "role" : "database");
	return rc;
}

g3_rc g3_target_guard(const char *master_db, const char *master_role,
		      const char *database, const char *role, g3_err *err)
{
	static const struct { const char *name, *why; } system_dbs[] = {
		{ "template0", "it is PostgreSQL's pristine template database" },
		{ "template1", "it is the template every new database is copied from" },
		{ "postgres", "it is PostgreSQL's default maintenance database" },
	};

	for (size_t i = 0; database && i < sizeof(system_dbs) / sizeof(system_dbs[0]); i++)
		if (!strcmp(database, system_dbs[i].name))
			return refuse(0, database, system_dbs[i].why, err);
	if (database && master_db && !strcmp(database, master_db))
		return refuse(0, database, "it is the database the master connection uses", err);
	if (role && !strcmp(role, "postgres"))
		return refuse(1, role, "it is PostgreSQL's default superuser", err);
	if (role && master_role && !strcmp(role, master_role))
		return refuse(1, role, "it is the master connection's own role", err);
	return G3_OK;
}

g3_rc g3_target_guard_conn(PGconn *master, const char *database, const char *role,
			   g3_err *err)
{
	return g3_target_guard(master ? PQdb(master) : NULL, master ? PQuser(master) : NULL,
			       database, role, err);
}

/* One provisioning run's state: the connections and the statement path. */
struct prov {
	PGconn *master;
	PGconn *db;             /* master connected to the service database */
	const g3_pgconf *conf;
	const g3_service *svc;
	const g3_prov_opts *opts;
	g3_prov_result *res;
	char *role;             /* quoted identifiers */
	char *dbname;
	int superuser;
	int server_major;
	const char *dry_db;     /* database the dry-run output is "in" */
	const char *maint;      /* the master's maintenance database */
};

/* Runs sql (or prints display, or sql, in a dry run). */
static g3_rc step(struct prov *p, PGconn *conn, const char *in_db,
		  const char *sql, const char *display, const char *what,
		  g3_err *err)
{
	if (p->opts->dry_run) {
		FILE *f = p->opts->dry_out ? p->opts->dry_out : stdout;

		if (!p->dry_db || strcmp(p->dry_db, in_db)) {
			fprintf(f, "\\connect %s\n", in_db);
			p->dry_db = in_db;
		}
		fprintf(f, "%s;\n", display ? display : sql);
		return G3_OK;
	}
	return g3_pg_exec(conn, sql, what, err);
}

static int is_password_failure(const char *msg)
{
	return strstr(msg, "password authentication failed") != NULL;
}

/* The role exists and may log in: checks that the given password is its
 * own by logging in where the role can (its database if it exists, else
 * the maintenance database). */
static g3_rc check_login(struct prov *p, g3_err *err)
{
	PGconn *probe = NULL;
	g3_service probe_svc = *p->svc;
	g3_err perr;
	PGresult *d = NULL;
	const char *dparams[1] = { p->svc->database };
	g3_rc rc;

	rc = g3_pg_query(p->master,
			 "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
			 1, dparams, &d, "could not look up databases", err);
	if (rc)
		return rc;
	if (PQntuples(d) == 0 && p->maint)
		probe_svc.database = (char *)p->maint;
	PQclear(d);
	g3_err_init(&perr);
	if (g3_service_connect(p->conf, &probe_svc, 0, &probe, &perr)) {
		if (is_password_failure(perr.msg)) {
			rc = g3_err_set(err, G3_FAIL,
					"role \"%s\" exists with a different password",
					p->svc->username);
			g3_err_hint(err, "give its password (SERVICE_PGPASS or --password-file), "
				    "or set a new one with --reset-password");
			return rc;
		}
		/* another reason (pg_hba, CONNECT privilege): the final
		 * verification reports it if it persists */
		g3_debug("login check for \"%s\" deferred: %s",
			 p->svc->username, perr.msg);
	}
	PQfinish(probe);
	return G3_OK;
}

/* CREATE ROLE, or ALTER ROLE for an existing one, with LOGIN and the
 * password's verifier (computed here: the password never reaches the
 * server's logs). */
static g3_rc set_password(struct prov *p, int exists, int canlogin, g3_err *err)
{
	g3_buf sql = G3_BUF_INIT, disp = G3_BUF_INIT;
	char *verifier = NULL, *lit = NULL;
	const char *verb = exists ? "ALTER" : "CREATE";
	char what[256];
	g3_rc rc = G3_OK;

	verifier = PQencryptPasswordConn(p->master, p->svc->password,
					 p->svc->username, NULL);
	if (!verifier) {
		char msg[512];

		g3_pg_conn_message(p->master, msg, sizeof(msg));
		rc = g3_err_set(err, G3_FAIL,
				"could not compute the password verifier for role \"%s\": %s",
				p->svc->username, msg);
		goto cleanup;
	}
	lit = g3_pg_literal(p->master, verifier, err);
	if (!lit) {
		rc = G3_FAIL;
		goto cleanup;
	}
	g3_buf_addf(&sql, "%s ROLE %s LOGIN PASSWORD %s", verb, p->role, lit);
	g3_buf_addf(&disp, "%s ROLE %s LOGIN PASSWORD '********'", verb, p->role);
	if (exists)
		snprintf(what, sizeof(what), "could not set the password of role \"%s\"",
			 p->svc->username);
	else
		snprintf(what, sizeof(what), "could not create role \"%s\"", p->svc->username);
	rc = step(p, p->master, p->maint, sql.data, disp.data, what, err);
	if (rc)
		goto cleanup;
	if (exists) {
		p->res->password_set = 1;
		p->res->login_granted = !canlogin;
	} else {
		p->res->role_created = 1;
	}
cleanup:
	if (verifier) {
		explicit_bzero(verifier, strlen(verifier));
		PQfreemem(verifier);
	}
	if (lit) {
		explicit_bzero(lit, strlen(lit));
		PQfreemem(lit);
	}
	if (sql.data)
		explicit_bzero(sql.data, sql.len);
	g3_buf_release(&sql);
	g3_buf_release(&disp);
	return rc;
}

static g3_rc ensure_role(struct prov *p, g3_err *err)
{
	const char *params[1] = { p->svc->username };
	PGresult *r = NULL;
	int exists, canlogin = 0;
	g3_rc rc;

	rc = g3_pg_query(p->master,
			 "SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1",
			 1, params, &r, "could not look up roles", err);
	if (rc)
		return rc;
	exists = PQntuples(r) == 1;
	if (exists)
		canlogin = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (p->svc->set_role) {
		/* no password to set or check: the master acts as the role */
		if (!exists)
			return g3_err_set(err, G3_USAGE, "role \"%s\" does not exist",
					  p->svc->username);
		return G3_OK;
	}
	if (exists && !p->opts->reset_password && p->svc->password_generated) {
		rc = g3_err_set(err, G3_FAIL,
				"role \"%s\" exists and no password was given for it",
				p->svc->username);
		g3_err_hint(err, "give its password (SERVICE_PGPASS, --password-file, or the "
			    "--secret-out file of the run that created it), or set a new one "
			    "with --reset-password");
		return rc;
	}
	if (exists && canlogin && !p->opts->reset_password)
		return check_login(p, err);
	if (exists && !canlogin && !p->opts->reset_password) {
		rc = g3_err_set(err, G3_FAIL, "role \"%s\" exists but may not log in",
				p->svc->username);
		g3_err_hint(err, "--reset-password gives it LOGIN and the password");
		return rc;
	}
	return set_password(p, exists, canlogin, err);
}

static g3_rc ensure_membership(struct prov *p, g3_err *err)
{
	const char *params[1] = { p->svc->username };
	PGresult *r = NULL;
	g3_buf sql = G3_BUF_INIT;
	char what[256];
	g3_rc rc;

	if (p->superuser)
		return G3_OK;
	if (p->res->role_created && p->opts->dry_run)
		goto grant;
	rc = g3_pg_query(p->master,
			 "SELECT pg_catalog.pg_has_role(current_user, $1, 'MEMBER')",
			 1, params, &r, "could not check role membership", err);
	if (rc)
		return rc;
	if (!strcmp(PQgetvalue(r, 0, 0), "t")) {
		PQclear(r);
		return G3_OK;
	}
	PQclear(r);
grant:
	/* CREATE DATABASE ... OWNER and ALTER DEFAULT PRIVILEGES FOR ROLE need
	 * the master to be a member of the service role when it is not a
	 * superuser (managed and operator-run PostgreSQL) */
	g3_buf_addf(&sql, "GRANT %s TO CURRENT_USER", p->role);
	snprintf(what, sizeof(what), "could not make the master a member of role \"%s\"",
		 p->svc->username);
	rc = step(p, p->master, p->maint, sql.data, NULL, what, err);
	g3_buf_release(&sql);
	return rc;
}

static g3_rc ensure_database(struct prov *p, g3_err *err)
{
	const char *params[1] = { p->svc->database };
	PGresult *r = NULL;
	g3_buf sql = G3_BUF_INIT;
	char what[256];
	g3_rc rc;

	rc = g3_pg_query(p->master,
			 "SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1",
			 1, params, &r, "could not look up databases", err);
	if (rc)
		return rc;
	if (PQntuples(r) == 0) {
		g3_buf_addf(&sql, "CREATE DATABASE %s OWNER %s", p->dbname, p->role);
		snprintf(what, sizeof(what), "could not create database \"%s\"",
			 p->svc->database);
		rc = step(p, p->master, p->maint, sql.data, NULL, what, err);
		if (!rc)
			p->res->db_created = 1;
		g3_buf_reset(&sql);
	}
	PQclear(r);
	if (rc)
		goto cleanup;
	g3_buf_addf(&sql, "GRANT ALL ON DATABASE %s TO %s", p->dbname, p->role);
	snprintf(what, sizeof(what), "could not grant privileges on database \"%s\"",
		 p->svc->database);
	rc = step(p, p->master, p->maint, sql.data, NULL, what, err);
cleanup:
	g3_buf_release(&sql);
	return rc;
}

static g3_rc ensure_schema(struct prov *p, g3_err *err)
{
	static const char *const fmts[] = {
		"ALTER SCHEMA public OWNER TO %s",
		"GRANT ALL ON SCHEMA public TO %s",
		"GRANT ALL ON ALL TABLES IN SCHEMA public TO %s",
		"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO %s",
		"ALTER DEFAULT PRIVILEGES FOR ROLE %1$s IN SCHEMA public GRANT ALL ON TABLES TO %1$s",
		"ALTER DEFAULT PRIVILEGES FOR ROLE %1$s IN SCHEMA public GRANT ALL ON SEQUENCES TO %1$s",
		NULL
	};
	g3_buf sql = G3_BUF_INIT;
	char what[256];
	g3_rc rc = G3_OK;

	snprintf(what, sizeof(what),
		 "could not give role \"%s\" schema public in database \"%s\"",
		 p->svc->username, p->svc->database);
	for (int i = 0; fmts[i] && !rc; i++) {
		g3_buf_reset(&sql);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		g3_buf_addf(&sql, fmts[i], p->role);
#pragma GCC diagnostic pop
		rc = step(p, p->db, p->svc->database, sql.data, NULL, what, err);
	}
	if (rc && !p->superuser)
		g3_err_hint(err, "the master is not a superuser: it must be a member of "
			    "the role owning the database");
	g3_buf_release(&sql);
	return rc;
}

static void list_add(char *list, size_t size, const char *item)
{
	size_t len = strlen(list);

	snprintf(list + len, size - len, "%s%s", len ? ", " : "", item);
}

static g3_rc ensure_extensions(struct prov *p, g3_err *err)
{
	const char *const *names = g3_default_extensions;
	size_t n = 0;
	g3_rc rc = G3_OK;

	if (p->svc->extensions) {
		names = (const char *const *)p->svc->extensions;
		n = p->svc->n_extensions;
	} else {
		while (names[n])
			n++;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		const char *params[1] = { names[i] };
		PGresult *r = NULL;
		char *ident = NULL;
		g3_buf sql = G3_BUF_INIT;
		char what[256], pkg[64];
		int installed = 0;

		if (p->db) {
			rc = g3_pg_query(p->db,
					 "SELECT installed_version FROM pg_catalog.pg_available_extensions WHERE name = $1",
					 1, params, &r, "could not look up extensions", err);
			if (rc)
				break;
			if (PQntuples(r) == 0) {
				PQclear(r);
				list_add(p->res->ext_missing, sizeof(p->res->ext_missing), names[i]);
				g3_extension_package(names[i], p->server_major, pkg, sizeof(pkg));
				if (p->opts->require_extensions) {
					rc = g3_err_set(err, G3_FAIL,
							"extension \"%s\" is not available on the server",
							names[i]);
					g3_err_hint(err, "install the package %s on the database server", pkg);
					break;
				}
				g3_log_hint(G3_LOG_WARN, NULL,
					    "%s: extension \"%s\" is not available on the server; "
					    "install the package %s on the database server",
					    p->svc->name, names[i], pkg);
				continue;
			}
			installed = !PQgetisnull(r, 0, 0);
			PQclear(r);
		}
		if (installed)
			continue;
		ident = g3_pg_ident(p->master, names[i], err);
		if (!ident) {
			rc = G3_USAGE;
			break;
		}
		g3_buf_addf(&sql, "CREATE EXTENSION IF NOT EXISTS %s", ident);
		snprintf(what, sizeof(what), "could not create extension \"%s\" in database \"%s\"",
			 names[i], p->svc->database);
		rc = step(p, p->db, p->svc->database, sql.data, NULL, what, err);
		if (!rc)
			list_add(p->res->ext_created, sizeof(p->res->ext_created), names[i]);
		PQfreemem(ident);
		g3_buf_release(&sql);
	}
	return rc;
}

static g3_rc verify_login(struct prov *p, g3_err *err)
{
	PGconn *conn = NULL;
	g3_buf sql = G3_BUF_INIT;
	char what[256];
	g3_rc rc;

	rc = g3_service_connect(p->conf, p->svc, 0, &conn, err);
	if (rc) {
		g3_err_prefix(err, "could not log in as service user \"%s\"",
			      p->svc->username);
		return rc;
	}
	/* create and drop a table, rolled back: proves the privileges
	 * without leaving anything behind */
	g3_buf_addf(&sql, "BEGIN; CREATE TABLE public.gen3db_verify_%ld (id integer); "
		    "DROP TABLE public.gen3db_verify_%ld; ROLLBACK",
		    (long)getpid(), (long)getpid());
	snprintf(what, sizeof(what), "service user \"%s\" could not create a table in database \"%s\"",
		 p->svc->username, p->svc->database);
	rc = g3_pg_exec(conn, sql.data, what, err);
	if (!rc)
		p->res->verified = 1;
	g3_buf_release(&sql);
	PQfinish(conn);
	return rc;
}

g3_rc g3_provision(PGconn *master, const g3_pgconf *master_conf,
		   const g3_service *svc, const g3_prov_opts *opts,
		   g3_prov_result *res, g3_err *err)
{
	struct prov p;
	PGresult *r = NULL;
	g3_rc rc;

	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	p.master = master;
	p.conf = master_conf;
	p.svc = svc;
	p.opts = opts;
	p.res = res;
	p.maint = g3_pgconf_get(master_conf, "dbname");
	if (!p.maint)
		p.maint = "postgres";

	if ((rc = g3_pg_check_name("database", svc->database, err)) ||
	    (rc = g3_pg_check_name("role", svc->username, err)) ||
	    (rc = g3_target_guard_conn(master, svc->database, svc->username, err)))
		return rc;
	if (!svc->set_role && (!svc->password || !*svc->password))
		return g3_err_set(err, G3_USAGE, "no password for role \"%s\"",
				  svc->username);
	for (size_t i = 0; i < svc->n_extensions; i++)
		if ((rc = g3_pg_check_name("extension", svc->extensions[i], err)))
			return rc;

	p.server_major = PQserverVersion(master) / 10000;
	rc = g3_pg_query(master,
			 "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
			 0, NULL, &r, "could not look up the master role", err);
	if (rc)
		goto cleanup;
	p.superuser = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	r = NULL;

	p.role = g3_pg_ident(master, svc->username, err);
	p.dbname = g3_pg_ident(master, svc->database, err);
	if (!p.role || !p.dbname) {
		rc = G3_USAGE;
		goto cleanup;
	}

	if ((rc = ensure_role(&p, err)) ||
	    (rc = ensure_membership(&p, err)) ||
	    (rc = ensure_database(&p, err)))
		goto cleanup;

	if (!(opts->dry_run && res->db_created)) {
		g3_pgconf dbconf;

		g3_pgconf_copy(&dbconf, master_conf);
		g3_pgconf_set(&dbconf, "dbname", svc->database);
		rc = g3_pg_connect(&dbconf, 0, &p.db, err);
		g3_pgconf_release(&dbconf);
		if (rc) {
			g3_err_prefix(err, "could not connect as the master to database \"%s\"",
				      svc->database);
			goto cleanup;
		}
	}
	if ((rc = ensure_schema(&p, err)) ||
	    (rc = ensure_extensions(&p, err)))
		goto cleanup;
	if (!opts->dry_run)
		rc = verify_login(&p, err);
cleanup:
	PQclear(r);
	PQfinish(p.db);
	PQfreemem(p.role);
	PQfreemem(p.dbname);
	return rc;
}
