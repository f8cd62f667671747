/*
 * Private to the restore command: what restore.c (options, plan, plain SQL
 * loader, report) and restore_snapshot.c (the snapshot loader) share.
 *
 * Shape: a source spec -> input (kind told from its bytes) -> plan (the
 * target databases) -> a loader per kind that reads the source once ->
 * commit every target (rename into place) -> report.
 */
#ifndef G3_RESTORE_H
#define G3_RESTORE_H

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
#include "../common/snap/walk.h"
#include "../common/io/source.h"
#include "../common/base/trace.h"

#define RESTORE_READ_BYTES (1024 * 1024)

struct restore_opts {
	const char *source;
	const char *database;
	char **maps;            /* "OLD=NEW" */
	size_t n_maps;
	long jobs;
	int clean;              /* --clean, --on-existing replace */
	int on_existing;        /* enum on_existing: what --on-existing said */
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
};

enum source_kind { KIND_PLAIN_SQL, KIND_SNAPSHOT };

struct input {
	g3_source *src;
	g3_reader *rd;          /* one reading path: tar members or one raw stream */
	char *buf;              /* RESTORE_READ_BYTES */
	enum source_kind kind;
	int sql_script;         /* set before input_open: accept plain SQL
				 * without pg_dump's opening lines */
	int pg_dump;            /* plain SQL with pg_dump's opening lines:
				 * load_sql_member checks its closing ones */
	g3_pgrestore *arch;     /* a pg_dump archive: pg_restore's output is
				 * the script (restore_archive.c) */
	g3_pgarch_head arch_head;
	struct tar_feed *arch_tar;  /* a tar archive's feed (its end checked) */
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

extern volatile sig_atomic_t restore_interrupted;

/* A phase of the command in the trace (conn 0): job "prepare" or "swap"
 * of database, from start (g3_trace_now) to now. Nothing without
 * --trace. */
void trace_phase(const struct restore_opts *o, const char *job, const char *database,
		 double start, g3_rc rc, const g3_err *err);

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

/* Snapshots: reads manifest.json (refusing an unknown format before
 * anything is touched) and plans the targets. */
g3_rc snapshot_plan(const struct restore_opts *o, struct input *in,
		    struct plan *p, g3_err *err);
/* Streams the rest of the snapshot into the prepared targets. */
g3_rc snapshot_load(const struct restore_env *env, struct input *in,
		    struct plan *p, g3_err *err);

/* Elasticsearch members of a snapshot (restore_snapshot_es.c). es_plan
 * picks the indices to restore and checks their targets (before
 * anything is touched); the snapshot walk hands an index's members to
 * es_begin_index, es_load_docs and es_docs_loaded (es_restores: the
 * indices restored; es_index_failed: an index's fault, which fails that
 * index only); es_publish gives the loaded indices their aliases once
 * end.json agreed; es_abort deletes
 * loads left open. */
g3_rc es_plan_snapshot(const struct restore_opts *o, const char *source, struct plan *p,
		       g3_err *err);
int es_restores(const struct plan *p, const char *index);
g3_rc es_begin_index(struct plan *p, const char *source, const char *index, g3_esdef *def,
		     g3_err *err);
g3_rc es_load_docs(struct plan *p, g3_snapwalk *w, const char *index,
		   const g3_es_docs_header *h, const char *member, g3_err *err);
g3_rc es_docs_loaded(struct plan *p, const char *index, const g3_es_docs_header *h,
		     g3_err *err);
g3_rc es_index_failed(struct plan *p, const char *index, g3_err *why, g3_err *err);
g3_rc es_publish(struct plan *p, g3_err *err);
void es_abort(struct plan *p);
json_object *es_report(const struct plan *p);
/* Indices planned to be loaded (not skipped by --on-existing skip). */
size_t es_pending(const struct plan *p);
void es_plan_free(struct es_plan *e);
/* How many indices e restores (0 for NULL). */
size_t es_plan_count(const struct es_plan *e);

/* Sets a service's role and password: from the --credentials-dir files
 * of its service when there are some, else its Secret in --secret-out,
 * else SERVICE_PGUSER/SERVICE_PGPASS (role default: the database's name).
 * No password is not an error here: g3_pgtarget_prepare decides (SET
 * ROLE, a generated one with --secret-out, or a refusal). */
g3_rc plan_role(struct db_load *d, const char *user, g3_err *err);
/* Appends an empty target (its service and target initialised) to p. */
struct db_load *plan_add(struct plan *p);
/* Set once before planning: --credentials-dir, or NULL. */
extern const char *restore_credentials_dir;

/* Reads DIR/<service>/{database,username,password} (as the helm chart
 * mounts each <service>-dbcreds Secret) into svc: *found 0 when the
 * service has no directory there; database and username are optional. */
g3_rc credentials_read(const char *dir, const char *service, g3_service *svc, int *found,
		       g3_err *err);

/* Opens the source and tells its kind; plain SQL is sniffed before any
 * server is touched: empty input, input that is not SQL, and SQL that
 * pg_dump did not write (unless in->sql_script) are G3_USAGE. */
g3_rc input_open(const char *spec, struct input *in, g3_err *err);
void input_close(struct input *in);

/* pg_dump archives (restore_archive.c). archive_open: in->src NULL for a
 * directory spec; in->rd NULL for a tar archive_lookahead found; else the
 * reader is at a custom archive's first bytes (or a compressed tar's
 * toc.dat, refused); finds the pg_restore the
 * archive needs (G3_USAGE naming the version when there is none) and
 * starts it. input_read: the script's bytes (pg_restore's output, else
 * the reader's); input_consumed: the source's bytes read so far;
 * input_format: "sql", "snapshot", "pg_dump-custom", ... */
g3_rc archive_open(const char *spec, struct input *in, g3_err *err);
/* Replaces in->src by one whose first bytes were read ahead (and are read
 * again, the source's error where it was met): *tar 1 when they are a
 * pg_dump tar archive's, whose header is then in in->arch_head (G3_USAGE
 * when it is damaged). */
g3_rc archive_lookahead(struct input *in, int *tar, g3_err *err);
ssize_t input_read(struct input *in, void *buf, size_t len, g3_err *err);
uint64_t input_consumed(const struct input *in);
const char *input_format(const struct input *in);
void db_load_release(struct db_load *d);

/* Table patterns (restore_filter.c). filter_add compiles one (exit 2 on a
 * bad one); filter_check_plan refuses, before anything is touched, a
 * pattern that matches no table of a snapshot's manifest; filter_check
 * the same after a plain dump was read (its target is not yet in place);
 * filter_report adds what was left out of d to its summary. */
g3_rc filter_add(struct restore_opts *o, enum g3_tablefilter_list list, const char *pattern,
		 g3_err *err);
g3_rc filter_check_plan(const struct restore_opts *o, const struct plan *p, g3_err *err);
g3_rc filter_check(const struct restore_opts *o, g3_err *err);
void filter_options_json(const struct restore_opts *o, json_object *j);
void filter_report(const struct db_load *d, json_object *o);
void filter_free(struct restore_opts *o);

/* Whole environments (restore_env.c): 1 when the source is a gen3
 * layout (a directory, an s3:// prefix ending in '/', or no source with
 * BUCKET, ENVIRONMENT and VERSION set); *base gets it (caller frees). */
int env_source(const char *source, char **base);
/* Restores every service dump and index found under base; returns the
 * exit code. */
int env_restore(const struct restore_opts *o, const char *base);

#endif
