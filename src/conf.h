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

/* path: the in-kernel path gate; port: the whole port; responder: world traffic redirected to
 * acmegate's own responder (acmegate responder) */
enum http01_mode { HTTP01_PATH = 0, HTTP01_PORT = 1, HTTP01_RESPONDER = 2 };

#define TRUSTED_MAX 32

/* An address prefix; family is NFPROTO_IPV4 or NFPROTO_IPV6. */
struct cidr {
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
};

#define PERSPECTIVE_MAX 16
#define DOMAIN_MAX 32
#define DOMAIN_LEN 254         /* 253 characters and the NUL */
#define SECRET_LEN 32

enum quorum_policy { QUORUM_CABF = 0, QUORUM_ALL, QUORUM_MAJORITY, QUORUM_COUNT };
enum check_failure { ON_FAIL_CLOSE = 0, ON_FAIL_KEEP, ON_FAIL_WARN };
/* A self-test too few perspectives answered: treat it as a failure, or go on anyway. */
enum check_inconclusive { ON_INC_REFUSE = 0, ON_INC_PROCEED };

/* A perspective agent to ask ([perspective NAME]). */
struct perspective_conf {
	char name[33];
	char url[200];
	char key_id[65];
	uint8_t secret[SECRET_LEN];
	bool has_secret;
	char ca_file[PATH_MAX];    /* pins the agent's certificate; empty: the system's CAs */
	unsigned seen;             /* keys given, one bit each */
};

/* The self-test ([check]). */
struct check_conf {
	enum quorum_policy quorum;
	unsigned quorum_count;     /* QUORUM_COUNT: remotes that must pass */
	enum check_failure on_failure;
	enum check_inconclusive on_inconclusive;
	unsigned timeout;          /* seconds for the whole check */
	char webroot[PATH_MAX];    /* http-01 probe files go to WEBROOT/.well-known/acme-challenge */
	char caa_issuer[DOMAIN_LEN];  /* also check CAA for this CA when set */
	char domains[DOMAIN_MAX][DOMAIN_LEN];
	size_t ndomains;
	unsigned seen;             /* keys given, one bit each */
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
	unsigned responder_port;   /* http01_mode = responder: where the redirect sends tcp/80 */
	char responder_webroot[PATH_MAX];  /* serve files from here; empty: relay */
	char responder_relay[256]; /* or relay to this local web server */
	char responder_user[33];   /* the responder runs as this user after binding */
	struct check_conf check;
	struct perspective_conf persp[PERSPECTIVE_MAX];
	size_t npersp;
};

void conf_defaults(struct conf *c);
/* Reads path into c (defaults first). A missing default file is fine when !required. */
int conf_load(struct conf *c, const char *path, bool required, struct err *e);

/* "http-01" -> SVC_HTTP01; returns 0 for an unknown name. */
unsigned svc_from_name(const char *name);
const char *svc_name(unsigned svc);
int mode_from_name(const char *name, enum http01_mode *ret_mode);
/* The 64 characters of base64url, which ACME tokens and values use. */
#define B64URL_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
/* Whether c is one of them. */
bool b64url_char(char c);
/* Whether s is min to max base64url characters and nothing else. */
bool b64url_valid(const char *s, size_t min, size_t max);
const char *mode_name(enum http01_mode m);
/* "198.51.100.0/24" or "2001:db8::/32" (a bare address is a /32 or /128). */
int parse_cidr(const char *s, struct cidr *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);
/* A host name as a CA accepts it (LDH labels, at most 253 characters), or "*." and one. */
bool valid_domain(const char *s);
const char *quorum_name(enum quorum_policy q);
/* "cabf", "all", "majority" or a number 1..PERSPECTIVE_MAX (QUORUM_COUNT); -EINVAL otherwise. */
int quorum_from_name(const char *v, enum quorum_policy *q, unsigned *count);
const char *on_failure_name(enum check_failure f);
int on_failure_from_name(const char *s, enum check_failure *ret);
const char *on_inconclusive_name(enum check_inconclusive v);
