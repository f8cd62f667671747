/*
 * Every command's getopt table against src/common/base/optids.h: no two options
 * of one table share an id or a name; ids are above 255 and below
 * G3_OPT_COMMAND_LIMIT; a shared option keeps its fragment's id, name and
 * argument; exactly the fragment's setter claims a shared id and no setter
 * claims a command's own id (two setters claiming one id is how --es-jobs
 * once became --s3-endpoint); every option is in the command's --help, so
 * tests/integration/test_options.py, which feeds every option --help
 * lists, reaches them all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "commands.h"
#include "common/es/es.h"
#include "common/es/esbulk.h"
#include "common/es/esrestore.h"
#include "common/base/log.h"
#include "common/base/optids.h"
#include "common/base/opts.h"
#include "common/io/remoteopts.h"

static const g3_cmd_options *const commands[] = {
	&cmd_create_options, &cmd_restore_options, &cmd_dump_options, &cmd_inspect_options,
	&cmd_verify_options, &cmd_fetch_options, &cmd_ls_options, &cmd_restore_es_options,
	&cmd_dump_es_options,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

enum setter { SET_COMMON, SET_REMOTE, SET_ESBULK, SET_ESRESTORE,
	      SET_NONE /* the command's own switch */ };

/* The shared fragments, as commands put them in their tables. */
static const struct option common_fragment[] = { G3_COMMON_LONG_OPTIONS };
static const struct option remote_fragment[] = { G3_REMOTE_LONG_OPTIONS };
static const struct option es_fragment[] = { G3_ES_LONG_OPTIONS };
static const struct option esbulk_fragment[] = { G3_ESBULK_LONG_OPTIONS };
static const struct option esrestore_fragment[] = { G3_ESRESTORE_LONG_OPTIONS };

static const struct {
	const struct option *opts;
	size_t n;
	enum setter setter;
} fragments[] = {
	{ common_fragment, sizeof(common_fragment) / sizeof(common_fragment[0]), SET_COMMON },
	{ remote_fragment, sizeof(remote_fragment) / sizeof(remote_fragment[0]), SET_REMOTE },
	{ es_fragment, sizeof(es_fragment) / sizeof(es_fragment[0]), SET_NONE },
	{ esbulk_fragment, sizeof(esbulk_fragment) / sizeof(esbulk_fragment[0]), SET_ESBULK },
	{ esrestore_fragment, sizeof(esrestore_fragment) / sizeof(esrestore_fragment[0]),
	  SET_ESRESTORE },
};
#define N_FRAGMENTS (sizeof(fragments) / sizeof(fragments[0]))

/* The fragment option with this id, or NULL; *setter its setter. */
static const struct option *shared(int id, enum setter *setter)
{
	for (size_t f = 0; f < N_FRAGMENTS; f++)
		for (size_t i = 0; i < fragments[f].n; i++)
			if (fragments[f].opts[i].val == id) {
				*setter = fragments[f].setter;
				return &fragments[f].opts[i];
			}
	return NULL;
}

/* Which setters say an id is theirs (1 or -1: theirs, 0: not). */
static unsigned claims(int id)
{
	g3_remote_opts ro;
	g3_esbulk_opts bo;
	g3_esrestore_opts eo;
	g3_err err;
	unsigned who = 0;
	int quiet = g3_log_get_quiet(), verbose = g3_log_get_verbose();
	g3_log_format fmt = g3_log_get_format();

	g3_err_init(&err);
	g3_remote_options_init(&ro);
	g3_esbulk_opts_init(&bo);
	g3_esrestore_opts_init(&eo);
	if (g3_common_option(id, "1", &err))
		who |= 1u << SET_COMMON;
	if (g3_remote_option(&ro, id, "1", &err))
		who |= 1u << SET_REMOTE;
	if (g3_esbulk_option(&bo, id, "1", &err))
		who |= 1u << SET_ESBULK;
	if (g3_esrestore_option(&eo, id, "1", &err))
		who |= 1u << SET_ESRESTORE;
	g3_remote_options_release(&ro);
	g3_log_set_quiet(quiet);
	g3_log_set_verbose(verbose);
	g3_log_set_format(fmt);
	return who;
}

static void test_fragments_cover_the_shared_ids_once(void **state)
{
	(void)state;
	for (int id = G3_OPT_FIRST; id < G3_OPT_COMMAND_FIRST; id++) {
		size_t seen = 0;

		for (size_t f = 0; f < N_FRAGMENTS; f++)
			for (size_t i = 0; i < fragments[f].n; i++)
				seen += fragments[f].opts[i].val == id;
		if (seen != 1)
			fail_msg("shared option id %d is in %zu fragments (optids.h: one each)", id, seen);
	}
	for (size_t f = 0; f < N_FRAGMENTS; f++)
		for (size_t i = 0; i < fragments[f].n; i++) {
			const struct option *o = &fragments[f].opts[i];

			if (o->val < G3_OPT_FIRST || o->val >= G3_OPT_COMMAND_FIRST)
				fail_msg("fragment option --%s: id %d is not a shared id of optids.h",
					 o->name, o->val);
		}
}

static void test_each_shared_id_has_exactly_its_setter(void **state)
{
	(void)state;
	for (int id = G3_OPT_FIRST; id < G3_OPT_COMMAND_FIRST; id++) {
		enum setter s = SET_NONE;
		const struct option *o = shared(id, &s);
		unsigned want = s == SET_NONE ? 0 : 1u << s;

		assert_non_null(o);
		if (claims(id) != want)
			fail_msg("--%s (id %d): claimed by setters %#x, expected %#x", o->name, id,
				 claims(id), want);
	}
}

static void check_table(const g3_cmd_options *c)
{
	const struct option *t = c->table;

	assert_non_null(t);
	for (size_t i = 0; t[i].name; i++) {
		const struct option *o = &t[i];
		enum setter s = SET_NONE;
		const struct option *frag = shared(o->val, &s);
		const char *p;
		size_t len = strlen(o->name);
		int in_help = 0;

		if (!*o->name || o->flag)
			fail_msg("%s: option %zu: empty name or a flag pointer", c->name, i);
		if (o->has_arg != no_argument && o->has_arg != required_argument)
			fail_msg("%s --%s: optional arguments are not used", c->name, o->name);
		if (o->val < G3_OPT_FIRST || o->val >= G3_OPT_COMMAND_LIMIT)
			fail_msg("%s --%s: id %d outside [G3_OPT_FIRST, G3_OPT_COMMAND_LIMIT) "
				 "(optids.h)", c->name, o->name, o->val);
		for (size_t k = 0; k < i; k++) {
			if (t[k].val == o->val)
				fail_msg("%s: --%s and --%s share id %d", c->name, t[k].name, o->name,
					 o->val);
			if (!strcmp(t[k].name, o->name))
				fail_msg("%s: --%s is in the table twice", c->name, o->name);
		}
		if (o->val < G3_OPT_COMMAND_FIRST) {
			/* a shared id: the fragment's option, as the fragment has it */
			if (!frag || strcmp(frag->name, o->name) || frag->has_arg != o->has_arg)
				fail_msg("%s --%s: id %d is the shared option --%s", c->name, o->name,
					 o->val, frag ? frag->name : "(none)");
		} else {
			/* the command's own: no fragment option of that name, no setter */
			for (size_t f = 0; f < N_FRAGMENTS; f++)
				for (size_t k = 0; k < fragments[f].n; k++)
					if (!strcmp(fragments[f].opts[k].name, o->name))
						fail_msg("%s --%s: a shared option under the command's "
							 "own id %d", c->name, o->name, o->val);
			if (claims(o->val))
				fail_msg("%s --%s: its id %d is claimed by a shared setter (%#x)",
					 c->name, o->name, o->val, claims(o->val));
		}
		if (!strcmp(o->name, "help"))
			continue;
		for (p = strstr(c->usage, "--"); p && !in_help; p = strstr(p + 2, "--"))
			in_help = !strncmp(p + 2, o->name, len) &&
				  !(p[2 + len] == '-' || (p[2 + len] >= 'a' && p[2 + len] <= 'z'));
		if (!in_help)
			fail_msg("%s --%s: not in the command's --help (the options test feeds "
				 "what --help lists)", c->name, o->name);
	}
}

static void test_every_command_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_COMMANDS; i++)
		check_table(commands[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fragments_cover_the_shared_ids_once),
		cmocka_unit_test(test_each_shared_id_has_exactly_its_setter),
		cmocka_unit_test(test_every_command_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
