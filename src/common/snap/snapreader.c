/*
 * Snapshot reader: libarchive over a g3_source through a read callback.
 * Source errors are kept in the reader (libarchive only sees -1) so the
 * message the user gets is the source's own, with the member named.
 */
#include "snapreader.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "../base/strbuf.h"

#define READ_BUF (256 * 1024)
#define DRAIN_BUF (64 * 1024)

struct g3_reader {
	struct archive *a;
	g3_source *src;
	g3_err src_err;        /* the source's error, when a read failed */
	char *buf;
	g3_reader_type type;
	char *member;          /* current member's name */
	/* the first header is read by open (to learn the format) and handed
	 * out by the first next */
	int pending;
	mode_t pending_type;
	int64_t pending_size;
	int at_end;
	int failed;
	/* g3_reader_peek's bytes of the current member, handed out by
	 * g3_reader_read before any new ones */
	char *peek;
	size_t peek_len, peek_off;
	int member_read;       /* g3_reader_read ran on the current member */
	int decoded;           /* some bytes of the stream decoded (any member) */
	/* member sums (archives): the current member's hash and size */
	EVP_MD_CTX *md;
	int64_t member_bytes;
	char given_sha[65];    /* set by g3_reader_member_sum: not hashed */
	g3_snap_log log;
	char *drain;           /* unread member bytes go through here */
};

static void peek_drop(g3_reader *r)
{
	free(r->peek);
	r->peek = NULL;
	r->peek_len = r->peek_off = 0;
}

static la_ssize_t src_read_cb(struct archive *a, void *ctx, const void **out)
{
	g3_reader *r = ctx;
	ssize_t n = g3_source_read(r->src, r->buf, READ_BUF, &r->src_err);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", r->src_err.msg);
		return -1;
	}
	*out = r->buf;
	return n;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* "dir/fence.sql.gz" -> "fence.sql" */
static char *raw_member_name(const char *src_name)
{
	const char *base = strrchr(src_name, '/');
	static const char *const suffixes[] = { ".gz", ".zst", ".zstd", ".bz2", ".xz", NULL };
	char *name;

	base = base ? base + 1 : src_name;
	name = g3_xstrdup(*base ? base : "data");
	for (int i = 0; suffixes[i]; i++) {
		if (ends_with(name, suffixes[i]) && strlen(name) > strlen(suffixes[i])) {
			name[strlen(name) - strlen(suffixes[i])] = '\0';
			break;
		}
	}
	for (char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	return name;
}

/* libarchive's message, made to read like ours: "truncated" for the
 * several ways it says an archive ended early. */
static void describe_error(g3_reader *r, char *buf, size_t size)
{
	const char *m = archive_error_string(r->a);

	if (r->src_err.rc) {
		snprintf(buf, size, "%s", r->src_err.msg);
		return;
	}
	if (!m)
		m = "unknown error";
	if (strstr(m, "runcated") || strstr(m, "nexpected end") || strstr(m, "remature end"))
		snprintf(buf, size, "truncated");
	else {
		snprintf(buf, size, "%s", m);
		if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
			buf[0] = (char)(buf[0] - 'A' + 'a');
	}
}

static g3_rc read_fail(g3_reader *r, const char *member, g3_err *err)
{
	char why[G3_ERR_MSG_MAX / 2];
	/* before the first member, a stream that does not decode is bad
	 * input found before anything was done with it */
	g3_rc rc = r->src_err.rc == G3_USAGE || (!r->src_err.rc && !r->decoded) ? G3_USAGE
										  : G3_FAIL;

	r->failed = 1;
	describe_error(r, why, sizeof(why));
	if (member)
		return g3_err_set(err, rc, "could not read snapshot \"%s\": %s in member \"%s\"",
				  r->src->name, why, member);
	return g3_err_set(err, rc, "could not read snapshot \"%s\": %s", r->src->name, why);
}

/* No format bid at all: raw takes any stream of at least one byte, so the
 * (decoded) stream is empty. libarchive's errno for it is platform-defined;
 * its message is not. */
static int no_format(g3_reader *r)
{
	const char *m = archive_error_string(r->a);

	return !r->src_err.rc && m && strstr(m, "nrecognized archive format");
}

static g3_rc empty_fail(g3_reader *r, g3_err *err)
{
	const char *filter = archive_filter_name(r->a, 0);

	r->failed = 1;
	if (r->src->consumed && filter && strcmp(filter, "none"))
		return g3_err_set(err, G3_USAGE, "\"%s\" is empty once decompressed (%s)",
				  r->src->name, filter);
	return g3_err_set(err, G3_USAGE, "\"%s\" is empty", r->src->name);
}

g3_rc g3_reader_open(g3_source *src, g3_reader **out, g3_err *err)
{
	g3_reader *r = g3_xcalloc(1, sizeof(*r));
	struct archive_entry *e;
	int st;
	g3_rc rc = G3_OK;

	*out = NULL;
	g3_err_init(&r->src_err);
	g3_snap_log_init(&r->log);
	r->src = src;
	r->buf = g3_xmalloc(READ_BUF);
	if (!(r->md = EVP_MD_CTX_new()))
		abort();
	r->a = archive_read_new();
	if (!r->a) {
		rc = g3_err_set(err, G3_FAIL, "out of memory");
		goto cleanup;
	}
	archive_read_support_filter_all(r->a);
	archive_read_support_format_tar(r->a);
	archive_read_support_format_raw(r->a);
	if (archive_read_open(r->a, r, NULL, src_read_cb, NULL) != ARCHIVE_OK) {
		rc = no_format(r) ? empty_fail(r, err) : read_fail(r, NULL, err);
		goto cleanup;
	}
	/* the format is known after the first header */
	st = archive_read_next_header(r->a, &e);
	if (st == ARCHIVE_OK || st == ARCHIVE_WARN)
		r->decoded = 1;
	if (st == ARCHIVE_EOF) {
		rc = empty_fail(r, err);
		goto cleanup;
	}
	if (st < ARCHIVE_WARN) {
		rc = no_format(r) ? empty_fail(r, err) : read_fail(r, NULL, err);
		goto cleanup;
	}
	r->pending = 1;
	if (archive_format(r->a) == ARCHIVE_FORMAT_RAW) {
		if (ends_with(src->name, ".tar") || ends_with(src->name, ".tar.zst") ||
		    ends_with(src->name, ".tar.gz") || ends_with(src->name, ".tgz")) {
			char probe[512];

			/* corrupt compressed data also fails the tar bid: say so */
			if (archive_read_data(r->a, probe, sizeof(probe)) < 0) {
				rc = read_fail(r, NULL, err);
				goto cleanup;
			}
			rc = g3_err_set(err, G3_USAGE,
					"could not read snapshot \"%s\": not a tar archive", src->name);
			goto cleanup;
		}
		r->type = G3_READER_RAW;
		r->member = raw_member_name(src->name);
		r->pending_type = AE_IFREG;
		r->pending_size = -1;
	} else {
		r->type = G3_READER_ARCHIVE;
		r->member = g3_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		r->pending_type = archive_entry_filetype(e);
		r->pending_size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	}
	*out = r;
	r = NULL;
cleanup:
	g3_reader_close(r);
	return rc;
}

g3_reader_type g3_reader_kind(const g3_reader *r)
{
	return r->type;
}

const char *g3_reader_filter(const g3_reader *r)
{
	const char *name = archive_filter_name(r->a, 0);

	return name ? name : "none";
}

const char *g3_reader_member(const g3_reader *r)
{
	return r->member;
}

static void member_begin(g3_reader *r);
static int member_end(g3_reader *r, g3_err *err);
static int member_unique(g3_reader *r, g3_err *err);

static int check_entry(g3_reader *r, mode_t type, g3_err *err)
{
	if (!g3_snap_name_ok(r->member)) {
		g3_buf shown = G3_BUF_INIT;

		/* show control characters escaped, never raw */
		for (const unsigned char *p = (const unsigned char *)r->member; *p; p++) {
			if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
				g3_buf_addf(&shown, "\\x%02x", *p);
			else
				g3_buf_addch(&shown, (char)*p);
		}
		g3_err_set(err, G3_USAGE,
			   "could not read snapshot \"%s\": invalid member name \"%s\"",
			   r->src->name, shown.data ? shown.data : "");
		g3_err_hint(err, "member names must be relative, without \"..\" or control characters");
		g3_buf_release(&shown);
		r->failed = 1;
		return -1;
	}
	if (type != AE_IFREG) {
		g3_err_set(err, G3_USAGE,
			   "could not read snapshot \"%s\": member \"%s\" is not a regular file",
			   r->src->name, r->member);
		r->failed = 1;
		return -1;
	}
	return 0;
}

int g3_reader_next(g3_reader *r, const char **name, int64_t *size, g3_err *err)
{
	struct archive_entry *e;
	int st;

	*name = NULL;
	*size = -1;
	if (r->failed) {
		g3_err_set(err, G3_FAIL, "could not read snapshot \"%s\": an earlier error stopped it",
			   r->src->name);
		return -1;
	}
	if (r->at_end)
		return 0;
	if (r->pending) {
		peek_drop(r);
		r->member_read = 0;
		r->pending = 0;
		if (r->type == G3_READER_ARCHIVE && check_entry(r, r->pending_type, err))
			return -1;
		if (r->type == G3_READER_ARCHIVE)
			member_begin(r);
		*name = r->member;
		*size = r->pending_size;
		return 1;
	}
	/* member_end reads what is left through the hash, peeked bytes too */
	if (r->type == G3_READER_ARCHIVE && r->member && member_end(r, err))
		return -1;
	peek_drop(r);
	r->member_read = 0;
	st = archive_read_next_header(r->a, &e);
	if (st == ARCHIVE_OK || st == ARCHIVE_WARN)
		r->decoded = 1;
	if (st == ARCHIVE_EOF) {
		r->at_end = 1;
		free(r->member);
		r->member = NULL;
		return 0;
	}
	if (st < ARCHIVE_WARN) {
		/* the error is in the member just finished or in the next header */
		read_fail(r, r->member, err);
		return -1;
	}
	free(r->member);
	r->member = g3_xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	if (r->type == G3_READER_RAW) {
		/* raw has exactly one member */
		r->at_end = 1;
		return 0;
	}
	if (check_entry(r, archive_entry_filetype(e), err) || member_unique(r, err))
		return -1;
	member_begin(r);
	*name = r->member;
	*size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	return 1;
}

ssize_t g3_reader_read(g3_reader *r, void *buf, size_t len, g3_err *err)
{
	la_ssize_t n;

	if (r->failed) {
		g3_err_set(err, G3_FAIL, "could not read snapshot \"%s\": an earlier error stopped it",
			   r->src->name);
		return -1;
	}
	if (!r->member || r->pending)
		return 0;
	r->member_read = 1;
	if (r->peek_off < r->peek_len) {
		size_t k = r->peek_len - r->peek_off;

		if (k > len)
			k = len;
		memcpy(buf, r->peek + r->peek_off, k);
		r->peek_off += k;
		if (r->peek_off == r->peek_len)
			peek_drop(r);
		n = (la_ssize_t)k;
	} else {
		n = archive_read_data(r->a, buf, len);
		if (n < 0) {
			read_fail(r, r->member, err);
			return -1;
		}
		if (n > 0)
			r->decoded = 1;
	}
	if (r->type == G3_READER_ARCHIVE && n > 0) {
		r->member_bytes += n;
		if (!r->given_sha[0])
			EVP_DigestUpdate(r->md, buf, (size_t)n);
	}
	return (ssize_t)n;
}

g3_rc g3_reader_peek(g3_reader *r, size_t want, const char **data, size_t *len,
		     g3_err *err)
{
	*data = "";
	*len = 0;
	if (r->failed) {
		return g3_err_set(err, G3_FAIL,
				  "could not read snapshot \"%s\": an earlier error stopped it",
				  r->src->name);
	}
	if (!r->member || r->pending)
		return G3_OK;
	if (r->member_read)
		return g3_err_set(err, G3_FAIL, "member \"%s\" was peeked at after a read",
				  r->member);
	if (!r->peek) {
		r->peek = g3_xmalloc(want ? want : 1);
		while (r->peek_len < want) {
			la_ssize_t n = archive_read_data(r->a, r->peek + r->peek_len,
							 want - r->peek_len);

			if (n < 0) {
				peek_drop(r);
				read_fail(r, r->member, err);
				/* the first bytes do not decode: bad input, found before
				 * anything was done with it (a source's own error keeps
				 * its code) */
				if (!r->src_err.rc)
					err->rc = G3_USAGE;
				return err->rc;
			}
			if (n == 0)
				break;
			r->decoded = 1;
			r->peek_len += (size_t)n;
		}
	}
	*data = r->peek;
	*len = r->peek_len < want ? r->peek_len : want;
	return G3_OK;
}

void g3_reader_member_sum(g3_reader *r, const char sha256[65])
{
	snprintf(r->given_sha, sizeof(r->given_sha), "%s", sha256);
}

const g3_snap_log *g3_reader_log(const g3_reader *r)
{
	return &r->log;
}

static void member_begin(g3_reader *r)
{
	EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
	r->member_bytes = 0;
	r->given_sha[0] = '\0';
}

/* Reads the rest of the current member through its hash and logs it. */
static int member_end(g3_reader *r, g3_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	static const char digits[] = "0123456789abcdef";
	unsigned n = 0;
	char sha[65];
	ssize_t got;

	if (!r->drain)
		r->drain = g3_xmalloc(DRAIN_BUF);
	while ((got = g3_reader_read(r, r->drain, DRAIN_BUF, err)) > 0)
		;
	if (got < 0)
		return -1;
	EVP_DigestFinal_ex(r->md, md, &n);
	if (r->given_sha[0]) {
		memcpy(sha, r->given_sha, sizeof(sha));
	} else {
		for (unsigned i = 0; i < n && i < 32; i++) {
			sha[2 * i] = digits[md[i] >> 4];
			sha[2 * i + 1] = digits[md[i] & 15];
		}
		sha[64] = '\0';
	}
	/* a name is logged only once: next refuses a repeated one */
	g3_snap_log_add(&r->log, r->member, r->member_bytes, sha);
	return 0;
}

static int member_unique(g3_reader *r, g3_err *err)
{
	if (g3_snap_log_find(&r->log, r->member) < 0)
		return 0;
	g3_err_set(err, G3_FAIL, "could not read snapshot \"%s\": member \"%s\" appears twice",
		   r->src->name, r->member);
	r->failed = 1;
	return -1;
}

g3_rc g3_reader_slurp(g3_reader *r, size_t max, g3_buf *out, g3_err *err)
{
	size_t start = out->len;

	for (;;) {
		ssize_t n;

		g3_buf_grow(out, 16384);
		n = g3_reader_read(r, out->data + out->len, out->cap - out->len - 1, err);
		if (n < 0)
			return err->rc ? err->rc : G3_FAIL;
		if (n == 0)
			return G3_OK;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (out->len - start > max)
			return g3_err_set(err, G3_USAGE,
					  "could not read snapshot \"%s\": member \"%s\" is larger than %zu bytes",
					  r->src->name, r->member ? r->member : "", max);
	}
}

void g3_reader_close(g3_reader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	G3_FREE_ALL(r->buf, r->member, r->peek, r->drain);
	EVP_MD_CTX_free(r->md);
	g3_snap_log_release(&r->log);
	free(r);
}
