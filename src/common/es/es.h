/*
 * Elasticsearch client over libcurl.
 *
 * A g3_esconf says where the cluster is and how to authenticate: the base
 * URL from --es or ESHOST (host:port, http assumed), basic auth from the
 * URL's userinfo or ES_USERNAME/ES_PASSWORD, an API key from ES_API_KEY,
 * a CA file from --es-cacert or ES_CACERT. conf->url never holds
 * credentials, so it is safe to print.
 *
 * A g3_es is one connection to the cluster for the control calls (index
 * create/delete, settings, aliases, refresh, _count, searches): one easy
 * handle, reused with keep-alive. It learns the server version with
 * `GET /` in g3_es_connect, which decides how mapping types are handled:
 * Elasticsearch 6 keeps typed mappings and `_type` in bulk actions; 7 drops
 * them; 8 and OpenSearch 2 must never see them. The bulk loader (esbulk.h)
 * makes its own handles with g3_es_handle.
 *
 * Responses are read into a buffer bounded by G3_ES_MAX_RESPONSE: control
 * calls answer small bodies, search pages are bounded by the page size.
 * Not thread-safe: one g3_es per thread.
 */
#ifndef G3_ES_H
#define G3_ES_H

#include <curl/curl.h>
#include <json-c/json.h>

#include "../base/err.h"
#include "../base/json.h"
#include "../base/opts.h"
#include "../base/strbuf.h"
#include "../base/url.h"

#define G3_ES_MAX_RESPONSE (256u << 20)
#define G3_ES_MAX_ID_BYTES 512  /* Elasticsearch's limit on _id */

typedef struct g3_esconf {
	char *url;       /* base URL without credentials or trailing slash */
	char *username;  /* NULL: no basic auth */
	char *password;
	char *api_key;   /* from ES_API_KEY; sent as "Authorization: ApiKey ..." */
	char *cacert;    /* NULL: the system's CA store */
	int insecure;    /* skip TLS verification (never the default) */
} g3_esconf;

/* The connection options as two option rows (opts.h) for a command's
 * struct T with fields U (--es, else ESHOST) and C (--es-cacert, else
 * ES_CACERT), both const char *. */
#define G3_ES_ROWS(T, U, C) \
	{ .name = "es", .kind = G3_OPT_URL, .off = offsetof(T, U), .key = "es", \
	  .env = "ESHOST", .metavar = "URL", \
	  .help = "Elasticsearch/OpenSearch, http(s)://host:port\n" \
		  "(default: ESHOST, host:port); credentials from\n" \
		  "ES_USERNAME/ES_PASSWORD or ES_API_KEY" }, \
	{ .name = "es-cacert", .kind = G3_OPT_STR, .off = offsetof(T, C), .key = "es_cacert", \
	  .env = "ES_CACERT", .metavar = "FILE", .help = "CA certificates for https (or ES_CACERT)" }

void g3_esconf_init(g3_esconf *c);
void g3_esconf_release(g3_esconf *c);

/*
 * Fills c from url (--es; NULL: ESHOST) and the environment (ES_USERNAME,
 * ES_PASSWORD, ES_API_KEY, ES_CACERT unless cacert is given). A missing
 * target is a usage error.
 */
g3_rc g3_esconf_set(g3_esconf *c, const char *url, const char *cacert, g3_err *err);

typedef enum g3_es_dist { G3_ES_ELASTIC, G3_ES_OPENSEARCH } g3_es_dist;

typedef struct g3_es {
	const g3_esconf *conf;  /* borrowed; outlives the g3_es */
	CURL *curl;
	struct curl_slist *headers;
	g3_es_dist dist;
	int major;              /* 6, 7, 8 (OpenSearch: 1, 2) */
	char version[32];       /* "7.17.10" */
	int typed;              /* the target wants mapping types (ES 6) */
	int has_pit;            /* point in time API (ES >= 7.10) */
} g3_es;

void g3_es_init(g3_es *es);
void g3_es_release(g3_es *es);

/*
 * Asks `GET /` until the cluster answers, with backoff, for up to
 * wait_seconds; G3_UNREACHABLE naming the URL when it never does. A
 * refused login fails at once (waiting would not help).
 */
g3_rc g3_es_connect(g3_es *es, const g3_esconf *conf, int wait_seconds, g3_err *err);

/* A new easy handle (io/curl.h's defaults) with the cluster's TLS and auth
 * settings and ES's timeouts (connect 10 s, request 600 s); the caller sets
 * the URL. headers gets the auth header appended. NULL when libcurl could
 * not make one. */
CURL *g3_es_handle(const g3_esconf *conf, struct curl_slist **headers);

/*
 * One request: method, path (with query, already escaped), optional JSON
 * body. status gets the HTTP status (0: no answer, err set with the
 * transport error and G3_UNREACHABLE). resp (may be NULL) gets the body.
 * An HTTP error status is not an error here: see g3_es_check.
 */
g3_rc g3_es_request(g3_es *es, const char *method, const char *path, const char *body,
		    size_t len, long *status, g3_buf *resp, g3_err *err);

/*
 * Turns an ES error answer into err: "<what>: <type>: <reason> (HTTP n)",
 * what naming the operation and index. Returns G3_OK for 2xx.
 */
g3_rc g3_es_check(long status, const g3_buf *resp, const char *what, g3_err *err);

/* request + check + parse: *out (caller puts) is the JSON answer. */
g3_rc g3_es_call(g3_es *es, const char *method, const char *path, json_object *body,
		 const char *what, json_object **out, g3_err *err);

/*
 * Elasticsearch's rules for index and alias names: not empty, "." or "..";
 * lowercase; none of \ / * ? " < > | , # : space (nor control
 * characters); not starting with '_', '-' or '+'; at most 255 bytes. A
 * name that breaks them could, in a path, name several indices or all of
 * them (`_all`, `*`, `a,b`), so every name from the user, the environment,
 * a manifest or a file name is checked before any request.
 * g3_es_name_problem: NULL when name is good, else the rule it breaks.
 * g3_es_name_check: G3_USAGE naming the name, origin (where it came from,
 * e.g. "--index") and the rule.
 */
#define G3_ES_MAX_NAME_BYTES 255
const char *g3_es_name_problem(const char *name);
g3_rc g3_es_name_check(const char *name, const char *origin, g3_err *err);

/* Index operations; name is a concrete index or alias (escaped here). */
g3_rc g3_es_index_exists(g3_es *es, const char *name, int *exists, g3_err *err);
/* *is_alias: the name is an alias (not a concrete index); *targets (may be
 * NULL) gets the indices it points at (caller g3_strlist_free's). */
g3_rc g3_es_alias_get(g3_es *es, const char *name, int *is_alias, char ***targets,
		      size_t *n_targets, g3_err *err);
g3_rc g3_es_index_create(g3_es *es, const char *name, json_object *body, g3_err *err);
/*
 * GET /<name>: *entry (caller puts; NULL when nothing has that name) is the
 * answer's entry for name when name is one concrete index of exactly that
 * name ({"aliases":..,"mappings":..,"settings":..}); *concrete is 0 when the
 * name resolves to something else (an alias).
 */
g3_rc g3_es_index_get(g3_es *es, const char *name, json_object **entry, int *concrete,
		      g3_err *err);
/*
 * Deletes exactly one concrete index: the name is checked (g3_es_name_check),
 * then `GET /<name>` must answer with one concrete index of that very name
 * (not an alias, not a pattern), then check (may be NULL) gets that entry
 * and may refuse (its error is returned); only then is the DELETE sent.
 */
typedef g3_rc (*g3_es_delete_check)(const char *name, json_object *entry, void *arg,
				    g3_err *err);
g3_rc g3_es_index_delete_if(g3_es *es, const char *name, g3_es_delete_check check, void *arg,
			    g3_err *err);
g3_rc g3_es_index_delete(g3_es *es, const char *name, g3_err *err);
g3_rc g3_es_settings_put(g3_es *es, const char *name, json_object *settings, g3_err *err);
g3_rc g3_es_refresh(g3_es *es, const char *name, g3_err *err);
g3_rc g3_es_count(g3_es *es, const char *name, long long *count, g3_err *err);
/* POST /_aliases with {"actions": actions} (one atomic switch). */
g3_rc g3_es_aliases_update(g3_es *es, json_object *actions, g3_err *err);

/* Appends the helm job's index list to *list: GUPPY_INDICES (comma or
 * space separated) then GUPPY_CONFIGINDEX; blanks skipped. Callers check
 * each name (g3_es_name_check with G3_ES_ENV_ORIGIN). */
#define G3_ES_ENV_ORIGIN "GUPPY_INDICES/GUPPY_CONFIGINDEX"
void g3_es_indices_from_env(char ***list, size_t *n);


#endif
