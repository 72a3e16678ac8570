/* test_ruleset.c: which chains "can drop" (policy, drop/reject rules, jumps to dropping
 * chains, verdict maps) and which hooks see inbound traffic. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>
#include "ruleset.h"

static const struct rs_traffic http = { .l4proto = 6, .dport = 80 };

static struct rs_chain *chain(struct ruleset *rs, const char *name, bool base, uint32_t policy)
{
	struct rs_chain *c = ruleset_add_chain(rs);

	c->family = NFPROTO_INET;
	snprintf(c->table, sizeof(c->table), "filter");
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->base = base;
	c->hooknum = NF_INET_LOCAL_IN;
	c->policy = policy;
	return c;
}

static void rule(struct ruleset *rs, const char *chain_name, bool drops, const char *jump)
{
	struct rs_rule *r = ruleset_add_rule(rs);

	r->family = NFPROTO_INET;
	snprintf(r->table, sizeof(r->table), "filter");
	snprintf(r->chain, sizeof(r->chain), "%s", chain_name);
	r->handle = rs->nrules;
	r->drops = drops;
	snprintf(r->jump, sizeof(r->jump), "%s", jump ? jump : "");
}

/* tcp dport 22 drop cannot drop tcp/80; a jump for udp cannot either */
static void test_ports(void **state)
{
	struct ruleset rs = { 0 };
	const struct rs_traffic any_port = { .l4proto = 6, .dport = -1 };

	(void)state;
	chain(&rs, "input", true, NF_ACCEPT);
	chain(&rs, "sub", false, 0);
	rule(&rs, "input", true, NULL);
	rs.rules[0].l4proto = 6;
	rs.rules[0].dport = 22;
	rule(&rs, "input", false, "sub");
	rs.rules[1].l4proto = 17;
	rule(&rs, "sub", true, NULL);
	assert_false(ruleset_chain_drops(&rs, &rs.chains[0], &http));
	assert_true(ruleset_chain_drops(&rs, &rs.chains[0], &any_port));
	rs.rules[0].dport = 80;
	assert_true(ruleset_chain_drops(&rs, &rs.chains[0], &http));
	ruleset_free(&rs);
}

static void test_policy(void **state)
{
	struct ruleset rs = { 0 };

	(void)state;
	chain(&rs, "input", true, NF_DROP);
	chain(&rs, "open", true, NF_ACCEPT);
	rule(&rs, "open", false, NULL);
	assert_true(ruleset_chain_drops(&rs, &rs.chains[0], &http));
	assert_false(ruleset_chain_drops(&rs, &rs.chains[1], &http));
	ruleset_free(&rs);
}

static void test_jumps(void **state)
{
	struct ruleset rs = { 0 };

	(void)state;
	chain(&rs, "input", true, NF_ACCEPT);
	chain(&rs, "geo", false, 0);
	chain(&rs, "deeper", false, 0);
	chain(&rs, "harmless", false, 0);
	chain(&rs, "input2", true, NF_ACCEPT);
	rule(&rs, "input", false, "geo");
	rule(&rs, "geo", false, "deeper");
	rule(&rs, "deeper", true, NULL);
	rule(&rs, "input2", false, "harmless");
	rule(&rs, "harmless", false, NULL);
	assert_true(ruleset_chain_drops(&rs, &rs.chains[0], &http));
	assert_false(ruleset_chain_drops(&rs, &rs.chains[4], &http));
	ruleset_free(&rs);
}

static void test_missing_target_counts_as_drop(void **state)
{
	struct ruleset rs = { 0 };

	(void)state;
	chain(&rs, "input", true, NF_ACCEPT);
	rule(&rs, "input", false, "vanished");
	assert_true(ruleset_chain_drops(&rs, &rs.chains[0], &http));
	ruleset_free(&rs);
}

static void test_hooks(void **state)
{
	(void)state;
	assert_true(hook_is_inbound(NFPROTO_NETDEV, NF_NETDEV_INGRESS, false));
	assert_true(hook_is_inbound(NFPROTO_INET, NF_INET_INGRESS, false));
	assert_true(hook_is_inbound(NFPROTO_IPV4, NF_INET_PRE_ROUTING, false));
	assert_true(hook_is_inbound(NFPROTO_IPV6, NF_INET_LOCAL_IN, false));
	assert_false(hook_is_inbound(NFPROTO_IPV6, NF_INET_FORWARD, false));
	assert_true(hook_is_inbound(NFPROTO_IPV6, NF_INET_FORWARD, true));
	assert_false(hook_is_inbound(NFPROTO_IPV4, NF_INET_LOCAL_OUT, true));
	assert_false(hook_is_inbound(NFPROTO_IPV4, NF_INET_INGRESS, false));
	assert_false(hook_is_inbound(NFPROTO_BRIDGE, NF_INET_LOCAL_IN, true));
	assert_string_equal(hook_name(NFPROTO_NETDEV, 0), "ingress");
	assert_string_equal(family_name(NFPROTO_INET), "inet");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_missing_target_counts_as_drop),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_hooks),
	};

	return cmocka_run_group_tests_name("ruleset", tests, NULL, NULL);
}
