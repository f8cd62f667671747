/*
 * Standard base64 (RFC 4648, '+' '/', '=' padding), over libcrypto's
 * EVP_EncodeBlock / EVP_DecodeBlock.
 *
 * Decoding is strict, as Kubernetes' Secret data is: the text's length is
 * a multiple of 4, it holds only the alphabet, and '=' pads the last group
 * only (one or two, at its end). No blanks or line breaks are skipped
 * (EVP_DecodeBlock alone would trim them, read '=' anywhere as zero bits,
 * and count the padding as bytes).
 */
#ifndef G3_BASE64_H
#define G3_BASE64_H

#include <stddef.h>

/* Base64 of len bytes, NUL-terminated, caller frees. */
char *g3_base64(const void *data, size_t len);

/* Decodes s; returns NULL on bad input. *len gets the size; the result is
 * NUL-terminated too (for text). Caller frees. */
unsigned char *g3_base64_decode(const char *s, size_t *len);

#endif
