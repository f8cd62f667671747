/*
 * Size-balanced, order-independent shard assignment. See shard.h.
 */
#include "shard.h"

#include <stdlib.h>
#include <string.h>

#include "../base/opts.h"
#include "../base/strbuf.h"

#define MAX_SHARDS 1000

static int64_t size_of(const g3_shard_item *it)
{
	return it->size > 0 ? it->size : 0;
}

static int by_size_desc(const void *a, const void *b)
{
	const g3_shard_item *x = *(const g3_shard_item *const *)a;
	const g3_shard_item *y = *(const g3_shard_item *const *)b;

	if (size_of(x) != size_of(y))
		return size_of(x) > size_of(y) ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

void g3_shard_assign(g3_shard_item *items, size_t n, int n_shards)
{
	g3_shard_item **order = g3_xcalloc(n ? n : 1, sizeof(*order));
	int64_t *load = g3_xcalloc((size_t)n_shards, sizeof(*load));

	for (size_t i = 0; i < n; i++)
		order[i] = &items[i];
	qsort(order, n, sizeof(*order), by_size_desc);
	for (size_t i = 0; i < n; i++) {
		int best = 0;

		for (int s = 1; s < n_shards; s++)
			if (load[s] < load[best])
				best = s;
		order[i]->shard = best;
		/* an empty item still counts, so many small ones spread out */
		load[best] += size_of(order[i]) + 1;
	}
	free(order);
	free(load);
}

g3_rc g3_shard_parse(const char *s, long *index, long *count, g3_err *err)
{
	const char *slash = strchr(s, '/');
	char ibuf[32];
	size_t len;
	g3_rc rc;

	if (!slash || (len = (size_t)(slash - s)) == 0 || len >= sizeof(ibuf)) {
		rc = g3_err_set(err, G3_USAGE, "--shard must be I/N (e.g. 0/4), not \"%s\"", s);
		return rc;
	}
	memcpy(ibuf, s, len);
	ibuf[len] = '\0';
	if ((rc = g3_parse_long("--shard count", slash + 1, 1, MAX_SHARDS, count, err)) ||
	    (rc = g3_parse_long("--shard index", ibuf, 0, *count - 1, index, err)))
		return rc;
	return G3_OK;
}
