/*
 * pg_dump's archive formats through pg_restore: see pgarchive.h.
 */
#include "pgarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../base/opts.h"
#include "pg.h"
#include "../base/strbuf.h"

#define VERS(a, b, c) (((a) * 256 + (b)) * 256 + (c))

/* ---- the header -------------------------------------------------------- */

struct cursor {
	const unsigned char *p, *end;
	int intsize;
	int ok;
};

static int get_byte(struct cursor *c)
{
	if (c->p >= c->end) {
		c->ok = 0;
		return 0;
	}
	return *c->p++;
}

/* pg_dump's ReadInt: a sign byte, then intsize bytes, least significant
 * first. */
static long long get_int(struct cursor *c)
{
	int sign = get_byte(c);
	unsigned long long v = 0;

	for (int i = 0; i < c->intsize; i++) {
		unsigned long long b = (unsigned long long)get_byte(c);

		if (i < 8)
			v |= b << (8 * i);
	}
	return sign ? -(long long)v : (long long)v;
}

/* ReadStr: a length (-1: no string) and its bytes, kept printable. */
static void get_str(struct cursor *c, char *out, size_t size)
{
	long long n = get_int(c);
	size_t o = 0;

	out[0] = '\0';
	if (!c->ok || n < 0)
		return;
	if (n > c->end - c->p) {
		c->ok = 0;
		return;
	}
	for (long long i = 0; i < n; i++) {
		unsigned char ch = c->p[i];

		if (o + 1 < size)
			out[o++] = ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\' ? '?' : (char)ch;
	}
	out[o] = '\0';
	c->p += n;
}

int g3_pgarch_head_parse(const void *buf, size_t len, g3_pgarch_head *h, char *why,
			 size_t whysize)
{
	struct cursor c = { (const unsigned char *)buf, (const unsigned char *)buf + len, 4, 1 };
	int v;

	memset(h, 0, sizeof(*h));
	if (whysize)
		why[0] = '\0';
	if (len < 5 || memcmp(buf, "PGDMP", 5))
		return 0;
	c.p += 5;
	h->vmaj = get_byte(&c);
	h->vmin = get_byte(&c);
	if (h->vmaj > 1 || (h->vmaj == 1 && h->vmin > 0))
		h->vrev = get_byte(&c);
	v = VERS(h->vmaj, h->vmin, h->vrev);
	if (c.ok && (h->vmaj != 1)) {
		snprintf(why, whysize, "unknown archive version %d.%d", h->vmaj, h->vmin);
		return -1;
	}
	c.intsize = get_byte(&c);
	if (c.ok && (c.intsize < 1 || c.intsize > 32)) {
		snprintf(why, whysize, "integer size %d in the header", c.intsize);
		return -1;
	}
	if (v >= VERS(1, 7, 0))
		(void)get_byte(&c);   /* offset size */
	h->format = get_byte(&c);
	if (v >= VERS(1, 15, 0))
		h->compression = get_byte(&c);
	else if (v >= VERS(1, 2, 0))
		h->compression = (int)get_int(&c);
	if (v >= VERS(1, 4, 0)) {
		long long t[7];

		for (int i = 0; i < 7; i++)
			t[i] = get_int(&c);
		if (c.ok && t[5] >= 0 && t[5] < 10000 && t[4] >= 0 && t[4] < 12 && t[3] > 0 &&
		    t[3] <= 31 && t[2] >= 0 && t[2] < 24 && t[1] >= 0 && t[1] < 60 && t[0] >= 0 &&
		    t[0] <= 61)
			snprintf(h->created, sizeof(h->created), "%04lld-%02lld-%02lld %02lld:%02lld:%02lld",
				 t[5] + 1900, t[4] + 1, t[3], t[2], t[1], t[0]);
		get_str(&c, h->database, sizeof(h->database));
	}
	if (v >= VERS(1, 10, 0)) {
		get_str(&c, h->server_version, sizeof(h->server_version));
		get_str(&c, h->pg_dump_version, sizeof(h->pg_dump_version));
	}
	if (!c.ok) {
		snprintf(why, whysize, "its header is cut short");
		return -1;
	}
	return 1;
}

const char *g3_pgarch_format_name(int format)
{
	switch (format) {
	case G3_PGARCH_CUSTOM: return "custom";
	case G3_PGARCH_TAR: return "tar";
	case G3_PGARCH_DIRECTORY: return "directory";
	default: return "unknown";
	}
}

void g3_pgarch_compression(const g3_pgarch_head *h, char *buf, size_t size)
{
	static const char *const algs[] = { "none", "gzip", "lz4", "zstd" };

	if (VERS(h->vmaj, h->vmin, h->vrev) >= VERS(1, 15, 0)) {
		if (h->compression >= 0 && h->compression < 4)
			snprintf(buf, size, "%s", algs[h->compression]);
		else
			snprintf(buf, size, "unknown (%d)", h->compression);
	} else if (h->compression == 0) {
		snprintf(buf, size, "none");
	} else if (h->compression < 0) {
		snprintf(buf, size, "gzip");
	} else {
		snprintf(buf, size, "gzip (level %d)", h->compression);
	}
}

/* The archive versions each pg_restore reads (pg_backup_archiver.h's
 * K_VERS_MAX of its release): 1.12 with 9.0, 1.13 with 11 (and 10.3),
 * 1.14 with 12, 1.15 with 16, 1.16 with 17. */
static const struct {
	int major;
	int max_minor;
} readers[] = { { 17, 16 }, { 16, 15 }, { 12, 14 }, { 11, 13 }, { 9, 12 } };

#define NEWEST_KNOWN_MAJOR 17
#define NEWEST_KNOWN_MINOR 16

int g3_pgarch_restore_major(const g3_pgarch_head *h)
{
	int need = 0;

	if (h->vmaj > 1 || (h->vmaj == 1 && h->vmin > NEWEST_KNOWN_MINOR))
		return NEWEST_KNOWN_MAJOR + 1;
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
		if (h->vmin <= readers[i].max_minor)
			need = readers[i].major;
	return need ? need : 9;
}

/* 1 when pg_restore major.minor reads h's archive. */
static int reads(int major, int minor, const g3_pgarch_head *h)
{
	int max = 12;

	if (major > NEWEST_KNOWN_MAJOR)
		return 1;   /* newer than this table: pg_restore says itself */
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		if (major >= readers[i].major) {
			max = readers[i].max_minor;
			break;
		}
	}
	if (major == 10 && minor >= 3)
		max = 13;
	return h->vmaj == 1 && h->vmin <= max;
}

void g3_pgarch_describe(const g3_pgarch_head *h, char *buf, size_t size)
{
	int o = snprintf(buf, size, "pg_dump %s archive (format %d.%d", g3_pgarch_format_name(h->format),
			 h->vmaj, h->vmin);

	if (o >= 0 && (size_t)o < size && h->server_version[0])
		o += snprintf(buf + o, size - (size_t)o, ", PostgreSQL %.*s",
			      (int)strcspn(h->server_version, " "), h->server_version);
	if (o >= 0 && (size_t)o < size && h->pg_dump_version[0])
		o += snprintf(buf + o, size - (size_t)o, ", pg_dump %.*s",
			      (int)strcspn(h->pg_dump_version, " "), h->pg_dump_version);
	if (o >= 0 && (size_t)o < size)
		snprintf(buf + o, size - (size_t)o, ")");
}

/* ---- the directory format ---------------------------------------------- */

int g3_pgarch_is_dir(const char *path)
{
	struct stat st;
	g3_buf p = G3_BUF_INIT;
	int yes;

	if (!path || !strcmp(path, "-") || strstr(path, "://") || stat(path, &st) ||
	    !S_ISDIR(st.st_mode))
		return 0;
	g3_buf_addf(&p, "%s/toc.dat", path);
	yes = !stat(p.data, &st) && S_ISREG(st.st_mode);
	g3_buf_release(&p);
	return yes;
}

g3_rc g3_pgarch_dir_head(const char *dir, g3_pgarch_head *h, g3_err *err)
{
	g3_buf p = G3_BUF_INIT;
	char buf[G3_PGARCH_HEAD_BYTES], why[128];
	size_t n = 0;
	ssize_t r;
	int fd;
	g3_rc rc = G3_OK;

	g3_buf_addf(&p, "%s/toc.dat", dir);
	fd = open(p.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = g3_err_set(err, G3_USAGE, "could not open \"%s\": %s", p.data, strerror(errno));
		goto cleanup;
	}
	while (n < sizeof(buf) && ((r = read(fd, buf + n, sizeof(buf) - n)) > 0 ||
				   (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	close(fd);
	switch (g3_pgarch_head_parse(buf, n, h, why, sizeof(why))) {
	case 1:
		/* pg_dump writes a directory's toc.dat as the tar format's */
		if (h->format != G3_PGARCH_TAR && h->format != G3_PGARCH_DIRECTORY)
			rc = g3_err_set(err, G3_USAGE, "\"%s\" is not a pg_dump directory archive: "
					"its toc.dat is of the %s format", dir,
					g3_pgarch_format_name(h->format));
		h->format = G3_PGARCH_DIRECTORY;
		break;
	case 0:
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is not a pg_dump directory archive: its "
				"toc.dat does not start with \"PGDMP\"", dir);
		break;
	default:
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is a damaged pg_dump directory archive: %s",
				dir, why);
	}
cleanup:
	g3_buf_release(&p);
	return rc;
}

/* ---- tar structure ------------------------------------------------------ */

void g3_tarwalk_init(g3_tarwalk *w)
{
	memset(w, 0, sizeof(*w));
}

/* A header's size field: octal digits (blanks and NULs around them), or
 * base-256 when its first byte's high bit is set (pg_dump's tar writer
 * uses both). -1 when it is neither. */
static int64_t tar_size(const unsigned char *f)
{
	uint64_t v = 0;
	int digits = 0;

	if (f[0] & 0x80) {
		for (int i = 1; i < 12; i++) {
			if (v >> 55)
				return -1;
			v = v << 8 | f[i];
		}
		return (int64_t)v;
	}
	for (int i = 0; i < 12; i++) {
		if (f[i] >= '0' && f[i] <= '7') {
			if (v >> 60)
				return -1;
			v = v * 8 + (uint64_t)(f[i] - '0');
			digits++;
		} else if (f[i] != ' ' && f[i] != '\0') {
			return -1;
		} else if (digits && f[i] == ' ') {
			break;
		}
	}
	return digits ? (int64_t)v : -1;
}

void g3_tarwalk_feed(g3_tarwalk *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len && !w->ended && !w->bad) {
		size_t take;
		int64_t size;
		int zero = 1;

		if (w->pos < w->next) {
			uint64_t skip = w->next - w->pos;

			take = skip < len ? (size_t)skip : len;
			p += take;
			len -= take;
			w->pos += take;
			continue;
		}
		take = sizeof(w->block) - w->blen < len ? sizeof(w->block) - w->blen : len;
		memcpy(w->block + w->blen, p, take);
		w->blen += take;
		p += take;
		len -= take;
		w->pos += take;
		if (w->blen < sizeof(w->block))
			break;
		w->blen = 0;
		for (size_t i = 0; i < sizeof(w->block) && zero; i++)
			zero = !w->block[i];
		if (zero) {
			w->ended = 1;
			break;
		}
		size = tar_size(w->block + 124);
		if (size < 0 || memcmp(w->block + 257, "ustar", 5)) {
			w->bad = 1;
			break;
		}
		w->next = w->pos + ((uint64_t)size + 511) / 512 * 512;
	}
	w->pos += len;
}

int g3_tarwalk_complete(const g3_tarwalk *w)
{
	return w->ended && !w->bad;
}

/* ---- finding pg_restore ---------------------------------------------- */

/* Runs "program --version" and reads its major and minor numbers; -1
 * when it does not run or says no version. */
static int program_version(const char *program, int *major, int *minor, char *line,
			   size_t lsize)
{
	char *const argv[] = { (char *)program, "--version", NULL };
	int fds[2], status = 0, devnull;
	char buf[512];
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	const char *p;

	if (access(program, X_OK))
		return -1;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -1;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		close(devnull);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		execv(program, argv);
		_exit(127);
	}
	close(fds[1]);
	close(devnull);
	while (pid > 0 && n + 1 < sizeof(buf) &&
	       ((r = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	close(fds[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(line, lsize, "%s", buf);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	/* "pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" */
	p = strstr(buf, ") ");
	p = p ? p + 2 : buf;
	while (*p && (*p < '0' || *p > '9'))
		p++;
	if (sscanf(p, "%d.%d", major, minor) < 1)
		return -1;
	if (!strchr(p, '.') || (size_t)(strchr(p, '.') - p) > 4)
		*minor = 0;
	return 0;
}

struct candidate {
	char *program;
	int major, minor;
};

static void consider(struct candidate *best, const char *program)
{
	int major = 0, minor = 0;
	char line[256];

	if (program_version(program, &major, &minor, line, sizeof(line)))
		return;
	if (!best->program || major > best->major || (major == best->major && minor > best->minor)) {
		free(best->program);
		best->program = g3_xstrdup(program);
		best->major = major;
		best->minor = minor;
	}
}

g3_rc g3_pgrestore_find(const g3_pgarch_head *h, const char *archive, char **program,
			char *version, size_t vsize, g3_err *err)
{
	const char *env = g3_env("GEN3DB_PG_RESTORE");
	struct candidate best = { NULL, 0, 0 };
	int need = g3_pgarch_restore_major(h);
	char what[256];
	g3_rc rc;

	*program = NULL;
	g3_pgarch_describe(h, what, sizeof(what));
	if (env && !strchr(env, '/')) {
		/* a bare name: the first on PATH */
		const char *path = g3_env("PATH");
		char *dirs = g3_xstrdup(path ? path : "/usr/bin:/bin");
		char *save = NULL;

		for (char *d = strtok_r(dirs, ":", &save); d && !best.program;
		     d = strtok_r(NULL, ":", &save)) {
			g3_buf p = G3_BUF_INIT;

			g3_buf_addf(&p, "%s/%s", *d ? d : ".", env);
			consider(&best, p.data);
			g3_buf_release(&p);
		}
		free(dirs);
		if (!best.program) {
			rc = g3_err_set(err, G3_USAGE, "no GEN3DB_PG_RESTORE \"%s\" on PATH; \"%s\" is "
					"a %s, which needs pg_restore %d or newer", env, archive, what,
					need);
			g3_err_hint(err, "set GEN3DB_PG_RESTORE to PostgreSQL %d's (or a newer) "
				    "pg_restore", need);
			return rc;
		}
	} else if (env) {
		consider(&best, env);
		if (!best.program) {
			rc = g3_err_set(err, G3_USAGE, "could not run GEN3DB_PG_RESTORE \"%s\" (\"%s "
					"--version\" failed); \"%s\" is a %s, which needs pg_restore %d "
					"or newer", env, env, archive, what, need);
			g3_err_hint(err, "set GEN3DB_PG_RESTORE to PostgreSQL %d's (or a newer) "
				    "pg_restore", need);
			return rc;
		}
	} else {
		const char *path = g3_env("PATH");
		char *dirs = g3_xstrdup(path ? path : "/usr/bin:/bin");
		char *save = NULL;
		glob_t g;

		for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
			g3_buf p = G3_BUF_INIT;

			g3_buf_addf(&p, "%s/pg_restore", *d ? d : ".");
			consider(&best, p.data);
			g3_buf_release(&p);
		}
		free(dirs);
		if (!glob("/usr/lib/postgresql/*/bin/pg_restore", 0, NULL, &g)) {
			for (size_t i = 0; i < g.gl_pathc; i++)
				consider(&best, g.gl_pathv[i]);
			globfree(&g);
		}
		if (!best.program) {
			rc = g3_err_set(err, G3_USAGE, "\"%s\" is a %s, which is read with pg_restore "
					"%d or newer, and no pg_restore was found (on PATH or in "
					"/usr/lib/postgresql/*/bin)", archive, what, need);
			g3_err_hint(err, "install PostgreSQL %d's client tools (or newer), or set "
				    "GEN3DB_PG_RESTORE to its pg_restore", need);
			return rc;
		}
	}
	snprintf(version, vsize, "%d.%d", best.major, best.minor);
	if (!reads(best.major, best.minor, h)) {
		rc = g3_err_set(err, G3_USAGE, "\"%s\" is a %s, which needs pg_restore %d or "
				"newer; %s \"%s\" is version %s", archive, what, need,
				env ? "GEN3DB_PG_RESTORE" : "the newest pg_restore found,", best.program,
				version);
		g3_err_hint(err, "install PostgreSQL %d's client tools (or newer), or set "
			    "GEN3DB_PG_RESTORE to its pg_restore", need);
		free(best.program);
		return rc;
	}
	*program = best.program;
	return G3_OK;
}

/* ---- the child ---------------------------------------------------------- */

#define ERRTEXT_MAX 8192

struct g3_pgrestore {
	char *program;
	char *archive;
	pid_t pid;
	int out_fd, err_fd;
	int in_fd;                  /* the feeding thread's, closed by it */
	int eof;                    /* all output read and the child reaped */
	int err_eof;                /* stderr closed */
	g3_buf errtext;             /* pg_restore's stderr, bounded */
	/* feeding */
	g3_pgrestore_feed_fn feed;
	void *feed_ctx;
	const g3_source *counted;
	pthread_t thread;
	int thread_started;
	int abandoned;              /* left blocked in a read: p outlives close */
	volatile sig_atomic_t *interrupted;
	pthread_mutex_t pid_lock;   /* pid: reaped by the reader, killed by the feeder */
	_Atomic uint64_t fed;
	_Atomic int stop;
	g3_err feed_err;            /* set by the thread; read after the join */
};

static void *feed_thread(void *arg)
{
	g3_pgrestore *p = arg;
	char *buf = g3_xmalloc(256 * 1024);
	sigset_t set;

	/* a pg_restore that stopped reading is an EPIPE here, never SIGPIPE */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (!atomic_load(&p->stop)) {
		ssize_t n = p->feed(p->feed_ctx, buf, 256 * 1024, &p->feed_err);
		size_t off = 0;

		if (p->counted)
			atomic_store(&p->fed, p->counted->consumed);
		if (n < 0) {
			/* a source that failed, or an archive cut short: pg_restore
			 * must not wait or loop on what never comes */
			pthread_mutex_lock(&p->pid_lock);
			if (p->pid > 0)
				kill(p->pid, SIGKILL);
			pthread_mutex_unlock(&p->pid_lock);
			break;
		}
		if (n == 0)
			break;
		while (off < (size_t)n) {
			ssize_t w = write(p->in_fd, buf + off, (size_t)n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto done;   /* pg_restore stopped reading: its status tells */
			off += (size_t)w;
		}
	}
done:
	close(p->in_fd);
	p->in_fd = -1;
	free(buf);
	return NULL;   /* a joined feeder's p is freed by close, an abandoned one's never */
}

g3_rc g3_pgrestore_start(const char *program, const char *archive, const char *path,
			 g3_pgrestore_feed_fn feed, void *feed_ctx, const g3_source *counted,
			 volatile sig_atomic_t *interrupted, g3_pgrestore **out, g3_err *err)
{
	g3_pgrestore *p = g3_xcalloc(1, sizeof(*p));
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	g3_buf arg = G3_BUF_INIT;
	char *argv[5];
	int devnull = -1;
	g3_rc rc = G3_OK;

	*out = NULL;
	p->program = g3_xstrdup(program);
	p->archive = g3_xstrdup(archive);
	pthread_mutex_init(&p->pid_lock, NULL);
	p->pid = -1;
	p->out_fd = p->err_fd = p->in_fd = -1;
	g3_err_init(&p->feed_err);
	p->feed = feed;
	p->feed_ctx = feed_ctx;
	p->counted = counted;
	p->interrupted = interrupted;
	if (path)
		/* never taken for an option */
		g3_buf_addf(&arg, "%s%s", path[0] == '-' ? "./" : "", path);
	argv[0] = p->program;
	argv[1] = "-f";
	argv[2] = "-";
	argv[3] = path ? arg.data : NULL;
	argv[4] = NULL;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (!path && pipe2(inp, O_CLOEXEC) < 0) ||
	    (path && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)) {
		rc = g3_err_set(err, G3_FAIL, "could not create a pipe for pg_restore: %s",
				strerror(errno));
		goto cleanup;
	}
	p->pid = fork();
	if (p->pid < 0) {
		rc = g3_err_set(err, G3_FAIL, "could not start \"%s\": %s", program, strerror(errno));
		goto cleanup;
	}
	if (p->pid == 0) {
		dup2(path ? devnull : inp[0], STDIN_FILENO);
		dup2(outp[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	p->out_fd = outp[0];
	outp[0] = -1;
	p->err_fd = errp[0];
	errp[0] = -1;
	fcntl(p->err_fd, F_SETFL, fcntl(p->err_fd, F_GETFL) | O_NONBLOCK);
	if (!path) {
		p->in_fd = inp[1];
		inp[1] = -1;
		close(inp[0]);
		inp[0] = -1;
		if (pthread_create(&p->thread, NULL, feed_thread, p)) {
			rc = g3_err_set(err, G3_FAIL, "could not start a thread for pg_restore");
			goto cleanup;
		}
		p->thread_started = 1;
	}
	*out = p;
	p = NULL;
cleanup:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (inp[i] >= 0)
			close(inp[i]);
	}
	if (devnull >= 0)
		close(devnull);
	g3_buf_release(&arg);
	if (g3_pgrestore_close(p))
		abort();   /* a feeder is only started last, never left here */
	return rc;
}

/* Reads what stderr holds now (all of it when the child has closed it). */
static void drain_stderr(g3_pgrestore *p, int to_end)
{
	char buf[4096];

	while (!p->err_eof) {
		ssize_t n = read(p->err_fd, buf, sizeof(buf));

		if (n > 0) {
			if (p->errtext.len < ERRTEXT_MAX)
				g3_buf_add(&p->errtext, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (!n) {
			p->err_eof = 1;
			return;
		}
		if (n < 0 && errno == EAGAIN && to_end) {
			struct pollfd pf = { p->err_fd, POLLIN, 0 };

			poll(&pf, 1, 1000);
			continue;
		}
		return;
	}
}

/* Waits for the feeder at most JOIN_SECONDS: one blocked in reading a
 * source that sends nothing and never ends (a stalled pipe on standard
 * input) is left to the process's exit. 1 when it was left. */
#define JOIN_SECONDS 5

static int join_feeder(g3_pgrestore *p)
{
	struct timespec until;

	if (!p->thread_started)
		return p->abandoned;
	atomic_store(&p->stop, 1);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += JOIN_SECONDS;
	if (pthread_timedjoin_np(p->thread, NULL, &until)) {
		pthread_detach(p->thread);
		p->abandoned = 1;
	}
	p->thread_started = 0;
	return p->abandoned;
}

/* At the end of the output: the child's status and the feeder's error. */
static g3_rc finish(g3_pgrestore *p, g3_err *err)
{
	int status = 0;
	char why[600];

	drain_stderr(p, 1);
	pthread_mutex_lock(&p->pid_lock);
	while (waitpid(p->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			p->pid = -1;
			pthread_mutex_unlock(&p->pid_lock);
			return g3_err_set(err, G3_FAIL, "could not wait for \"%s\": %s", p->program,
					  strerror(errno));
		}
	}
	p->pid = -1;
	pthread_mutex_unlock(&p->pid_lock);
	if (!join_feeder(p) && p->feed_err.rc) {
		/* before pg_restore's status: it may have read enough to exit 0 */
		*err = p->feed_err;
		return err->rc;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return G3_OK;
	if (WIFSIGNALED(status))
		return g3_err_set(err, G3_FAIL, "pg_restore (\"%s\") was killed by signal %d while "
				  "reading archive \"%s\"", p->program, WTERMSIG(status), p->archive);
	if (WEXITSTATUS(status) == 127 && !p->errtext.len)
		return g3_err_set(err, G3_FAIL, "could not run \"%s\"", p->program);
	g3_pg_tool_error(&p->errtext, "pg_restore: ", why, sizeof(why));
	g3_err_set(err, G3_FAIL, "pg_restore could not read archive \"%s\": %s", p->archive,
		   why[0] ? why : "it failed without a message");
	g3_err_hint(err, "nothing was changed; an archive cut short or damaged fails so: copy or "
		    "download the whole archive again");
	return G3_FAIL;
}

ssize_t g3_pgrestore_read(g3_pgrestore *p, void *buf, size_t len, g3_err *err)
{
	if (p->eof)
		return 0;
	for (;;) {
		struct pollfd pf[2] = { { p->out_fd, POLLIN, 0 }, { p->err_eof ? -1 : p->err_fd, POLLIN, 0 } };
		ssize_t n;

		int k = poll(pf, 2, 250);

		/* the signal may have gone to another thread: the flag tells */
		if (p->interrupted && *p->interrupted) {
			g3_err_set(err, G3_FAIL, "interrupted while reading pg_restore's output");
			return -1;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			g3_err_set(err, G3_FAIL, "could not wait for pg_restore: %s", strerror(errno));
			return -1;
		}
		if (pf[1].revents)
			drain_stderr(p, 0);
		if (!pf[0].revents)
			continue;
		n = read(p->out_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			g3_err_set(err, G3_FAIL, "could not read pg_restore's output: %s",
				   strerror(errno));
			return -1;
		}
		if (n > 0)
			return n;
		p->eof = 1;
		return finish(p, err) ? -1 : 0;
	}
}

uint64_t g3_pgrestore_fed(const g3_pgrestore *p)
{
	return atomic_load(&((g3_pgrestore *)p)->fed);
}

int g3_pgrestore_close(g3_pgrestore *p)
{
	if (!p)
		return 0;
	pthread_mutex_lock(&p->pid_lock);
	if (p->pid > 0) {
		int status;

		kill(p->pid, SIGTERM);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
		p->pid = -1;
	}
	pthread_mutex_unlock(&p->pid_lock);
	/* with the child gone, a feeder blocked in write gets EPIPE */
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->out_fd = -1;
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->err_fd = -1;
	if (join_feeder(p))
		return 1;   /* the feeder still uses p, its fd and its source */
	if (p->in_fd >= 0)
		close(p->in_fd);   /* a feeder that never started */
	g3_buf_release(&p->errtext);
	pthread_mutex_destroy(&p->pid_lock);
	free(p->program);
	free(p->archive);
	free(p);
	return 0;
}
