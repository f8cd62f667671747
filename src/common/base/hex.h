/*
 * Lowercase hexadecimal: the one encoder, and the SHA-256 digest in hex
 * that snapshot chunks and SigV4 payloads carry. Thread-safe; no state.
 */
#ifndef G3_HEX_H
#define G3_HEX_H

#include <stddef.h>

/* Writes the 2 * n hex digits of d[0..n) and a NUL to out (2 * n + 1 bytes). */
void g3_hex_encode(const unsigned char *d, size_t n, char *out);

/* The SHA-256 of buf[0..len) as 64 hex digits and a NUL. A digest that
 * libcrypto cannot compute (it cannot happen with a working libcrypto)
 * is 64 zeros, which matches no real content. */
void g3_sha256_hex(const void *buf, size_t len, char out[65]);

#endif
