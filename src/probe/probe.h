/* probe.h: the checks a CA runs (http-01, tls-alpn-01, dns-01, caa), run from this vantage
 * point exactly as Boulder runs them. No privilege. Called by acmegate-agent; the result is the
 * JSON object of docs/agent-protocol.md. */
#pragma once
#include <stdbool.h>
#include <jansson.h>
#include <sys/socket.h>
#include "log.h"
#include "conf.h"

enum probe_type { PROBE_HTTP01, PROBE_TLSALPN01, PROBE_DNS01, PROBE_CAA };

#define GUARD_ALLOW_MAX 32

/* Destinations an agent may connect to: everything public, plus the special-use prefixes
 * (loopback, private, link-local, documentation, ...) listed in allow. */
struct guard {
	struct cidr allow[GUARD_ALLOW_MAX];
	size_t nallow;
};

struct probe_opts {
	const char *root_hints;     /* root hints file for the recursive resolver; NULL: libunbound's */
	const char *trust_anchor;   /* DNSSEC trust anchor file; NULL: no validation */
	const struct guard *guard;  /* NULL: no destination is refused (unit tests only) */
	int dial_timeout_ms;        /* per dial; Boulder: 10000 */
	const char *user_agent;
};

struct probe_req {
	enum probe_type type;
	const char *name;
	const char *token;              /* http-01 */
	const char *key_authorization;  /* http-01 (required), tls-alpn-01, dns-01 (optional) */
	const char *value;              /* dns-01: the expected TXT value, when no key_authorization */
	const char *ca;                 /* caa */
};

/* "http-01" -> PROBE_HTTP01; returns -EINVAL for an unknown name. */
int probe_type_from_name(const char *name, enum probe_type *ret);
const char *probe_type_name(enum probe_type t);
/* The port a type's check starts on (80, 443, 53, 53). */
int probe_type_port(enum probe_type t);

/* 0 when sa may be connected to; -EACCES (with why in e) for a refused destination. */
int guard_check(const struct guard *g, const struct sockaddr *sa, struct err *e);
/* Calls fn with every prefix ("10.0.0.0/8", "::ffff:10.0.0.0/104") the guard refuses: the
 * special-use ones less allow_destination, IPv4 ones also IPv4-mapped. Stops at fn's first
 * negative return and returns it; else 0. For the resolver, which must refuse them too. */
typedef int (*guard_prefix_fn)(void *arg, const char *prefix);
int guard_refused(const struct guard *g, guard_prefix_fn fn, void *arg);
/* allow_destination takes some or all of prefix (a valid CIDR constant). */
bool guard_opens(const struct guard *g, const char *prefix);

/* Runs one check; *ret_result gets the result object (without "perspective" and "rir", which
 * the agent adds). Returns -EINVAL for a bad request (e says what), -EACCES for a name that is an
 * IP literal the guard refuses, -ENOMEM. A failed check is a result, not an error. */
int probe_run(const struct probe_opts *o, const struct probe_req *r, json_t **ret_result, struct err *e);

/* `acmegate-agent probe [--root-hints F] [--trust-anchor F] [--allow CIDR]... [--dial-timeout MS]
 *  TYPE NAME [--token T] [--key-authorization K] [--value V] [--ca CA]`: runs one check here and
 * prints the result object; exit 0 when ok, 1 when the check failed, 64 on usage errors. */
int probe_main(int argc, char **argv);
