/* target.c: judges what a client asks for: the exact challenge target, the token's alphabet,
 * the token list, the Host header passed on; pure, no privilege; called by server.c. */
#include <string.h>
#include "conf.h"
#include "responder/responder.h"

bool responder_token_valid(const char *s, size_t len)
{
	return b64url_valid(s, len, len);
}

/* The raw target, as the client sent it: no percent-decoding happened, so '%', '.', '?' and
 * '#' simply are not base64url and fail the token check, whatever they encode. */
const char *responder_target_token(const char *target, unsigned token_len)
{
	size_t n = strlen(RESPONDER_PREFIX);

	if (!target || strncmp(target, RESPONDER_PREFIX, n))
		return NULL;
	return responder_token_valid(target + n, token_len) ? target + n : NULL;
}

bool responder_token_listed(const char *list, size_t n, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = list, *end = list + n;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);

		while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l == tlen && !memcmp(p, token, tlen))
			return true;
		p += l;
		p = eol ? eol + 1 : end;
	}
	return false;
}

static bool host_char(char c)
{
	return b64url_char(c) || c == '.' || c == ':' || c == '[' || c == ']';
}

bool responder_host_valid(const char *host)
{
	size_t n = host ? strlen(host) : 0;

	if (n == 0 || n > 260)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!host_char(host[i]) || host[i] == '_')
			return false;
	return true;
}

bool responder_relay_valid(const char *url)
{
	const char *h = url;

	if (!url || strncmp(url, "http://", 7))
		return false;
	h += 7;
	size_t n = strcspn(h, "/");

	if (n == 0 || (h[n] == '/' && h[n + 1] != '\0') || n > 260)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!host_char(h[i]) || h[i] == '_')
			return false;
	return true;
}
