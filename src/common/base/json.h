/*
 * Small JSON helpers shared by the modules that build or read JSON text
 * outside json-c's object model (the ES bulk body, snapshot NDJSON) or
 * that parse answers held in a g3_buf. The streaming scanner of large
 * documents is jsonscan.h.
 */
#ifndef G3_JSON_H
#define G3_JSON_H

#include <json-c/json.h>

#include "strbuf.h"

/* Appends s as a JSON string literal (quotes included): '"' '\\' and the
 * control characters escaped (\n \r \t, else \u00XX); other bytes as they
 * are (UTF-8 passes through). */
void g3_json_quote(g3_buf *b, const char *s);

/* Parses b's whole text as one JSON value; NULL when b is empty or not
 * JSON. Caller puts the result. */
json_object *g3_json_parse_buf(const g3_buf *b);

#endif
