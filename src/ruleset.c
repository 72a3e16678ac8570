/* ruleset.c: the in-memory ruleset and the "can this chain drop?" analysis; pure, no privilege. */
#include <linux/netfilter.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "ruleset.h"

void ruleset_free(struct ruleset *rs)
{
	free(rs->chains);
	free(rs->rules);
	memset(rs, 0, sizeof(*rs));
}

struct rs_chain *ruleset_add_chain(struct ruleset *rs)
{
	struct rs_chain *p;

	if (array_grow((void **)&rs->chains, &rs->cap_chains, rs->nchains, sizeof(*p)) < 0)
		return NULL;
	p = &rs->chains[rs->nchains++];
	memset(p, 0, sizeof(*p));
	p->drops = -1;
	return p;
}

struct rs_rule *ruleset_add_rule(struct ruleset *rs)
{
	struct rs_rule *p;

	if (array_grow((void **)&rs->rules, &rs->cap_rules, rs->nrules, sizeof(*p)) < 0)
		return NULL;
	p = &rs->rules[rs->nrules++];
	memset(p, 0, sizeof(*p));
	p->l4proto = -1;
	p->dport = -1;
	return p;
}

void ruleset_reset_rules(struct ruleset *rs)
{
	rs->nrules = 0;
}

void ruleset_reset_chains(struct ruleset *rs)
{
	rs->nchains = 0;
}

struct rs_rule *ruleset_find_rule(const struct ruleset *rs, uint32_t family, const char *table,
				  const char *chain, uint64_t handle)
{
	for (size_t i = 0; i < rs->nrules; i++) {
		struct rs_rule *r = &rs->rules[i];

		if (r->handle == handle && r->family == family &&
		    !strcmp(r->table, table) && !strcmp(r->chain, chain))
			return r;
	}
	return NULL;
}

static struct rs_chain *find_chain(struct ruleset *rs, uint32_t family, const char *table,
				   const char *name)
{
	for (size_t i = 0; i < rs->nchains; i++) {
		struct rs_chain *c = &rs->chains[i];

		if (c->family == family && !strcmp(c->table, table) && !strcmp(c->name, name))
			return c;
	}
	return NULL;
}

/* A rule that names another protocol or port than the traffic's cannot match it. */
static bool rule_may_match(const struct rs_rule *r, const struct rs_traffic *t)
{
	if (r->l4proto >= 0 && r->l4proto != t->l4proto)
		return false;
	return r->dport < 0 || t->dport < 0 || r->dport == t->dport;
}

static bool chain_drops(struct ruleset *rs, struct rs_chain *c, const struct rs_traffic *t);

/* A jump target we cannot see (vanished meanwhile) is assumed to drop: opening too much in
 * our own rules costs nothing, missing a drop costs the validation. */
static bool rule_drops(struct ruleset *rs, const struct rs_rule *r, const struct rs_traffic *t)
{
	struct rs_chain *target;

	if (!rule_may_match(r, t))
		return false;
	if (r->drops)
		return true;
	if (!r->jump[0])
		return false;
	target = find_chain(rs, r->family, r->table, r->jump);
	return !target || chain_drops(rs, target, t);
}

static bool chain_drops(struct ruleset *rs, struct rs_chain *c, const struct rs_traffic *t)
{
	bool drops;

	if (c->drops == 0 || c->drops == 1)
		return c->drops;
	if (c->drops == 2) /* the kernel refuses loops; be safe anyway */
		return false;
	c->drops = 2;
	drops = c->base && c->policy == NF_DROP;
	for (size_t i = 0; i < rs->nrules && !drops; i++) {
		struct rs_rule *r = &rs->rules[i];

		if (r->family == c->family && !strcmp(r->table, c->table) && !strcmp(r->chain, c->name))
			drops = rule_drops(rs, r, t);
	}
	c->drops = drops;
	return drops;
}

bool ruleset_chain_drops(struct ruleset *rs, struct rs_chain *c, const struct rs_traffic *t)
{
	/* the memo holds for one question at a time */
	for (size_t i = 0; i < rs->nchains; i++)
		rs->chains[i].drops = -1;
	return chain_drops(rs, c, t);
}

bool hook_is_forward(uint32_t family, uint32_t hooknum)
{
	return family != NFPROTO_NETDEV && hooknum == NF_INET_FORWARD;
}

bool hook_is_inbound(uint32_t family, uint32_t hooknum, bool forward)
{
	switch (family) {
	case NFPROTO_NETDEV:
		return hooknum == NF_NETDEV_INGRESS;
	case NFPROTO_INET:
		if (hooknum == NF_INET_INGRESS)
			return true;
		/* fall through */
	case NFPROTO_IPV4:
	case NFPROTO_IPV6:
		return hooknum == NF_INET_PRE_ROUTING || hooknum == NF_INET_LOCAL_IN ||
		       (forward && hooknum == NF_INET_FORWARD);
	default:
		return false;
	}
}

const char *family_name(uint32_t family)
{
	switch (family) {
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_INET: return "inet";
	case NFPROTO_NETDEV: return "netdev";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	default: return "unknown";
	}
}

const char *hook_name(uint32_t family, uint32_t hooknum)
{
	static const char *const inet[] = { "prerouting", "input", "forward", "output",
					    "postrouting", "ingress" };

	if (family == NFPROTO_NETDEV)
		return hooknum == NF_NETDEV_INGRESS ? "ingress" : "egress";
	return hooknum < 6 ? inet[hooknum] : "?";
}
