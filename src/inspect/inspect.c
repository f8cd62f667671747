/*
 * gen3db inspect and gen3db verify: what a snapshot holds, and whether
 * every member is intact, without any server.
 *
 * inspect reads only as far as the manifest (the first member), so it is
 * cheap on a remote snapshot; verify reads everything once, checking each
 * chunk's rows, bytes and sha256 against its header, each table's parts,
 * every member against end.json's member_sums (1.2), and end.json against
 * the sums (docs/FORMAT.md, "How a restore must verify").
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands.h"
#include "../common/es/elasticdump.h"
#include "../common/base/log.h"
#include "../common/base/size.h"
#include "../common/base/opts.h"
#include "../common/pg/pgarchive.h"
#include "../common/base/progress.h"
#include "../common/snap/snapreader.h"
#include "../common/snap/snapshot.h"
#include "../common/io/source.h"
#include "../common/base/strbuf.h"

#define MAX_JSON_MEMBER (64u << 20) /* manifest, headers: small by design */

struct args {
	const char *snapshot;
	int json;
};

static const g3_opt inspect_rows[] = {
	G3_ROW_FLAG("json", 0, struct args, json, "json", "the manifest as JSON on stdout"),
};

static const g3_opt verify_rows[] = {
	G3_ROW_FLAG("json", 0, struct args, json, "json", "the result as JSON on stdout"),
};

const g3_cmd_spec cmd_inspect_spec =
	G3_CMD_SPEC_ROWS("inspect", inspect_rows, 'h', G3_BAD_SEE_HELP, NULL, -1,
	"usage: gen3db inspect SNAPSHOT|ARCHIVE [--json]\n"
	"\n"
	"Prints what a snapshot holds: format version, creation time, source\n"
	"versions, databases with their tables (estimated rows and sizes) and\n"
	"Elasticsearch indices. Reads only the manifest, so an index's size (in\n"
	"end.json, at the end) shows as unknown: verify reads it. SNAPSHOT is a\n"
	"file, - (standard input), an http(s):// URL or s3://bucket/key; a plain\n"
	"SQL dump is not a snapshot (exit 2), restore takes it as it is. A pg_dump\n"
	"archive (custom, directory or tar format) is described from its header:\n"
	"format and version, source and pg_dump versions, database, compression\n"
	"and the pg_restore version that reads it.\n"
	"\n",
	"\nexit codes: 0 ok, 1 could not read, 2 not a gen3db snapshot\n");

const g3_cmd_spec cmd_verify_spec =
	G3_CMD_SPEC_ROWS("verify", verify_rows, 'h', G3_BAD_SEE_HELP, NULL, -1,
	"usage: gen3db verify SNAPSHOT [--json]\n"
	"\n"
	"Reads the whole snapshot once and checks every data member's rows,\n"
	"size and sha256 against its header, each table's parts (1..n, each\n"
	"once), every member's size and sha256 against end.json (format 1.2;\n"
	"older snapshots: lists the members nothing checks), and end.json\n"
	"against the totals, without any server.\n"
	"\n",
	"\nexit codes: 0 intact, 1 damaged or truncated, 2 not a gen3db snapshot\n");

/* *done: --help was given or the options were printed; nothing else is
 * to be done. */
static int parse_args(int argc, char **argv, const g3_cmd_spec *spec, struct args *a,
		      g3_err *err, int *done)
{
	int args = 0;
	g3_rc rc;

	memset(a, 0, sizeof(*a));
	if ((rc = g3_opts_parse(spec, a, argc, argv, &args, done, err)) || *done)
		return rc;
	if (args != argc - 1)
		return g3_err_set(err, G3_USAGE, "give exactly one SNAPSHOT; see --help");
	a->snapshot = argv[args];
	return G3_OK;
}

/* The start of a failed run's --json report. */
static json_object *snapshot_report(const char *snapshot)
{
	json_object *o = json_object_new_object();

	if (snapshot)
		json_object_object_add(o, "snapshot", json_object_new_string(snapshot));
	return o;
}

/* pg_dump's archives: a directory holding toc.dat, a custom archive (the
 * stream starts with "PGDMP"), a tar whose first member is toc.dat. *found
 * 1 with h read; 0 when src is none of them (nothing consumed but peeked
 * bytes). */
static g3_rc find_archive(const char *spec, g3_source *src, g3_reader *r,
			  g3_pgarch_head *h, int *found, g3_err *err)
{
	const char *head, *name;
	size_t len;
	int64_t size;
	char why[128];
	g3_rc rc;

	*found = 0;
	if (!src) {
		*found = 1;
		return g3_pgarch_dir_head(spec, h, err);
	}
	if (g3_reader_kind(r) == G3_READER_ARCHIVE && strcmp(g3_reader_member(r), "toc.dat"))
		return G3_OK;
	if (g3_reader_next(r, &name, &size, err) < 0)
		return err->rc ? err->rc : G3_FAIL;
	if ((rc = g3_reader_peek(r, G3_PGARCH_HEAD_BYTES, &head, &len, err)))
		return rc;
	switch (g3_pgarch_head_parse(head, len, h, why, sizeof(why))) {
	case 0:
		if (g3_reader_kind(r) == G3_READER_ARCHIVE)
			return g3_err_set(err, G3_USAGE, "\"%s\" is not a gen3db snapshot nor a "
					  "pg_dump tar archive: its toc.dat does not start with "
					  "\"PGDMP\"", src->name);
		return G3_OK;
	case 1:
		*found = 1;
		if (g3_reader_kind(r) == G3_READER_ARCHIVE)
			h->format = G3_PGARCH_TAR;
		return G3_OK;
	default:
		return g3_err_set(err, G3_USAGE, "\"%s\" is a damaged pg_dump archive: %s",
				  src->name, why);
	}
}

static void print_archive(const g3_pgarch_head *h, int json)
{
	char what[256], comp[64];

	g3_pgarch_describe(h, what, sizeof(what));
	g3_pgarch_compression(h, comp, sizeof(comp));
	if (json) {
		json_object *o = json_object_new_object();
		char v[32];

		snprintf(v, sizeof(v), "%d.%d", h->vmaj, h->vmin);
		json_object_object_add(o, "format", json_object_new_string("pg_dump"));
		json_object_object_add(o, "archive_format", json_object_new_string(
			g3_pgarch_format_name(h->format)));
		json_object_object_add(o, "archive_version", json_object_new_string(v));
		json_object_object_add(o, "database", json_object_new_string(h->database));
		json_object_object_add(o, "created", json_object_new_string(h->created));
		json_object_object_add(o, "server_version", json_object_new_string(h->server_version));
		json_object_object_add(o, "pg_dump_version",
				       json_object_new_string(h->pg_dump_version));
		json_object_object_add(o, "compression", json_object_new_string(comp));
		json_object_object_add(o, "pg_restore_needed",
				       json_object_new_int(g3_pgarch_restore_major(h)));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		return;
	}
	printf("format:   %s\n", what);
	printf("created:  %s\n", h->created[0] ? h->created : "?");
	if (h->server_version[0])
		printf("source:   PostgreSQL %s\n", h->server_version);
	if (h->pg_dump_version[0])
		printf("written by: pg_dump %s\n", h->pg_dump_version);
	printf("database: %s\n", h->database);
	printf("compression: %s\n", comp);
	printf("read by:  pg_restore %d or newer (gen3db restore runs it)\n",
	       g3_pgarch_restore_major(h));
}

/* Opens src and reads its manifest (first member); a pg_dump archive
 * instead: *is_arch 1 and its header in h. */
static g3_rc open_snapshot(const char *spec, g3_source **src, g3_reader **r,
			   g3_manifest *m, g3_pgarch_head *h, int *is_arch, g3_err *err)
{
	const char *name = NULL;
	int64_t size;
	g3_buf json = G3_BUF_INIT;
	g3_rc rc;
	int got;

	*is_arch = 0;
	if (g3_pgarch_is_dir(spec))
		return find_archive(spec, NULL, NULL, h, is_arch, err);
	if ((rc = g3_source_open(spec, src, err)))
		return rc;
	if ((rc = g3_reader_open(*src, r, err)))
		return rc;
	if ((rc = find_archive(spec, *src, *r, h, is_arch, err)) || *is_arch)
		return rc;
	if (g3_reader_kind(*r) != G3_READER_ARCHIVE) {
		const char *filter = g3_reader_filter(*r);

		if (!strcmp(filter, "none"))
			rc = g3_err_set(err, G3_USAGE, "\"%s\" is not a gen3db snapshot: it is a "
					"plain file, not compressed and not a tar archive", (*src)->name);
		else
			rc = g3_err_set(err, G3_USAGE, "\"%s\" is not a gen3db snapshot: it is one "
					"%s-compressed file, not a tar archive", (*src)->name, filter);
		g3_err_hint(err, "a plain SQL dump is restored as it is: gen3db restore FILE "
			    "--database NAME");
		return rc;
	}
	got = g3_reader_next(*r, &name, &size, err);
	if (got < 0)
		return err->rc ? err->rc : G3_FAIL;
	if (got == 0 || strcmp(name, G3_SNAP_MANIFEST))
		return g3_err_set(err, G3_USAGE,
				  "\"%s\" is not a gen3db snapshot: its first member is %s%s%s, not \"%s\"",
				  (*src)->name, got ? "\"" : "", got ? name : "nothing",
				  got ? "\"" : "", G3_SNAP_MANIFEST);
	rc = g3_reader_slurp(*r, MAX_JSON_MEMBER, &json, err);
	if (!rc)
		rc = g3_manifest_parse(json.data, json.len, m, err);
	g3_buf_release(&json);
	return rc;
}

static void human_size(int64_t bytes, char *buf, size_t len)
{
	if (bytes < 0)
		snprintf(buf, len, "?");
	else
		g3_format_bytes(buf, len, bytes);
}

static void print_manifest(const g3_manifest *m)
{
	printf("format:   gen3db-snapshot %d.%d\n", m->format_version, m->format_minor);
	if (m->format_minor >= G3_SNAP_MINOR_MEMBER_SUMS)
		printf("checksums: every member (end.json's member_sums)\n");
	else
		printf("checksums: data chunks only; manifest, pre-data, post-data, sequences "
		       "and index definitions are unchecked (format 1.%d)\n", m->format_minor);
	printf("created:  %s by gen3db %s\n", m->created ? m->created : "?",
	       m->gen3db_version ? m->gen3db_version : "?");
	if (m->server_version)
		printf("source:   PostgreSQL %s\n", m->server_version);
	for (size_t i = 0; i < m->n_databases; i++) {
		const g3_snap_database *d = &m->databases[i];
		int64_t rows = 0, bytes = 0;
		char sz[32];

		for (size_t t = 0; t < d->n_tables; t++) {
			rows += d->tables[t].est_rows > 0 ? d->tables[t].est_rows : 0;
			bytes += d->tables[t].est_bytes > 0 ? d->tables[t].est_bytes : 0;
		}
		human_size(bytes, sz, sizeof(sz));
		printf("database: %s (%zu %s, ~%lld %s, ~%s)\n", d->name, d->n_tables,
		       g3_plural((long long)d->n_tables, "table", "tables"), (long long)rows,
		       g3_plural(rows, "row", "rows"), sz);
		for (size_t t = 0; t < d->n_tables; t++) {
			const g3_snap_table *tb = &d->tables[t];

			human_size(tb->est_bytes, sz, sizeof(sz));
			if (tb->est_rows >= 0)
				printf("  %s.%s: ~%lld %s, ~%s, %zu %s\n", tb->schema, tb->name,
				       (long long)tb->est_rows, g3_plural(tb->est_rows, "row", "rows"),
				       sz, tb->n_columns,
				       g3_plural((long long)tb->n_columns, "column", "columns"));
			else
				printf("  %s.%s: rows not estimated (never analysed), ~%s, %zu %s\n",
				       tb->schema, tb->name, sz, tb->n_columns,
				       g3_plural((long long)tb->n_columns, "column", "columns"));
		}
	}
	for (size_t i = 0; i < m->n_indices; i++) {
		const g3_snap_index *x = &m->indices[i];
		char sz[64];

		/* dump writes the manifest first, before it has read the documents:
		 * their size is in end.json, which only a full read reaches */
		if (x->bytes >= 0)
			human_size(x->bytes, sz, sizeof(sz));
		else
			snprintf(sz, sizeof(sz), "size unknown until the end: see gen3db verify");
		printf("index:    %s (%lld %s, %s", x->name, (long long)x->docs,
		       g3_plural(x->docs, "document", "documents"), sz);
		if (x->concrete)
			printf(", from \"%s\"", x->concrete);
		if (x->source_distribution)
			printf(", %s %s", x->source_distribution,
			       x->source_version ? x->source_version : "?");
		printf(")\n");
	}
}

int cmd_inspect(int argc, char **argv)
{
	struct args a;
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_manifest m;
	g3_pgarch_head h;
	g3_err err;
	g3_rc rc;
	int done, is_arch = 0;

	g3_err_init(&err);
	g3_manifest_init(&m);
	if ((rc = parse_args(argc, argv, &cmd_inspect_spec, &a, &err, &done)) || done)
		goto cleanup;
	if ((rc = open_snapshot(a.snapshot, &src, &r, &m, &h, &is_arch, &err)))
		goto cleanup;
	if (is_arch) {
		print_archive(&h, a.json);
	} else if (a.json) {
		g3_buf out = G3_BUF_INIT;

		g3_manifest_to_json(&m, &out);
		fwrite(out.data, 1, out.len, stdout);
		putchar('\n');
		g3_buf_release(&out);
	} else {
		print_manifest(&m);
	}
cleanup:
	if (rc)
		g3_log_err(&err);
	if (rc && a.json)
		g3_err_print_json(snapshot_report(a.snapshot), rc, &err);
	g3_reader_close(r);
	g3_source_close(src);
	g3_manifest_release(&m);
	return g3_exit_code(rc);
}

/* Per-database sums of what the chunk headers promised and the data held. */
struct db_sum {
	char name[256];
	int64_t rows, bytes, chunks;
};

static struct db_sum *db_sum_get(struct db_sum **sums, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*sums)[i].name, name))
			return &(*sums)[i];
	*sums = g3_xrealloc(*sums, (*n + 1) * sizeof(**sums));
	memset(&(*sums)[*n], 0, sizeof(**sums));
	snprintf((*sums)[*n].name, sizeof((*sums)[*n].name), "%s", name);
	return &(*sums)[(*n)++];
}

static int manifest_has_table(const g3_manifest *m, const char *db, const char *schema,
			      const char *table)
{
	const g3_snap_database *d = g3_manifest_find_database(m, db);

	for (size_t i = 0; d && i < d->n_tables; i++)
		if (!strcmp(d->tables[i].schema, schema) && !strcmp(d->tables[i].name, table))
			return 1;
	return 0;
}

static g3_rc check_end_indices(const g3_snap_end *e, const struct db_sum *sums, size_t n,
				g3_err *err)
{
	for (size_t i = 0; i < e->n_indices; i++) {
		const g3_end_index *x = &e->indices[i];
		struct db_sum zero = { "", 0, 0, 0 };
		const struct db_sum *s = &zero;

		for (size_t k = 0; k < n; k++)
			if (!strcmp(sums[k].name, x->name))
				s = &sums[k];
		if (x->docs != s->rows || x->bytes != s->bytes || x->chunks != s->chunks)
			return g3_err_set(err, G3_FAIL,
					  "end.json: index \"%s\" should hold %lld %s, %lld %s "
					  "in %lld %s; the snapshot holds %lld %s, %lld %s in %lld",
					  x->name, (long long)x->docs, g3_plural(x->docs, "document", "documents"),
					  (long long)x->bytes, g3_plural(x->bytes, "byte", "bytes"),
					  (long long)x->chunks, g3_plural(x->chunks, "chunk", "chunks"),
					  (long long)s->rows, g3_plural(s->rows, "document", "documents"),
					  (long long)s->bytes, g3_plural(s->bytes, "byte", "bytes"),
					  (long long)s->chunks);
	}
	for (size_t k = 0; k < n; k++) {
		int found = 0;

		for (size_t i = 0; i < e->n_indices; i++)
			found |= !strcmp(e->indices[i].name, sums[k].name);
		if (!found)
			return g3_err_set(err, G3_FAIL, "end.json does not list index \"%s\"",
					  sums[k].name);
	}
	return G3_OK;
}

static g3_rc check_end(const g3_snap_end *e, uint64_t members, const struct db_sum *sums,
		       size_t n, g3_err *err)
{
	if (e->members != members)
		return g3_err_set(err, G3_FAIL,
				  "end.json counts %llu %s but the snapshot holds %llu",
				  (unsigned long long)e->members,
				  g3_plural((long long)e->members, "member", "members"),
				  (unsigned long long)members);
	for (size_t i = 0; i < e->n_databases; i++) {
		const g3_end_database *d = &e->databases[i];
		struct db_sum zero = { "", 0, 0, 0 };
		const struct db_sum *s = &zero;

		for (size_t k = 0; k < n; k++)
			if (!strcmp(sums[k].name, d->name))
				s = &sums[k];
		if (d->rows != s->rows || d->bytes != s->bytes || d->chunks != s->chunks)
			return g3_err_set(err, G3_FAIL,
					  "end.json: database \"%s\" should hold %lld %s, %lld %s "
					  "in %lld %s; the snapshot holds %lld %s, %lld %s in %lld",
					  d->name, (long long)d->rows, g3_plural(d->rows, "row", "rows"),
					  (long long)d->bytes, g3_plural(d->bytes, "byte", "bytes"),
					  (long long)d->chunks, g3_plural(d->chunks, "chunk", "chunks"),
					  (long long)s->rows, g3_plural(s->rows, "row", "rows"),
					  (long long)s->bytes, g3_plural(s->bytes, "byte", "bytes"),
					  (long long)s->chunks);
	}
	return G3_OK;
}

/* Reads a small JSON member (a header, the manifest, end.json) into json,
 * replacing what it held. */
static g3_rc slurp_json(g3_reader *r, g3_buf *json, g3_err *err)
{
	g3_buf_reset(json);
	return g3_reader_slurp(r, MAX_JSON_MEMBER, json, err);
}

/* An es/ member must name an index the manifest lists. */
static g3_rc index_listed(const g3_manifest *m, const char *member, const char *index,
			  g3_err *err)
{
	if (g3_manifest_find_index(m, index))
		return G3_OK;
	return g3_err_set(err, G3_FAIL, "member \"%s\" names index \"%s\", which the "
			  "manifest does not list", member, index);
}

/* Streams the current member through a chunk check. */
static g3_rc stream_into(g3_reader *r, char *buf, g3_chunk_check *check, g3_err *err)
{
	ssize_t n;

	while ((n = g3_reader_read(r, buf, 1 << 20, err)) > 0)
		g3_chunk_check_update(check, buf, (size_t)n);
	return n < 0 ? (err->rc ? err->rc : G3_FAIL) : G3_OK;
}

/* Every table of database db ended with its last part. */
static g3_rc finish_parts(const g3_manifest *m, const char *db, const g3_snap_parts *parts,
			  g3_err *err)
{
	const g3_snap_database *d = g3_manifest_find_database(m, db);
	g3_rc rc;

	for (size_t i = 0; d && i < d->n_tables; i++)
		if ((rc = g3_snap_parts_finish(parts, d->tables[i].schema, d->tables[i].name, err))) {
			g3_err_prefix(err, "database \"%s\"", db);
			return rc;
		}
	return G3_OK;
}

/* 1.0 and 1.1 carry checksums for the data only: the members they leave
 * unchecked, for the report. */
static int member_unchecked(const char *name)
{
	switch (g3_snap_member_kind(name, NULL, 0, NULL)) {
	case G3_MEMBER_CHUNK:
	case G3_MEMBER_CHUNK_HEADER:
	case G3_MEMBER_ES_DOCS:
	case G3_MEMBER_ES_DOCS_HEADER:
	case G3_MEMBER_END:
		return 0;
	default:
		return 1;
	}
}

int cmd_verify(int argc, char **argv)
{
	struct args a;
	g3_source *src = NULL;
	g3_reader *r = NULL;
	g3_manifest m;
	g3_chunk_header hdr;
	g3_snap_end end;
	g3_buf json = G3_BUF_INIT;
	struct db_sum *sums = NULL, *es_sums = NULL;
	size_t n_sums = 0, n_es_sums = 0;
	g3_es_docs_header es_hdr;
	char es_hdr_index[256] = "";
	uint64_t es_hdr_number = 0, es_chunks = 0;
	int have_es_hdr = 0;
	char hdr_db[256] = "";
	uint64_t hdr_number = 0, members = 1, chunks = 0;
	int have_hdr = 0, seen_end = 0, sums_checked = 0;
	g3_snap_parts parts, es_parts;
	g3_snap_log dbs_done;       /* databases whose parts were all seen */
	const g3_snap_log *log;
	char parts_db[256] = "";
	char *buf = NULL;
	g3_pgarch_head h;
	g3_err err;
	g3_rc rc;
	int done, is_arch = 0;

	g3_err_init(&err);
	g3_manifest_init(&m);
	g3_chunk_header_init(&hdr);
	g3_snap_end_init(&end);
	memset(&es_hdr, 0, sizeof(es_hdr));
	g3_snap_parts_init(&parts);
	g3_snap_parts_init(&es_parts);
	g3_snap_log_init(&dbs_done);
	if ((rc = parse_args(argc, argv, &cmd_verify_spec, &a, &err, &done)) || done)
		goto cleanup;
	if ((rc = open_snapshot(a.snapshot, &src, &r, &m, &h, &is_arch, &err)))
		goto cleanup;
	if (is_arch) {
		char what[256];

		g3_pgarch_describe(&h, what, sizeof(what));
		rc = g3_err_set(&err, G3_USAGE, "\"%s\" is not a gen3db snapshot: it is a %s",
				a.snapshot, what);
		g3_err_hint(&err, "gen3db inspect shows its header; gen3db restore reads it "
			    "through pg_restore");
		goto cleanup;
	}
	buf = g3_xmalloc(1 << 20);
	g3_progress_init(src->size);
	for (;;) {
		const char *name = NULL;
		int64_t size;
		char db[256];
		uint64_t number = 0;
		int got;

		g3_source_report_progress(src);   /* the member before */
		got = g3_reader_next(r, &name, &size, &err);

		if (got < 0) {
			rc = err.rc ? err.rc : G3_FAIL;
			goto cleanup;
		}
		if (got == 0)
			break;
		if (seen_end) {
			rc = g3_err_set(&err, G3_FAIL, "member \"%s\" follows end.json", name);
			goto cleanup;
		}
		switch (g3_snap_member_kind(name, db, sizeof(db), &number)) {
		case G3_MEMBER_CHUNK_HEADER:
			g3_chunk_header_release(&hdr);
			g3_chunk_header_init(&hdr);
			if ((rc = slurp_json(r, &json, &err)) ||
			    (rc = g3_chunk_header_parse(json.data, json.len, name, &hdr, &err)))
				goto cleanup;
			if (!manifest_has_table(&m, db, hdr.schema, hdr.table)) {
				rc = g3_err_set(&err, G3_FAIL,
						"member \"%s\" names table \"%s.%s\", which the manifest "
						"does not list for database \"%s\"",
						name, hdr.schema, hdr.table, db);
				goto cleanup;
			}
			if (strcmp(parts_db, db)) {
				/* the next database: the last one's tables must be complete */
				if (parts_db[0] && (rc = finish_parts(&m, parts_db, &parts, &err)))
					goto cleanup;
				if (parts_db[0])
					g3_snap_log_add(&dbs_done, parts_db, 0, "");
				g3_snap_parts_release(&parts);
				snprintf(parts_db, sizeof(parts_db), "%s", db);
			}
			if ((rc = g3_snap_parts_add(&parts, hdr.schema, hdr.table, hdr.part,
						    hdr.last, name, &err)))
				goto cleanup;
			snprintf(hdr_db, sizeof(hdr_db), "%s", db);
			hdr_number = number;
			have_hdr = 1;
			break;
		case G3_MEMBER_CHUNK: {
			g3_chunk_check check;
			struct db_sum *s;

			if (!have_hdr || hdr_number != number || strcmp(hdr_db, db)) {
				rc = g3_err_set(&err, G3_FAIL,
						"member \"%s\" is not preceded by its header", name);
				goto cleanup;
			}
			g3_chunk_check_init(&check);
			g3_reader_member_sum(r, hdr.sha256);
			if ((rc = stream_into(r, buf, &check, &err))) {
				g3_chunk_check_release(&check);
				goto cleanup;
			}
			rc = g3_chunk_check_finish(&check, &hdr, name, &err);
			g3_chunk_check_release(&check);
			if (rc)
				goto cleanup;
			s = db_sum_get(&sums, &n_sums, db);
			s->rows += hdr.rows;
			s->bytes += hdr.bytes;
			s->chunks++;
			chunks++;
			have_hdr = 0;
			break;
		}
		case G3_MEMBER_ES_INDEX: {
			g3_esdef def;

			if ((rc = index_listed(&m, name, db, &err)))
				goto cleanup;
			g3_esdef_init(&def);
			if (!(rc = slurp_json(r, &json, &err)))
				rc = g3_es_index_member_parse(json.data, json.len, name, &def, &err);
			g3_esdef_release(&def);
			if (rc)
				goto cleanup;
			break;
		}
		case G3_MEMBER_ES_DOCS_HEADER:
			if ((rc = index_listed(&m, name, db, &err)))
				goto cleanup;
			if ((rc = slurp_json(r, &json, &err)) ||
			    (rc = g3_es_docs_header_parse(json.data, json.len, name, &es_hdr, &err)))
				goto cleanup;
			if ((rc = g3_snap_parts_add(&es_parts, NULL, db, es_hdr.part, es_hdr.last,
						    name, &err)))
				goto cleanup;
			snprintf(es_hdr_index, sizeof(es_hdr_index), "%s", db);
			es_hdr_number = number;
			have_es_hdr = 1;
			break;
		case G3_MEMBER_ES_DOCS: {
			g3_chunk_check check;
			struct db_sum *s;

			if (!have_es_hdr || es_hdr_number != number || strcmp(es_hdr_index, db)) {
				rc = g3_err_set(&err, G3_FAIL,
						"member \"%s\" is not preceded by its header", name);
				goto cleanup;
			}
			g3_chunk_check_init(&check);
			g3_reader_member_sum(r, es_hdr.sha256);
			if ((rc = stream_into(r, buf, &check, &err))) {
				g3_chunk_check_release(&check);
				goto cleanup;
			}
			rc = g3_es_docs_check_finish(&check, &es_hdr, db, name, &err);
			g3_chunk_check_release(&check);
			if (rc)
				goto cleanup;
			s = db_sum_get(&es_sums, &n_es_sums, db);
			s->rows += es_hdr.docs;
			s->bytes += es_hdr.bytes;
			s->chunks++;
			es_chunks++;
			have_es_hdr = 0;
			break;
		}
		case G3_MEMBER_END:
			if ((rc = slurp_json(r, &json, &err)) ||
			    (rc = g3_snap_end_parse(json.data, json.len, &end, &err)))
				goto cleanup;
			if (m.format_minor >= G3_SNAP_MINOR_MEMBER_SUMS && !end.has_sums) {
				rc = g3_err_set(&err, G3_FAIL, "end.json has no member_sums (format "
						"1.%d requires them)", m.format_minor);
				goto cleanup;
			}
			if (end.has_sums &&
			    (rc = g3_snap_log_check(g3_reader_log(r), &end.sums, &err)))
				goto cleanup;
			sums_checked = end.has_sums;
			/* every table and index ended with its last part */
			if (parts_db[0] && (rc = finish_parts(&m, parts_db, &parts, &err)))
				goto cleanup;
			for (size_t i = 0; i < m.n_databases; i++) {
				g3_snap_parts none;

				if (g3_snap_log_find(&dbs_done, m.databases[i].name) >= 0 ||
				    !strcmp(parts_db, m.databases[i].name))
					continue;
				g3_snap_parts_init(&none);
				if ((rc = finish_parts(&m, m.databases[i].name, &none, &err)))
					goto cleanup;
			}
			for (size_t i = 0; i < m.n_indices; i++)
				if ((rc = g3_snap_parts_finish(&es_parts, NULL, m.indices[i].name, &err)))
					goto cleanup;
			if ((rc = check_end(&end, members, sums, n_sums, &err)) ||
			    (rc = check_end_indices(&end, es_sums, n_es_sums, &err)))
				goto cleanup;
			seen_end = 1;
			break;
		default:
			/* pre/post-data, sequences, es/ and newer members: read
			 * through, so a damaged stream still shows */
			while (g3_reader_read(r, buf, 1 << 20, &err) > 0)
				;
			if (err.msg[0]) {
				rc = err.rc ? err.rc : G3_FAIL;
				goto cleanup;
			}
			break;
		}
		if (!seen_end)
			members++;
	}
	g3_source_report_progress(src);
	g3_progress_finish();
	if (!seen_end) {
		rc = g3_err_set(&err, G3_FAIL,
				"snapshot \"%s\" is truncated: it ends after %llu %s without end.json",
				src->name, (unsigned long long)members,
				g3_plural((long long)members, "member", "members"));
		goto cleanup;
	}
	log = g3_reader_log(r);
	if (a.json) {
		printf("{\"snapshot\":\"ok\",\"members\":%llu,\"chunks\":%llu,\"databases\":[",
		       (unsigned long long)members + 1, (unsigned long long)chunks);
		for (size_t i = 0; i < n_sums; i++) {
			json_object *o = json_object_new_string(sums[i].name);

			printf("%s{\"name\":%s,\"rows\":%lld,\"bytes\":%lld,\"chunks\":%lld}",
			       i ? "," : "", json_object_to_json_string(o), (long long)sums[i].rows,
			       (long long)sums[i].bytes, (long long)sums[i].chunks);
			json_object_put(o);
		}
		printf("],\"documents_chunks\":%llu,\"indices\":[", (unsigned long long)es_chunks);
		for (size_t i = 0; i < n_es_sums; i++) {
			json_object *o = json_object_new_string(es_sums[i].name);

			printf("%s{\"name\":%s,\"docs\":%lld,\"bytes\":%lld,\"chunks\":%lld}",
			       i ? "," : "", json_object_to_json_string(o), (long long)es_sums[i].rows,
			       (long long)es_sums[i].bytes, (long long)es_sums[i].chunks);
			json_object_put(o);
		}
		printf("],\"member_sums\":%s,\"unchecked\":[", sums_checked ? "true" : "false");
		for (size_t i = 0, k = 0; !sums_checked && i < log->n; i++) {
			json_object *o;

			if (!member_unchecked(log->v[i].name))
				continue;
			o = json_object_new_string(log->v[i].name);
			printf("%s%s", k++ ? "," : "",
			       json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		}
		printf("]}\n");
	} else {
		printf("snapshot %s is intact: %llu %s, %llu data %s verified\n",
		       src->name, (unsigned long long)members + 1,
		       g3_plural((long long)members + 1, "member", "members"),
		       (unsigned long long)(chunks + es_chunks),
		       g3_plural((long long)(chunks + es_chunks), "chunk", "chunks"));
		for (size_t i = 0; i < n_sums; i++)
			printf("  %s: %lld %s, %lld %s in %lld %s\n", sums[i].name,
			       (long long)sums[i].rows, g3_plural(sums[i].rows, "row", "rows"),
			       (long long)sums[i].bytes, g3_plural(sums[i].bytes, "byte", "bytes"),
			       (long long)sums[i].chunks, g3_plural(sums[i].chunks, "chunk", "chunks"));
		for (size_t i = 0; i < n_es_sums; i++)
			printf("  index %s: %lld %s, %lld %s in %lld %s\n", es_sums[i].name,
			       (long long)es_sums[i].rows,
			       g3_plural(es_sums[i].rows, "document", "documents"),
			       (long long)es_sums[i].bytes, g3_plural(es_sums[i].bytes, "byte", "bytes"),
			       (long long)es_sums[i].chunks,
			       g3_plural(es_sums[i].chunks, "chunk", "chunks"));
		if (sums_checked) {
			printf("  every member checked against end.json's member_sums\n");
		} else {
			printf("  unchecked (format 1.%d has no checksum for them):", m.format_minor);
			for (size_t i = 0; i < log->n; i++)
				if (member_unchecked(log->v[i].name))
					printf(" %s", log->v[i].name);
			printf("\n");
		}
	}
cleanup:
	g3_progress_finish();
	if (rc)
		g3_log_err(&err);
	if (rc && a.json) {
		/* what was verified before the failure */
		json_object *rep = snapshot_report(a.snapshot);

		json_object_object_add(rep, "members_read", json_object_new_int64((int64_t)members));
		json_object_object_add(rep, "chunks_verified",
				       json_object_new_int64((int64_t)(chunks + es_chunks)));
		g3_err_print_json(rep, rc, &err);
	}
	free(buf);
	free(sums);
	free(es_sums);
	g3_buf_release(&json);
	g3_chunk_header_release(&hdr);
	g3_snap_end_release(&end);
	g3_snap_parts_release(&parts);
	g3_snap_parts_release(&es_parts);
	g3_snap_log_release(&dbs_done);
	g3_reader_close(r);
	g3_source_close(src);
	g3_manifest_release(&m);
	return g3_exit_code(rc);
}
