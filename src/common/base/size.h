/*
 * Sizes in bytes: the one grammar for size options and the one way sizes
 * are printed. Both use IEC (1024-based) units.
 *
 * Grammar: decimal digits, then optionally a unit, any case:
 *   B                  bytes
 *   K, KB, KiB         KiB (1024)
 *   M, MB, MiB         MiB (1024^2)
 *   G, GB, GiB         GiB (1024^3)
 * ("KB" means 1024 bytes here, as it always has for gen3db's options.)
 * A number without a unit counts units of `unit` bytes: 1 for most
 * options, 1 MiB for --s3-part-size ("6" meaning 6 MiB). No sign, no
 * fraction, no blank inside (leading blanks and a '+' are let through); the value must fall within [min, max].
 */
#ifndef G3_SIZE_H
#define G3_SIZE_H

#include <stddef.h>
#include <stdint.h>

#define G3_KIB 1024ULL
#define G3_MIB (1024ULL * 1024)
#define G3_GIB (1024ULL * 1024 * 1024)

/* Parses s; returns 0 with *out set, or -1 when s is not a size in
 * [min, max] (out untouched). Callers word their own message. */
int g3_size_parse(const char *s, uint64_t unit, uint64_t min, uint64_t max, uint64_t *out);

/* "0 B", "512 B", "1.0 KiB", "12.3 MiB", "123 MiB", "1.2 GiB" ...: three
 * significant digits at most, IEC units; negative counts print as 0 B. */
void g3_format_bytes(char *buf, size_t len, int64_t bytes);

#endif
