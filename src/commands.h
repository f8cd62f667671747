/*
 * The subcommands: each lives in its own folder over libgen3db and is
 * reached only through main.c's table.
 */
#ifndef G3_COMMANDS_H
#define G3_COMMANDS_H

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

#endif
