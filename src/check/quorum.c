/* quorum.c: the CA's corroboration rule applied to the perspectives' verdicts (CA/B Forum BR
 * 3.2.2.9); pure, no I/O. Called by acmegate check. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "check/check.h"

/* Distinct RIR names among the passing answers. */
static unsigned passing_rirs(const struct answer *a, size_t n)
{
	unsigned count = 0;

	for (size_t i = 0; i < n; i++) {
		bool before = false;

		if (!a[i].ok)
			continue;
		for (size_t j = 0; j < i && !before; j++)
			before = a[j].ok && !strcasecmp(a[j].rir, a[i].rir);
		count += !before;
	}
	return count;
}

/* BR: with 2-5 remotes one may fail, with 6 or more two; the passes span 2 RIRs. */
static bool cabf_pass(unsigned asked, unsigned passed, unsigned rirs)
{
	unsigned allowed = asked >= 6 ? 2 : 1;

	return asked >= 2 && passed >= asked - allowed && rirs >= 2;
}

static void eval_cabf(struct quorum *q)
{
	unsigned allowed = q->asked >= 6 ? 2 : 1;

	if (q->asked < 2) {
		q->needed = 2;
		snprintf(q->why, sizeof(q->why), "cabf needs at least 2 perspectives (a CA uses 4 or "
			 "more); configure more, or set quorum = all");
		return;
	}
	q->needed = q->asked - allowed;
	q->pass = cabf_pass(q->asked, q->passed, q->rirs);
	/* an agent that could not be asked may be in any region */
	q->inconclusive = !q->pass && cabf_pass(q->asked, q->passed + q->unasked, q->rirs + q->unasked);
	if (q->passed < q->needed)
		snprintf(q->why, sizeof(q->why), "%u of %u passed; cabf needs %u (%u may fail)",
			 q->passed, q->asked, q->needed, allowed);
	else if (q->rirs < 2)
		snprintf(q->why, sizeof(q->why), "%u of %u passed, but all in one RIR region; cabf "
			 "needs passes from at least 2", q->passed, q->asked);
	else
		snprintf(q->why, sizeof(q->why), "%u of %u passed, from %u RIR regions; cabf needs "
			 "%u from 2 regions", q->passed, q->asked, q->rirs, q->needed);
}

/* A failed quorum that the perspectives which could not be asked might still have passed is
 * undecided: that says nothing about what a CA would see. */
static void say_inconclusive(struct quorum *q)
{
	size_t n = strlen(q->why);

	if (q->inconclusive)
		snprintf(q->why + n, sizeof(q->why) - n, "; %u could not be asked, too many to decide",
			 q->unasked);
}

void quorum_eval(enum quorum_policy policy, unsigned count, const struct answer *a, size_t n,
		 struct quorum *ret)
{
	struct quorum q = { .asked = (unsigned)n };

	for (size_t i = 0; i < n; i++) {
		q.passed += a[i].ok;
		q.unasked += !a[i].answered;
	}
	q.rirs = passing_rirs(a, n);
	if (policy == QUORUM_CABF) {
		eval_cabf(&q);
		say_inconclusive(&q);
		*ret = q;
		return;
	}
	if (policy == QUORUM_ALL)
		q.needed = q.asked;
	else if (policy == QUORUM_MAJORITY)
		q.needed = q.asked / 2 + 1;
	else
		q.needed = count;
	q.pass = q.asked > 0 && q.passed >= q.needed;
	q.inconclusive = !q.pass && q.asked > 0 && q.passed + q.unasked >= q.needed;
	snprintf(q.why, sizeof(q.why), "%u of %u passed; quorum %s needs %u", q.passed, q.asked,
		 policy == QUORUM_COUNT ? "count" : quorum_name(policy), q.needed);
	say_inconclusive(&q);
	*ret = q;
}
