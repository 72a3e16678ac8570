/* selftest.h: one whole self-test: place a probe file when needed, ask every perspective, apply
 * the quorum, report, clean up. Called by `acmegate check`, `run` and `open --check`. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include "check/check.h"

struct selftest {
	struct check_target targets[DOMAIN_MAX * 2];  /* each domain, and its caa check */
	size_t ntargets;
	enum quorum_policy quorum;
	unsigned quorum_count;
	bool json;
	bool probe_file;       /* http-01 targets without a token: place a probe file */
	const char *webroot;   /* where it goes: what serves port 80's challenges */
};

/* What a self-test found: a decided failure wins over an undecided target. */
enum selftest_result {
	SELFTEST_FAIL = 0,          /* a quorum failed on what the perspectives saw */
	SELFTEST_PASS = 1,          /* every target passed its quorum */
	SELFTEST_INCONCLUSIVE = 2,  /* too few perspectives could be asked to decide a quorum */
};

/* Runs st against c's perspectives, writing the report to out. Returns an enum selftest_result,
 * or a negative errno (e says why) when it could not run. */
int selftest_run(const struct conf *c, struct selftest *st, FILE *out, struct err *e);
/* Removes the probe file of a running self-test; async-signal-safe. */
void selftest_cleanup_now(void);
