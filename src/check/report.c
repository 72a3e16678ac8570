/* report.c: explains a self-test: a table perspective x family (x redirect hop), the quorum
 * verdict, the line a CA would print, and warnings; or the same as JSON. No I/O but the stream
 * it is given; called by acmegate check and run. */
#include <stdio.h>
#include <string.h>
#include "check/report.h"

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_hops(FILE *f, json_t *attempt)
{
	json_t *hops = json_object_get(attempt, "hops"), *h;
	size_t i;

	if (json_array_size(hops) < 2)
		return;
	json_array_foreach(hops, i, h) {
		json_int_t status = json_integer_value(json_object_get(h, "status"));

		fprintf(f, "      hop %zu: %s", i + 1, str(h, "url"));
		if (status)
			fprintf(f, " -> %lld%s%s", (long long)status, *str(h, "location") ? " " : "",
				str(h, "location"));
		else
			fprintf(f, " -> %s", str(h, "class"));
		fputc('\n', f);
	}
}

/* dns-01: the authoritative servers that lack the value (a lagging secondary). */
static void print_servers(FILE *f, const struct answer *a)
{
	json_t *sv;
	size_t i;

	json_array_foreach(json_object_get(a->result, "servers"), i, sv) {
		if (json_is_true(json_object_get(sv, "ok")))
			continue;
		fprintf(f, "      server %s %s: %s%s%s\n", str(sv, "name"), str(sv, "address"),
			str(sv, "class"), *str(sv, "detail") ? ": " : "", str(sv, "detail"));
	}
}

static void print_answer(FILE *f, const struct answer *a, const char *seen)
{
	json_t *attempts = json_object_get(a->result, "attempts"), *at;
	const char *verdict = a->ok ? "pass" : "FAIL";
	size_t i;

	if (!a->answered || json_array_size(attempts) == 0) {
		fprintf(f, "  %-12s %-8s %-5s %-6s %-17s %-11s %s%s\n", a->pc->name, a->rir[0] ? a->rir : "-",
			verdict, "-", "-", a->cls, a->ok ? "" : a->detail, a->ok ? "" : seen);
		print_servers(f, a);
		return;
	}
	json_array_foreach(attempts, i, at) {
		bool ok = json_is_true(json_object_get(at, "ok"));

		fprintf(f, "  %-12s %-8s %-5s %-6s %-17s %-11s %s%s\n", i ? "" : a->pc->name,
			i ? "" : a->rir, i ? "" : verdict, str(at, "family"), str(at, "address"),
			str(at, "class"), ok ? "" : str(at, "detail"), ok ? "" : seen);
		print_hops(f, at);
	}
}

/* The first failing perspective's verdict, as Boulder prints a remote failure. */
static void print_ca_line(FILE *f, const struct answer *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].ok || !a[i].answered)
			continue;
		fprintf(f, "  a CA would report: During secondary validation: %s\n", a[i].detail);
		return;
	}
}

static json_t *attempt_of(const struct answer *a, const char *family)
{
	json_t *at;
	size_t i;

	json_array_foreach(json_object_get(a->result, "attempts"), i, at)
		if (!strcmp(str(at, "family"), family))
			return at;
	return NULL;
}

/* Redirect hops after the first that could not connect: the target port is not open. */
static bool redirect_unreachable(const struct answer *a)
{
	json_t *at, *h;
	size_t i, j;

	json_array_foreach(json_object_get(a->result, "attempts"), i, at)
		json_array_foreach(json_object_get(at, "hops"), j, h) {
			const char *cls = str(h, "class");

			if (j > 0 && (!strcmp(cls, "dropped") || !strcmp(cls, "refused") ||
				      !strcmp(cls, "unreachable")))
				return true;
		}
	return false;
}

static void print_warnings(FILE *f, const struct check_target *t, const struct answer *a, size_t n)
{
	unsigned v6bad = 0, redirect = 0, unasked = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *v6 = attempt_of(&a[i], "ipv6"), *v4 = attempt_of(&a[i], "ipv4");

		unasked += !a[i].answered && !strncmp(a[i].detail, "agent not asked", 15);

		v6bad += v6 && v4 && !json_is_true(json_object_get(v6, "ok")) &&
			 json_is_true(json_object_get(v4, "ok"));
		redirect += redirect_unreachable(&a[i]);
	}
	if (v6bad)
		fprintf(f, "  warning: %s fails over IPv6 but passes over IPv4 from %u perspective(s). "
			"A CA tries IPv6 first and falls back to IPv4 only when IPv6 cannot connect: make "
			"IPv6 reachable (window, firewall, listener) or remove the AAAA record.\n", t->name, v6bad);
	if (unasked)
		fprintf(f, "  warning: %u perspective(s) could not be asked: that says nothing about the "
			"CA. Check the agent's address and that this host may reach it: a stateless "
			"firewall (netdev ingress, or rules without conntrack) needs an exception for the "
			"agent's answers (its address and source port), as for the ACME API's.\n", unasked);
	if (redirect)
		fprintf(f, "  warning: %s redirects to a port that does not answer from %u "
			"perspective(s). Open it too (e.g. --challenge http-01,tls-alpn-01 opens 443) or "
			"serve /.well-known/acme-challenge/ on port 80 without a redirect.\n", t->name, redirect);
}

void report_text(FILE *f, const struct check_target *t, const struct answer *a, size_t n,
		 const struct quorum *q, const char *const *seen)
{
	fprintf(f, "%s %s: %s (%s)\n", probe_type_name(t->type), t->name,
		q->pass ? "PASS" : q->inconclusive ? "INCONCLUSIVE" : "FAIL", q->why);
	fprintf(f, "  %-12s %-8s %-5s %-6s %-17s %-11s %s\n", "perspective", "rir", "ok", "family",
		"address", "result", "detail");
	for (size_t i = 0; i < n; i++)
		print_answer(f, &a[i], seen && seen[i] ? seen[i] : "");
	if (!q->pass)
		print_ca_line(f, a, n);
	print_warnings(f, t, a, n);
}

json_t *report_json(const struct check_target *t, const struct answer *a, size_t n,
		    const struct quorum *q, const char *const *seen)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:f}", "name", a[i].pc->name,
				      "rir", a[i].rir, "answered", a[i].answered, "ok", a[i].ok,
				      "class", a[i].cls, "detail", a[i].detail, "seconds", a[i].seconds);

		if (o && a[i].result)
			json_object_set(o, "result", a[i].result);
		if (o && seen && seen[i])
			json_object_set_new(o, "reached_host", json_string(seen[i]));
		json_array_append_new(list, o);
	}
	return json_pack("{s:s, s:s, s:b, s:b, s:{s:I, s:I, s:I, s:I, s:I, s:s}, s:o}", "type",
			 probe_type_name(t->type), "name", t->name, "pass", q->pass, "inconclusive",
			 q->inconclusive, "quorum", "asked", (json_int_t)q->asked, "passed",
			 (json_int_t)q->passed, "needed", (json_int_t)q->needed, "unasked",
			 (json_int_t)q->unasked, "rirs", (json_int_t)q->rirs, "why", q->why,
			 "perspectives", list);
}
