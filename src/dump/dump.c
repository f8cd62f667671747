/*
 * gen3db dump: a consistent snapshot of live PostgreSQL databases and
 * Elasticsearch indices into one gen3db snapshot (docs/FORMAT.md); or,
 * with --output DIR and only --es, elasticdump files (as dump-es).
 *
 * The command: options in, then per database its catalog in an exported
 * snapshot (pgcatalog.h), pg_dump's schema sections in that snapshot
 * (pgdump.h, each by a thread of its own beside the data), the table data
 * by COPY workers joining it (pgcopyout.h);
 * the indices after the databases (snapesdump.h). This thread alone owns the
 * snapshot writer. Memory is bounded by the COPY pool, (jobs + 1) chunks,
 * one documents chunk, plus zstd's window. A failure anywhere stops the
 * workers and aborts the sink, so no partial output is left.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../commands.h"
#include "../common/base/clock.h"
#include "../common/base/interrupt.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/pg/pg.h"
#include "../common/pg/pgcatalog.h"
#include "../common/pg/pgcopyout.h"
#include "../common/pg/pgdump.h"
#include "../common/pg/pgpattern.h"
#include "../common/base/progress.h"
#include "../common/base/size.h"
#include "../common/io/sink.h"
#include "../common/snap/snapesdump.h"
#include "../common/snap/snapshot.h"
#include "../common/snap/snapwriter.h"
#include "../common/base/strbuf.h"
#include "../version.h"
#include "dump.h"

#define DEFAULT_CHUNK_SIZE (8L * 1024 * 1024)
#define MIN_CHUNK_SIZE (64L * 1024)
#define MAX_CHUNK_SIZE (1024L * 1024 * 1024)

struct dump_opts {
	const char *output;
	char **databases;
	size_t n_databases;
	long jobs;
	long level;
	long threads;
	long chunk_size;
	const char *master_url;
	long wait;
	int json;
	char **indices;         /* Elasticsearch */
	size_t n_indices;
	const char *es_url;
	const char *es_cacert;
	int es;                 /* --es or --index given */
	/* --table, --exclude-table, --exclude-table-data: as given (by
	 * g3_tablefilter_list), compiled, and as pg_dump arguments */
	char **patterns[3];
	size_t n_patterns[3];
	g3_tablefilter filter;
	char **pgdump_args;
	size_t n_pgdump_args;
};

/* ---- the plan: per database, its catalog in an exported snapshot --------- */

struct database {
	g3_pgcat cat;
	double seconds;
	/* pg_dump's two schema sections, each run by a thread of its own
	 * beside the data (sections_start) */
	g3_pgdump_job pre, post;
	int sections_started;
};

static g3_rc parse_size(const char *s, long *out, g3_err *err)
{
	uint64_t v;

	if (g3_size_parse(s, 1, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, &v))
		return g3_err_set(err, G3_USAGE, "--chunk-size must be a size from 64K to 1G "
				  "(bytes, or with K, M, G), not \"%s\"", s);
	*out = (long)v;
	return G3_OK;
}

static void report_names(const char *what, const char *database, char *const *names, size_t n)
{
	g3_buf b = G3_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		g3_buf_addf(&b, "%s\"%s\"", i ? ", " : "", names[i]);
	if (n)
		g3_info("%s of database \"%s\" (%zu): %s", what, database, n, b.data);
	g3_buf_release(&b);
}

/* The tables --table, --exclude-table and --exclude-table-data left out. */
static void report_filtered(const g3_pgcat *c)
{
	report_names("left out (--table, --exclude-table)", c->name, c->excluded, c->n_excluded);
	report_names("dumped without rows (--exclude-table-data)", c->name, c->no_data,
		     c->n_no_data);
}

/* ---- the writer side ------------------------------------------------------- */

struct dump_state {
	g3_snap_writer *w;
	g3_snap_end end;
	/* the COPY chunk pool, allocated once for every database */
	g3_copyout_pool pool;
};

/* A table's data all written (g3_copyout_done_fn): its line in the log. */
static void table_dumped(void *arg, const g3_pgcat *c, const g3_pgcat_table *t)
{
	char size[32], msg[1024], rows[32], bytes[32], secs[32];
	const char *fields[] = { "database", c->name, "schema", t->schema,
				 "table", t->name, "rows", rows, "bytes", bytes,
				 "seconds", secs, NULL };

	(void)arg;
	g3_format_bytes(size, sizeof(size), t->bytes);
	snprintf(rows, sizeof(rows), "%" PRId64, t->rows);
	snprintf(bytes, sizeof(bytes), "%" PRId64, t->bytes);
	snprintf(secs, sizeof(secs), "%.3f", t->seconds);
	snprintf(msg, sizeof(msg), "%s: \"%s.%s\" %" PRId64 " %s, %s in %.1f s",
		 c->name, t->schema, t->name, t->rows, g3_plural(t->rows, "row", "rows"),
		 size, t->seconds);
	g3_log_event(G3_LOG_INFO, "table_dumped", msg, fields);
}

/* pg_dump's section into a temporary file, then into the snapshot. */
struct file_reader {
	FILE *f;
	const char *name;
};

static ssize_t file_read(void *ctx, void *buf, size_t len, g3_err *err)
{
	struct file_reader *fr = ctx;
	size_t n = fread(buf, 1, len, fr->f);

	if (n == 0 && ferror(fr->f)) {
		g3_err_set(err, G3_FAIL, "could not read the temporary file for \"%s\"", fr->name);
		return -1;
	}
	return (ssize_t)n;
}

/* The item list of post-data (in tmp, size bytes) as post-data.json:
 * post-data holds indexes and constraints, a size bounded by the schema,
 * not the data. */
static g3_rc postdata_items(const g3_pgcat *c, struct dump_state *st, FILE *tmp, long size,
			    g3_err *err)
{
	char *text = g3_xmalloc((size_t)size + 1);
	g3_buf name = G3_BUF_INIT, json = G3_BUF_INIT;
	g3_postdata p;
	g3_rc rc;

	rewind(tmp);
	if (fread(text, 1, (size_t)size, tmp) != (size_t)size) {
		rc = g3_err_set(err, G3_FAIL, "could not read the temporary file for "
				"\"pg/%s/post-data.sql\"", c->name);
		goto cleanup;
	}
	g3_postdata_split(text, (size_t)size, &p);
	g3_postdata_to_json(&p, &json);
	g3_buf_addf(&name, "pg/%s/post-data.json", c->name);
	rc = g3_snap_add_member(st->w, name.data, json.data, json.len, err);
	g3_postdata_release(&p);
cleanup:
	free(text);
	g3_buf_release(&json);
	g3_buf_release(&name);
	return rc;
}

/* Both schema sections of a database, started at once: pg_dump spends
 * most of its time waiting for catalog queries, so the two run beside each
 * other and beside the data (the sections of a 300-table database took
 * 0.12 s each, a third of the whole dump, when they ran one after the
 * other around it). They read the database's exported snapshot, open
 * until the database is done. */
static g3_rc sections_start(struct database *d, const struct dump_opts *o, g3_err *err)
{
	g3_pgdump_job *jobs[] = { &d->pre, &d->post };
	const char *names[] = { "pre-data", "post-data" };
	g3_rc rc;

	if (d->sections_started)
		return G3_OK;
	d->sections_started = 1;
	for (int i = 0; i < 2; i++) {
		jobs[i]->conf = &d->cat.conf;
		jobs[i]->dbname = d->cat.name;
		jobs[i]->section = names[i];
		jobs[i]->snapshot = d->cat.snapshot;
		jobs[i]->extra = o->pgdump_args;
		jobs[i]->n_extra = o->n_pgdump_args;
		if ((rc = g3_pgdump_section_start(jobs[i], err)))
			return rc;
	}
	return G3_OK;
}

/* A section's output, once pg_dump is done, into the snapshot. */
static g3_rc write_section(const g3_pgcat *c, struct dump_state *st, g3_pgdump_job *j,
			   g3_err *err)
{
	FILE *tmp = NULL;
	g3_buf name = G3_BUF_INIT;
	struct file_reader fr;
	long size = 0;
	g3_rc rc;

	if ((rc = g3_pgdump_section_wait(j, &tmp, &size, err)))
		return rc;
	g3_buf_addf(&name, "pg/%s/%s.sql", c->name, j->section);
	fr.f = tmp;
	fr.name = name.data;
	if ((rc = g3_snap_add_member_stream(st->w, name.data, size, file_read, &fr, err)))
		goto cleanup;
	if (!strcmp(j->section, "post-data"))
		rc = postdata_items(c, st, tmp, size, err);
cleanup:
	fclose(tmp);
	g3_buf_release(&name);
	return rc;
}

/* next: the database after this one, whose sections start beside this
 * one's data. */
static g3_rc dump_database(struct database *d, struct database *next, struct dump_state *st,
			   const struct dump_opts *o, g3_err *err)
{
	g3_pgcat *c = &d->cat;
	double start = g3_clock_now();
	g3_end_database *ed = g3_snap_end_add_database(&st->end, c->name);
	g3_buf name = G3_BUF_INIT;
	g3_rc rc;

	if ((rc = sections_start(d, o, err)) || (rc = write_section(c, st, &d->pre, err)) ||
	    (next && (rc = sections_start(next, o, err))) ||
	    (rc = g3_copyout_database(c, &st->pool, o->jobs, st->w, ed, table_dumped, NULL,
				      err)) ||
	    (rc = write_section(c, st, &d->post, err)))
		goto cleanup;
	g3_buf_addf(&name, "pg/%s/sequences.sql", c->name);
	if ((rc = g3_snap_add_member(st->w, name.data, c->sequences.data ? c->sequences.data : "",
				     c->sequences.len, err)))
		goto cleanup;
	for (size_t i = 0; i < c->n_tables; i++) {
		g3_end_table *et = g3_snap_end_add_table(ed, c->tables[i].schema, c->tables[i].name);

		et->rows = c->tables[i].rows;
		et->bytes = c->tables[i].bytes;
		et->chunks = c->tables[i].chunks;
	}
	/* the snapshot is no longer needed */
	g3_pgcat_close(c);
	d->seconds = g3_clock_now() - start;
cleanup:
	g3_buf_release(&name);
	return rc;
}

/* ---- the command ------------------------------------------------------------ */

/* Killed by SIGINT, SIGTERM or SIGHUP: the partial output is removed (a
 * registered cleanup), then the process dies of the same signal. */
static void catch_signals(void)
{
	g3_interrupt_install(G3_INTERRUPT_DIE);
	/* a closed pipe on --output - is an error to report, not a kill */
	signal(SIGPIPE, SIG_IGN);
}

static json_object *summary_database(const struct database *d)
{
	const g3_pgcat *c = &d->cat;
	json_object *jd = json_object_new_object(), *tabs = json_object_new_array();
	int64_t rows = 0, bytes = 0;

	for (size_t k = 0; k < c->n_tables; k++) {
		const g3_pgcat_table *t = &c->tables[k];
		json_object *jt = json_object_new_object();

		json_object_object_add(jt, "schema", json_object_new_string(t->schema));
		json_object_object_add(jt, "name", json_object_new_string(t->name));
		json_object_object_add(jt, "rows", json_object_new_int64(t->rows));
		json_object_object_add(jt, "bytes", json_object_new_int64(t->bytes));
		json_object_object_add(jt, "chunks", json_object_new_int64(t->chunks));
		json_object_object_add(jt, "seconds", json_object_new_double(t->seconds));
		json_object_array_add(tabs, jt);
		rows += t->rows;
		bytes += t->bytes;
	}
	json_object_object_add(jd, "name", json_object_new_string(c->name));
	json_object_object_add(jd, "rows", json_object_new_int64(rows));
	json_object_object_add(jd, "bytes", json_object_new_int64(bytes));
	json_object_object_add(jd, "seconds", json_object_new_double(d->seconds));
	json_object_object_add(jd, "tables", tabs);
	g3_opt_json_list(jd, "excluded_tables", c->excluded, c->n_excluded);
	g3_opt_json_list(jd, "excluded_table_data", c->no_data, c->n_no_data);
	return jd;
}

static void print_summary(const struct dump_opts *o, struct database *dbs, size_t n,
			  const g3_snap_end *end, uint64_t out_bytes, double seconds)
{
	json_object *jix = json_object_new_array();
	json_object *root = json_object_new_object();
	json_object *jdbs = json_object_new_array();

	json_object_object_add(root, "output", json_object_new_string(o->output));
	json_object_object_add(root, "output_bytes", json_object_new_int64((int64_t)out_bytes));
	json_object_object_add(root, "seconds", json_object_new_double(seconds));
	for (size_t i = 0; i < n; i++)
		json_object_array_add(jdbs, summary_database(&dbs[i]));
	json_object_object_add(root, "databases", jdbs);
	for (size_t i = 0; i < end->n_indices; i++) {
		json_object *ji = json_object_new_object();

		json_object_object_add(ji, "name", json_object_new_string(end->indices[i].name));
		json_object_object_add(ji, "docs", json_object_new_int64(end->indices[i].docs));
		json_object_object_add(ji, "bytes", json_object_new_int64(end->indices[i].bytes));
		json_object_object_add(ji, "chunks", json_object_new_int64(end->indices[i].chunks));
		json_object_array_add(jix, ji);
	}
	json_object_object_add(root, "indices", jix);
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(root);
}

/* A table pattern: compiled (exit 2 on a bad one) and handed to pg_dump
 * too, which applies it to the schema sections the same way. */
static g3_rc filter_option(struct dump_opts *o, enum g3_tablefilter_list list, const char *arg,
			   g3_err *err)
{
	g3_buf b = G3_BUF_INIT;

	g3_strlist_add(&o->patterns[list], &o->n_patterns[list], arg);
	g3_buf_addf(&b, "%s=%s", g3_tablefilter_option(list), arg);
	g3_strlist_add(&o->pgdump_args, &o->n_pgdump_args, b.data);
	g3_buf_release(&b);
	return g3_tablefilter_add(&o->filter, list, arg, err);
}

static g3_rc set_filter(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	size_t list = (row->off - offsetof(struct dump_opts, patterns)) / sizeof(char **);

	return filter_option(base, (enum g3_tablefilter_list)list, arg, err);
}

static g3_rc set_chunk_size(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	(void)row;
	return parse_size(arg, &((struct dump_opts *)base)->chunk_size, err);
}

/* --es or --index: Elasticsearch is dumped too */
static g3_rc dump_after(void *opts, g3_err *err)
{
	struct dump_opts *o = opts;

	(void)err;
	o->es = o->es_url || o->n_indices;
	return G3_OK;
}

#define DO struct dump_opts
#define FILTER_ROW(name, l, key, mv, help) \
	G3_ROW_SET(name, 0, G3_OPT_LIST, set_filter, DO, patterns[l], n_patterns[l], key, mv, help)

static const g3_opt dump_rows[] = {
	G3_ROW_STR("output", 0, DO, output, "output", "FILE|-|DIR/",
		   "the snapshot; FILE appears only when complete\n"
		   "(written as FILE.partial until then);\n"
		   "DIR/ with --es and no --database: elasticdump\n"
		   "files in DIR, as dump-es writes them (DIR ends\n"
		   "with / or is an existing directory)"),
	G3_ROW_LIST("database", 0, DO, databases, n_databases, "databases", "NAME",
		    "repeatable: a database to dump"),
	G3_ROW_LONG("jobs", 0, DO, jobs, 1, 64, "jobs", "N",
		    "worker connections per database (default 2)"),
	G3_ROW_LONG("level", 0, DO, level, 1, 19, "level", "N", "zstd level 1..19 (default 3)"),
	G3_ROW_LONG("compress-threads", 0, DO, threads, 1, 64, "compress_threads", "N",
		    "zstd threads (default 1: in the writer thread)"),
	G3_ROW_SET("chunk-size", 0, G3_OPT_LONG, set_chunk_size, DO, chunk_size, chunk_size,
		   "chunk_size", "BYTES",
		   "table data and documents chunk size, with optional\n"
		   "K, M or G (default 8M)"),
	G3_ROW_FLAG("json", 0, DO, json, "json", "a JSON summary on stdout (not with --output -)"),
	G3_ROW_NOTE("\nTables (as pg_dump's -t, -T and --exclude-table-data; repeatable):\n"),
	FILTER_ROW("table", G3_FILTER_TABLE, "tables", "PATTERN",
		   "dump only matching tables (with their indexes,\n"
		   "constraints and owned sequences)"),
	FILTER_ROW("exclude-table", G3_FILTER_EXCLUDE, "exclude_tables", "PATTERN",
		   "leave matching tables out"),
	FILTER_ROW("exclude-table-data", G3_FILTER_EXCLUDE_DATA, "exclude_table_data", "PATTERN",
		   "dump matching tables' definitions, not their rows"),
	G3_ROW_NOTE("  PATTERN as psql's (see 'gen3db restore --help'); one that matches no table\n"
		    "  of any database is an error (exit 2).\n"
		    "\n"),
	G3_ROWS_MASTER(DO, master_url, wait, "Connection",
		       "postgresql://user@host:port (no password)", "the servers"),
	G3_ROW_NOTE("\nElasticsearch (after the databases, in the same snapshot):\n"),
	G3_ROW_LIST("index", 0, DO, indices, n_indices, "indices", "NAME",
		    "repeatable: an index or alias to dump (with --es\n"
		    "and no --index: GUPPY_INDICES, GUPPY_CONFIGINDEX)"),
	G3_ES_ROWS(DO, es_url, es_cacert),
};

const g3_cmd_spec cmd_dump_spec =
	G3_CMD_SPEC_ROWS("dump", dump_rows, 0, G3_BAD_OWN, dump_after, -1,
	"usage: gen3db dump --output FILE|- [--database DB ...] [--es URL --index NAME ...]\n"
	"                   [options]\n"
	"\n"
	"Write a consistent snapshot of PostgreSQL databases (schema from pg_dump,\n"
	"data with COPY in the same exported snapshot) and Elasticsearch indices\n"
	"(definition, and every document read in a point in time) as one .tar.zst\n"
	"in gen3db's snapshot format, while they stay in use.\n"
	"\n",
	"\n"
	"exit codes: 0 snapshot written, 1 failure (no output left), 2 usage or bad\n"
	"input, 3 a server was unreachable within --wait\n");

/* *done: --help was given or the options were printed (GEN3DB_PRINT_OPTIONS);
 * nothing else is to be done. */
static g3_rc parse_options(int argc, char **argv, struct dump_opts *o, int *done, g3_err *err)
{
	int args = 0;
	g3_rc rc;

	o->jobs = 2;
	o->level = 3;
	o->threads = 1;
	o->chunk_size = DEFAULT_CHUNK_SIZE;
	o->wait = 300;
	if ((rc = g3_opts_parse(&cmd_dump_spec, o, argc, argv, &args, done, err)) || *done)
		return rc;
	if (args < argc)
		return g3_err_set(err, G3_USAGE, "unexpected argument \"%s\"", argv[args]);
	if (!o->output)
		return g3_err_set(err, G3_USAGE, "give --output FILE (or - for standard output)");
	for (size_t i = 0; i < o->n_indices; i++)
		if (g3_es_name_check(o->indices[i], "--index", err))
			return G3_USAGE;
	if (o->es && !o->n_indices) {
		g3_es_indices_from_env(&o->indices, &o->n_indices);
		for (size_t i = 0; i < o->n_indices; i++)
			if (g3_es_name_check(o->indices[i], G3_ES_ENV_ORIGIN, err))
				return G3_USAGE;
	}
	if (o->es && !o->n_indices)
		return g3_err_set(err, G3_USAGE, "no index to dump: give --index NAME (or "
				  "GUPPY_INDICES)");
	if (!o->n_databases && !o->es)
		return g3_err_set(err, G3_USAGE, "nothing to dump: give --database NAME");
	if (o->json && !strcmp(o->output, "-"))
		return g3_err_set(err, G3_USAGE, "--json needs --output FILE: standard output holds the snapshot");
	for (size_t i = 0; i < o->n_databases; i++) {
		const char *name = o->databases[i];

		if ((rc = g3_pg_check_name("database", name, err)))
			return rc;
		if (strchr(name, '/') || strstr(name, ".."))
			return g3_err_set(err, G3_USAGE,
					  "database name \"%s\" cannot be a snapshot member name (\"/\" or \"..\")",
					  name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(o->databases[k], name))
				return g3_err_set(err, G3_USAGE, "database \"%s\" is given twice", name);
	}
	return G3_OK;
}

/* The start of a failed run's --json report: nothing was written. */
static json_object *failure_report(const struct dump_opts *o)
{
	json_object *root = json_object_new_object();
	json_object *dbs = json_object_new_array();

	if (o->output)
		json_object_object_add(root, "output", json_object_new_string(o->output));
	json_object_object_add(root, "output_written", json_object_new_boolean(0));
	for (size_t i = 0; i < o->n_databases; i++)
		json_object_array_add(dbs, json_object_new_string(o->databases[i]));
	json_object_object_add(root, "databases", dbs);
	return root;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/*
 * Whether --output names a directory for elasticdump files (as dump-es
 * writes them) rather than a snapshot: it ends with '/', or it is an
 * existing directory. Only Elasticsearch is written so: --database with a
 * directory is a usage error, as is --json; an existing directory named
 * like a snapshot (.tar.zst, .tar) without the '/' is ambiguous.
 */
static g3_rc output_is_dir(const struct dump_opts *o, int *is_dir, g3_err *err)
{
	const char *out = o->output;
	size_t len = strlen(out);
	struct stat sb;

	*is_dir = len && out[len - 1] == '/';
	if (!*is_dir && strcmp(out, "-") && !stat(out, &sb) && S_ISDIR(sb.st_mode)) {
		if (ends_with(out, ".tar.zst") || ends_with(out, ".tar")) {
			g3_err_set(err, G3_USAGE, "--output \"%s\" is a directory named like a "
				   "snapshot file", out);
			g3_err_hint(err, "give \"%s/\" for elasticdump files in it, or another "
				    "FILE for a snapshot", out);
			return G3_USAGE;
		}
		*is_dir = 1;
	}
	if (!*is_dir)
		return G3_OK;
	if (o->n_databases) {
		g3_err_set(err, G3_USAGE, "--output \"%s\" is a directory: databases are dumped "
			   "into a snapshot file", out);
		g3_err_hint(err, "give --output FILE.tar.zst (or -); a directory takes "
			    "elasticdump files of --es --index only");
		return G3_USAGE;
	}
	if (o->json)
		return g3_err_set(err, G3_USAGE, "--json needs --output FILE: a directory gets "
				  "elasticdump files, without a summary");
	return G3_OK;
}

/* The manifest's header: when, by which gen3db and pg_dump (asked by a
 * thread while plan opens the databases; plan_done collects it). */
static g3_rc manifest_start(const struct dump_opts *o, g3_manifest *m,
			    g3_pgdump_job *version, g3_err *err)
{
	struct timespec ts;
	struct tm tm;
	char created[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	m->created = g3_xstrdup(created);
	m->gen3db_version = g3_xstrdup(GEN3DB_VERSION);
	if (o->n_databases)
		return g3_pgdump_section_start(version, err);
	return G3_OK;
}

/* pg_dump's version, asked by manifest_start, into the manifest. */
static g3_rc manifest_version(g3_pgdump_job *version, g3_manifest *m, g3_err *err)
{
	FILE *f;
	long size;
	g3_rc rc = g3_pgdump_section_wait(version, &f, &size, err);

	if (rc)
		return rc;
	g3_pgdump_version_read(f, &m->pg_dump_version);
	fclose(f);
	return G3_OK;
}

/* Every database's snapshot first, so the manifest can list every table;
 * then the indices. Nothing is written yet. */
static g3_rc plan(struct dump_opts *o, const g3_pgconf *conf, struct database *dbs,
		  g3_snap_esdump *es, g3_manifest *m, g3_err *err)
{
	g3_tablefilter *filter = g3_tablefilter_active(&o->filter) ? &o->filter : NULL;
	g3_rc rc;

	for (size_t i = 0; i < o->n_databases; i++) {
		g3_pgcat_init(&dbs[i].cat, o->databases[i], conf, filter);
		if ((rc = g3_pgcat_open(&dbs[i].cat, m, (int)o->wait, err)))
			return rc;
	}
	/* before any output: a pattern that matches no table is a mistake */
	if (o->n_databases && (rc = g3_tablefilter_check(&o->filter, err)))
		return rc;
	for (size_t i = 0; i < o->n_databases; i++)
		report_filtered(&dbs[i].cat);
	es->chunk_size = (size_t)o->chunk_size;
	if (o->es)
		return g3_snap_esdump_plan(es, o->es_url, o->es_cacert, (int)o->wait, o->indices,
				      o->n_indices, m, err);
	return G3_OK;
}

/* The end member (sums of every member written), then the sink committed. */
static g3_rc finish_snapshot(struct dump_state *st, g3_err *err)
{
	const g3_snap_log *log = g3_snap_writer_log(st->w);
	g3_buf json = G3_BUF_INIT;
	g3_rc rc;

	st->end.members = g3_snap_writer_members(st->w);
	st->end.has_sums = 1;
	for (size_t i = 0; i < log->n; i++)
		g3_snap_log_add(&st->end.sums, log->v[i].name, log->v[i].bytes, log->v[i].sha256);
	g3_snap_end_to_json(&st->end, &json);
	rc = g3_snap_add_member(st->w, G3_SNAP_END, json.data, json.len, err);
	g3_buf_release(&json);
	if (rc)
		return rc;
	rc = g3_snap_writer_finish(st->w, err);
	st->w = NULL;
	return rc;
}

static g3_rc write_snapshot(const struct dump_opts *o, struct database *dbs, g3_snap_esdump *es,
			    const g3_manifest *m, struct dump_state *st, g3_sink *sink, g3_err *err)
{
	g3_buf json = G3_BUF_INIT;
	/* bytes are COPY data and documents written; the total is not known
	 * before they are read */
	size_t items = o->es ? es->n : 0;
	g3_rc rc;

	if ((rc = g3_snap_writer_open(sink, (int)o->level, (int)o->threads, &st->w, err)))
		return rc;
	g3_manifest_to_json(m, &json);
	rc = g3_snap_add_member(st->w, G3_SNAP_MANIFEST, json.data, json.len, err);
	g3_buf_release(&json);
	if (rc)
		return rc;
	for (size_t i = 0; i < o->n_databases; i++)
		items += dbs[i].cat.n_order;
	g3_progress_init(-1);
	g3_progress_set_totals(-1, (int)items);
	for (size_t i = 0; i < o->n_databases; i++)
		if ((rc = dump_database(&dbs[i], i + 1 < o->n_databases ? &dbs[i + 1] : NULL,
					st, o, err)))
			return rc;
	if (o->es && (rc = g3_snap_esdump_write(es, st->w, &st->end, err)))
		return rc;
	return finish_snapshot(st, err);
}

static void report_done(const struct dump_opts *o, const g3_snap_end *end, const g3_sink *sink,
			double start)
{
	int64_t rows = 0, bytes = 0;
	char size[32], osize[32];

	for (size_t i = 0; i < end->n_databases; i++) {
		rows += end->databases[i].rows;
		bytes += end->databases[i].bytes;
	}
	g3_format_bytes(size, sizeof(size), bytes);
	g3_format_bytes(osize, sizeof(osize), (int64_t)sink->written);
	if (o->n_databases)
		g3_info("dumped %zu %s: %" PRId64 " %s, %s of COPY data, %s written to \"%s\" in %.1f s",
			o->n_databases, g3_plural((long long)o->n_databases, "database", "databases"),
			rows, g3_plural(rows, "row", "rows"), size, osize, sink->name,
			g3_clock_now() - start);
	else
		g3_info("dumped %zu %s, %s written to \"%s\" in %.1f s", o->n_indices,
			g3_plural((long long)o->n_indices, "index", "indexes"), osize, sink->name,
			g3_clock_now() - start);
}

static void dump_opts_release(struct dump_opts *o)
{
	g3_strlist_free(o->databases, o->n_databases);
	g3_strlist_free(o->indices, o->n_indices);
	for (int l = 0; l < 3; l++)
		g3_strlist_free(o->patterns[l], o->n_patterns[l]);
	g3_strlist_free(o->pgdump_args, o->n_pgdump_args);
	g3_tablefilter_release(&o->filter);
}

int cmd_dump(int argc, char **argv)
{
	struct dump_opts o;
	struct database *dbs = NULL;
	g3_pgdump_job version = { 0 };   /* section NULL: pg_dump --version */
	struct dump_state st;
	g3_manifest m;
	g3_snap_esdump es;
	g3_pgconf conf;
	g3_sink *sink = NULL;
	int partial_cleanup = -1;
	g3_err err;
	double start = g3_clock_now();
	int done = 0, to_dir = 0;
	g3_rc rc;

	memset(&o, 0, sizeof(o));
	g3_tablefilter_init(&o.filter);
	memset(&st, 0, sizeof(st));
	g3_err_init(&err);
	g3_manifest_init(&m);
	g3_pgconf_init(&conf);
	g3_snap_end_init(&st.end);
	g3_snap_esdump_init(&es);
	if ((rc = parse_options(argc, argv, &o, &done, &err)) || done ||
	    (rc = output_is_dir(&o, &to_dir, &err)))
		goto cleanup;
	if (to_dir) {
		rc = dump_es_dir(o.es_url, o.es_cacert, (int)o.wait, G3_ESDUMP_PAGE, o.output,
				 o.indices, o.n_indices, &err);
		goto cleanup;
	}
	if (o.n_databases && (rc = g3_pgconf_master(&conf, o.master_url, &err)))
		goto cleanup;
	dbs = g3_xcalloc(o.n_databases + 1, sizeof(*dbs));
	if ((rc = manifest_start(&o, &m, &version, &err)) ||
	    (rc = plan(&o, &conf, dbs, &es, &m, &err)) ||
	    (o.n_databases && (rc = manifest_version(&version, &m, &err))))
		goto cleanup;
	g3_copyout_pool_init(&st.pool, o.jobs, (size_t)o.chunk_size);
	catch_signals();
	if ((rc = g3_sink_open(o.output, &sink, &err)))
		goto cleanup;
	partial_cleanup = g3_interrupt_register(g3_interrupt_unlink, (char *)sink->temp_path);
	rc = write_snapshot(&o, dbs, &es, &m, &st, sink, &err);
	g3_progress_finish();
	if (rc)
		goto cleanup;
	report_done(&o, &st.end, sink, start);
	if (o.json)
		print_summary(&o, dbs, o.n_databases, &st.end, sink->written, g3_clock_now() - start);
cleanup:
	g3_progress_finish();
	if (rc) {
		g3_log_err(&err);
		if (st.w)
			g3_snap_writer_abort(st.w);
	}
	g3_interrupt_unregister(partial_cleanup);
	g3_sink_close(sink);   /* aborts (removes FILE.partial) unless committed */
	if (rc && o.json)
		g3_err_print_json(failure_report(&o), rc, &err);
	g3_pgdump_section_abandon(&version);
	for (size_t i = 0; dbs && i < o.n_databases; i++) {
		/* a section's pg_dump still reading the snapshot ends first */
		g3_pgdump_section_abandon(&dbs[i].pre);
		g3_pgdump_section_abandon(&dbs[i].post);
		g3_pgcat_release(&dbs[i].cat);
	}
	free(dbs);
	g3_copyout_pool_release(&st.pool);
	g3_manifest_release(&m);
	g3_snap_end_release(&st.end);
	g3_pgconf_release(&conf);
	dump_opts_release(&o);
	g3_snap_esdump_release(&es);
	return g3_exit_code(rc);
}
