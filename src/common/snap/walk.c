/*
 * The snapshot walk (walk.h): one loop over the members, the checks of
 * docs/FORMAT.md's "How a restore must verify", and the callbacks.
 */
#include "walk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_READ_BYTES (1u << 20)
#define MAX_JSON_MEMBER (64u << 20)     /* manifest, headers, end.json */

struct g3_snapwalk_state {
	char *buf;                      /* WALK_READ_BYTES, for reading through */
	g3_buf json;
	const g3_snap_database *db;     /* the database whose members stream */
	g3_snap_log dbs_seen;           /* databases entered */
	g3_snap_log ix_begun;           /* indices whose index.json was read */
	g3_snap_parts parts;            /* the current database's tables */
	g3_snap_parts es_parts;
	g3_chunk_header hdr;            /* the pending chunk header */
	char hdr_member[1024];          /* its member, "" when none is pending */
	uint64_t hdr_number;
	g3_es_docs_header es_hdr;
	char es_hdr_index[256];         /* its index, "" when none is pending */
	uint64_t es_hdr_number;
	g3_chunk_check check;           /* the data member being read */
	int own;                        /* the error is the walker's own finding */
};

g3_rc g3_snap_read_manifest(g3_reader *rd, const char *source, g3_manifest *m, g3_err *err)
{
	g3_buf json = G3_BUF_INIT;
	const char *name = NULL;
	int64_t size;
	g3_rc rc;
	int got = g3_reader_next(rd, &name, &size, err);

	if (got < 0)
		return err->rc ? err->rc : G3_FAIL;
	if (got == 0 || strcmp(name, G3_SNAP_MANIFEST))
		return g3_err_set(err, G3_USAGE,
				  "\"%s\" is not a gen3db snapshot: its first member is %s%s%s, "
				  "not \"" G3_SNAP_MANIFEST "\"", source, got ? "\"" : "",
				  got ? name : "missing", got ? "\"" : "");
	rc = g3_reader_slurp(rd, MAX_JSON_MEMBER, &json, err);
	if (!rc && (rc = g3_manifest_parse(json.data ? json.data : "", json.len, m, err)))
		g3_err_prefix(err, "snapshot \"%s\"", source);
	g3_buf_release(&json);
	return rc;
}

void g3_snapwalk_init(g3_snapwalk *w, g3_reader *rd, g3_source *src, const g3_manifest *m,
		      const g3_snapwalk_ops *ops, void *u)
{
	static const g3_snapwalk_ops none;
	struct g3_snapwalk_state *s = g3_xcalloc(1, sizeof(*s));

	memset(w, 0, sizeof(*w));
	w->rd = rd;
	w->src = src;
	w->m = m;
	w->ops = ops ? ops : &none;
	w->u = u;
	w->members = 1;         /* the manifest */
	w->st = s;
	g3_buf_init(&s->json);
	g3_snap_log_init(&s->dbs_seen);
	g3_snap_log_init(&s->ix_begun);
	g3_snap_parts_init(&s->parts);
	g3_snap_parts_init(&s->es_parts);
	g3_chunk_header_init(&s->hdr);
}

static void sums_free(g3_snapwalk_sum *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void g3_snapwalk_release(g3_snapwalk *w)
{
	struct g3_snapwalk_state *s = w->st;

	sums_free(w->dbs, w->n_dbs);
	sums_free(w->ixs, w->n_ixs);
	w->dbs = w->ixs = NULL;
	w->n_dbs = w->n_ixs = 0;
	if (!s)
		return;
	free(s->buf);
	g3_buf_release(&s->json);
	g3_snap_log_release(&s->dbs_seen);
	g3_snap_log_release(&s->ix_begun);
	g3_snap_parts_release(&s->parts);
	g3_snap_parts_release(&s->es_parts);
	g3_chunk_header_release(&s->hdr);
	g3_chunk_check_release(&s->check);
	free(s);
	w->st = NULL;
}

/* ---- small helpers -------------------------------------------------------- */

/* A finding of the walker's own (not a reader's or a callback's error). */
static g3_rc fail(g3_snapwalk *w, g3_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static g3_rc fail(g3_snapwalk *w, g3_err *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->st->own = 1;
	return g3_err_set(err, G3_FAIL, "%s", msg);
}

/* rc from a check of the library (parts, sums, chunk checks, parsers) */
static g3_rc own(g3_snapwalk *w, g3_rc rc)
{
	if (rc)
		w->st->own = 1;
	return rc;
}

static g3_rc read_rc(g3_err *err)
{
	return err->rc ? err->rc : G3_FAIL;
}

static g3_snapwalk_sum *sum_get(g3_snapwalk_sum **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	*v = g3_xrealloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].name = g3_xstrdup(name);
	return &(*v)[(*n)++];
}

static const g3_snapwalk_sum *sum_find(const g3_snapwalk_sum *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static g3_rc slurp(g3_snapwalk *w, g3_err *err)
{
	g3_buf_reset(&w->st->json);
	return g3_reader_slurp(w->rd, MAX_JSON_MEMBER, &w->st->json, err);
}

static const char *json_text(const g3_snapwalk *w)
{
	return w->st->json.data ? w->st->json.data : "";
}

static void progress(g3_snapwalk *w)
{
	if (w->src)
		g3_source_report_progress(w->src);
}

ssize_t g3_snapwalk_read(g3_snapwalk *w, void *buf, size_t len, g3_err *err)
{
	ssize_t n = g3_reader_read(w->rd, buf, len, err);

	if (n > 0)
		g3_chunk_check_update(&w->st->check, buf, (size_t)n);
	progress(w);
	return n;
}

/* Reads the rest of the current data member through the check. */
static g3_rc read_through(g3_snapwalk *w, g3_err *err)
{
	ssize_t n;

	if (!w->st->buf)
		w->st->buf = g3_xmalloc(WALK_READ_BYTES);
	while ((n = g3_snapwalk_read(w, w->st->buf, WALK_READ_BYTES, err)) > 0)
		;
	return n < 0 ? read_rc(err) : G3_OK;
}

/* ---- PostgreSQL databases ------------------------------------------------- */

/* Every table of the current database ended with its last part. */
static g3_rc end_db(g3_snapwalk *w, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	const g3_snap_database *d = s->db;
	g3_rc rc;

	if (!d)
		return G3_OK;
	for (size_t i = 0; i < d->n_tables; i++)
		if ((rc = own(w, g3_snap_parts_finish(&s->parts, d->tables[i].schema,
						       d->tables[i].name, err)))) {
			g3_err_prefix(err, "database \"%s\"", d->name);
			return rc;
		}
	g3_snap_parts_release(&s->parts);
	s->db = NULL;
	return w->ops->db_end ? w->ops->db_end(w->u, d, err) : G3_OK;
}

/* Moves to the member's database, ending the one before. */
static g3_rc enter_db(g3_snapwalk *w, const char *db, const char *member, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	const g3_snap_database *d;
	g3_rc rc;

	if (s->db && !strcmp(s->db->name, db))
		return G3_OK;
	if (!(d = g3_manifest_find_database(w->m, db)))
		return fail(w, err, "member \"%s\" names database \"%s\", which the manifest "
			    "does not list", member, db);
	if (g3_snap_log_find(&s->dbs_seen, db) >= 0)
		return fail(w, err, "member \"%s\": the members of database \"%s\" are not "
			    "together", member, db);
	if ((rc = end_db(w, err)))
		return rc;
	g3_snap_log_add(&s->dbs_seen, db, 0, "");
	s->db = d;
	return w->ops->db_begin ? w->ops->db_begin(w->u, d, err) : G3_OK;
}

static int db_has_table(const g3_snap_database *d, const char *schema, const char *table)
{
	for (size_t i = 0; i < d->n_tables; i++)
		if (!strcmp(d->tables[i].schema, schema) && !strcmp(d->tables[i].name, table))
			return 1;
	return 0;
}

static g3_rc read_chunk_header(g3_snapwalk *w, const char *member, uint64_t number, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	g3_rc rc;

	g3_chunk_header_release(&s->hdr);
	if ((rc = slurp(w, err)) ||
	    (rc = own(w, g3_chunk_header_parse(json_text(w), s->json.len, member, &s->hdr, err))))
		return rc;
	if (!db_has_table(s->db, s->hdr.schema, s->hdr.table))
		return fail(w, err, "member \"%s\" names table \"%s.%s\", which the manifest "
			    "does not list for database \"%s\"", member, s->hdr.schema,
			    s->hdr.table, s->db->name);
	if ((rc = own(w, g3_snap_parts_add(&s->parts, s->hdr.schema, s->hdr.table, s->hdr.part,
					   s->hdr.last, member, err))))
		return rc;
	snprintf(s->hdr_member, sizeof(s->hdr_member), "%s", member);
	s->hdr_number = number;
	return G3_OK;
}

static g3_rc read_chunk(g3_snapwalk *w, const char *member, uint64_t number, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	g3_snapwalk_sum *sum;
	g3_rc rc;

	if (!s->hdr_member[0] || s->hdr_number != number)
		return fail(w, err, "member \"%s\" is not preceded by its header", member);
	s->hdr_member[0] = '\0';
	/* checked against the header below: the reader need not hash it again */
	g3_reader_member_sum(w->rd, s->hdr.sha256);
	g3_chunk_check_init(&s->check);
	if (w->ops->chunk && (rc = w->ops->chunk(w->u, w, s->db, &s->hdr, member, err)))
		return rc;
	if ((rc = read_through(w, err)) ||
	    (rc = own(w, g3_chunk_check_finish(&s->check, &s->hdr, member, err))))
		return rc;
	g3_chunk_check_release(&s->check);
	sum = sum_get(&w->dbs, &w->n_dbs, s->db->name);
	sum->rows += s->hdr.rows;
	sum->bytes += s->hdr.bytes;
	sum->chunks++;
	w->chunks++;
	return w->ops->chunk_done ? w->ops->chunk_done(w->u, s->db, &s->hdr, member, err)
				  : G3_OK;
}

static g3_rc walk_pg_member(g3_snapwalk *w, g3_member_kind kind, const char *member,
			    const char *db, uint64_t number, g3_err *err)
{
	g3_rc rc;

	if ((rc = enter_db(w, db, member, err)))
		return rc;
	switch (kind) {
	case G3_MEMBER_CHUNK_HEADER:
		return read_chunk_header(w, member, number, err);
	case G3_MEMBER_CHUNK:
		return read_chunk(w, member, number, err);
	case G3_MEMBER_PRE_DATA:
	case G3_MEMBER_POST_DATA:
	case G3_MEMBER_SEQUENCES:
		return w->ops->sql ? w->ops->sql(w->u, w->st->db, kind, member, err) : G3_OK;
	default:
		return G3_OK;       /* post-data.json (post-data.sql holds the same) */
	}
}

/* ---- Elasticsearch indices ------------------------------------------------ */

static g3_rc read_es_index(g3_snapwalk *w, const char *index, const char *member, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	g3_esdef def;
	g3_rc rc;

	if (g3_snap_log_find(&s->ix_begun, index) >= 0)
		return fail(w, err, "a second \"%s\"", member);
	g3_snap_log_add(&s->ix_begun, index, 0, "");
	g3_esdef_init(&def);
	rc = slurp(w, err);
	if (!rc)
		rc = own(w, g3_es_index_member_parse(json_text(w), s->json.len, member, &def, err));
	if (!rc && w->ops->es_index)
		rc = w->ops->es_index(w->u, index, member, &def, err);
	g3_esdef_release(&def);
	return rc;
}

static g3_rc read_es_docs_header(g3_snapwalk *w, const char *index, const char *member,
				 uint64_t number, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	g3_rc rc;

	if (g3_snap_log_find(&s->ix_begun, index) < 0)
		return fail(w, err, "member \"%s\" comes before es/%s/index.json", member, index);
	if ((rc = slurp(w, err)) ||
	    (rc = own(w, g3_es_docs_header_parse(json_text(w), s->json.len, member, &s->es_hdr,
						 err))) ||
	    (rc = own(w, g3_snap_parts_add(&s->es_parts, NULL, index, s->es_hdr.part,
					   s->es_hdr.last, member, err))))
		return rc;
	if (s->es_hdr.part != number)
		return fail(w, err, "member \"%s\" holds part %llu", member,
			    (unsigned long long)s->es_hdr.part);
	snprintf(s->es_hdr_index, sizeof(s->es_hdr_index), "%s", index);
	s->es_hdr_number = number;
	return G3_OK;
}

static g3_rc read_es_docs(g3_snapwalk *w, const char *index, const char *member, uint64_t number,
			  g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	g3_snapwalk_sum *sum;
	g3_rc rc;

	if (strcmp(s->es_hdr_index, index) || s->es_hdr_number != number)
		return fail(w, err, "member \"%s\" is not preceded by its header", member);
	s->es_hdr_index[0] = '\0';
	g3_reader_member_sum(w->rd, s->es_hdr.sha256);
	g3_chunk_check_init(&s->check);
	if (w->ops->es_docs && (rc = w->ops->es_docs(w->u, w, index, &s->es_hdr, member, err)))
		return rc;
	if ((rc = read_through(w, err)) ||
	    (rc = own(w, g3_es_docs_check_finish(&s->check, &s->es_hdr, index, member, err))))
		return rc;
	g3_chunk_check_release(&s->check);
	sum = sum_get(&w->ixs, &w->n_ixs, index);
	sum->rows += s->es_hdr.docs;
	sum->bytes += s->es_hdr.bytes;
	sum->chunks++;
	w->es_chunks++;
	return w->ops->es_docs_done ? w->ops->es_docs_done(w->u, index, &s->es_hdr, err) : G3_OK;
}

static int index_wanted(g3_snapwalk *w, const char *index)
{
	return !w->ops->es_wanted || w->ops->es_wanted(w->u, index);
}

/* A fault of an index: to es_failed when given (G3_OK goes on). */
static g3_rc es_fault(g3_snapwalk *w, const char *index, g3_rc rc, g3_err *err)
{
	g3_err why;

	if (!rc || !w->ops->es_failed)
		return rc;
	why = *err;
	g3_err_init(err);
	w->st->own = 0;
	w->st->es_hdr_index[0] = '\0';
	g3_chunk_check_release(&w->st->check);
	return w->ops->es_failed(w->u, index, &why, err);
}

static g3_rc walk_es_member(g3_snapwalk *w, g3_member_kind kind, const char *member,
			    const char *index, uint64_t number, g3_err *err)
{
	g3_rc rc;

	/* after the databases: the last one ends first */
	if ((rc = end_db(w, err)))
		return rc;
	if (kind == G3_MEMBER_ES)
		return G3_OK;       /* reserved or newer es/ members */
	if (!g3_manifest_find_index(w->m, index))
		return fail(w, err, "member \"%s\" names index \"%s\", which the manifest does "
			    "not list", member, index);
	if (!index_wanted(w, index))
		return G3_OK;
	if (kind == G3_MEMBER_ES_INDEX)
		rc = read_es_index(w, index, member, err);
	else if (kind == G3_MEMBER_ES_DOCS_HEADER)
		rc = read_es_docs_header(w, index, member, number, err);
	else
		rc = read_es_docs(w, index, member, number, err);
	return es_fault(w, index, rc, err);
}

/* ---- end.json ------------------------------------------------------------- */

/* end.json's sums for a database ("row") or an index ("document") against
 * the headers' (s, NULL: none read). */
static g3_rc sums_agree(g3_snapwalk *w, const char *kind, const char *name, int64_t rows,
			int64_t bytes, int64_t chunks, const g3_snapwalk_sum *s, const char *one,
			const char *many, g3_err *err)
{
	static const g3_snapwalk_sum zero;

	s = s ? s : &zero;
	if (rows == s->rows && bytes == s->bytes && chunks == s->chunks)
		return G3_OK;
	return fail(w, err, "end.json: %s \"%s\" should hold %lld %s, %lld %s in %lld %s; the "
		    "snapshot holds %lld %s, %lld %s in %lld", kind, name, (long long)rows,
		    g3_plural(rows, one, many), (long long)bytes, g3_plural(bytes, "byte", "bytes"),
		    (long long)chunks, g3_plural(chunks, "chunk", "chunks"), (long long)s->rows,
		    g3_plural(s->rows, one, many), (long long)s->bytes,
		    g3_plural(s->bytes, "byte", "bytes"), (long long)s->chunks);
}

static g3_rc check_db_sums(g3_snapwalk *w, const g3_snap_end *e, g3_err *err)
{
	for (size_t i = 0; i < w->m->n_databases; i++)
		if (g3_snap_log_find(&w->st->dbs_seen, w->m->databases[i].name) < 0)
			return fail(w, err, "database \"%s\" has no members",
				    w->m->databases[i].name);
	for (size_t i = 0; i < e->n_databases; i++) {
		const g3_end_database *d = &e->databases[i];
		g3_rc rc = sums_agree(w, "database", d->name, d->rows, d->bytes, d->chunks,
				      sum_find(w->dbs, w->n_dbs, d->name), "row", "rows", err);

		if (rc)
			return rc;
	}
	for (size_t i = 0; i < w->m->n_databases; i++) {
		int found = 0;

		for (size_t k = 0; k < e->n_databases; k++)
			found |= !strcmp(e->databases[k].name, w->m->databases[i].name);
		if (!found)
			return fail(w, err, "end.json does not list database \"%s\"",
				    w->m->databases[i].name);
	}
	return G3_OK;
}

/* One index's parts and sums; a fault goes to es_failed when given. */
static g3_rc check_index(g3_snapwalk *w, const g3_snap_end *e, const char *index,
			 g3_err *err)
{
	const g3_end_index *x = NULL;
	g3_rc rc;

	for (size_t k = 0; k < e->n_indices; k++)
		if (!strcmp(e->indices[k].name, index))
			x = &e->indices[k];
	if ((rc = own(w, g3_snap_parts_finish(&w->st->es_parts, NULL, index, err))))
		return es_fault(w, index, rc, err);
	if (!x)
		rc = fail(w, err, "end.json does not list index \"%s\"", index);
	else
		rc = sums_agree(w, "index", x->name, x->docs, x->bytes, x->chunks,
				sum_find(w->ixs, w->n_ixs, index), "document", "documents", err);
	return es_fault(w, index, rc, err);
}

static g3_rc check_end(g3_snapwalk *w, const g3_snap_end *e, g3_err *err)
{
	g3_rc rc;

	/* 1.2: every member's size and sha256, pre-data and post-data too */
	if (w->m->format_minor >= G3_SNAP_MINOR_MEMBER_SUMS && !e->has_sums)
		return fail(w, err, "end.json has no member_sums (format 1.%d requires them)",
			    w->m->format_minor);
	if (e->has_sums && (rc = own(w, g3_snap_log_check(g3_reader_log(w->rd), &e->sums, err))))
		return rc;
	w->has_sums = e->has_sums;
	if (e->members != w->members)
		return fail(w, err, "end.json counts %llu %s but the snapshot holds %llu",
			    (unsigned long long)e->members,
			    g3_plural((long long)e->members, "member", "members"),
			    (unsigned long long)w->members);
	if ((rc = check_db_sums(w, e, err)))
		return rc;
	for (size_t i = 0; i < w->m->n_indices; i++)
		if (index_wanted(w, w->m->indices[i].name) &&
		    (rc = check_index(w, e, w->m->indices[i].name, err)))
			return rc;
	return G3_OK;
}

static g3_rc walk_end(g3_snapwalk *w, g3_err *err)
{
	g3_snap_end e;
	g3_rc rc;

	if ((rc = end_db(w, err)))
		return rc;
	g3_snap_end_init(&e);
	rc = slurp(w, err);
	if (!rc)
		rc = own(w, g3_snap_end_parse(json_text(w), w->st->json.len, &e, err));
	if (!rc)
		rc = check_end(w, &e, err);
	if (!rc && w->ops->end)
		rc = w->ops->end(w->u, &e, err);
	g3_snap_end_release(&e);
	w->seen_end = 1;
	return rc;
}

/* ---- the walk ------------------------------------------------------------- */

static g3_rc walk_member(g3_snapwalk *w, const char *name, g3_err *err)
{
	struct g3_snapwalk_state *s = w->st;
	char db[256];
	uint64_t number;
	g3_member_kind kind = g3_snap_member_kind(name, db, sizeof(db), &number);

	if (w->seen_end)
		return fail(w, err, "member \"%s\" follows end.json", name);
	if ((s->hdr_member[0] && kind != G3_MEMBER_CHUNK) ||
	    (s->es_hdr_index[0] && kind != G3_MEMBER_ES_DOCS))
		return fail(w, err, "member \"%s\" follows a chunk header without its data", name);
	if (kind == G3_MEMBER_END)
		return walk_end(w, err);
	w->members++;
	switch (kind) {
	case G3_MEMBER_MANIFEST:
		return fail(w, err, "a second manifest.json");
	case G3_MEMBER_PRE_DATA:
	case G3_MEMBER_POST_DATA:
	case G3_MEMBER_POST_DATA_JSON:
	case G3_MEMBER_SEQUENCES:
	case G3_MEMBER_CHUNK_HEADER:
	case G3_MEMBER_CHUNK:
		return walk_pg_member(w, kind, name, db, number, err);
	case G3_MEMBER_ES:
	case G3_MEMBER_ES_INDEX:
	case G3_MEMBER_ES_DOCS_HEADER:
	case G3_MEMBER_ES_DOCS:
		return walk_es_member(w, kind, name, db, number, err);
	default:
		return G3_OK;       /* a newer minor version's member */
	}
}

g3_rc g3_snapwalk_run(g3_snapwalk *w, g3_err *err)
{
	g3_rc rc = G3_OK;

	for (;;) {
		const char *name;
		int64_t size;
		int got = g3_reader_next(w->rd, &name, &size, err);

		progress(w);        /* the member before */
		if (got < 0) {
			rc = read_rc(err);
			break;
		}
		if (got == 0)
			break;
		if ((rc = walk_member(w, name, err)))
			break;
	}
	if (!rc && !w->seen_end) {
		w->truncated = 1;
		rc = fail(w, err, "snapshot \"%s\" is truncated: it ends after %llu %s without "
			  "end.json", w->label ? w->label : w->src ? w->src->name : "?",
			  (unsigned long long)w->members,
			  g3_plural((long long)w->members, "member", "members"));
		return rc;
	}
	if (rc && w->st->own && w->label)
		g3_err_prefix(err, "snapshot \"%s\"", w->label);
	return rc;
}
