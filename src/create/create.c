/*
 * gen3db create: options in, g3_provision() per service, report out.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../commands.h"
#include "../common/gen3/k8s.h"
#include "../common/base/log.h"
#include "../common/base/opts.h"
#include "../common/pg/pg.h"
#include "../common/pg/provision.h"
#include "../common/gen3/secret.h"
#include "../common/base/strbuf.h"

struct create_opts {
	const char *master_url;
	long wait;
	const char *database;
	const char *username;
	const char *password_file;
	char **services;
	size_t n_services;
	const char *release;
	const char *config;
	char **extensions;
	size_t n_extensions;
	int reset_password;
	int require_extension;
	int dry_run;
	const char *secret_out;
	const char *host_for_secret;
	int patch_secret;
	const char *secret_name;
	g3_helm_env helm;       /* SERVICE_PGDB, SERVICE_PGUSER, SERVICE_PGPASS */
	json_object *config_json;  /* --config's, holding the values it set */
};

#define CO struct create_opts

static const g3_opt create_rows[] = {
	G3_ROWS_MASTER(CO, master_url, wait, "Master connection",
		       "postgresql://user@host:port/db (no password:\n"
		       "give it in PGPASSWORD or PGPASSFILE)", "the server"),
	G3_ROW_NOTE("\nOne service (else SERVICE_PGDB, SERVICE_PGUSER, SERVICE_PGPASS, as the\n"
		    "gen3-helm job sets them):\n"),
	G3_ROW_STR("database", 0, CO, database, "database", "NAME", "database to provision"),
	G3_ROW_STR("username", 0, CO, username, "username", "NAME", "role to provision"),
	G3_ROW_STR("password-file", 0, CO, password_file, "password_file", "FILE",
		   "the role's password (first line)"),
	G3_ROW_NOTE("\nMany services:\n"),
	G3_ROW_LIST("service", 0, CO, services, n_services, "services", "NAME",
		    "repeatable; database and role <NAME>_<release>"),
	G3_ROW_STR("release", 0, CO, release, "release", "NAME", "(default \"gen3\")"),
	G3_ROW_STR("config", 0, CO, config, "config", "FILE",
		   "JSON: {\"master\": URL, \"release\": NAME,\n"
		   "\"services\": [{\"name\", \"database\", \"username\",\n"
		   "\"password_file\", \"extensions\"}]}"),
	G3_ROW_NOTE("  Services without a password get a generated one (32 random letters and\n"
		    "  digits); write it somewhere with --secret-out.\n\n"),
	G3_ROW_LIST("extension", 0, CO, extensions, n_extensions, "extensions", "NAME",
		    "repeatable; replaces the default ltree, vector"),
	G3_ROW_FLAG("require-extension", 0, CO, require_extension, "require_extension",
		    "a missing extension fails (default: a warning)"),
	G3_ROW_FLAG("reset-password", 0, CO, reset_password, "reset_password",
		    "set the password of a role that exists"),
	G3_ROW_FLAG("dry-run", 0, CO, dry_run, "dry_run",
		    "print the SQL it would run, passwords masked"),
	G3_ROW_STR("secret-out", 0, CO, secret_out, "secret_out", "FILE|-",
		   "write Kubernetes Secrets <service>-dbcreds\n"
		   "(database, username, password, host, port,\n"
		   "dbcreated) for the services that succeeded"),
	G3_ROW_STR("host-for-secret", 0, CO, host_for_secret, "host_for_secret", "HOST",
		   "host written in the Secrets (default: the\n"
		   "host gen3db connected to)"),
	G3_ROW_FLAG("patch-secret", 0, CO, patch_secret, "patch_secret",
		    "in a Kubernetes pod, add dbcreated: \"true\" to\n"
		    "Secret <service>-dbcreds through the API once\n"
		    "the service's login is verified (the pod's\n"
		    "service account needs \"patch\" on secrets)"),
	G3_ROW_STR("secret-name", 0, CO, secret_name, "secret_name", "NAME",
		   "the Secret --patch-secret patches, for one\n"
		   "service given by --database or SERVICE_PGDB"),
};

const g3_cmd_spec cmd_create_spec =
	G3_CMD_SPEC_ROWS("create", create_rows, 'h', G3_BAD_HINT, NULL, offsetof(CO, helm),
	"usage: gen3db create [options]\n"
	"\n"
	"Provision PostgreSQL databases for Gen3 services, idempotently: a LOGIN\n"
	"role, a database it owns, all privileges on it and on schema public,\n"
	"default privileges, extensions, and a login check as the service user.\n"
	"\n",
	"\n"
	"exit codes: 0 all services ready, 1 a service failed, 2 usage or bad\n"
	"input (nothing was changed), 3 the server was unreachable within --wait\n");

struct plan {
	g3_service *svcs;
	size_t n;
	char *master_url;  /* from --master or the config */
	char *release;
};

static g3_service *plan_add(struct plan *p)
{
	g3_service *s;

	p->svcs = g3_xrealloc(p->svcs, (p->n + 1) * sizeof(*p->svcs));
	s = &p->svcs[p->n++];
	g3_service_init(s);
	return s;
}

static void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		g3_service_release(&p->svcs[i]);
	free(p->svcs);
	free(p->master_url);
	free(p->release);
	memset(p, 0, sizeof(*p));
}

static char *release_name(const char *service, const char *release)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_addf(&b, "%s_%s", service, release);
	return g3_buf_detach(&b);
}

static int listed(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

static g3_rc config_string(json_object *o, const char *key, const char *file,
			   const char **out, g3_err *err)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return G3_OK;
	if (!json_object_is_type(v, json_type_string))
		return g3_err_set(err, G3_USAGE, "%s: \"%s\" must be a string", file, key);
	*out = json_object_get_string(v);
	return G3_OK;
}

/* The config's top-level keys that are options too: set through their
 * rows, the command line winning. */
static const char *const config_options[] = { "master", "release", NULL };

static g3_rc load_config(struct create_opts *o, struct plan *p, g3_err *err)
{
	json_object *root = json_object_from_file(o->config);
	json_object *services;
	const char *s;
	g3_rc rc = G3_OK;

	if (!root)
		return g3_err_set(err, G3_USAGE, "could not read config file \"%s\": %s",
				  o->config, json_util_get_last_err());
	o->config_json = root;  /* the options point into it */
	if (!json_object_is_type(root, json_type_object))
		return g3_err_set(err, G3_USAGE, "config file \"%s\" is not a JSON object", o->config);
	for (const char *const *k = config_options; *k; k++) {
		if ((rc = config_string(root, *k, o->config, &s, err)))
			return rc;
		if (s && (rc = g3_opts_set(&cmd_create_spec, o, *k, s, err)))
			return rc;
	}
	p->release = g3_xstrdup(o->release ? o->release : "gen3");
	if (!json_object_object_get_ex(root, "services", &services) ||
	    !json_object_is_type(services, json_type_array) ||
	    json_object_array_length(services) == 0)
		return g3_err_set(err, G3_USAGE, "config file \"%s\" has no \"services\" list",
				  o->config);
	for (size_t i = 0; i < json_object_array_length(services); i++) {
		json_object *e = json_object_array_get_idx(services, i);
		json_object *exts;
		const char *name = NULL, *db, *user, *pwfile;
		g3_service *svc;

		if (json_object_is_type(e, json_type_string)) {
			name = json_object_get_string(e);
			e = NULL;
		} else if (json_object_is_type(e, json_type_object)) {
			if ((rc = config_string(e, "name", o->config, &name, err)))
				return rc;
		}
		if (!name || !*name)
			return g3_err_set(err, G3_USAGE, "config file \"%s\": service %zu has no name",
					  o->config, i + 1);
		if (o->n_services && !listed(o->services, o->n_services, name))
			continue;
		svc = plan_add(p);
		svc->name = g3_xstrdup(name);
		if (e) {
			if ((rc = config_string(e, "database", o->config, &db, err)) ||
			    (rc = config_string(e, "username", o->config, &user, err)) ||
			    (rc = config_string(e, "password_file", o->config, &pwfile, err)))
				return rc;
			if (db)
				svc->database = g3_xstrdup(db);
			if (user)
				svc->username = g3_xstrdup(user);
			if (pwfile && (rc = g3_secret_read_file(pwfile, &svc->password, err)))
				return rc;
			if (json_object_object_get_ex(e, "extensions", &exts)) {
				if (!json_object_is_type(exts, json_type_array))
					return g3_err_set(err, G3_USAGE,
							  "config file \"%s\": \"extensions\" of service \"%s\" must be a list",
							  o->config, name);
				svc->extensions = g3_xcalloc(1, sizeof(char *));
				for (size_t k = 0; k < json_object_array_length(exts); k++)
					g3_service_add_extension(svc, json_object_get_string(
						json_object_array_get_idx(exts, k)));
			}
		}
		if (!svc->database)
			svc->database = release_name(name, p->release);
		if (!svc->username)
			svc->username = release_name(name, p->release);
	}
	for (size_t i = 0; i < o->n_services; i++) {
		int found = 0;

		for (size_t k = 0; k < p->n; k++)
			found |= !strcmp(p->svcs[k].name, o->services[i]);
		if (!found)
			return g3_err_set(err, G3_USAGE, "service \"%s\" is not in config file \"%s\"",
					  o->services[i], o->config);
	}
	return G3_OK;
}

static g3_rc build_plan(struct create_opts *o, struct plan *p, g3_err *err)
{
	g3_rc rc;

	if (o->config) {
		if (o->database || o->username || o->password_file)
			return g3_err_set(err, G3_USAGE,
					  "--config does not go with --database, --username or --password-file");
		if ((rc = load_config(o, p, err)))
			return rc;
	} else if (o->n_services) {
		if (o->database || o->username || o->password_file)
			return g3_err_set(err, G3_USAGE,
					  "--service does not go with --database, --username or --password-file");
		p->release = g3_xstrdup(o->release ? o->release : "gen3");
		for (size_t i = 0; i < o->n_services; i++) {
			g3_service *svc = plan_add(p);

			svc->name = g3_xstrdup(o->services[i]);
			svc->database = release_name(o->services[i], p->release);
			svc->username = g3_xstrdup(svc->database);
		}
	} else {
		const char *db = o->database ? o->database : o->helm.pgdb;
		const char *user = o->username ? o->username : o->helm.pguser;
		g3_service *svc;

		if (!db || !user)
			return g3_err_set(err, G3_USAGE,
					  "nothing to create: give --service, --config, or "
					  "--database and --username (or SERVICE_PGDB and SERVICE_PGUSER)");
		svc = plan_add(p);
		svc->name = g3_xstrdup(db);
		svc->database = g3_xstrdup(db);
		svc->username = g3_xstrdup(user);
		if (o->password_file) {
			if ((rc = g3_secret_read_file(o->password_file, &svc->password, err)))
				return rc;
		} else if (o->helm.pgpass) {
			svc->password = g3_xstrdup(o->helm.pgpass);
		}
	}
	if (o->master_url)
		p->master_url = g3_xstrdup(o->master_url);
	for (size_t i = 0; i < p->n; i++) {
		g3_service *svc = &p->svcs[i];

		if ((rc = g3_pg_check_name("database", svc->database, err)) ||
		    (rc = g3_pg_check_name("role", svc->username, err)))
			return rc;
		if (o->n_extensions) {
			for (size_t k = 0; k < svc->n_extensions; k++)
				free(svc->extensions[k]);
			free(svc->extensions);
			svc->extensions = NULL;
			svc->n_extensions = 0;
			for (size_t k = 0; k < o->n_extensions; k++)
				g3_service_add_extension(svc, o->extensions[k]);
		}
		if (!svc->password && o->secret_out && strcmp(o->secret_out, "-")) {
			/* a re-run with the same --secret-out keeps the passwords
			 * it generated and recorded before */
			g3_buf name = G3_BUF_INIT;

			g3_buf_addf(&name, "%s-dbcreds", svc->name);
			rc = g3_k8s_secret_password(o->secret_out, name.data, &svc->password, err);
			g3_buf_release(&name);
			if (rc)
				return rc;
		}
		if (!svc->password) {
			if ((rc = g3_secret_generate(G3_SECRET_GENERATED_LEN, &svc->password, err)))
				return rc;
			svc->password_generated = 1;
		}
	}
	return G3_OK;
}

static g3_rc check_secret_file(const char *path, g3_err *err)
{
	g3_k8s_secrets old;
	g3_rc rc;

	if (!strcmp(path, "-"))
		return G3_OK;
	rc = g3_k8s_secrets_read(path, &old, err);
	g3_k8s_secrets_release(&old);
	return rc;
}

/* Kubernetes object names: lowercase letters, digits, '-' and '.', starting
 * and ending with a letter or digit, at most 253 characters. */
static int k8s_name_ok(const char *s)
{
	return g3_k8s_name_fits(s, 253 - strlen("-dbcreds"));
}

static g3_rc write_secrets(const struct create_opts *o, const struct plan *p,
			   const int *ok, const g3_pgconf *conf, g3_err *err)
{
	g3_k8s_secret *secrets = g3_xcalloc(p->n, sizeof(*secrets));
	char **names = g3_xcalloc(p->n, sizeof(char *));
	char host[256], port[32];
	size_t n = 0;
	g3_rc rc = G3_OK;

	if (o->host_for_secret)
		snprintf(host, sizeof(host), "%s", o->host_for_secret);
	else if (!g3_pgconf_effective(conf, "host", host, sizeof(host)))
		snprintf(host, sizeof(host), "%s", "localhost");
	if (!g3_pgconf_effective(conf, "port", port, sizeof(port)))
		snprintf(port, sizeof(port), "%s", "5432");
	for (size_t i = 0; i < p->n; i++) {
		g3_buf b = G3_BUF_INIT;

		if (!ok[i])
			continue;
		g3_buf_addf(&b, "%s-dbcreds", p->svcs[i].name);
		names[n] = g3_buf_detach(&b);
		secrets[n].name = names[n];
		secrets[n].database = p->svcs[i].database;
		secrets[n].username = p->svcs[i].username;
		secrets[n].password = p->svcs[i].password;
		secrets[n].host = host;
		secrets[n].port = port;
		secrets[n].dbcreated = 1;
		n++;
	}
	if (!n)
		goto cleanup;
	rc = g3_k8s_secrets_merge_file(o->secret_out, secrets, n, err);
cleanup:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(secrets);
	return rc;
}

/* The Secret --patch-secret patches for each service: --secret-name for a
 * single service, else <service>-dbcreds as the gen3-helm charts name it.
 * Checked before any I/O. */
static g3_rc patch_names(const struct create_opts *o, const struct plan *p,
			 char ***out, g3_err *err)
{
	char **names = g3_xcalloc(p->n ? p->n : 1, sizeof(char *));

	*out = names;
	if (o->secret_name) {
		if (p->n != 1)
			return g3_err_set(err, G3_USAGE, "--secret-name names the Secret of one "
					  "service, not of %zu", p->n);
		if (!g3_k8s_name_ok(o->secret_name))
			return g3_err_set(err, G3_USAGE, "\"%s\" cannot name a Kubernetes Secret "
					  "(lowercase letters, digits, '-' and '.')", o->secret_name);
		names[0] = g3_xstrdup(o->secret_name);
		return G3_OK;
	}
	for (size_t i = 0; i < p->n; i++) {
		g3_buf b = G3_BUF_INIT;
		g3_rc rc;

		g3_buf_addf(&b, "%s-dbcreds", p->svcs[i].name);
		names[i] = g3_buf_detach(&b);
		if (!g3_k8s_name_ok(names[i])) {
			rc = g3_err_set(err, G3_USAGE, "service name \"%s\" cannot name a Kubernetes "
					"Secret (lowercase letters, digits, '-' and '.')",
					p->svcs[i].name);
			g3_err_hint(err, "give the Secret's name with --secret-name, e.g. "
				    "--secret-name fence-dbcreds");
			return rc;
		}
	}
	return G3_OK;
}

static g3_rc patch_secret(const g3_k8s_client *k8s, const g3_service *svc,
			  const g3_prov_result *res, const char *name, g3_err *err)
{
	const char *fields[7];
	g3_buf b = G3_BUF_INIT;
	g3_rc rc;

	/* the pods start once dbcreated is there: only after the service
	 * user was seen to log in and create a table */
	if (!res->verified)
		return g3_err_set(err, G3_FAIL, "the login of \"%s\" was not verified; "
				  "not patching secret \"%s\"", svc->username, name);
	if ((rc = g3_k8s_mark_dbcreated(k8s, name, err)))
		return rc;
	g3_buf_addf(&b, "%s: patched secret \"%s\" in namespace \"%s\" (dbcreated)",
		    svc->name, name, k8s->namespace);
	fields[0] = "service";
	fields[1] = svc->name;
	fields[2] = "secret";
	fields[3] = name;
	fields[4] = "namespace";
	fields[5] = k8s->namespace;
	fields[6] = NULL;
	g3_log_event(G3_LOG_INFO, "secret_patched", b.data, fields);
	g3_buf_release(&b);
	return G3_OK;
}

static void report(const g3_service *svc, const g3_prov_result *r)
{
	g3_buf b = G3_BUF_INIT;
	const char *fields[9];

	if (r->role_created || r->db_created || r->password_set || r->ext_created[0]) {
		g3_buf_addf(&b, "%s: created", svc->name);
		if (r->role_created)
			g3_buf_addf(&b, " role \"%s\"", svc->username);
		if (r->password_set)
			g3_buf_addf(&b, "%s password of role \"%s\"",
				    r->role_created ? "," : "", svc->username);
		if (r->db_created)
			g3_buf_addf(&b, "%s database \"%s\"",
				    r->role_created || r->password_set ? "," : "", svc->database);
		if (r->ext_created[0])
			g3_buf_addf(&b, "%s extensions %s",
				    r->role_created || r->db_created || r->password_set ? "," : "",
				    r->ext_created);
	} else {
		g3_buf_addf(&b, "%s: already present (database \"%s\", role \"%s\")",
			    svc->name, svc->database, svc->username);
	}
	if (r->verified)
		g3_buf_adds(&b, "; login verified");
	fields[0] = "service";
	fields[1] = svc->name;
	fields[2] = "database";
	fields[3] = svc->database;
	fields[4] = "role";
	fields[5] = svc->username;
	fields[6] = "status";
	fields[7] = (r->role_created || r->db_created) ? "created" : "present";
	fields[8] = NULL;
	g3_log_event(G3_LOG_INFO, "service_ready", b.data, fields);
	g3_buf_release(&b);
}

/* The checks of the plan against the options, before any I/O. */
static g3_rc check_plan(const struct create_opts *o, const struct plan *p, g3_err *err)
{
	g3_rc rc;

	if (o->secret_out) {
		for (size_t i = 0; i < p->n; i++)
			if (!k8s_name_ok(p->svcs[i].name))
				return g3_err_set(err, G3_USAGE,
						  "service name \"%s\" cannot name a Kubernetes Secret "
						  "(lowercase letters, digits, '-' and '.')",
						  p->svcs[i].name);
	} else if (!o->dry_run) {
		for (size_t i = 0; i < p->n; i++) {
			if (p->svcs[i].password_generated) {
				rc = g3_err_set(err, G3_USAGE,
						"service \"%s\" has no password and a generated one would be lost",
						p->svcs[i].name);
				g3_err_hint(err, "give --secret-out FILE to record generated passwords, "
					    "or the password with --password-file or SERVICE_PGPASS");
				return rc;
			}
		}
	}
	if (o->secret_name && !o->patch_secret)
		return g3_err_set(err, G3_USAGE, "--secret-name goes with --patch-secret");
	return G3_OK;
}

int cmd_create(int argc, char **argv)
{
	struct create_opts o;
	struct plan plan;
	g3_pgconf conf;
	g3_err err;
	PGconn *master = NULL;
	g3_k8s_client k8s;
	char **names = NULL;
	int *ok = NULL;
	g3_rc rc = G3_OK, worst = G3_OK;
	int args = 0, done = 0;

	memset(&o, 0, sizeof(o));
	memset(&plan, 0, sizeof(plan));
	memset(&k8s, 0, sizeof(k8s));
	g3_pgconf_init(&conf);
	g3_err_init(&err);
	o.wait = 300;
	if ((rc = g3_opts_parse(&cmd_create_spec, &o, argc, argv, &args, &done, &err)) || done)
		goto cleanup;
	if (args < argc) {
		rc = g3_err_set(&err, G3_USAGE, "unexpected argument \"%s\"", argv[args]);
		goto cleanup;
	}
	/* the Secrets of other services in --secret-out are kept: a file that
	 * cannot be merged into stops the run before anything is created */
	if (o.secret_out && !o.dry_run && (rc = check_secret_file(o.secret_out, &err)))
		goto cleanup;
	if ((rc = build_plan(&o, &plan, &err)) || (rc = check_plan(&o, &plan, &err)))
		goto cleanup;
	if (o.patch_secret &&
	    ((rc = patch_names(&o, &plan, &names, &err)) ||
	     (rc = g3_k8s_client_init(&k8s, &err))))
		goto cleanup;
	if ((rc = g3_pgconf_master(&conf, plan.master_url, &err)))
		goto cleanup;
	if ((rc = g3_pg_connect(&conf, (int)o.wait, &master, &err)))
		goto cleanup;
	/* every service is checked before the first is touched */
	for (size_t i = 0; i < plan.n; i++)
		if ((rc = g3_target_guard_conn(master, plan.svcs[i].database,
					       plan.svcs[i].username, &err)))
			goto cleanup;

	ok = g3_xcalloc(plan.n, sizeof(int));
	for (size_t i = 0; i < plan.n; i++) {
		g3_prov_opts po = { 0 };
		g3_prov_result res;
		g3_err serr;
		g3_rc src;

		po.reset_password = o.reset_password;
		po.require_extensions = o.require_extension;
		po.dry_run = o.dry_run;
		po.dry_out = stdout;
		g3_err_init(&serr);
		src = g3_provision(master, &conf, &plan.svcs[i], &po, &res, &serr);
		if (!src && PQstatus(master) != CONNECTION_OK)
			src = g3_err_set(&serr, G3_FAIL, "lost the master connection");
		if (src) {
			/* one service failing does not stop the others */
			g3_err_prefix(&serr, "%s: failed", plan.svcs[i].name);
			g3_log_err(&serr);
			worst = worst == G3_OK || worst == src ? src : G3_FAIL;
			continue;
		}
		ok[i] = 1;
		if (o.dry_run)
			continue;
		report(&plan.svcs[i], &res);
		if (o.patch_secret &&
		    (src = patch_secret(&k8s, &plan.svcs[i], &res, names[i], &serr))) {
			/* the database is there (and --secret-out still records
			 * its password), but the pods were not told */
			g3_err_prefix(&serr, "%s: failed", plan.svcs[i].name);
			g3_log_err(&serr);
			worst = worst == G3_OK || worst == src ? src : G3_FAIL;
		}
	}
	if (o.secret_out && !o.dry_run &&
	    (rc = write_secrets(&o, &plan, ok, &conf, &err)))
		goto cleanup;
	rc = worst;
	err.msg[0] = '\0';
cleanup:
	if (rc && err.msg[0])
		g3_log_err(&err);
	PQfinish(master);
	g3_k8s_client_release(&k8s);
	if (names)
		g3_strlist_free(names, plan.n ? plan.n : 1);
	free(ok);
	plan_release(&plan);
	g3_pgconf_release(&conf);
	g3_strlist_free(o.services, o.n_services);
	g3_strlist_free(o.extensions, o.n_extensions);
	json_object_put(o.config_json);
	return g3_exit_code(rc);
}
