/* auth.c: checks a request's key, clock, signature and nonce (docs/agent-protocol.md); no
 * privilege; called from http.c's connection threads, so nonce memory is per key and locked. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"

int64_t agent_now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 32 lowercase hex digits, exactly. */
static int parse_nonce(const char *s, uint8_t ret[SIG_NONCE_HEX_LEN / 2])
{
	if (!s || strlen(s) != SIG_NONCE_HEX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < SIG_NONCE_HEX_LEN / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		ret[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Decimal seconds, within AGENT_SKEW_MAX of our clock. */
static int check_time(const char *s, struct err *e)
{
	long long t = 0, now = (long long)time(NULL);
	size_t n = s ? strspn(s, "0123456789") : 0;

	if (n == 0 || n > 12 || s[n])
		return err_set(e, -EACCES, "Acmegate-Time must be decimal UNIX seconds");
	for (size_t i = 0; i < n; i++)
		t = t * 10 + (s[i] - '0');
	if (t < now - AGENT_SKEW_MAX || t > now + AGENT_SKEW_MAX)
		return err_set(e, -EACCES, "Acmegate-Time is %lld s off the agent's clock (at most %d); "
			       "check both clocks", t - now, AGENT_SKEW_MAX);
	return 0;
}

/* Remembers nonce unless it was seen within AGENT_NONCE_TTL; -EEXIST for a replay, -EBUSY when
 * the memory is full of live nonces (forgetting one early would let it be replayed). */
static int nonce_remember(struct agent_client *k, const uint8_t nonce[SIG_NONCE_HEX_LEN / 2])
{
	int64_t now = agent_now_mono() / 1000000000;
	struct nonce_entry *n;
	int r = 0;

	pthread_mutex_lock(&k->lock);
	while (k->nnonces && now - k->nonces[k->nonce_head].seen > AGENT_NONCE_TTL) {
		k->nonce_head = (k->nonce_head + 1) % AGENT_NONCE_MAX;
		k->nnonces--;
	}
	for (size_t i = 0; i < k->nnonces && r == 0; i++)
		if (!memcmp(k->nonces[(k->nonce_head + i) % AGENT_NONCE_MAX].nonce, nonce,
			    SIG_NONCE_HEX_LEN / 2))
			r = -EEXIST;
	if (r == 0 && k->nnonces == AGENT_NONCE_MAX)
		r = -EBUSY;
	if (r == 0) {
		n = &k->nonces[(k->nonce_head + k->nnonces++) % AGENT_NONCE_MAX];
		memcpy(n->nonce, nonce, sizeof(n->nonce));
		n->seen = now;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* 0 and *ret the key; -EACCES (401) with why in e; -EBUSY (429) when the nonce memory is full. */
int auth_verify(struct agent_conf *c, const struct auth_headers *h, const char *method,
		const char *path, const char *body, size_t len, struct agent_client **ret,
		struct err *e)
{
	char mine[SIG_HEX_LEN + 1];
	uint8_t nonce[SIG_NONCE_HEX_LEN / 2];
	struct agent_client *k;
	int r;

	if (!h->key || !h->time || !h->nonce || !h->signature)
		return err_set(e, -EACCES, "missing Acmegate-Key, -Time, -Nonce or -Signature header");
	k = agent_client_find(c, h->key);
	if (!k)
		return err_set(e, -EACCES, "unknown key");
	if (parse_nonce(h->nonce, nonce) < 0)
		return err_set(e, -EACCES, "Acmegate-Nonce must be 32 lowercase hex digits");
	r = check_time(h->time, e);
	if (r < 0)
		return r;
	sig_request(k->secret, method, path, h->time, h->nonce, body, len, mine);
	if (!sig_equal(mine, h->signature))
		return err_set(e, -EACCES, "bad signature");
	r = nonce_remember(k, nonce);
	if (r == -EEXIST)
		return err_set(e, -EACCES, "nonce already used; send a new one with every request");
	if (r < 0)
		return err_set(e, r, "too many requests for this key in the last %d s", AGENT_NONCE_TTL);
	*ret = k;
	return 0;
}
