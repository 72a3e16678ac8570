/* probe_int.h: what the probe files share (resolver, addresses, outcomes, JSON helpers).
 * Internal to src/probe; no privilege. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <jansson.h>
#include <unbound.h>
#include "probe/probe.h"

#define PROBE_ADDR_MAX 8
#define DETAIL_MAX 768
/* Boulder's DNS client gives a lookup about 10 s. */
#define DNS_TIMEOUT_MS 10000
#define DIAL_TIMEOUT_DEFAULT_MS 10000

/* A name's addresses, per family (the CA tries the first of each). */
struct addrs {
	struct sockaddr_storage v6[PROBE_ADDR_MAX];
	struct sockaddr_storage v4[PROBE_ADDR_MAX];
	size_t n6, n4;
};

/* The result of one step: cls is NULL on success, else a class of the protocol. */
struct outcome {
	const char *cls;
	char detail[DETAIL_MAX];
};

/* One probe_run: the request, the options and the resolver it owns. */
struct probe_ctx {
	const struct probe_opts *o;
	const struct probe_req *r;
	struct ub_ctx *ub;
	const char *name;   /* r->name without a wildcard's "*." */
	bool wildcard;
	int dial_ms;
};

/* addr.c */
void addr_str(const struct sockaddr *sa, char *buf, size_t len);
int addr_literal(const char *s, int port, struct sockaddr_storage *ret);
void addr_set_port(struct sockaddr_storage *ss, int port);
socklen_t addr_len(const struct sockaddr_storage *ss);
const char *probe_family_name(int af);
int addr_dial(const struct sockaddr_storage *dst, int type, int timeout_ms);

/* resolve.c */
int resolver_new(const struct probe_opts *o, struct ub_ctx **ret, struct err *e);
const char *resolver_query(struct ub_ctx *ub, const char *name, int rrtype,
			   struct ub_result **ret, char *detail, size_t len);
int resolve_host(struct probe_ctx *c, const char *name, struct addrs *ret, struct outcome *out);
const char *rrtype_name(int rrtype);

/* result.c */
void outcome_set(struct outcome *out, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void excerpt(const char *in, size_t len, char *out, size_t outlen);
const char *connect_class(int err, const char **what);
int result_verdict(json_t *res, bool ok, const char *family, const char *cls, const char *detail);
int result_add(json_t *obj, const char *key, json_t *val);
json_t *result_strings(char *const *v, size_t n);

/* the checks; each fills res with its verdict and explanation; -ENOMEM is their only error */
int http01_run(struct probe_ctx *c, json_t *res);
int tlsalpn_run(struct probe_ctx *c, json_t *res);
int dns01_run(struct probe_ctx *c, json_t *res);
int caa_run(struct probe_ctx *c, json_t *res);

/* dnswire.c: one non-recursive query straight to an authoritative server */
struct txt_answer {
	char **values;
	size_t n;
	int rcode;
};
const char *dnswire_txt(const struct sockaddr_storage *server, const char *qname, int timeout_ms,
			struct txt_answer *ret, char *detail, size_t len);
void txt_answer_free(struct txt_answer *a);
int dnswire_name(const unsigned char *m, size_t len, size_t *off, char *out, size_t outlen);
int txt_rdata(const unsigned char *rd, size_t len, char **ret);
