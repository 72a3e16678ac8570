/* rules_nat.c: builds the responder's nat chain and its rules as libnftnl objects; pure, no
 * privilege; called by window.c. Golden tests (test_rules_nat.c) compare the bytecode with what
 * `nft --debug=netlink` produces for the syntax in each comment. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <libnftnl/expr.h>
#include "rules.h"
#include "rules_expr.h"
#include "rules_nat.h"

struct nftnl_chain *responder_chain(void)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, GATE_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, RESPONDER_CHAIN);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, RESPONDER_PRIO);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	return c;
}

/* redirect to :PORT (the port through register 1, as nft loads it) */
static void redirect_to(struct nftnl_rule *r, uint16_t port)
{
	struct nftnl_expr *imm = nftnl_expr_alloc("immediate");
	struct nftnl_expr *redir = nftnl_expr_alloc("redir");
	uint16_t be = htons(port);

	nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &be, sizeof(be));
	nftnl_rule_add_expr(r, imm);
	nftnl_expr_set_u32(redir, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	nftnl_expr_set_u32(redir, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	nftnl_rule_add_expr(r, redir);
}

struct nftnl_rule *rule_responder_redirect(time_t deadline, uint16_t port, const char *comment)
{
	struct nftnl_rule *r = rule_expr_new(NFPROTO_INET, GATE_TABLE, RESPONDER_CHAIN);

	if (!r)
		return NULL;
	/* the host's own requests (a relay to its web server among them) stay where they go */
	rule_expr_world_http(r, deadline);
	rule_expr_counter(r);
	redirect_to(r, port);
	rule_expr_comment(r, comment);
	return r;
}

struct nftnl_rule *rule_responder_trusted(const struct cidr *src, const char *comment)
{
	struct nftnl_rule *r = rule_expr_new(NFPROTO_INET, GATE_TABLE, RESPONDER_CHAIN);

	if (!r)
		return NULL;
	rule_expr_source(r, src);
	rule_expr_verdict(r, NFT_RETURN);
	rule_expr_comment(r, comment);
	return r;
}
