/* sig.c: HMAC-SHA256 request and reply signatures of the agent protocol (OpenSSL). No privilege;
 * used by acmegate check and acmegate-agent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "sig.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int sig_parse_secret(const char *hex, uint8_t ret_secret[SIG_SECRET_LEN])
{
	uint8_t s[SIG_SECRET_LEN];

	if (!hex || strlen(hex) != 2 * SIG_SECRET_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SIG_SECRET_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		s[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret_secret, s, sizeof(s));
	return 0;
}

int sig_new_nonce(char ret_nonce[SIG_NONCE_HEX_LEN + 1])
{
	uint8_t b[SIG_NONCE_HEX_LEN / 2];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	to_hex(b, sizeof(b), ret_nonce);
	return 0;
}

/* HMAC over a text prefix and the body; the prefix holds every signed field but the body. */
static void sign(const uint8_t secret[SIG_SECRET_LEN], const char *prefix, const void *body,
		 size_t len, char ret_hex[SIG_HEX_LEN + 1])
{
	size_t plen = strlen(prefix);
	uint8_t *msg = malloc(plen + len + 1);
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;

	ret_hex[0] = '\0';  /* an empty signature never verifies */
	if (!msg)
		return;
	memcpy(msg, prefix, plen);
	if (len)
		memcpy(msg + plen, body, len);
	if (HMAC(EVP_sha256(), secret, SIG_SECRET_LEN, msg, plen + len, mac, &maclen) &&
	    maclen * 2 == SIG_HEX_LEN)
		to_hex(mac, maclen, ret_hex);
	free(msg);
}

void sig_request(const uint8_t secret[SIG_SECRET_LEN], const char *method, const char *path,
		 const char *time, const char *nonce, const void *body, size_t len,
		 char ret_hex[SIG_HEX_LEN + 1])
{
	char *prefix = NULL;

	if (asprintf(&prefix, "acmegate-v1\n%s\n%s\n%s\n%s\n", method, path, time, nonce) < 0) {
		ret_hex[0] = '\0';
		return;
	}
	sign(secret, prefix, body, len, ret_hex);
	free(prefix);
}

void sig_reply(const uint8_t secret[SIG_SECRET_LEN], unsigned status, const char *nonce,
	       const void *body, size_t len, char ret_hex[SIG_HEX_LEN + 1])
{
	char *prefix = NULL;

	if (asprintf(&prefix, "acmegate-v1-reply\n%u\n%s\n", status, nonce) < 0) {
		ret_hex[0] = '\0';
		return;
	}
	sign(secret, prefix, body, len, ret_hex);
	free(prefix);
}

bool sig_equal(const char *a, const char *b)
{
	if (!a || !b || strlen(a) != SIG_HEX_LEN || strlen(b) != SIG_HEX_LEN)
		return false;
	return CRYPTO_memcmp(a, b, SIG_HEX_LEN) == 0;
}
