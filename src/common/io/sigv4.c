/*
 * AWS Signature Version 4 (see sigv4.h for the contract).
 *
 *   canonical request = METHOD \n PATH \n QUERY \n
 *                       name:value \n ... \n  (sorted lowercase names)
 *                       signed;header;names \n PAYLOAD-HASH
 *   string to sign    = AWS4-HMAC-SHA256 \n DATE-TIME \n
 *                       DATE/REGION/SERVICE/aws4_request \n hex(sha256(creq))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, DATE), REGION),
 *                            SERVICE), "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 */
#include "sigv4.h"

#include "../base/hex.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void g3_sigv4_payload_hash(const void *data, size_t len, char out[65])
{
	g3_sha256_hex(data, len, out);
}

static int hmac(const void *key, size_t keylen, const void *data, size_t len,
		unsigned char out[32])
{
	size_t outlen = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len,
		       out, 32, &outlen))
		return -1;
	return outlen == 32 ? 0 : -1;
}

struct enc_kv {
	char *name;
	char *value;
};

static int cmp_enc_kv(const void *a, const void *b)
{
	const struct enc_kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

char *g3_sigv4_query(const g3_kv *params, size_t n)
{
	struct enc_kv *e = g3_xcalloc(n ? n : 1, sizeof(*e));
	g3_buf b = G3_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		g3_buf_init(&b);
		g3_url_encode(&b, params[i].name, 0);
		e[i].name = g3_buf_detach(&b);
		g3_url_encode(&b, params[i].value ? params[i].value : "", 0);
		e[i].value = g3_buf_detach(&b);
	}
	qsort(e, n, sizeof(*e), cmp_enc_kv);
	g3_buf_adds(&b, "");
	for (size_t i = 0; i < n; i++) {
		g3_buf_addf(&b, "%s%s=%s", i ? "&" : "", e[i].name, e[i].value);
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
	return g3_buf_detach(&b);
}

/* A header for the canonical request: lowercase name, value trimmed with
 * inner runs of spaces collapsed. */
struct canon_header {
	char *name;
	char *value;
};

static int cmp_header(const void *a, const void *b)
{
	return strcmp(((const struct canon_header *)a)->name,
		      ((const struct canon_header *)b)->name);
}

static void canon_add(struct canon_header *h, size_t *n, const char *name, const char *value)
{
	g3_buf b = G3_BUF_INIT;
	int space = 0;

	for (const char *p = name; *p; p++)
		g3_buf_addch(&b, (char)tolower((unsigned char)*p));
	h[*n].name = g3_buf_detach(&b);
	g3_buf_adds(&b, "");
	while (*value == ' ' || *value == '\t')
		value++;
	for (const char *p = value; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			space = 1;
			continue;
		}
		if (space && b.len)
			g3_buf_addch(&b, ' ');
		space = 0;
		g3_buf_addch(&b, *p);
	}
	h[*n].value = g3_buf_detach(&b);
	(*n)++;
}

void g3_sigv4_result_init(g3_sigv4_result *r)
{
	g3_buf_init(&r->canonical_request);
	g3_buf_init(&r->string_to_sign);
	g3_buf_init(&r->authorization);
	r->signature[0] = '\0';
}

void g3_sigv4_result_release(g3_sigv4_result *r)
{
	g3_buf_release(&r->canonical_request);
	g3_buf_release(&r->string_to_sign);
	g3_buf_release(&r->authorization);
	OPENSSL_cleanse(r->signature, sizeof(r->signature));
}

g3_rc g3_sigv4_sign(const g3_sigv4_req *req, g3_sigv4_result *out, g3_err *err)
{
	struct canon_header *h = g3_xcalloc(req->n_headers + 4, sizeof(*h));
	size_t nh = 0;
	g3_buf signed_names = G3_BUF_INIT;
	g3_buf key = G3_BUF_INIT;
	char date[9];
	char creq_hash[65];
	unsigned char k[32];
	unsigned char sig[32];
	g3_rc rc = G3_OK;

	canon_add(h, &nh, "host", req->host);
	canon_add(h, &nh, "x-amz-content-sha256", req->payload_hash);
	canon_add(h, &nh, "x-amz-date", req->amz_date);
	if (req->session_token)
		canon_add(h, &nh, "x-amz-security-token", req->session_token);
	for (size_t i = 0; i < req->n_headers; i++)
		canon_add(h, &nh, req->headers[i].name, req->headers[i].value);
	qsort(h, nh, sizeof(*h), cmp_header);

	g3_buf_reset(&out->canonical_request);
	g3_buf_addf(&out->canonical_request, "%s\n%s\n%s\n", req->method,
		    req->path && *req->path ? req->path : "/", req->query ? req->query : "");
	for (size_t i = 0; i < nh; i++) {
		g3_buf_addf(&out->canonical_request, "%s:%s\n", h[i].name, h[i].value);
		g3_buf_addf(&signed_names, "%s%s", i ? ";" : "", h[i].name);
	}
	g3_buf_addf(&out->canonical_request, "\n%s\n%s", signed_names.data, req->payload_hash);

	memcpy(date, req->amz_date, 8);
	date[8] = '\0';
	g3_sigv4_payload_hash(out->canonical_request.data, out->canonical_request.len, creq_hash);
	g3_buf_reset(&out->string_to_sign);
	g3_buf_addf(&out->string_to_sign, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
		    req->amz_date, date, req->region, req->service, creq_hash);

	g3_buf_addf(&key, "AWS4%s", req->secret_key);
	if (hmac(key.data, key.len, date, strlen(date), k) ||
	    hmac(k, 32, req->region, strlen(req->region), k) ||
	    hmac(k, 32, req->service, strlen(req->service), k) ||
	    hmac(k, 32, "aws4_request", 12, k) ||
	    hmac(k, 32, out->string_to_sign.data, out->string_to_sign.len, sig)) {
		rc = g3_err_set(err, G3_FAIL, "could not compute an HMAC-SHA256 with libcrypto");
		goto cleanup;
	}
	g3_hex_encode(sig, 32, out->signature);
	g3_buf_reset(&out->authorization);
	g3_buf_addf(&out->authorization,
		    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		    req->access_key, date, req->region, req->service, signed_names.data,
		    out->signature);

cleanup:
	OPENSSL_cleanse(k, sizeof(k));
	if (key.data)
		OPENSSL_cleanse(key.data, key.len);
	g3_buf_release(&key);
	g3_buf_release(&signed_names);
	for (size_t i = 0; i < nh; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	return rc;
}

void g3_amz_date(long long t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
