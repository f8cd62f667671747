/*
 * libFuzzer target for the _bulk answer parser (src/common/es/esbulk.c). The
 * input is an answer body. Its first 4 KiB go through the fast path that
 * skips answers saying "errors":false: whenever it says so and json-c reads
 * the body as an object, the top-level "errors" must be the boolean false
 * (a body naming "errors" twice is left out: json-c keeps the last one,
 * Elasticsearch never sends it). Then the answer is classified for
 * 0..7 documents (the first byte): a classification that reports every
 * document ok needs "errors":false or a 2xx status for every item.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/es/esbulk.h"

static int all_items_2xx(json_object *resp)
{
	json_object *items;

	if (!json_object_object_get_ex(resp, "items", &items))
		return 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i), *st;
		int ok = 0;

		json_object_object_foreach(it, k, res) {
			(void)k;
			ok = json_object_object_get_ex(res, "status", &st) &&
			     json_object_get_int(st) >= 200 && json_object_get_int(st) < 300;
			break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	size_t len = size ? size - 1 : 0, n, n_failed = 0, n_reported = 0, failed = 0;
	unsigned char status[8];
	json_tokener *tok;
	json_object *resp, *errs;
	g3_buf raw = G3_BUF_INIT, errors = G3_BUF_INIT;
	g3_err err;
	int fast;

	if (size < 1)
		return 0;
	n = data[0] % 8;
	g3_buf_add(&raw, body, len < 4096 ? len : 4096);
	g3_buf_addch(&raw, '\0');
	fast = g3_bulk_says_no_errors(raw.data);
	tok = json_tokener_new();
	resp = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(resp);
		resp = NULL;
	}
	json_tokener_free(tok);
	if (fast && json_object_is_type(resp, json_type_object) &&
	    (!json_object_object_get_ex(resp, "errors", &errs) ||
	     !json_object_is_type(errs, json_type_boolean) || json_object_get_boolean(errs))) {
		/* says no errors, but the answer does not */
		const char *first = memmem(body, len, "\"errors\"", 8);

		if (!first || !memmem(first + 8, len - (size_t)(first + 8 - body), "\"errors\"", 8))
			abort();
	}
	g3_err_init(&err);
	memset(status, 0xEE, sizeof(status));
	if (resp && !g3_bulk_classify(resp, n, status, &n_failed, &errors, &n_reported, &err)) {
		for (size_t i = 0; i < n; i++) {
			if (status[i] != G3_ITEM_OK && status[i] != G3_ITEM_RETRY &&
			    status[i] != G3_ITEM_FAILED)
				abort();
			failed += status[i] == G3_ITEM_FAILED;
		}
		if (failed != n_failed || n_reported > G3_ESBULK_MAX_REPORTED)
			abort();
		if (n && !memchr(status, G3_ITEM_RETRY, n) && !failed &&
		    !(json_object_object_get_ex(resp, "errors", &errs) &&
		      json_object_is_type(errs, json_type_boolean) && !json_object_get_boolean(errs)) &&
		    !all_items_2xx(resp))
			abort();  /* every document ok, yet the answer does not say so */
	}
	json_object_put(resp);
	g3_buf_release(&raw);
	g3_buf_release(&errors);
	return 0;
}
