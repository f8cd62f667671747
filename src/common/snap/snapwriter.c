/*
 * Snapshot writer: libarchive builds the pax-restricted tar and hands its
 * bytes to our callback, which compresses them with libzstd's streaming
 * API and writes the frames to the sink. Compressing here rather than with
 * libarchive's zstd filter gives the frame a content checksum (libarchive
 * 3.6 writes none, so corruption inside stored blocks went unseen) and
 * ZSTD_c_nbWorkers for multi-threaded compression. Errors of the sink are
 * kept in the writer, as libarchive only passes a status back.
 */
#include "snapwriter.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "snapshot.h"
#include "../base/strbuf.h"

#define STREAM_BUF (256 * 1024)

struct g3_snap_writer {
	struct archive *a;
	g3_sink *sink;
	g3_err sink_err;    /* the sink's error, when a write failed */
	int failed;
	int aborted;        /* abort: libarchive's close must write nothing */
	uint64_t members;
	time_t mtime;
	ZSTD_CCtx *cctx;
	void *out;          /* compressed bytes on their way to the sink */
	size_t out_size;
	EVP_MD_CTX *md;     /* the current member's sha256 */
	int64_t member_bytes;
	char next_sha[65];  /* g3_snap_writer_member_sum: for the next member */
	char cur_sha[65];   /* the current member's, given: not hashed */
	g3_snap_log log;    /* every member written: name, size, sha256 */
};

static void writer_free(g3_snap_writer *w)
{
	ZSTD_freeCCtx(w->cctx);
	free(w->out);
	EVP_MD_CTX_free(w->md);
	g3_snap_log_release(&w->log);
	free(w);
}

/* Logs the member just finished. */
static void log_member(g3_snap_writer *w, const char *name)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	static const char digits[] = "0123456789abcdef";
	unsigned n = 0;
	char sha[65];

	EVP_DigestFinal_ex(w->md, md, &n);
	for (unsigned i = 0; i < n && i < 32; i++) {
		sha[2 * i] = digits[md[i] >> 4];
		sha[2 * i + 1] = digits[md[i] & 15];
	}
	sha[64] = '\0';
	g3_snap_log_add(&w->log, name, w->member_bytes, w->cur_sha[0] ? w->cur_sha : sha);
}

/* Compresses in with the given end directive and writes what comes out. */
static int compress_to_sink(g3_snap_writer *w, const void *in, size_t len,
			    ZSTD_EndDirective mode)
{
	ZSTD_inBuffer ib = { in, len, 0 };

	for (;;) {
		ZSTD_outBuffer ob = { w->out, w->out_size, 0 };
		size_t left = ZSTD_compressStream2(w->cctx, &ob, &ib, mode);

		if (ZSTD_isError(left)) {
			g3_err_set(&w->sink_err, G3_FAIL, "zstd compression failed: %s",
				   ZSTD_getErrorName(left));
			return -1;
		}
		if (ob.pos && g3_sink_write(w->sink, w->out, ob.pos, &w->sink_err))
			return -1;
		if (mode == ZSTD_e_continue ? ib.pos == ib.size : left == 0)
			return 0;
	}
}

static la_ssize_t sink_write_cb(struct archive *a, void *ctx, const void *buf,
				size_t len)
{
	g3_snap_writer *w = ctx;

	if (w->aborted)
		return (la_ssize_t)len;   /* closing after abort: drop the bytes */
	if (compress_to_sink(w, buf, len, ZSTD_e_continue)) {
		archive_set_error(a, EIO, "%s", w->sink_err.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

static int sink_close_cb(struct archive *a, void *ctx)
{
	g3_snap_writer *w = ctx;

	if (w->failed || w->aborted)
		return ARCHIVE_OK;
	if (compress_to_sink(w, NULL, 0, ZSTD_e_end)) {
		archive_set_error(a, EIO, "%s", w->sink_err.msg);
		return ARCHIVE_FATAL;
	}
	return ARCHIVE_OK;
}

static g3_rc archive_fail(g3_snap_writer *w, const char *what, const char *member,
			  g3_err *err)
{
	w->failed = 1;
	if (w->sink_err.rc)
		return g3_err_set(err, w->sink_err.rc, "%s", w->sink_err.msg);
	if (member)
		return g3_err_set(err, G3_FAIL, "could not %s \"%s\" to \"%s\": %s", what,
				  member, w->sink->name, archive_error_string(w->a));
	return g3_err_set(err, G3_FAIL, "could not %s \"%s\": %s", what, w->sink->name,
			  archive_error_string(w->a));
}

g3_rc g3_snap_writer_open(g3_sink *sink, int level, int threads,
			  g3_snap_writer **out, g3_err *err)
{
	g3_snap_writer *w = g3_xcalloc(1, sizeof(*w));
		g3_rc rc = G3_OK;

	*out = NULL;
	g3_err_init(&w->sink_err);
	g3_snap_log_init(&w->log);
	if (!(w->md = EVP_MD_CTX_new()))
		abort();
	w->sink = sink;
	w->mtime = time(NULL);
	w->a = archive_write_new();
	if (!w->a) {
		rc = g3_err_set(err, G3_FAIL, "out of memory");
		goto cleanup;
	}
	if (level <= 0)
		level = 3;
	if (level > ZSTD_maxCLevel()) {
		rc = g3_err_set(err, G3_USAGE, "zstd level %d is not supported (at most %d)",
				level, ZSTD_maxCLevel());
		goto cleanup;
	}
	w->cctx = ZSTD_createCCtx();
	w->out_size = ZSTD_CStreamOutSize();
	w->out = g3_xmalloc(w->out_size);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	if (threads > 1 &&
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, threads))) {
		/* a libzstd built without threads: compress in this thread */
		threads = 0;
	}
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK) {
		rc = archive_fail(w, "set up the archive for", NULL, err);
		goto cleanup;
	}
	/* one tar block of padding at the end, not libarchive's 10 KiB */
	archive_write_set_bytes_in_last_block(w->a, 1);
	if (archive_write_open2(w->a, w, NULL, sink_write_cb, sink_close_cb, NULL) != ARCHIVE_OK) {
		rc = archive_fail(w, "start writing", NULL, err);
		goto cleanup;
	}
	*out = w;
	w = NULL;
cleanup:
	if (w) {
		if (w->a)
			archive_write_free(w->a);
		writer_free(w);
	}
	return rc;
}

static g3_rc write_header(g3_snap_writer *w, const char *name, int64_t size, g3_err *err)
{
	struct archive_entry *e;
	g3_rc rc = G3_OK;

	if (w->failed)
		return g3_err_set(err, G3_FAIL, "the snapshot writer failed earlier");
	if (!g3_snap_name_ok(name))
		return g3_err_set(err, G3_USAGE, "invalid snapshot member name \"%s\"", name);
	if (g3_snap_log_find(&w->log, name) >= 0)
		return g3_err_set(err, G3_FAIL, "snapshot member \"%s\" written twice", name);
	EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
	w->member_bytes = 0;
	memcpy(w->cur_sha, w->next_sha, sizeof(w->cur_sha));
	w->next_sha[0] = '\0';
	e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, w->mtime, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		rc = archive_fail(w, "add", name, err);
	archive_entry_free(e);
	return rc;
}

static g3_rc write_data(g3_snap_writer *w, const char *name, const void *data,
			size_t len, g3_err *err)
{
	const char *p = data;

	if (!w->cur_sha[0])
		EVP_DigestUpdate(w->md, data, len);
	w->member_bytes += (int64_t)len;
	while (len) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0)
			return archive_fail(w, "write", name, err);
		p += n;
		len -= (size_t)n;
	}
	return G3_OK;
}

g3_rc g3_snap_add_member(g3_snap_writer *w, const char *name,
			 const void *data, size_t len, g3_err *err)
{
	g3_rc rc;

	if ((rc = write_header(w, name, (int64_t)len, err)) ||
	    (rc = write_data(w, name, data, len, err)))
		return rc;
	if (archive_write_finish_entry(w->a) != ARCHIVE_OK)
		return archive_fail(w, "finish", name, err);
	log_member(w, name);
	w->members++;
	return G3_OK;
}

g3_rc g3_snap_add_member_stream(g3_snap_writer *w, const char *name,
				int64_t size, g3_snap_read_cb read_cb,
				void *ctx, g3_err *err)
{
	char *buf = NULL;
	int64_t left = size;
	g3_rc rc;

	if ((rc = write_header(w, name, size, err)))
		return rc;
	buf = g3_xmalloc(STREAM_BUF);
	for (;;) {
		ssize_t n = read_cb(ctx, buf, STREAM_BUF, err);

		if (n < 0) {
			w->failed = 1;
			rc = err->rc ? err->rc : G3_FAIL;
			goto cleanup;
		}
		if (n == 0)
			break;
		if ((int64_t)n > left) {
			w->failed = 1;
			rc = g3_err_set(err, G3_FAIL, "member \"%s\" grew beyond its %lld bytes",
					name, (long long)size);
			goto cleanup;
		}
		if ((rc = write_data(w, name, buf, (size_t)n, err)))
			goto cleanup;
		left -= n;
	}
	if (left) {
		w->failed = 1;
		rc = g3_err_set(err, G3_FAIL, "member \"%s\" ended %lld bytes short of its %lld",
				name, (long long)left, (long long)size);
		goto cleanup;
	}
	if (archive_write_finish_entry(w->a) != ARCHIVE_OK) {
		rc = archive_fail(w, "finish", name, err);
		goto cleanup;
	}
	log_member(w, name);
	w->members++;
cleanup:
	free(buf);
	return rc;
}

uint64_t g3_snap_writer_members(const g3_snap_writer *w)
{
	return w->members;
}

void g3_snap_writer_member_sum(g3_snap_writer *w, const char *sha256)
{
	snprintf(w->next_sha, sizeof(w->next_sha), "%s", sha256);
}

const g3_snap_log *g3_snap_writer_log(const g3_snap_writer *w)
{
	return &w->log;
}

g3_rc g3_snap_writer_finish(g3_snap_writer *w, g3_err *err)
{
	g3_rc rc = G3_OK;

	if (w->failed) {
		rc = g3_err_set(err, G3_FAIL, "the snapshot writer failed earlier");
		w->aborted = 1;
		g3_sink_abort(w->sink);
		goto cleanup;
	}
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		rc = archive_fail(w, "finish", NULL, err);
		g3_sink_abort(w->sink);
		goto cleanup;
	}
	rc = g3_sink_commit(w->sink, err);
cleanup:
	archive_write_free(w->a);
	writer_free(w);
	return rc;
}

void g3_snap_writer_abort(g3_snap_writer *w)
{
	if (!w)
		return;
	g3_sink_abort(w->sink);
	/* free without close: nothing more reaches the (aborted) sink */
	w->aborted = 1;
	/* free closes the archive (releasing libarchive's buffers; after
	 * archive_write_fail they would leak) into callbacks that drop it */
	archive_write_free(w->a);
	writer_free(w);
}
