/*
 * Sharding a restore across N pods (an Indexed Job): every item (a
 * database or an index) belongs to exactly one shard, so N pods that each
 * restore their shard restore disjoint parts that together are all of it.
 *
 * The assignment is size-balanced and stable: items are taken largest
 * first (ties by kind, then name) and each goes to the shard with the
 * fewest bytes so far (ties: the lowest shard). It depends only on the
 * items' kinds, names and sizes, not on the order they were listed in, so
 * every pod computes the same assignment from the same listing.
 */
#ifndef G3_SHARD_H
#define G3_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct g3_shard_item {
	int kind;            /* e.g. 0 database, 1 index: part of the order */
	const char *name;
	int64_t size;        /* bytes; -1 (unknown) counts as 0 */
	int shard;           /* out: 0..n_shards-1 */
} g3_shard_item;

/* Fills items[i].shard. n_shards >= 1. */
void g3_shard_assign(g3_shard_item *items, size_t n, int n_shards);

/* Parses "I/N" (0 <= I < N <= 1000). */
g3_rc g3_shard_parse(const char *s, long *index, long *count, g3_err *err);

#endif
