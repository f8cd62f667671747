/*
 * Elasticsearch client: configuration, `GET /` with wait and backoff,
 * control calls and ES error bodies turned into messages. See es.h.
 */
#include "es.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../io/curl.h"
#include "../base/json.h"
#include "../base/log.h"
#include "../base/opts.h"
#include "../base/strbuf.h"
#include <strings.h>

void g3_esconf_init(g3_esconf *c)
{
	memset(c, 0, sizeof(*c));
}

static void free_secret(char *s)
{
	if (s) {
		volatile char *p = s;

		while (*p)
			*p++ = 0;
		free(s);
	}
}

void g3_esconf_release(g3_esconf *c)
{
	free(c->url);
	free(c->username);
	free_secret(c->password);
	free_secret(c->api_key);
	free(c->cacert);
	memset(c, 0, sizeof(*c));
}

g3_rc g3_esconf_set(g3_esconf *c, const char *url, const char *cacert, g3_err *err)
{
	g3_buf b = G3_BUF_INIT;
	const char *src = url ? url : g3_env("ESHOST");
	const char *v;
	size_t s, e;

	if (!src) {
		g3_err_set(err, G3_USAGE, "no Elasticsearch to talk to");
		g3_err_hint(err, "give --es URL or set ESHOST (host:port)");
		return G3_USAGE;
	}
	if (!strstr(src, "://"))
		g3_buf_adds(&b, "http://");
	else if (strncmp(src, "http://", 7) && strncmp(src, "https://", 8)) {
		char *safe = g3_url_strip_credentials(src);

		g3_err_set(err, G3_USAGE, "Elasticsearch URL \"%s\" is not http:// or https://", safe);
		free(safe);
		return G3_USAGE;
	}
	g3_buf_adds(&b, src);
	if (g3_url_userinfo(b.data, &s, &e)) {
		const char *colon = memchr(b.data + s, ':', e - s);

		free(c->username);
		free_secret(c->password);
		c->username = g3_url_decode(b.data + s, (colon ? (size_t)(colon - b.data) : e) - s);
		c->password = colon ? g3_url_decode(colon + 1, (size_t)(b.data + e - colon - 1))
				    : g3_xstrdup("");
	}
	free(c->url);
	c->url = g3_url_strip_credentials(b.data);
	g3_buf_release(&b);
	while (*c->url && c->url[strlen(c->url) - 1] == '/')
		c->url[strlen(c->url) - 1] = '\0';
	if (!c->username && (v = g3_env("ES_USERNAME"))) {
		c->username = g3_xstrdup(v);
		c->password = g3_xstrdup(g3_env("ES_PASSWORD") ? g3_env("ES_PASSWORD") : "");
	}
	if ((v = g3_env("ES_API_KEY"))) {
		free_secret(c->api_key);
		c->api_key = g3_xstrdup(v);
	}
	v = cacert ? cacert : g3_env("ES_CACERT");
	if (v) {
		free(c->cacert);
		c->cacert = g3_xstrdup(v);
	}
	return G3_OK;
}

void g3_es_init(g3_es *es)
{
	memset(es, 0, sizeof(*es));
}

void g3_es_release(g3_es *es)
{
	if (es->curl)
		curl_easy_cleanup(es->curl);
	curl_slist_free_all(es->headers);
	memset(es, 0, sizeof(*es));
}

CURL *g3_es_handle(const g3_esconf *conf, struct curl_slist **headers)
{
	g3_curl_conf cc = { .ca_file = conf->cacert, .insecure = conf->insecure,
			    .connect_timeout = 10, .timeout = 600, .keepalive = 1 };
	CURL *h = g3_curl_easy(&cc);

	if (!h)
		return NULL;
	if (conf->api_key) {
		g3_buf hdr = G3_BUF_INIT;

		g3_buf_addf(&hdr, "Authorization: ApiKey %s", conf->api_key);
		*headers = curl_slist_append(*headers, hdr.data);
		memset(hdr.data, 0, hdr.len);
		g3_buf_release(&hdr);
	} else if (conf->username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, conf->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, conf->password ? conf->password : "");
	}
	return h;
}

struct sink {
	g3_buf *buf;
	int overflow;
};

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (!s->buf)
		return size * n;
	if (s->buf->len + size * n > G3_ES_MAX_RESPONSE) {
		s->overflow = 1;
		return 0;
	}
	g3_buf_add(s->buf, data, size * n);
	return size * n;
}

/* TLS failures that waiting will not cure. */
static int tls_problem(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
	       cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR;
}

g3_rc g3_es_request(g3_es *es, const char *method, const char *path, const char *body,
		    size_t len, long *status, g3_buf *resp, g3_err *err)
{
	g3_buf url = G3_BUF_INIT;
	struct curl_slist *headers = NULL;
	struct sink sink = { resp, 0 };
	CURLcode cc;
	g3_rc rc = G3_OK;

	*status = 0;
	if (resp)
		g3_buf_reset(resp);
	if (!es->curl) {
		es->curl = g3_es_handle(es->conf, &es->headers);
		if (!es->curl)
			return g3_err_set(err, G3_FAIL, "could not start libcurl");
	}
	g3_buf_addf(&url, "%s%s%s", es->conf->url, path[0] == '/' ? "" : "/", path);
	for (struct curl_slist *h = es->headers; h; h = h->next)
		headers = curl_slist_append(headers, h->data);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(es->curl, CURLOPT_URL, url.data);
	curl_easy_setopt(es->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(es->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(es->curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(es->curl, CURLOPT_NOBODY, !strcmp(method, "HEAD") ? 1L : 0L);
	if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
		curl_easy_setopt(es->curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(es->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
	} else if (strcmp(method, "HEAD")) {
		curl_easy_setopt(es->curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(es->curl, CURLOPT_CUSTOMREQUEST,
			 !strcmp(method, "GET") || !strcmp(method, "HEAD") ? NULL : method);
	cc = curl_easy_perform(es->curl);
	if (cc != CURLE_OK) {
		if (sink.overflow)
			rc = g3_err_set(err, G3_FAIL, "answer of %s \"%s\" is larger than %u MiB",
					method, path, G3_ES_MAX_RESPONSE >> 20);
		else
			rc = g3_err_set(err, tls_problem(cc) ? G3_FAIL : G3_UNREACHABLE, "%s",
					curl_easy_strerror(cc));
		goto cleanup;
	}
	curl_easy_getinfo(es->curl, CURLINFO_RESPONSE_CODE, status);
cleanup:
	curl_easy_setopt(es->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	g3_buf_release(&url);
	return rc;
}

g3_rc g3_es_check(long status, const g3_buf *resp, const char *what, g3_err *err)
{
	json_object *root = NULL, *e, *v;
	const char *type = NULL, *reason = NULL;

	if (status >= 200 && status < 300)
		return G3_OK;
	if (resp && resp->len)
		root = g3_json_parse_buf(resp);
	if (root && json_object_object_get_ex(root, "error", &e)) {
		if (json_object_is_type(e, json_type_string)) {
			reason = json_object_get_string(e);
		} else {
			if (json_object_object_get_ex(e, "type", &v))
				type = json_object_get_string(v);
			if (json_object_object_get_ex(e, "reason", &v))
				reason = json_object_get_string(v);
		}
	}
	if (type || reason)
		g3_err_set(err, G3_FAIL, "%s: %s%s%s (HTTP %ld)", what, type ? type : "",
			   type && reason ? ": " : "", reason ? reason : "", status);
	else if (resp && resp->len)
		g3_err_set(err, G3_FAIL, "%s: HTTP %ld: %.200s", what, status, resp->data);
	else
		g3_err_set(err, G3_FAIL, "%s: HTTP %ld", what, status);
	if (status == 401 || status == 403)
		g3_err_hint(err, "check the credentials (ES_USERNAME/ES_PASSWORD, ES_API_KEY or the URL)");
	json_object_put(root);
	return G3_FAIL;
}

/* Control calls are retried a few times on what a busy or restarting
 * cluster answers (429, 502, 503, 504) and on lost connections. */
#define CALL_ATTEMPTS 5

g3_rc g3_es_call(g3_es *es, const char *method, const char *path, json_object *body,
		 const char *what, json_object **out, g3_err *err)
{
	g3_buf resp = G3_BUF_INIT;
	const char *text = NULL;
	size_t len = 0;
	long status = 0;
	double backoff = 0.5;
	g3_rc rc;

	if (out)
		*out = NULL;
	if (body)
		text = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &len);
	for (int attempt = 1;; attempt++) {
		rc = g3_es_request(es, method, path, text, len, &status, &resp, err);
		if (attempt < CALL_ATTEMPTS &&
		    ((rc == G3_UNREACHABLE) ||
		     (!rc && (status == 429 || status == 502 || status == 503 || status == 504)))) {
			g3_debug("%s: %s; trying again", what, rc ? err->msg : "busy");
			g3_clock_sleep(backoff);
			backoff *= 2;
			continue;
		}
		break;
	}
	if (rc) {
		g3_err_prefix(err, "%s", what);
		goto cleanup;
	}
	if ((rc = g3_es_check(status, &resp, what, err)))
		goto cleanup;
	if (out && resp.len) {
		*out = g3_json_parse_buf(&resp);
		if (!*out)
			rc = g3_err_set(err, G3_FAIL, "%s: the answer is not JSON", what);
	}
cleanup:
	g3_buf_release(&resp);
	return rc;
}

static g3_rc parse_version(g3_es *es, const g3_buf *resp, g3_err *err)
{
	json_object *root = g3_json_parse_buf(resp);
	json_object *v, *n, *d;
	const char *num;
	char *end = NULL;
	long major, minor = 0;
	g3_rc rc = G3_OK;

	if (!root || !json_object_object_get_ex(root, "version", &v) ||
	    !json_object_object_get_ex(v, "number", &n)) {
		rc = g3_err_set(err, G3_FAIL, "\"%s\" does not answer like Elasticsearch (no version.number)",
				es->conf->url);
		goto cleanup;
	}
	num = json_object_get_string(n);
	major = strtol(num, &end, 10);
	if (end && *end == '.')
		minor = strtol(end + 1, NULL, 10);
	snprintf(es->version, sizeof(es->version), "%s", num);
	es->major = (int)major;
	es->dist = G3_ES_ELASTIC;
	if (json_object_object_get_ex(v, "distribution", &d) &&
	    !strcmp(json_object_get_string(d), "opensearch"))
		es->dist = G3_ES_OPENSEARCH;
	if (es->dist == G3_ES_ELASTIC && (major < 5 || major > 9)) {
		rc = g3_err_set(err, G3_FAIL, "Elasticsearch %s at \"%s\" is not supported (6, 7 or 8)",
				num, es->conf->url);
		goto cleanup;
	}
	es->typed = es->dist == G3_ES_ELASTIC && major <= 6;
	es->has_pit = es->dist == G3_ES_ELASTIC && (major > 7 || (major == 7 && minor >= 10));
cleanup:
	json_object_put(root);
	return rc;
}

/*
 * A node that answers `GET /` may still have no elected master (health
 * answers 503): waits for cluster health yellow in what is left of the
 * wait. A red cluster (health times out, 408) is only a warning: an
 * unrelated index may be red. A user without the monitor privilege gets
 * 403 here: not a reason to stop either.
 */
static g3_rc wait_health(g3_es *es, double deadline, int wait_seconds, g3_err *err)
{
	g3_buf path = G3_BUF_INIT, resp = G3_BUF_INIT;
	json_object *root = NULL, *v;
	double backoff = 0.25;
	long status = 0;
	g3_rc rc = G3_OK;

	for (;;) {
		double left = deadline - g3_clock_now();
		g3_err terr;

		g3_err_init(&terr);
		g3_buf_reset(&path);
		g3_buf_addf(&path, "/_cluster/health?wait_for_status=yellow&timeout=%ds",
			    left < 1 ? 1 : (int)left);
		if (!g3_es_request(es, "GET", path.data, NULL, 0, &status, &resp, &terr)) {
			if (status != 503)
				break;
			snprintf(terr.msg, sizeof(terr.msg), "cluster health HTTP 503 (no master yet?)");
		}
		if (g3_clock_now() >= deadline) {
			rc = g3_err_set(err, G3_UNREACHABLE, "the cluster at \"%s\" did not become ready "
					"within %d %s: %s", es->conf->url, wait_seconds,
					g3_plural(wait_seconds, "second", "seconds"), terr.msg);
			g3_err_hint(err, "check the cluster's nodes, or wait longer with --wait");
			goto cleanup;
		}
		g3_clock_sleep(deadline - g3_clock_now() < backoff ? deadline - g3_clock_now() : backoff);
		backoff = backoff * 2 > 5 ? 5 : backoff * 2;
	}
	root = g3_json_parse_buf(&resp);
	if (status == 408 || (status == 200 && root &&
			      json_object_object_get_ex(root, "timed_out", &v) &&
			      json_object_get_boolean(v)))
		g3_warn("the cluster at \"%s\" is %s: going on", es->conf->url,
			root && json_object_object_get_ex(root, "status", &v)
			? json_object_get_string(v) : "not healthy");
	else if (status != 200)
		g3_debug("no cluster health from \"%s\" (HTTP %ld): not waiting for it",
			 es->conf->url, status);
cleanup:
	json_object_put(root);
	g3_buf_release(&path);
	g3_buf_release(&resp);
	return rc;
}

g3_rc g3_es_connect(g3_es *es, const g3_esconf *conf, int wait_seconds, g3_err *err)
{
	g3_buf resp = G3_BUF_INIT;
	double deadline = g3_clock_now() + (wait_seconds > 0 ? wait_seconds : 0);
	double backoff = 0.25;
	long status;
	g3_rc rc;

	es->conf = conf;
	for (;;) {
		g3_err terr;

		g3_err_init(&terr);
		rc = g3_es_request(es, "GET", "/", NULL, 0, &status, &resp, &terr);
		if (!rc && status == 200) {
			rc = parse_version(es, &resp, err);
			if (!rc)
				rc = wait_health(es, deadline, wait_seconds, err);
			break;
		}
		if (rc == G3_FAIL) {
			g3_err_set(err, G3_FAIL, "could not connect to Elasticsearch at \"%s\": %s",
				   conf->url, terr.msg);
			g3_err_hint(err, "give the CA certificate with --es-cacert FILE or ES_CACERT");
			break;
		}
		if (!rc && (status == 401 || status == 403)) {
			rc = g3_es_check(status, &resp, "", err);
			g3_err_set(err, G3_FAIL, "Elasticsearch at \"%s\" refused the login (HTTP %ld)",
				   conf->url, status);
			g3_err_hint(err, "check ES_USERNAME/ES_PASSWORD, ES_API_KEY or the URL's user");
			break;
		}
		/* the last attempt is at the deadline, not a backoff before it */
		if (g3_clock_now() >= deadline) {
			char reason[G3_ERR_MSG_MAX];

			if (rc)
				snprintf(reason, sizeof(reason), "%s", terr.msg);
			else
				snprintf(reason, sizeof(reason), "HTTP %ld", status);
			if (wait_seconds > 0)
				g3_err_set(err, G3_UNREACHABLE,
					   "Elasticsearch at \"%s\" did not answer within %d %s: %s",
					   conf->url, wait_seconds,
					   g3_plural(wait_seconds, "second", "seconds"), reason);
			else
				g3_err_set(err, G3_UNREACHABLE,
					   "could not reach Elasticsearch at \"%s\": %s", conf->url, reason);
			g3_err_hint(err, "check the host and port, or wait longer with --wait");
			rc = G3_UNREACHABLE;
			break;
		}
		g3_debug("waiting for Elasticsearch at \"%s\": %s", conf->url,
			 rc ? terr.msg : "not ready");
		g3_clock_sleep(deadline - g3_clock_now() < backoff ? deadline - g3_clock_now() : backoff);
		backoff = backoff * 2 > 5 ? 5 : backoff * 2;
	}
	g3_buf_release(&resp);
	return rc;
}

const char *g3_es_name_problem(const char *name)
{
	size_t len = strlen(name);

	if (!len)
		return "must not be empty";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "must not be '.' or '..'";
	if (len > G3_ES_MAX_NAME_BYTES)
		return "must be at most 255 bytes (UTF-8)";
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			return "must be lowercase";
		if (strchr("\\/*?\"<>|,#: ", *p))
			return "must not contain \\ / * ? \" < > | , # : or a space";
		if (*p < 0x20 || *p == 0x7f)
			return "must not contain control characters";
	}
	if (strchr("_-+", name[0]))
		return "must not start with '_', '-' or '+'";
	return NULL;
}

g3_rc g3_es_name_check(const char *name, const char *origin, g3_err *err)
{
	const char *why = g3_es_name_problem(name);

	if (!why)
		return G3_OK;
	g3_err_set(err, G3_USAGE, "invalid Elasticsearch index name \"%.300s\"%s%s%s: %s", name,
		   origin ? " (from " : "", origin ? origin : "", origin ? ")" : "", why);
	g3_err_hint(err, "index and alias names are lowercase, at most 255 bytes, do not start with "
		    "'_', '-' or '+' and hold none of \\ / * ? \" < > | , # : or space");
	return G3_USAGE;
}

static char *index_path(const char *name, const char *suffix)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addch(&b, '/');
	g3_url_encode(&b, name, 0);
	g3_buf_adds(&b, suffix);
	return g3_buf_detach(&b);
}

g3_rc g3_es_index_exists(g3_es *es, const char *name, int *exists, g3_err *err)
{
	char *path = index_path(name, "");
	long status;
	g3_rc rc;

	*exists = 0;
	rc = g3_es_request(es, "HEAD", path, NULL, 0, &status, NULL, err);
	if (rc)
		g3_err_prefix(err, "could not check index \"%s\"", name);
	else if (status == 200)
		*exists = 1;
	else if (status != 404)
		rc = g3_err_set(err, G3_FAIL, "could not check index \"%s\": HTTP %ld", name, status);
	free(path);
	return rc;
}

/* GET path, whose answer is a JSON object: *root gets it, or NULL on 404.
 * what names the call in messages. */
static g3_rc get_object(g3_es *es, const char *path, const char *what, json_object **root,
			g3_err *err)
{
	g3_buf resp = G3_BUF_INIT;
	long status = 0;
	g3_rc rc;

	*root = NULL;
	if ((rc = g3_es_request(es, "GET", path, NULL, 0, &status, &resp, err))) {
		g3_err_prefix(err, "%s", what);
		goto cleanup;
	}
	if (status == 404)
		goto cleanup;
	if ((rc = g3_es_check(status, &resp, what, err)))
		goto cleanup;
	*root = g3_json_parse_buf(&resp);
	if (!*root || !json_object_is_type(*root, json_type_object)) {
		json_object_put(*root);
		*root = NULL;
		rc = g3_err_set(err, G3_FAIL, "%s: the answer is not a JSON object", what);
	}
cleanup:
	g3_buf_release(&resp);
	return rc;
}

g3_rc g3_es_alias_get(g3_es *es, const char *name, int *is_alias, char ***targets,
		      size_t *n_targets, g3_err *err)
{
	g3_buf path = G3_BUF_INIT, what = G3_BUF_INIT;
	json_object *root = NULL;
	g3_rc rc;

	*is_alias = 0;
	g3_buf_adds(&path, "/_alias/");
	g3_url_encode(&path, name, 0);
	g3_buf_addf(&what, "could not look up alias \"%s\"", name);
	if ((rc = get_object(es, path.data, what.data, &root, err)) || !root)
		goto cleanup;
	json_object_object_foreach(root, key, val) {
		(void)val;
		*is_alias = 1;
		if (targets)
			g3_strlist_add(targets, n_targets, key);
	}
cleanup:
	json_object_put(root);
	g3_buf_release(&path);
	g3_buf_release(&what);
	return rc;
}

static g3_rc index_call(g3_es *es, const char *method, const char *name, const char *suffix,
			json_object *body, const char *verb, json_object **out, g3_err *err)
{
	char *path = index_path(name, suffix);
	g3_buf what = G3_BUF_INIT;
	g3_rc rc;

	g3_buf_addf(&what, "could not %s index \"%s\"", verb, name);
	rc = g3_es_call(es, method, path, body, what.data, out, err);
	free(path);
	g3_buf_release(&what);
	return rc;
}

g3_rc g3_es_index_create(g3_es *es, const char *name, json_object *body, g3_err *err)
{
	return index_call(es, "PUT", name, "", body, "create", NULL, err);
}

g3_rc g3_es_index_get(g3_es *es, const char *name, json_object **entry, int *concrete,
		      g3_err *err)
{
	char *path = index_path(name, "");
	g3_buf what = G3_BUF_INIT;
	json_object *root = NULL, *v;
	g3_rc rc;

	*entry = NULL;
	*concrete = 0;
	g3_buf_addf(&what, "could not look up index \"%s\"", name);
	if ((rc = get_object(es, path, what.data, &root, err)) || !root)
		goto cleanup;
	if (json_object_object_length(root) == 1 && json_object_object_get_ex(root, name, &v) &&
	    json_object_is_type(v, json_type_object)) {
		*concrete = 1;
		*entry = json_object_get(v);
	} else if (json_object_object_length(root)) {
		*entry = json_object_get(root);
	}
cleanup:
	json_object_put(root);
	g3_buf_release(&what);
	free(path);
	return rc;
}

g3_rc g3_es_index_delete_if(g3_es *es, const char *name, g3_es_delete_check check, void *arg,
			    g3_err *err)
{
	json_object *entry = NULL;
	int concrete = 0;
	g3_rc rc;

	if ((rc = g3_es_name_check(name, "a delete", err)))
		return rc;
	if ((rc = g3_es_index_get(es, name, &entry, &concrete, err)))
		return rc;
	if (!entry) {
		rc = g3_err_set(err, G3_FAIL, "could not delete index \"%s\": it does not exist", name);
	} else if (!concrete) {
		g3_buf names = G3_BUF_INIT;

		json_object_object_foreach(entry, k, v) {
			(void)v;
			g3_buf_addf(&names, "%s\"%s\"", names.len ? ", " : "", k);
		}
		rc = g3_err_set(err, G3_FAIL, "refusing to delete \"%s\": it is not a concrete index "
				"of that name but resolves to %.400s", name, names.data ? names.data : "");
		g3_buf_release(&names);
	} else if (check) {
		rc = check(name, entry, arg, err);
	}
	json_object_put(entry);
	if (rc)
		return rc;
	return index_call(es, "DELETE", name, "", NULL, "delete", NULL, err);
}

g3_rc g3_es_index_delete(g3_es *es, const char *name, g3_err *err)
{
	return g3_es_index_delete_if(es, name, NULL, NULL, err);
}

g3_rc g3_es_settings_put(g3_es *es, const char *name, json_object *settings, g3_err *err)
{
	return index_call(es, "PUT", name, "/_settings", settings, "update the settings of", NULL, err);
}

g3_rc g3_es_refresh(g3_es *es, const char *name, g3_err *err)
{
	return index_call(es, "POST", name, "/_refresh", NULL, "refresh", NULL, err);
}

g3_rc g3_es_count(g3_es *es, const char *name, long long *count, g3_err *err)
{
	json_object *out = NULL, *c;
	g3_rc rc;

	*count = -1;
	if ((rc = index_call(es, "GET", name, "/_count", NULL, "count the documents of", &out, err)))
		return rc;
	if (!out || !json_object_object_get_ex(out, "count", &c))
		rc = g3_err_set(err, G3_FAIL, "could not count the documents of index \"%s\": no count",
				name);
	else
		*count = json_object_get_int64(c);
	json_object_put(out);
	return rc;
}

g3_rc g3_es_aliases_update(g3_es *es, json_object *actions, g3_err *err)
{
	json_object *body = json_object_new_object();
	g3_rc rc;

	json_object_object_add(body, "actions", json_object_get(actions));
	rc = g3_es_call(es, "POST", "/_aliases", body, "could not update aliases", NULL, err);
	json_object_put(body);
	return rc;
}

static void add_list(char ***list, size_t *n, const char *csv)
{
	while (csv && *csv) {
		size_t len = strcspn(csv, ", \t\n");
		size_t a = 0, e = len;

		while (a < e && isspace((unsigned char)csv[a]))
			a++;
		while (e > a && isspace((unsigned char)csv[e - 1]))
			e--;
		if (e > a) {
			char *item = g3_xmalloc(e - a + 1);

			memcpy(item, csv + a, e - a);
			item[e - a] = '\0';
			g3_strlist_add(list, n, item);
			free(item);
		}
		csv += len;
		if (*csv)
			csv++;
	}
}

void g3_es_indices_from_env(char ***list, size_t *n)
{
	add_list(list, n, g3_env("GUPPY_INDICES"));
	add_list(list, n, g3_env("GUPPY_CONFIGINDEX"));
}
