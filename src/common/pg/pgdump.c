#include "pgdump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../base/opts.h"
#include "pg.h"
#include "../base/strbuf.h"

extern char **environ;

static const char *pg_dump_program(void)
{
	const char *p = g3_env("GEN3DB_PG_DUMP");

	return p ? p : "pg_dump";
}

/* key='value' with ' and \ escaped, as libpq's conninfo wants */
static void conninfo_add(g3_buf *b, const char *key, const char *value)
{
	if (b->len)
		g3_buf_addch(b, ' ');
	g3_buf_addf(b, "%s='", key);
	for (const char *p = value; *p; p++) {
		if (*p == '\'' || *p == '\\')
			g3_buf_addch(b, '\\');
		g3_buf_addch(b, *p);
	}
	g3_buf_addch(b, '\'');
}

/* The child's environment: ours, with PGPASSWORD set when conf holds a
 * password. Built before fork (setenv is not safe after it). */
static char **child_env(const g3_pgconf *conf, char **pw_entry)
{
	const char *pw = g3_pgconf_get(conf, "password");
	size_t n = 0, k = 0;
	char **env;

	*pw_entry = NULL;
	while (environ[n])
		n++;
	env = g3_xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (!pw || strncmp(environ[i], "PGPASSWORD=", 11))
			env[k++] = environ[i];
	if (pw) {
		g3_buf b = G3_BUF_INIT;

		g3_buf_addf(&b, "PGPASSWORD=%s", pw);
		*pw_entry = g3_buf_detach(&b);
		env[k++] = *pw_entry;
	}
	env[k] = NULL;
	return env;
}

/* Runs argv with stdout into a pipe; each output line goes through the
 * filter to out. stderr is kept (bounded) for the message. */
static g3_rc run(char *const *argv, char **env, FILE *out, g3_buf *errtext,
		 int *status, g3_err *err)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	FILE *in = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	pid_t pid;
	g3_rc rc = G3_OK;
	char ebuf[4096];

	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		rc = g3_err_set(err, G3_FAIL, "could not create a pipe: %s", strerror(errno));
		goto cleanup;
	}
	pid = fork();
	if (pid < 0) {
		rc = g3_err_set(err, G3_FAIL, "could not start \"%s\": %s", argv[0], strerror(errno));
		goto cleanup;
	}
	if (pid == 0) {
		dup2(outp[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		execvpe(argv[0], argv, env);
		_exit(127);
	}
	close(outp[1]);
	outp[1] = -1;
	close(errp[1]);
	errp[1] = -1;
	in = fdopen(outp[0], "r");
	outp[0] = -1;
	while ((n = getline(&line, &cap, in)) > 0) {
		if (line[0] == '\\')
			continue;  /* psql meta-command (\restrict, \unrestrict, \connect) */
		if (out && fwrite(line, 1, (size_t)n, out) != (size_t)n && !rc)
			rc = g3_err_set(err, G3_FAIL, "could not write a temporary file: %s",
					strerror(errno));
	}
	/* pg_dump writes little on stderr: read it after stdout closed */
	while ((n = read(errp[0], ebuf, sizeof(ebuf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && errtext->len < 65536)
			g3_buf_add(errtext, ebuf, (size_t)n);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			rc = g3_err_set(err, G3_FAIL, "could not wait for \"%s\": %s", argv[0],
					strerror(errno));
			break;
		}
	}
cleanup:
	if (in)
		fclose(in);
	free(line);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return rc;
}

g3_rc g3_pgdump_section(const g3_pgconf *conf, const char *dbname,
			const char *section, const char *snapshot,
			char *const *extra, size_t n_extra, FILE *out, g3_err *err)
{
	g3_buf conninfo = G3_BUF_INIT, sect = G3_BUF_INIT, snap = G3_BUF_INIT;
	g3_buf errtext = G3_BUF_INIT;
	char **env = NULL, *pw = NULL;
	char **argv = g3_xcalloc(n_extra + 10, sizeof(char *));
	int status = 0;
	g3_rc rc;

	for (int i = 0; i < conf->n; i++)
		if (strcmp(conf->keys[i], "password") && strcmp(conf->keys[i], "dbname"))
			conninfo_add(&conninfo, conf->keys[i], conf->values[i]);
	conninfo_add(&conninfo, "dbname", dbname);
	g3_buf_addf(&sect, "--section=%s", section);
	g3_buf_addf(&snap, "--snapshot=%s", snapshot);
	argv[0] = (char *)pg_dump_program();
	argv[1] = sect.data;
	argv[2] = "--no-owner";
	argv[3] = "--no-privileges";
	argv[4] = snap.data;
	argv[5] = "--format=plain";
	argv[6] = "--dbname";
	argv[7] = conninfo.data;
	for (size_t i = 0; i < n_extra; i++)
		argv[8 + i] = extra[i];
	env = child_env(conf, &pw);
	rc = run(argv, env, out, &errtext, &status, err);
	if (!rc && WIFEXITED(status) && WEXITSTATUS(status) == 127 && !strstr(errtext.data ? errtext.data : "", "pg_dump")) {
		rc = g3_err_set(err, G3_FAIL, "could not run \"%s\"", argv[0]);
		g3_err_hint(err, "install PostgreSQL's client tools or set GEN3DB_PG_DUMP");
	} else if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char why[700];

		g3_pg_tool_error(&errtext, NULL, why, sizeof(why));
		rc = g3_err_set(err, G3_FAIL, "pg_dump --section=%s of database \"%s\" failed: %s",
				section, dbname, why[0] ? why : "no message");
	}
	if (pw) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	free(env);
	free(argv);
	g3_buf_release(&conninfo);
	g3_buf_release(&sect);
	g3_buf_release(&snap);
	g3_buf_release(&errtext);
	return rc;
}

/* pg_dump --version's output into out. */
static g3_rc version_run(FILE *out, g3_err *err)
{
	char *argv[] = { (char *)pg_dump_program(), "--version", NULL };
	g3_buf errtext = G3_BUF_INIT;
	int status = 0;
	g3_rc rc = run(argv, environ, out, &errtext, &status, err);

	if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		rc = g3_err_set(err, G3_FAIL, "could not run \"%s\"", argv[0]);
		g3_err_hint(err, "install PostgreSQL's client tools or set GEN3DB_PG_DUMP");
	}
	g3_buf_release(&errtext);
	return rc;
}

static void *section_main(void *arg)
{
	g3_pgdump_job *j = arg;

	j->rc = j->section ? g3_pgdump_section(j->conf, j->dbname, j->section, j->snapshot,
					       j->extra, j->n_extra, j->out, &j->err) :
		 version_run(j->out, &j->err);
	return NULL;
}

g3_rc g3_pgdump_section_start(g3_pgdump_job *j, g3_err *err)
{
	g3_err_init(&j->err);
	j->rc = G3_OK;
	j->out = tmpfile();
	if (!j->out)
		return g3_err_set(err, G3_FAIL, "could not create a temporary file: %s",
				  strerror(errno));
	if (pthread_create(&j->thread, NULL, section_main, j)) {
		fclose(j->out);
		j->out = NULL;
		return g3_err_set(err, G3_FAIL, "could not start a thread for pg_dump %s",
				  j->section ? j->section : "--version");
	}
	j->started = 1;
	return G3_OK;
}

static void section_join(g3_pgdump_job *j)
{
	if (j->started) {
		pthread_join(j->thread, NULL);
		j->started = 0;
	}
}

g3_rc g3_pgdump_section_wait(g3_pgdump_job *j, FILE **out, long *size, g3_err *err)
{
	*out = NULL;
	section_join(j);
	if (!j->out)
		return g3_err_set(err, G3_FAIL, "pg_dump %s was not started",
				  j->section ? j->section : "--version");
	if (j->rc) {
		*err = j->err;
		fclose(j->out);
		j->out = NULL;
		return j->rc;
	}
	if (fflush(j->out) || (*size = ftell(j->out)) < 0) {
		fclose(j->out);
		j->out = NULL;
		return g3_err_set(err, G3_FAIL, "could not write a temporary file: %s",
				  strerror(errno));
	}
	rewind(j->out);
	*out = j->out;
	j->out = NULL;
	return G3_OK;
}

void g3_pgdump_section_abandon(g3_pgdump_job *j)
{
	section_join(j);
	if (j->out) {
		fclose(j->out);
		j->out = NULL;
	}
}

void g3_pgdump_version_read(FILE *f, char **out)
{
	char line[512] = "";

	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	*out = g3_xstrdup(line);
}
