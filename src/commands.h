/*
 * The subcommands: each lives in its own folder over libgen3db and is
 * reached only through main.c's table.
 */
#ifndef G3_COMMANDS_H
#define G3_COMMANDS_H

#include <getopt.h>

int cmd_create(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_ls(int argc, char **argv);

int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
/* temporary: fold into restore and dump at merge time */
int restore_es_main(int argc, char **argv);
int dump_es_main(int argc, char **argv);

/* A command's getopt table and --help text, for tests/unit/test_options.c,
 * which checks every table's ids (src/common/base/optids.h) and names. */
typedef struct g3_cmd_options {
	const char *name;
	const struct option *table;
	const char *usage;
} g3_cmd_options;

extern const g3_cmd_options cmd_create_options, cmd_restore_options, cmd_dump_options,
	cmd_inspect_options, cmd_verify_options, cmd_fetch_options, cmd_ls_options,
	cmd_restore_es_options, cmd_dump_es_options;

#endif
