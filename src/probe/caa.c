/* caa.c: the CAA check (RFC 8659): climbing from the name, the first non-empty CAA set applies;
 * issue (issuewild for a wildcard) must name the CA. No privilege; called by probe_run. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "probe/probe_int.h"

#define CAA_MAX 32
#define CAA_CRITICAL 0x80

struct caa_rr {
	unsigned flags;
	char tag[16];
	char value[256];
};

struct caa_set {
	char domain[256];
	struct caa_rr rr[CAA_MAX];
	size_t n;
};

/* flags (1), tag length (1), tag, value: RFC 8659 4.1. */
static bool parse_rr(const unsigned char *d, size_t len, struct caa_rr *ret)
{
	size_t tl;

	if (len < 2 || (tl = d[1]) == 0 || tl >= sizeof(ret->tag) || 2 + tl > len)
		return false;
	ret->flags = d[0];
	memcpy(ret->tag, d + 2, tl);
	ret->tag[tl] = '\0';
	len -= 2 + tl;
	if (len >= sizeof(ret->value))
		len = sizeof(ret->value) - 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = d[2 + tl + i];

		ret->value[i] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?';
	}
	ret->value[len] = '\0';
	return true;
}

/* The first CAA set from name upward (the TLD included); a lookup failure's class before one
 * is found. An empty domain means there is none. */
static const char *find_set(struct probe_ctx *c, struct caa_set *set, struct outcome *out)
{
	const char *n = c->name;

	memset(set, 0, sizeof(*set));
	while (*n) {
		struct ub_result *ub = NULL;
		const char *cls = resolver_query(c->ub, n, 257, &ub, out->detail, sizeof(out->detail));

		if (cls)
			return out->cls = cls;
		for (int i = 0; ub->rcode == 0 && ub->havedata && ub->data[i] && set->n < CAA_MAX; i++)
			if (parse_rr((unsigned char *)ub->data[i], (size_t)ub->len[i], &set->rr[set->n]))
				set->n++;
		ub_resolve_free(ub);
		if (set->n) {
			snprintf(set->domain, sizeof(set->domain), "%s", n);
			return NULL;
		}
		n = strchr(n, '.') ? strchr(n, '.') + 1 : "";
	}
	return NULL;
}

/* An issue/issuewild value names ca: its domain, before any ';' and trimmed. */
static bool names_ca(const char *value, const char *ca)
{
	size_t end = strcspn(value, ";"), start = 0;

	while (start < end && isspace((unsigned char)value[start]))
		start++;
	while (end > start && isspace((unsigned char)value[end - 1]))
		end--;
	return end - start == strlen(ca) && strncasecmp(value + start, ca, end - start) == 0;
}

static bool permits(const struct caa_set *set, const char *ca, bool wildcard)
{
	const char *tag = "issue";
	bool any = false;

	for (size_t i = 0; i < set->n; i++) {
		const char *t = set->rr[i].tag;

		/* an unknown critical property blocks every CA */
		if ((set->rr[i].flags & CAA_CRITICAL) && strcasecmp(t, "issue") && strcasecmp(t, "issuewild") &&
		    strcasecmp(t, "iodef"))
			return false;
		if (wildcard && !strcasecmp(t, "issuewild"))
			tag = "issuewild";
	}
	for (size_t i = 0; i < set->n; i++) {
		if (strcasecmp(set->rr[i].tag, tag) != 0)
			continue;
		any = true;
		if (names_ca(set->rr[i].value, ca))
			return true;
	}
	return !any;
}

static json_t *records_json(const struct caa_set *set)
{
	json_t *a = json_array();
	char line[300];

	for (size_t i = 0; a && i < set->n; i++) {
		snprintf(line, sizeof(line), "%u %s \"%s\"", set->rr[i].flags, set->rr[i].tag, set->rr[i].value);
		if (json_array_append_new(a, json_string(line)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int add_caa(json_t *res, const struct caa_set *set, bool ok, const struct outcome *out, bool lookup_ok)
{
	json_t *resolver = json_pack("{s:b, s:s, s:o, s:s}", "ok", lookup_ok, "class",
				     lookup_ok ? "ok" : out->cls, "values", records_json(set), "detail",
				     lookup_ok ? (set->n ? "CAA records found" : "No CAA records") : out->detail);
	int r = result_add(res, "resolver", resolver);

	if (r == 0)
		r = result_add(res, "caa", json_pack("{s:s?, s:o, s:b}", "domain", *set->domain ? set->domain : NULL,
						    "records", records_json(set), "permits", ok));
	return r;
}

int caa_run(struct probe_ctx *c, json_t *res)
{
	struct caa_set *set = malloc(sizeof(*set));
	struct outcome out = { 0 };
	bool ok = false, lookup_ok;
	int r;

	if (!set)
		return -ENOMEM;
	lookup_ok = !find_set(c, set, &out);
	if (lookup_ok) {
		ok = permits(set, c->r->ca, c->wildcard);
		if (ok && !set->n)
			outcome_set(&out, NULL, "No CAA records at %s or above: any CA may issue", c->name);
		else if (ok)
			outcome_set(&out, NULL, "CAA record for %s permits issuance by %s", set->domain, c->r->ca);
		else
			outcome_set(&out, "caa-forbids", "CAA record for %s prevents issuance by %s", set->domain,
				    c->r->ca);
	}
	r = add_caa(res, set, ok, &out, lookup_ok);
	free(set);
	return r < 0 ? r : result_verdict(res, ok, NULL, out.cls, out.detail);
}
