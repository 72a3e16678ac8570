/* rules_nat.h: pure builders of the HTTP-01 responder's redirect (nat) in our table (no I/O). */
#pragma once
#include <stdint.h>
#include <time.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include "conf.h"

/* Not "redirect": that is an nft keyword, and a chain of that name could not be listed back. */
#define RESPONDER_CHAIN "responder"
/* just ahead of dstnat (-100): the world's tcp/80 reaches the responder whatever the admin's
 * own nat chains do with it; after conntrack (-200), as nat chains must be */
#define RESPONDER_PRIO (-101)
#define RESPONDER_WHAT "http-01 responder"   /* gate_comment()'s what for these rules */

/* chain responder { type nat hook prerouting priority -101; policy accept; } in inet acmegate */
struct nftnl_chain *responder_chain(void);
/* meta iiftype != loopback fib daddr type local meta time < T tcp dport 80 counter
 * redirect to :PORT */
struct nftnl_rule *rule_responder_redirect(time_t deadline, uint16_t port, const char *comment);
/* meta nfproto ipv4 ip saddr P return (or ip6): a trusted source keeps the real web server */
struct nftnl_rule *rule_responder_trusted(const struct cidr *src, const char *comment);
