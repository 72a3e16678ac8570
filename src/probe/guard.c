/* guard.c: refuses special-use destinations (loopback, private, documentation, ...) unless
 * the agent's allow list names them. No privilege; called before every connection a probe makes,
 * and by resolve.c for the name servers its resolver may ask. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <linux/netfilter.h>
#include "probe/probe.h"

struct special {
	const char *prefix;
	const char *what;
};

/* IANA's special-purpose registries, the entries a CA would never be sent to. */
static const struct special special4[] = {
	{ "0.0.0.0/8", "this network" },
	{ "10.0.0.0/8", "private-use" },
	{ "100.64.0.0/10", "shared address space" },
	{ "127.0.0.0/8", "loopback" },
	{ "169.254.0.0/16", "link-local" },
	{ "172.16.0.0/12", "private-use" },
	{ "192.0.0.0/24", "IETF protocol assignments" },
	{ "192.0.2.0/24", "documentation" },
	{ "192.88.99.0/24", "6to4 relay anycast" },
	{ "192.168.0.0/16", "private-use" },
	{ "198.18.0.0/15", "benchmarking" },
	{ "198.51.100.0/24", "documentation" },
	{ "203.0.113.0/24", "documentation" },
	{ "224.0.0.0/4", "multicast" },
	{ "240.0.0.0/4", "reserved" },
};

static const struct special special6[] = {
	{ "::/128", "unspecified" },
	{ "::1/128", "loopback" },
	{ "64:ff9b::/96", "IPv4/IPv6 translation" },
	{ "100::/64", "discard-only" },
	{ "2001::/23", "IETF protocol assignments" },
	{ "2001:db8::/32", "documentation" },
	{ "2002::/16", "6to4" },
	{ "fc00::/7", "unique-local" },
	{ "fe80::/10", "link-local" },
	{ "ff00::/8", "multicast" },
};

static bool cidr_has(const struct cidr *c, int family, const uint8_t *addr)
{
	unsigned full = c->plen / 8, rest = c->plen % 8;

	if (c->family != (family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6))
		return false;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

static bool allowed(const struct guard *g, int family, const uint8_t *addr)
{
	for (size_t i = 0; i < g->nallow; i++)
		if (cidr_has(&g->allow[i], family, addr))
			return true;
	return false;
}

/* The special-use entry holding addr, or NULL. */
static const struct special *special_of(int family, const uint8_t *addr)
{
	const struct special *t = family == AF_INET ? special4 : special6;
	size_t n = family == AF_INET ? sizeof(special4) / sizeof(*special4)
				     : sizeof(special6) / sizeof(*special6);
	struct cidr c;

	for (size_t i = 0; i < n; i++) {
		int r = parse_cidr(t[i].prefix, &c);

		assert(r == 0);
		if (r == 0 && cidr_has(&c, family, addr))
			return &t[i];
	}
	return NULL;
}

static int refuse(struct err *e, const char *shown, const struct special *s)
{
	return err_set(e, -EACCES, "%s is in %s (%s); the agent does not connect there unless "
		       "allow_destination lists it", shown, s->prefix, s->what);
}

int guard_check(const struct guard *g, const struct sockaddr *sa, struct err *e)
{
	char shown[INET6_ADDRSTRLEN];
	const struct special *s;
	const uint8_t *a;
	int family = sa->sa_family;

	if (family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (family == AF_INET6)
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	else
		return err_set(e, -EACCES, "address family %d: the agent connects over IPv4 and IPv6 only", family);
	if (!g || allowed(g, family, a))
		return 0;
	inet_ntop(family, a, shown, sizeof(shown));
	/* ::ffff:a.b.c.d reaches a.b.c.d: judge the IPv4 address inside */
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
		if (allowed(g, AF_INET, a + 12))
			return 0;
		s = special_of(AF_INET, a + 12);
		return s ? refuse(e, shown, s) : 0;
	}
	s = special_of(family, a);
	return s ? refuse(e, shown, s) : 0;
}

/* outer holds all of inner. */
static bool cidr_within(const struct cidr *outer, const struct cidr *inner)
{
	int family = inner->family == NFPROTO_IPV4 ? AF_INET : AF_INET6;

	return outer->plen <= inner->plen && cidr_has(outer, family, inner->addr);
}

/* allow_destination takes some or all of c. */
static bool opened(const struct guard *g, const struct cidr *c)
{
	for (size_t i = 0; i < g->nallow; i++)
		if (cidr_within(&g->allow[i], c) || cidr_within(c, &g->allow[i]))
			return true;
	return false;
}

static bool opened_all(const struct guard *g, const struct cidr *c)
{
	for (size_t i = 0; i < g->nallow; i++)
		if (cidr_within(&g->allow[i], c))
			return true;
	return false;
}

/* c as text to fn, and an IPv4 prefix again as IPv4-mapped IPv6 (::ffff:a.b.c.d reaches it). */
static int emit(const struct cidr *c, guard_prefix_fn fn, void *arg)
{
	char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 12];
	bool v4 = c->family == NFPROTO_IPV4;
	int r;

	inet_ntop(v4 ? AF_INET : AF_INET6, c->addr, addr, sizeof(addr));
	snprintf(text, sizeof(text), "%s/%u", addr, c->plen);
	r = fn(arg, text);
	if (r < 0 || !v4)
		return r;
	snprintf(text, sizeof(text), "::ffff:%s/%u", addr, 96u + c->plen);
	return fn(arg, text);
}

/* The part of c that allow_destination leaves refused: c, or its halves' parts, until each
 * piece lies wholly inside or wholly outside the allow list (at most one piece per bit). */
static int emit_refused(const struct guard *g, const struct cidr *c, guard_prefix_fn fn, void *arg)
{
	struct cidr lo = *c, hi = *c;
	int r;

	if (opened_all(g, c))
		return 0;
	if (!opened(g, c))
		return emit(c, fn, arg);
	/* some allow prefix lies strictly inside c, so c is not a host route and can be halved */
	lo.plen = hi.plen = (uint8_t)(c->plen + 1);
	hi.addr[c->plen / 8] |= (uint8_t)(0x80 >> (c->plen % 8));
	r = emit_refused(g, &lo, fn, arg);
	return r < 0 ? r : emit_refused(g, &hi, fn, arg);
}

int guard_refused(const struct guard *g, guard_prefix_fn fn, void *arg)
{
	const struct special *tables[] = { special4, special6 };
	size_t sizes[] = { sizeof(special4) / sizeof(*special4), sizeof(special6) / sizeof(*special6) };
	struct cidr c;
	int r = 0;

	for (size_t t = 0; t < 2 && r >= 0; t++) {
		for (size_t i = 0; i < sizes[t] && r >= 0; i++) {
			r = parse_cidr(tables[t][i].prefix, &c);
			assert(r == 0);
			r = emit_refused(g, &c, fn, arg);
		}
	}
	return r;
}

bool guard_opens(const struct guard *g, const char *prefix)
{
	struct cidr c;
	int r = parse_cidr(prefix, &c);

	assert(r == 0);
	return r == 0 && opened(g, &c);
}
