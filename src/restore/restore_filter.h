/*
 * --table, --exclude-table and --exclude-table-data of the restore command
 * (restore_filter.c), over the library's table filter.
 */
#ifndef G3_RESTORE_FILTER_H
#define G3_RESTORE_FILTER_H

#include <json-c/json.h>

#include "load.h"

/* Table patterns (restore_filter.c). filter_add compiles one (exit 2 on a
 * bad one); filter_check_plan refuses, before anything is touched, a
 * pattern that matches no table of a snapshot's manifest; filter_check
 * the same after a plain dump was read (its target is not yet in place);
 * filter_report adds what was left out of d to its summary. */
g3_rc filter_add(struct restore_opts *o, enum g3_tablefilter_list list, const char *pattern,
		 g3_err *err);
g3_rc filter_check_plan(const struct restore_opts *o, const struct plan *p, g3_err *err);
g3_rc filter_check(const struct restore_opts *o, g3_err *err);
void filter_report(const struct db_load *d, json_object *o);
void filter_free(struct restore_opts *o);

#endif
