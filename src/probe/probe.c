/* probe.c: type names, request validation and the dispatch of one check (probe_run).
 * No privilege; called by acmegate-agent's HTTP handler and by `acmegate-agent probe`. */
#include <errno.h>
#include <string.h>
#include "conf.h"
#include "probe/probe_int.h"

static const char *const type_names[] = {
	[PROBE_HTTP01] = "http-01", [PROBE_TLSALPN01] = "tls-alpn-01",
	[PROBE_DNS01] = "dns-01", [PROBE_CAA] = "caa",
};

int probe_type_from_name(const char *name, enum probe_type *ret)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (name && strcmp(name, type_names[i]) == 0) {
			*ret = (enum probe_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *probe_type_name(enum probe_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

int probe_type_port(enum probe_type t)
{
	return t == PROBE_HTTP01 ? 80 : t == PROBE_TLSALPN01 ? 443 : 53;
}

static int validate_name(struct probe_ctx *c, struct err *e)
{
	const struct probe_req *r = c->r;
	struct sockaddr_storage lit;
	bool dnsish = r->type == PROBE_DNS01 || r->type == PROBE_CAA;

	if (!r->name || !*r->name)
		return err_set(e, -EINVAL, "probe: a name is needed");
	c->wildcard = strncmp(r->name, "*.", 2) == 0;
	c->name = c->wildcard ? r->name + 2 : r->name;
	if (c->wildcard && !dnsish)
		return err_set(e, -EINVAL, "probe: '%s': a wildcard name can only be checked with dns-01 "
			       "or caa", r->name);
	if (addr_literal(c->name, 0, &lit) == 0) {
		if (dnsish || c->wildcard)
			return err_set(e, -EINVAL, "probe: '%s': %s checks a DNS name, not an address",
				       r->name, probe_type_name(r->type));
		return guard_check(c->o->guard, (struct sockaddr *)&lit, e);
	}
	if (!valid_domain(c->name) || strchr(c->name, '*'))
		return err_set(e, -EINVAL, "probe: '%s' is neither a DNS name (letters, digits, hyphens, "
			       "dots) nor an IP address", r->name);
	return 0;
}

static int validate(struct probe_ctx *c, struct err *e)
{
	const struct probe_req *r = c->r;
	int ret = validate_name(c, e);

	if (ret < 0)
		return ret;
	if (r->type == PROBE_HTTP01 && (!r->token || !b64url_valid(r->token, 1, 128)))
		return err_set(e, -EINVAL, "probe: http-01 needs a token of 1 to 128 base64url characters "
			       "(A-Z a-z 0-9 - _)");
	if (r->type == PROBE_HTTP01 && (!r->key_authorization || !*r->key_authorization))
		return err_set(e, -EINVAL, "probe: http-01 needs the key authorization");
	if (r->type == PROBE_CAA && (!r->ca || !*r->ca || !valid_domain(r->ca)))
		return err_set(e, -EINVAL, "probe: caa needs the CA's issuer domain (e.g. letsencrypt.org)");
	if ((unsigned)r->type >= sizeof(type_names) / sizeof(type_names[0]))
		return err_set(e, -EINVAL, "probe: unknown check type %d", (int)r->type);
	return 0;
}

static int dispatch(struct probe_ctx *c, json_t *res)
{
	switch (c->r->type) {
	case PROBE_HTTP01: return http01_run(c, res);
	case PROBE_TLSALPN01: return tlsalpn_run(c, res);
	case PROBE_DNS01: return dns01_run(c, res);
	case PROBE_CAA: return caa_run(c, res);
	}
	return -EINVAL;
}

int probe_run(const struct probe_opts *o, const struct probe_req *r, json_t **ret_result, struct err *e)
{
	struct probe_ctx c = { .o = o, .r = r };
	json_t *res = NULL;
	int ret;

	*ret_result = NULL;
	c.dial_ms = o->dial_timeout_ms > 0 ? o->dial_timeout_ms : DIAL_TIMEOUT_DEFAULT_MS;
	ret = validate(&c, e);
	if (ret < 0)
		return ret;
	ret = resolver_new(o, &c.ub, e);
	if (ret < 0)
		return ret;
	res = json_pack("{s:s, s:s}", "type", probe_type_name(r->type), "name", r->name);
	ret = res ? dispatch(&c, res) : -ENOMEM;
	ub_ctx_delete(c.ub);
	if (ret < 0) {
		json_decref(res);
		return err_set(e, ret, "probe: %s %s: %s", probe_type_name(r->type), r->name, strerror(-ret));
	}
	*ret_result = res;
	return 0;
}
