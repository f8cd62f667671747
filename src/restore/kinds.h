/*
 * The kinds of source the restore command reads, each a file over the load
 * core (load.h), none of them including another's file:
 *
 *   whole environment      restore_env.c       a gen3 layout: a directory, an
 *                                              s3:// prefix, or BUCKET,
 *                                              ENVIRONMENT and VERSION
 *   elasticdump directory  restore_esdir.c     elasticdump's or
 *                                              multielasticdump's files in a
 *                                              directory or s3:// prefix
 *   snapshot               restore_snapshot.c  a gen3db snapshot
 *                          (+ restore_snapshot_es.c, its indices)
 *   plain dump             restore_plain.c     pg_dump's plain SQL
 *   pg_dump archive        restore_plain.c     custom, directory or tar,
 *                          over input.c        through pg_restore
 *
 * restore.c tells a location (the first two) from its name and listing;
 * a stream's kind is told once from its bytes by input_open, and
 * restore_single.c runs it through its row of a table of plan and load
 * functions (prepare the targets, load, swap into place, report).
 *
 * Every kind's run returns a g3_rc with err; a run that has reported its
 * failures itself (a table of results, a failed index) leaves err's
 * message empty. Only the command maps the result to an exit code.
 */
#ifndef G3_RESTORE_KINDS_H
#define G3_RESTORE_KINDS_H

#include <json-c/json.h>

#include "../common/es/esrestore.h"
#include "../common/gen3/gen3layout.h"
#include "../common/snap/walk.h"
#include "load.h"

/* ---- streams: snapshot, plain dump, pg_dump archive ------------------- */

/* A kind of stream: plan reads what it needs of the input to name the
 * targets (before any server is touched); load streams the rest of it
 * into the prepared targets. */
struct stream_kind {
	const char *name;
	g3_rc (*plan)(const struct restore_opts *o, struct input *in, struct plan *p,
		      g3_err *err);
	g3_rc (*load)(const struct restore_env *env, struct input *in, struct plan *p,
		      g3_err *err);
};

/* Restores o->source (a file, '-', an http(s) or s3 URL, a pg_dump
 * directory archive) whatever its kind: catch_signals is called once the
 * plan is made, before the first server is touched. Logs its failure and
 * prints --json's failure object itself (err's message then empty). */
g3_rc source_restore(struct restore_opts *o, void (*catch_signals)(void), g3_err *err);

/* --json's failure object of a restore that failed before its kind ran:
 * the source and no database. */
void source_json_failure(const struct restore_opts *o, g3_rc rc, const g3_err *err);

/* Plain dumps and pg_dump archives (restore_plain.c). */
g3_rc plain_plan(const struct restore_opts *o, struct input *in, struct plan *p, g3_err *err);
g3_rc plain_load(const struct restore_env *env, struct input *in, struct plan *p, g3_err *err);

/* Snapshots: reads manifest.json (refusing an unknown format before
 * anything is touched) and plans the targets. */
g3_rc snapshot_plan(const struct restore_opts *o, struct input *in,
		    struct plan *p, g3_err *err);
/* Streams the rest of the snapshot into the prepared targets. */
g3_rc snapshot_load(const struct restore_env *env, struct input *in,
		    struct plan *p, g3_err *err);

/* Elasticsearch members of a snapshot (restore_snapshot_es.c). es_plan
 * picks the indices and checks the cluster and every target (exit 2 before
 * anything is touched); the snapshot walk hands an index's members to
 * es_begin_index, es_load_docs and es_docs_loaded (es_restores: the
 * indices restored; es_index_failed: an index's fault, which fails that
 * index only); es_publish gives the loaded indices their aliases once
 * end.json agreed; es_abort deletes loads left open. */
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

/* ---- whole environments (restore_env.c) -------------------------------- */

/* 1 when the source is a gen3 layout (a directory, an s3:// prefix
 * ending in '/', or no source with BUCKET, ENVIRONMENT and VERSION set);
 * *base gets it (caller frees). */
int env_source(const char *source, const g3_helm_env *helm, char **base);
/* Restores every service dump and index found under base. Its table of
 * results and its failures are reported by it (err's message then
 * empty); G3_FAIL when any of them failed. */
g3_rc env_restore(const struct restore_opts *o, const char *base, g3_err *err);

/* ---- elasticdump directories (restore_esdir.c) ------------------------- */

/* What an elasticdump directory's restore takes: restore-es's options,
 * or restore's that apply. */
struct restore_es_opts {
	const char *dir;
	char **indices;         /* owned (g3_strlist) */
	size_t n_indices;
	g3_layout_plan plan;    /* an s3:// DIR: its listing (else unused) */
	int from_s3;
	int on_existing;        /* G3_ON_EXISTING_* */
	int on_existing_given;  /* --on-existing was given */
	const char *es_url;
	const char *cacert;
	long wait;
	int json;
	g3_esrestore_opts r;
};

void restore_es_opts_init(struct restore_es_opts *o);
void restore_es_opts_release(struct restore_es_opts *o);

/* 1 when source (a directory or an s3:// prefix ending in '/') holds no
 * gen3 layout but elasticdump's files at its top (or, a directory, in its
 * es/ folder). Errors reading it are left to the environment's restore,
 * which reports them: 0 then. */
int esdir_source(const char *source);

/* Restores o->dir's indices (o->indices, else GUPPY_INDICES and
 * GUPPY_CONFIGINDEX, else every index found there) into Elasticsearch:
 * every index planned before anything is written, then loaded one after
 * another; with o->json the report on standard output. A failed index is
 * reported by it (err's message then empty, G3_FAIL). catch_signals is
 * called once the indices are chosen, before the cluster is touched; *ran
 * is set once the run has printed its own --json report. */
g3_rc esdir_restore(struct restore_es_opts *o, void (*catch_signals)(void), int *ran,
		    g3_err *err);

/* `gen3db restore DIR|s3://.../ --es URL` for an elasticdump directory:
 * refuses restore's options that do not apply, then esdir_restore with
 * the ones that do. */
g3_rc esdir_restore_opts(const struct restore_opts *o, const char *dir,
			 void (*catch_signals)(void), g3_err *err);

#endif
