/* ruleset.h: what the kernel holds, as acmegate needs it: chains, rules, and which base chains
 * can drop challenge traffic. Filled by nft.c; analysed here without I/O. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_NFT 256

struct rs_chain {
	uint32_t family;
	char table[NAME_MAX_NFT];
	char name[NAME_MAX_NFT];
	char type[16];             /* "filter", "nat", "route"; empty for regular chains */
	bool base;
	uint32_t hooknum;
	int32_t prio;
	uint32_t policy;           /* NF_ACCEPT / NF_DROP, base chains only */
	int drops;                 /* analysis: -1 unknown, 0 no, 1 yes, 2 visiting */
};

struct rs_rule {
	uint32_t family;
	char table[NAME_MAX_NFT];
	char chain[NAME_MAX_NFT];
	uint64_t handle;
	bool drops;                /* drop, reject, queue or a verdict map */
	char jump[NAME_MAX_NFT];   /* target of jump/goto, empty if none */
	char comment[260];
	int l4proto;               /* the rule matches only this layer-4 protocol; -1: any */
	int dport;                 /* only this destination port; -1: any */
	uint64_t packets, bytes;   /* first counter expression */
	bool claimed;              /* window.c: matched to a recorded rule */
};

struct ruleset {
	bool gate_table;           /* our own table (inet acmegate) exists */
	struct rs_chain *chains;
	size_t nchains, cap_chains;
	struct rs_rule *rules;
	size_t nrules, cap_rules;
};

void ruleset_free(struct ruleset *rs);
struct rs_chain *ruleset_add_chain(struct ruleset *rs);
struct rs_rule *ruleset_add_rule(struct ruleset *rs);
/* Drops what a dump had read so far (a dump interrupted by a ruleset change restarts). */
void ruleset_reset_rules(struct ruleset *rs);
void ruleset_reset_chains(struct ruleset *rs);

struct rs_rule *ruleset_find_rule(const struct ruleset *rs, uint32_t family, const char *table,
				  const char *chain, uint64_t handle);
/* What a chain is asked about: a layer-4 protocol and destination port (-1: any port, for
 * chains that see a port rewritten by DNAT). */
struct rs_traffic {
	int l4proto;
	int dport;
};

/* Whether such packets in this chain can end in a drop: the policy, a drop/reject/queue or
 * verdict map rule that can match them, or a jump to a chain that can drop them. */
bool ruleset_chain_drops(struct ruleset *rs, struct rs_chain *c, const struct rs_traffic *t);

/* Hooks that see inbound traffic for this family (forward only when asked). */
bool hook_is_inbound(uint32_t family, uint32_t hooknum, bool forward);
bool hook_is_forward(uint32_t family, uint32_t hooknum);
const char *family_name(uint32_t family);
const char *hook_name(uint32_t family, uint32_t hooknum);
