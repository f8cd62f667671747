/*
 * Kubernetes API client for the one thing gen3db asks of it: merging a
 * key into a Secret (see k8s.h for the protocol and where the pod's
 * credentials come from).
 */
#include "k8s.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/clock.h"
#include "../io/http.h"
#include "../base/opts.h"
#include "secret.h"
#include "../base/strbuf.h"

#define K8S_FILE_MAX (64 * 1024)   /* tokens are a few KiB at most */
#define K8S_BODY_MAX (64 * 1024)   /* answers kept for the error message */
#define K8S_ATTEMPTS 4

int g3_k8s_in_cluster(void)
{
	return g3_env("GEN3DB_K8S_API") ||
	       (g3_env("KUBERNETES_SERVICE_HOST") && g3_env("KUBERNETES_SERVICE_PORT"));
}

int g3_k8s_name_ok(const char *s)
{
	return g3_k8s_name_fits(s, 253);
}

int g3_k8s_name_fits(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '.'))
			return 0;
	}
	return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

/* Reads a small service-account file, trailing white space removed. what
 * names it in messages; its content is never quoted (it may be the token). */
static g3_rc read_sa_file(const char *dir, const char *file, const char *what,
			  int must_be_printable, char **out, g3_err *err)
{
	g3_buf path = G3_BUF_INIT;
	g3_buf data = G3_BUF_INIT;
	FILE *f = NULL;
	char chunk[4096];
	size_t n;
	g3_rc rc = G3_OK;

	*out = NULL;
	g3_buf_addf(&path, "%s/%s", dir, file);
	f = fopen(path.data, "r");
	if (!f) {
		rc = g3_err_set(err, G3_USAGE, "could not open the service account's %s \"%s\": %s",
				what, path.data, strerror(errno));
		g3_err_hint(err, "mount the service account (automountServiceAccountToken) "
			    "or set GEN3DB_K8S_SA_DIR");
		goto cleanup;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (data.len + n > K8S_FILE_MAX) {
			rc = g3_err_set(err, G3_USAGE, "the service account's %s \"%s\" is longer "
					"than %d bytes", what, path.data, K8S_FILE_MAX);
			goto cleanup;
		}
		g3_buf_add(&data, chunk, n);
	}
	if (ferror(f)) {
		rc = g3_err_set(err, G3_USAGE, "could not read the service account's %s \"%s\": %s",
				what, path.data, strerror(errno));
		goto cleanup;
	}
	while (data.len && strchr(" \t\r\n", data.data[data.len - 1]))
		data.data[--data.len] = '\0';
	if (!data.len) {
		rc = g3_err_set(err, G3_USAGE, "the service account's %s \"%s\" is empty",
				what, path.data);
		goto cleanup;
	}
	if (must_be_printable) {
		for (size_t i = 0; i < data.len; i++) {
			unsigned char ch = (unsigned char)data.data[i];

			if (ch < 0x21 || ch == 0x7f) {
				rc = g3_err_set(err, G3_USAGE, "the service account's %s \"%s\" "
						"holds a space or control character", what, path.data);
				goto cleanup;
			}
		}
	}
	*out = g3_buf_detach(&data);
cleanup:
	if (f)
		fclose(f);
	if (data.data)
		explicit_bzero(data.data, data.cap);
	g3_buf_release(&data);
	g3_buf_release(&path);
	return rc;
}

g3_rc g3_k8s_client_init(g3_k8s_client *c, g3_err *err)
{
	const char *dir = g3_env("GEN3DB_K8S_SA_DIR");
	const char *api = g3_env("GEN3DB_K8S_API");
	g3_buf b = G3_BUF_INIT;
	FILE *ca = NULL;
	g3_rc rc;

	memset(c, 0, sizeof(*c));
	c->timeout = 30;
	if (!dir)
		dir = G3_K8S_SA_DIR;
	if (api) {
		if (strncmp(api, "https://", 8))
			return g3_err_set(err, G3_USAGE,
					  "GEN3DB_K8S_API must be an https:// URL, not \"%s\"", api);
		g3_buf_adds(&b, api);
		while (b.len > 8 && b.data[b.len - 1] == '/')
			b.data[--b.len] = '\0';
	} else {
		const char *host = g3_env("KUBERNETES_SERVICE_HOST");
		const char *port = g3_env("KUBERNETES_SERVICE_PORT");

		if (!host || !port) {
			rc = g3_err_set(err, G3_USAGE, "not running in a Kubernetes pod "
					"(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
			g3_err_hint(err, "--patch-secret works inside the cluster; elsewhere "
				    "use --secret-out and kubectl apply");
			return rc;
		}
		/* an IPv6 address needs brackets in a URL */
		if (strchr(host, ':') && host[0] != '[')
			g3_buf_addf(&b, "https://[%s]:%s", host, port);
		else
			g3_buf_addf(&b, "https://%s:%s", host, port);
	}
	c->api = g3_buf_detach(&b);
	if ((rc = read_sa_file(dir, "namespace", "namespace", 1, &c->namespace, err)))
		return rc;
	if (!g3_k8s_name_ok(c->namespace))
		return g3_err_set(err, G3_USAGE, "the service account's namespace file in \"%s\" "
				  "does not hold a valid namespace name", dir);
	if ((rc = read_sa_file(dir, "token", "token", 1, &c->token, err)))
		return rc;
	g3_buf_addf(&b, "%s/ca.crt", dir);
	c->ca_file = g3_buf_detach(&b);
	ca = fopen(c->ca_file, "r");
	if (!ca) {
		rc = g3_err_set(err, G3_USAGE, "could not open the service account's CA \"%s\": %s",
				c->ca_file, strerror(errno));
		g3_err_hint(err, "mount the service account (automountServiceAccountToken) "
			    "or set GEN3DB_K8S_SA_DIR");
		return rc;
	}
	fclose(ca);
	return G3_OK;
}

void g3_k8s_client_release(g3_k8s_client *c)
{
	free(c->api);
	free(c->namespace);
	free(c->ca_file);
	g3_secret_free(c->token);
	memset(c, 0, sizeof(*c));
}

int g3_k8s_parse_status(const char *body, size_t len, char *message,
			size_t message_size, char *reason, size_t reason_size,
			long *code)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL, *v;
	int ok = 0;

	if (message_size)
		message[0] = '\0';
	if (reason_size)
		reason[0] = '\0';
	*code = 0;
	if (!tok || len > INT32_MAX)
		goto cleanup;
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "kind", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "Status"))
		goto cleanup;
	if (json_object_object_get_ex(o, "message", &v) && json_object_is_type(v, json_type_string))
		snprintf(message, message_size, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "reason", &v) && json_object_is_type(v, json_type_string))
		snprintf(reason, reason_size, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "code", &v) && json_object_is_type(v, json_type_int))
		*code = (long)json_object_get_int64(v);
	ok = 1;
cleanup:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	return ok;
}

static const char *status_text(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return NULL;
}

/* "ServiceUnavailable" says what "Service Unavailable" says */
static int same_words(const char *reason, const char *text)
{
	if (!text)
		return 0;
	for (;; reason++, text++) {
		while (*text == ' ')
			text++;
		if (*reason != *text)
			return 0;
		if (!*reason)
			return 1;
	}
}

static int transient_curl(CURLcode cc)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
	       cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
	       cc == CURLE_GOT_NOTHING || cc == CURLE_COULDNT_RESOLVE_HOST;
}

/* One PATCH through the http module; *status gets the HTTP status (0 when
 * none arrived). */
static CURLcode patch_once(const g3_k8s_client *c, const char *url, const char *body,
			   struct curl_slist *headers, g3_http_response *answer, long *status,
			   char *curl_msg)
{
	g3_http_call call = {
		.method = "PATCH", .url = url, .headers = headers, .body = body,
		.body_len = strlen(body), .max_body = K8S_BODY_MAX, .ca_file = c->ca_file,
		.protocols = "https", .connect_timeout = 10,
		.timeout = c->timeout > 0 ? c->timeout : 30L,
	};
	CURLcode cc = g3_http_perform(&call, answer, curl_msg);

	*status = cc == CURLE_OK ? answer->status : 0;
	return cc;
}

static void set_http_error(const g3_k8s_client *c, const char *name, long status,
			   const g3_buf *answer, g3_err *err)
{
	char message[512], reason[128];
	const char *text = status_text(status);
	long code;
	g3_buf head = G3_BUF_INIT;

	g3_buf_addf(&head, "could not patch secret \"%s\" in namespace \"%s\": HTTP %ld",
		    name, c->namespace, status);
	if (text)
		g3_buf_addf(&head, " %s", text);
	if (answer->len && g3_k8s_parse_status(answer->data, answer->len, message,
					       sizeof(message), reason, sizeof(reason), &code)) {
		if (reason[0] && !same_words(reason, text))
			g3_buf_addf(&head, " (%s)", reason);
		if (message[0])
			g3_buf_addf(&head, ": %s", message);
	}
	g3_err_set(err, G3_FAIL, "%s", head.data);
	g3_buf_release(&head);
	if (status == 401)
		g3_err_hint(err, "the service account token was refused; check that it is "
			    "mounted and not expired");
	else if (status == 403)
		g3_err_hint(err, "give the job's service account a Role allowing \"get\" and "
			    "\"patch\" on secrets in namespace \"%s\"", c->namespace);
	else if (status == 404)
		g3_err_hint(err, "the chart creates \"%s\" before this job runs; check the "
			    "service name and the namespace", name);
}

g3_rc g3_k8s_secret_patch_data(const g3_k8s_client *c, const char *name,
			       const char *key, const char *value, g3_err *err)
{
	json_object *patch = NULL, *data;
	struct curl_slist *headers = NULL, *tmp;
	g3_buf url = G3_BUF_INIT, auth = G3_BUF_INIT;
	g3_http_response answer;
	char curl_msg[CURL_ERROR_SIZE];
	char *b64 = NULL;
	long status = 0;
	CURLcode cc = CURLE_OK;
	g3_rc rc = G3_OK;

	g3_http_response_init(&answer);
	if (!g3_k8s_name_ok(name))
		return g3_err_set(err, G3_USAGE, "\"%s\" cannot name a Kubernetes Secret "
				  "(lowercase letters, digits, '-' and '.')", name);
	if (!c->api || !c->token || !c->namespace || !c->ca_file)
		return g3_err_set(err, G3_USAGE, "the Kubernetes client is not initialised");
	g3_buf_addf(&url, "%s/api/v1/namespaces/%s/secrets/%s", c->api, c->namespace, name);
	b64 = g3_base64(value, strlen(value));
	patch = json_object_new_object();
	data = json_object_new_object();
	json_object_object_add(data, key, json_object_new_string(b64));
	json_object_object_add(patch, "data", data);

	g3_buf_addf(&auth, "Authorization: Bearer %s", c->token);
	headers = curl_slist_append(headers, "Content-Type: application/merge-patch+json");
	if (headers && (tmp = curl_slist_append(headers, "Accept: application/json")))
		headers = tmp;
	if (headers && (tmp = curl_slist_append(headers, auth.data)))
		headers = tmp;
	else {
		rc = g3_err_set(err, G3_FAIL, "out of memory");
		goto cleanup;
	}

	for (int attempt = 1; attempt <= K8S_ATTEMPTS; attempt++) {
		cc = patch_once(c, url.data, json_object_to_json_string_ext(patch,
				JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
				headers, &answer, &status, curl_msg);
		if (cc == CURLE_OK && status >= 200 && status < 300)
			goto cleanup;
		if (cc == CURLE_OK && status != 429 && status < 500)
			break;
		if (cc != CURLE_OK && !transient_curl(cc))
			break;
		if (attempt < K8S_ATTEMPTS)
			g3_clock_sleep((double)(1 << (attempt - 1)));
	}
	if (cc != CURLE_OK) {
		rc = g3_err_set(err, G3_FAIL, "could not patch secret \"%s\" in namespace \"%s\" "
				"at \"%s\": %s", name, c->namespace, c->api,
				curl_msg[0] ? curl_msg : curl_easy_strerror(cc));
		if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_SSL_CONNECT_ERROR)
			g3_err_hint(err, "the API server's certificate must chain to \"%s\"",
				    c->ca_file);
	} else {
		set_http_error(c, name, status, &answer.body, err);
		rc = G3_FAIL;
	}
cleanup:
	/* the slist holds its own copy of the Authorization line */
	for (tmp = headers; tmp; tmp = tmp->next)
		explicit_bzero(tmp->data, strlen(tmp->data));
	curl_slist_free_all(headers);
	if (auth.data)
		explicit_bzero(auth.data, auth.cap);
	g3_buf_release(&auth);
	g3_buf_release(&url);
	g3_http_response_release(&answer);
	json_object_put(patch);
	free(b64);
	return rc;
}

g3_rc g3_k8s_mark_dbcreated(const g3_k8s_client *c, const char *name, g3_err *err)
{
	return g3_k8s_secret_patch_data(c, name, "dbcreated", "true", err);
}
