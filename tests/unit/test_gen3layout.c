/*
 * The gen3 bucket layout against a fake listing: classification, URLs,
 * compression, filters, and the errors for missing or ambiguous items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/gen3/gen3layout.h"
#include "common/base/opts.h"

static const char *const listing[] = {
	"pgdumps/fence.sql",
	"pgdumps/indexd.sql.gz",
	"pgdumps/sheepdog.sql.zst",
	"pgdumps/metadata-service.sql",
	"pgdumps/notes.txt",
	"pgdumps/nested/deeper.sql",
	"pgdumps/../evil.sql",
	"elasticsearch/etl_0__mapping.json",
	"elasticsearch/etl_0__data.json",
	"elasticsearch/etl_0__settings.json",
	"elasticsearch/file_0__data.json",
	"elasticsearch/file_0__mapping.json",
	"elasticsearch/file_0__alias.json",
	"elasticsearch/gen3.aws.test__config__mapping.json",
	"elasticsearch/gen3.aws.test__config__data.json",
	"elasticsearch/README",
	"gen3-2024-05-01.tar.zst",
	"old/gen3-2023.tar.zst",
	"manifest.json",
};

#define BASE "s3://bucket/env/v1"

static void feed(g3_layout_plan *plan)
{
	g3_layout_plan_init(plan, BASE);
	for (size_t i = 0; i < sizeof(listing) / sizeof(listing[0]); i++)
		g3_layout_add(plan, listing[i], (int64_t)i * 100);
}

static void test_full_plan(void **state)
{
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	feed(&plan);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_OK);
	assert_string_equal(plan.base, BASE "/");
	assert_int_equal(plan.n_services, 4);
	assert_string_equal(plan.services[0].name, "fence");
	assert_string_equal(plan.services[0].url, BASE "/pgdumps/fence.sql");
	assert_int_equal(plan.services[0].compression, G3_DUMP_PLAIN);
	assert_int_equal(plan.services[0].size, 0);
	assert_string_equal(plan.services[1].name, "indexd");
	assert_int_equal(plan.services[1].compression, G3_DUMP_GZIP);
	assert_string_equal(plan.services[2].name, "metadata-service");
	assert_string_equal(plan.services[3].name, "sheepdog");
	assert_int_equal(plan.services[3].compression, G3_DUMP_ZSTD);
	assert_string_equal(plan.services[3].url, BASE "/pgdumps/sheepdog.sql.zst");

	assert_int_equal(plan.n_indices, 3);
	assert_string_equal(plan.indices[0].name, "etl_0");
	assert_string_equal(plan.indices[0].mapping_url, BASE "/elasticsearch/etl_0__mapping.json");
	assert_string_equal(plan.indices[0].data_url, BASE "/elasticsearch/etl_0__data.json");
	assert_string_equal(plan.indices[0].settings_url, BASE "/elasticsearch/etl_0__settings.json");
	assert_null(plan.indices[0].alias_url);
	assert_int_equal(plan.indices[0].data_size, 800);
	assert_string_equal(plan.indices[1].name, "file_0");
	assert_string_equal(plan.indices[1].alias_url, BASE "/elasticsearch/file_0__alias.json");
	assert_null(plan.indices[1].settings_url);
	/* the config index of guppy: its name holds "__" itself */
	assert_string_equal(plan.indices[2].name, "gen3.aws.test__config");

	assert_int_equal(plan.n_snapshots, 1);
	assert_string_equal(plan.snapshots[0].name, "gen3-2024-05-01.tar.zst");
	assert_string_equal(plan.snapshots[0].url, BASE "/gen3-2024-05-01.tar.zst");
	g3_layout_plan_release(&plan);
}

static void test_filter(void **state)
{
	const char *const services[] = { "sheepdog", "fence" };
	const char *const indices[] = { "file_0" };
	g3_layout_filter f = { services, 2, indices, 1 };
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	feed(&plan);
	assert_int_equal(g3_layout_finish(&plan, &f, &err), G3_OK);
	assert_int_equal(plan.n_services, 2);
	assert_string_equal(plan.services[0].name, "fence");
	assert_string_equal(plan.services[1].name, "sheepdog");
	assert_int_equal(plan.n_indices, 1);
	assert_string_equal(plan.indices[0].name, "file_0");
	g3_layout_plan_release(&plan);
}

static void test_missing_names(void **state)
{
	const char *const services[] = { "fence", "peregrine" };
	const char *const indices[] = { "nope_0" };
	g3_layout_filter f = { services, 2, NULL, 0 };
	g3_layout_filter fi = { NULL, 0, indices, 1 };
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	feed(&plan);
	assert_int_equal(g3_layout_finish(&plan, &f, &err), G3_USAGE);
	assert_string_equal(err.msg, "no dump for service \"peregrine\" in \"" BASE "/\": no "
			    "pgdumps/peregrine.sql[.gz|.zst] or peregrine.sql[.gz|.zst]");
	assert_string_equal(err.hint, "services found: \"fence\", \"indexd\", \"metadata-service\", "
			    "\"sheepdog\"");
	g3_layout_plan_release(&plan);

	feed(&plan);
	assert_int_equal(g3_layout_finish(&plan, &fi, &err), G3_USAGE);
	assert_string_equal(err.msg, "no files for index \"nope_0\" under \"" BASE "/elasticsearch/\"");
	g3_layout_plan_release(&plan);
}

static void test_incomplete_and_ambiguous(void **state)
{
	const char *const only_fence[] = { "fence" };
	g3_layout_filter f = { only_fence, 1, NULL, 0 };
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_layout_plan_init(&plan, "/data/env/v1/");
	g3_layout_add(&plan, "elasticsearch/etl_0__data.json", 5);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "index \"etl_0\" has no __mapping.json under "
			    "\"/data/env/v1/elasticsearch/\"");
	g3_layout_plan_release(&plan);

	g3_layout_plan_init(&plan, "/data/env/v1");
	g3_layout_add(&plan, "pgdumps/indexd.sql", 1);
	g3_layout_add(&plan, "pgdumps/indexd.sql.gz", 1);
	g3_layout_add(&plan, "pgdumps/fence.sql", 1);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "service \"indexd\" has more than one dump: "
			    "\"/data/env/v1/pgdumps/indexd.sql\" and \"/data/env/v1/pgdumps/indexd.sql.gz\"");
	g3_layout_plan_release(&plan);

	/* an ambiguity in a service not asked for does not matter */
	g3_layout_plan_init(&plan, "/data/env/v1");
	g3_layout_add(&plan, "pgdumps/indexd.sql", 1);
	g3_layout_add(&plan, "pgdumps/indexd.sql.gz", 1);
	g3_layout_add(&plan, "pgdumps/fence.sql", 1);
	assert_int_equal(g3_layout_finish(&plan, &f, &err), G3_OK);
	assert_int_equal(plan.n_services, 1);
	g3_layout_plan_release(&plan);
}

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
}

static void test_local_directory(void **state)
{
	char dir[] = "/tmp/g3layoutXXXXXX";
	char path[512];
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pgdumps", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/elasticsearch", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/pgdumps/fence.sql", dir);
	write_file(path);
	snprintf(path, sizeof(path), "%s/elasticsearch/etl__mapping.json", dir);
	write_file(path);
	snprintf(path, sizeof(path), "%s/elasticsearch/etl__data.json", dir);
	write_file(path);
	snprintf(path, sizeof(path), "%s/snap.tar.zst", dir);
	write_file(path);

	assert_int_equal(g3_layout_scan(dir, NULL, NULL, &plan, &err), G3_OK);
	assert_int_equal(plan.n_services, 1);
	snprintf(path, sizeof(path), "%s/pgdumps/fence.sql", dir);
	assert_string_equal(plan.services[0].url, path);
	assert_int_equal(plan.services[0].size, 2);
	assert_int_equal(plan.n_indices, 1);
	assert_int_equal(plan.n_snapshots, 1);
	g3_layout_plan_release(&plan);

	snprintf(path, sizeof(path), "%s/pgdumps/fence.sql", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/elasticsearch/etl__mapping.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/elasticsearch/etl__data.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/snap.tar.zst", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pgdumps", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/elasticsearch", dir);
	rmdir(path);
	rmdir(dir);

	assert_int_equal(g3_layout_scan("/nonexistent/gen3", NULL, NULL, &plan, &err), G3_USAGE);
	assert_string_equal(err.msg, "could not read directory \"/nonexistent/gen3/\": "
			    "No such file or directory");

	/* a service asked for in an empty directory: the directory is what
	 * is wrong; in one holding something, the name */
	{
		const char *const fence[] = { "fence" };
		g3_layout_filter f = { fence, 1, NULL, 0 };

		char dir2[] = "/tmp/g3layoutXXXXXX";

		assert_non_null(mkdtemp(dir2));
		assert_int_equal(g3_layout_scan(dir2, NULL, &f, &plan, &err), G3_USAGE);
		assert_non_null(strstr(err.msg, "nothing to restore in"));
		snprintf(path, sizeof(path), "\"%s/\" is empty", dir2);
		assert_string_equal(err.hint, path);
		snprintf(path, sizeof(path), "%s/notes.txt", dir2);
		write_file(path);
		assert_int_equal(g3_layout_scan(dir2, NULL, &f, &plan, &err), G3_USAGE);
		assert_non_null(strstr(err.msg, "no dump for service \"fence\""));
		unlink(path);
		rmdir(dir2);
	}
}

/* gen3 cloud-automation's backups: <service>.sql[.gz|.zst] at the top
 * level, beside the other layouts; names checked like pgdumps/'s. */
static void test_top_level_dumps(void **state)
{
	static const char *const keys[] = {
		"indexd.sql", "sheepdog.sql.gz", "metadata.sql.zst", "pgdumps/fence.sql",
		"a;b.sql", "template1.sql", "pg_x.sql.gz", "-x.sql", ".sql",
		"../x.sql", "sub/arborist.sql", "notes.txt", "old/", "pgdumps/", "snap.tar.zst",
	};
	char long_name[80];
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_layout_plan_init(&plan, "s3://bucket/2024-05-01T00:00");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		g3_layout_add(&plan, keys[i], 10);
	memset(long_name, 'a', 62);
	memcpy(long_name + 62, ".sql", 5);
	g3_layout_add(&plan, long_name, 10);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_OK);
	assert_int_equal(plan.n_services, 4);
	assert_string_equal(plan.services[0].name, "fence");
	assert_string_equal(plan.services[1].name, "indexd");
	assert_string_equal(plan.services[1].url, "s3://bucket/2024-05-01T00:00/indexd.sql");
	assert_int_equal(plan.services[1].compression, G3_DUMP_PLAIN);
	assert_string_equal(plan.services[2].name, "metadata");
	assert_int_equal(plan.services[2].compression, G3_DUMP_ZSTD);
	assert_string_equal(plan.services[3].name, "sheepdog");
	assert_int_equal(plan.services[3].compression, G3_DUMP_GZIP);
	assert_int_equal(plan.n_snapshots, 1);

	assert_int_equal(plan.n_refused_all, 5);
	assert_string_equal(plan.refused[0].rel, "a;b.sql");
	assert_string_equal(plan.refused[0].why, "a service name holds letters, digits, '_', '-' "
			    "and '.', and starts with a letter or digit");
	assert_string_equal(plan.refused[1].rel, "template1.sql");
	assert_string_equal(plan.refused[1].why, "it is the name of a PostgreSQL system database");
	assert_string_equal(plan.refused[2].why, "names starting with \"pg_\" are reserved by "
			    "PostgreSQL");
	assert_string_equal(plan.refused[3].rel, "-x.sql");
	assert_string_equal(plan.refused[4].rel, long_name);
	assert_string_equal(plan.refused[4].why, "a service name is at most 61 bytes "
			    "(<service>_<release> is a PostgreSQL name of at most 63)");
	assert_int_equal(plan.n_unknown_all, 5);
	assert_string_equal(plan.unknown[0].rel, ".sql");      /* no name at all */
	assert_string_equal(plan.unknown[1].rel, "../x.sql");
	assert_string_equal(plan.unknown[2].rel, "sub/arborist.sql");
	assert_string_equal(plan.unknown[3].rel, "notes.txt");
	assert_string_equal(plan.unknown[4].rel, "old/");

	assert_int_equal(g3_layout_check_refused(&plan, &err), G3_USAGE);
	assert_string_equal(err.msg, "refusing the dump \"a;b.sql\" in "
			    "\"s3://bucket/2024-05-01T00:00/\": a service name holds letters, digits, "
			    "'_', '-' and '.', and starts with a letter or digit (and more: --verbose "
			    "lists them)");
	assert_string_equal(err.hint, "rename the file, or name the services to restore with "
			    "--service NAME");
	g3_layout_plan_release(&plan);
}

static void test_service_names(void **state)
{
	static const char *const good[] = { "fence", "metadata-service", "Postgres", "a.b", "x_1",
					    "pgx", "0" };
	static const char *const bad[] = { "", ".", "..", "_x", "a b", "a/b", "a\nb", "postgres",
					   "template0", "pg_", "\xc3\xa9" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(g3_layout_service_name(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(g3_layout_service_name(bad[i], strlen(bad[i])));
	assert_null(g3_layout_service_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 61));
	assert_non_null(g3_layout_service_name("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 62));
}

/* the same service in pgdumps/ and at the top level is ambiguous */
static void test_top_level_conflict(void **state)
{
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_layout_plan_init(&plan, "/b/");
	g3_layout_add(&plan, "pgdumps/indexd.sql", 1);
	g3_layout_add(&plan, "indexd.sql.gz", 1);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "service \"indexd\" has more than one dump: "
			    "\"/b/pgdumps/indexd.sql\" and \"/b/indexd.sql.gz\"");
	assert_string_equal(err.hint, "keep one dump per service in \"/b/\" (pgdumps/ or the top "
			    "level)");
	g3_layout_plan_release(&plan);
}

/* What is there instead of a layout: bounded, quoted, snapshots named. */
static void test_nothing(void **state)
{
	char key[32];
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_layout_plan_init(&plan, "/data/env/");
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_OK);
	assert_int_equal(g3_layout_nothing(&plan, NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "nothing to restore in \"/data/env/\": it holds no "
			    "pgdumps/<service>.sql[.gz|.zst], <service>.sql[.gz|.zst] or "
			    "elasticsearch/<index>__mapping.json with __data.json");
	assert_string_equal(err.hint, "\"/data/env/\" is empty");
	g3_layout_plan_release(&plan);

	g3_layout_plan_init(&plan, "/data/env/");
	g3_layout_add(&plan, "2024-01-01/", -1);
	g3_layout_add(&plan, "x\"\n.dump", 1);
	g3_layout_add(&plan, "a;b.sql", 1);
	g3_layout_add(&plan, "s.tar.zst", 1);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_OK);
	assert_int_equal(g3_layout_nothing(&plan, NULL, &err), G3_USAGE);
	assert_string_equal(err.hint, "found instead: \"2024-01-01/\", \"x??.dump\", \"a;b.sql\" "
			    "(refused: a service name holds letters, digits, '_', '-' and '.', and "
			    "starts with a letter or digit), \"s.tar.zst\" (a snapshot: 'gen3db "
			    "restore FILE' restores it)");
	g3_layout_plan_release(&plan);

	g3_layout_plan_init(&plan, "/data/env/");
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "f%02d.txt", i);
		g3_layout_add(&plan, key, 1);
	}
	assert_int_equal(plan.n_unknown, G3_LAYOUT_NOTED_MAX);
	assert_int_equal(plan.n_unknown_all, 30);
	assert_int_equal(g3_layout_nothing(&plan, NULL, &err), G3_USAGE);
	assert_non_null(strstr(err.hint, "\"f19.txt\", ..."));
	assert_null(strstr(err.hint, "f20"));
	g3_layout_plan_release(&plan);
}

/* restore-es over a prefix: elasticdump's files at its top, nothing else */
static void test_es_only(void **state)
{
	g3_layout_plan plan;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_layout_plan_init(&plan, "s3://b/env/v1/elasticsearch");
	plan.es_only = 1;
	g3_layout_add(&plan, "dev_case__mapping.json", 10);
	g3_layout_add(&plan, "dev_case__data.json", 1000);
	g3_layout_add(&plan, "dev_case__settings.json", 10);
	g3_layout_add(&plan, "fence.sql", 5);                   /* not here */
	g3_layout_add(&plan, "elasticsearch/x__mapping.json", 5); /* not in a folder */
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_OK);
	assert_int_equal(plan.n_services, 0);
	assert_int_equal(plan.n_indices, 1);
	assert_string_equal(plan.indices[0].name, "dev_case");
	assert_string_equal(plan.indices[0].mapping_url,
			    "s3://b/env/v1/elasticsearch/dev_case__mapping.json");
	assert_string_equal(plan.indices[0].settings_url,
			    "s3://b/env/v1/elasticsearch/dev_case__settings.json");
	assert_null(plan.indices[0].alias_url);
	assert_int_equal(plan.indices[0].data_size, 1000);
	assert_int_equal(plan.n_unknown_all, 2);
	g3_layout_plan_release(&plan);

	/* a mapping without data names the prefix itself */
	g3_layout_plan_init(&plan, "s3://b/p/");
	plan.es_only = 1;
	g3_layout_add(&plan, "ix__mapping.json", 10);
	assert_int_equal(g3_layout_finish(&plan, NULL, &err), G3_USAGE);
	assert_string_equal(err.msg, "index \"ix\" has no __data.json under \"s3://b/p/\"");
	g3_layout_plan_release(&plan);
	/* an s3 URL is needed */
	assert_int_equal(g3_layout_scan_es("/local/dir", NULL, NULL, &plan, &err), G3_USAGE);
}

static void test_edump_indices(void **state)
{
	char dir[] = "/tmp/g3edumpXXXXXX";
	char path[512];
	static const char *const files[] = {
		"es/etl__mapping.json", "es/etl__data.json", "file__data.json", "file__mapping.json",
		"zz__data.json", "README", "x__settings.json", "multi.mapping.json", "multi.json",
		"es/ix.index.json", "y.settings.json",
	};
	char **names = NULL;
	size_t n = 0;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(g3_layout_edump_indices(dir, &names, &n, &err), G3_USAGE);
	snprintf(path, sizeof(path), "no index to restore in \"%s\": it holds no "
		 "<index>__mapping.json, <index>__data.json, <index>.mapping.json or "
		 "<index>.index.json, nor does \"%s/es\"", dir, dir);
	assert_string_equal(err.msg, path);
	snprintf(path, sizeof(path), "\"%s\" is empty", dir);
	assert_string_equal(err.hint, path);

	snprintf(path, sizeof(path), "%s/es", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		write_file(path);
	}
	assert_int_equal(g3_layout_edump_indices(dir, &names, &n, &err), G3_OK);
	assert_int_equal(n, 5);
	assert_string_equal(names[0], "etl");
	assert_string_equal(names[1], "file");
	assert_string_equal(names[2], "ix");
	assert_string_equal(names[3], "multi");
	assert_string_equal(names[4], "zz");
	g3_strlist_free(names, n);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (i != 5 && i != 6)  /* README, x__settings.json stay */
			unlink(path);
	}
	assert_int_equal(g3_layout_edump_indices(dir, &names, &n, &err), G3_USAGE);
	/* only what is not an index is listed (in directory order) */
	assert_int_equal(strlen(err.hint), strlen("found instead: \"README\", \"x__settings.json\""));
	assert_non_null(strstr(err.hint, "\"README\""));
	assert_non_null(strstr(err.hint, "\"x__settings.json\""));
	snprintf(path, sizeof(path), "%s/README", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/x__settings.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/es", dir);
	rmdir(path);
	rmdir(dir);
	assert_int_equal(g3_layout_edump_indices("/nonexistent/es-dump", &names, &n, &err), G3_USAGE);
	assert_string_equal(err.msg, "could not read directory \"/nonexistent/es-dump\": "
			    "No such file or directory");
}

static void test_base(void **state)
{
	char *b = g3_layout_base("my-bucket", "qa", "2024-05");

	(void)state;
	assert_string_equal(b, "s3://my-bucket/qa/2024-05/");
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_plan),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_missing_names),
		cmocka_unit_test(test_incomplete_and_ambiguous),
		cmocka_unit_test(test_local_directory),
		cmocka_unit_test(test_top_level_dumps),
		cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_top_level_conflict),
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_edump_indices),
		cmocka_unit_test(test_es_only),
		cmocka_unit_test(test_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
