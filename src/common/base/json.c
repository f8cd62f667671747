#include "json.h"

void g3_json_quote(g3_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	g3_buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': g3_buf_add(b, "\\\"", 2); break;
		case '\\': g3_buf_add(b, "\\\\", 2); break;
		case '\n': g3_buf_add(b, "\\n", 2); break;
		case '\r': g3_buf_add(b, "\\r", 2); break;
		case '\t': g3_buf_add(b, "\\t", 2); break;
		default:
			if (*p < 0x20) {
				g3_buf_add(b, "\\u00", 4);
				g3_buf_addch(b, hex[*p >> 4]);
				g3_buf_addch(b, hex[*p & 15]);
			} else {
				g3_buf_addch(b, (char)*p);
			}
		}
	}
	g3_buf_addch(b, '"');
}

json_object *g3_json_parse_buf(const g3_buf *b)
{
	return b && b->len ? json_tokener_parse(b->data) : NULL;
}
