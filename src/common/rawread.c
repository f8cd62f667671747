#include "rawread.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define READ_BLOCK (256 * 1024)

struct g3_rawread {
	struct archive *a;
	g3_source *src;
	char *block;
	g3_err src_err;     /* a failure of the source itself */
	int src_failed;
	int eof;
	const char *compression;
};

static la_ssize_t on_read(struct archive *a, void *ctx, const void **buf)
{
	g3_rawread *r = ctx;
	ssize_t n = g3_source_read(r->src, r->block, READ_BLOCK, &r->src_err);

	if (n < 0) {
		r->src_failed = 1;
		archive_set_error(a, EIO, "%s", r->src_err.msg);
		return -1;
	}
	*buf = r->block;
	return n;
}

static void la_error(g3_rawread *r, g3_err *err)
{
	const char *m = archive_error_string(r->a);

	if (r->src_failed) {
		*err = r->src_err;
		return;
	}
	g3_err_set(err, G3_USAGE, "could not read \"%s\": %s", r->src->name,
		   m ? m : "unknown error");
	if (r->compression && strcmp(r->compression, "none"))
		g3_err_prefix(err, "corrupt or truncated %s data", r->compression);
}

g3_rc g3_rawread_open(g3_source *src, g3_rawread **out, g3_err *err)
{
	g3_rawread *r = g3_xcalloc(1, sizeof(*r));
	struct archive_entry *e;
	int st;

	*out = NULL;
	r->src = src;
	r->block = g3_xmalloc(READ_BLOCK);
	r->a = archive_read_new();
	archive_read_support_filter_gzip(r->a);
	archive_read_support_filter_zstd(r->a);
	archive_read_support_filter_xz(r->a);
	archive_read_support_filter_bzip2(r->a);
	archive_read_support_format_raw(r->a);
	archive_read_support_format_empty(r->a);
	g3_err_init(&r->src_err);
	if (archive_read_open(r->a, r, NULL, on_read, NULL) != ARCHIVE_OK) {
		la_error(r, err);
		g3_rawread_close(r);
		return err->rc;
	}
	r->compression = archive_filter_count(r->a) > 1 ?
		archive_filter_name(r->a, 0) : "none";
	st = archive_read_next_header(r->a, &e);
	if (st == ARCHIVE_EOF) {
		r->eof = 1;
	} else if (st != ARCHIVE_OK) {
		la_error(r, err);
		g3_rawread_close(r);
		return err->rc;
	}
	*out = r;
	return G3_OK;
}

ssize_t g3_rawread_read(g3_rawread *r, void *buf, size_t len, g3_err *err)
{
	la_ssize_t n;

	if (r->eof)
		return 0;
	n = archive_read_data(r->a, buf, len);
	if (n < 0) {
		la_error(r, err);
		return -1;
	}
	if (n == 0)
		r->eof = 1;
	return n;
}

const char *g3_rawread_compression(const g3_rawread *r)
{
	return r->compression;
}

void g3_rawread_close(g3_rawread *r)
{
	if (!r)
		return;
	archive_read_free(r->a);
	free(r->block);
	free(r);
}
