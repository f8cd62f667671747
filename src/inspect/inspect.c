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
#include "../common/base/log.h"
#include "../common/base/size.h"
#include "../common/base/opts.h"
#include "../common/pg/pgarchive.h"
#include "../common/base/progress.h"
#include "../common/snap/snapreader.h"
#include "../common/snap/snapshot.h"
#include "../common/snap/walk.h"
#include "../common/io/source.h"
#include "../common/base/strbuf.h"

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

/* What inspect and verify open: a snapshot's source, reader and manifest,
 * or a pg_dump archive's header. */
struct opened {
	g3_source *src;
	g3_reader *r;
	g3_manifest m;
	g3_pgarch_head h;
	int is_arch;
};

static void opened_release(struct opened *o)
{
	g3_reader_close(o->r);
	g3_source_close(o->src);
	g3_manifest_release(&o->m);
}

/* Opens src and reads its manifest (first member); a pg_dump archive
 * instead: *is_arch 1 and its header in h. */
static g3_rc open_snapshot(const char *spec, g3_source **src, g3_reader **r,
			   g3_manifest *m, g3_pgarch_head *h, int *is_arch, g3_err *err)
{
	g3_rc rc;

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
	return g3_snap_read_manifest(*r, (*src)->name, m, err);
}

/* The options, then the snapshot opened (inspect and verify alike); *done:
 * nothing else is to be done (--help). */
static g3_rc begin(int argc, char **argv, const g3_cmd_spec *spec, struct args *a,
		   struct opened *o, g3_err *err, int *done)
{
	g3_rc rc;

	memset(o, 0, sizeof(*o));
	g3_manifest_init(&o->m);
	if ((rc = parse_args(argc, argv, spec, a, err, done)) || *done)
		return rc;
	return open_snapshot(a->snapshot, &o->src, &o->r, &o->m, &o->h, &o->is_arch, err);
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
	struct opened o;
	g3_err err;
	g3_rc rc;
	int done;

	g3_err_init(&err);
	if ((rc = begin(argc, argv, &cmd_inspect_spec, &a, &o, &err, &done)) || done)
		goto cleanup;
	if (o.is_arch) {
		print_archive(&o.h, a.json);
	} else if (a.json) {
		g3_buf out = G3_BUF_INIT;

		g3_manifest_to_json(&o.m, &out);
		fwrite(out.data, 1, out.len, stdout);
		putchar('\n');
		g3_buf_release(&out);
	} else {
		print_manifest(&o.m);
	}
cleanup:
	if (rc)
		g3_log_err(&err);
	if (rc && a.json)
		g3_err_print_json(snapshot_report(a.snapshot), rc, &err);
	opened_release(&o);
	return g3_exit_code(rc);
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

/* Sums per database or index: text lines, or a JSON array (count names
 * the rows field: "rows" or "docs"). */
static void print_sums(const g3_snapwalk_sum *v, size_t n, const char *prefix,
		       const char *one, const char *many)
{
	for (size_t i = 0; i < n; i++)
		printf("  %s%s: %lld %s, %lld %s in %lld %s\n", prefix, v[i].name,
		       (long long)v[i].rows, g3_plural(v[i].rows, one, many),
		       (long long)v[i].bytes, g3_plural(v[i].bytes, "byte", "bytes"),
		       (long long)v[i].chunks, g3_plural(v[i].chunks, "chunk", "chunks"));
}

static void print_sums_json(const g3_snapwalk_sum *v, size_t n, const char *count)
{
	putchar('[');
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_string(v[i].name);

		printf("%s{\"name\":%s,\"%s\":%lld,\"bytes\":%lld,\"chunks\":%lld}",
		       i ? "," : "", json_object_to_json_string(o), count, (long long)v[i].rows,
		       (long long)v[i].bytes, (long long)v[i].chunks);
		json_object_put(o);
	}
	putchar(']');
}

/* What an intact snapshot held, on stdout. */
static void print_verified(const g3_snapwalk *w, const g3_manifest *m, const char *source,
			   int json)
{
	const g3_snap_log *log = g3_reader_log(w->rd);
	unsigned long long members = (unsigned long long)w->members + 1;   /* end.json */
	unsigned long long chunks = (unsigned long long)(w->chunks + w->es_chunks);

	if (json) {
		printf("{\"snapshot\":\"ok\",\"members\":%llu,\"chunks\":%llu,\"databases\":",
		       members, (unsigned long long)w->chunks);
		print_sums_json(w->dbs, w->n_dbs, "rows");
		printf(",\"documents_chunks\":%llu,\"indices\":", (unsigned long long)w->es_chunks);
		print_sums_json(w->ixs, w->n_ixs, "docs");
		printf(",\"member_sums\":%s,\"unchecked\":[", w->has_sums ? "true" : "false");
		for (size_t i = 0, k = 0; !w->has_sums && i < log->n; i++) {
			json_object *o;

			if (!member_unchecked(log->v[i].name))
				continue;
			o = json_object_new_string(log->v[i].name);
			printf("%s%s", k++ ? "," : "",
			       json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		}
		printf("]}\n");
		return;
	}
	printf("snapshot %s is intact: %llu %s, %llu data %s verified\n", source, members,
	       g3_plural((long long)members, "member", "members"), chunks,
	       g3_plural((long long)chunks, "chunk", "chunks"));
	print_sums(w->dbs, w->n_dbs, "", "row", "rows");
	print_sums(w->ixs, w->n_ixs, "index ", "document", "documents");
	if (w->has_sums) {
		printf("  every member checked against end.json's member_sums\n");
		return;
	}
	printf("  unchecked (format 1.%d has no checksum for them):", m->format_minor);
	for (size_t i = 0; i < log->n; i++)
		if (member_unchecked(log->v[i].name))
			printf(" %s", log->v[i].name);
	printf("\n");
}

int cmd_verify(int argc, char **argv)
{
	struct args a;
	struct opened o;
	g3_snapwalk w;
	g3_err err;
	g3_rc rc;
	int done;

	g3_err_init(&err);
	/* members_read counts the manifest from the start */
	g3_snapwalk_init(&w, NULL, NULL, NULL, NULL, NULL);
	if ((rc = begin(argc, argv, &cmd_verify_spec, &a, &o, &err, &done)) || done)
		goto cleanup;
	if (o.is_arch) {
		char what[256];

		g3_pgarch_describe(&o.h, what, sizeof(what));
		rc = g3_err_set(&err, G3_USAGE, "\"%s\" is not a gen3db snapshot: it is a %s",
				a.snapshot, what);
		g3_err_hint(&err, "gen3db inspect shows its header; gen3db restore reads it "
			    "through pg_restore");
		goto cleanup;
	}
	/* every check is the walk's: verify only reports */
	w.rd = o.r;
	w.src = o.src;
	w.m = &o.m;
	g3_progress_init(o.src->size);
	rc = g3_snapwalk_run(&w, &err);
	g3_progress_finish();
	if (!rc)
		print_verified(&w, &o.m, o.src->name, a.json);
cleanup:
	g3_progress_finish();
	if (rc)
		g3_log_err(&err);
	if (rc && a.json) {
		/* what was verified before the failure */
		json_object *rep = snapshot_report(a.snapshot);

		json_object_object_add(rep, "members_read",
				       json_object_new_int64((int64_t)w.members));
		json_object_object_add(rep, "chunks_verified",
				       json_object_new_int64((int64_t)(w.chunks + w.es_chunks)));
		g3_err_print_json(rep, rc, &err);
	}
	g3_snapwalk_release(&w);
	opened_release(&o);
	return g3_exit_code(rc);
}
