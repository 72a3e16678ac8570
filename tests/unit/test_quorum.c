/* test_quorum.c: the CA/B Forum quorum and the other policies, on made-up verdicts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "check/check.h"

/* verdicts: "1ARIN 0RIPE ? ..." -> answers; "?" could not be asked */
static size_t answers(const char *spec, struct answer *a)
{
	size_t n = 0;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save), n++) {
		memset(&a[n], 0, sizeof(a[n]));
		a[n].ok = w[0] == '1';
		a[n].answered = w[0] != '?';
		snprintf(a[n].rir, sizeof(a[n].rir), "%s", w + 1);
	}
	return n;
}

static bool verdict(enum quorum_policy p, unsigned count, const char *spec)
{
	struct answer a[16];
	struct quorum q;
	size_t n = answers(spec, a);

	quorum_eval(p, count, a, n, &q);
	assert_true(q.why[0] != '\0');
	return q.pass;
}

static void cabf_small(void **state)
{
	(void)state;
	assert_true(verdict(QUORUM_CABF, 0, "1ARIN 1RIPE 1APNIC 1LACNIC 1AFRINIC"));
	assert_true(verdict(QUORUM_CABF, 0, "1ARIN 0RIPE 1APNIC 1LACNIC 1AFRINIC"));
	assert_false(verdict(QUORUM_CABF, 0, "1ARIN 0RIPE 0APNIC 1LACNIC 1AFRINIC"));
	assert_true(verdict(QUORUM_CABF, 0, "1ARIN 1RIPE 0APNIC"));  /* one may fail... */
	assert_false(verdict(QUORUM_CABF, 0, "1ARIN 0RIPE 1ARIN"));  /* ...but 2 RIRs must pass */
	assert_false(verdict(QUORUM_CABF, 0, "1ARIN 0RIPE"));
}

static void cabf_large(void **state)
{
	(void)state;
	assert_true(verdict(QUORUM_CABF, 0, "1ARIN 0RIPE 0APNIC 1LACNIC 1AFRINIC 1RIPE"));
	assert_false(verdict(QUORUM_CABF, 0, "1ARIN 0RIPE 0APNIC 0LACNIC 1AFRINIC 1RIPE"));
	assert_false(verdict(QUORUM_CABF, 0, "1RIPE 1RIPE 1RIPE 1RIPE 0ARIN 0APNIC"));
}

static void cabf_too_few(void **state)
{
	(void)state;
	assert_false(verdict(QUORUM_CABF, 0, "1ARIN"));
	assert_false(verdict(QUORUM_CABF, 0, ""));
}

static void other_policies(void **state)
{
	(void)state;
	assert_true(verdict(QUORUM_ALL, 0, "1ARIN 1RIPE 1APNIC"));
	assert_false(verdict(QUORUM_ALL, 0, "1ARIN 0RIPE 1APNIC"));
	assert_true(verdict(QUORUM_MAJORITY, 0, "1ARIN 0RIPE 1APNIC"));
	assert_false(verdict(QUORUM_MAJORITY, 0, "1ARIN 0RIPE 0APNIC 1RIPE"));
	assert_true(verdict(QUORUM_COUNT, 2, "1ARIN 0RIPE 1APNIC"));
	assert_false(verdict(QUORUM_COUNT, 3, "1ARIN 0RIPE 1APNIC"));
	assert_false(verdict(QUORUM_ALL, 0, ""));
}

/* "pass", "fail" or "inconclusive" */
static const char *outcome(enum quorum_policy p, unsigned count, const char *spec)
{
	struct answer a[16];
	struct quorum q;
	size_t n = answers(spec, a);

	quorum_eval(p, count, a, n, &q);
	assert_false(q.pass && q.inconclusive);
	return q.pass ? "pass" : q.inconclusive ? "inconclusive" : "fail";
}

/* Agents that could not be asked: undecided while they could still have made the quorum. */
static void inconclusive(void **state)
{
	(void)state;
	assert_string_equal(outcome(QUORUM_CABF, 0, "? ? ? ? ?"), "inconclusive");
	assert_string_equal(outcome(QUORUM_CABF, 0, "1ARIN 1RIPE ? ? 1LACNIC"), "inconclusive");
	assert_string_equal(outcome(QUORUM_CABF, 0, "1ARIN 1RIPE ? 1APNIC 1LACNIC"), "pass");
	/* two decided failures out of five: cabf fails whatever the others say */
	assert_string_equal(outcome(QUORUM_CABF, 0, "0ARIN 0RIPE ? ? ?"), "fail");
	/* passes all in one region, one unknown: it may be another region */
	assert_string_equal(outcome(QUORUM_CABF, 0, "1ARIN 1ARIN 1ARIN ? 1ARIN"), "inconclusive");
	assert_string_equal(outcome(QUORUM_CABF, 0, "1ARIN 1ARIN 1ARIN 0RIPE 1ARIN"), "fail");
	assert_string_equal(outcome(QUORUM_ALL, 0, "1ARIN ? 1APNIC"), "inconclusive");
	assert_string_equal(outcome(QUORUM_ALL, 0, "0ARIN ? 1APNIC"), "fail");
	assert_string_equal(outcome(QUORUM_MAJORITY, 0, "0ARIN ? ? 1APNIC"), "inconclusive");
	assert_string_equal(outcome(QUORUM_COUNT, 3, "0ARIN 0RIPE ? 1APNIC"), "fail");
	assert_string_equal(outcome(QUORUM_CABF, 0, "?"), "fail");  /* too few configured */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cabf_small),
		cmocka_unit_test(cabf_large),
		cmocka_unit_test(cabf_too_few),
		cmocka_unit_test(other_policies),
		cmocka_unit_test(inconclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
