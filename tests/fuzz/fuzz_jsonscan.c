/*
 * libFuzzer target for the validating JSON scanner (src/common/base/jsonscan.c),
 * differential against json-c, which decides every line the scanner
 * declines. The contract (jsonscan.h): what the scanner accepts, json-c
 * accepts with the same meaning. So for every input:
 *   - g3_jscan_valid 1: json-c, strict or not, parses the whole text (only
 *     whitespace after the value) to equal values;
 *   - g3_jscan_hit_line 1: the text is valid, json-c's object has an "_id"
 *     string with exactly the bytes at [id_off, id_off + id_len) and a
 *     "_source" object equal to json-c's reading of the bytes at
 *     [src_off, src_off + src_len), and both spans end before the text
 *     does (the document reader writes a NUL after each).
 * The scanner declining what json-c takes is allowed (it is narrower on
 * purpose); any other disagreement aborts.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/jsonscan.h"

/* json-c's value of text[0..n), or 0 when it does not take all of it.
 * As the document reader's lines, the text is given with a line end (a
 * number at the very end of a buffer is unfinished for json-c). */
static int jsonc_parse(const char *text, size_t n, int strict, json_object **out)
{
	json_tokener *tok = json_tokener_new_ex(G3_JSCAN_MAX_DEPTH + 8);
	char *line = malloc(n + 1);
	json_object *o;
	size_t end;
	int ok = 1;

	*out = NULL;
	if (!tok || !line)
		abort();
	memcpy(line, text, n);
	line[n] = '\n';
	if (strict)
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, line, (int)n + 1);
	if (json_tokener_get_error(tok) != json_tokener_success)
		ok = 0;
	for (end = json_tokener_get_parse_end(tok); ok && end < n + 1; end++)
		if (!line[end] || !strchr(" \t\r\n", line[end]))
			ok = 0;
	json_tokener_free(tok);
	free(line);
	if (!ok) {
		json_object_put(o);
		return 0;
	}
	*out = o;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static g3_jscan scan;  /* reused like the reader's, across inputs */
	const char *text = (const char *)data;
	json_object *lax = NULL, *strict = NULL, *id, *src, *mine = NULL;
	g3_jscan_hit hit;
	int valid, is_hit;

	if (size > (1u << 20))
		return 0;
	valid = g3_jscan_valid(&scan, text, size);
	memset(&hit, 0xAA, sizeof(hit));
	is_hit = g3_jscan_hit_line(&scan, text, size, &hit);
	if (is_hit && !valid)
		abort();
	if (!valid)
		return 0;
	if (!jsonc_parse(text, size, 0, &lax) || !jsonc_parse(text, size, 1, &strict))
		abort();  /* the scanner took what json-c refuses */
	if (!json_object_equal(lax, strict))
		abort();
	if (is_hit) {
		if (hit.id_off + hit.id_len >= size || hit.src_off + hit.src_len >= size ||
		    !json_object_is_type(lax, json_type_object) ||
		    !json_object_object_get_ex(lax, "_id", &id) ||
		    !json_object_is_type(id, json_type_string) ||
		    (size_t)json_object_get_string_len(id) != hit.id_len || !hit.id_len ||
		    memcmp(json_object_get_string(id), text + hit.id_off, hit.id_len) ||
		    !json_object_object_get_ex(lax, "_source", &src) ||
		    !json_object_is_type(src, json_type_object))
			abort();
		if (!jsonc_parse(text + hit.src_off, hit.src_len, 1, &mine) ||
		    !json_object_equal(mine, src))
			abort();
		json_object_put(mine);
	}
	json_object_put(lax);
	json_object_put(strict);
	return 0;
}
