/*
 * Live progress of long operations (restore, dump, fetch ...) on stderr.
 *
 * One process-wide meter: workers report what they did from any thread
 * (bytes read or written, tables or indices started and finished, rows or
 * documents loaded); a ticker thread shows it every interval, in one of
 * two ways:
 *
 * - a status line on a terminal, rewritten in place with "\r" and an ANSI
 *   erase-line, showing bytes of the total where known, throughput, rows
 *   and documents per second, the ETA, how many items are done and the
 *   names of the items in flight:
 *
 *   1.2 GiB / 4.0 GiB 30%  52.1 MiB/s  412k rows/s  ETA 56s  7/31 done  fence.public.documents +2
 *
 * - with --log-format json, an event per interval on the log stream
 *   (whether or not it is a terminal), and a last one ("final": true)
 *   when the operation ends:
 *
 *   {"ts":...,"level":"info","event":"progress","msg":"<the line>",
 *    "phase":"restore","bytes":123,"total":456,"rate":789.5,"eta":12.3,
 *    "items_done":1,"items_total":3,"rows":10,"docs":0,"elapsed":2.5,
 *    "final":false}
 *
 *   total, eta and items_total are null where unknown; rate is bytes per
 *   second (0 until a second of history, or four intervals, is there).
 *
 * Nothing shows with --quiet, nor (plain logs) when stderr is not a
 * terminal or TERM is "dumb". The interval is GEN3DB_PROGRESS_INTERVAL
 * seconds (default 0.5 for the line, 5 for JSON events).
 *
 * Reporting costs one mutex and an addition: callers report per chunk
 * (or batch with g3_progress_batch), never per row. Log messages clear the
 * line first (log.c calls g3_progress_clear_line through its before-write
 * hook), and the next tick redraws it; the line is drawn under the log's
 * lock so it never lands inside a message.
 *
 * Lock order: log.c's lock, then the meter's. The meter never logs while
 * holding its own lock. g3_progress_render, g3_progress_event_json and
 * the formatters are pure, for tests.
 */
#ifndef G3_PROGRESS_H
#define G3_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define G3_PROGRESS_MAX_ITEMS 128  /* in flight, tracked by name */
#define G3_PROGRESS_NAME_MAX 96
#define G3_PROGRESS_SAMPLES 8      /* rate window: 8 redraws, ~4 s */
#define G3_PROGRESS_LINE_INTERVAL 0.5   /* seconds between redraws */
#define G3_PROGRESS_JSON_INTERVAL 5.0   /* seconds between JSON events */
#define G3_PROGRESS_INTERVAL_MIN 0.01
#define G3_PROGRESS_INTERVAL_MAX 86400.0
#define G3_PROGRESS_BATCH_BYTES (1 << 20)  /* g3_progress_batch reports */

typedef enum g3_progress_unit {
	G3_PROGRESS_ROWS,   /* a table: rows */
	G3_PROGRESS_DOCS    /* an index: documents */
} g3_progress_unit;

typedef struct g3_progress_item {
	char name[G3_PROGRESS_NAME_MAX];
	g3_progress_unit unit;
	int64_t count;      /* rows or documents reported so far */
	int part;           /* of an item in flight (see item_start) */
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
	double rate_min;       /* seconds of history before a rate shows */
	int width;             /* terminal columns; the line stays shorter */
	g3_progress_item items[G3_PROGRESS_MAX_ITEMS];
	size_t n_items;        /* in flight, in start order */
	size_t n_untracked;    /* in flight beyond G3_PROGRESS_MAX_ITEMS */
	g3_progress_sample samples[G3_PROGRESS_SAMPLES];
	size_t n_samples;      /* ring of recent values for the rates */
	size_t next_sample;
} g3_progress_state;

/*
 * Reads GEN3DB_PROGRESS_INTERVAL (unset or empty: the defaults); a value
 * that is not a number of seconds from G3_PROGRESS_INTERVAL_MIN to
 * G3_PROGRESS_INTERVAL_MAX is G3_USAGE. main calls it before any command.
 */
g3_rc g3_progress_configure(g3_err *err);
/* 0 with *out set, -1 when s is not such a number. */
int g3_progress_parse_interval(const char *s, double *out);
/* What the events' "phase" says (main sets the command's name; a command
 * may name its stages). Copied. */
void g3_progress_set_phase(const char *phase);

/*
 * Starts the meter (total_bytes -1 when unknown); decides once how it
 * shows (a line when stderr is a terminal and TERM not dumb, events with
 * JSON logs, nothing with --quiet), so call it after the options are
 * parsed. Calling it again restarts it.
 */
void g3_progress_init(int64_t total_bytes);
/* The same, drawing on out with a fixed width whatever out is (tests, or a
 * caller owning a terminal). out stays the caller's. */
void g3_progress_init_to(FILE *out, int width, int64_t total_bytes);
/* Totals learnt later (from a manifest): -1 keeps "unknown". */
void g3_progress_set_totals(int64_t total_bytes, int items_total);
int g3_progress_enabled(void);

/* Reports; any thread. */
void g3_progress_add_bytes(int64_t n);

/*
 * Bytes of one stream counted without a lock: add costs an addition and
 * reports every G3_PROGRESS_BATCH_BYTES; flush reports the rest (at the
 * end of the stream). One thread per batch.
 */
typedef struct g3_progress_batch {
	int64_t pending;
} g3_progress_batch;
void g3_progress_batch_flush(g3_progress_batch *b);
static inline void g3_progress_batch_add(g3_progress_batch *b, int64_t n)
{
	b->pending += n;
	if (b->pending >= G3_PROGRESS_BATCH_BYTES)
		g3_progress_batch_flush(b);
}

/* An item named "<parent>.<rest>" while item "<parent>" is in flight is a
 * part of it (a table of a service's database): shown, its rows or
 * documents counted once (the parent's too), but not an item done. */
void g3_progress_item_start(const char *name, g3_progress_unit unit);
/* rows or documents of an item in flight, as they are loaded */
void g3_progress_item_add(const char *name, int64_t n);
/* count: the item's final rows or documents (what item_add did not
 * report yet is added) */
void g3_progress_item_done(const char *name, int64_t count);

/* Redraws if due (the ticker thread does it every interval; callers
 * drawing with g3_progress_init_to call it themselves). */
void g3_progress_tick(void);
/* Clears the line (JSON: writes the final event) and stops the meter; the
 * totals stay readable. A second call does nothing. */
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
/* The JSON event's fields (without ts, level, event, msg), a new object
 * the caller puts. */
struct json_object;
struct json_object *g3_progress_event_json(const g3_progress_state *st, const char *phase,
					   double now, int final);
/* "0", "950", "12.3k", "412k", "1.2M", "3.4G" */
void g3_progress_format_count(char *buf, size_t len, double n);
/* "0s", "45s", "2m05s", "1h02m", "3d04h"; "--" when negative or not finite */
void g3_progress_format_duration(char *buf, size_t len, double seconds);

#endif
