#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static const struct {
	const char *name;
	uint64_t mult;
} units[] = {
	{ "b", 1 },
	{ "k", G3_KIB }, { "kb", G3_KIB }, { "kib", G3_KIB },
	{ "m", G3_MIB }, { "mb", G3_MIB }, { "mib", G3_MIB },
	{ "g", G3_GIB }, { "gb", G3_GIB }, { "gib", G3_GIB },
};

int g3_size_parse(const char *s, uint64_t unit, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;
	uint64_t mult = unit ? unit : 1;
	const char *p = s;

	/* strtoull's leading blanks and '+' were always accepted; a sign
	 * that makes the number negative never was */
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcasecmp(end, units[i].name))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		mult = units[i].mult;
	}
	if (v > max / mult || v * mult < min)
		return -1;
	*out = v * mult;
	return 0;
}

void g3_format_bytes(char *buf, size_t len, int64_t bytes)
{
	static const char *const names[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", (long long)(bytes < 0 ? 0 : bytes));
		return;
	}
	v = (double)bytes / 1024.0;
	while (v >= 1023.5 && u + 1 < sizeof(names) / sizeof(names[0])) {
		v /= 1024.0;
		u++;
	}
	if (v < 99.95)
		snprintf(buf, len, "%.1f %s", v, names[u]);
	else
		snprintf(buf, len, "%.0f %s", v, names[u]);
}
