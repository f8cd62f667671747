/*
 * libFuzzer target for the elasticdump reader (src/common/es/elasticdump.c).
 * First byte even: the rest is a __data.json stream, read twice, with the
 * validating scanner's fast path and with json-c only; both readings must
 * give the same documents (ids byte for byte, sources equal as JSON) and
 * the same error, and every id must be the whole "_id" string. Odd: the
 * rest is written as the definition files of one index (bit 1 clear: as
 * its mapping, settings, analyzer, alias and template files; set: as its
 * index file), in either of elasticdump's spellings (the JSON, or a JSON
 * string holding it), read as an index definition, then turned into create
 * bodies.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/es/elasticdump.h"

struct doc {
	char *id;
	json_object *src;
};

/* Reads every document; returns the count, *err the final error if any. */
static size_t read_all(const char *data, size_t size, int json_c_only, struct doc *docs,
		       size_t max, g3_err *err)
{
	FILE *f = fmemopen((void *)data, size, "r");
	g3_docreader r;
	const char *id, *src;
	size_t len, n = 0;
	int got;

	if (!f)
		abort();
	g3_err_init(err);
	g3_docreader_attach(&r, f, "x__data.json");
	r.json_c_only = json_c_only;
	while (n < max && (got = g3_docreader_next(&r, &id, &src, &len, err)) == 1) {
		if (strlen(src) != len)
			abort();
		if (r.cur) {
			/* json-c's reading: the id is the whole "_id" string */
			json_object *v;

			if (!json_object_object_get_ex(r.cur, "_id", &v) ||
			    strlen(id) != (size_t)json_object_get_string_len(v))
				abort();
		}
		docs[n].id = strdup(id);
		docs[n].src = json_tokener_parse(src);
		if (!docs[n].src)
			abort();  /* a source that is not JSON */
		n++;
	}
	g3_docreader_release(&r);
	fclose(f);
	return n;
}

static void fuzz_docs(const char *data, size_t size)
{
	struct doc a[64], b[64];
	g3_err ea, eb;
	size_t na, nb;

	na = read_all(data, size, 0, a, 64, &ea);
	nb = read_all(data, size, 1, b, 64, &eb);
	if (na != nb || ea.rc != eb.rc || strcmp(ea.msg, eb.msg))
		abort();
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i].id, b[i].id) || !json_object_equal(a[i].src, b[i].src))
			abort();
		free(a[i].id);
		free(b[i].id);
		json_object_put(a[i].src);
		json_object_put(b[i].src);
	}
}

static char dir[] = "/tmp/gen3db-fuzz-XXXXXX";
static char path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

/* whole: the input is an index file (GET /<index>), the definition when
 * there is no mapping file; else it is every other definition file */
static void fuzz_definition(const char *data, size_t size, int whole)
{
	g3_edump_files files;
	g3_esdef d;
	g3_err err;
	FILE *f;

	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	/* every definition type reads the same input: plain or, as elasticdump
	 * writes all but mappings, a JSON string holding the document */
	memset(&files, 0, sizeof(files));
	if (whole)
		files.index = path;
	else
		files.mapping = files.settings = files.alias = files.analyzer = files.templates = path;
	g3_esdef_init(&d);
	g3_err_init(&err);
	if (!g3_esdef_read(&d, &files, &err)) {
		json_object_put(g3_esdef_create_body(&d, 0));
		json_object_put(g3_esdef_create_body(&d, 1));
	}
	g3_esdef_release(&d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/x__mapping.json", dir);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_docs((const char *)data + 1, size - 1);
	else
		fuzz_definition((const char *)data + 1, size - 1, data[0] & 2);
	return 0;
}
