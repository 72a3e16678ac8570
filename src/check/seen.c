/* seen.c: the gate's counters before and after a self-test, and what they tell about each
 * failed probe: dropped before this host, or reached it and refused by the path gate or by the
 * server behind the window. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "check/seen.h"
#include "nft.h"
#include "ruleset.h"

static const struct conf *seen_conf;

/* The tokens file exists exactly while the window is token-exact (window.c). */
static bool tokens_file(const struct conf *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/tokens", c->state_dir);
	return access(path, F_OK) == 0;
}

/* Sums our recorded rules' counters per kind; 0 or a negative errno. */
static int read_counters(const struct conf *c, struct seen *s, uint64_t *sum)
{
	struct state st = { 0 };
	struct ruleset rs = { 0 };
	struct nft *n = NULL;
	struct err e;
	time_t now = time(NULL);
	int lock = state_lock(c->state_dir, 5, &e), r;

	if (lock < 0)
		return lock;
	r = state_load(c->state_dir, &st, &e);
	state_unlock(lock);
	if (r == 0)
		r = nft_open(&n, &e);
	if (r == 0)
		r = nft_dump(n, &rs, &e);
	for (size_t i = 0; r == 0 && i < st.nrules; i++) {
		const struct rec_rule *q = &st.rules[i];
		const struct rs_rule *k = ruleset_find_rule(&rs, q->family, q->table, q->chain, q->handle);

		s->openers[q->kind]++;
		sum[q->kind] += k ? k->packets : 0;
	}
	for (size_t i = 0; r == 0 && i < st.nleases; i++)
		if (st.leases[i].deadline > now)
			s->services |= st.leases[i].services;
	s->exact = r == 0 && tokens_file(c);
	nft_close(n);
	ruleset_free(&rs);
	state_free(&st);
	return r;
}

void seen_begin(struct seen *s, const struct conf *c)
{
	memset(s, 0, sizeof(*s));
	seen_conf = c;
	s->have = read_counters(c, s, s->before) == 0;
}

void seen_end(struct seen *s)
{
	struct seen again = { 0 };

	if (!s->have)
		return;
	s->have = read_counters(seen_conf, &again, s->after) == 0;
}

void seen_free(struct seen *s)
{
	(void)s;
}

static uint64_t delta(const struct seen *s, enum rule_kind k)
{
	return s->after[k] > s->before[k] ? s->after[k] - s->before[k] : 0;
}

static bool cls_is(const struct answer *a, const char *c1, const char *c2)
{
	return !strcmp(a->cls, c1) || (c2 && !strcmp(a->cls, c2));
}

/* The note for one failed answer of an http-01, tls-alpn-01 or dns-01 target. */
static void note_for(const struct seen *s, enum rule_kind k, unsigned svc, int port,
		     const struct answer *a, char *buf, size_t len)
{
	uint64_t d = delta(s, k);

	buf[0] = '\0';
	if (!(s->services & svc))
		snprintf(buf, len, "; no acmegate window is open for port %d here", port);
	else if (!s->openers[k])
		return;  /* nothing here drops this traffic: the gate had nothing to open */
	else if (d == 0 && cls_is(a, "dropped", "timeout"))
		snprintf(buf, len, "; dropped before this host: the window's rules counted no packet "
			 "during the check");
	else if (k == KIND_OPEN_HTTP01 && cls_is(a, "reset", NULL) && delta(s, KIND_PATH_RESET) && s->exact)
		snprintf(buf, len, "; reached this host, reset by acmegate's path gate: the window is "
			 "token-exact (open --token) and passes only the tokens its leases named");
	else if (k == KIND_OPEN_HTTP01 && cls_is(a, "reset", NULL) && delta(s, KIND_PATH_RESET))
		snprintf(buf, len, "; reached this host, reset by acmegate's path gate (only "
			 "/.well-known/acme-challenge/TOKEN passes, a token of token_length characters)");
	else if (d && cls_is(a, "dropped", "timeout"))
		snprintf(buf, len, "; the window let %llu packets to port %d in during the check, from "
			 "perspectives that got through", (unsigned long long)d, port);
	else if (d)
		snprintf(buf, len, "; reached this host through the window, refused by what serves "
			 "port %d", port);
}

void seen_notes(struct seen *s, const struct check_target *t, const struct answer *a, size_t n,
		const char **notes)
{
	static const struct { enum rule_kind k; unsigned svc; } by_type[] = {
		[PROBE_HTTP01] = { KIND_OPEN_HTTP01, SVC_HTTP01 },
		[PROBE_TLSALPN01] = { KIND_OPEN_TLSALPN01, SVC_TLSALPN01 },
		[PROBE_DNS01] = { KIND_OPEN_DNS, SVC_DNS },
	};

	for (size_t i = 0; i < n; i++) {
		notes[i] = NULL;
		if (!s->have || t->type == PROBE_CAA || a[i].ok || !a[i].answered || i >= PERSPECTIVE_MAX)
			continue;
		note_for(s, by_type[t->type].k, by_type[t->type].svc, probe_type_port(t->type), &a[i],
			 s->notes[i], sizeof(s->notes[i]));
		if (s->notes[i][0])
			notes[i] = s->notes[i];
	}
}
