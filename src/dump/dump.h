/*
 * Private to the dump command: what `gen3db dump --es ... --output DIR`
 * and its alias `gen3db dump-es` share once their options are read.
 */
#ifndef G3_DUMP_H
#define G3_DUMP_H

#include <stddef.h>

#include "../common/base/err.h"

/*
 * Writes the elasticdump files of every index (names checked by the
 * caller) into dir, created if missing (esdump.h: g3_esdump_dir_*), with
 * the progress meter started here for them (the caller finishes it). A
 * failed index stops the run: err names it.
 */
g3_rc dump_es_dir(const char *url, const char *cacert, int wait, long page, const char *dir,
		  char *const *indices, size_t n, g3_err *err);

#endif
