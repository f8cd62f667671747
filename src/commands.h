/*
 * The subcommands: each lives in its own folder over libgen3db and is
 * reached only through main.c's table.
 */
#ifndef G3_COMMANDS_H
#define G3_COMMANDS_H

#include "common/base/opts.h"

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

/* Each command's options (src/common/base/opts.h): its rows and --help,
 * for tests/unit/test_options.c. */
extern const g3_cmd_spec cmd_create_spec, cmd_restore_spec, cmd_dump_spec, cmd_inspect_spec,
	cmd_verify_spec, cmd_fetch_spec, cmd_ls_spec, cmd_restore_es_spec, cmd_dump_es_spec;

#endif
