/* nft.h: the only interface to the kernel's nf_tables (netlink, libmnl + libnftnl).
 * Needs CAP_NET_ADMIN in the network namespace it runs in. */
#pragma once
#include <stdint.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include "log.h"
#include "ruleset.h"

struct nft;
struct nft_batch;

int nft_open(struct nft **ret, struct err *e);
void nft_close(struct nft *n);

/* The socket and sequence numbers, for other nfnetlink subsystems (ct.c): one socket per
 * process, so that only one close pays the kernel's post-delete wait. */
struct mnl_socket *nft_socket(struct nft *n);
uint32_t nft_next_seq(struct nft *n);

/* Reads every chain and rule of every family into rs (restarting if the ruleset changes
 * meanwhile). Set elements are not read: the cost does not grow with the user's sets. */
int nft_dump(struct nft *n, struct ruleset *rs, struct err *e);

/* One batch = one atomic transaction. Each add_* takes ownership of the object.
 * desc names the operation in error messages. Returns the operation's index or -errno. */
struct nft_batch *nft_batch_new(struct nft *n);
void nft_batch_free(struct nft_batch *b);
int nft_batch_insert_rule(struct nft_batch *b, struct nftnl_rule *r, const char *desc);
int nft_batch_delete_rule(struct nft_batch *b, uint32_t family, const char *table,
			  const char *chain, uint64_t handle, const char *desc);
int nft_batch_add_table(struct nft_batch *b, struct nftnl_table *t, const char *desc);
int nft_batch_delete_table(struct nft_batch *b, struct nftnl_table *t, const char *desc);
int nft_batch_add_chain(struct nft_batch *b, struct nftnl_chain *c, const char *desc);
int nft_batch_add_set(struct nft_batch *b, struct nftnl_set *s, const char *desc);
/* Sends the batch; all or nothing. On failure e names the first operation the kernel refused. */
int nft_batch_commit(struct nft_batch *b, struct err *e);
/* Handle the kernel echoed for an inserted rule (0 if none). */
uint64_t nft_batch_handle(const struct nft_batch *b, int op);
