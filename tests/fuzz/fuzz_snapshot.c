/*
 * libFuzzer target for every parser of snapshot input: the first byte
 * picks one, the rest is its input.
 *   0 manifest.json   1 chunk header   2 end.json   3 post-data split
 *   4 post-data.json  5 member names   6 es/<index>/index.json
 *   7 es docs header  8 the reader of a .tar.zst name  9 of a .sql.gz name
 * (the reader sniffs tar, zstd, gzip or plain text whatever the name).
 * Build and run: make fuzz (tests/fuzz/README.md)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/es/elasticdump.h"
#include "common/snap/snapreader.h"
#include "common/snap/snapshot.h"
#include "common/io/source.h"
#include "common/base/strbuf.h"

struct mem {
	const uint8_t *p;
	size_t left;
};

static ssize_t mem_read(g3_source *src, void *buf, size_t len, g3_err *err)
{
	struct mem *m = src->impl;

	(void)err;
	/* odd read sizes exercise the callback's boundaries */
	if (len > 997)
		len = 997;
	if (len > m->left)
		len = m->left;
	memcpy(buf, m->p, len);
	m->p += len;
	m->left -= len;
	return (ssize_t)len;
}

static void mem_close(g3_source *src)
{
	free(src->impl);
}

static const struct g3_source_ops mem_ops = { mem_read, mem_close };

static void fuzz_reader(const uint8_t *data, size_t size, const char *name)
{
	struct mem *m = g3_xcalloc(1, sizeof(*m));
	g3_source *src;
	g3_reader *r = NULL;
	g3_err err;
	const char *member;
	int64_t msize;
	char buf[4096];

	m->p = data;
	m->left = size;
	src = g3_source_new(&mem_ops, name, (int64_t)size, m);
	g3_err_init(&err);
	if (g3_reader_open(src, &r, &err) == G3_OK) {
		int members = 0;

		while (members++ < 1000 && g3_reader_next(r, &member, &msize, &err) == 1) {
			ssize_t n;
			int reads = 0;

			while (reads++ < 100000 && (n = g3_reader_read(r, buf, sizeof(buf), &err)) > 0)
				;
		}
	}
	g3_reader_close(r);
	g3_source_close(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	size_t len;
	g3_err err;

	if (size < 1)
		return 0;
	in = (const char *)data + 1;
	len = size - 1;
	g3_err_init(&err);
	switch (data[0] % 10) {
	case 0: {
		g3_manifest m;

		if (!g3_manifest_parse(in, len, &m, &err))
			g3_manifest_release(&m);
		break;
	}
	case 1: {
		g3_chunk_header h;

		if (!g3_chunk_header_parse(in, len, "h.json", &h, &err))
			g3_chunk_header_release(&h);
		break;
	}
	case 2: {
		g3_snap_end e;

		if (!g3_snap_end_parse(in, len, &e, &err))
			g3_snap_end_release(&e);
		break;
	}
	case 3: {
		g3_postdata p;
		g3_buf json = G3_BUF_INIT;

		g3_postdata_split(in, len, &p);
		g3_postdata_to_json(&p, &json);
		g3_postdata_release(&p);
		g3_buf_release(&json);
		break;
	}
	case 4: {
		g3_postdata p;

		if (!g3_postdata_parse(in, len, &p, &err))
			g3_postdata_release(&p);
		break;
	}
	case 5: {
		char *name = g3_xmalloc(len + 1);
		char db[64];
		uint64_t num;

		memcpy(name, in, len);
		name[len] = '\0';
		g3_snap_name_ok(name);
		g3_snap_member_kind(name, db, sizeof(db), &num);
		free(name);
		break;
	}
	case 6: {
		g3_esdef d;

		g3_esdef_init(&d);
		if (!g3_es_index_member_parse(in, len, "es/x/index.json", &d, &err))
			json_object_put(g3_esdef_create_body(&d, 1));
		g3_esdef_release(&d);
		break;
	}
	case 7: {
		g3_es_docs_header h;

		g3_es_docs_header_parse(in, len, "es/x/docs.000001.json", &h, &err);
		break;
	}
	case 8:
		fuzz_reader(data + 1, len, "fuzz.tar.zst");
		break;
	default:
		fuzz_reader(data + 1, len, "fuzz.sql.gz");
		break;
	}
	return 0;
}
