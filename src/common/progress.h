/*
 * Live progress of long operations (restore, dump) on stderr.
 *
 * One process-wide meter: workers report what they did from any thread
 * (bytes read from the source, tables or indices started and finished,
 * rows or documents loaded); the meter redraws one status line at most
 * twice a second, with "\r" and an ANSI erase-line, showing bytes read of
 * the total where known, throughput, rows and documents per second, how
 * many items are done, the ETA and the names of the items in flight:
 *
 *   1.2 GiB / 4.0 GiB 30%  52.1 MiB/s  412k rows/s  ETA 56s  7/31 done  fence.public.documents +2
 *
 * It is off when stderr is not a terminal (or TERM is "dumb"), with
 * --quiet and with --log-format json; reporting then costs one mutex.
 * Log messages clear the line first (log.c calls g3_progress_clear_line
 * through its before-write hook), and the next report redraws it.
 *
 * Lock order: log.c's lock, then the meter's. The meter never logs.
 * g3_progress_render and the formatters are pure, for tests.
 */
#ifndef G3_PROGRESS_H
#define G3_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define G3_PROGRESS_MAX_ITEMS 128  /* in flight, tracked by name */
#define G3_PROGRESS_NAME_MAX 96
#define G3_PROGRESS_SAMPLES 8      /* rate window: 8 redraws, ~4 s */

typedef enum g3_progress_unit {
	G3_PROGRESS_ROWS,   /* a table: rows */
	G3_PROGRESS_DOCS    /* an index: documents */
} g3_progress_unit;

typedef struct g3_progress_item {
	char name[G3_PROGRESS_NAME_MAX];
	g3_progress_unit unit;
	int64_t count;      /* rows or documents reported so far */
} g3_progress_item;

typedef struct g3_progress_sample {
	double t;
	int64_t bytes, rows, docs;
} g3_progress_sample;

/* Everything a redraw shows; a copy is taken under the meter's lock. */
typedef struct g3_progress_state {
	int64_t total_bytes;   /* -1: unknown */
	int64_t bytes;
	int64_t rows, docs;
	int items_done;
	int items_total;       /* -1: unknown */
	double start;          /* monotonic seconds of g3_progress_init */
	int width;             /* terminal columns; the line stays shorter */
	g3_progress_item items[G3_PROGRESS_MAX_ITEMS];
	size_t n_items;        /* in flight, in start order */
	size_t n_untracked;    /* in flight beyond G3_PROGRESS_MAX_ITEMS */
	g3_progress_sample samples[G3_PROGRESS_SAMPLES];
	size_t n_samples;      /* ring of recent values for the rates */
	size_t next_sample;
} g3_progress_state;

/*
 * Starts the meter (total_bytes -1 when unknown); decides once whether it
 * shows (stderr a terminal, TERM not dumb, not --quiet, not JSON logs), so
 * call it after the options are parsed. Calling it again restarts it.
 */
void g3_progress_init(int64_t total_bytes);
/* The same, drawing on out with a fixed width whatever out is (tests, or a
 * caller owning a terminal). out stays the caller's. */
void g3_progress_init_to(FILE *out, int width, int64_t total_bytes);
/* Totals learnt later (from a manifest): -1 keeps "unknown". */
void g3_progress_set_totals(int64_t total_bytes, int items_total);
int g3_progress_enabled(void);

/* Reports; any thread. Each may redraw (at most every 500 ms). */
void g3_progress_add_bytes(int64_t n);
void g3_progress_item_start(const char *name, g3_progress_unit unit);
/* rows or documents of an item in flight, as they are loaded */
void g3_progress_item_add(const char *name, int64_t n);
/* count: the item's final rows or documents (what item_add did not
 * report yet is added) */
void g3_progress_item_done(const char *name, int64_t count);

/* Redraws if due; the leader calls it while it waits, so the ETA moves
 * when no worker reports. */
void g3_progress_tick(void);
/* Clears the line and stops the meter; the totals stay readable. */
void g3_progress_finish(void);
/* Clears the line if one is drawn (log.c's hook); the next report
 * redraws it. */
void g3_progress_clear_line(void);
/* A copy of the current state (under the lock). */
void g3_progress_snapshot(g3_progress_state *out);

/* Tests: replaces the monotonic clock (NULL restores it). */
void g3_progress_set_clock(double (*now)(void));

/* Pure helpers. */
void g3_progress_state_init(g3_progress_state *st, int64_t total_bytes, double now);
/* Records the current values for the rate window. */
void g3_progress_sample_now(g3_progress_state *st, double now);
/* The status line without "\r" or escapes, at most st->width - 1
 * characters (and len - 1 bytes); returns its length. */
size_t g3_progress_render(char *buf, size_t len, const g3_progress_state *st, double now);
/* "0 B", "512 B", "1.0 KiB", "12.3 MiB", "123 MiB", "1.2 GiB" ... */
void g3_progress_format_bytes(char *buf, size_t len, int64_t bytes);
/* "0", "950", "12.3k", "412k", "1.2M", "3.4G" */
void g3_progress_format_count(char *buf, size_t len, double n);
/* "0s", "45s", "2m05s", "1h02m", "3d04h"; "--" when negative or not finite */
void g3_progress_format_duration(char *buf, size_t len, double seconds);

#endif
