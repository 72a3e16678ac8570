/* resolve.c: a CA's own iterative resolver (libunbound): a fresh context per check, no cache
 * carried over, no forwarding to the host's resolv.conf. No privilege; called by the checks. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include "probe/probe_int.h"

struct pending {
	bool done;
	int err;
	struct ub_result *res;
};

static int refuse_server(void *arg, const char *prefix)
{
	return ub_ctx_set_option(arg, "do-not-query-address:", prefix) == 0 ? 0 : -EINVAL;
}

/* The resolver follows delegations wherever they point, so without this a caller's zone (evil.
 * NS ns.evil., ns.evil. A 10.9.9.9) would make the agent send DNS to internal hosts: it may ask
 * only the servers the guard would let a probe connect to. */
static int guard_resolver(struct ub_ctx *ub, const struct guard *g)
{
	bool local = guard_opens(g, "127.0.0.0/8") || guard_opens(g, "::1/128");

	if (ub_ctx_set_option(ub, "do-not-query-localhost:", local ? "no" : "yes") != 0)
		return -EINVAL;
	return guard_refused(g, refuse_server, ub);
}

int resolver_new(const struct probe_opts *o, struct ub_ctx **ret, struct err *e)
{
	struct ub_ctx *ub = ub_ctx_create();
	int r;

	if (!ub)
		return err_set(e, -ENOMEM, "probe: cannot create the resolver");
	/* a worker thread, so a lookup can be given up after DNS_TIMEOUT_MS */
	r = ub_ctx_async(ub, 1);
	/* unbound answers "test." itself (RFC 6761); ask the roots like a CA does (the public root
	 * says NXDOMAIN; a private root given by root hints, as in the tests, has it) */
	if (r == 0)
		r = ub_ctx_set_option(ub, "local-zone:", "test. transparent");
	if (r == 0 && o->root_hints)
		r = ub_ctx_set_option(ub, "root-hints:", o->root_hints);
	if (r != 0) {
		ub_ctx_delete(ub);
		return err_set(e, -EINVAL, "probe: resolver setup (root hints '%s'): %s",
			       o->root_hints ? o->root_hints : "built in", ub_strerror(r));
	}
	if (o->guard && guard_resolver(ub, o->guard) < 0) {
		ub_ctx_delete(ub);
		return err_set(e, -EINVAL, "probe: resolver setup: cannot refuse special-use servers");
	}
	if (o->trust_anchor && (r = ub_ctx_add_ta_file(ub, o->trust_anchor)) != 0) {
		ub_ctx_delete(ub);
		return err_set(e, -EINVAL, "probe: trust anchor '%s': %s", o->trust_anchor, ub_strerror(r));
	}
	*ret = ub;
	return 0;
}

const char *rrtype_name(int rrtype)
{
	switch (rrtype) {
	case 1: return "A";
	case 2: return "NS";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 257: return "CAA";
	default: return "?";
	}
}

static const char *rcode_name(int rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" };

	return rcode >= 0 && rcode < 6 ? names[rcode] : "rcode error";
}

static void on_answer(void *arg, int err, struct ub_result *res)
{
	struct pending *p = arg;

	p->done = true;
	p->err = err;
	p->res = res;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for one asynchronous lookup; false when DNS_TIMEOUT_MS passed (it is cancelled). */
static bool wait_answer(struct ub_ctx *ub, struct pending *p, int id)
{
	long long deadline = now_ms() + DNS_TIMEOUT_MS;

	while (!p->done) {
		long long left = deadline - now_ms();
		struct pollfd pfd = { .fd = ub_fd(ub), .events = POLLIN };

		if (left <= 0) {
			ub_cancel(ub, id);
			return false;
		}
		poll(&pfd, 1, (int)left);
		ub_process(ub);
	}
	return true;
}

/* One lookup. NULL with *ret set for an answer (NOERROR, with or without data, or NXDOMAIN:
 * the caller decides what absence means); else the class ("dns", "dnssec") and a detail in
 * Boulder's words. */
const char *resolver_query(struct ub_ctx *ub, const char *name, int rrtype,
			   struct ub_result **ret, char *detail, size_t len)
{
	struct pending p = { 0 };
	const char *t = rrtype_name(rrtype);
	int id, r = ub_resolve_async(ub, name, rrtype, 1, &p, on_answer, &id);

	if (r != 0) {
		snprintf(detail, len, "DNS problem: looking up %s for %s: %s", t, name, ub_strerror(r));
		return "dns";
	}
	if (!wait_answer(ub, &p, id)) {
		snprintf(detail, len, "DNS problem: query timed out looking up %s for %s", t, name);
		return "dns";
	}
	if (p.err != 0) {
		snprintf(detail, len, "DNS problem: looking up %s for %s: %s", t, name, ub_strerror(p.err));
		return "dns";
	}
	if (p.res->bogus) {
		snprintf(detail, len, "DNS problem: DNSSEC validation failed looking up %s for %s: %s", t,
			 name, p.res->why_bogus ? p.res->why_bogus : "bogus answer");
		ub_resolve_free(p.res);
		return "dnssec";
	}
	if (p.res->rcode != 0 && p.res->rcode != 3) {
		snprintf(detail, len, "DNS problem: %s looking up %s for %s - the domain's nameservers "
			 "may be malfunctioning", rcode_name(p.res->rcode), t, name);
		ub_resolve_free(p.res);
		return "dns";
	}
	*ret = p.res;
	return NULL;
}

static void add_addrs(struct addrs *a, const struct ub_result *res, int af)
{
	for (int i = 0; res->havedata && res->data[i]; i++) {
		struct sockaddr_storage ss = { 0 };
		size_t *n = af == AF_INET ? &a->n4 : &a->n6;

		if (*n >= PROBE_ADDR_MAX)
			break;
		ss.ss_family = (sa_family_t)af;
		if (af == AF_INET && res->len[i] == 4)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, res->data[i], 4);
		else if (af == AF_INET6 && res->len[i] == 16)
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, res->data[i], 16);
		else
			continue;
		(af == AF_INET ? a->v4 : a->v6)[(*n)++] = ss;
	}
}

/* Looks up one family; NULL or a failure's class (the detail then says why). */
static const char *lookup_family(struct probe_ctx *c, const char *name, int af, struct addrs *a,
				 char *detail, size_t len)
{
	struct ub_result *res = NULL;
	int type = af == AF_INET ? 1 : 28;
	const char *cls = resolver_query(c->ub, name, type, &res, detail, len);

	if (cls)
		return cls;
	if (res->rcode == 3) {
		snprintf(detail, len, "DNS problem: NXDOMAIN looking up %s for %s - check that a DNS "
			 "record exists for this domain", rrtype_name(type), name);
		ub_resolve_free(res);
		return "dns";
	}
	add_addrs(a, res, af);
	ub_resolve_free(res);
	return NULL;
}

/* A name's addresses (an IP literal is its own). Fails only when there are none: like
 * Boulder, one family's error is ignored when the other has addresses. */
int resolve_host(struct probe_ctx *c, const char *name, struct addrs *ret, struct outcome *out)
{
	struct sockaddr_storage lit;
	char d6[DETAIL_MAX], d4[DETAIL_MAX];
	const char *c6, *c4;

	memset(ret, 0, sizeof(*ret));
	if (addr_literal(name, 0, &lit) == 0) {
		if (lit.ss_family == AF_INET)
			ret->v4[ret->n4++] = lit;
		else
			ret->v6[ret->n6++] = lit;
		return 0;
	}
	c6 = lookup_family(c, name, AF_INET6, ret, d6, sizeof(d6));
	c4 = lookup_family(c, name, AF_INET, ret, d4, sizeof(d4));
	if (ret->n4 + ret->n6 > 0)
		return 0;
	if (c6 || c4) {
		outcome_set(out, c6 ? c6 : c4, "%s", c6 ? d6 : d4);
		return -ENOENT;
	}
	outcome_set(out, "no-address", "No valid IP addresses found for %s", name);
	return -ENOENT;
}
