/*
 * A restore's source opened and its kind told (input.h): input_open reads
 * its first bytes once to tell a snapshot (a tar) from a plain SQL stream
 * (plain, gzip or zstd) and from a pg_dump archive, and sniffs plain SQL
 * before any server is touched.
 *
 * pg_dump's archives (-Fc custom, -Fd directory, -Ft tar) as a restore's
 * source: the archive's header tells which pg_restore reads it, and
 * pg_restore -f - turns it into the psql script pg_dump's plain format
 * would have written, which goes through the same loader as a plain dump
 * (side database, ownership, parallel COPY and indexes, the closing-line
 * check). pg_restore only converts: it never connects.
 *
 * A custom archive streams into pg_restore's standard input from any
 * source (file, '-', http(s), s3, compressed or not), and so does an
 * uncompressed tar archive, whose end gen3db checks as it goes by; a
 * directory is read by pg_restore from its path. pg_restore reads both
 * streamed formats front to back (the order pg_dump wrote).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base/log.h"
#include "../common/pg/sqlinput.h"
#include "input.h"

static ssize_t none_read(g3_source *src, void *buf, size_t len, g3_err *err)
{
	(void)src;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

static const struct g3_source_ops none_ops = { none_read, NULL };

/* The feeding thread's reads: the decoded stream, peeked bytes included. */
static ssize_t feed_reader(void *ctx, void *buf, size_t len, g3_err *err)
{
	return g3_reader_read(ctx, buf, len, err);
}

/* ... or the source's own bytes (a tar archive), whose structure is
 * followed to its end: pg_restore loops forever on a tar cut short. */
struct tar_feed {
	g3_source *src;
	g3_tarwalk walk;
};

static ssize_t feed_tar(void *ctx, void *buf, size_t len, g3_err *err)
{
	struct tar_feed *t = ctx;
	ssize_t n = g3_source_read(t->src, buf, len, err);

	if (n > 0)
		g3_tarwalk_feed(&t->walk, buf, (size_t)n);
	if (n == 0 && !g3_tarwalk_complete(&t->walk)) {
		g3_err_set(err, G3_FAIL, "pg_dump tar archive \"%s\" is %s at byte %llu",
			   t->src->name, t->walk.bad ? "damaged: a member header is not one"
						   : "incomplete (truncated): it ends",
			   (unsigned long long)t->walk.pos);
		g3_err_hint(err, "nothing was changed; copy or download the whole archive again");
		return -1;
	}
	return n;
}

/* ---- the first bytes of a source, read ahead and replayed ----------- */

#define TAR_BLOCK 512
#define LOOKAHEAD (TAR_BLOCK + G3_PGARCH_HEAD_BYTES)

struct replay {
	g3_source *inner;
	char head[LOOKAHEAD];
	size_t len, off;
	g3_err err;             /* the inner source's error while reading ahead */
};

static ssize_t replay_read(g3_source *src, void *buf, size_t len, g3_err *err)
{
	struct replay *r = src->impl;
	ssize_t n;

	if (r->off < r->len) {
		size_t k = r->len - r->off < len ? r->len - r->off : len;

		memcpy(buf, r->head + r->off, k);
		r->off += k;
		return (ssize_t)k;
	}
	if (r->err.rc) {
		/* the error, where the stream would have met it */
		*err = r->err;
		return -1;
	}
	n = g3_source_read(r->inner, buf, len, err);
	src->size = r->inner->size;   /* a size the source learns late */
	return n;
}

static void replay_close(g3_source *src)
{
	struct replay *r = src->impl;

	g3_source_close(r->inner);
	free(r);
}

static const struct g3_source_ops replay_ops = { replay_read, replay_close };

/* pg_dump -Ft: an uncompressed tar whose first member is toc.dat (the
 * name in the header's first 100 bytes, "ustar" at 257). */
static int tar_toc(const char *b, size_t len)
{
	return len >= TAR_BLOCK && !memcmp(b, "toc.dat", 8) && !memcmp(b + 257, "ustar", 5);
}

static g3_rc archive_lookahead(struct input *in, int *tar, g3_err *err)
{
	struct replay *r = g3_xcalloc(1, sizeof(*r));
	char why[128];

	*tar = 0;
	r->inner = in->src;
	g3_err_init(&r->err);
	while (r->len < LOOKAHEAD) {
		ssize_t n = g3_source_read(r->inner, r->head + r->len, LOOKAHEAD - r->len, &r->err);

		if (n <= 0)
			break;
		r->len += (size_t)n;
	}
	in->src = g3_source_new(&replay_ops, r->inner->name, r->inner->size, r);
	if (!tar_toc(r->head, r->len))
		return G3_OK;
	*tar = 1;
	if (g3_pgarch_head_parse(r->head + TAR_BLOCK, r->len - TAR_BLOCK, &in->arch_head, why,
				 sizeof(why)) != 1)
		return g3_err_set(err, G3_USAGE, "\"%s\" is a damaged pg_dump tar archive: %s",
				  in->src->name, why[0] ? why : "its toc.dat has no header");
	in->arch_head.format = G3_PGARCH_TAR;
	return G3_OK;
}

/* ---- the archive through pg_restore ------------------------------------ */

static g3_rc archive_open(const char *spec, struct input *in, g3_err *err)
{
	g3_pgarch_head *h = &in->arch_head;
	const char *path = NULL;
	g3_pgrestore_feed_fn feed = NULL;
	void *feed_ctx = NULL;
	char *program = NULL;
	char version[32], what[256], why[128];
	g3_rc rc = G3_OK;

	if (!in->src) {
		/* a directory: pg_restore reads its files */
		if ((rc = g3_pgarch_dir_head(spec, h, err)))
			return rc;
		in->src = g3_source_new(&none_ops, spec, -1, NULL);
		path = spec;
	} else if (!in->rd) {
		/* a tar (archive_lookahead read its header), fed whatever its
		 * source so that its end is checked */
		in->arch_tar = g3_xcalloc(1, sizeof(*in->arch_tar));
		in->arch_tar->src = in->src;
		g3_tarwalk_init(&in->arch_tar->walk);
		feed = feed_tar;
		feed_ctx = in->arch_tar;
	} else if (g3_reader_kind(in->rd) == G3_READER_ARCHIVE) {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is a compressed pg_dump tar archive, which "
				"pg_restore does not read", in->src->name);
		g3_err_hint(err, "decompress it first, or dump with pg_dump -Fc (the custom format "
			    "streams from anywhere, compressed or not)");
		return rc;
	} else {
		/* a custom archive: the decoded stream, from its first byte */
		const char *head;
		size_t len;

		if ((rc = g3_reader_peek(in->rd, G3_PGARCH_HEAD_BYTES, &head, &len, err)))
			return rc;
		if (g3_pgarch_head_parse(head, len, h, why, sizeof(why)) != 1)
			return g3_err_set(err, G3_USAGE, "\"%s\" is a damaged pg_dump archive: %s",
					  in->src->name, why[0] ? why : "no header");
		feed = feed_reader;
		feed_ctx = in->rd;
	}
	g3_pgarch_describe(h, what, sizeof(what));
	if ((rc = g3_pgrestore_find(h, in->src->name, &program, version, sizeof(version), err)))
		return rc;
	g3_debug("\"%s\" is a %s: converted by %s (pg_restore %s)", in->src->name, what, program,
		 version);
	rc = g3_pgrestore_start(program, in->src->name, path, feed, feed_ctx,
				feed ? in->src : NULL, in->interrupted, &in->arch, err);
	free(program);
	if (rc)
		return rc;
	in->kind = KIND_ARCHIVE;
	in->pg_dump = 1;   /* pg_restore writes pg_dump's opening and closing lines */
	return G3_OK;
}

ssize_t input_read(struct input *in, void *buf, size_t len, g3_err *err)
{
	if (in->arch)
		return g3_pgrestore_read(in->arch, buf, len, err);
	return g3_reader_read(in->rd, buf, len, err);
}

uint64_t input_consumed(const struct input *in)
{
	return in->arch ? g3_pgrestore_fed(in->arch) : in->src->consumed;
}

const char *input_format(const struct input *in)
{
	if (in->arch) {
		switch (in->arch_head.format) {
		case G3_PGARCH_CUSTOM: return "pg_dump-custom";
		case G3_PGARCH_TAR: return "pg_dump-tar";
		case G3_PGARCH_DIRECTORY: return "pg_dump-directory";
		default: return "pg_dump-archive";
		}
	}
	return in->kind == KIND_SNAPSHOT ? "snapshot" : "sql";
}

/* ---- the source and its kind ----------------------------------------- */

/* A plain input's first bytes, peeked (they are read again by the load):
 * pg_dump's output, whose end load_sql_member checks; SQL that pg_dump
 * did not write, only with --sql-script; anything else is refused here,
 * before a server is touched. */
static g3_rc input_sniff(const char *spec, struct input *in, g3_err *err)
{
	const char *name = in->src->name;
	const char *head;
	size_t len;
	char what[384];
	g3_rc rc;

	if ((rc = g3_reader_peek(in->rd, G3_SQLINPUT_SNIFF_BYTES, &head, &len, err)))
		return rc;
	switch (g3_sqlinput_sniff(head, len, len < G3_SQLINPUT_SNIFF_BYTES, what, sizeof(what))) {
	case G3_SQLINPUT_PG_DUMP:
		in->pg_dump = 1;
		return G3_OK;
	case G3_SQLINPUT_SQL:
		if (in->sql_script)
			return G3_OK;
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is not pg_dump output (no \"-- PostgreSQL "
				"database dump\" header), so whether it is complete cannot be told",
				name);
		g3_err_hint(err, "give --sql-script to restore a SQL script that pg_dump did not "
			    "write");
		return rc;
	case G3_SQLINPUT_EMPTY:
		return g3_err_set(err, G3_USAGE, "\"%s\" is empty", name);
	case G3_SQLINPUT_NO_SQL:
		return g3_err_set(err, G3_USAGE, "\"%s\" holds only comments, no SQL statements",
				  name);
	case G3_SQLINPUT_PG_DUMPALL:
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is pg_dumpall output (a whole cluster), not "
				"the dump of one database", name);
		g3_err_hint(err, "dump each database with pg_dump");
		return rc;
	case G3_SQLINPUT_PG_CUSTOM:
		return archive_open(spec, in, err);
	case G3_SQLINPUT_OTHER:
	default:
		return g3_err_set(err, G3_USAGE, "\"%s\" is not a SQL dump or a gen3db snapshot: "
				  "it is %s", name, what);
	}
}

g3_rc input_open(const char *spec, struct input *in, g3_err *err)
{
	const char *name;
	int64_t size;
	int tar = 0;
	g3_rc rc;

	in->buf = g3_xmalloc(RESTORE_READ_BYTES);
	if (g3_pgarch_is_dir(spec))
		return archive_open(spec, in, err);
	if ((rc = g3_source_open(spec, &in->src, err)) ||
	    (rc = archive_lookahead(in, &tar, err)))
		return rc;
	if (tar)
		return archive_open(spec, in, err);   /* pg_dump -Ft */
	if ((rc = g3_reader_open(in->src, &in->rd, err)))
		return rc;
	if (g3_reader_kind(in->rd) == G3_READER_ARCHIVE) {
		if (!strcmp(g3_reader_member(in->rd), "toc.dat"))
			return archive_open(spec, in, err);   /* refused: compressed -Ft */
		in->kind = KIND_SNAPSHOT;
		return G3_OK;
	}
	in->kind = KIND_PLAIN_SQL;
	/* raw: the one member is the whole decoded stream */
	if (g3_reader_next(in->rd, &name, &size, err) < 0)
		return err->rc ? err->rc : G3_FAIL;
	return input_sniff(spec, in, err);
}

void input_close(struct input *in)
{
	if (g3_pgrestore_close(in->arch)) {
		/* its feeder still reads the source: left to the process's exit */
		free(in->buf);
		return;
	}
	free(in->arch_tar);
	g3_reader_close(in->rd);
	g3_source_close(in->src);
	free(in->buf);
}
