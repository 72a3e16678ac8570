/* report.h: how a self-test is shown (text for people, JSON for tools). */
#pragma once
#include <stdio.h>
#include "check/check.h"

/* seen[i], when not NULL, says what this host saw of perspective i's probes. */
void report_text(FILE *f, const struct check_target *t, const struct answer *a, size_t n,
		 const struct quorum *q, const char *const *seen);
json_t *report_json(const struct check_target *t, const struct answer *a, size_t n,
		    const struct quorum *q, const char *const *seen);
