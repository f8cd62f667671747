/*
 * The option layer (src/common/base/opts.h) and every command's rows: in a
 * command, no two options share a long name, a short one or a getopt id,
 * and no two print the same field; every option has help text and is in
 * the generated --help (tests/integration/test_options.py feeds what
 * --help lists). Then each kind of row parses (and refuses) as it should,
 * environment fallbacks lose to the command line, the printed object has
 * each kind's value, config values go through the same setters, and an
 * unknown option is reported the command's way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "commands.h"
#include "common/base/opts.h"
#include "common/base/strbuf.h"

static const g3_cmd_spec *const commands[] = {
	&cmd_create_spec, &cmd_restore_spec, &cmd_dump_spec, &cmd_inspect_spec,
	&cmd_verify_spec, &cmd_fetch_spec, &cmd_ls_spec, &cmd_restore_es_spec,
	&cmd_dump_es_spec,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The help line of an option: "      --name" or "  -x, --name", then a
 * blank, a newline or the end. */
static int help_lists(const char *help, const g3_opt *r)
{
	char want[128];
	const char *p = help;
	size_t len;

	if (r->short_name)
		snprintf(want, sizeof(want), "\n  -%c, --%s", r->short_name, r->name);
	else
		snprintf(want, sizeof(want), "\n      --%s", r->name);
	len = strlen(want);
	while ((p = strstr(p, want))) {
		if (p[len] == ' ' || p[len] == '\n')
			return 1;
		p += len;
	}
	return 0;
}

static void check_command(const g3_cmd_spec *c)
{
	g3_opt_ref *refs = NULL;
	struct option *lo = NULL;
	char *so = NULL;
	size_t n = 0;
	g3_buf help = G3_BUF_INIT;
	int helps = 0;

	g3_opts_table(c, &refs, &n, &lo, &so);
	g3_opts_help(c, &help);
	assert_non_null(strstr(help.data, "usage: gen3db "));
	for (size_t i = 0; i < n; i++) {
		const g3_opt *r = refs[i].row;

		if (!r->name || !*r->name)
			fail_msg("%s: row %zu has no name", c->name, i);
		if (refs[i].id != G3_OPT_ID_BASE + (int)i || lo[i].val != refs[i].id ||
		    strcmp(lo[i].name, r->name) || lo[i].flag)
			fail_msg("%s --%s: id %d, getopt row %d", c->name, r->name, refs[i].id,
				 lo[i].val);
		if (refs[i].id <= 255)
			fail_msg("%s --%s: id %d could be a short option", c->name, r->name, refs[i].id);
		for (size_t k = 0; k < i; k++) {
			const g3_opt *q = refs[k].row;

			if (!strcmp(q->name, r->name))
				fail_msg("%s: --%s is in the table twice", c->name, r->name);
			if (r->short_name && q->short_name == r->short_name)
				fail_msg("%s: --%s and --%s share -%c", c->name, q->name, r->name,
					 r->short_name);
			if (refs[k].id == refs[i].id)
				fail_msg("%s: --%s and --%s share id %d", c->name, q->name, r->name,
					 refs[i].id);
			if (r->key && q->key && !strcmp(r->key, q->key))
				fail_msg("%s: --%s and --%s both print \"%s\"", c->name, q->name, r->name,
					 r->key);
		}
		if (r->kind == G3_OPT_HELP) {
			helps++;
			continue;
		}
		if (!r->help || !*r->help)
			fail_msg("%s --%s: no help text", c->name, r->name);
		if (r->kind == G3_OPT_CUSTOM && !r->set)
			fail_msg("%s --%s: a custom row without a setter", c->name, r->name);
		if (!help_lists(help.data, r))
			fail_msg("%s --%s: not in the generated --help", c->name, r->name);
		if ((lo[i].has_arg == required_argument) != (r->metavar != NULL ||
							      r->kind == G3_OPT_CHOICE))
			fail_msg("%s --%s: an argument without a metavar, or the reverse", c->name,
				 r->name);
	}
	if (helps != 1)
		fail_msg("%s: %d --help rows", c->name, helps);
	if (!strstr(help.data, "--log-format plain|json"))
		fail_msg("%s: no common options", c->name);
	g3_buf_release(&help);
	free(refs);
	free(lo);
	free(so);
}

static void test_every_command_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_COMMANDS; i++)
		check_command(commands[i]);
}

/* ---- each kind, on a struct of its own ---- */

struct t_opts {
	int flag, count;
	const char *str, *url, *env_str;
	char *owned;
	long num;
	int small;
	int choice, choice_given;
	size_t size, mib;
	double seconds;
	char **list;
	size_t n_list;
	int custom;
	g3_helm_env helm;
};

static const char *const t_choices[] = { "one", "two", "three", NULL };

static g3_rc set_custom(void *base, const g3_opt *row, const char *arg, g3_err *err)
{
	struct t_opts *o = base;

	(void)row;
	if (strcmp(arg, "ok"))
		return g3_err_set(err, G3_USAGE, "--custom wants ok, not \"%s\"", arg);
	o->custom = 42;
	return G3_OK;
}

#define T struct t_opts
static const g3_opt t_rows[] = {
	G3_ROW_FLAG("flag", 'f', T, flag, "flag", "a flag"),
	{ .name = "count", .short_name = 'c', .kind = G3_OPT_COUNT, .off = offsetof(T, count),
	  .key = "count", .help = "a count" },
	G3_ROW_STR("str", 's', T, str, "str", "S", "a string"),
	G3_ROW_URL("url", 0, T, url, "url", "URL", "a URL"),
	{ .name = "env-str", .kind = G3_OPT_STR, .off = offsetof(T, env_str), .key = "env_str",
	  .env = "G3_TEST_OPTS_ENV", .metavar = "S", .help = "a string, else the variable" },
	{ .name = "owned", .kind = G3_OPT_STR, .flags = G3_OPTF_OWNED, .off = offsetof(T, owned),
	  .key = "owned", .metavar = "S", .help = "a copy" },
	G3_ROW_LONG("num", 'n', T, num, -5, 10, "num", "N", "a number"),
	G3_ROW_INT("small", 0, T, small, 1, 3, "small", "N", "a small one"),
	G3_ROW_CHOICE_GIVEN("choice", 0, T, choice, choice_given, t_choices, "choice", "a choice"),
	G3_ROW_SIZE("size", 0, T, size, 1024, 1L << 20, "size", "SIZE", "a size"),
	G3_ROW_LIST("item", 'i', T, list, n_list, "items", "X", "repeatable"),
	{ .name = "mib", .kind = G3_OPT_SCALED, .off = offsetof(T, mib), .min = 5, .max = 9,
	  .scale = 1 << 20, .key = "mib", .metavar = "MIB", .help = "a whole number of MiB" },
	{ .name = "seconds", .kind = G3_OPT_DOUBLE, .off = offsetof(T, seconds), .min = 0,
	  .max = 60, .key = "seconds", .metavar = "S", .help = "whole seconds" },
	G3_ROW_SET("custom", 0, G3_OPT_LONG, set_custom, T, custom, custom, NULL, "W", "custom"),
	G3_ROW_NOTE("a note\n"),
};
#undef T

static const g3_opt_section t_sections[] = { G3_SECTION(t_rows, 0) };

static const g3_cmd_spec t_spec = G3_CMD_SPEC("t", t_sections, 'h', G3_BAD_OWN, NULL,
					       offsetof(struct t_opts, helm),
					       "usage: gen3db t\n\n", "\nexit codes: none\n");

static g3_rc parse(struct t_opts *o, g3_err *err, int *args, ...)
{
	char *argv[64];
	int argc = 0, done = 0;
	va_list ap;
	g3_rc rc;

	argv[argc++] = "t";
	va_start(ap, args);
	for (;;) {
		assert_true(argc < 64);
		if (!(argv[argc] = va_arg(ap, char *)))
			break;
		argc++;
	}
	va_end(ap);
	g3_err_init(err);
	rc = g3_opts_parse(&t_spec, o, argc, argv, args, &done, err);
	assert_int_equal(done, 0);
	return rc;
}

static void t_release(struct t_opts *o)
{
	free(o->owned);
	g3_strlist_free(o->list, o->n_list);
	memset(o, 0, sizeof(*o));
}

static void test_each_kind_parses(void **state)
{
	struct t_opts o;
	g3_err err;
	int args = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(&o, &err, &args, "-f", "-cc", "--count", "--str", "a", "--url",
			       "http://u:pw@h/", "--owned", "x", "--owned", "y", "-n", "-5",
			       "--small", "3", "--choice", "two", "--size", "2KB", "-i", "p",
			       "--item", "q", "--custom", "ok", "--mib", "6", "--seconds", "42",
			       "pos1", "pos2", NULL), G3_OK);
	assert_int_equal(o.flag, 1);
	assert_int_equal(o.count, 3);
	assert_string_equal(o.str, "a");
	assert_string_equal(o.url, "http://u:pw@h/");
	assert_string_equal(o.owned, "y");
	assert_int_equal(o.num, -5);
	assert_int_equal(o.small, 3);
	assert_int_equal(o.choice, 1);
	assert_int_equal(o.choice_given, 1);
	assert_int_equal(o.size, 2048);
	assert_int_equal(o.n_list, 2);
	assert_string_equal(o.list[0], "p");
	assert_string_equal(o.list[1], "q");
	assert_int_equal(o.custom, 42);
	assert_int_equal(o.mib, 6 << 20);
	assert_true(o.seconds == 42.0);
	assert_int_equal(args, 30);
	t_release(&o);
}

static void test_bad_values(void **state)
{
	struct t_opts o;
	g3_err err;
	int args = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(&o, &err, &args, "--num", "11", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--num must be a whole number from -5 to 10, not \"11\"");
	assert_int_equal(parse(&o, &err, &args, "-n", "x", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--num must be a whole number from -5 to 10, not \"x\"");
	assert_int_equal(parse(&o, &err, &args, "--small", "0", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--small must be a whole number from 1 to 3, not \"0\"");
	assert_int_equal(parse(&o, &err, &args, "--choice", "four", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--choice must be one|two|three, not \"four\"");
	assert_int_equal(o.choice_given, 0);
	assert_int_equal(parse(&o, &err, &args, "--size", "1", NULL), G3_USAGE);
	assert_non_null(strstr(err.msg, "--size must be a size from 1024 to 1048576 bytes"));
	assert_int_equal(parse(&o, &err, &args, "--mib", "10", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--mib must be a whole number from 5 to 9, not \"10\"");
	assert_int_equal(parse(&o, &err, &args, "--seconds", "-1", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--seconds must be a whole number from 0 to 60, not \"-1\"");
	assert_int_equal(parse(&o, &err, &args, "--custom", "no", NULL), G3_USAGE);
	assert_string_equal(err.msg, "--custom wants ok, not \"no\"");
	/* the command's own wording for getopt's errors (G3_BAD_OWN) */
	assert_int_equal(parse(&o, &err, &args, "--nope", NULL), G3_USAGE);
	assert_string_equal(err.msg, "unknown option \"--nope\"");
	assert_int_equal(parse(&o, &err, &args, "--str", NULL), G3_USAGE);
	assert_string_equal(err.msg, "option \"--str\" needs a value");
	t_release(&o);
}

static void test_env_fallback_loses_to_the_command_line(void **state)
{
	struct t_opts o;
	g3_err err;
	int args = 0;

	(void)state;
	setenv("G3_TEST_OPTS_ENV", "from-env", 1);
	setenv("SERVICE_PGDB", "db-env", 1);
	unsetenv("SERVICE_PGUSER");
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(&o, &err, &args, NULL), G3_OK);
	assert_string_equal(o.env_str, "from-env");
	assert_string_equal(o.helm.pgdb, "db-env");
	assert_null(o.helm.pguser);
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(&o, &err, &args, "--env-str", "given", NULL), G3_OK);
	assert_string_equal(o.env_str, "given");
	setenv("G3_TEST_OPTS_ENV", "", 1);
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(&o, &err, &args, NULL), G3_OK);
	assert_null(o.env_str);
	unsetenv("G3_TEST_OPTS_ENV");
	unsetenv("SERVICE_PGDB");
}

static void test_printed_object(void **state)
{
	struct t_opts o;
	json_object *j, *v;
	g3_err err;
	int args = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(parse(&o, &err, &args, "-f", "--url", "http://u:pw@h/", "--choice",
			       "three", "--size", "1MB", "-i", "p", "-n", "7", NULL), G3_OK);
	j = g3_opts_json(&t_spec, &o);
	assert_true(json_object_object_get_ex(j, "flag", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(j, "url", &v));
	assert_string_equal(json_object_get_string(v), "http://u:****@h/");
	assert_true(json_object_object_get_ex(j, "str", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(j, "choice", &v));
	assert_string_equal(json_object_get_string(v), "three");
	assert_true(json_object_object_get_ex(j, "size", &v));
	assert_int_equal(json_object_get_int64(v), 1 << 20);
	assert_true(json_object_object_get_ex(j, "num", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	assert_true(json_object_object_get_ex(j, "items", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_false(json_object_object_get_ex(j, "custom", &v));
	json_object_put(j);
	t_release(&o);
}

static void test_help_text(void **state)
{
	g3_buf b = G3_BUF_INIT;

	(void)state;
	g3_opts_help(&t_spec, &b);
	assert_non_null(strstr(b.data, "usage: gen3db t\n\n"));
	assert_non_null(strstr(b.data, "\n  -f, --flag                   a flag\n"));
	assert_non_null(strstr(b.data, "\n      --choice one|two|three   a choice\n"));
	assert_non_null(strstr(b.data, "\n  -i, --item X                 repeatable\n"));
	assert_non_null(strstr(b.data, "\na note\n"));
	assert_non_null(strstr(b.data, "\nexit codes: none\n"));
	assert_null(strstr(b.data, "--help"));
	g3_buf_release(&b);
}

static void test_config_goes_through_the_setters(void **state)
{
	struct t_opts o;
	g3_err err;

	(void)state;
	memset(&o, 0, sizeof(o));
	g3_err_init(&err);
	o.str = "from-the-command-line";
	assert_int_equal(g3_opts_set(&t_spec, &o, "str", "from-config", &err), G3_OK);
	assert_string_equal(o.str, "from-the-command-line");
	assert_int_equal(g3_opts_set(&t_spec, &o, "url", "http://h/", &err), G3_OK);
	assert_string_equal(o.url, "http://h/");
	assert_int_equal(g3_opts_set(&t_spec, &o, "num", "99", &err), G3_USAGE);
	assert_string_equal(err.msg, "--num must be a whole number from -5 to 10, not \"99\"");
	assert_int_equal(g3_opts_set(&t_spec, &o, "nope", "1", &err), G3_USAGE);
	t_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_table),
		cmocka_unit_test(test_each_kind_parses),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_env_fallback_loses_to_the_command_line),
		cmocka_unit_test(test_printed_object),
		cmocka_unit_test(test_help_text),
		cmocka_unit_test(test_config_goes_through_the_setters),
	};

	unsetenv("GEN3DB_PRINT_OPTIONS");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
