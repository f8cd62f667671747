/*
 * A restore target database, replaced only when the restore is complete.
 *
 * The data goes into a side database "<db>__gen3db_restore" owned by the
 * service role; g3_pgtarget_commit renames it into place as the master
 * (the old target, if any, is renamed away in the same transaction and
 * then dropped), g3_pgtarget_abort drops it. A side database left by a
 * killed run is dropped by the next run's g3_pgtarget_prepare, and only
 * such a one: the side database and the swapped-out old target carry a
 * marker comment (gen3db: restore in progress of "<db>" / gen3db:
 * previous content of "<db>"), and a database of either name without its
 * marker is refused (G3_USAGE), never dropped. The database put in place
 * has the marker cleared in the swap's transaction. While a
 * restore runs, it holds an advisory lock on the master connection so two
 * restores of the same target do not meet.
 *
 * A run that fails leaves nothing of its own: the side database goes, and
 * so does the service role if this run created it.
 *
 * Safety: a target that already has tables is refused (G3_USAGE, nothing
 * touched) unless clean or skip_existing; with clean the old content stays
 * in place until the commit, so a failed restore keeps it. With
 * skip_existing such a target is left as it is (t->skipped, no side
 * database, nothing to commit or abort): since a restore's data only ever
 * reaches the target's name whole (the swap), a target with tables is
 * either complete or was never gen3db's, never a half-done restore; an
 * empty database of that name (as 'gen3db create' leaves it) is restored
 * into as usual.
 */
#ifndef G3_PGTARGET_H
#define G3_PGTARGET_H

#include <libpq-fe.h>

#include "../base/err.h"
#include "pg.h"
#include "provision.h"

#define G3_PGTARGET_SIDE_SUFFIX "__gen3db_restore"
#define G3_PGTARGET_OLD_SUFFIX "__gen3db_old"

typedef struct g3_pgtarget {
	char *database;         /* the target's name */
	char *side;             /* where the data goes */
	char *old;              /* the old target's name during the swap */
	int exists;             /* the target existed before */
	long tables;            /* its tables then */
	int side_created;
	int skipped;            /* skip_existing: the target has tables, untouched */
	int role_created;       /* this run created the service role */
	int committed;          /* g3_pgtarget_commit put it in place */
	g3_service svc;         /* service role, connected to side */
} g3_pgtarget;

typedef struct g3_pgtarget_opts {
	int clean;              /* replace a target that has tables */
	int skip_existing;      /* leave a target that has tables as it is */
	int no_create;          /* the role must exist; no provisioning */
	/* no password and a role that does not exist: generate one
	 * (svc.password, svc.password_generated) and create the role with it,
	 * for the caller to record once the target is in place */
	int generate_password;
	int wait_seconds;
} g3_pgtarget_opts;

void g3_pgtarget_init(g3_pgtarget *t);
void g3_pgtarget_release(g3_pgtarget *t);

/* Checks names, locks, drops leftovers, checks the target and creates the
 * side database with its role (through g3_provision unless no_create).
 * svc gives the database (the target), role and password; it is copied.
 * Without a password: a master that may act as an existing role loads
 * through SET ROLE; a role that does not exist gets a generated password
 * with o->generate_password (t->svc.password, wiped on release; never in
 * a message); else G3_USAGE before anything changed. */
g3_rc g3_pgtarget_prepare(PGconn *master, const g3_pgconf *master_conf,
			  const g3_service *svc, const g3_pgtarget_opts *o,
			  g3_pgtarget *t, g3_err *err);

/* Connects as the service role to the side database. */
g3_rc g3_pgtarget_connect(const g3_pgconf *master_conf, const g3_pgtarget *t,
			  int wait_seconds, PGconn **out, g3_err *err);

/* Provides extension name in the side database for a dump's CREATE
 * EXTENSION: created as the master unless already there; one the server
 * lacks is a failure naming the package to install. */
g3_rc g3_pgtarget_extension(const g3_pgconf *master_conf, const g3_pgtarget *t,
			    const char *name, int wait_seconds, g3_err *err);

/* Moves the side database into place. No connection to it may be open. */
g3_rc g3_pgtarget_commit(PGconn *master, g3_pgtarget *t, g3_err *err);

/* Drops the side database, and the service role when this run created it
 * (never one that existed before: a role is only dropped by the run whose
 * CREATE ROLE made it, and not once a commit put a database of it in
 * place). Best effort; logs a failure. With several targets sharing a
 * role, abort them in the reverse order of their prepare. */
void g3_pgtarget_abort(PGconn *master, g3_pgtarget *t);

#endif
