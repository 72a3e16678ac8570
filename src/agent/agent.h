/* agent.h: acmegate-agent's pieces, shared between its files only (not a library API).
 * config.c reads agent.conf; listen.c binds and reads the TLS files (root); privdrop.c gives
 * root up; auth.c and limit.c judge each request; http.c serves; check.c runs the probes. */
#pragma once
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <jansson.h>
#include "log.h"
#include "sig.h"
#include "probe/probe.h"

#define AGENT_VERSION "0.1.0"
#define AGENT_CONF_PATH "/etc/acmegate/agent.conf"
#define AGENT_CLIENT_MAX 64
#define AGENT_BODY_MAX 4096        /* docs/agent-protocol.md: a check request is at most 4 KiB */
#define AGENT_SKEW_MAX 60          /* seconds a request's time may be off our clock */
#define AGENT_NONCE_TTL 120        /* seconds a nonce is remembered (twice the skew) */
#define AGENT_NONCE_MAX 2048       /* nonces remembered per key; full means 429, never forget */
#define AGENT_PEM_MAX 65536

/* Exit codes, as the man page lists them. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE 64
#define EXIT_CONFIG 78

struct nonce_entry {
	uint8_t nonce[SIG_NONCE_HEX_LEN / 2];
	int64_t seen;              /* CLOCK_MONOTONIC seconds */
};

/* One [client ID]: its key and, at run time, its nonce memory and rate bucket. */
struct agent_client {
	char id[65];
	uint8_t secret[SIG_SECRET_LEN];
	bool has_secret;
	unsigned seen;             /* keys given, one bit each */
	pthread_mutex_t lock;      /* guards everything below */
	struct nonce_entry nonces[AGENT_NONCE_MAX];  /* a ring, oldest at nonce_head */
	size_t nonce_head, nnonces;
	double tokens;             /* token bucket of rate_per_minute */
	int64_t bucket_ns;         /* when tokens was last refilled (CLOCK_MONOTONIC) */
};

struct agent_conf {
	char path[PATH_MAX];
	char perspective[33];
	char rir[8];
	struct sockaddr_storage listen;
	socklen_t listen_len;
	char listen_text[64];
	char certificate[PATH_MAX];
	char private_key[PATH_MAX];
	char user[33];             /* empty: "nobody" when started as root */
	char root_hints[PATH_MAX];
	char trust_anchor[PATH_MAX];
	struct guard guard;
	unsigned max_concurrent;
	unsigned max_connections;  /* TLS connections at once, checks or not */
	unsigned max_connections_per_address;
	unsigned rate_per_minute;
	unsigned dial_timeout_ms;
	struct agent_client *clients[AGENT_CLIENT_MAX];
	size_t nclients;
	unsigned seen;             /* [agent] keys given, one bit each */
};

/* What the daemon holds while serving. */
struct agent {
	struct agent_conf conf;
	struct probe_opts opts;
	atomic_uint running;       /* checks in probe_run now */
	int fd;                    /* the listening socket */
	char *cert_pem, *key_pem;  /* NUL-terminated, kept until the daemon stops */
};

/* config.c */
int agent_conf_load(struct agent_conf *c, const char *path, struct err *e);
void agent_conf_free(struct agent_conf *c);
struct agent_client *agent_client_find(const struct agent_conf *c, const char *id);
int agent_read_file(const char *path, size_t max, mode_t forbid, char **ret, size_t *ret_len,
		    struct err *e);

/* listen.c */
int agent_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
int agent_bind(const struct agent_conf *c, int *ret_fd, struct err *e);
int agent_read_tls(const struct agent_conf *c, char **ret_cert, char **ret_key, struct err *e);

/* privdrop.c */
int agent_resolve_user(const char *name, uid_t *ret_uid, gid_t *ret_gid, struct err *e);
int agent_drop_privileges(const char *user, struct err *e);

/* auth.c: the request's four headers, judged; 0, or -EACCES with why in e. */
struct auth_headers {
	const char *key, *time, *nonce, *signature;
};
int auth_verify(struct agent_conf *c, const struct auth_headers *h, const char *method,
		const char *path, const char *body, size_t len, struct agent_client **ret,
		struct err *e);
int64_t agent_now_mono(void);

/* limit.c */
bool limit_take(struct agent_client *k, unsigned rate_per_minute);
bool limit_enter(struct agent *a);
void limit_leave(struct agent *a);

/* check.c: a reply body (malloc'd JSON) and its status for the two endpoints. */
struct check_log {
	char type[16];
	char name[64];
	char class[24];
};
unsigned check_info(const struct agent *a, char **ret_body);
unsigned check_run(struct agent *a, const char *body, size_t len, char **ret_body,
		   struct check_log *log);
char *agent_error_body(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* http.c */
int http_start(struct agent *a, void **ret_daemon, struct err *e);
void http_stop(void *daemon);
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
