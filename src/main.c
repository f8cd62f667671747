/*
 * gen3db: one dispatch table of subcommands, as git's git.c.
 * A new subcommand is one row here and one folder under src/.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "common/base/progress.h"
#include "version.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct cmd commands[] = {
	{ "create", cmd_create, "provision service databases, roles, grants and extensions" },
	{ "restore", cmd_restore, "restore databases and indices from snapshots or plain SQL dumps" },
	{ "dump", cmd_dump, "write a snapshot of databases and indices (.tar.zst)" },
	{ "inspect", cmd_inspect, "show what a snapshot holds (reads only its manifest)" },
	{ "verify", cmd_verify, "check every member of a snapshot without any server" },
	{ "fetch", cmd_fetch, "copy a file, http(s):// or s3:// source to a file, stdout or s3://" },
	{ "ls", cmd_ls, "list the keys under an s3://bucket/prefix/" },
	{ "restore-es", restore_es_main, "restore Elasticsearch indices from elasticdump files" },
	{ "dump-es", dump_es_main, "dump indices into elasticdump files (dump --es --output DIR/)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: gen3db <command> [options]\n\n"
		"Provision, restore and dump a Gen3 data commons' PostgreSQL databases\n"
		"and Elasticsearch indices.\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "show a command's options (gen3db help COMMAND)");
	fprintf(f, "\nexit codes: 0 success, 1 failure, 2 usage or bad input (nothing was\n"
		"changed), 3 a target was unreachable within --wait\n"
		"\n'gen3db COMMAND --help' shows a command's options.\n");
}

static const struct cmd *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	g3_err err;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("gen3db %s\n", GEN3DB_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help")) {
		char *help_argv[3];

		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		c = find(argv[2]);
		if (!c) {
			fprintf(stderr, "gen3db: unknown command \"%s\"\n", argv[2]);
			return 2;
		}
		help_argv[0] = argv[2];
		help_argv[1] = "--help";
		help_argv[2] = NULL;
		return c->fn(2, help_argv);
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "gen3db: unknown command \"%s\"\nhint: 'gen3db --help' lists the commands\n",
			argv[1]);
		return 2;
	}
	/* checked before any command reads a file or reaches a server */
	g3_err_init(&err);
	if (g3_progress_configure(&err)) {
		fprintf(stderr, "gen3db: %s\nhint: %s\n", err.msg, err.hint);
		return 2;
	}
	g3_progress_set_phase(c->name);
	return c->fn(argc - 1, argv + 1);
}
