/* rules.h: pure builders of the gate's nftables objects (no I/O). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include "conf.h"

#define GATE_TABLE "acmegate"           /* our own table, family inet */
#define GATE_CHAIN "gate"               /* its prerouting chain: the HTTP path gate */
#define GATE_SET "b64url"               /* the 64 characters an ACME token may use */
#define GATE_EXPECT_CHAIN "expect"      /* its postrouting chain: learns first stream bytes */
#define GATE_FIRST4 "first4"            /* client address . port . first sequence number */
#define GATE_FIRST6 "first6"
#define GATE_TOKEN_SET "tokens"         /* the tokens of a token-exact window */
#define GATE_TALLY_CHAIN "tally"        /* its last input chain: counts what the window let in */
#define GATE_TALLY_PRIO 2147483647
#define GATE_PRIO (-175)                /* after conntrack (-200), before dstnat (-100) */
#define GATE_COMMENT_PREFIX "acmegate:"

/* What one opener lets through: a layer-4 protocol and destination port. */
struct opening {
	uint8_t l4proto;
	uint16_t port;
};

enum {
	/* ct original proto-dst N instead of th dport N: the port before any NAT rewrote it */
	OPEN_ORIGINAL_PORT = 1 << 0,
	/* ct state != invalid: leave invalid packets to the chain's own rules */
	OPEN_SKIP_INVALID = 1 << 1,
	/* fib daddr type local: traffic for this host, not routed through it */
	OPEN_LOCAL = 1 << 2,
	/* ct status dnat: a port the admin published by DNAT (forward chains) */
	OPEN_DNAT = 1 << 3,
};

/* meta time < deadline [fib daddr type local] meta l4proto P th dport N [ct status dnat]
 * [ct state != invalid] counter accept, at the head of a foreign chain. */
struct nftnl_rule *rule_opener(int family, const char *table, const char *chain,
			       const struct opening *o, time_t deadline, const char *comment,
			       unsigned flags);
/* The path gate's accept rule for one family: the stream's first data segment (by sequence
 * number), and it starts exactly "GET /.well-known/acme-challenge/<token_len chars> HTTP/1.";
 * exact: the token must be one of set tokens. */
struct nftnl_rule *rule_path_accept(int nfproto, time_t deadline, unsigned token_len,
				    bool exact, const char *comment);
/* Records, from the server's SYN-ACK, where the client's stream starts (one family). */
struct nftnl_rule *rule_path_expect(int nfproto, const char *comment);
/* The path gate's reset rule: any other data segment to tcp/80. */
struct nftnl_rule *rule_path_reset(time_t deadline, const char *comment);

/* ip saddr 198.51.100.0/24 accept (or ip6 saddr …) in the path gate: a trusted source skips
 * the gate's checks; the user's own chains still judge it. */
struct nftnl_rule *rule_path_trusted(const struct cidr *src, const char *comment);

struct nftnl_table *gate_table(void);
struct nftnl_chain *gate_chain(void);
struct nftnl_set *gate_set(void);
struct nftnl_chain *gate_expect_chain(void);
struct nftnl_set *gate_first_set(int nfproto);
/* The tokens a token-exact window passes (each token_len characters). */
struct nftnl_set *gate_token_set(unsigned token_len, const char *const *tokens, size_t n);
struct nftnl_chain *gate_tally_chain(void);
/* Counts one opening's new connections (TCP SYNs, UDP datagrams) that reached this host. */
struct nftnl_rule *rule_tally(const struct opening *o, time_t deadline, const char *comment);

/* "acmegate: http-01 until 2026-12-03T18:40:00Z" */
void gate_comment(char *buf, size_t len, const char *what, time_t deadline);
/* Whether a rule comment is one gate_comment() (or the trusted-source rule) writes. */
bool gate_comment_is_ours(const char *comment);
