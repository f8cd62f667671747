/*
 * URL redaction for messages: no user:password@, no secret query
 * parameters, everything else kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/io/http.h"

static void test_redact(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "https://example.org/a/b.sql", "https://example.org/a/b.sql" },
		{ "https://user:pa55@example.org:8443/x?y=1", "https://example.org:8443/x?y=1" },
		{ "http://user@h/x", "http://h/x" },
		{ "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		  "&X-Amz-Credential=AKIA%2F20130524&X-Amz-Date=20130524T000000Z"
		  "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bb"
		  "&X-Amz-Security-Token=tok",
		  "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		  "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" },
		{ "https://acct.blob.core.windows.net/c/b?sv=2020&sig=abc%3D", "https://acct.blob.core.windows.net/c/b?sv=2020" },
		{ "https://h/x?Signature=s&token&a=b#frag", "https://h/x?a=b" },
		{ "https://h/path@x?q=1", "https://h/path@x?q=1" },
		{ "https://u:p@h", "https://h" },
		/* empty parameters dropped, so redacting twice changes nothing
		 * (found by tests/fuzz/fuzz_url.c) */
		{ "http://host/a@b?key&&sig=1", "http://host/a@b" },
		{ "https://h/x?a=1&&b=2&", "https://h/x?a=1&b=2" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = g3_url_redact(cases[i].in);

		assert_string_equal(r, cases[i].out);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
