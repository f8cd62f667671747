/*
 * The progress meter (see progress.h): one state under one mutex, updated
 * by reporters on any thread; whichever reporter finds a redraw due draws
 * the line, under the same mutex, so lines never interleave.
 */
#include "progress.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define REDRAW_INTERVAL 0.5
#define RATE_WINDOW_MIN 1.0   /* seconds of history before showing a rate */

static pthread_mutex_t meter_lock = PTHREAD_MUTEX_INITIALIZER;
static g3_progress_state meter;
static int meter_on;           /* drawing */
static FILE *meter_out;
static int meter_fixed_width;  /* from g3_progress_init_to: never re-queried */
static int meter_drawn;        /* a line is on the terminal */
static double meter_last_draw;
static double (*meter_clock)(void);

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_seconds(void)
{
	return meter_clock ? meter_clock() : monotonic_now();
}

void g3_progress_set_clock(double (*now)(void))
{
	pthread_mutex_lock(&meter_lock);
	meter_clock = now;
	pthread_mutex_unlock(&meter_lock);
}

/* ---- pure helpers --------------------------------------------------------- */

void g3_progress_format_bytes(char *buf, size_t len, int64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", (long long)(bytes < 0 ? 0 : bytes));
		return;
	}
	v = (double)bytes / 1024.0;
	while (v >= 1023.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (v < 99.95)
		snprintf(buf, len, "%.1f %s", v, units[u]);
	else
		snprintf(buf, len, "%.0f %s", v, units[u]);
}

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
 * RATE_WINDOW_MIN old), else since the start; 0 when too early. */
static int rates(const g3_progress_state *st, double now, double *bytes,
		 double *rows, double *docs)
{
	double t0 = st->start, dt;
	int64_t b0 = 0, r0 = 0, d0 = 0;

	if (st->n_samples) {
		size_t oldest = st->n_samples < G3_PROGRESS_SAMPLES ? 0 : st->next_sample;
		const g3_progress_sample *s = &st->samples[oldest];

		if (now - s->t >= RATE_WINDOW_MIN) {
			t0 = s->t;
			b0 = s->bytes;
			r0 = s->rows;
			d0 = s->docs;
		}
	}
	dt = now - t0;
	if (dt < RATE_WINDOW_MIN) {
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

	g3_progress_format_bytes(a, sizeof(a), st->bytes);
	if (st->total_bytes >= 0) {
		int pct = 100;

		if (st->total_bytes > 0)
			pct = st->bytes >= st->total_bytes ? 100 :
			      (int)((double)st->bytes * 100.0 / (double)st->total_bytes);
		g3_progress_format_bytes(b, sizeof(b), st->total_bytes);
		snprintf(field, sizeof(field), "%s / %s %d%%", a, b, pct);
	} else {
		snprintf(field, sizeof(field), "%s read", a);
	}
	put(buf, limit, &pos, field);
	if (have_rates && st->bytes > 0) {
		g3_progress_format_bytes(a, sizeof(a), (int64_t)rb);
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

/* Draws the line; meter_lock held. */
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

static void maybe_redraw_locked(void)
{
	double now;

	if (!meter_on)
		return;
	now = now_seconds();
	if (now - meter_last_draw >= REDRAW_INTERVAL)
		redraw_locked(now);
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

static void start(FILE *out, int on, int width, int64_t total_bytes)
{
	double now;

	pthread_mutex_lock(&meter_lock);
	clear_locked();
	now = now_seconds();
	g3_progress_state_init(&meter, total_bytes, now);
	meter_on = on;
	meter_out = out;
	meter_fixed_width = width > 0;
	meter.width = width > 0 ? width : (on ? terminal_width() : 80);
	meter_drawn = 0;
	/* the first line after half a second: short runs show nothing */
	meter_last_draw = now;
	pthread_mutex_unlock(&meter_lock);
	g3_log_set_before_write(on ? g3_progress_clear_line : NULL);
}

void g3_progress_init(int64_t total_bytes)
{
	const char *term = getenv("TERM");
	int on = isatty(STDERR_FILENO) && !(term && !strcmp(term, "dumb")) &&
		 !g3_log_get_quiet() && g3_log_get_format() != G3_LOG_JSON;

	start(stderr, on, 0, total_bytes);
}

void g3_progress_init_to(FILE *out, int width, int64_t total_bytes)
{
	start(out, 1, width > 0 ? width : 80, total_bytes);
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
	maybe_redraw_locked();
	pthread_mutex_unlock(&meter_lock);
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

void g3_progress_item_start(const char *name, g3_progress_unit unit)
{
	pthread_mutex_lock(&meter_lock);
	if (meter.n_items < G3_PROGRESS_MAX_ITEMS) {
		g3_progress_item *it = &meter.items[meter.n_items++];

		snprintf(it->name, sizeof(it->name), "%s", name);
		it->unit = unit;
		it->count = 0;
	} else {
		meter.n_untracked++;
	}
	maybe_redraw_locked();
	pthread_mutex_unlock(&meter_lock);
}

void g3_progress_item_add(const char *name, int64_t n)
{
	g3_progress_item *it;
	size_t i;

	pthread_mutex_lock(&meter_lock);
	it = find_locked(name, &i);
	if (it) {
		it->count += n;
		if (it->unit == G3_PROGRESS_DOCS)
			meter.docs += n;
		else
			meter.rows += n;
	}
	maybe_redraw_locked();
	pthread_mutex_unlock(&meter_lock);
}

void g3_progress_item_done(const char *name, int64_t count)
{
	g3_progress_item *it;
	size_t i;

	pthread_mutex_lock(&meter_lock);
	it = find_locked(name, &i);
	if (it) {
		int64_t rest = count > it->count ? count - it->count : 0;

		if (it->unit == G3_PROGRESS_DOCS)
			meter.docs += rest;
		else
			meter.rows += rest;
		memmove(&meter.items[i], &meter.items[i + 1],
			(meter.n_items - i - 1) * sizeof(meter.items[0]));
		meter.n_items--;
	} else if (meter.n_untracked) {
		/* beyond the tracked items: its unit is unknown, count rows */
		meter.n_untracked--;
		meter.rows += count > 0 ? count : 0;
	}
	meter.items_done++;
	maybe_redraw_locked();
	pthread_mutex_unlock(&meter_lock);
}

void g3_progress_tick(void)
{
	pthread_mutex_lock(&meter_lock);
	maybe_redraw_locked();
	pthread_mutex_unlock(&meter_lock);
}

void g3_progress_finish(void)
{
	pthread_mutex_lock(&meter_lock);
	clear_locked();
	meter_on = 0;
	pthread_mutex_unlock(&meter_lock);
	g3_log_set_before_write(NULL);
}

void g3_progress_snapshot(g3_progress_state *out)
{
	pthread_mutex_lock(&meter_lock);
	*out = meter;
	pthread_mutex_unlock(&meter_lock);
}
