/*
 * libFuzzer target for pg_dump archive headers (g3_pgarch_head_parse): the
 * first bytes of a custom archive or a toc.dat, outside input read before
 * pg_restore runs.
 *   - the result is 0 exactly when the input does not start with "PGDMP";
 *   - a parsed header has archive major 1, its strings are NUL-terminated
 *     within their fields, and its description and compression fit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pg/pgarchive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g3_pgarch_head h;
	char why[128], buf[512], comp[64];
	int magic = size >= 5 && !memcmp(data, "PGDMP", 5);
	int r = g3_pgarch_head_parse(data, size, &h, why, sizeof(why));

	if ((r == 0) != !magic || r < -1 || r > 1)
		abort();
	if (r == -1 && !why[0])
		abort();
	if (r != 1)
		return 0;
	if (h.vmaj != 1 || !memchr(h.database, 0, sizeof(h.database)) ||
	    !memchr(h.server_version, 0, sizeof(h.server_version)) ||
	    !memchr(h.pg_dump_version, 0, sizeof(h.pg_dump_version)) ||
	    !memchr(h.created, 0, sizeof(h.created)))
		abort();
	g3_pgarch_describe(&h, buf, sizeof(buf));
	g3_pgarch_compression(&h, comp, sizeof(comp));
	if (strncmp(buf, "pg_dump ", 8) || !comp[0] || g3_pgarch_restore_major(&h) < 9)
		abort();
	return 0;
}
