/*
 * Secrets: passwords read from files or generated from the OS's random
 * source, and Kubernetes Secret manifests.
 *
 * Secret strings live in memory owned by the caller and are wiped by
 * g3_secret_free. They are never logged: messages name the file a
 * secret came from, never its content.
 */
#ifndef G3_SECRET_H
#define G3_SECRET_H

#include <stdio.h>

#include "../base/base64.h"
#include "../base/err.h"

/* The length of the passwords gen3db generates for service roles. */
#define G3_SECRET_GENERATED_LEN 32

/* A strong password: len characters of [A-Za-z0-9], drawn without bias
 * from getrandom(2). Caller frees with g3_secret_free. */
g3_rc g3_secret_generate(size_t len, char **out, g3_err *err);

/* Reads a password from a file: the first line, without its line end.
 * An empty password or one holding a NUL or control character is an
 * error naming the file. */
g3_rc g3_secret_read_file(const char *path, char **out, g3_err *err);

void g3_secret_free(char *secret);

/* One Secret manifest's content; all values are plain text. */
typedef struct g3_k8s_secret {
	const char *name;           /* e.g. "fence-dbcreds" */
	const char *database;
	const char *username;
	const char *password;
	const char *host;
	const char *port;
	int dbcreated;              /* writes dbcreated: "true" */
} g3_k8s_secret;

/* Writes n secrets as YAML to f: a single Secret, or a v1 List of them. */
int g3_k8s_secrets_write(FILE *f, const g3_k8s_secret *secrets, size_t n);

/* The same to path ("-": standard output): written whole to a private
 * (0600) temporary file in the same directory, fsynced, renamed over path
 * and the directory fsynced, so the file is never half-written nor
 * readable by others, whatever mode it had before. */
g3_rc g3_k8s_secrets_write_file(const char *path, const g3_k8s_secret *secrets, size_t n,
				g3_err *err);

/* The Secrets of a file read back: every string is owned (passwords wiped
 * by g3_k8s_secrets_release). */
typedef struct g3_k8s_secrets {
	g3_k8s_secret *items;
	size_t n;
} g3_k8s_secrets;

void g3_k8s_secrets_release(g3_k8s_secrets *s);

/* Reads a file g3_k8s_secrets_write wrote (a missing file: no Secrets).
 * Anything else in it (another kind, an unknown key, bad base64, a
 * Secret without name or password, a name twice) is G3_USAGE naming the
 * file and the line. */
g3_rc g3_k8s_secrets_read(const char *path, g3_k8s_secrets *out, g3_err *err);

/* Merges secrets into path by Secret name: the file's other Secrets stay
 * as they were, one with the name of a given one is replaced, new ones are
 * added; then written as g3_k8s_secrets_write_file does ("-": only the
 * given ones to standard output). A malformed file is an error and is left
 * untouched. */
g3_rc g3_k8s_secrets_merge_file(const char *path, const g3_k8s_secret *secrets, size_t n,
				g3_err *err);

/*
 * Finds the password of Secret `name` in a manifest written by
 * g3_k8s_secrets_write (so re-running with the same --secret-out keeps
 * the passwords it generated before). *out is NULL when the file has no
 * such Secret. A file that exists but cannot be read is an error.
 */
g3_rc g3_k8s_secret_password(const char *path, const char *name, char **out,
			     g3_err *err);
#endif
