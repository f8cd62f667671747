#include "url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int unreserved(unsigned char c)
{
	return c < 0x80 && (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~');
}

void g3_url_encode(g3_buf *out, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			g3_buf_addch(out, (char)*p);
		} else {
			g3_buf_addch(out, '%');
			g3_buf_addch(out, hex[*p >> 4]);
			g3_buf_addch(out, hex[*p & 15]);
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *g3_url_decode(const char *s, size_t len)
{
	g3_buf b = G3_BUF_INIT;

	g3_buf_grow(&b, len);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			g3_buf_addch(&b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			g3_buf_addch(&b, s[i]);
		}
	}
	return g3_buf_detach(&b);
}

/* Where url's authority starts, and where it ends. */
static const char *authority(const char *url, const char **end)
{
	const char *auth = strstr(url, "://");

	auth = auth ? auth + 3 : url;
	*end = auth + strcspn(auth, "/?#");
	return auth;
}

int g3_url_userinfo(const char *url, size_t *start, size_t *end)
{
	const char *stop, *auth = authority(url, &stop), *at = NULL;

	for (const char *p = auth; p < stop; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return 0;
	*start = (size_t)(auth - url);
	*end = (size_t)(at - url);
	return 1;
}

char *g3_url_strip_credentials(const char *url)
{
	size_t s, e;
	g3_buf b = G3_BUF_INIT;

	if (!g3_url_userinfo(url, &s, &e))
		return g3_xstrdup(url);
	g3_buf_add(&b, url, s);
	g3_buf_adds(&b, url + e + 1);
	return g3_buf_detach(&b);
}

static int secret_param(const char *name, size_t len)
{
	static const char *const names[] = {
		"x-amz-signature", "x-amz-credential", "x-amz-security-token",
		"signature", "sig", "token", "access_token", "password",
		"awsaccesskeyid", "x-goog-signature", "x-goog-credential", "key",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncasecmp(names[i], name, len))
			return 1;
	return 0;
}

char *g3_url_redact(const char *url)
{
	char *bare = g3_url_strip_credentials(url);
	const char *auth_end, *q, *p;
	g3_buf b = G3_BUF_INIT;
	int kept = 0;

	authority(bare, &auth_end);
	q = strchr(auth_end, '?');
	if (!q)
		return bare;
	g3_buf_add(&b, bare, (size_t)(q - bare));
	p = q + 1;
	while (*p && *p != '#') {
		size_t len = strcspn(p, "&#");
		size_t nlen = strcspn(p, "=&#");

		if (nlen > len)
			nlen = len;
		if (len && !secret_param(p, nlen)) {  /* empty ones ("a&&b") dropped */
			g3_buf_addch(&b, kept ? '&' : '?');
			g3_buf_add(&b, p, len);
			kept = 1;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	free(bare);
	return g3_buf_detach(&b);
}
