/* selftest.c: one self-test from start to end: the probe file, the questions, the quorum per
 * target, the report, and the cleanup. No privilege, except writing under the webroot. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check/probefile.h"
#include "check/report.h"
#include "check/seen.h"
#include "check/selftest.h"

static struct probefile current;   /* the probe file of the running self-test */

void selftest_cleanup_now(void)
{
	if (current.placed)
		unlink(current.path);
	if (current.created & 2)
		rmdir(current.dir[1]);
	if (current.created & 1)
		rmdir(current.dir[0]);
}

static void use_probe_file(struct selftest *st, const struct probefile *pf)
{
	for (size_t i = 0; i < st->ntargets; i++) {
		struct check_target *t = &st->targets[i];

		if (t->type != PROBE_HTTP01 || t->token[0])
			continue;
		snprintf(t->token, sizeof(t->token), "%s", pf->token);
		snprintf(t->key_authorization, sizeof(t->key_authorization), "%s", pf->key_authorization);
	}
}

static void report_target(FILE *out, const struct selftest *st, const struct check_target *t,
			  const struct answer *a, size_t n, const struct quorum *q,
			  const char *const *seen, json_t *list)
{
	if (st->json)
		json_array_append_new(list, report_json(t, a, n, q, seen));
	else
		report_text(out, t, a, n, q, seen);
}

static const char *const verdict_line[] = {
	[SELFTEST_FAIL] = "FAIL: a CA would most likely refuse this validation; see the reasons above",
	[SELFTEST_PASS] = "PASS",
	[SELFTEST_INCONCLUSIVE] = "INCONCLUSIVE: too few perspectives could be asked to decide the "
		"quorum; this says nothing about what a CA would see. Make the agents answer (see "
		"above), or set on_inconclusive in [check]",
};
static const char *const verdict_name[] = { "fail", "pass", "inconclusive" };

/* Evaluates and reports every target; returns an enum selftest_result. */
static int judge(const struct conf *c, const struct selftest *st, const struct answer *a,
		 struct seen *sn, FILE *out)
{
	json_t *list = st->json ? json_array() : NULL;
	const char *notes[PERSPECTIVE_MAX];
	bool fail = false, undecided = false;
	int v;

	for (size_t t = 0; t < st->ntargets; t++) {
		const struct answer *row = &a[t * c->npersp];
		struct quorum q;

		quorum_eval(st->quorum, st->quorum_count, row, c->npersp, &q);
		fail = fail || (!q.pass && !q.inconclusive);
		undecided = undecided || q.inconclusive;
		seen_notes(sn, &st->targets[t], row, c->npersp, notes);
		report_target(out, st, &st->targets[t], row, c->npersp, &q, notes, list);
	}
	v = fail ? SELFTEST_FAIL : undecided ? SELFTEST_INCONCLUSIVE : SELFTEST_PASS;
	if (st->json) {
		json_dumpf(json_pack("{s:b, s:s, s:o}", "pass", v == SELFTEST_PASS, "result",
				     verdict_name[v], "targets", list), out,
			   JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
	} else {
		fprintf(out, "self-test: %s\n", verdict_line[v]);
	}
	return v;
}

int selftest_run(const struct conf *c, struct selftest *st, FILE *out, struct err *e)
{
	size_t n = c->npersp * st->ntargets;
	struct answer *a = calloc(n ? n : 1, sizeof(*a));
	struct seen sn;
	int r;

	if (!a)
		return err_set(e, -ENOMEM, "check: out of memory");
	if (st->probe_file) {
		r = probefile_place(&current, st->webroot ? st->webroot : c->check.webroot, c->token_length, e);
		if (r < 0) {
			free(a);
			return r;
		}
		use_probe_file(st, &current);
	}
	seen_begin(&sn, c);
	r = ask_all(c, st->targets, st->ntargets, a, e);
	seen_end(&sn);
	if (st->probe_file)
		probefile_remove(&current);
	if (r == 0 && check_stop)
		r = err_set(e, -EINTR, "check: interrupted");
	if (r == 0)
		r = judge(c, st, a, &sn, out);
	seen_free(&sn);
	answers_free(a, n);
	free(a);
	return r;
}
