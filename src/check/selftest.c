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

/* Evaluates and reports every target; returns 1 when all pass. */
static int judge(const struct conf *c, const struct selftest *st, const struct answer *a,
		 struct seen *sn, FILE *out)
{
	json_t *list = st->json ? json_array() : NULL;
	const char *notes[PERSPECTIVE_MAX];
	bool pass = true;

	for (size_t t = 0; t < st->ntargets; t++) {
		const struct answer *row = &a[t * c->npersp];
		struct quorum q;

		quorum_eval(st->quorum, st->quorum_count, row, c->npersp, &q);
		pass = pass && q.pass;
		seen_notes(sn, &st->targets[t], row, c->npersp, notes);
		report_target(out, st, &st->targets[t], row, c->npersp, &q, notes, list);
	}
	if (st->json) {
		json_dumpf(json_pack("{s:b, s:o}", "pass", pass, "targets", list), out,
			   JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', out);
	} else {
		fprintf(out, "self-test: %s\n", pass ? "PASS" : "FAIL: a CA would most likely refuse this "
			"validation; see the reasons above");
	}
	return pass;
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
		r = probefile_place(&current, c->check.webroot, e);
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
