/*
 * Restoring a gen3db snapshot (docs/FORMAT.md), read once front to back.
 *
 * manifest.json first: parsed (an unknown format version is refused with
 * exit 2 before any server is touched) and planned: each database of the
 * snapshot gets a target (--map OLD=NEW, --database for a one-database
 * snapshot, --release NAME for <service>_<NAME>, SERVICE_PGDB for a
 * one-database snapshot, else its own name).
 * Then per database, in archive order: pre-data.sql on the leader; each
 * data chunk (header, then .copy) to a free worker's COPY while its rows,
 * bytes and sha256 are checked against the header as the bytes stream (a
 * mismatch fails the restore naming the member; the side database is
 * dropped, so nothing of it is ever seen); post-data.sql with indexes and
 * constraints per table once its data is in, foreign keys after all data;
 * sequences.sql; ANALYZE. end.json must come last and agree with what was
 * read; only then are the targets renamed into place (by the caller).
 */
#include <stdlib.h>
#include <string.h>

#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"
#include "kinds.h"

#define MAX_JSON_MEMBER (64 * 1024 * 1024)   /* manifest, chunk headers, end.json */

static const char *map_lookup(const struct restore_opts *o, const char *from)
{
	size_t n = strlen(from);

	for (size_t i = 0; i < o->n_maps; i++)
		if (!strncmp(o->maps[i], from, n) && o->maps[i][n] == '=')
			return o->maps[i] + n + 1;
	return NULL;
}

/* fence_gen3 -> fence_<release> */
static char *with_release(const char *name, const char *release)
{
	const char *us = strrchr(name, '_');
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%.*s_%s", us ? (int)(us - name) : (int)strlen(name), name, release);
	return g3_buf_detach(&b);
}

g3_rc snapshot_plan(const struct restore_opts *o, struct input *in,
		    struct plan *p, g3_err *err)
{
	const g3_manifest *m = &p->manifest;
	g3_buf json = G3_BUF_INIT;
	const char *name;
	int64_t size;
	g3_rc rc = G3_OK;
	int k;

	k = g3_reader_next(in->rd, &name, &size, err);
	if (k < 0)
		return err->rc ? err->rc : G3_FAIL;
	if (k == 0 || strcmp(name, G3_SNAP_MANIFEST))
		return g3_err_set(err, G3_USAGE,
				  "\"%s\" is not a gen3db snapshot: its first member is %s%s%s, "
				  "not \"" G3_SNAP_MANIFEST "\"", in->src->name,
				  k ? "\"" : "", k ? name : "missing", k ? "\"" : "");
	if ((rc = g3_reader_slurp(in->rd, MAX_JSON_MEMBER, &json, err)))
		goto cleanup;
	if ((rc = g3_manifest_parse(json.data ? json.data : "", json.len, &p->manifest, err))) {
		g3_err_prefix(err, "snapshot \"%s\"", in->src->name);
		goto cleanup;
	}
	if (!m->n_databases && (!m->n_indices || o->no_es)) {
		rc = g3_err_set(err, G3_USAGE, "snapshot \"%s\" holds no PostgreSQL database%s",
				in->src->name, m->n_indices ? " (and --no-es skips its indices)" : "");
		goto cleanup;
	}
	for (size_t i = 0; i < o->n_maps; i++) {
		const char *eq = strchr(o->maps[i], '=');
		int found = 0;

		for (size_t d = 0; d < m->n_databases; d++)
			found |= strlen(m->databases[d].name) == (size_t)(eq - o->maps[i]) &&
				 !strncmp(m->databases[d].name, o->maps[i], (size_t)(eq - o->maps[i]));
		if (!found) {
			rc = g3_err_set(err, G3_USAGE, "--map %s: the snapshot has no database \"%.*s\"",
					o->maps[i], (int)(eq - o->maps[i]), o->maps[i]);
			goto cleanup;
		}
	}
	if (o->database && m->n_databases > 1) {
		rc = g3_err_set(err, G3_USAGE,
				"--database names one target but the snapshot holds %zu %s",
				m->n_databases, g3_plural((long long)m->n_databases, "database", "databases"));
		g3_err_hint(err, "name the targets with --map OLD=NEW (or --release NAME)");
		goto cleanup;
	}
	for (size_t i = 0; i < m->n_databases; i++) {
		const char *from = m->databases[i].name;
		const char *mapped = map_lookup(o, from);
		struct db_load *d;

		d = plan_add(p);
		d->from = g3_xstrdup(from);
		d->mdb = &m->databases[i];
		if (mapped)
			d->svc.database = g3_xstrdup(mapped);
		else if (o->database)
			d->svc.database = g3_xstrdup(o->database);
		else if (o->release)
			d->svc.database = with_release(from, o->release);
		else if (m->n_databases == 1 && o->helm.pgdb)
			d->svc.database = g3_xstrdup(o->helm.pgdb);   /* the helm job's */
		else
			d->svc.database = g3_xstrdup(from);
		/* one database: the helm job's SERVICE_PGUSER; several: each
		 * role is named like its database, as Gen3 names them */
		if ((rc = plan_role(o, d, m->n_databases == 1 ? o->helm.pguser : NULL, err)))
			goto cleanup;
		for (size_t j = 0; j + 1 < p->n; j++)
			if (!strcmp(p->dbs[j].svc.database, d->svc.database)) {
				rc = g3_err_set(err, G3_USAGE,
						"databases \"%s\" and \"%s\" would both restore into \"%s\"",
						p->dbs[j].from, from, d->svc.database);
				goto cleanup;
			}
	}
	rc = es_plan_snapshot(o, in->src->name, p, err);
cleanup:
	g3_buf_release(&json);
	return rc;
}

/* ---- streaming ------------------------------------------------------- */

struct snap_state {
	const struct restore_env *env;
	struct plan *p;
	struct db_load *cur;        /* the database whose members are streaming */
	g3_chunk_header hdr;        /* the last chunk header */
	uint64_t hdr_number;        /* 0: none pending */
	uint64_t members;           /* seen before end.json */
	g3_snap_parts parts;        /* the current database's tables' parts */
	const char *source;         /* the snapshot's name, for messages */
};

static struct db_load *find_db(struct plan *p, const char *from)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->dbs[i].from, from))
			return &p->dbs[i];
	return NULL;
}

static const g3_snap_table *find_table(const g3_snap_database *mdb, const char *schema,
				       const char *name)
{
	for (size_t i = 0; i < mdb->n_tables; i++)
		if (!strcmp(mdb->tables[i].schema, schema) && !strcmp(mdb->tables[i].name, name))
			return &mdb->tables[i];
	return NULL;
}

static g3_rc end_db(struct snap_state *s, g3_err *err)
{
	g3_rc rc;

	if (!s->cur)
		return G3_OK;
	if (s->hdr_number)
		return g3_err_set(err, G3_FAIL, "snapshot: chunk header %06llu of database \"%s\" "
				  "has no data member", (unsigned long long)s->hdr_number, s->cur->from);
	/* every table's parts 1..n, the last flagged: none missing at the end */
	for (size_t i = 0; i < s->cur->mdb->n_tables; i++)
		if ((rc = g3_snap_parts_finish(&s->parts, s->cur->mdb->tables[i].schema,
					       s->cur->mdb->tables[i].name, err))) {
			g3_err_prefix(err, "snapshot \"%s\", database \"%s\"", s->source,
				      s->cur->from);
			return rc;
		}
	g3_snap_parts_release(&s->parts);
	if (s->cur->target.skipped) {
		/* --on-existing skip: read and verified, nothing loaded */
		s->cur->done = 1;
		s->cur = NULL;
		return G3_OK;
	}
	rc = db_load_end(s->cur, err);
	s->cur = NULL;
	return rc;
}

/* Moves to the member's database, finishing the previous one. */
static g3_rc enter_db(struct snap_state *s, const char *from, const char *member,
		      g3_err *err)
{
	struct db_load *d = find_db(s->p, from);
	g3_rc rc;

	if (s->cur && !strcmp(s->cur->from, from))
		return G3_OK;
	if (!d)
		return g3_err_set(err, G3_USAGE, "snapshot member \"%s\" names database \"%s\", "
				  "which is not in the manifest", member, from);
	if (d->done || d->load)
		return g3_err_set(err, G3_USAGE, "snapshot member \"%s\": the members of database "
				  "\"%s\" are not together", member, from);
	if ((rc = end_db(s, err)))
		return rc;
	s->cur = d;
	if (d->target.skipped)
		return G3_OK;
	g3_info("restoring database \"%s\" into \"%s\"", d->from, d->svc.database);
	return db_load_begin(s->env, d, err);
}

static char *copy_statement(PGconn *conn, const g3_chunk_header *h, g3_err *err)
{
	g3_buf b = G3_BUF_INIT;
	char *q;

	g3_buf_adds(&b, "COPY ");
	if (!(q = g3_pg_ident(conn, h->schema, err)))
		goto fail;
	g3_buf_addf(&b, "%s.", q);
	PQfreemem(q);
	if (!(q = g3_pg_ident(conn, h->table, err)))
		goto fail;
	g3_buf_adds(&b, q);
	PQfreemem(q);
	g3_buf_adds(&b, " (");
	for (size_t i = 0; i < h->n_columns; i++) {
		if (!(q = g3_pg_ident(conn, h->columns[i], err)))
			goto fail;
		g3_buf_addf(&b, "%s%s", i ? ", " : "", q);
		PQfreemem(q);
	}
	g3_buf_adds(&b, ") FROM STDIN");
	return g3_buf_detach(&b);
fail:
	g3_buf_release(&b);
	return NULL;
}

static g3_rc load_chunk(struct snap_state *s, struct input *in, const char *member,
			uint64_t number, g3_err *err)
{
	struct db_load *d = s->cur;
	g3_chunk_check check;
	char *sql = NULL, item[G3_PROGRESS_NAME_MAX];
	int copying = 0, skip;
	g3_rc rc = G3_OK;

	if (s->hdr_number != number)
		return g3_err_set(err, G3_USAGE, "snapshot member \"%s\" has no chunk header "
				  "before it", member);
	g3_chunk_check_init(&check);
	snprintf(item, sizeof(item), "%s.%s.%s", d->svc.database, s->hdr.schema, s->hdr.table);
	if (s->hdr.part <= 1)
		g3_progress_item_start(item, G3_PROGRESS_ROWS);
	/* checked against the header below: the reader need not hash it again */
	g3_reader_member_sum(in->rd, s->hdr.sha256);
	/* a table left out (--exclude-table...): read and verified, not loaded */
	skip = d->target.skipped ||
	       (d->filter && !g3_sqlfilter_copy(d->filter, s->hdr.schema, s->hdr.table));
	if (!skip && (s->hdr.rows > 0 || s->hdr.bytes > 0)) {
		if (!(sql = copy_statement(d->leader, &s->hdr, err))) {
			rc = G3_USAGE;
			goto cleanup;
		}
		g3_pgload_set_origin(d->load, member);
		if ((rc = g3_pgload_copy_begin(d->load, sql, 0, err)))
			goto cleanup;
		copying = 1;
	}
	for (;;) {
		ssize_t n = g3_reader_read(in->rd, in->buf, RESTORE_READ_BYTES, err);

		if (restore_interrupted) {
			rc = g3_err_set(err, G3_FAIL, "interrupted");
			goto cleanup;
		}
		if (n < 0) {
			rc = err->rc ? err->rc : G3_FAIL;
			goto cleanup;
		}
		g3_source_report_progress(in->src);
		if (n == 0)
			break;
		g3_chunk_check_update(&check, in->buf, (size_t)n);
		if (!copying) {
			if (!skip && check.bytes > 0) {
				rc = g3_err_set(err, G3_FAIL, "snapshot member \"%s\" (table \"%s.%s\"): "
						"%lld bytes where the header says 0", member,
						s->hdr.schema, s->hdr.table, (long long)check.bytes);
				goto cleanup;
			}
			continue;
		}
		if ((rc = g3_pgload_copy_data(d->load, in->buf, (size_t)n, err)))
			goto cleanup;
	}
	/* verified before the COPY is ended; on a mismatch the COPY is
	 * cancelled with the rest of the restore */
	if ((rc = g3_chunk_check_finish(&check, &s->hdr, member, err)))
		goto cleanup;
	if (copying && (rc = g3_pgload_copy_end(d->load, s->hdr.rows, err)))
		goto cleanup;
	d->rows += s->hdr.rows;
	d->bytes += s->hdr.bytes;
	g3_progress_item_add(item, s->hdr.rows);
	if (s->hdr.last)
		g3_progress_item_done(item, 0);
	d->chunks++;
cleanup:
	s->hdr_number = 0;
	g3_chunk_check_release(&check);
	free(sql);
	return rc;
}

static g3_rc read_header(struct snap_state *s, struct input *in, const char *member,
			 uint64_t number, g3_err *err)
{
	g3_buf json = G3_BUF_INIT;
	g3_rc rc;

	if (s->hdr_number)
		return g3_err_set(err, G3_USAGE, "snapshot member \"%s\" follows a chunk header "
				  "without its data", member);
	g3_chunk_header_release(&s->hdr);
	g3_chunk_header_init(&s->hdr);
	rc = g3_reader_slurp(in->rd, MAX_JSON_MEMBER, &json, err);
	if (!rc)
		rc = g3_chunk_header_parse(json.data ? json.data : "", json.len, member, &s->hdr, err);
	g3_buf_release(&json);
	if (rc)
		return rc;
	if (!find_table(s->cur->mdb, s->hdr.schema, s->hdr.table))
		return g3_err_set(err, G3_USAGE, "snapshot member \"%s\" names table \"%s.%s\", "
				  "which is not in the manifest", member, s->hdr.schema, s->hdr.table);
	if ((rc = g3_snap_parts_add(&s->parts, s->hdr.schema, s->hdr.table, s->hdr.part,
				    s->hdr.last, member, err))) {
		g3_err_prefix(err, "snapshot \"%s\"", s->source);
		return rc;
	}
	s->hdr_number = number;
	return G3_OK;
}

static g3_rc check_end(struct snap_state *s, struct input *in, g3_err *err)
{
	g3_snap_end e;
	g3_buf json = G3_BUF_INIT;
	g3_rc rc;

	g3_snap_end_init(&e);
	rc = g3_reader_slurp(in->rd, MAX_JSON_MEMBER, &json, err);
	if (!rc)
		rc = g3_snap_end_parse(json.data ? json.data : "", json.len, &e, err);
	if (rc)
		goto cleanup;
	/* 1.2: every member's size and sha256, pre-data and post-data too
	 * (already run in the side database, which a failure here drops) */
	if (s->p->manifest.format_minor >= G3_SNAP_MINOR_MEMBER_SUMS && !e.has_sums) {
		rc = g3_err_set(err, G3_FAIL, "snapshot \"%s\": end.json has no member_sums "
				"(format 1.%d requires them)", in->src->name, s->p->manifest.format_minor);
		goto cleanup;
	}
	if (e.has_sums && (rc = g3_snap_log_check(g3_reader_log(in->rd), &e.sums, err))) {
		g3_err_prefix(err, "snapshot \"%s\"", in->src->name);
		goto cleanup;
	}
	if (e.members != s->members) {
		rc = g3_err_set(err, G3_FAIL, "snapshot \"%s\": end.json counts %llu %s but "
				"%llu %s read", in->src->name, (unsigned long long)e.members,
				g3_plural((long long)e.members, "member", "members"),
				(unsigned long long)s->members,
				g3_plural((long long)s->members, "was", "were"));
		goto cleanup;
	}
	for (size_t i = 0; i < s->p->n; i++) {
		const struct db_load *d = &s->p->dbs[i];
		const g3_end_database *ed = NULL;

		for (size_t k = 0; k < e.n_databases; k++)
			if (!strcmp(e.databases[k].name, d->from))
				ed = &e.databases[k];
		if (!ed || ed->rows != d->rows || ed->bytes != d->bytes || ed->chunks != d->chunks) {
			rc = g3_err_set(err, G3_FAIL,
					"snapshot \"%s\": end.json does not agree with the data of "
					"database \"%s\" (%lld %s, %lld %s, %lld %s read)",
					in->src->name, d->from, (long long)d->rows,
					g3_plural(d->rows, "row", "rows"), (long long)d->bytes,
					g3_plural(d->bytes, "byte", "bytes"), (long long)d->chunks,
					g3_plural(d->chunks, "chunk", "chunks"));
			goto cleanup;
		}
	}
	rc = es_end(s->p, &e, in->src->name, err);
cleanup:
	g3_buf_release(&json);
	g3_snap_end_release(&e);
	return rc;
}

g3_rc snapshot_load(const struct restore_env *env, struct input *in,
		    struct plan *p, g3_err *err)
{
	struct snap_state s;
	int seen_end = 0;
	g3_rc rc = G3_OK;

	memset(&s, 0, sizeof(s));
	s.env = env;
	s.p = p;
	s.members = 1;      /* the manifest */
	s.source = in->src->name;
	g3_snap_parts_init(&s.parts);
	g3_chunk_header_init(&s.hdr);
	{
		size_t items = es_plan_count(p->es);

		for (size_t i = 0; i < p->n; i++)
			items += p->dbs[i].mdb ? p->dbs[i].mdb->n_tables : 0;
		g3_progress_set_totals(-1, (int)items);
	}
	for (;;) {
		char db[256];
		const char *name;
		int64_t size;
		uint64_t number;
		g3_member_kind kind;
		int k = g3_reader_next(in->rd, &name, &size, err);

		if (k < 0) {
			rc = err->rc ? err->rc : G3_FAIL;
			break;
		}
		if (k == 0)
			break;
		if (seen_end) {
			rc = g3_err_set(err, G3_USAGE, "snapshot \"%s\": member \"%s\" after end.json",
					in->src->name, name);
			break;
		}
		kind = g3_snap_member_kind(name, db, sizeof(db), &number);
		if (kind == G3_MEMBER_END) {
			if ((rc = end_db(&s, err)) || (rc = check_end(&s, in, err)))
				break;
			seen_end = 1;
			continue;
		}
		s.members++;
		switch (kind) {
		case G3_MEMBER_PRE_DATA:
		case G3_MEMBER_POST_DATA:
		case G3_MEMBER_SEQUENCES:
			if ((rc = enter_db(&s, db, name, err)))
				break;
			if (s.hdr_number) {
				rc = g3_err_set(err, G3_USAGE, "snapshot member \"%s\" follows a chunk "
						"header without its data", name);
				break;
			}
			if (s.cur->target.skipped)
				break;   /* read through by the next member */
			{
				g3_buf origin = G3_BUF_INIT;

				g3_buf_addf(&origin, "%s line", name);
				g3_pgload_set_origin(s.cur->load, origin.data);
				g3_buf_release(&origin);
			}
			rc = load_sql_member(in, s.cur, err);
			break;
		case G3_MEMBER_CHUNK_HEADER:
			if (!(rc = enter_db(&s, db, name, err)))
				rc = read_header(&s, in, name, number, err);
			break;
		case G3_MEMBER_CHUNK:
			if (!(rc = enter_db(&s, db, name, err)))
				rc = load_chunk(&s, in, name, number, err);
			break;
		case G3_MEMBER_MANIFEST:
			rc = g3_err_set(err, G3_USAGE, "snapshot \"%s\": a second manifest.json",
					in->src->name);
			break;
		case G3_MEMBER_ES_INDEX:
		case G3_MEMBER_ES_DOCS_HEADER:
		case G3_MEMBER_ES_DOCS:
			/* after the databases: finish the last one first */
			if (s.hdr_number) {
				rc = g3_err_set(err, G3_USAGE, "snapshot member \"%s\" follows a chunk "
						"header without its data", name);
				break;
			}
			if (!(rc = end_db(&s, err)))
				rc = es_member(p, in, kind, name, db, number, err);
			break;
		case G3_MEMBER_POST_DATA_JSON:   /* post-data.sql carries the same items */
		case G3_MEMBER_ES:               /* reserved or newer es/ members: skipped */
		case G3_MEMBER_OTHER:            /* a newer minor version's member */
		default:
			break;
		}
		g3_source_report_progress(in->src);
		if (rc)
			break;
	}
	g3_source_report_progress(in->src);
	if (!rc && !seen_end)
		rc = g3_err_set(err, G3_FAIL, "snapshot \"%s\" ends without end.json: it is truncated",
				in->src->name);
	for (size_t i = 0; !rc && i < p->n; i++)
		if (!p->dbs[i].done)
			rc = g3_err_set(err, G3_FAIL, "snapshot \"%s\" has no members for database \"%s\"",
					in->src->name, p->dbs[i].from);
	if (rc)
		es_abort(p);
	g3_chunk_header_release(&s.hdr);
	g3_snap_parts_release(&s.parts);
	return rc;
}
