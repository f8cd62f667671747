/*
 * The validating JSON scanner; see jsonscan.h.
 */
#include "jsonscan.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

struct g3_jscan_key {
	uint64_t h;
	size_t off, len;
};

struct scan {
	const unsigned char *base, *p, *end;
	g3_jscan *s;
	int depth;
	g3_jscan_hit *hit;  /* top-level fields wanted, or NULL */
	int n_id, n_src;
};

void g3_jscan_init(g3_jscan *s)
{
	memset(s, 0, sizeof(*s));
}

void g3_jscan_release(g3_jscan *s)
{
	free(s->keys);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static void skip_ws(struct scan *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* One UTF-8 sequence starting at a lead byte >= 0x80; 0 when invalid. */
static int utf8_seq(struct scan *c)
{
	const unsigned char *p = c->p;
	unsigned char b = *p, lo = 0x80, hi = 0xBF;
	int more;

	if (b >= 0xC2 && b <= 0xDF)
		more = 1;
	else if (b >= 0xE0 && b <= 0xEF) {
		more = 2;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		more = 3;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (c->end - p <= more)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i <= more; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	c->p = p + 1 + more;
	return 1;
}

/* A string at the opening quote; *escaped set when it holds a backslash,
 * *h (when given) a hash of its raw bytes. */
static int scan_string(struct scan *c, int *escaped, uint64_t *h)
{
	uint64_t hash = 14695981039346656037ULL;

	*escaped = 0;
	c->p++;
	while (c->p < c->end) {
		unsigned char ch = *c->p;

		if (ch == '"') {
			c->p++;
			if (h)
				*h = hash;
			return 1;
		}
		if (ch < 0x20)
			return 0;
		if (ch == '\\') {
			*escaped = 1;
			if (c->end - c->p < 2)
				return 0;
			switch (c->p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				c->p += 2;
				break;
			case 'u': {
				int v = 0;

				if (c->end - c->p < 6)
					return 0;
				for (int i = 2; i < 6; i++) {
					int x = hexval(c->p[i]);

					if (x < 0)
						return 0;
					v = v * 16 + x;
				}
				if (v >= 0xD800 && v <= 0xDFFF)
					return 0;  /* surrogates: json-c decides */
				c->p += 6;
				break;
			}
			default:
				return 0;
			}
			continue;
		}
		if (ch >= 0x80) {
			const unsigned char *from = c->p;

			if (!utf8_seq(c))
				return 0;
			if (h)
				for (; from < c->p; from++)
					hash = (hash ^ *from) * 1099511628211ULL;
			continue;
		}
		if (h)
			hash = (hash ^ ch) * 1099511628211ULL;
		c->p++;
	}
	return 0;
}

static int is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static int scan_number(struct scan *c)
{
	const unsigned char *start = c->p;
	int is_int = 1;

	if (*c->p == '-')
		c->p++;
	if (!is_digit(c->p, c->end))
		return 0;
	if (*c->p == '0')
		c->p++;
	else
		while (is_digit(c->p, c->end))
			c->p++;
	if (c->p < c->end && *c->p == '.') {
		is_int = 0;
		c->p++;
		if (!is_digit(c->p, c->end))
			return 0;
		while (is_digit(c->p, c->end))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		is_int = 0;
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!is_digit(c->p, c->end))
			return 0;
		while (is_digit(c->p, c->end))
			c->p++;
	}
	/* integers past int64 are json-c's to judge */
	return !is_int || c->p - start - (*start == '-') <= 18;
}

static int scan_literal(struct scan *c, const char *word, size_t len)
{
	if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len))
		return 0;
	c->p += len;
	return 1;
}

/* 1 when the keys from first on are all different. */
static int keys_unique(struct scan *c, size_t first)
{
	g3_jscan *s = c->s;
	size_t n = s->nkeys - first;
	struct g3_jscan_key *k = s->keys + first;

	if (n < 2)
		return 1;
	if (n <= 12) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				if (k[i].h == k[j].h && k[i].len == k[j].len &&
				    !memcmp(c->base + k[i].off, c->base + k[j].off, k[i].len))
					return 0;
		return 1;
	}
	/* open addressing over at least twice as many slots as keys */
	if (s->nslots < 2 * n) {
		while (s->nslots < 2 * n)
			s->nslots = s->nslots ? s->nslots * 2 : 64;
		s->slots = g3_xrealloc(s->slots, s->nslots * sizeof(*s->slots));
	}
	memset(s->slots, 0, s->nslots * sizeof(*s->slots));
	for (size_t i = 0; i < n; i++) {
		size_t at = (size_t)(k[i].h ^ (k[i].h >> 29)) & (s->nslots - 1);

		while (s->slots[at]) {
			const struct g3_jscan_key *o = &k[s->slots[at] - 1];

			if (o->h == k[i].h && o->len == k[i].len &&
			    !memcmp(c->base + o->off, c->base + k[i].off, o->len))
				return 0;
			at = (at + 1) & (s->nslots - 1);
		}
		s->slots[at] = (uint32_t)(i + 1);
	}
	return 1;
}

static int scan_value(struct scan *c);

static int scan_array(struct scan *c)
{
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return 1;
	}
	for (;;) {
		if (!scan_value(c))
			return 0;
		skip_ws(c);
		if (c->p >= c->end)
			return 0;
		if (*c->p == ']') {
			c->p++;
			return 1;
		}
		if (*c->p != ',')
			return 0;
		c->p++;
		skip_ws(c);
	}
}

static int scan_object(struct scan *c)
{
	g3_jscan *s = c->s;
	size_t first = s->nkeys;
	int top = c->depth == 1 && c->hit;

	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return 1;
	}
	for (;;) {
		struct g3_jscan_key *k;
		const unsigned char *kstart = c->p, *vstart;
		int escaped;
		uint64_t h;

		if (c->p >= c->end || *c->p != '"' || !scan_string(c, &escaped, &h) || escaped)
			return 0;
		if (s->nkeys == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->keys = g3_xrealloc(s->keys, s->cap * sizeof(*s->keys));
		}
		k = &s->keys[s->nkeys++];
		k->h = h;
		k->off = (size_t)(kstart + 1 - c->base);
		k->len = (size_t)(c->p - kstart - 2);
		skip_ws(c);
		if (c->p >= c->end || *c->p != ':')
			return 0;
		c->p++;
		skip_ws(c);
		vstart = c->p;
		if (top && k->len == 3 && !memcmp(kstart + 1, "_id", 3)) {
			c->n_id++;
			if (c->p >= c->end || *c->p != '"' || !scan_string(c, &escaped, NULL) ||
			    escaped || c->p - vstart == 2)
				return 0;
			c->hit->id_off = (size_t)(vstart + 1 - c->base);
			c->hit->id_len = (size_t)(c->p - vstart - 2);
		} else if (top && k->len == 7 && !memcmp(kstart + 1, "_source", 7)) {
			c->n_src++;
			if (c->p >= c->end || *c->p != '{' || !scan_value(c))
				return 0;
			c->hit->src_off = (size_t)(vstart - c->base);
			c->hit->src_len = (size_t)(c->p - vstart);
		} else if (!scan_value(c)) {
			return 0;
		}
		skip_ws(c);
		if (c->p >= c->end)
			return 0;
		if (*c->p == '}') {
			c->p++;
			break;
		}
		if (*c->p != ',')
			return 0;
		c->p++;
		skip_ws(c);
	}
	if (!keys_unique(c, first))
		return 0;
	s->nkeys = first;
	return 1;
}

static int scan_value(struct scan *c)
{
	int ok, escaped;

	if (c->p >= c->end)
		return 0;
	switch (*c->p) {
	case '{':
	case '[':
		if (++c->depth > G3_JSCAN_MAX_DEPTH)
			return 0;
		ok = *c->p == '{' ? scan_object(c) : scan_array(c);
		c->depth--;
		return ok;
	case '"':
		return scan_string(c, &escaped, NULL);
	case 't':
		return scan_literal(c, "true", 4);
	case 'f':
		return scan_literal(c, "false", 5);
	case 'n':
		return scan_literal(c, "null", 4);
	default:
		return scan_number(c);
	}
}

static int scan_all(g3_jscan *s, const char *text, size_t n, g3_jscan_hit *hit)
{
	struct scan c;

	memset(&c, 0, sizeof(c));
	c.base = (const unsigned char *)text;
	c.p = c.base;
	c.end = c.base + n;
	c.s = s;
	c.hit = hit;
	s->nkeys = 0;
	skip_ws(&c);
	if (hit && (c.p >= c.end || *c.p != '{'))
		return 0;
	if (!scan_value(&c))
		return 0;
	skip_ws(&c);
	if (c.p != c.end)
		return 0;
	return !hit || (c.n_id == 1 && c.n_src == 1);
}

int g3_jscan_valid(g3_jscan *s, const char *text, size_t n)
{
	return scan_all(s, text, n, NULL);
}

int g3_jscan_hit_line(g3_jscan *s, const char *line, size_t n, g3_jscan_hit *hit)
{
	memset(hit, 0, sizeof(*hit));
	return scan_all(s, line, n, hit);
}
