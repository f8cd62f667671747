#include "base64.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

char *g3_base64(const void *data, size_t len)
{
	char *out = g3_xmalloc(4 * ((len + 2) / 3) + 1);

	/* EVP_EncodeBlock takes an int length: encode in whole groups of 3 */
	size_t o = 0, step = (size_t)3 << 28;

	out[0] = '\0';
	for (size_t i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;

		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o,
					     (const unsigned char *)data + i, (int)n);
	}
	out[o] = '\0';
	return out;
}

static int in_alphabet(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

unsigned char *g3_base64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int got;

	if (n % 4 || n > (size_t)1 << 30)
		return NULL;
	if (n && s[n - 1] == '=')
		pad = n >= 2 && s[n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!in_alphabet((unsigned char)s[i]))
			return NULL;
	out = g3_xmalloc(n / 4 * 3 + 1);
	got = n ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) : 0;
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)got - pad;
	out[*len] = '\0';
	return out;
}
