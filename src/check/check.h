/* check.h: the self-test's client side: ask every perspective agent in parallel (ask.c), apply
 * the quorum (quorum.c), explain (report.c). No privilege, except what seen.c needs. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "conf.h"
#include "log.h"
#include "probe/probe.h"

/* One identifier to check: what the CA would validate. */
struct check_target {
	enum probe_type type;
	char name[DOMAIN_LEN];
	char token[130];
	char key_authorization[260];
	char value[130];           /* dns-01: the expected TXT value (certbot's CERTBOT_VALIDATION) */
	char ca[DOMAIN_LEN];
};

/* One perspective's answer for one target. */
struct answer {
	const struct perspective_conf *pc;
	bool answered;             /* a signed 200 reply with a result came back */
	bool ok;                   /* the CA-style verdict */
	char rir[16];
	char cls[24];              /* the agent's class, or "agent" when it could not be asked */
	char detail[768];
	json_t *result;            /* the agent's result object, or NULL */
	double seconds;
};

/* Set from a signal handler: ask_all stops within a second; unanswered perspectives say so. */
extern volatile sig_atomic_t check_stop;

/* Asks every perspective of c about every target, all at once; ret has npersp * ntargets
 * answers, target-major (ret[t * npersp + p]). Never fails for one agent's sake: its answer
 * says why. Returns -ENOMEM or a libcurl setup failure only. */
int ask_all(const struct conf *c, const struct check_target *targets, size_t ntargets,
	    struct answer *ret, struct err *e);
void answers_free(struct answer *a, size_t n);

struct quorum {
	bool pass;
	bool inconclusive;         /* failed, but would pass if those not asked had passed */
	unsigned asked, passed, needed;
	unsigned unasked;          /* could not be asked: down, refused us, bad key or CA file */
	unsigned rirs;             /* distinct RIRs among the passes */
	char why[256];
};

/* Applies policy to n answers (ok[i], rir[i]); pure. */
void quorum_eval(enum quorum_policy policy, unsigned count, const struct answer *a, size_t n,
		 struct quorum *ret);
