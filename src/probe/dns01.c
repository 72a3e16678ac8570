/* dns01.c: the dns-01 check: the TXT record at _acme-challenge.NAME through the CA-style
 * resolver (the verdict), then every authoritative server of its zone asked directly (which one
 * lags). No privilege; called by probe_run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include "probe/probe_int.h"

#define NAME_MAX_LEN 300
#define NS_MAX 8

/* base64url without padding of SHA-256(ka): the TXT value RFC 8555 8.4 asks for. */
static void expected_value(const char *ka, char *out, size_t len)
{
	unsigned char d[32], b64[48];
	int n;

	EVP_Digest(ka, strlen(ka), d, NULL, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, d, sizeof(d));
	for (int i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, len, "%.*s", n, (const char *)b64);
}

/* Whether values hold the expected one (any value, without one); the class and detail. */
static const char *judge(char *const *values, size_t n, const char *want, const char *where,
			 char *detail, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (!want || strcmp(values[i], want) == 0) {
			snprintf(detail, len, "%s TXT record found at %s", want ? "The expected" : "A", where);
			return NULL;
		}
	}
	if (n == 0)
		snprintf(detail, len, "No TXT record found at %s", where);
	else
		snprintf(detail, len, "Incorrect TXT record \"%.100s\"%s found at %s", values[0],
			 n > 1 ? " (and more)" : "", where);
	return "missing";
}

static void strip_dot(char *s)
{
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/* The resolver's TXT answer; canon gets the name after CNAMEs. */
static int ask_resolver(struct probe_ctx *c, const char *qname, const char *want, char *canon,
			struct outcome *out, json_t *res)
{
	struct ub_result *ub = NULL;
	char **values = NULL;
	size_t n = 0;
	const char *cls = resolver_query(c->ub, qname, 16, &ub, out->detail, sizeof(out->detail));
	json_t *j;

	snprintf(canon, NAME_MAX_LEN, "%s", qname);
	if (!cls) {
		if (ub->canonname) {
			snprintf(canon, NAME_MAX_LEN, "%s", ub->canonname);
			strip_dot(canon);
		}
		while (ub->havedata && ub->data[n])
			n++;
		values = calloc(n + 1, sizeof(*values));
		for (size_t i = 0; values && i < n; i++)
			if (txt_rdata((unsigned char *)ub->data[i], (size_t)ub->len[i], &values[i]) < 0)
				n = i;
		cls = judge(values, values ? n : 0, want, qname, out->detail, sizeof(out->detail));
		ub_resolve_free(ub);
	}
	out->cls = cls;
	j = json_pack("{s:b, s:s, s:o, s:s}", "ok", !cls, "class", cls ? cls : "ok",
		      "values", result_strings(values, values ? n : 0), "detail", out->detail);
	for (size_t i = 0; values && i < n; i++)
		free(values[i]);
	free(values);
	return result_add(res, "resolver", j);
}

/* The NS names of the zone holding name: climbing, the first name with an NS set. */
static size_t find_ns(struct probe_ctx *c, const char *name, char (*ns)[NAME_MAX_LEN])
{
	const char *n = name;
	char d[DETAIL_MAX];

	for (;;) {
		struct ub_result *ub = NULL;
		size_t k = 0;

		if (!resolver_query(c->ub, *n ? n : ".", 2, &ub, d, sizeof(d))) {
			for (int i = 0; ub->rcode == 0 && ub->havedata && ub->data[i] && k < NS_MAX; i++) {
				size_t off = 0;

				if (dnswire_name((unsigned char *)ub->data[i], (size_t)ub->len[i], &off, ns[k],
						 NAME_MAX_LEN) == 0 && *ns[k])
					k++;
			}
			ub_resolve_free(ub);
		}
		if (k || !*n)
			return k;
		n = strchr(n, '.') ? strchr(n, '.') + 1 : "";
	}
}

static int add_server(json_t *servers, const char *ns, const char *addr, const char *cls,
		      char *const *values, size_t n, const char *detail)
{
	json_t *j = json_pack("{s:s, s:s?, s:b, s:s, s:o, s:s}", "name", ns, "address", addr, "ok", !cls,
			      "class", cls ? cls : "ok", "values", result_strings(values, n), "detail", detail);

	return j && json_array_append_new(servers, j) == 0 ? 0 : -ENOMEM;
}

/* One authoritative server asked directly, without recursion. */
static int ask_one(struct probe_ctx *c, const char *ns, struct sockaddr_storage sa, const char *qname,
		   const char *want, json_t *servers)
{
	char addr[INET6_ADDRSTRLEN], detail[DETAIL_MAX], why[DETAIL_MAX];
	struct txt_answer ans = { 0 };
	const char *cls;
	struct err e;
	int r;

	addr_set_port(&sa, 53);
	addr_str((struct sockaddr *)&sa, addr, sizeof(addr));
	if (guard_check(c->o->guard, (struct sockaddr *)&sa, &e) < 0)
		return add_server(servers, ns, addr, "forbidden", NULL, 0, e.msg);
	cls = dnswire_txt(&sa, qname, c->dial_ms, &ans, detail, sizeof(detail));
	if (!cls) {
		cls = judge(ans.values, ans.n, want, qname, why, sizeof(why));
		snprintf(detail, sizeof(detail), "%s: %s", addr, why);
	}
	r = add_server(servers, ns, addr, cls, ans.values, ans.n, detail);
	txt_answer_free(&ans);
	return r;
}

static int ask_servers(struct probe_ctx *c, const char *qname, const char *want, json_t *servers)
{
	char (*ns)[NAME_MAX_LEN] = calloc(NS_MAX, NAME_MAX_LEN);
	size_t k = ns ? find_ns(c, qname, ns) : 0;
	int r = ns ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < k; i++) {
		struct outcome o;
		struct addrs a;

		if (resolve_host(c, ns[i], &a, &o) < 0) {
			r = add_server(servers, ns[i], NULL, o.cls, NULL, 0, o.detail);
			continue;
		}
		for (size_t j = 0; r == 0 && j < a.n6; j++)
			r = ask_one(c, ns[i], a.v6[j], qname, want, servers);
		for (size_t j = 0; r == 0 && j < a.n4; j++)
			r = ask_one(c, ns[i], a.v4[j], qname, want, servers);
	}
	free(ns);
	return r;
}

int dns01_run(struct probe_ctx *c, json_t *res)
{
	char qname[NAME_MAX_LEN], canon[NAME_MAX_LEN], want[64];
	const char *w = c->r->value;
	struct outcome out = { 0 };
	json_t *servers = json_array();
	int r = result_add(res, "servers", servers);

	if (r < 0)
		return r;
	if (c->r->key_authorization) {
		expected_value(c->r->key_authorization, want, sizeof(want));
		w = want;
	}
	snprintf(qname, sizeof(qname), "_acme-challenge.%s", c->name);
	r = ask_resolver(c, qname, w, canon, &out, res);
	if (r == 0)
		r = ask_servers(c, canon, w, servers);
	return r < 0 ? r : result_verdict(res, !out.cls, NULL, out.cls, out.detail);
}
