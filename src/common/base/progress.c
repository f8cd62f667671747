/*
 * The progress meter (see progress.h): one state under one mutex, updated
 * by reporters on any thread. g3_progress_init starts a ticker thread that
 * shows the state every interval (the line, or a JSON event); with
 * g3_progress_init_to (tests) there is none and reporters draw when due.
 * Drawing runs under the log's lock, then the meter's, so a line never
 * lands inside a message.
 */
#include "progress.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "size.h"
#include "log.h"

#define RATE_WINDOW_MIN 1.0   /* seconds of history before showing a rate */

enum mode { MODE_OFF, MODE_LINE, MODE_JSON };

static pthread_mutex_t meter_lock = PTHREAD_MUTEX_INITIALIZER;
static g3_progress_state meter;
static int meter_on;           /* showing (a line or events) */
static enum mode meter_mode;
static FILE *meter_out;
static double meter_interval;  /* of this run */
/* GEN3DB_PROGRESS_INTERVAL; 0: the mode's default. Set before threads. */
static double config_interval;
static char meter_phase[64] = "progress";
/* the ticker: started by g3_progress_init, stopped by finish */
static pthread_t ticker;
static int ticker_running;
static int ticker_stop;
static pthread_cond_t ticker_cond;
static int ticker_cond_ready;
static int meter_fixed_width;  /* from g3_progress_init_to: never re-queried */
static int meter_drawn;        /* a line is on the terminal */
static double meter_last_draw;
static double (*meter_clock)(void);

static double now_seconds(void)
{
	return meter_clock ? meter_clock() : g3_clock_now();
}

void g3_progress_set_clock(double (*now)(void))
{
	pthread_mutex_lock(&meter_lock);
	meter_clock = now;
	pthread_mutex_unlock(&meter_lock);
}

/* ---- pure helpers --------------------------------------------------------- */

void g3_progress_format_count(char *buf, size_t len, double n)
{
	static const char suffix[] = { 'k', 'M', 'G', 'T', 'P' };
	double v = n;

	if (!isfinite(n) || n < 0)
		n = 0;
	if (n < 999.5) {
		snprintf(buf, len, "%.0f", n);
		return;
	}
	v = n / 1000.0;
	for (size_t i = 0; i < sizeof(suffix); i++) {
		if (v < 99.95) {
			snprintf(buf, len, "%.1f%c", v, suffix[i]);
			return;
		}
		if (v < 999.5 || i + 1 == sizeof(suffix)) {
			snprintf(buf, len, "%.0f%c", v, suffix[i]);
			return;
		}
		v /= 1000.0;
	}
}

void g3_progress_format_duration(char *buf, size_t len, double seconds)
{
	long long s;

	if (!isfinite(seconds) || seconds < 0 || seconds > 1e9) {
		snprintf(buf, len, "--");
		return;
	}
	s = (long long)(seconds + 0.5);
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

void g3_progress_state_init(g3_progress_state *st, int64_t total_bytes, double now)
{
	memset(st, 0, sizeof(*st));
	st->total_bytes = total_bytes < 0 ? -1 : total_bytes;
	st->items_total = -1;
	st->start = now;
	st->rate_min = RATE_WINDOW_MIN;
	st->width = 80;
}

void g3_progress_sample_now(g3_progress_state *st, double now)
{
	g3_progress_sample *s = &st->samples[st->next_sample];

	s->t = now;
	s->bytes = st->bytes;
	s->rows = st->rows;
	s->docs = st->docs;
	st->next_sample = (st->next_sample + 1) % G3_PROGRESS_SAMPLES;
	if (st->n_samples < G3_PROGRESS_SAMPLES)
		st->n_samples++;
}

/* Rates per second over the recent window (the oldest sample at least
 * st->rate_min old), else since the start; 0 when too early. */
static int rates(const g3_progress_state *st, double now, double *bytes,
		 double *rows, double *docs)
{
	double t0 = st->start, dt;
	int64_t b0 = 0, r0 = 0, d0 = 0;

	if (st->n_samples) {
		size_t oldest = st->n_samples < G3_PROGRESS_SAMPLES ? 0 : st->next_sample;
		const g3_progress_sample *s = &st->samples[oldest];

		if (now - s->t >= st->rate_min) {
			t0 = s->t;
			b0 = s->bytes;
			r0 = s->rows;
			d0 = s->docs;
		}
	}
	dt = now - t0;
	if (dt < st->rate_min || dt <= 0) {
		*bytes = *rows = *docs = 0;
		return 0;
	}
	*bytes = (double)(st->bytes - b0) / dt;
	*rows = (double)(st->rows - r0) / dt;
	*docs = (double)(st->docs - d0) / dt;
	return 1;
}

/* Appends to buf[*pos..len) without overflowing; truncated text is cut
 * at a UTF-8 character boundary. */
static void put(char *buf, size_t len, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos + 1 >= len)
		return;
	if (n > len - 1 - *pos) {
		n = len - 1 - *pos;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(buf + *pos, s, n);
	*pos += n;
	buf[*pos] = '\0';
}

size_t g3_progress_render(char *buf, size_t len, const g3_progress_state *st, double now)
{
	char a[32], b[32], field[128];
	double rb, rr, rd;
	int have_rates;
	size_t pos = 0, limit, shown = 0;
	int any_rows = st->rows > 0, any_docs = st->docs > 0;
	size_t in_flight = st->n_items + st->n_untracked;

	if (!len)
		return 0;
	buf[0] = '\0';
	limit = len;
	if (st->width > 1 && (size_t)st->width < limit)
		limit = (size_t)st->width;   /* width - 1 characters and the NUL */
	for (size_t i = 0; i < st->n_items; i++) {
		any_rows |= st->items[i].unit == G3_PROGRESS_ROWS;
		any_docs |= st->items[i].unit == G3_PROGRESS_DOCS;
	}
	have_rates = rates(st, now, &rb, &rr, &rd);

	g3_format_bytes(a, sizeof(a), st->bytes);
	if (st->total_bytes >= 0) {
		int pct = 100;

		if (st->total_bytes > 0)
			pct = st->bytes >= st->total_bytes ? 100 :
			      (int)((double)st->bytes * 100.0 / (double)st->total_bytes);
		g3_format_bytes(b, sizeof(b), st->total_bytes);
		snprintf(field, sizeof(field), "%s / %s %d%%", a, b, pct);
	} else {
		snprintf(field, sizeof(field), "%s read", a);
	}
	put(buf, limit, &pos, field);
	if (have_rates && st->bytes > 0) {
		g3_format_bytes(a, sizeof(a), (int64_t)rb);
		snprintf(field, sizeof(field), "  %s/s", a);
		put(buf, limit, &pos, field);
	}
	if (have_rates && any_rows) {
		g3_progress_format_count(a, sizeof(a), rr);
		snprintf(field, sizeof(field), "  %s rows/s", a);
		put(buf, limit, &pos, field);
	}
	if (have_rates && any_docs) {
		g3_progress_format_count(a, sizeof(a), rd);
		snprintf(field, sizeof(field), "  %s docs/s", a);
		put(buf, limit, &pos, field);
	}
	if (have_rates && st->total_bytes > 0 && st->bytes < st->total_bytes && rb > 0) {
		g3_progress_format_duration(a, sizeof(a),
					    (double)(st->total_bytes - st->bytes) / rb);
		snprintf(field, sizeof(field), "  ETA %s", a);
		put(buf, limit, &pos, field);
	}
	if (st->items_total >= 0)
		snprintf(field, sizeof(field), "  %d/%d done", st->items_done, st->items_total);
	else if (st->items_done)
		snprintf(field, sizeof(field), "  %d done", st->items_done);
	else
		field[0] = '\0';
	put(buf, limit, &pos, field);

	/* the names in flight, as many as fit with room for "+N" after them */
	for (size_t i = 0; i < st->n_items; i++) {
		size_t n = strlen(st->items[i].name) + 2;
		size_t rest = in_flight - i - 1;
		size_t reserve = rest ? 2 + (size_t)snprintf(NULL, 0, "+%zu", rest) : 0;

		if (pos + n + reserve > limit - 1)
			break;
		put(buf, limit, &pos, i ? ", " : "  ");
		put(buf, limit, &pos, st->items[i].name);
		shown++;
	}
	if (shown < in_flight) {
		snprintf(field, sizeof(field), "%s+%zu", shown ? " " : "  ", in_flight - shown);
		if (pos + strlen(field) <= limit - 1)
			put(buf, limit, &pos, field);
	}
	return pos;
}

/* Rounded for the events: "12.345", not "12.345000000000001". */
static json_object *json_seconds(double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.3f", v);
	return json_object_new_double_s(v, buf);
}

json_object *g3_progress_event_json(const g3_progress_state *st, const char *phase,
				    double now, int final)
{
	json_object *o = json_object_new_object();
	double rb = 0, rr, rd, elapsed = now - st->start;
	int have_rate;

	if (final) {
		/* the whole run's average */
		have_rate = elapsed > 0;
		rb = have_rate ? (double)st->bytes / elapsed : 0;
	} else {
		have_rate = rates(st, now, &rb, &rr, &rd);
	}
	json_object_object_add(o, "phase", json_object_new_string(phase ? phase : ""));
	json_object_object_add(o, "bytes", json_object_new_int64(st->bytes));
	json_object_object_add(o, "total", st->total_bytes >= 0 ?
			       json_object_new_int64(st->total_bytes) : NULL);
	json_object_object_add(o, "rate", json_seconds(have_rate ? rb : 0));
	if (st->total_bytes >= 0 && st->bytes >= st->total_bytes)
		json_object_object_add(o, "eta", json_seconds(0));
	else if (st->total_bytes > 0 && have_rate && rb > 0 && !final)
		json_object_object_add(o, "eta", json_seconds((double)(st->total_bytes -
								       st->bytes) / rb));
	else
		json_object_object_add(o, "eta", NULL);
	json_object_object_add(o, "items_done", json_object_new_int(st->items_done));
	json_object_object_add(o, "items_total", st->items_total >= 0 ?
			       json_object_new_int(st->items_total) : NULL);
	json_object_object_add(o, "rows", json_object_new_int64(st->rows));
	json_object_object_add(o, "docs", json_object_new_int64(st->docs));
	json_object_object_add(o, "elapsed", json_seconds(elapsed > 0 ? elapsed : 0));
	json_object_object_add(o, "final", json_object_new_boolean(final));
	return o;
}

/* ---- configuration -------------------------------------------------------- */

int g3_progress_parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	/* digits first: no sign, space, "nan" or "inf" */
	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) ||
	    v < G3_PROGRESS_INTERVAL_MIN || v > G3_PROGRESS_INTERVAL_MAX)
		return -1;
	*out = v;
	return 0;
}

g3_rc g3_progress_configure(g3_err *err)
{
	const char *s = getenv("GEN3DB_PROGRESS_INTERVAL");
	double v;
	g3_rc rc;

	config_interval = 0;
	if (!s || !*s)
		return G3_OK;
	if (g3_progress_parse_interval(s, &v)) {
		rc = g3_err_set(err, G3_USAGE, "GEN3DB_PROGRESS_INTERVAL \"%.64s\" is not a number "
				"of seconds from %g to %g", s, G3_PROGRESS_INTERVAL_MIN,
				G3_PROGRESS_INTERVAL_MAX);
		g3_err_hint(err, "for example 0.2; unset it for the defaults (%g s on a terminal, "
			    "%g s with --log-format json)", G3_PROGRESS_LINE_INTERVAL,
			    G3_PROGRESS_JSON_INTERVAL);
		return rc;
	}
	config_interval = v;
	return G3_OK;
}

void g3_progress_set_phase(const char *phase)
{
	pthread_mutex_lock(&meter_lock);
	snprintf(meter_phase, sizeof(meter_phase), "%s", phase ? phase : "");
	pthread_mutex_unlock(&meter_lock);
}

/* ---- the meter ------------------------------------------------------------ */

static int terminal_width(void)
{
	struct winsize ws;
	const char *cols;
	char *end;
	long n;

	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 0)
		return ws.ws_col;
	cols = getenv("COLUMNS");
	if (cols) {
		n = strtol(cols, &end, 10);
		if (!*end && n > 10 && n < 10000)
			return (int)n;
	}
	return 80;
}

/* Draws the line; the log's lock and meter_lock held. */
static void redraw_locked(double now)
{
	char line[1024];

	if (!meter_fixed_width)
		meter.width = terminal_width();
	g3_progress_sample_now(&meter, now);
	g3_progress_render(line, sizeof(line), &meter, now);
	fprintf(meter_out, "\r%s\033[K", line);
	fflush(meter_out);
	meter_drawn = 1;
	meter_last_draw = now;
}

/* under the log's lock: arg non-NULL draws whether or not it is due */
static void draw_cb(void *arg)
{
	double now;

	pthread_mutex_lock(&meter_lock);
	if (meter_on && meter_mode == MODE_LINE) {
		now = now_seconds();
		if (arg || now - meter_last_draw >= meter_interval)
			redraw_locked(now);
	}
	pthread_mutex_unlock(&meter_lock);
}

/* One JSON event; no lock held. */
static void emit_event(int final, int force)
{
	static g3_progress_state st;   /* copies are big; events come from one
					* thread at a time (the ticker, then finish) */
	static pthread_mutex_t emit_lock = PTHREAD_MUTEX_INITIALIZER;
	char phase[sizeof(meter_phase)], line[512];
	json_object *o;
	double now;

	pthread_mutex_lock(&emit_lock);
	pthread_mutex_lock(&meter_lock);
	now = now_seconds();
	if (!meter_on || meter_mode != MODE_JSON ||
	    (!force && !final && now - meter_last_draw < meter_interval)) {
		pthread_mutex_unlock(&meter_lock);
		pthread_mutex_unlock(&emit_lock);
		return;
	}
	g3_progress_sample_now(&meter, now);
	meter_last_draw = now;
	st = meter;
	snprintf(phase, sizeof(phase), "%s", meter_phase);
	pthread_mutex_unlock(&meter_lock);

	st.width = (int)sizeof(line);
	g3_progress_render(line, sizeof(line), &st, now);
	o = g3_progress_event_json(&st, phase, now, final);
	g3_log_event_json(G3_LOG_INFO, "progress", line, o);
	json_object_put(o);
	pthread_mutex_unlock(&emit_lock);
}

/* Shows the state if due (force: whether or not); no lock held. */
static void show(int force)
{
	enum mode mode;

	pthread_mutex_lock(&meter_lock);
	mode = meter_on ? meter_mode : MODE_OFF;
	pthread_mutex_unlock(&meter_lock);
	if (mode == MODE_LINE)
		g3_log_locked(draw_cb, force ? &meter : NULL);
	else if (mode == MODE_JSON)
		emit_event(0, force);
}

/* After a report, meter_lock held: whether the reporter should show the
 * state (only without a ticker, when due). */
static int due_locked(void)
{
	return meter_on && !ticker_running && now_seconds() - meter_last_draw >= meter_interval;
}

/* Ends a report: releases meter_lock, then shows the state when due. */
static void unlock_and_show_due(void)
{
	int due = due_locked();

	pthread_mutex_unlock(&meter_lock);
	if (due)
		show(0);
}

static void clear_locked(void)
{
	if (meter_on && meter_drawn) {
		fputs("\r\033[K", meter_out);
		fflush(meter_out);
		meter_drawn = 0;
	}
}

void g3_progress_clear_line(void)
{
	pthread_mutex_lock(&meter_lock);
	clear_locked();
	pthread_mutex_unlock(&meter_lock);
}

static void *ticker_main(void *arg)
{
	struct timespec ts;
	double at;

	(void)arg;
	pthread_mutex_lock(&meter_lock);
	while (!ticker_stop) {
		at = g3_clock_now() + meter_interval;  /* the cond's clock */
		ts.tv_sec = (time_t)at;
		ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!ticker_stop &&
		       pthread_cond_timedwait(&ticker_cond, &meter_lock, &ts) != ETIMEDOUT)
			;
		if (ticker_stop)
			break;
		pthread_mutex_unlock(&meter_lock);
		show(1);
		pthread_mutex_lock(&meter_lock);
	}
	pthread_mutex_unlock(&meter_lock);
	return NULL;
}

static void stop_ticker(void)
{
	int running;

	pthread_mutex_lock(&meter_lock);
	running = ticker_running;
	ticker_stop = 1;
	if (running)
		pthread_cond_signal(&ticker_cond);
	pthread_mutex_unlock(&meter_lock);
	if (running)
		pthread_join(ticker, NULL);
	pthread_mutex_lock(&meter_lock);
	ticker_running = 0;
	pthread_mutex_unlock(&meter_lock);
}

/* The ticker takes no signal: the commands' handlers stay on their own
 * threads, and their blocking calls see EINTR as before. */
static void start_ticker(void)
{
	sigset_t all, old;

	pthread_mutex_lock(&meter_lock);
	if (!ticker_cond_ready) {
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&ticker_cond, &attr);
		pthread_condattr_destroy(&attr);
		ticker_cond_ready = 1;
	}
	ticker_stop = 0;
	pthread_mutex_unlock(&meter_lock);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (!pthread_create(&ticker, NULL, ticker_main, NULL)) {
		pthread_mutex_lock(&meter_lock);
		ticker_running = 1;
		pthread_mutex_unlock(&meter_lock);
	}
	/* without a ticker, reporters show the state themselves */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void unset_cb(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&meter_lock);
	clear_locked();
	meter_on = 0;
	pthread_mutex_unlock(&meter_lock);
}

static void start(FILE *out, enum mode mode, int width, int64_t total_bytes)
{
	double now;

	stop_ticker();
	g3_log_locked(unset_cb, NULL);
	pthread_mutex_lock(&meter_lock);
	now = now_seconds();
	g3_progress_state_init(&meter, total_bytes, now);
	meter_mode = mode;
	meter_on = mode != MODE_OFF;
	meter_out = out;
	meter_interval = config_interval > 0 ? config_interval :
			 mode == MODE_JSON ? G3_PROGRESS_JSON_INTERVAL : G3_PROGRESS_LINE_INTERVAL;
	/* rates after a second, or four intervals when they are shorter */
	if (meter_interval * 4 < meter.rate_min)
		meter.rate_min = meter_interval * 4;
	meter_fixed_width = width > 0;
	meter.width = width > 0 ? width : (mode == MODE_LINE ? terminal_width() : 80);
	meter_drawn = 0;
	/* the first line after an interval: short runs show nothing */
	meter_last_draw = now;
	pthread_mutex_unlock(&meter_lock);
	g3_log_set_before_write(mode == MODE_LINE ? g3_progress_clear_line : NULL);
}

void g3_progress_init(int64_t total_bytes)
{
	const char *term = getenv("TERM");
	enum mode mode = MODE_OFF;

	if (g3_log_get_quiet())
		mode = MODE_OFF;
	else if (g3_log_get_format() == G3_LOG_JSON)
		mode = MODE_JSON;
	else if (isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb")))
		mode = MODE_LINE;
	start(stderr, mode, 0, total_bytes);
	if (mode != MODE_OFF)
		start_ticker();
}

void g3_progress_init_to(FILE *out, int width, int64_t total_bytes)
{
	start(out, MODE_LINE, width > 0 ? width : 80, total_bytes);
}

void g3_progress_set_totals(int64_t total_bytes, int items_total)
{
	pthread_mutex_lock(&meter_lock);
	if (total_bytes >= 0)
		meter.total_bytes = total_bytes;
	if (items_total >= 0)
		meter.items_total = items_total;
	pthread_mutex_unlock(&meter_lock);
}

int g3_progress_enabled(void)
{
	int on;

	pthread_mutex_lock(&meter_lock);
	on = meter_on;
	pthread_mutex_unlock(&meter_lock);
	return on;
}

void g3_progress_add_bytes(int64_t n)
{
	pthread_mutex_lock(&meter_lock);
	meter.bytes += n;
	unlock_and_show_due();
}

void g3_progress_batch_flush(g3_progress_batch *b)
{
	if (b->pending) {
		g3_progress_add_bytes(b->pending);
		b->pending = 0;
	}
}

static g3_progress_item *find_locked(const char *name, size_t *index)
{
	for (size_t i = 0; i < meter.n_items; i++) {
		if (!strncmp(meter.items[i].name, name, G3_PROGRESS_NAME_MAX - 1)) {
			*index = i;
			return &meter.items[i];
		}
	}
	return NULL;
}

/* The in-flight item name is a part of ("db" of "db.public.t"), if any. */
static g3_progress_item *parent_locked(const char *name)
{
	for (size_t i = 0; i < meter.n_items; i++) {
		size_t n = strlen(meter.items[i].name);

		if (n && !strncmp(meter.items[i].name, name, n) && name[n] == '.')
			return &meter.items[i];
	}
	return NULL;
}

/* Rows or documents of item it (and of its parent): meter_lock held. */
static void count_locked(g3_progress_item *it, int64_t n)
{
	g3_progress_item *parent = it->part ? parent_locked(it->name) : NULL;

	it->count += n;
	if (parent)
		parent->count += n;
	if (it->unit == G3_PROGRESS_DOCS)
		meter.docs += n;
	else
		meter.rows += n;
}

void g3_progress_item_start(const char *name, g3_progress_unit unit)
{
	pthread_mutex_lock(&meter_lock);
	if (meter.n_items < G3_PROGRESS_MAX_ITEMS) {
		g3_progress_item *it = &meter.items[meter.n_items++];

		snprintf(it->name, sizeof(it->name), "%s", name);
		it->unit = unit;
		it->count = 0;
		it->part = parent_locked(it->name) != NULL;
	} else {
		meter.n_untracked++;
	}
	unlock_and_show_due();
}

/* Takes meter_lock and finds the in-flight item name (NULL: not tracked);
 * the caller ends with unlock_and_show_due. */
static g3_progress_item *lock_find(const char *name, size_t *index)
{
	pthread_mutex_lock(&meter_lock);
	return find_locked(name, index);
}

void g3_progress_item_add(const char *name, int64_t n)
{
	size_t i;
	g3_progress_item *it = lock_find(name, &i);

	if (it)
		count_locked(it, n);
	unlock_and_show_due();
}

void g3_progress_item_done(const char *name, int64_t count)
{
	size_t i;
	g3_progress_item *it = lock_find(name, &i);

	if (it) {
		int part = it->part;

		if (count > it->count)
			count_locked(it, count - it->count);
		memmove(&meter.items[i], &meter.items[i + 1],
			(meter.n_items - i - 1) * sizeof(meter.items[0]));
		meter.n_items--;
		if (!part)
			meter.items_done++;
	} else if (meter.n_untracked) {
		/* beyond the tracked items: its unit is unknown, count rows */
		meter.n_untracked--;
		meter.rows += count > 0 ? count : 0;
		meter.items_done++;
	} else {
		meter.items_done++;
	}
	unlock_and_show_due();
}

void g3_progress_tick(void)
{
	show(0);
}

void g3_progress_finish(void)
{
	int json;

	stop_ticker();
	pthread_mutex_lock(&meter_lock);
	json = meter_on && meter_mode == MODE_JSON;
	pthread_mutex_unlock(&meter_lock);
	if (json)
		emit_event(1, 1);
	g3_log_locked(unset_cb, NULL);
	g3_log_set_before_write(NULL);
}

void g3_progress_snapshot(g3_progress_state *out)
{
	pthread_mutex_lock(&meter_lock);
	*out = meter;
	pthread_mutex_unlock(&meter_lock);
}
