/*
 * A validating JSON scanner that allocates nothing per line: the fast path
 * of the document reader (elasticdump.c). It accepts strict JSON only (RFC
 * 8259: structure, strings with valid escapes and UTF-8, numbers, literals)
 * and is deliberately narrower than json-c, so that whatever it accepts
 * json-c accepts with the same meaning; anything it declines goes through
 * json-c, which decides and words the error as before.
 *
 * Declined on purpose (json-c's reading could differ or is lenient): keys
 * with escapes, duplicate keys in any object (json-c keeps the last), \u
 * escapes of surrogates, integers of more than 18 digits, nesting deeper
 * than G3_JSCAN_MAX_DEPTH, whitespace other than space, tab, CR and LF.
 */
#ifndef G3_JSONSCAN_H
#define G3_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

#define G3_JSCAN_MAX_DEPTH 200

struct g3_jscan_key;

/* Scratch reused from line to line (keys of the open objects). */
typedef struct g3_jscan {
	struct g3_jscan_key *keys;
	size_t nkeys, cap;
	uint32_t *slots;      /* a hash set for objects with many keys */
	size_t nslots;
} g3_jscan;

void g3_jscan_init(g3_jscan *s);
void g3_jscan_release(g3_jscan *s);

/* 1 when text[0..n) is one strictly valid JSON value, surrounded by
 * nothing but whitespace, that the scanner takes; 0 otherwise. */
int g3_jscan_valid(g3_jscan *s, const char *text, size_t n);

/* Where a search hit's parts lie in its line. */
typedef struct g3_jscan_hit {
	size_t id_off, id_len;    /* the bytes between "_id"'s quotes (no escapes) */
	size_t src_off, src_len;  /* the "_source" object, verbatim */
} g3_jscan_hit;

/*
 * 1 when line is a valid JSON object (as g3_jscan_valid) with exactly one
 * "_id", a non-empty string without escapes, and one "_source", an object;
 * 0 otherwise (the caller parses it fully to decide).
 */
int g3_jscan_hit_line(g3_jscan *s, const char *line, size_t n, g3_jscan_hit *hit);

#endif
