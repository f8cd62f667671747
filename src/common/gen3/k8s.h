/*
 * Talking to the Kubernetes API from inside a pod, without kubectl.
 *
 * gen3-helm's jobs signal that a service's database is ready by adding
 * the key `dbcreated` to the Secret `<service>-dbcreds`
 * (`kubectl patch secret ... -p '{"data":{"dbcreated":"dHJ1ZQ=="}}'`);
 * the service pods wait for that key. Here the same patch goes straight
 * to the API server:
 *
 *   PATCH /api/v1/namespaces/<ns>/secrets/<name>
 *   Content-Type: application/merge-patch+json
 *   Authorization: Bearer <service-account token>
 *   {"data":{"dbcreated":"dHJ1ZQ=="}}
 *
 * over HTTPS verified against the service account's CA. The API address
 * comes from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, the
 * token, namespace and CA from the mounted service account directory
 * (/var/run/secrets/kubernetes.io/serviceaccount). For tests
 * GEN3DB_K8S_API replaces the address (an https:// URL) and
 * GEN3DB_K8S_SA_DIR the directory.
 *
 * The token is a secret: it is held in memory owned by g3_k8s_client,
 * wiped on release, sent only in the Authorization header, and never
 * appears in messages (libcurl's verbose output stays off).
 */
#ifndef G3_K8S_H
#define G3_K8S_H

#include "../base/err.h"

#define G3_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct g3_k8s_client {
	char *api;        /* "https://host:port", no trailing slash */
	char *namespace;  /* the pod's namespace */
	char *ca_file;    /* PEM bundle the API server's certificate must chain to */
	char *token;      /* secret: never logged */
	long timeout;     /* seconds per request (default 30) */
} g3_k8s_client;

/* 1 when gen3db runs in a pod (or GEN3DB_K8S_API is set), else 0. */
int g3_k8s_in_cluster(void);

/*
 * Reads the API address, token, namespace and CA from the environment and
 * the service account directory. No network I/O: a caller can run it
 * before changing anything. Fails with G3_USAGE when not in a pod or a
 * file is missing, naming the file. Release with g3_k8s_client_release
 * (also after a failure).
 */
g3_rc g3_k8s_client_init(g3_k8s_client *c, g3_err *err);
void g3_k8s_client_release(g3_k8s_client *c);

/* 1 when s can name a Secret or a namespace (a DNS subdomain: lowercase
 * letters, digits, '-' and '.', starting and ending alphanumeric, at most
 * 253 characters). */
int g3_k8s_name_ok(const char *s);
/* The same rule with a shorter bound (a name that gets a suffix, e.g. a
 * service whose Secret is "<name>-dbcreds"). */
int g3_k8s_name_fits(const char *s, size_t max);

/*
 * Merges {"data": {key: base64(value)}} into Secret `name` of the client's
 * namespace. Retries transient failures (connection errors, HTTP 429 and
 * 5xx) a few times with backoff; a 4xx answer or a TLS error fails at
 * once. Errors name the secret, the namespace and the HTTP status and
 * carry the message of a Kubernetes Status body; a hint for 401/403/404.
 * Thread-safe for distinct clients.
 */
g3_rc g3_k8s_secret_patch_data(const g3_k8s_client *c, const char *name,
			       const char *key, const char *value, g3_err *err);

/* Marks `name` ready for the service pods: data.dbcreated = "true". */
g3_rc g3_k8s_mark_dbcreated(const g3_k8s_client *c, const char *name,
			    g3_err *err);

/*
 * Parses a Kubernetes Status object ({"kind":"Status","message":...,
 * "reason":...,"code":...}) from body[0..len). Returns 1 and fills message
 * and reason (truncated to their sizes) when it is one, else 0.
 */
int g3_k8s_parse_status(const char *body, size_t len, char *message,
			size_t message_size, char *reason, size_t reason_size,
			long *code);

#endif
