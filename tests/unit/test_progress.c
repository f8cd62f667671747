#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/progress.h"

#define MiB (1024LL * 1024)

static void test_format_count(void **state)
{
	static const struct { double in; const char *out; } cases[] = {
		{ 0, "0" }, { 0.4, "0" }, { 950, "950" }, { 999.4, "999" },
		{ 999.6, "1.0k" }, { 12345, "12.3k" }, { 99949, "99.9k" },
		{ 99960, "100k" }, { 412000, "412k" }, { 999600, "1.0M" },
		{ 1.26e6, "1.3M" }, { 3.4e9, "3.4G" }, { 7e15, "7.0P" }, { 5e18, "5000P" },
		{ -3, "0" }, { NAN, "0" }, { INFINITY, "0" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_progress_format_count(buf, sizeof(buf), cases[i].in);
		assert_string_equal(buf, cases[i].out);
	}
}

static void test_format_duration(void **state)
{
	static const struct { double in; const char *out; } cases[] = {
		{ 0, "0s" }, { 0.4, "0s" }, { 44.6, "45s" }, { 59.4, "59s" },
		{ 59.6, "1m00s" }, { 125, "2m05s" }, { 3599, "59m59s" }, { 3600, "1h00m" },
		{ 3720, "1h02m" }, { 86399, "23h59m" }, { 3 * 86400 + 4 * 3600, "3d04h" },
		{ -1, "--" }, { NAN, "--" }, { INFINITY, "--" }, { 1e12, "--" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_progress_format_duration(buf, sizeof(buf), cases[i].in);
		assert_string_equal(buf, cases[i].out);
	}
}

static void add_item(g3_progress_state *st, const char *name, g3_progress_unit unit)
{
	g3_progress_item *it = &st->items[st->n_items++];

	snprintf(it->name, sizeof(it->name), "%s", name);
	it->unit = unit;
}

static void sample_state(g3_progress_state *st, int width)
{
	g3_progress_state_init(st, 100 * MiB, 100.0);
	st->width = width;
	st->bytes = 25 * MiB;
	st->rows = 50000;
	st->items_total = 31;
	st->items_done = 7;
	add_item(st, "fence.public.documents", G3_PROGRESS_ROWS);
	add_item(st, "guppy_etl", G3_PROGRESS_DOCS);
	add_item(st, "indexd.public.index_record", G3_PROGRESS_ROWS);
}

static void test_render_full(void **state)
{
	g3_progress_state st;
	char buf[512];
	size_t n;

	(void)state;
	sample_state(&st, 200);
	/* no samples yet: rates are averages since the start, 5 s ago */
	n = g3_progress_render(buf, sizeof(buf), &st, 105.0);
	assert_string_equal(buf, "25.0 MiB / 100 MiB 25%  5.0 MiB/s  10.0k rows/s  0 docs/s  "
			    "ETA 15s  7/31 done  fence.public.documents, guppy_etl, "
			    "indexd.public.index_record");
	assert_int_equal(n, strlen(buf));
}

static void test_render_narrow_terminal(void **state)
{
	g3_progress_state st;
	char buf[512];

	(void)state;
	sample_state(&st, 110);
	g3_progress_render(buf, sizeof(buf), &st, 105.0);
	assert_string_equal(buf, "25.0 MiB / 100 MiB 25%  5.0 MiB/s  10.0k rows/s  0 docs/s  "
			    "ETA 15s  7/31 done  fence.public.documents +2");
	assert_true(strlen(buf) <= 109);
	st.width = 82;
	g3_progress_render(buf, sizeof(buf), &st, 105.0);
	assert_string_equal(buf, "25.0 MiB / 100 MiB 25%  5.0 MiB/s  10.0k rows/s  0 docs/s  "
			    "ETA 15s  7/31 done  +3");
	st.width = 80;   /* no room for "+3" either */
	g3_progress_render(buf, sizeof(buf), &st, 105.0);
	assert_string_equal(buf, "25.0 MiB / 100 MiB 25%  5.0 MiB/s  10.0k rows/s  0 docs/s  "
			    "ETA 15s  7/31 done");
	st.width = 30;   /* the fixed fields are cut, never past the width */
	g3_progress_render(buf, sizeof(buf), &st, 105.0);
	assert_string_equal(buf, "25.0 MiB / 100 MiB 25%  5.0 M");
	/* a buffer shorter than the width */
	g3_progress_render(buf, 10, &st, 105.0);
	assert_string_equal(buf, "25.0 MiB ");
}

static void test_render_names_whole_or_counted(void **state)
{
	g3_progress_state st;
	char buf[64];

	(void)state;
	g3_progress_state_init(&st, -1, 0);
	st.width = 30;
	/* 20 two-byte characters: 40 bytes, never cut in the middle */
	add_item(&st, "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
		 "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
		 "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", G3_PROGRESS_ROWS);
	g3_progress_render(buf, sizeof(buf), &st, 0.5);
	assert_string_equal(buf, "0 B read  +1");
	st.width = 60;
	g3_progress_render(buf, sizeof(buf), &st, 0.5);
	assert_string_equal(buf, "0 B read  \xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
			    "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
			    "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc");
	st.n_untracked = 3;
	st.width = 40;
	g3_progress_render(buf, sizeof(buf), &st, 0.5);
	assert_string_equal(buf, "0 B read  +4");
}

static void test_render_unknown_total_and_early(void **state)
{
	g3_progress_state st;
	char buf[256];

	(void)state;
	g3_progress_state_init(&st, -1, 10.0);
	st.bytes = 3 * MiB;
	/* under a second in: no rates, no ETA */
	g3_progress_render(buf, sizeof(buf), &st, 10.5);
	assert_string_equal(buf, "3.0 MiB read");
	g3_progress_render(buf, sizeof(buf), &st, 13.0);
	assert_string_equal(buf, "3.0 MiB read  1.0 MiB/s");
	st.items_done = 2;
	st.docs = 9000;
	add_item(&st, "guppy_etl", G3_PROGRESS_DOCS);
	g3_progress_render(buf, sizeof(buf), &st, 13.0);
	assert_string_equal(buf, "3.0 MiB read  1.0 MiB/s  3.0k docs/s  2 done  guppy_etl");
	/* an empty source: 100% of nothing */
	g3_progress_state_init(&st, 0, 0);
	g3_progress_render(buf, sizeof(buf), &st, 5);
	assert_string_equal(buf, "0 B / 0 B 100%");
}

static void test_rates_use_the_recent_window(void **state)
{
	g3_progress_state st;
	char buf[256];

	(void)state;
	g3_progress_state_init(&st, 1000 * MiB, 0);
	/* fast for 100 s, then a stall: the recent rate drops to zero and
	 * the ETA is no longer shown */
	for (int t = 1; t <= 100; t++) {
		st.bytes = (int64_t)t * 5 * MiB;
		g3_progress_sample_now(&st, t);
	}
	g3_progress_render(buf, sizeof(buf), &st, 100.0);
	assert_string_equal(buf, "500 MiB / 1000 MiB 50%  5.0 MiB/s  ETA 1m40s");
	for (int t = 101; t <= 110; t++)
		g3_progress_sample_now(&st, t);
	g3_progress_render(buf, sizeof(buf), &st, 110.5);
	assert_string_equal(buf, "500 MiB / 1000 MiB 50%  0 B/s");
}

/* ---- the meter, drawing into a file with a fake clock ------------------- */

static double fake_now;
static double fake_clock(void) { return fake_now; }

static char *file_text(FILE *f)
{
	long n;
	char *s;

	fflush(f);
	n = ftell(f);
	s = calloc(1, (size_t)n + 1);
	rewind(f);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	return s;
}

static void test_meter_redraws_at_most_twice_a_second(void **state)
{
	FILE *f = tmpfile();
	char *text;
	g3_progress_state st;

	(void)state;
	assert_non_null(f);
	g3_progress_set_clock(fake_clock);
	fake_now = 1000.0;
	g3_progress_init_to(f, 100, 10 * MiB);
	assert_true(g3_progress_enabled());
	g3_progress_item_start("sheepdog.public.node", G3_PROGRESS_ROWS);
	fake_now = 1000.4;
	g3_progress_add_bytes(2 * MiB);
	text = file_text(f);
	assert_string_equal(text, "");   /* under half a second: nothing */
	free(text);
	fake_now = 1002.0;
	g3_progress_item_add("sheepdog.public.node", 3000);
	g3_progress_add_bytes(MiB);   /* 0 s after the redraw: not drawn */
	text = file_text(f);
	assert_string_equal(text, "\r2.0 MiB / 10.0 MiB 20%  1.0 MiB/s  1.5k rows/s  "
			    "ETA 8s  sheepdog.public.node\033[K");
	free(text);
	fake_now = 1002.5;
	g3_progress_item_done("sheepdog.public.node", 5000);
	g3_progress_snapshot(&st);
	assert_int_equal(st.rows, 5000);
	assert_int_equal(st.bytes, 3 * MiB);
	assert_int_equal(st.items_done, 1);
	assert_int_equal(st.n_items, 0);
	/* a log message clears the line first */
	g3_log_set_quiet(1);
	g3_warn("a warning while the meter runs");
	g3_log_set_quiet(0);
	g3_progress_finish();   /* nothing drawn since the clear: nothing to do */
	text = file_text(f);
	assert_non_null(strstr(text, "\033[K\r3.0 MiB / 10.0 MiB 30%"));
	assert_non_null(strstr(text, "1 done\033[K\r\033[K"));
	assert_int_equal(strlen(strstr(text, "1 done\033[K\r\033[K")), strlen("1 done\033[K\r\033[K"));
	free(text);
	assert_false(g3_progress_enabled());
	g3_progress_add_bytes(1);   /* reports after the end draw nothing */
	g3_progress_set_clock(NULL);
	fclose(f);
}

static void *reporter(void *arg)
{
	char name[32];

	snprintf(name, sizeof(name), "t%d", *(int *)arg);
	g3_progress_item_start(name, (*(int *)arg % 2) ? G3_PROGRESS_DOCS : G3_PROGRESS_ROWS);
	for (int i = 0; i < 20000; i++) {
		g3_progress_add_bytes(3);
		if (i % 10 == 0)
			g3_progress_item_add(name, 1);
		g3_progress_tick();
	}
	g3_progress_item_done(name, 2000);
	return NULL;
}

static void test_meter_threads(void **state)
{
	FILE *f = tmpfile();
	pthread_t th[4];
	int ids[4] = { 0, 1, 2, 3 };
	g3_progress_state st;
	char *text;

	(void)state;
	g3_progress_init_to(f, 120, -1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reporter, &ids[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	g3_progress_snapshot(&st);
	assert_int_equal(st.bytes, 4 * 20000 * 3);
	assert_int_equal(st.rows, 4000);
	assert_int_equal(st.docs, 4000);
	assert_int_equal(st.items_done, 4);
	g3_progress_finish();
	text = file_text(f);
	/* every line drawn whole: each "\r" starts one that ends "\033[K" */
	for (char *p = strchr(text, '\r'); p; p = strchr(p + 1, '\r')) {
		char *end = strstr(p, "\033[K");

		assert_non_null(end);
		assert_null(memchr(p + 1, '\r', (size_t)(end - p - 1)));
	}
	free(text);
	fclose(f);
}

/* ---- GEN3DB_PROGRESS_INTERVAL, the JSON event, parts, batches ----------- */

static void test_parse_interval(void **state)
{
	static const struct { const char *in; double out; } good[] = {
		{ "0.01", 0.01 }, { "0.05", 0.05 }, { "1", 1 }, { "2.5", 2.5 }, { ".5", 0.5 },
		{ "86400", 86400 }, { "1e1", 10 },
	};
	static const char *const bad[] = {
		"", "0", "0.009", "86400.5", "-1", "+1", " 1", "1 ", "1s", "abc", "nan", "inf",
		"1e400", "0x", ".", "e1",
	};
	double v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		assert_int_equal(g3_progress_parse_interval(good[i].in, &v), 0);
		assert_true(fabs(v - good[i].out) < 1e-12);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -1;
		assert_int_equal(g3_progress_parse_interval(bad[i], &v), -1);
		assert_true(v == -1);   /* untouched */
	}
	assert_int_equal(g3_progress_parse_interval(NULL, &v), -1);
}

static void test_configure_reads_the_environment(void **state)
{
	g3_err err;

	(void)state;
	g3_err_init(&err);
	setenv("GEN3DB_PROGRESS_INTERVAL", "soon", 1);
	assert_int_equal(g3_progress_configure(&err), G3_USAGE);
	assert_string_equal(err.msg, "GEN3DB_PROGRESS_INTERVAL \"soon\" is not a number of "
			    "seconds from 0.01 to 86400");
	assert_non_null(strstr(err.hint, "0.5 s on a terminal, 5 s with --log-format json"));
	g3_err_init(&err);
	setenv("GEN3DB_PROGRESS_INTERVAL", "0.25", 1);
	assert_int_equal(g3_progress_configure(&err), G3_OK);
	unsetenv("GEN3DB_PROGRESS_INTERVAL");
	assert_int_equal(g3_progress_configure(&err), G3_OK);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";
}

static void test_event_json(void **state)
{
	g3_progress_state st;
	json_object *o;

	(void)state;
	g3_progress_state_init(&st, 100 * MiB, 100.0);
	st.bytes = 25 * MiB;
	st.rows = 50000;
	st.items_done = 2;
	st.items_total = 5;
	/* 5 s since the start at 5 MiB/s: 75 MiB to go, 15 s */
	o = g3_progress_event_json(&st, "restore", 105.0, 0);
	assert_string_equal(jstr(o, "phase"), "\"restore\"");
	assert_string_equal(jstr(o, "bytes"), "26214400");
	assert_string_equal(jstr(o, "total"), "104857600");
	assert_string_equal(jstr(o, "rate"), "5242880.000");
	assert_string_equal(jstr(o, "eta"), "15.000");
	assert_string_equal(jstr(o, "items_done"), "2");
	assert_string_equal(jstr(o, "items_total"), "5");
	assert_string_equal(jstr(o, "rows"), "50000");
	assert_string_equal(jstr(o, "docs"), "0");
	assert_string_equal(jstr(o, "elapsed"), "5.000");
	assert_string_equal(jstr(o, "final"), "false");
	assert_int_equal(json_object_object_length(o), 11);
	json_object_put(o);

	/* too early for a rate: 0, no ETA */
	o = g3_progress_event_json(&st, "restore", 100.5, 0);
	assert_string_equal(jstr(o, "rate"), "0.000");
	assert_string_equal(jstr(o, "eta"), "null");
	json_object_put(o);

	/* unknown totals are null */
	st.total_bytes = -1;
	st.items_total = -1;
	o = g3_progress_event_json(&st, "dump", 105.0, 0);
	assert_string_equal(jstr(o, "total"), "null");
	assert_string_equal(jstr(o, "eta"), "null");
	assert_string_equal(jstr(o, "items_total"), "null");
	json_object_put(o);

	/* the final event: the whole run's average, ETA 0 once all is read */
	st.total_bytes = 100 * MiB;
	st.bytes = 100 * MiB;
	o = g3_progress_event_json(&st, "restore", 110.0, 1);
	assert_string_equal(jstr(o, "rate"), "10485760.000");
	assert_string_equal(jstr(o, "eta"), "0.000");
	assert_string_equal(jstr(o, "final"), "true");
	json_object_put(o);
}

static void test_rate_window_follows_a_short_interval(void **state)
{
	g3_progress_state st;
	json_object *o;

	(void)state;
	/* the meter lowers rate_min to four intervals when they are shorter
	 * than a second; the pure state keeps what it is given */
	g3_progress_state_init(&st, 10 * MiB, 0.0);
	assert_true(st.rate_min == 1.0);
	st.rate_min = 0.2;
	st.bytes = MiB;
	o = g3_progress_event_json(&st, "fetch", 0.25, 0);
	assert_string_equal(jstr(o, "rate"), "4194304.000");
	assert_string_equal(jstr(o, "eta"), "2.250");
	json_object_put(o);
}

static void test_parts_count_once(void **state)
{
	FILE *f = tmpfile();
	g3_progress_state st;

	(void)state;
	g3_progress_init_to(f, 200, -1);
	g3_progress_set_totals(-1, 2);
	g3_progress_item_start("fence_x", G3_PROGRESS_ROWS);
	g3_progress_item_start("fence_x.public.user", G3_PROGRESS_ROWS);
	g3_progress_item_start("fence_xy.public.t", G3_PROGRESS_ROWS);   /* not a part */
	g3_progress_item_add("fence_x.public.user", 40);
	g3_progress_item_done("fence_x.public.user", 100);
	g3_progress_snapshot(&st);
	assert_int_equal(st.rows, 100);
	assert_int_equal(st.items_done, 0);     /* a part is not an item */
	assert_int_equal(st.n_items, 2);
	assert_int_equal(st.items[0].count, 100);  /* the parent has its rows */
	/* the service's total: what its parts reported is not added again */
	g3_progress_item_done("fence_x", 100);
	g3_progress_item_done("fence_xy.public.t", 7);
	g3_progress_snapshot(&st);
	assert_int_equal(st.rows, 107);
	assert_int_equal(st.items_done, 2);
	assert_int_equal(st.n_items, 0);
	g3_progress_finish();
	fclose(f);
}

static void test_batch_reports_in_steps(void **state)
{
	FILE *f = tmpfile();
	g3_progress_batch b = { 0 };
	g3_progress_state st;

	(void)state;
	g3_progress_init_to(f, 200, -1);
	for (int i = 0; i < 1000; i++)
		g3_progress_batch_add(&b, 1000);   /* under a MiB: not yet */
	g3_progress_snapshot(&st);
	assert_int_equal(st.bytes, 0);
	for (int i = 0; i < 100; i++)
		g3_progress_batch_add(&b, 1000);
	/* reported once the 1049th kilobyte made a MiB, the rest pending */
	g3_progress_snapshot(&st);
	assert_int_equal(st.bytes, 1049000);
	assert_int_equal(b.pending, 51000);
	g3_progress_batch_add(&b, 5);
	g3_progress_batch_flush(&b);
	g3_progress_batch_flush(&b);      /* nothing left: nothing added */
	g3_progress_snapshot(&st);
	assert_int_equal(st.bytes, 1100005);
	assert_int_equal(b.pending, 0);
	g3_progress_finish();
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_count),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_render_full),
		cmocka_unit_test(test_render_narrow_terminal),
		cmocka_unit_test(test_render_names_whole_or_counted),
		cmocka_unit_test(test_render_unknown_total_and_early),
		cmocka_unit_test(test_rates_use_the_recent_window),
		cmocka_unit_test(test_meter_redraws_at_most_twice_a_second),
		cmocka_unit_test(test_meter_threads),
		cmocka_unit_test(test_parse_interval),
		cmocka_unit_test(test_configure_reads_the_environment),
		cmocka_unit_test(test_event_json),
		cmocka_unit_test(test_rate_window_follows_a_short_interval),
		cmocka_unit_test(test_parts_count_once),
		cmocka_unit_test(test_batch_reports_in_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
