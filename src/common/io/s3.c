/*
 * S3 over libcurl with our own SigV4 signatures (see s3.h).
 *
 * Every request goes through s3_target (where: URL, Host header, encoded
 * path) and s3_sign (the x-amz-* and Authorization headers), so that the
 * path and query sent are byte for byte the ones signed. Responses are
 * small XML documents (listings, upload ids, errors) read with a few
 * lines of tag scanning: S3's answers use no attributes or nesting that
 * matter here, and entities are decoded.
 */
#include "s3.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl.h"
#include "http.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/opts.h"
#include "sigv4.h"
#include "../base/strbuf.h"

#define LIST_BODY_MAX (32u * 1024 * 1024)
#define SMALL_BODY_MAX (1024u * 1024)

/* ---- configuration and credentials ------------------------------------ */

static char *dup_or_null(const char *s)
{
	return s ? g3_xstrdup(s) : NULL;
}

static void free_secret(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void g3_s3_config_init(g3_s3_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_retries = -1;
	cfg->backoff_ms = -1;
}

void g3_s3_config_release(g3_s3_config *cfg)
{
	G3_FREE_ALL(cfg->endpoint, cfg->region, cfg->profile, cfg->ca_file);
	free_secret(&cfg->access_key);
	free_secret(&cfg->secret_key);
	free_secret(&cfg->session_token);
	g3_s3_config_init(cfg);
}

void g3_s3_config_copy(g3_s3_config *dst, const g3_s3_config *src)
{
	g3_s3_config_init(dst);
	dst->endpoint = dup_or_null(src->endpoint);
	dst->region = dup_or_null(src->region);
	dst->no_sign_request = src->no_sign_request;
	dst->access_key = dup_or_null(src->access_key);
	dst->secret_key = dup_or_null(src->secret_key);
	dst->session_token = dup_or_null(src->session_token);
	dst->profile = dup_or_null(src->profile);
	dst->ca_file = dup_or_null(src->ca_file);
	dst->max_retries = src->max_retries;
	dst->backoff_ms = src->backoff_ms;
	dst->part_size = src->part_size;
}

static g3_s3_config defaults_cfg = { .max_retries = -1, .backoff_ms = -1 };

void g3_s3_set_defaults(const g3_s3_config *cfg)
{
	g3_s3_config_release(&defaults_cfg);
	g3_s3_config_copy(&defaults_cfg, cfg);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/*
 * Reads one profile of an INI credentials file: "[name]" sections,
 * "key = value" lines, "#" and ";" comments. *found tells whether the
 * section exists. Values never appear in messages.
 */
static g3_rc read_profile(const char *path, const char *profile, g3_s3_config *out,
			  int *found, g3_err *err)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int in = 0;

	*found = 0;
	if (!f) {
		if (errno == ENOENT)
			return G3_OK;
		return g3_err_set(err, G3_USAGE, "could not read credentials file \"%s\": %s", path,
				  strerror(errno));
	}
	while (getline(&line, &cap, f) >= 0) {
		char *s = trim(line);
		char *eq, *k, *v;

		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');

			if (!e)
				continue;
			*e = '\0';
			in = !strcmp(trim(s + 1), profile);
			if (in)
				*found = 1;
			continue;
		}
		if (!in || !(eq = strchr(s, '=')))
			continue;
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (!strcmp(k, "aws_access_key_id") && !out->access_key)
			out->access_key = g3_xstrdup(v);
		else if (!strcmp(k, "aws_secret_access_key") && !out->secret_key)
			out->secret_key = g3_xstrdup(v);
		else if (!strcmp(k, "aws_session_token") && !out->session_token)
			out->session_token = g3_xstrdup(v);
		else if (!strcmp(k, "region") && !out->region)
			out->region = g3_xstrdup(v);
	}
	if (line) {
		OPENSSL_cleanse(line, cap);
		free(line);
	}
	fclose(f);
	return G3_OK;
}

g3_rc g3_s3_config_resolve(const g3_s3_config *cfg, g3_s3_config *out, g3_err *err)
{
	g3_http_opts hd;
	const char *v;
	g3_buf path = G3_BUF_INIT;
	const char *profile;
	int found = 0;
	g3_rc rc = G3_OK;

	g3_s3_config_copy(out, cfg);
	g3_http_get_defaults(&hd);
	if (!out->ca_file && hd.ca_file)
		out->ca_file = g3_xstrdup(hd.ca_file);
	if (out->max_retries < 0)
		out->max_retries = hd.max_retries;
	if (out->backoff_ms < 0)
		out->backoff_ms = hd.backoff_ms;
	if (!out->part_size)
		out->part_size = G3_S3_DEFAULT_PART_SIZE;
	if (!out->endpoint && ((v = g3_env("AWS_ENDPOINT_URL_S3")) || (v = g3_env("AWS_ENDPOINT_URL"))))
		out->endpoint = g3_xstrdup(v);
	if (!out->region && ((v = g3_env("AWS_REGION")) || (v = g3_env("AWS_DEFAULT_REGION"))))
		out->region = g3_xstrdup(v);

	if (!out->no_sign_request && !out->access_key) {
		if (g3_env("AWS_ACCESS_KEY_ID") || g3_env("AWS_SECRET_ACCESS_KEY")) {
			if (!g3_env("AWS_ACCESS_KEY_ID") || !g3_env("AWS_SECRET_ACCESS_KEY")) {
				rc = g3_err_set(err, G3_USAGE, "%s is set but %s is not",
						g3_env("AWS_ACCESS_KEY_ID") ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
						g3_env("AWS_ACCESS_KEY_ID") ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
				goto cleanup;
			}
			out->access_key = g3_xstrdup(g3_env("AWS_ACCESS_KEY_ID"));
			free_secret(&out->secret_key);
			out->secret_key = g3_xstrdup(g3_env("AWS_SECRET_ACCESS_KEY"));
			if (!out->session_token && (v = g3_env("AWS_SESSION_TOKEN")))
				out->session_token = g3_xstrdup(v);
		} else {
			profile = out->profile ? out->profile :
				  g3_env("AWS_PROFILE") ? g3_env("AWS_PROFILE") : "default";
			if ((v = g3_env("AWS_SHARED_CREDENTIALS_FILE")))
				g3_buf_adds(&path, v);
			else if ((v = g3_env("HOME")))
				g3_buf_addf(&path, "%s/.aws/credentials", v);
			if (path.len && (rc = read_profile(path.data, profile, out, &found, err)))
				goto cleanup;
			if (!found && (out->profile || g3_env("AWS_PROFILE"))) {
				rc = g3_err_set(err, G3_USAGE, "AWS profile \"%s\" not found in \"%s\"",
						profile, path.len ? path.data : "~/.aws/credentials");
				goto cleanup;
			}
			if (!out->access_key || !out->secret_key) {
				rc = g3_err_set(err, G3_USAGE, "no AWS credentials found");
				g3_err_hint(err, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
					    "with a credentials file, or use --no-sign-request for a public bucket");
				goto cleanup;
			}
		}
	}
	if (!out->region)
		out->region = g3_xstrdup("us-east-1");
cleanup:
	g3_buf_release(&path);
	if (rc)
		g3_s3_config_release(out);
	return rc;
}

/* ---- addressing and signing ------------------------------------------- */

g3_rc g3_s3_parse_url(const char *url, char **bucket, char **key, g3_err *err)
{
	const char *b, *slash;

	*bucket = *key = NULL;
	if (strncmp(url, "s3://", 5))
		return g3_err_set(err, G3_USAGE, "\"%s\" is not an s3:// URL", url);
	b = url + 5;
	slash = strchr(b, '/');
	if (slash == b || !*b)
		return g3_err_set(err, G3_USAGE, "\"%s\" has no bucket name", url);
	if (!slash)
		slash = b + strlen(b);
	for (const char *p = b; p < slash; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		      *p == '_' || (*p >= 'A' && *p <= 'Z')))
			return g3_err_set(err, G3_USAGE, "\"%s\" has an invalid bucket name", url);
	*bucket = g3_xmalloc((size_t)(slash - b) + 1);
	memcpy(*bucket, b, (size_t)(slash - b));
	(*bucket)[slash - b] = '\0';
	*key = g3_xstrdup(*slash ? slash + 1 : "");
	return G3_OK;
}

struct s3_target {
	char *bucket;
	char *key;
	char *base;      /* "scheme://host[:port]" */
	char *host;      /* the Host header curl sends */
	char *path;      /* encoded, as sent and signed */
	char *display;   /* "s3://bucket/key" */
};

static void target_release(struct s3_target *t)
{
	G3_FREE_ALL(t->bucket, t->key, t->base, t->host, t->path, t->display);
	memset(t, 0, sizeof(*t));
}

static g3_rc target_init(struct s3_target *t, const g3_s3_config *cfg, const char *url,
			 g3_err *err)
{
	g3_buf b = G3_BUF_INIT;
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *upath = NULL;
	g3_rc rc;

	memset(t, 0, sizeof(*t));
	if ((rc = g3_s3_parse_url(url, &t->bucket, &t->key, err)))
		return rc;
	g3_buf_addf(&b, "s3://%s/%s", t->bucket, t->key);
	t->display = g3_buf_detach(&b);
	if (cfg->endpoint) {
		u = curl_url();
		if (!u || curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) ||
		    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
		    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
			rc = g3_err_set(err, G3_USAGE, "invalid S3 endpoint \"%s\"", cfg->endpoint);
			g3_err_hint(err, "give a URL such as http://127.0.0.1:9000");
			goto cleanup;
		}
		/* AWS_ENDPOINT_URL reaches here unchecked: only http and https */
		if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
			rc = g3_err_set(err, G3_USAGE, "S3 endpoint \"%s\" is not an http:// or "
					"https:// URL", cfg->endpoint);
			g3_err_hint(err, "give a URL such as http://127.0.0.1:9000");
			goto cleanup;
		}
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		curl_url_get(u, CURLUPART_PATH, &upath, 0);
		if (port && ((!strcmp(scheme, "http") && !strcmp(port, "80")) ||
			     (!strcmp(scheme, "https") && !strcmp(port, "443")))) {
			curl_free(port);
			port = NULL;
		}
		g3_buf_addf(&b, "%s%s%s", host, port ? ":" : "", port ? port : "");
		t->host = g3_buf_detach(&b);
		g3_buf_addf(&b, "%s://%s", scheme, t->host);
		t->base = g3_buf_detach(&b);
		if (upath && strcmp(upath, "/"))
			g3_buf_add(&b, upath, strlen(upath) - (upath[strlen(upath) - 1] == '/'));
		g3_buf_addch(&b, '/');
		g3_url_encode(&b, t->bucket, 0);
	} else if (strchr(t->bucket, '.')) {
		g3_buf_addf(&b, "s3.%s.amazonaws.com", cfg->region);
		t->host = g3_buf_detach(&b);
		g3_buf_addch(&b, '/');
		g3_url_encode(&b, t->bucket, 0);
	} else {
		g3_buf_addf(&b, "%s.s3.%s.amazonaws.com", t->bucket, cfg->region);
		t->host = g3_buf_detach(&b);
	}
	if (!t->base) {
		g3_buf bb = G3_BUF_INIT;

		g3_buf_addf(&bb, "https://%s", t->host);
		t->base = g3_buf_detach(&bb);
	}
	if (*t->key || !b.len) {
		g3_buf_addch(&b, '/');
		g3_url_encode(&b, t->key, 1);
	}
	t->path = g3_buf_detach(&b);
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(upath);
	if (u)
		curl_url_cleanup(u);
	g3_buf_release(&b);
	if (rc)
		target_release(t);
	return rc;
}

/* The configuration in force (cfg_in, or the defaults) resolved, and the
 * object or prefix url names under it; on failure nothing is left to
 * release. */
static g3_rc config_target(const g3_s3_config *cfg_in, const char *url, g3_s3_config *cfg,
			   struct s3_target *t, g3_err *err)
{
	g3_rc rc;

	g3_curl_global_init();
	if ((rc = g3_s3_config_resolve(cfg_in ? cfg_in : &defaults_cfg, cfg, err)))
		return rc;
	if ((rc = target_init(t, cfg, url, err)))
		g3_s3_config_release(cfg);
	return rc;
}

static char *target_url(const struct s3_target *t, const char *query)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s%s%s%s", t->base, t->path, query && *query ? "?" : "",
		    query ? query : "");
	return g3_buf_detach(&b);
}

g3_rc g3_s3_object_url(const g3_s3_config *cfg, const char *url, char **out, g3_err *err)
{
	struct s3_target t;
	g3_rc rc;

	*out = NULL;
	if ((rc = target_init(&t, cfg, url, err)))
		return rc;
	*out = target_url(&t, NULL);
	target_release(&t);
	return G3_OK;
}

/* Appends the signature headers for one request (none when anonymous). */
static g3_rc s3_sign(const g3_s3_config *cfg, const struct s3_target *t, const char *method,
		     const char *query, const g3_kv *extra, size_t n_extra,
		     const char *payload_hash, struct curl_slist **headers, g3_err *err)
{
	g3_sigv4_result r;
	g3_buf h = G3_BUF_INIT;
	char date[17];
	g3_sigv4_req req = {
		.method = method, .host = t->host, .path = t->path, .query = query,
		.headers = extra, .n_headers = n_extra, .payload_hash = payload_hash,
		.amz_date = date, .region = cfg->region, .service = "s3",
		.access_key = cfg->access_key, .secret_key = cfg->secret_key,
		.session_token = cfg->session_token,
	};
	g3_rc rc;

	if (cfg->no_sign_request)
		return G3_OK;
	g3_amz_date((long long)time(NULL), date);
	g3_sigv4_result_init(&r);
	if ((rc = g3_sigv4_sign(&req, &r, err)))
		goto cleanup;
	g3_buf_addf(&h, "Authorization: %s", r.authorization.data);
	*headers = curl_slist_append(*headers, h.data);
	OPENSSL_cleanse(h.data, h.len);
	g3_buf_reset(&h);
	g3_buf_addf(&h, "x-amz-date: %s", date);
	*headers = curl_slist_append(*headers, h.data);
	g3_buf_reset(&h);
	g3_buf_addf(&h, "x-amz-content-sha256: %s", payload_hash);
	*headers = curl_slist_append(*headers, h.data);
	if (cfg->session_token) {
		g3_buf_reset(&h);
		g3_buf_addf(&h, "x-amz-security-token: %s", cfg->session_token);
		*headers = curl_slist_append(*headers, h.data);
		OPENSSL_cleanse(h.data, h.len);
	}
cleanup:
	g3_buf_release(&h);
	g3_sigv4_result_release(&r);
	return rc;
}

/* ---- XML scanning ----------------------------------------------------- */

/* The content of the first <tag>...</tag> in [p, end), or NULL. */
static const char *xml_find(const char *p, const char *end, const char *tag, size_t *len,
			    const char **after)
{
	char open[64], close[64];
	const char *s, *e;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	s = memmem(p, (size_t)(end - p), open, strlen(open));
	if (!s)
		return NULL;
	s += strlen(open);
	e = memmem(s, (size_t)(end - s), close, strlen(close));
	if (!e)
		return NULL;
	*len = (size_t)(e - s);
	if (after)
		*after = e + strlen(close);
	return s;
}

/* Decodes the five entities and numeric references; caller frees. */
static char *xml_text(const char *s, size_t len)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	g3_buf b = G3_BUF_INIT;
	size_t i = 0;

	g3_buf_adds(&b, "");
	while (i < len) {
		size_t k;

		if (s[i] != '&') {
			g3_buf_addch(&b, s[i++]);
			continue;
		}
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
			size_t el = strlen(ents[k].ent);

			if (len - i >= el && !memcmp(s + i, ents[k].ent, el)) {
				g3_buf_addch(&b, ents[k].c);
				i += el;
				break;
			}
		}
		if (k < sizeof(ents) / sizeof(ents[0]))
			continue;
		if (len - i > 3 && s[i + 1] == '#') {
			const char *semi = memchr(s + i, ';', len - i);
			char num[16];
			unsigned long cp;
			char *endp;
			int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t nl = semi ? (size_t)(semi - (s + i + 2 + hex)) : 0;

			if (semi && nl > 0 && nl < sizeof(num)) {
				memcpy(num, s + i + 2 + hex, nl);
				num[nl] = '\0';
				errno = 0;
				cp = strtoul(num, &endp, hex ? 16 : 10);
				if (!errno && !*endp && cp > 0 && cp < 0x110000) {
					/* UTF-8 encode */
					if (cp < 0x80) {
						g3_buf_addch(&b, (char)cp);
					} else if (cp < 0x800) {
						g3_buf_addch(&b, (char)(0xC0 | (cp >> 6)));
						g3_buf_addch(&b, (char)(0x80 | (cp & 0x3F)));
					} else if (cp < 0x10000) {
						g3_buf_addch(&b, (char)(0xE0 | (cp >> 12)));
						g3_buf_addch(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
						g3_buf_addch(&b, (char)(0x80 | (cp & 0x3F)));
					} else {
						g3_buf_addch(&b, (char)(0xF0 | (cp >> 18)));
						g3_buf_addch(&b, (char)(0x80 | ((cp >> 12) & 0x3F)));
						g3_buf_addch(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
						g3_buf_addch(&b, (char)(0x80 | (cp & 0x3F)));
					}
					i = (size_t)(semi - s) + 1;
					continue;
				}
			}
		}
		g3_buf_addch(&b, s[i++]);
	}
	return g3_buf_detach(&b);
}

static char *xml_get(const char *body, size_t len, const char *tag)
{
	size_t n;
	const char *v = xml_find(body, body + len, tag, &n, NULL);

	return v ? xml_text(v, n) : NULL;
}

/* Fills err from an S3 error answer: status, Code and Message. */
static void s3_error(g3_err *err, const char *verb, const char *name, long status,
		     const char *body, size_t len)
{
	char *code = body ? xml_get(body, len, "Code") : NULL;
	char *msg = body ? xml_get(body, len, "Message") : NULL;
	size_t ml;

	if (msg) {
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		ml = strlen(msg);
		if (ml && msg[ml - 1] == '.')
			msg[ml - 1] = '\0';
	}
	g3_err_set(err, G3_FAIL, "could not %s \"%s\": HTTP %ld%s%s%s%s", verb, name, status,
		   code && *code ? " " : "", code ? code : "", msg && *msg ? ": " : "", msg ? msg : "");
	if (!code)
		code = g3_xstrdup("");
	if (!strcmp(code, "SignatureDoesNotMatch"))
		g3_err_hint(err, "check the secret key (AWS_SECRET_ACCESS_KEY or the profile's "
			    "aws_secret_access_key) and the region");
	else if (!strcmp(code, "InvalidAccessKeyId"))
		g3_err_hint(err, "check the access key id (AWS_ACCESS_KEY_ID or the profile's "
			    "aws_access_key_id); temporary credentials also need AWS_SESSION_TOKEN");
	else if (!strcmp(code, "InvalidToken") || !strcmp(code, "ExpiredToken"))
		g3_err_hint(err, "check AWS_SESSION_TOKEN (or the profile's aws_session_token)");
	else if (!strcmp(code, "NoSuchKey"))
		g3_err_hint(err, "'gen3db ls s3://BUCKET/PREFIX/' lists the keys");
	else if (!strcmp(code, "NoSuchBucket"))
		g3_err_hint(err, "check the bucket name and --s3-endpoint / --region");
	else if (!strcmp(code, "AccessDenied"))
		g3_err_hint(err, "the credentials lack permission; a public bucket needs --no-sign-request");
	else if (!strcmp(code, "PermanentRedirect") || !strcmp(code, "AuthorizationHeaderMalformed"))
		g3_err_hint(err, "the bucket is in another region: set --region or AWS_REGION");
	free(code);
	free(msg);
}

/* ---- requests with retries -------------------------------------------- */

static void backoff(const g3_s3_config *cfg, int attempt)
{
	long ms = cfg->backoff_ms;

	for (int i = 0; i < attempt && ms < 8000; i++)
		ms *= 2;
	if (ms > 8000)
		ms = 8000;
	g3_clock_sleep((double)ms / 1000.0);
}

/*
 * One S3 call: signs, sends, retries transport errors and 5xx answers,
 * and turns a non-2xx answer into an error ("could not <verb> <name>").
 */
static g3_rc s3_call(const g3_s3_config *cfg, const struct s3_target *t, const char *method,
		     const g3_kv *params, size_t n_params, const void *body, size_t len,
		     size_t max_body, const char *verb, g3_http_response *resp, g3_err *err)
{
	char *query = g3_sigv4_query(params, n_params);
	char *url = target_url(t, query);
	char hash[65];
	g3_rc rc = G3_OK;

	g3_sigv4_payload_hash(body ? body : "", len, hash);
	for (int attempt = 0;; attempt++) {
		struct curl_slist *headers = NULL;

		if ((rc = s3_sign(cfg, t, method, query, NULL, 0, hash, &headers, err))) {
			curl_slist_free_all(headers);
			break;
		}
		if (!strcmp(method, "POST"))
			headers = curl_slist_append(headers, "Content-Type: application/xml");
		headers = curl_slist_append(headers, "Expect:");
		rc = g3_http_request(method, url, t->display, headers, body, len, max_body,
				     cfg->ca_file, resp, err);
		curl_slist_free_all(headers);
		if (rc == G3_OK && resp->status >= 200 && resp->status < 300)
			break;
		if (rc == G3_OK && resp->status < 500) {
			s3_error(err, verb, t->display, resp->status, resp->body.data, resp->body.len);
			rc = G3_FAIL;
			break;
		}
		if (attempt >= cfg->max_retries) {
			if (rc == G3_OK) {
				s3_error(err, verb, t->display, resp->status, resp->body.data,
					 resp->body.len);
				rc = G3_FAIL;
			}
			break;
		}
		g3_warn("%s \"%s\" failed (%s); retrying (attempt %d of %d)", verb, t->display,
			rc ? err->msg : "server error", attempt + 1, cfg->max_retries);
		backoff(cfg, attempt);
	}
	free(url);
	free(query);
	return rc;
}

/* ---- GET as a source -------------------------------------------------- */

struct get_ctx {
	g3_s3_config cfg;
	struct s3_target t;
};

static void get_ctx_free(void *p)
{
	struct get_ctx *c = p;

	g3_s3_config_release(&c->cfg);
	target_release(&c->t);
	free(c);
}

static g3_rc get_prepare(void *p, const char *range, struct curl_slist **headers, g3_err *err)
{
	struct get_ctx *c = p;
	g3_kv extra = { "Range", range };

	return s3_sign(&c->cfg, &c->t, "GET", "", &extra, range ? 1 : 0, G3_SHA256_EMPTY,
		       headers, err);
}

static void get_describe(void *p, const char *name, long status, const char *body, size_t len,
			 g3_err *err)
{
	(void)p;
	s3_error(err, "download", name, status, body, len);
}

g3_rc g3_s3_open_source(const g3_s3_config *cfg, const char *url, g3_source **out,
			g3_err *err)
{
	struct get_ctx *c = g3_xcalloc(1, sizeof(*c));
	g3_http_opts opts;
	char *full = NULL;
	g3_rc rc;

	*out = NULL;
	if ((rc = config_target(cfg, url, &c->cfg, &c->t, err))) {
		free(c);
		return rc;
	}
	if (!*c->t.key || c->t.key[strlen(c->t.key) - 1] == '/') {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" names a prefix, not an object", url);
		get_ctx_free(c);
		return rc;
	}
	memset(&opts, 0, sizeof(opts));
	opts.ca_file = c->cfg.ca_file;
	opts.max_retries = c->cfg.max_retries;
	opts.backoff_ms = c->cfg.backoff_ms;
	opts.prepare = get_prepare;
	opts.describe_error = get_describe;
	opts.ctx = c;
	opts.ctx_free = get_ctx_free;
	full = target_url(&c->t, NULL);
	rc = g3_http_open(full, c->t.display, &opts, out, err);
	free(full);
	return rc;
}

/* ---- ListObjectsV2 ---------------------------------------------------- */

/* The continuation token of a listing page that says it is truncated
 * (NULL at the last page). */
static g3_rc page_token(const char *body, size_t len, const char *name, char **token,
			g3_err *err)
{
	char *trunc = xml_get(body, len, "IsTruncated");
	g3_rc rc = G3_OK;

	*token = NULL;
	if (trunc && !strcmp(trunc, "true")) {
		*token = xml_get(body, len, "NextContinuationToken");
		if (!*token || !**token) {
			free(*token);
			*token = NULL;
			rc = g3_err_set(err, G3_FAIL,
					"could not list \"%s\": a truncated page has no continuation token",
					name);
		}
	}
	free(trunc);
	return rc;
}

g3_rc g3_s3_list_page(const char *body, size_t len, const char *name, g3_s3_list_fn fn,
		       void *ctx, char **token, g3_err *err)
{
	const char *p = body, *end = body + len, *after;
	const char *c;
	size_t clen;
	g3_rc rc = G3_OK;

	*token = NULL;
	if (!memmem(body, len, "<ListBucketResult", 17))
		return g3_err_set(err, G3_FAIL, "could not list \"%s\": the answer is not a listing",
				  name);
	while ((c = xml_find(p, end, "Contents", &clen, &after))) {
		char *key = xml_get(c, clen, "Key");
		char *size = xml_get(c, clen, "Size");
		char *etag = xml_get(c, clen, "ETag");
		char *lm = xml_get(c, clen, "LastModified");
		g3_s3_object o = { key, -1, NULL, lm };
		char *e;

		if (size) {
			errno = 0;
			o.size = strtoll(size, &e, 10);
			if (errno || *e || e == size || o.size < 0)
				o.size = -1;  /* unknown, never negative */
		}
		if (etag) {
			size_t el = strlen(etag);

			if (el >= 2 && etag[0] == '"' && etag[el - 1] == '"') {
				memmove(etag, etag + 1, el - 2);
				etag[el - 2] = '\0';
			}
			o.etag = etag;
		}
		if (key)
			rc = fn(ctx, &o, err);
		G3_FREE_ALL(key, size, etag, lm);
		if (rc)
			return rc;
		p = after;
	}
	return page_token(body, len, name, token, err);
}

/* One listing page's answer: parse it, set *token to the next page's
 * (NULL at the end); setting *stop ends the walk before the next page. */
typedef g3_rc (*list_page_fn)(void *ctx, const char *body, size_t len, const char *display,
			      const char *key, char **token, int *stop, g3_err *err);

/* Walks a prefix's ListObjectsV2 pages (with delimiter '/': its folders;
 * then url must name a prefix, not an object), one page in memory. */
static g3_rc list_walk(const g3_s3_config *cfg_in, const char *url, int delimited,
		       list_page_fn page, void *ctx, g3_err *err)
{
	g3_s3_config cfg;
	struct s3_target t, bt;
	g3_http_response resp;
	char *token = NULL;
	g3_buf burl = G3_BUF_INIT;
	int stop = 0;
	g3_rc rc;

	if ((rc = config_target(cfg_in, url, &cfg, &t, err)))
		return rc;
	if (delimited && *t.key && t.key[strlen(t.key) - 1] != '/') {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" names an object, not a prefix", t.display);
		target_release(&t);
		g3_s3_config_release(&cfg);
		return rc;
	}
	/* the bucket itself is the resource; the key is the prefix */
	g3_buf_addf(&burl, "s3://%s", t.bucket);
	rc = target_init(&bt, &cfg, burl.data, err);
	g3_buf_release(&burl);
	if (rc) {
		target_release(&t);
		g3_s3_config_release(&cfg);
		return rc;
	}
	free(bt.display);
	bt.display = g3_xstrdup(t.display);
	g3_http_response_init(&resp);
	do {
		g3_kv params[4] = { { "list-type", "2" }, { "prefix", t.key },
				    { "delimiter", "/" }, { "continuation-token", token } };
		char *next = NULL;

		if (!delimited)
			params[2] = params[3];
		rc = s3_call(&cfg, &bt, "GET", params, (token ? 3 : 2) + (delimited ? 1 : 0), NULL,
			     0, LIST_BODY_MAX, "list", &resp, err);
		if (rc)
			break;
		if (resp.body.len >= LIST_BODY_MAX) {
			rc = g3_err_set(err, G3_FAIL, "could not list \"%s\": a page is larger than %u bytes",
					t.display, LIST_BODY_MAX);
			break;
		}
		rc = page(ctx, resp.body.data, resp.body.len, t.display, t.key, &next, &stop, err);
		free(token);
		token = next;
	} while (!rc && token && !stop);
	free(token);
	g3_http_response_release(&resp);
	target_release(&t);
	target_release(&bt);
	g3_s3_config_release(&cfg);
	return rc;
}

struct objects_ctx {
	g3_s3_list_fn fn;
	void *ctx;
};

static g3_rc objects_page(void *ctx, const char *body, size_t len, const char *display,
			  const char *key, char **token, int *stop, g3_err *err)
{
	struct objects_ctx *o = ctx;

	(void)key;
	(void)stop;
	return g3_s3_list_page(body, len, display, o->fn, o->ctx, token, err);
}

g3_rc g3_s3_list(const g3_s3_config *cfg_in, const char *url, g3_s3_list_fn fn, void *ctx,
		 g3_err *err)
{
	struct objects_ctx o = { fn, ctx };

	return list_walk(cfg_in, url, 0, objects_page, &o, err);
}

g3_rc g3_s3_list_dirs_page(const char *body, size_t len, const char *name, size_t prefix_len,
			   size_t max, char ***names, size_t *n, int *more, char **token,
			   g3_err *err)
{
	const char *p = body, *end = body + len, *after;
	const char *c;
	size_t clen;

	*token = NULL;
	if (!memmem(body, len, "<ListBucketResult", 17))
		return g3_err_set(err, G3_FAIL, "could not list \"%s\": the answer is not a listing",
				  name);
	while ((c = xml_find(p, end, "CommonPrefixes", &clen, &after))) {
		char *prefix = xml_get(c, clen, "Prefix");
		size_t pl = prefix ? strlen(prefix) : 0;

		p = after;
		/* "env/v1/" under "env/": "v1"; anything else is not this listing's */
		if (pl <= prefix_len + 1 || prefix[pl - 1] != '/') {
			free(prefix);
			continue;
		}
		if (*n >= max) {
			*more = 1;
			free(prefix);
			continue;
		}
		prefix[pl - 1] = '\0';
		g3_strlist_add(names, n, prefix + prefix_len);
		free(prefix);
	}
	return page_token(body, len, name, token, err);
}

struct dirs_ctx {
	size_t max;
	char ***names;
	size_t *n;
	int *more;
};

static g3_rc dirs_page(void *ctx, const char *body, size_t len, const char *display,
		       const char *key, char **token, int *stop, g3_err *err)
{
	struct dirs_ctx *d = ctx;
	g3_rc rc = g3_s3_list_dirs_page(body, len, display, strlen(key), d->max, d->names, d->n,
					d->more, token, err);

	/* max names are known and one more was seen */
	*stop = *d->more;
	return rc;
}

g3_rc g3_s3_list_dirs(const g3_s3_config *cfg_in, const char *url, size_t max, char ***names,
		      size_t *n, int *more, g3_err *err)
{
	struct dirs_ctx d = { max, names, n, more };
	g3_rc rc;

	*names = NULL;
	*n = 0;
	*more = 0;
	if ((rc = list_walk(cfg_in, url, 1, dirs_page, &d, err))) {
		g3_strlist_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

g3_rc g3_s3_delete(const g3_s3_config *cfg_in, const char *url, g3_err *err)
{
	g3_s3_config cfg;
	struct s3_target t;
	g3_http_response resp;
	g3_rc rc;

	if ((rc = config_target(cfg_in, url, &cfg, &t, err)))
		return rc;
	g3_http_response_init(&resp);
	rc = s3_call(&cfg, &t, "DELETE", NULL, 0, NULL, 0, SMALL_BODY_MAX, "delete", &resp, err);
	g3_http_response_release(&resp);
	target_release(&t);
	g3_s3_config_release(&cfg);
	return rc;
}

/* ---- multipart upload sink -------------------------------------------- */

struct mp_sink {
	g3_s3_config cfg;
	struct s3_target t;
	g3_buf part;          /* the part being filled */
	char *upload_id;
	g3_buf parts_xml;     /* <Part> entries of the uploaded parts */
	int part_no;
	uint64_t total;
};

/* close: frees the state (after commit or abort, see sink.h) */
static void mp_close(g3_sink *sink)
{
	struct mp_sink *m = sink->impl;

	if (!m)
		return;
	g3_s3_config_release(&m->cfg);
	target_release(&m->t);
	g3_buf_release(&m->part);
	g3_buf_release(&m->parts_xml);
	free(m->upload_id);
	free(m);
	sink->impl = NULL;
}

static void mp_abort_upload(struct mp_sink *m)
{
	g3_kv params[1] = { { "uploadId", m->upload_id } };
	g3_http_response resp;
	g3_err err;

	if (!m->upload_id)
		return;
	g3_err_init(&err);
	g3_http_response_init(&resp);
	if (s3_call(&m->cfg, &m->t, "DELETE", params, 1, NULL, 0, SMALL_BODY_MAX,
		    "abort the upload of", &resp, &err))
		g3_log_err(&err);
	else
		g3_info("aborted the multipart upload of \"%s\"", m->t.display);
	g3_http_response_release(&resp);
	free(m->upload_id);
	m->upload_id = NULL;
}

static g3_rc mp_create(struct mp_sink *m, g3_err *err)
{
	g3_kv params[1] = { { "uploads", NULL } };
	g3_http_response resp;
	g3_rc rc;

	g3_http_response_init(&resp);
	rc = s3_call(&m->cfg, &m->t, "POST", params, 1, NULL, 0, SMALL_BODY_MAX,
		     "start the upload of", &resp, err);
	if (!rc) {
		m->upload_id = xml_get(resp.body.data, resp.body.len, "UploadId");
		if (!m->upload_id || !*m->upload_id) {
			free(m->upload_id);
			m->upload_id = NULL;
			rc = g3_err_set(err, G3_FAIL,
					"could not start the upload of \"%s\": no UploadId in the answer",
					m->t.display);
		}
	}
	g3_http_response_release(&resp);
	return rc;
}

static g3_rc mp_upload_part(struct mp_sink *m, g3_err *err)
{
	char num[16];
	g3_kv params[2] = { { "partNumber", num }, { "uploadId", NULL } };
	g3_http_response resp;
	g3_rc rc;

	if (!m->upload_id && (rc = mp_create(m, err)))
		return rc;
	params[1].value = m->upload_id;
	snprintf(num, sizeof(num), "%d", m->part_no + 1);
	g3_http_response_init(&resp);
	rc = s3_call(&m->cfg, &m->t, "PUT", params, 2, m->part.data, m->part.len, SMALL_BODY_MAX,
		     "upload a part of", &resp, err);
	if (!rc && !resp.etag)
		rc = g3_err_set(err, G3_FAIL, "could not upload part %s of \"%s\": no ETag in the answer",
				num, m->t.display);
	if (!rc) {
		char *etag = NULL;
		g3_buf b = G3_BUF_INIT;

		/* ETags are quoted in the XML as S3 sends them: escape '&', '<' */
		for (const char *p = resp.etag; *p; p++) {
			if (*p == '&')
				g3_buf_adds(&b, "&amp;");
			else if (*p == '<')
				g3_buf_adds(&b, "&lt;");
			else
				g3_buf_addch(&b, *p);
		}
		etag = g3_buf_detach(&b);
		m->part_no++;
		g3_buf_addf(&m->parts_xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
			    m->part_no, etag);
		free(etag);
		g3_debug("uploaded part %d of \"%s\" (%zu bytes)", m->part_no, m->t.display,
			 m->part.len);
		g3_buf_reset(&m->part);
	}
	g3_http_response_release(&resp);
	return rc;
}

static g3_rc mp_write(g3_sink *sink, const void *data, size_t len, g3_err *err)
{
	struct mp_sink *m = sink->impl;
	const char *p = data;
	g3_rc rc;

	while (len) {
		size_t room = m->cfg.part_size - m->part.len;
		size_t n = len < room ? len : room;

		g3_buf_add(&m->part, p, n);
		p += n;
		len -= n;
		m->total += n;
		if (m->part.len == m->cfg.part_size && (rc = mp_upload_part(m, err)))
			return rc;
	}
	return G3_OK;
}

static g3_rc mp_commit(g3_sink *sink, g3_err *err)
{
	struct mp_sink *m = sink->impl;
	g3_http_response resp;
	g3_buf body = G3_BUF_INIT;
	g3_kv params[1] = { { "uploadId", NULL } };
	char *code = NULL;
	g3_rc rc = G3_OK;

	g3_http_response_init(&resp);
	if (!m->upload_id) {
		/* everything fit in one part: a plain PUT */
		rc = s3_call(&m->cfg, &m->t, "PUT", NULL, 0, m->part.data, m->part.len,
			     SMALL_BODY_MAX, "upload", &resp, err);
		goto cleanup;
	}
	if (m->part.len && (rc = mp_upload_part(m, err)))
		goto cleanup;
	g3_buf_addf(&body, "<CompleteMultipartUpload>%s</CompleteMultipartUpload>",
		    m->parts_xml.data);
	params[0].value = m->upload_id;
	rc = s3_call(&m->cfg, &m->t, "POST", params, 1, body.data, body.len, SMALL_BODY_MAX,
		     "complete the upload of", &resp, err);
	/* S3 may answer 200 and still report an error in the body */
	if (!rc && (code = xml_get(resp.body.data, resp.body.len, "Code")) &&
	    memmem(resp.body.data, resp.body.len, "<Error>", 7)) {
		s3_error(err, "complete the upload of", m->t.display, resp.status, resp.body.data,
			 resp.body.len);
		rc = G3_FAIL;
	}
	if (!rc) {
		free(m->upload_id);
		m->upload_id = NULL;
	}
cleanup:
	/* a failed commit leaves nothing behind (sink.h) */
	if (rc)
		mp_abort_upload(m);
	else
		g3_debug("uploaded \"%s\" (%" PRIu64 " bytes in %d %s)", m->t.display, m->total,
			 m->part_no ? m->part_no : 1, g3_plural(m->part_no ? m->part_no : 1,
								"part", "parts"));
	free(code);
	g3_buf_release(&body);
	g3_http_response_release(&resp);
	g3_buf_release(&m->part);  /* no more writes: give the part's memory back */
	return rc;
}

static void mp_abort(g3_sink *sink)
{
	mp_abort_upload(sink->impl);
}

static const struct g3_sink_ops mp_ops = { mp_write, mp_commit, mp_abort, mp_close };

g3_rc g3_s3_sink_open(const g3_s3_config *cfg, const char *url, g3_sink **out, g3_err *err)
{
	struct mp_sink *m = g3_xcalloc(1, sizeof(*m));
	g3_rc rc;

	*out = NULL;
	g3_curl_global_init();
	rc = g3_s3_config_resolve(cfg ? cfg : &defaults_cfg, &m->cfg, err);
	if (rc) {
		free(m);
		return rc;
	}
	if (m->cfg.part_size < G3_S3_MIN_PART_SIZE) {
		rc = g3_err_set(err, G3_USAGE, "S3 part size %zu is below the minimum of %u bytes",
				m->cfg.part_size, G3_S3_MIN_PART_SIZE);
		g3_s3_config_release(&m->cfg);
		free(m);
		return rc;
	}
	if ((rc = target_init(&m->t, &m->cfg, url, err))) {
		g3_s3_config_release(&m->cfg);
		free(m);
		return rc;
	}
	if (!*m->t.key || m->t.key[strlen(m->t.key) - 1] == '/') {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" names a prefix, not an object", url);
		target_release(&m->t);
		g3_s3_config_release(&m->cfg);
		free(m);
		return rc;
	}
	g3_buf_init(&m->part);
	g3_buf_init(&m->parts_xml);
	g3_buf_adds(&m->parts_xml, "");
	g3_buf_grow(&m->part, m->cfg.part_size);
	*out = g3_sink_new(&mp_ops, m->t.display, m);
	return G3_OK;
}
