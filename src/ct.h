/* ct.h: forgetting the connections a window let in, when it closes. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "log.h"
#include "nft.h"
#include "rules.h"

/* Deletes the conntrack entries of connections to this host's addresses on these ports, so
 * that a connection opened during a window cannot outlive it through a ruleset's
 * "ct state established accept". Connections of allowed sources are picked up again by
 * conntrack at their next packet; others meet the firewall as new. Returns how many were
 * deleted, or -errno. Needs CAP_NET_ADMIN. */
int ct_forget(struct nft *nft, const struct opening *ports, size_t n, struct err *e);
