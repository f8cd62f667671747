/*
 * The options every command that reads or writes remote data takes
 * (--s3-endpoint, --region, --no-sign-request, --ca-file, --retries,
 * --s3-part-size), as one fragment of option rows (opts.h), like the
 * common options. They fill the http and s3 defaults that
 * g3_source_open and g3_sink_open use.
 *
 * Usage: g3_remote_options_init first, a section G3_SECTION(g3_remote_rows,
 * offsetof(struct, the g3_remote_opts)) in the command's spec, then
 * g3_remote_options_apply before any I/O, g3_remote_options_release at
 * the end. Not thread-safe: parse options before starting threads.
 */
#ifndef G3_REMOTEOPTS_H
#define G3_REMOTEOPTS_H

#include <json-c/json.h>

#include "../base/err.h"
#include "../base/opts.h"
#include "s3.h"

typedef struct g3_remote_opts {
	g3_s3_config s3;
	long retries;     /* -1: default */
} g3_remote_opts;

void g3_remote_options_init(g3_remote_opts *o);
void g3_remote_options_release(g3_remote_opts *o);

/* The option rows (opts.h), a section at the g3_remote_opts: fields
 * s3_endpoint, s3_region, no_sign_request, ca_file, retries, s3_part_size
 * (null when not given) for GEN3DB_PRINT_OPTIONS. */
extern const g3_opt g3_remote_rows[9];

/* Installs the options as the http and s3 defaults. */
void g3_remote_options_apply(const g3_remote_opts *o);

#endif
