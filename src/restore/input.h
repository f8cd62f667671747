/*
 * A restore's source opened for reading, and its kind told from its first
 * bytes: a gen3db snapshot (a tar), plain SQL (pg_dump's output, or any
 * script with --sql-script; plain, gzip or zstd) or a pg_dump archive
 * (custom, directory or tar), whose SQL pg_restore writes. One reading
 * path for the loaders: input_read gives the script's bytes whatever the
 * kind was, the snapshot reader gives a snapshot's members.
 *
 * Owns the source, the reader, the read buffer and a pg_restore process:
 * input_close releases them. Depends only on the library.
 */
#ifndef G3_RESTORE_INPUT_H
#define G3_RESTORE_INPUT_H

#include <signal.h>
#include <sys/types.h>

#include "../common/io/source.h"
#include "../common/pg/pgarchive.h"
#include "../common/snap/snapreader.h"

#define RESTORE_READ_BYTES (1024 * 1024)

/* What input_open found: told from the bytes, once. */
enum source_kind { KIND_PLAIN_SQL, KIND_SNAPSHOT, KIND_ARCHIVE };

struct input {
	g3_source *src;
	g3_reader *rd;          /* one reading path: tar members or one raw stream */
	char *buf;              /* RESTORE_READ_BYTES */
	enum source_kind kind;
	int sql_script;         /* set before input_open: accept plain SQL
				 * without pg_dump's opening lines */
	volatile sig_atomic_t *interrupted;  /* set before input_open: stops
				 * the feed of pg_restore */
	int pg_dump;            /* plain SQL with pg_dump's opening lines:
				 * load_sql_member checks its closing ones */
	g3_pgrestore *arch;     /* a pg_dump archive: pg_restore's output is
				 * the script (input.c) */
	g3_pgarch_head arch_head;
	struct tar_feed *arch_tar;  /* a tar archive's feed (its end checked) */
};

/* Opens the source and tells its kind; plain SQL is sniffed before any
 * server is touched: empty input, input that is not SQL, and SQL that
 * pg_dump did not write (unless in->sql_script) are G3_USAGE. */
g3_rc input_open(const char *spec, struct input *in, g3_err *err);
void input_close(struct input *in);

/* input_read: the script's bytes (pg_restore's output, else the
 * reader's); input_consumed: the source's bytes read so far;
 * input_format: "sql", "snapshot", "pg_dump-custom", ... */
ssize_t input_read(struct input *in, void *buf, size_t len, g3_err *err);
uint64_t input_consumed(const struct input *in);
const char *input_format(const struct input *in);

#endif
