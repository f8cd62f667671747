/*
 * libFuzzer target for the Secrets file readers (src/common/gen3/secret.c).
 * First byte % 3:
 *   0  the rest is a password file and a Secret manifest, read as both;
 *   1  the rest is "name\npassword": a manifest written for them must
 *      give the same password back (what re-running with --secret-out
 *      relies on), in a single Secret and in a List;
 *   2  base64: what decodes has '=' only at its end and encodes back to
 *      text that decodes to the same bytes; any bytes encode and decode
 *      back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gen3/secret.h"

static char dir[] = "/tmp/gen3db-fuzz-XXXXXX";
static char path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/secret", dir);
	atexit(cleanup);
	return 0;
}

static void write_file(const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
}

static void read_both(const uint8_t *data, size_t size)
{
	char *pw = NULL;
	g3_err err;

	write_file(data, size);
	g3_err_init(&err);
	if (!g3_secret_read_file(path, &pw, &err)) {
		if (!*pw || strpbrk(pw, "\r\n"))
			abort();
		g3_secret_free(pw);
	}
	g3_err_init(&err);
	if (!g3_k8s_secret_password(path, "fence-dbcreds", &pw, &err) && pw) {
		if (!*pw)
			abort();
		g3_secret_free(pw);
	}
}

static void roundtrip(const char *in, size_t len)
{
	const char *nl = memchr(in, '\n', len);
	char name[64], *pw, *got = NULL;
	size_t nlen;
	g3_k8s_secret s[2];
	g3_err err;
	FILE *f;

	if (!nl || memchr(in, '\0', len))
		return;
	nlen = (size_t)(nl - in);
	if (!nlen || nlen >= sizeof(name) || nl + 1 == in + len)
		return;
	/* a Kubernetes name */
	for (size_t i = 0; i < nlen; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-.", in[i]))
			return;
	memcpy(name, in, nlen);
	name[nlen] = '\0';
	/* the List's other Secret is named "other": two Secrets of one name
	 * are not a round trip */
	if (!strcmp(name, "other"))
		return;
	pw = strndup(nl + 1, len - nlen - 1);
	for (int n = 1; n <= 2; n++) {
		s[0] = (g3_k8s_secret){ "other", "db", "user", "x", "h", "5432", 0 };
		s[n - 1] = (g3_k8s_secret){ name, "db", "user", pw, "host", "5432", 1 };
		f = fopen(path, "wb");
		if (!f || g3_k8s_secrets_write(f, s, (size_t)n) || fclose(f))
			abort();
		g3_err_init(&err);
		if (g3_k8s_secret_password(path, name, &got, &err) || !got || strcmp(got, pw))
			abort();
		g3_secret_free(got);
	}
	free(pw);
}

static void base64(const char *in, size_t len)
{
	char *s = strndup(in, len), *enc;
	unsigned char *dec, *again;
	size_t n, n2;

	if ((dec = g3_base64_decode(s, &n))) {
		const char *eq = strchr(s, '=');

		if (eq && eq[strspn(eq, "=")])
			abort();  /* '=' in the middle */
		enc = g3_base64(dec, n);
		again = g3_base64_decode(enc, &n2);
		if (!again || n2 != n || memcmp(again, dec, n))
			abort();
		free(again);
		free(enc);
		free(dec);
	}
	enc = g3_base64(in, len);
	dec = g3_base64_decode(enc, &n);
	if (!dec || n != len || memcmp(dec, in, len))
		abort();
	free(dec);
	free(enc);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		read_both(data + 1, size - 1);
		break;
	case 1:
		roundtrip((const char *)data + 1, size - 1);
		break;
	default:
		base64((const char *)data + 1, size - 1);
		break;
	}
	return 0;
}
