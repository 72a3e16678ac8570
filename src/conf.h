/* conf.h: acmegate.conf, parsed strictly through inih. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "log.h"

#define CONF_DEFAULT_PATH "/etc/acmegate/acmegate.conf"

/* Challenge services a window can open; a bit set. */
enum {
	SVC_HTTP01 = 1u << 0,  /* tcp/80 */
	SVC_TLSALPN01 = 1u << 1,  /* tcp/443 */
	SVC_DNS = 1u << 2,  /* udp+tcp/53 */
	SVC_ALL = SVC_HTTP01 | SVC_TLSALPN01 | SVC_DNS,
};

enum http01_mode { HTTP01_PATH = 0, HTTP01_PORT = 1 };

#define TRUSTED_MAX 32

/* An address prefix; family is NFPROTO_IPV4 or NFPROTO_IPV6. */
struct cidr {
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
};

struct conf {
	char path[PATH_MAX];
	unsigned ttl;              /* seconds a window stays open without close */
	unsigned max_ttl;          /* upper bound for --ttl */
	unsigned services;         /* default challenge services */
	enum http01_mode http01_mode;
	unsigned token_length;     /* base64url characters of an ACME token */
	bool forward;              /* also open forward chains (DNAT'd services) */
	struct cidr trusted[TRUSTED_MAX];  /* sources the path gate lets through untouched */
	size_t ntrusted;
	char state_dir[PATH_MAX];
};

void conf_defaults(struct conf *c);
/* Reads path into c (defaults first). A missing default file is fine when !required. */
int conf_load(struct conf *c, const char *path, bool required, struct err *e);

/* "http-01" -> SVC_HTTP01; returns 0 for an unknown name. */
unsigned svc_from_name(const char *name);
const char *svc_name(unsigned svc);
int mode_from_name(const char *name, enum http01_mode *ret_mode);
const char *mode_name(enum http01_mode m);
/* "198.51.100.0/24" or "2001:db8::/32" (a bare address is a /32 or /128). */
int parse_cidr(const char *s, struct cidr *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);
