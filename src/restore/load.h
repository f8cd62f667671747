/*
 * The restore command's load core, shared by every kind of source: the
 * options, the input (a source opened and its kind told from its bytes),
 * the plan of target databases, one database's load (side database,
 * leader and workers, psql scripts) and a service's credentials.
 *
 * Shape: restore.c picks the kind once (kinds.h); each kind's file plans
 * and loads over this core, which includes only the library. Nothing here
 * includes a kind: the dependencies run restore.c -> kinds -> load core ->
 * src/common.
 */
#ifndef G3_RESTORE_LOAD_H
#define G3_RESTORE_LOAD_H

#include <signal.h>

#include <json-c/json.h>

#include "../common/es/esrestore.h"
#include "../common/pg/pg.h"
#include "../common/pg/pgarchive.h"
#include "../common/pg/pgfilter.h"
#include "../common/pg/pgload.h"
#include "../common/pg/pgtarget.h"
#include "../common/pg/provision.h"
#include "../common/snap/snapreader.h"
#include "../common/snap/snapshot.h"
#include "../common/io/source.h"
#include "../common/base/clock.h"
#include "../common/base/trace.h"
#include "../common/io/remoteopts.h"
#include "input.h"
#include "interrupt.h"

struct restore_opts {
	const char *source;
	const char *database;
	char **maps;            /* "OLD=NEW" */
	size_t n_maps;
	long jobs;
	size_t build_memory;    /* --maintenance-work-mem: a budget; 0 none */
	int no_analyze;         /* --no-analyze: statistics left to autovacuum */
	int clean;              /* --clean, --on-existing replace */
	int on_existing;        /* enum on_existing: what --on-existing said */
	int on_existing_given;
	int no_create;
	int json;
	const char *master_url;
	long wait;
	const char *release;
	int sql_script;         /* --sql-script: plain SQL need not be pg_dump's */
	const char *trace_path; /* --trace FILE */
	g3_trace *trace;        /* open for the run when trace_path is set */
	/* whole-environment restores (restore_env.c) */
	char **services;        /* --service, repeatable */
	size_t n_services;
	long parallel;          /* --parallel-services; 0: chosen from --jobs */
	const char *shard_arg;  /* --shard as given */
	long shard, shards;     /* --shard I/N; shards 0: not sharded */
	/* credentials and Secrets */
	const char *credentials_dir;
	const char *secret_out;
	int patch_secret;
	const char *secret_name;
	/* Elasticsearch (restore_snapshot_es.c) */
	const char *es_url;
	const char *es_cacert;
	char **indices;         /* --index: restore only these */
	size_t n_indices;
	int no_es;
	g3_esrestore_opts es;   /* bulk options, --no-alias (clean: --clean) */
	/* --table, --exclude-table, --exclude-table-data (restore_filter.c):
	 * the patterns as given, by g3_tablefilter_list, and compiled (NULL:
	 * none given; owned, counts what matched) */
	char **patterns[3];
	size_t n_patterns[3];
	g3_tablefilter *filter;
	g3_remote_opts remote;  /* --s3-endpoint, --region, ... */
	g3_helm_env helm;       /* SERVICE_PG*, BUCKET, ..., read once */
};

/* One target database and its load. */
struct db_load {
	char *from;             /* name in the snapshot (NULL for plain SQL) */
	char *service;          /* a plain file's service ("fence"), or NULL */
	char *secret_name;      /* --secret-out: its Secret, "<service>-dbcreds" */
	g3_service svc;         /* database = the target, role, password */
	const g3_snap_database *mdb;  /* its manifest entry (snapshots) */
	g3_pgtarget target;
	PGconn *leader;
	g3_pgload *load;
	const struct restore_env *env;  /* for the loader's callbacks */
	double t0, seconds;
	int done;               /* loaded and verified */
	g3_sqlfilter *filter;   /* the table patterns' statement filter, or NULL */
	/* sums of the chunk headers, checked against end.json */
	int64_t rows, bytes, chunks;
};

struct es_plan;

struct plan {
	struct db_load *dbs;
	size_t n;
	g3_manifest manifest;   /* snapshots */
	struct es_plan *es;     /* the indices to restore, NULL: none */
};

struct restore_env {
	const struct restore_opts *o;
	const g3_pgconf *conf;  /* the master's parameters */
};

/* A phase of the command in the trace (conn 0): job "prepare" or "swap"
 * of database, from start (g3_trace_now) to now. Nothing without
 * --trace. */
void trace_phase(const struct restore_opts *o, const char *job, const char *database,
		 double start, g3_rc rc, const g3_err *err);

/* How every target is prepared: --clean, --on-existing, --no-create,
 * --secret-out (a generated password), --wait. */
void restore_target_opts(const struct restore_opts *o, g3_pgtarget_opts *to);

/* Connects the leader and starts the workers for d. */
g3_rc db_load_begin(const struct restore_env *env, struct db_load *d, g3_err *err);
/* Post-data jobs and ANALYZE, then every connection to the side database
 * closes (statistics stay for the report). */
g3_rc db_load_end(struct db_load *d, g3_err *err);

/* Runs a psql script read from the reader's current member through d's
 * loader (statements, COPY blocks). For plain input that is pg_dump's
 * output, a stream that ends without pg_dump's closing lines fails
 * (G3_FAIL, "incomplete (truncated)") before the loader finishes. */
g3_rc load_sql_member(struct input *in, struct db_load *d, g3_err *err);

/* Sets a service's role and password: from the --credentials-dir files
 * of its service when there are some, else its Secret in --secret-out,
 * else SERVICE_PGUSER/SERVICE_PGPASS (role default: the database's name).
 * No password is not an error here: g3_pgtarget_prepare decides (SET
 * ROLE, a generated one with --secret-out, or a refusal). */
g3_rc plan_role(const struct restore_opts *o, struct db_load *d, const char *user, g3_err *err);
/* A new target at the end of p (zeroed, its service and target
 * initialised). */
struct db_load *plan_add(struct plan *p);
void db_load_release(struct db_load *d);

/* Reads DIR/<service>/{database,username,password} (as the helm chart
 * mounts each <service>-dbcreds Secret) into svc: *found 0 when the
 * service has no directory there; database and username are optional. */
g3_rc credentials_read(const char *dir, const char *service, g3_service *svc, int *found,
		       g3_err *err);

#endif
