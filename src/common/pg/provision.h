/*
 * Provisioning a service's database: the end state of gen3-helm's
 * _db_setup_job.tpl, reached idempotently.
 *
 * For one service: a LOGIN role whose password reaches the server only as
 * a SCRAM verifier computed here (PQencryptPasswordConn); a database owned
 * by that role (so a master with just CREATEDB and CREATEROLE works: it
 * makes itself a member of the role first); all privileges on the database
 * and on schema public, which the role owns; default privileges on future
 * tables; the extensions (by default ltree and vector); and a check that
 * the role can log in over the same host and port and create a table.
 *
 * Shared by `create` and `restore` (which provisions missing targets).
 */
#ifndef G3_PROVISION_H
#define G3_PROVISION_H

#include <stdio.h>

#include "../base/err.h"
#include "pg.h"

typedef struct g3_service {
	char *name;             /* label for reports, e.g. "fence" */
	char *database;
	char *username;
	char *password;         /* secret: never logged */
	int password_generated; /* made here, not given by the user */
	char **extensions;      /* NULL: the default list */
	size_t n_extensions;
	/* no password: the master connects and runs SET ROLE username, so
	 * what it creates belongs to the role (a superuser master, or one that
	 * is a member of the role); the role must exist */
	int set_role;
} g3_service;

void g3_service_init(g3_service *s);
void g3_service_release(g3_service *s);
void g3_service_add_extension(g3_service *s, const char *name);

typedef struct g3_prov_opts {
	int reset_password;      /* set the password of an existing role */
	int require_extensions;  /* a missing extension is a failure */
	int dry_run;             /* print statements to dry_out instead */
	FILE *dry_out;
	int wait_seconds;        /* for the service login check */
} g3_prov_opts;

typedef struct g3_prov_result {
	int role_created;
	int password_set;        /* of an existing role (--reset-password) */
	int db_created;
	int login_granted;
	char ext_created[256];   /* comma-separated */
	char ext_missing[256];   /* comma-separated: the server lacks them */
	int verified;
} g3_prov_result;

extern const char *const g3_default_extensions[];

/* master is a connection as the master user to a maintenance database;
 * master_conf describes how it was made (host, port, sslmode, ...) so the
 * service login can go the same way. */
g3_rc g3_provision(PGconn *master, const g3_pgconf *master_conf,
		   const g3_service *svc, const g3_prov_opts *opts,
		   g3_prov_result *res, g3_err *err);

/* Connects as the service user to its database over master_conf's host
 * and port (not inheriting the master's password); with svc->set_role, as
 * the master followed by SET ROLE. */
g3_rc g3_service_connect(const g3_pgconf *master_conf, const g3_service *svc,
			 int wait_seconds, PGconn **out, g3_err *err);

/*
 * The one guard of every target name, for create and restore alike.
 * Refuses (G3_USAGE, message naming the name and why) the databases
 * template0, template1, postgres and master_db (the master connection's
 * own), and the roles postgres and master_role: replacing, provisioning
 * or re-passwording them would break the server for everyone else.
 * Names compare byte for byte, as PostgreSQL's do. Any argument may be
 * NULL (master_db/master_role: unknown yet, only the fixed names count).
 */
g3_rc g3_target_guard(const char *master_db, const char *master_role,
		      const char *database, const char *role, g3_err *err);

/* The same with the master's names taken from a connection. */
g3_rc g3_target_guard_conn(PGconn *master, const char *database, const char *role,
			   g3_err *err);

/* Whether the master may act as role through SET ROLE: it is a superuser
 * or has the role's privileges (pg_has_role USAGE). *may is 0 for a role
 * that does not exist, and *exists tells that apart. */
g3_rc g3_master_may_set_role(PGconn *master, const char *role, int *may, int *exists,
			     g3_err *err);

/* The Debian package that provides an extension, for hints. */
const char *g3_extension_package(const char *ext, int server_major,
				 char *buf, size_t bufsize);

#endif
