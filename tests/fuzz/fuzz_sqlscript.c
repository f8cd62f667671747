/*
 * libFuzzer target for the psql script splitter (src/common/pg/sqlscript.c):
 * the input is split whole and in pieces of a size taken from its first
 * byte; both runs must give the same statements, COPY data and result
 * (the splitter must not depend on where reads end), and every statement
 * must be a NUL-free C string of its stated length.
 * Run: tests/fuzz/run-sqlscript [SECONDS]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg/sqlscript.h"
#include "common/base/strbuf.h"

/* the transcript, and COPY data joined until its block ends (pieces
 * differ with the split) */
struct rec {
	g3_buf out;
	g3_buf data;
};

static g3_rc on_stmt(void *ctx, const g3_sqlstmt *st, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	if (strlen(st->sql) != st->len)
		abort();
	g3_buf_addf(&r->out, "S%ld%d:%s\n", st->line, st->copy_in, st->sql);
	return G3_OK;
}

static g3_rc on_data(void *ctx, const char *d, size_t n, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	if (!n)
		abort();
	g3_buf_add(&r->data, d, n);
	return G3_OK;
}

static g3_rc on_end(void *ctx, long lines, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	g3_buf_addf(&r->out, "D%zu:", r->data.len);
	g3_buf_add(&r->out, r->data.data, r->data.len);
	g3_buf_addf(&r->out, "E%ld\n", lines);
	g3_buf_reset(&r->data);
	return G3_OK;
}

static g3_rc on_meta(void *ctx, const char *name, const char *arg, long line, g3_err *err)
{
	struct rec *r = ctx;

	(void)err;
	g3_buf_addf(&r->out, "M%ld:%s:%s\n", line, name, arg);
	return G3_OK;
}

static const struct g3_sqlscript_cb cbs = { on_stmt, on_data, on_end, on_meta };

static void split(const uint8_t *data, size_t size, size_t step, struct rec *out, g3_err *err)
{
	g3_sqlscript *s = g3_sqlscript_new(&cbs, out);
	g3_rc rc = G3_OK;

	g3_err_init(err);
	for (size_t i = 0; i < size && !rc; i += step)
		rc = g3_sqlscript_feed(s, (const char *)data + i, i + step > size ? size - i : step, err);
	if (!rc)
		g3_sqlscript_finish(s, err);
	g3_sqlscript_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec a, b;
	g3_err ea, eb;
	size_t step;

	if (!size)
		return 0;
	step = (size_t)data[0] % 16 + 1;
	data++;
	size--;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	split(data, size, size ? size : 1, &a, &ea);
	split(data, size, step, &b, &eb);
	/* data of an unfinished block too */
	g3_buf_add(&a.out, a.data.data, a.data.len);
	g3_buf_add(&b.out, b.data.data, b.data.len);
	if (ea.rc != eb.rc || strcmp(ea.msg, eb.msg) || a.out.len != b.out.len ||
	    (a.out.len && memcmp(a.out.data, b.out.data, a.out.len)))
		abort();
	g3_buf_release(&a.out);
	g3_buf_release(&a.data);
	g3_buf_release(&b.out);
	g3_buf_release(&b.data);
	return 0;
}
