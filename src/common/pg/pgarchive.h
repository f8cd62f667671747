/*
 * pg_dump's archive formats, read through PostgreSQL's pg_restore.
 *
 * pg_dump -Fc (custom), -Fd (directory) and -Ft (tar) write an archive
 * that starts with the same header (the custom file's first bytes, the
 * toc.dat of the other two): "PGDMP", the archive version (major, minor,
 * revision bytes), the sizes of integers and offsets, the format byte, the
 * compression, the creation time, the database's name and (archive 1.10+)
 * the server's and pg_dump's versions. The header tells which pg_restore
 * can read the archive: pg_restore refuses an archive version newer than
 * its own.
 *
 * pg_restore -f - turns an archive into the same psql script pg_dump's
 * plain format writes (header, ownership, COPY blocks, closing line),
 * without connecting anywhere: g3_pgrestore runs it as a child process
 * (argv, no shell) and hands its standard output out as a byte stream.
 * The archive reaches it either as a path (a directory, a tar file) or
 * through its standard input, fed by a thread from a callback (a custom
 * archive from a file, a pipe, http(s) or s3: pg_restore reads it front
 * to back, as pg_dump writes it to a pipe).
 *
 * The program is $GEN3DB_PG_RESTORE (a path, or a name looked up on PATH),
 * else the newest pg_restore among PATH's and
 * /usr/lib/postgresql/<major>/bin's.
 */
#ifndef G3_PGARCHIVE_H
#define G3_PGARCHIVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/err.h"
#include "../io/source.h"

/* The header's format byte (pg_backup.h's ArchiveFormat). */
#define G3_PGARCH_CUSTOM 1
#define G3_PGARCH_TAR 3
#define G3_PGARCH_DIRECTORY 5

/* How many first bytes hold a header (its strings included). */
#define G3_PGARCH_HEAD_BYTES 4096

typedef struct g3_pgarch_head {
	int vmaj, vmin, vrev;     /* archive version */
	int format;               /* G3_PGARCH_* (or another byte) */
	int compression;          /* 1.15+: 0 none, 1 gzip, 2 lz4, 3 zstd;
				   * older: zlib level, -1 default, 0 none */
	char created[32];         /* "2026-12-02 07:14:39" (local time of the dump) */
	char database[128];
	char server_version[64];  /* "" before archive 1.10 */
	char pg_dump_version[64];
} g3_pgarch_head;

/* 1: parsed; 0: not an archive header (no "PGDMP" at byte 0); -1: an
 * archive header that is cut or damaged (why says how). */
int g3_pgarch_head_parse(const void *buf, size_t len, g3_pgarch_head *h, char *why,
			 size_t whysize);

/* "custom", "tar", "directory" (another byte: "unknown"). */
const char *g3_pgarch_format_name(int format);
/* "none", "gzip", "lz4", "zstd", "gzip (level N)". */
void g3_pgarch_compression(const g3_pgarch_head *h, char *buf, size_t size);
/* The oldest PostgreSQL major whose pg_restore reads h's archive version
 * (an archive newer than every version known here: the newest known + 1). */
int g3_pgarch_restore_major(const g3_pgarch_head *h);
/* "pg_dump custom archive (format 1.14, PostgreSQL 15.18, pg_dump 15.18)", the
 * versions without a distribution's suffix. */
void g3_pgarch_describe(const g3_pgarch_head *h, char *buf, size_t size);

/* 1 when path is a directory holding a toc.dat (pg_dump -Fd's output). */
int g3_pgarch_is_dir(const char *path);
/* Reads the header of DIR/toc.dat: G3_USAGE when it is not one. */
g3_rc g3_pgarch_dir_head(const char *dir, g3_pgarch_head *h, g3_err *err);

/* A tar stream's structure as it goes by (pg_restore loops forever on a
 * tar archive cut short, so the end is checked here): each header's size
 * says where the next header is; the archive ends with a block of zeros
 * where a header is due. */
typedef struct g3_tarwalk {
	uint64_t pos;           /* bytes fed */
	uint64_t next;          /* where the next header starts */
	unsigned char block[512];
	size_t blen;            /* bytes of the header being read */
	int ended;              /* the end-of-archive block was seen */
	int bad;                /* a header that is not one */
} g3_tarwalk;

void g3_tarwalk_init(g3_tarwalk *w);
void g3_tarwalk_feed(g3_tarwalk *w, const void *data, size_t len);
/* 1 when the stream fed so far is a whole tar archive. */
int g3_tarwalk_complete(const g3_tarwalk *w);

/* The pg_restore that reads h's archive (named archive in messages):
 * *program (caller frees) and its "major.minor" in version. G3_USAGE,
 * naming the version needed, when there is none or only older ones. */
g3_rc g3_pgrestore_find(const g3_pgarch_head *h, const char *archive, char **program,
			char *version, size_t vsize, g3_err *err);

/* The archive's bytes for pg_restore's standard input: > 0 bytes, 0 at the
 * end, -1 with err set. Called from the feeding thread only. */
typedef ssize_t (*g3_pgrestore_feed_fn)(void *ctx, void *buf, size_t len, g3_err *err);

typedef struct g3_pgrestore g3_pgrestore;

/* Starts "program -f - path" (path non-NULL: pg_restore reads it) or
 * "program -f -" fed by feed(feed_ctx) through its standard input;
 * counted's consumed bytes are sampled after each feed for
 * g3_pgrestore_fed (NULL: none). archive names it in messages.
 * interrupted (or NULL): a flag a signal handler sets; the read checks it
 * at least 4 times a second. Call while no other thread forks. */
g3_rc g3_pgrestore_start(const char *program, const char *archive, const char *path,
			 g3_pgrestore_feed_fn feed, void *feed_ctx, const g3_source *counted,
			 volatile sig_atomic_t *interrupted, g3_pgrestore **out, g3_err *err);
/* pg_restore's output: > 0 bytes, 0 once it has all been read and
 * pg_restore exited 0, -1 with err set (G3_FAIL) when the archive could
 * not be fed or pg_restore failed or was killed (its error line is in
 * the message). The interrupted flag set ends it too: -1, "interrupted". */
ssize_t g3_pgrestore_read(g3_pgrestore *p, void *buf, size_t len, g3_err *err);
/* A feed error (the source's, or an archive found cut short) stops
 * pg_restore: the read then fails with the feed's error. */
/* Bytes of counted consumed so far (any thread). */
uint64_t g3_pgrestore_fed(const g3_pgrestore *p);
/* Stops the child if it still runs, waits for it and (at most 5 s) for the
 * feeding thread. 1 when that thread is left blocked in a read of a source
 * that neither sends nor ends: it still uses its feed_ctx and counted
 * source, which the caller must then leave allocated (the process is
 * ending). */
int g3_pgrestore_close(g3_pgrestore *p);

#endif
