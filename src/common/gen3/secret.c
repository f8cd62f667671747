#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/strbuf.h"

static const char alnum[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

g3_rc g3_secret_generate(size_t len, char **out, g3_err *err)
{
	char *s = g3_xmalloc(len + 1);
	size_t have = 0;

	while (have < len) {
		unsigned char raw[64];
		ssize_t got = getrandom(raw, sizeof(raw), 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			g3_secret_free(s);
			return g3_err_set(err, G3_FAIL,
					  "could not read the system's random source: %s",
					  strerror(errno));
		}
		for (ssize_t i = 0; i < got && have < len; i++) {
			/* 62 * 4 = 248: reject 248..255 so every character is
			 * equally likely */
			if (raw[i] >= 248)
				continue;
			s[have++] = alnum[raw[i] % 62];
		}
	}
	s[len] = '\0';
	*out = s;
	return G3_OK;
}

g3_rc g3_secret_read_file(const char *path, char **out, g3_err *err)
{
	FILE *f = fopen(path, "r");
	char buf[1025];
	size_t n;

	*out = NULL;
	if (!f)
		return g3_err_set(err, G3_USAGE, "could not open password file \"%s\": %s",
				  path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (n == sizeof(buf) - 1) {
		explicit_bzero(buf, sizeof(buf));
		return g3_err_set(err, G3_USAGE,
				  "password file \"%s\" is longer than 1024 bytes", path);
	}
	if (memchr(buf, '\0', n)) {
		explicit_bzero(buf, sizeof(buf));
		return g3_err_set(err, G3_USAGE, "password file \"%s\" holds a NUL byte", path);
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	for (char *p = buf; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			explicit_bzero(buf, sizeof(buf));
			return g3_err_set(err, G3_USAGE,
					  "password file \"%s\" holds a control character",
					  path);
		}
	}
	if (!buf[0])
		return g3_err_set(err, G3_USAGE, "password file \"%s\" is empty", path);
	*out = g3_xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return G3_OK;
}

void g3_secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

static void yaml_data(g3_buf *b, const char *indent, const char *key,
		      const char *value)
{
	char *enc = g3_base64(value, strlen(value));

	g3_buf_addf(b, "%s  %s: %s\n", indent, key, enc);
	explicit_bzero(enc, strlen(enc));
	free(enc);
}

/* Names are validated Kubernetes names by the caller; quoted anyway. */
static void yaml_secret(g3_buf *b, const g3_k8s_secret *s, const char *indent,
			const char *first)
{
	g3_buf_addf(b, "%sapiVersion: v1\n", first);
	g3_buf_addf(b, "%skind: Secret\n", indent);
	g3_buf_addf(b, "%smetadata:\n", indent);
	g3_buf_addf(b, "%s  name: \"%s\"\n", indent, s->name);
	g3_buf_addf(b, "%stype: Opaque\n", indent);
	g3_buf_addf(b, "%sdata:\n", indent);
	yaml_data(b, indent, "database", s->database);
	yaml_data(b, indent, "username", s->username);
	yaml_data(b, indent, "password", s->password);
	yaml_data(b, indent, "host", s->host);
	yaml_data(b, indent, "port", s->port);
	if (s->dbcreated)
		yaml_data(b, indent, "dbcreated", "true");
}

int g3_k8s_secrets_write(FILE *f, const g3_k8s_secret *secrets, size_t n)
{
	g3_buf b = G3_BUF_INIT;
	int ret;

	if (n == 1) {
		yaml_secret(&b, &secrets[0], "", "");
	} else {
		g3_buf_adds(&b, "apiVersion: v1\nkind: List\nitems:\n");
		for (size_t i = 0; i < n; i++)
			yaml_secret(&b, &secrets[i], "    ", "  - ");
	}
	ret = fwrite(b.data, 1, b.len, f) == b.len && fflush(f) == 0 ? 0 : -1;
	explicit_bzero(b.data, b.len);
	g3_buf_release(&b);
	return ret;
}

g3_rc g3_k8s_secret_password(const char *path, const char *name, char **out,
			     g3_err *err)
{
	FILE *f;
	char line[4096];
	int in_wanted = 0;
	g3_rc rc = G3_OK;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return G3_OK;
		return g3_err_set(err, G3_USAGE, "could not read \"%s\": %s", path,
				  strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " -");
		char *end;

		p[strcspn(p, "\r\n")] = '\0';
		if (!strncmp(p, "name: ", 6)) {
			char *v = p + 6;

			if (*v == '"') {
				v++;
				end = strrchr(v, '"');
				if (end)
					*end = '\0';
			}
			in_wanted = !strcmp(v, name);
		} else if (!strncmp(p, "apiVersion:", 11)) {
			in_wanted = 0;
		} else if (in_wanted && !strncmp(p, "password: ", 10)) {
			size_t len;
			unsigned char *pw = g3_base64_decode(p + 10, &len);

			explicit_bzero(line, sizeof(line));
			if (!pw || !len || memchr(pw, '\0', len)) {
				free(pw);
				rc = g3_err_set(err, G3_USAGE,
						"\"%s\": the password of secret \"%s\" is not valid base64",
						path, name);
				break;
			}
			*out = (char *)pw;
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return rc;
}

/* fsync of the directory holding path, so a rename in it is durable. */
static int sync_dir(const char *path)
{
	char *copy = g3_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = fd < 0 ? -1 : fsync(fd);

	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

g3_rc g3_k8s_secrets_write_file(const char *path, const g3_k8s_secret *secrets, size_t n,
				g3_err *err)
{
	g3_buf b = G3_BUF_INIT;
	FILE *f = NULL;
	char *tmp = NULL;
	int fd, w;
	g3_rc rc = G3_OK;

	if (!strcmp(path, "-")) {
		if (g3_k8s_secrets_write(stdout, secrets, n) || fflush(stdout))
			return g3_err_set(err, G3_FAIL, "could not write secrets to standard output: %s",
					  strerror(errno));
		return G3_OK;
	}
	g3_buf_addf(&b, "%s.tmp.%ld", path, (long)getpid());
	tmp = g3_buf_detach(&b);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	/* a leftover temporary file keeps its mode through O_TRUNC */
	if (fd < 0 || fchmod(fd, 0600) || !(f = fdopen(fd, "w"))) {
		rc = g3_err_set(err, G3_FAIL, "could not create \"%s\": %s", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return rc;
	}
	w = g3_k8s_secrets_write(f, secrets, n);
	if (!w)
		w = fsync(fileno(f));
	if (fclose(f) || w) {
		rc = g3_err_set(err, G3_FAIL, "could not write \"%s\": %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (rename(tmp, path)) {
		rc = g3_err_set(err, G3_FAIL, "could not rename \"%s\" to \"%s\": %s", tmp, path,
				strerror(errno));
		goto cleanup;
	}
	if (sync_dir(path))
		rc = g3_err_set(err, G3_FAIL, "could not sync the directory of \"%s\": %s", path,
				strerror(errno));
cleanup:
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

static void free_secret_strings(g3_k8s_secret *s)
{
	g3_secret_free((char *)s->password);
	free((char *)s->name);
	free((char *)s->database);
	free((char *)s->username);
	free((char *)s->host);
	free((char *)s->port);
	memset(s, 0, sizeof(*s));
}

void g3_k8s_secrets_release(g3_k8s_secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		free_secret_strings(&s->items[i]);
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

/* Where a line of a Secrets file is: which mapping its keys belong to. */
enum secrets_section { SEC_TOP, SEC_METADATA, SEC_DATA };

/* One "key: value" line of the file, in place: *key and *value point into
 * line (value "" when the key opens a mapping). */
static int split_line(char *line, int *item, char **key, char **value)
{
	char *p = line + strspn(line, " ");
	char *colon;

	*item = 0;
	if (p[0] == '-' && p[1] == ' ') {
		*item = 1;
		p += 2 + strspn(p + 2, " ");
	}
	colon = strchr(p, ':');
	if (!colon || colon == p || (colon[1] && colon[1] != ' '))
		return -1;
	*colon = '\0';
	*key = p;
	*value = colon + 1 + strspn(colon + 1, " ");
	return 0;
}

static g3_rc secrets_malformed(g3_err *err, const char *path, long line, const char *why)
{
	char at[32] = "";
	g3_rc rc;

	if (line)
		snprintf(at, sizeof(at), "line %ld: ", line);
	rc = g3_err_set(err, G3_USAGE, "secrets file \"%s\" is malformed: %s%s; "
			"it was left as it is", path, at, why);

	g3_err_hint(err, "give another --secret-out file, or repair or move this one");
	return rc;
}

/* Where the reading of a Secrets file is. */
struct secrets_parse {
	g3_k8s_secrets *out;
	g3_k8s_secret *cur;          /* the Secret being read, or NULL */
	enum secrets_section sec;
	int in_list;                 /* inside a v1 List */
	int kinds;                   /* "kind" lines of cur */
};

/* One "data:" entry of the current Secret; returns why it is malformed,
 * or NULL. */
static const char *secret_data(g3_k8s_secret *cur, const char *key, const char *value)
{
	static const char *const data_keys[] = {
		"database", "username", "password", "host", "port", "dbcreated", NULL
	};
	size_t k, n = 0;
	unsigned char *v;

	for (k = 0; data_keys[k] && strcmp(data_keys[k], key); k++)
		;
	if (!data_keys[k])
		return "unknown data key";
	v = g3_base64_decode(value, &n);
	if (!v || memchr(v, '\0', n)) {
		free(v);
		return "a data value that is not base64 text";
	}
	switch (k) {
	case 0: free((char *)cur->database); cur->database = (char *)v; break;
	case 1: free((char *)cur->username); cur->username = (char *)v; break;
	case 2: g3_secret_free((char *)cur->password); cur->password = (char *)v; break;
	case 3: free((char *)cur->host); cur->host = (char *)v; break;
	case 4: free((char *)cur->port); cur->port = (char *)v; break;
	default:
		cur->dbcreated = !strcmp((char *)v, "true");
		free(v);
	}
	return NULL;
}

/* An "apiVersion" line: starts the next Secret. */
static const char *secret_start(struct secrets_parse *p, const char *value, int item)
{
	g3_k8s_secrets *out = p->out;

	if (strcmp(value, "v1"))
		return "apiVersion is not v1";
	if (out->n && !p->in_list)
		return "a second Secret outside a List";
	if (p->in_list && !item)
		return "a List's Secret must be an item (\"- apiVersion: v1\")";
	out->items = g3_xrealloc(out->items, (out->n + 1) * sizeof(*out->items));
	p->cur = &out->items[out->n++];
	memset(p->cur, 0, sizeof(*p->cur));
	p->kinds = 0;
	p->sec = SEC_TOP;
	return NULL;
}

/* A "kind" line of the current Secret (or the header of a List). */
static const char *secret_kind(struct secrets_parse *p, const char *value)
{
	if (!strcmp(value, "List") && p->out->n == 1 && !p->in_list && !p->kinds) {
		/* the header of a v1 List: not a Secret */
		p->out->n--;
		p->in_list = 1;
		p->cur = NULL;
		memset(&p->out->items[0], 0, sizeof(p->out->items[0]));
		return NULL;
	}
	p->kinds++;
	p->sec = SEC_TOP;
	return strcmp(value, "Secret") ? "kind is not Secret" : NULL;
}

/* One "key: value" line; returns why the file is malformed, or NULL. */
static const char *secrets_line(struct secrets_parse *p, char *key, char *value, int item)
{
	g3_k8s_secret *cur = p->cur;

	if (!strcmp(key, "apiVersion"))
		return secret_start(p, value, item);
	if (!cur && p->in_list && !p->out->n && !strcmp(key, "items") && !*value && !item)
		return NULL;
	if (!cur)
		return "expected apiVersion first";
	if (item)
		return "a list item that is not a Secret";
	if (!strcmp(key, "kind"))
		return secret_kind(p, value);
	if (!strcmp(key, "metadata") && !*value) {
		p->sec = SEC_METADATA;
	} else if (!strcmp(key, "data") && !*value) {
		p->sec = SEC_DATA;
	} else if (!strcmp(key, "type")) {
		p->sec = SEC_TOP;
		if (strcmp(value, "Opaque"))
			return "type is not Opaque";
	} else if (p->sec == SEC_METADATA && !strcmp(key, "name")) {
		size_t n = strlen(value);

		if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
			value[n - 1] = '\0';
			value++;
		}
		if (cur->name || !*value)
			return "a Secret with two names or an empty one";
		cur->name = g3_xstrdup(value);
	} else if (p->sec == SEC_DATA) {
		return secret_data(cur, key, value);
	} else {
		return "unknown key";
	}
	return NULL;
}

/* The Secrets read are whole and named once each. */
static const char *secrets_check(const g3_k8s_secrets *out)
{
	for (size_t i = 0; i < out->n; i++) {
		const g3_k8s_secret *s = &out->items[i];

		if (!s->name || !s->password || !*s->password || !s->database || !s->username ||
		    !s->host || !s->port)
			return "a Secret without name, database, username, password, host or port";
		for (size_t j = 0; j < i; j++)
			if (!strcmp(out->items[j].name, s->name))
				return "a Secret name twice";
	}
	return NULL;
}

g3_rc g3_k8s_secrets_read(const char *path, g3_k8s_secrets *out, g3_err *err)
{
	struct secrets_parse p = { out, NULL, SEC_TOP, 0, 0 };
	FILE *f;
	char line[4096];
	long lineno = 0, why_line = 0;
	const char *why = NULL;
	g3_rc rc = G3_OK;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return G3_OK;
		return g3_err_set(err, G3_USAGE, "could not read secrets file \"%s\": %s", path,
				  strerror(errno));
	}
	while (!why && fgets(line, sizeof(line), f)) {
		char *key, *value;
		size_t len = strlen(line);
		int item;

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			why = "line too long";
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[strspn(line, " ")] || line[strspn(line, " ")] == '#')
			continue;
		if (split_line(line, &item, &key, &value))
			why = "expected \"key: value\"";
		else
			why = secrets_line(&p, key, value, item);
	}
	explicit_bzero(line, sizeof(line));
	if (!why && ferror(f)) {
		rc = g3_err_set(err, G3_USAGE, "could not read secrets file \"%s\": %s", path,
				strerror(errno));
		goto cleanup;
	}
	if (why)
		why_line = lineno;
	else
		why = secrets_check(out);
	if (why)
		rc = secrets_malformed(err, path, why_line, why);
cleanup:
	fclose(f);
	if (rc)
		g3_k8s_secrets_release(out);
	return rc;
}

g3_rc g3_k8s_secrets_merge_file(const char *path, const g3_k8s_secret *secrets, size_t n,
				g3_err *err)
{
	g3_k8s_secrets old;
	g3_k8s_secret *all = NULL;
	size_t k = 0;
	g3_rc rc;

	if (!strcmp(path, "-"))
		return g3_k8s_secrets_write_file(path, secrets, n, err);
	if ((rc = g3_k8s_secrets_read(path, &old, err)))
		return rc;
	all = g3_xcalloc(old.n + n + 1, sizeof(*all));
	/* the file's order, each replaced where a new one has its name */
	for (size_t i = 0; i < old.n; i++) {
		all[k] = old.items[i];
		for (size_t j = 0; j < n; j++)
			if (!strcmp(secrets[j].name, old.items[i].name))
				all[k] = secrets[j];
		k++;
	}
	for (size_t j = 0; j < n; j++) {
		int known = 0;

		for (size_t i = 0; i < old.n; i++)
			known |= !strcmp(secrets[j].name, old.items[i].name);
		if (!known)
			all[k++] = secrets[j];
	}
	rc = k ? g3_k8s_secrets_write_file(path, all, k, err) : G3_OK;
	free(all);
	g3_k8s_secrets_release(&old);
	return rc;
}
