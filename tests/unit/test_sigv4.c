/*
 * SigV4 against AWS's published S3 examples ("Signature Calculations for
 * the Authorization Header: Transferring Payload in a Single Chunk"):
 * examplebucket, us-east-1, 20130524T000000Z, the documentation's keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/io/sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define DATE "20130524T000000Z"

struct vector {
	const char *name;
	const char *method;
	const char *path;
	g3_kv query[3];
	size_t n_query;
	g3_kv headers[3];
	size_t n_headers;
	const char *payload_hash;
	const char *canonical_request;
	const char *signature;
};

#define BODY_HASH "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"

static const struct vector vectors[] = {
	{ "GET Object", "GET", "/test.txt", { { NULL, NULL } }, 0,
	  { { "Range", "bytes=0-9" } }, 1, G3_SHA256_EMPTY,
	  "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	  "x-amz-content-sha256:" G3_SHA256_EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	  "host;range;x-amz-content-sha256;x-amz-date\n" G3_SHA256_EMPTY,
	  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" },
	{ "GET Bucket (List Objects)", "GET", "/",
	  { { "prefix", "J" }, { "max-keys", "2" } }, 2, { { NULL, NULL } }, 0, G3_SHA256_EMPTY,
	  "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
	  "x-amz-content-sha256:" G3_SHA256_EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	  "host;x-amz-content-sha256;x-amz-date\n" G3_SHA256_EMPTY,
	  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7" },
	{ "GET Bucket Lifecycle", "GET", "/", { { "lifecycle", NULL } }, 1,
	  { { NULL, NULL } }, 0, G3_SHA256_EMPTY,
	  "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
	  "x-amz-content-sha256:" G3_SHA256_EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	  "host;x-amz-content-sha256;x-amz-date\n" G3_SHA256_EMPTY,
	  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543" },
	{ "PUT Object", "PUT", "test$file.text", { { NULL, NULL } }, 0,
	  { { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
	    { "x-amz-storage-class", "REDUCED_REDUNDANCY" } }, 2, BODY_HASH,
	  "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
	  "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:" BODY_HASH
	  "\nx-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
	  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n" BODY_HASH,
	  "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd" },
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		g3_buf path = G3_BUF_INIT;
		char *query = g3_sigv4_query(v->query, v->n_query);
		g3_sigv4_result r;
		g3_err err;
		g3_sigv4_req req = {
			.method = v->method, .host = HOST, .query = query,
			.headers = v->headers, .n_headers = v->n_headers,
			.payload_hash = v->payload_hash, .amz_date = DATE,
			.region = "us-east-1", .service = "s3",
			.access_key = AKID, .secret_key = SECRET,
		};

		g3_err_init(&err);
		if (v->path[0] != '/')
			g3_buf_addch(&path, '/');
		g3_url_encode(&path, v->path, 1);
		req.path = path.data;
		g3_sigv4_result_init(&r);
		assert_int_equal(g3_sigv4_sign(&req, &r, &err), G3_OK);
		assert_string_equal(r.canonical_request.data, v->canonical_request);
		assert_string_equal(r.signature, v->signature);
		g3_sigv4_result_release(&r);
		g3_buf_release(&path);
		free(query);
	}
}

static void test_authorization_header(void **state)
{
	g3_kv range = { "Range", "bytes=0-9" };
	g3_sigv4_req req = {
		.method = "GET", .host = HOST, .path = "/test.txt", .query = "",
		.headers = &range, .n_headers = 1, .payload_hash = G3_SHA256_EMPTY,
		.amz_date = DATE, .region = "us-east-1", .service = "s3",
		.access_key = AKID, .secret_key = SECRET,
	};
	g3_sigv4_result r;
	g3_err err;

	(void)state;
	g3_err_init(&err);
	g3_sigv4_result_init(&r);
	assert_int_equal(g3_sigv4_sign(&req, &r, &err), G3_OK);
	assert_string_equal(r.string_to_sign.data,
			    "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
			    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	assert_string_equal(r.authorization.data,
			    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
			    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	/* A session token is signed as x-amz-security-token. */
	req.session_token = "tok  en";
	assert_int_equal(g3_sigv4_sign(&req, &r, &err), G3_OK);
	assert_non_null(strstr(r.canonical_request.data, "\nx-amz-security-token:tok en\n"));
	assert_non_null(strstr(r.authorization.data,
			       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
	g3_sigv4_result_release(&r);
}

static void test_encoding(void **state)
{
	static const struct { const char *in; int slash; const char *out; } cases[] = {
		{ "a b/c+d=e~f_g.h-i", 1, "a%20b/c%2Bd%3De~f_g.h-i" },
		{ "a b/c", 0, "a%20b%2Fc" },
		{ "caf\xc3\xa9", 1, "caf%C3%A9" },
		{ "1/abc+def/ghi==", 0, "1%2Fabc%2Bdef%2Fghi%3D%3D" },
	};
	g3_kv q[] = { { "prefix", "a b" }, { "list-type", "2" },
		      { "continuation-token", "x+y/z=" } };
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g3_buf b = G3_BUF_INIT;

		g3_url_encode(&b, cases[i].in, cases[i].slash);
		assert_string_equal(b.data, cases[i].out);
		g3_buf_release(&b);
	}
	s = g3_sigv4_query(q, 3);
	assert_string_equal(s, "continuation-token=x%2By%2Fz%3D&list-type=2&prefix=a%20b");
	free(s);
}

static void test_misc(void **state)
{
	char out[65];
	char date[17];

	(void)state;
	g3_sigv4_payload_hash("", 0, out);
	assert_string_equal(out, G3_SHA256_EMPTY);
	g3_amz_date(1369353600LL, date);
	assert_string_equal(date, "20130524T000000Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_authorization_header),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
