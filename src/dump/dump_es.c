/*
 * gen3db dump-es: Elasticsearch indices into elasticdump files.
 *
 * Temporary command: at merge time it folds into `gen3db dump`, whose
 * snapshot writer takes the same definition and document callbacks
 * (g3_esdump_definition, g3_esdump_documents) with members es/<index>/...
 * instead of files. Files are written as <name>.part and renamed when
 * complete; a failed index leaves no file behind.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../commands.h"
#include "../common/es/elasticdump.h"
#include "../common/es/es.h"
#include "../common/es/esrestore.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/base/progress.h"
#include "../common/base/strbuf.h"

#define FLUSH_BYTES (1u << 20)

struct dump_es_opts {
	char **indices;
	size_t n_indices;
	const char *output;
	const char *es_url;
	const char *cacert;
	long wait;
	long page;
};

#define DO struct dump_es_opts

static const g3_opt dump_es_rows[] = {
	G3_ROW_LIST("index", 0, DO, indices, n_indices, "indices", "NAME",
		    "repeatable (an alias or an index); default:\n"
		    "GUPPY_INDICES and GUPPY_CONFIGINDEX"),
	G3_ROW_STR("output", 0, DO, output, "output", "DIR",
		   "where the files go (created if missing)"),
	G3_ROW_LONG("page-size", 0, DO, page, 1, 10000, "page_size", "N",
		    "documents per search request (default 1000)"),
	G3_ES_ROWS(DO, es_url, cacert),
	G3_ROW_WAIT(DO, wait, "the cluster"),
};

const g3_cmd_spec cmd_dump_es_spec =
	G3_CMD_SPEC_ROWS("dump-es", dump_es_rows, 'h', G3_BAD_HINT, NULL, -1,
	"usage: gen3db dump-es --index NAME ... --output DIR [options]\n"
	"\n"
	"Dump Elasticsearch indices into elasticdump files in DIR: per index\n"
	"<NAME>__mapping.json, <NAME>__settings.json (without per-cluster keys),\n"
	"<NAME>__alias.json and every document in <NAME>__data.json (NDJSON), as\n"
	"elasticdump 6 writes them (settings and alias as JSON-encoded strings), so\n"
	"that elasticdump can import them (its types mapping, settings, alias, data).\n"
	"\n",
	"\n"
	"exit codes: 0 all indices dumped, 1 failure, 2 usage or bad input, 3 the\n"
	"cluster was unreachable within --wait\n");

struct datafile {
	FILE *f;
	const char *path;
	const char *index;
	g3_buf buf;
	int64_t docs;        /* in buf */
};

static g3_rc flush(struct datafile *d, g3_err *err)
{
	if (d->buf.len && fwrite(d->buf.data, 1, d->buf.len, d->f) != d->buf.len)
		return g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", d->path, strerror(errno));
	g3_progress_add_bytes((int64_t)d->buf.len);
	g3_progress_item_add(d->index, d->docs);
	d->docs = 0;
	g3_buf_reset(&d->buf);
	return G3_OK;
}

static g3_rc write_doc(void *arg, const char *index, const char *type, const char *id,
		       const char *source, size_t len, g3_err *err)
{
	struct datafile *d = arg;

	g3_docwriter_line(&d->buf, index, type, id, source, len);
	d->docs++;
	return d->buf.len >= FLUSH_BYTES ? flush(d, err) : G3_OK;
}

static char *out_path(const char *dir, const char *index, const char *what, int part)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s/%s__%s.json%s", dir, index, what, part ? ".part" : "");
	return g3_buf_detach(&b);
}

/*
 * Writes {"<concrete>": {key: value}} into DIR/<index>__<what>.json; as a
 * JSON string holding that text when encoded, the way elasticdump writes
 * (and only reads back) its settings and alias files.
 */
static g3_rc write_def(const char *dir, const char *index, const char *what, const char *concrete,
		       const char *key, json_object *value, int encoded, g3_err *err)
{
	json_object *root = json_object_new_object(), *inner = json_object_new_object();
	json_object *str = NULL;
	char *part = out_path(dir, index, what, 1), *final = out_path(dir, index, what, 0);
	FILE *f = NULL;
	const char *text;
	int ok;
	g3_rc rc = G3_OK;

	json_object_object_add(inner, key, json_object_get(value));
	json_object_object_add(root, concrete, inner);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (encoded) {
		str = json_object_new_string(text);
		text = json_object_to_json_string_ext(str, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	}
	f = fopen(part, "wb");
	if (!f) {
		rc = g3_err_set(err, G3_FAIL, "could not create \"%s\": %s", part, strerror(errno));
		goto cleanup;
	}
	ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (fclose(f) || !ok) {
		rc = g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", part, strerror(errno));
		unlink(part);
		goto cleanup;
	}
	if (rename(part, final))
		rc = g3_err_set(err, G3_FAIL, "could not rename \"%s\": %s", part, strerror(errno));
cleanup:
	json_object_put(str);
	json_object_put(root);
	free(part);
	free(final);
	return rc;
}

static g3_rc dump_index(g3_es *es, const struct dump_es_opts *o, const char *index, g3_err *err)
{
	json_object *mappings = NULL, *settings = NULL, *aliases = NULL;
	char *concrete = NULL, *part = NULL, *final = NULL;
	struct datafile d = { NULL, NULL, index, G3_BUF_INIT, 0 };
	uint64_t count = 0;
	g3_rc rc;

	if ((rc = g3_esdump_definition(es, index, &concrete, &mappings, &settings, &aliases, err)))
		goto cleanup;
	if ((rc = write_def(o->output, index, "mapping", concrete, "mappings", mappings, 0, err)) ||
	    (rc = write_def(o->output, index, "settings", concrete, "settings", settings, 1, err)) ||
	    (rc = write_def(o->output, index, "alias", concrete, "aliases", aliases, 1, err)))
		goto cleanup;
	part = out_path(o->output, index, "data", 1);
	final = out_path(o->output, index, "data", 0);
	d.path = part;
	if (!(d.f = fopen(part, "wb"))) {
		rc = g3_err_set(err, G3_FAIL, "could not create \"%s\": %s", part, strerror(errno));
		goto cleanup;
	}
	g3_progress_item_start(index, G3_PROGRESS_DOCS);
	if ((rc = g3_esdump_documents(es, index, (int)o->page, write_doc, &d, &count, err)))
		goto cleanup;
	if ((rc = flush(&d, err)))
		goto cleanup;
	g3_progress_item_done(index, (int64_t)count);
	if (fclose(d.f)) {
		d.f = NULL;
		rc = g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", part, strerror(errno));
		goto cleanup;
	}
	d.f = NULL;
	if (rename(part, final)) {
		rc = g3_err_set(err, G3_FAIL, "could not rename \"%s\": %s", part, strerror(errno));
		goto cleanup;
	}
	g3_info("dumped index \"%s\" (%s): %llu %s", index, concrete,
		(unsigned long long)count, g3_plural((long long)count, "document", "documents"));
cleanup:
	if (d.f)
		fclose(d.f);
	if (rc && part)
		unlink(part);
	g3_buf_release(&d.buf);
	free(part);
	free(final);
	free(concrete);
	json_object_put(mappings);
	json_object_put(settings);
	json_object_put(aliases);
	return rc;
}

int dump_es_main(int argc, char **argv)
{
	struct dump_es_opts o;
	g3_esconf conf;
	g3_es es;
	g3_err err;
	g3_rc rc = G3_OK;
	int args = 0, done = 0, from_env = 0;

	memset(&o, 0, sizeof(o));
	o.wait = 300;
	o.page = 1000;
	g3_esconf_init(&conf);
	g3_es_init(&es);
	g3_err_init(&err);
	if ((rc = g3_opts_parse(&cmd_dump_es_spec, &o, argc, argv, &args, &done, &err)) || done)
		goto cleanup;
	if (args < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[args]);
		goto cleanup;
	}
	if (!o.output) {
		rc = g3_err_set(&err, G3_USAGE, "no output directory given (--output DIR)");
		goto cleanup;
	}
	if (!o.n_indices) {
		from_env = 1;
		g3_es_indices_from_env(&o.indices, &o.n_indices);
	}
	if (!o.n_indices) {
		rc = g3_err_set(&err, G3_USAGE, "no index to dump");
		g3_err_hint(&err, "give --index NAME, or set GUPPY_INDICES and GUPPY_CONFIGINDEX");
		goto cleanup;
	}
	for (size_t i = 0; i < o.n_indices; i++) {
		if ((rc = g3_es_name_check(o.indices[i], from_env ? G3_ES_ENV_ORIGIN : "--index",
					   &err)))
			goto cleanup;
	}
	if ((rc = g3_esconf_set(&conf, o.es_url, o.cacert, &err)))
		goto cleanup;
	if (mkdir(o.output, 0777) && errno != EEXIST) {
		rc = g3_err_set(&err, G3_FAIL, "could not create \"%s\": %s", o.output, strerror(errno));
		goto cleanup;
	}
	if ((rc = g3_es_connect(&es, &conf, (int)o.wait, &err)))
		goto cleanup;
	g3_progress_init(-1);
	g3_progress_set_totals(-1, (int)o.n_indices);
	for (size_t i = 0; i < o.n_indices; i++) {
		if ((rc = dump_index(&es, &o, o.indices[i], &err))) {
			g3_err_prefix(&err, "index \"%s\" was not dumped", o.indices[i]);
			goto cleanup;
		}
	}
cleanup:
	g3_progress_finish();
	if (rc && err.msg[0])
		g3_log_err(&err);
	g3_es_release(&es);
	g3_esconf_release(&conf);
	g3_strlist_free(o.indices, o.n_indices);
	return g3_exit_code(rc);
}
