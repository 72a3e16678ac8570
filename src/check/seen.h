/* seen.h: what this host's own gate rules saw while the perspectives probed it: whether a
 * failed probe reached this host at all. Reads counters (CAP_NET_ADMIN); without them the
 * report just says less. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "check/check.h"
#include "state.h"

struct seen {
	bool have;                         /* counters read before and after */
	unsigned services;                 /* services some live lease holds open */
	bool exact;                        /* the window passes only the tokens leases named */
	size_t openers[KIND_COUNT];        /* recorded rules of each kind */
	uint64_t before[KIND_COUNT], after[KIND_COUNT];
	char notes[PERSPECTIVE_MAX][256];
};

void seen_begin(struct seen *s, const struct conf *c);
void seen_end(struct seen *s);
void seen_free(struct seen *s);
/* notes[i]: what the gate says about answer i's failure, or NULL when it has nothing to add. */
void seen_notes(struct seen *s, const struct check_target *t, const struct answer *a, size_t n,
		const char **notes);
