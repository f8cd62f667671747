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

#include "common/gen3layout.h"

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
	assert_string_equal(err.msg, "no dump for service \"peregrine\" under \"" BASE "/pgdumps/\"");
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
		cmocka_unit_test(test_base),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
