/*
 * pg_dump's archives (-Fc custom, -Fd directory, -Ft tar) as a restore's
 * source: the archive's header tells which pg_restore reads it, and
 * pg_restore -f - turns it into the psql script pg_dump's plain format
 * would have written, which goes through the same loader as a plain dump
 * (side database, ownership, parallel COPY and indexes, the closing-line
 * check). pg_restore only converts: it never connects.
 *
 * A custom archive streams into pg_restore's standard input from any
 * source (file, '-', http(s), s3, compressed or not); a directory and a
 * tar file are read by pg_restore from their path.
 */
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "restore.h"

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

g3_rc archive_open(const char *spec, struct input *in, g3_err *err)
{
	g3_pgarch_head *h = &in->arch_head;
	const char *path = NULL;
	char *program = NULL;
	char version[32], what[256], why[128];
	g3_rc rc = G3_OK;

	if (!in->src) {
		/* a directory: pg_restore reads its files */
		if ((rc = g3_pgarch_dir_head(spec, h, err)))
			return rc;
		in->src = g3_source_new(&none_ops, spec, -1, NULL);
		path = spec;
	} else {
		const char *head, *name;
		size_t len;
		int64_t size;
		int tar = g3_reader_kind(in->rd) == G3_READER_ARCHIVE;

		if (tar && g3_reader_next(in->rd, &name, &size, err) < 0)
			return err->rc ? err->rc : G3_FAIL;
		if ((rc = g3_reader_peek(in->rd, G3_PGARCH_HEAD_BYTES, &head, &len, err)))
			return rc;
		if (g3_pgarch_head_parse(head, len, h, why, sizeof(why)) != 1)
			return g3_err_set(err, G3_USAGE, "\"%s\" is a damaged pg_dump archive: %s",
					  in->src->name, why[0] ? why : "no header");
		if (tar) {
			h->format = G3_PGARCH_TAR;
			if (!strcmp(spec, "-") || strstr(spec, "://") ||
			    strcmp(g3_reader_filter(in->rd), "none")) {
				rc = g3_err_set(err, G3_USAGE, "\"%s\" is a pg_dump tar archive, which "
						"is read from an uncompressed local file", in->src->name);
				g3_err_hint(err, "save it as a file first, or dump with pg_dump -Fc "
					    "(the custom format streams from anywhere)");
				return rc;
			}
			path = spec;
			in->src->size = -1;   /* pg_restore reads it, not this stream */
		}
	}
	g3_pgarch_describe(h, what, sizeof(what));
	if ((rc = g3_pgrestore_find(h, in->src->name, &program, version, sizeof(version), err)))
		return rc;
	g3_debug("\"%s\" is a %s: converted by %s (pg_restore %s)", in->src->name, what, program,
		 version);
	rc = g3_pgrestore_start(program, in->src->name, path, path ? NULL : feed_reader,
				path ? NULL : in->rd, path ? NULL : in->src, &in->arch, err);
	free(program);
	if (rc)
		return rc;
	in->kind = KIND_PLAIN_SQL;
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
