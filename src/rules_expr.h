/* rules_expr.h: expression groups rules.c builds, shared with the other rule builders
 * (rules_nat.c); pure, no I/O. Each names the nft syntax it appends. */
#pragma once
#include <time.h>
#include <libnftnl/rule.h>
#include "conf.h"

/* An empty rule for family/table/chain; NULL when out of memory. */
struct nftnl_rule *rule_expr_new(int family, const char *table, const char *chain);
/* meta iiftype != loopback fib daddr type local meta time < T meta l4proto tcp th dport 80 */
void rule_expr_world_http(struct nftnl_rule *r, time_t deadline);
/* meta nfproto ipv4 ip saddr P (or ipv6, ip6 saddr P) */
void rule_expr_source(struct nftnl_rule *r, const struct cidr *src);
/* counter */
void rule_expr_counter(struct nftnl_rule *r);
/* accept, drop, return, ... (NF_ACCEPT, NFT_RETURN) */
void rule_expr_verdict(struct nftnl_rule *r, int v);
/* comment "…" */
void rule_expr_comment(struct nftnl_rule *r, const char *comment);
