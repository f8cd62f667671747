/*
 * What a plain SQL input is, told from its bytes: the first bytes are
 * sniffed before anything on a server is changed, and the last ones tell
 * whether pg_dump's output is complete.
 *
 * pg_dump's plain format (every version since 8.x) opens with
 *   --
 *   -- PostgreSQL database dump
 *   --
 *   \restrict KEY                          (15.14+, 16.10+, 17.6+, 18)
 *   -- Dumped from database version 15.18
 *   -- Dumped by pg_dump version 15.18
 * and ends with
 *   --
 *   -- PostgreSQL database dump complete
 *   --
 *   \unrestrict KEY                        (the same versions)
 * A file cut at a statement boundary is valid SQL that loads without an
 * error: only the missing closing lines tell that it is incomplete. SQL
 * without the opening lines (written by hand or by another tool) carries
 * no such promise, so its end cannot be checked.
 *
 * Pure functions over bytes: no I/O, no allocation.
 */
#ifndef G3_SQLINPUT_H
#define G3_SQLINPUT_H

#include <stddef.h>
#include <stdint.h>

/* How many first bytes g3_sqlinput_sniff wants to see. */
#define G3_SQLINPUT_SNIFF_BYTES (64 * 1024)

typedef enum g3_sqlinput_kind {
	G3_SQLINPUT_EMPTY,        /* no bytes at all */
	G3_SQLINPUT_PG_DUMP,      /* pg_dump's opening lines */
	G3_SQLINPUT_PG_DUMPALL,   /* pg_dumpall's: a whole cluster */
	G3_SQLINPUT_PG_CUSTOM,    /* pg_dump -Fc (custom format, for pg_restore) */
	G3_SQLINPUT_SQL,          /* starts like SQL, without pg_dump's lines */
	G3_SQLINPUT_NO_SQL,       /* the whole input is comments and blanks */
	G3_SQLINPUT_OTHER         /* not SQL: what says what it is */
} g3_sqlinput_kind;

/* head: the first len bytes of the input; whole: they are all of it.
 * For G3_SQLINPUT_OTHER, what gets a description that completes "it is
 * ...": "a JPEG image", "binary data", "text that does not start like SQL
 * (line 1: \"root:x:0:0:root:/root:/bin/bash\")". */
g3_sqlinput_kind g3_sqlinput_sniff(const char *head, size_t len, int whole,
				   char *what, size_t whatsize);

#define G3_DUMPEND_TAIL 512

/* The end of a stream as it goes by: its last bytes and its line count. */
typedef struct g3_dumpend {
	char tail[G3_DUMPEND_TAIL];
	size_t len;             /* bytes in tail */
	uint64_t bytes;         /* fed in all */
	long long newlines;
	char last;              /* the last byte fed */
} g3_dumpend;

void g3_dumpend_init(g3_dumpend *e);
void g3_dumpend_feed(g3_dumpend *e, const char *data, size_t len);
/* 1 when what was fed ends with pg_dump's closing lines (after them only
 * blank lines and an \unrestrict line). */
int g3_dumpend_complete(const g3_dumpend *e);
/* The number of the last line (1-based; 0 when nothing was fed). */
long long g3_dumpend_last_line(const g3_dumpend *e);

#endif
