/*
 * Table patterns as pg_dump's -t, -T and --exclude-table-data take them
 * (psql's \d pattern syntax, PostgreSQL docs "Patterns" under psql):
 *   - `*` matches any characters, `?` any one character; other regular
 *     expression characters ([0-9], +, |, parentheses) keep their meaning,
 *     `$` is literal;
 *   - outside double quotes letters fold to lower case; inside them case is
 *     kept and every character is literal (`""` is one `"`);
 *   - an unquoted `.` separates the schema part (itself a pattern) from the
 *     table part; without a schema part a pattern matches tables in the
 *     schema public (pg_dump's default search_path, as a dump's names are
 *     always schema-qualified); three parts (a database) are refused.
 * A pattern matches a whole name, not a part of it.
 *
 * g3_tablefilter holds the three lists and decides a table's fate: with
 * --table patterns only matching tables are kept; --exclude-table drops a
 * table whatever else matches; --exclude-table-data keeps its definition
 * without rows. Each pattern counts what it matched, so a pattern that
 * matched nothing is reported (g3_tablefilter_check). Not thread-safe:
 * used by one thread (the restore's or dump's leader).
 */
#ifndef G3_PGPATTERN_H
#define G3_PGPATTERN_H

#include <regex.h>
#include <stddef.h>

#include "../base/err.h"

typedef struct g3_pgpattern {
	char *text;             /* as given */
	regex_t schema;         /* compiled ^(...)$ of each part */
	regex_t name;
	long matches;           /* tables it matched so far */
} g3_pgpattern;

/* Compiles text into p (released with _release). G3_USAGE naming the
 * pattern on a bad one (empty part, too many dotted names, bad regex). */
g3_rc g3_pgpattern_compile(const char *text, g3_pgpattern *p, g3_err *err);
int g3_pgpattern_match(const g3_pgpattern *p, const char *schema, const char *name);
void g3_pgpattern_release(g3_pgpattern *p);

enum g3_table_fate { G3_TABLE_KEEP, G3_TABLE_NO_DATA, G3_TABLE_SKIP };

enum g3_tablefilter_list { G3_FILTER_TABLE, G3_FILTER_EXCLUDE, G3_FILTER_EXCLUDE_DATA };

typedef struct g3_tablefilter {
	g3_pgpattern *p[3];     /* by g3_tablefilter_list */
	size_t n[3];
} g3_tablefilter;

void g3_tablefilter_init(g3_tablefilter *f);
void g3_tablefilter_release(g3_tablefilter *f);
/* Adds a pattern to one list; G3_USAGE on a bad pattern. */
g3_rc g3_tablefilter_add(g3_tablefilter *f, enum g3_tablefilter_list list, const char *text,
			 g3_err *err);
/* 1 when any pattern was given. */
int g3_tablefilter_active(const g3_tablefilter *f);
/* The fate of table schema.name; counts the patterns that matched. */
enum g3_table_fate g3_tablefilter_decide(g3_tablefilter *f, const char *schema, const char *name);
/* G3_USAGE naming the first pattern that matched no table; G3_OK else. */
g3_rc g3_tablefilter_check(const g3_tablefilter *f, g3_err *err);
/* The option a list is given with: "--table", ... */
const char *g3_tablefilter_option(enum g3_tablefilter_list list);

#endif
