/* responder.h: the HTTP-01 responder's pieces, shared between its files only. target.c judges
 * request targets and token lists (pure); content.c finds a challenge's body (webroot or relay);
 * server.c is the libmicrohttpd side; run.c binds, drops root and serves until the deadline. */
#pragma once
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "log.h"

#define RESPONDER_PREFIX "/.well-known/acme-challenge/"
#define RESPONDER_BODY_MAX 4096    /* a key authorization is ~90 bytes; 4 KiB is plenty */
#define RESPONDER_TOKENS_MAX 4096  /* the tokens file: a few lines */
#define RESPONDER_CONN_MAX 64      /* connections at once, all sources */
#define RESPONDER_CONN_PER_IP 4    /* a CA's perspective asks once (and may retry) */
#define RESPONDER_MEMORY 4096      /* per connection: request line and headers must fit */
#define RESPONDER_IDLE_S 3         /* libmicrohttpd's idle timeout */
#define RESPONDER_REQUEST_S 5      /* a whole connection, however it trickles its bytes */
#define RESPONDER_RELAY_MS 3000    /* the local web server's whole answer */
#define RESPONDER_LOG_MAX (4L << 20)  /* a flood of requests must not fill /run with log lines */
#define TOKEN_LEN_DEFAULT 43
#define RESPONDER_RELAY_DEFAULT "http://127.0.0.1:80"

/* What `acmegate responder` was asked to do. */
struct responder_opts {
	unsigned port;
	time_t until;
	unsigned token_len;
	const char *webroot;       /* NULL: relay */
	const char *relay;         /* "http://127.0.0.1:80" */
	const char *tokens;        /* NULL: any well-formed token */
	const char *user;          /* NULL: nobody */
	int ready_fd;              /* told our pid once serving (the window waits on it); -1 */
};

/* A connection the watchdog may cut: its socket and when it was accepted. */
struct conn_slot {
	int fd;                    /* -1: free */
	int64_t since_ms;          /* CLOCK_MONOTONIC */
};

/* The running responder; everything opened while root, kept after dropping it. */
struct responder {
	const struct responder_opts *o;
	int listen_fd;
	int webroot_fd;            /* the webroot directory; -1 in relay mode */
	int tokens_dir_fd;         /* the tokens file's directory; -1 without --tokens */
	char tokens_name[NAME_MAX + 1];
	pthread_mutex_t lock;      /* guards slots */
	struct conn_slot slots[RESPONDER_CONN_MAX];
	atomic_uint requests, served;
};

/* target.c */
bool responder_token_valid(const char *s, size_t len);
/* The token in a raw request target that is exactly "/.well-known/acme-challenge/TOKEN"
 * (token_len base64url characters, nothing before or after), or NULL. */
const char *responder_target_token(const char *target, unsigned token_len);
/* Whether token is one line of list (n bytes, a tokens file's text). */
bool responder_token_listed(const char *list, size_t n, const char *token);
/* "http://127.0.0.1:80" or "http://[::1]:8080/": an http URL with a host and no path. */
bool responder_relay_valid(const char *url);
/* A Host header we pass on: a name or address with an optional port, nothing else. */
bool responder_host_valid(const char *host);

/* content.c: the challenge's body (malloc'd, *ret_len bytes); -ENOENT when there is none to
 * serve, other -errno on failure, with why in e. */
int content_allowed(struct responder *r, const char *token, struct err *e);
int content_webroot(struct responder *r, const char *token, char **ret, size_t *ret_len,
		    struct err *e);
int content_relay(struct responder *r, const char *token, const char *host, char **ret,
		  size_t *ret_len, struct err *e);

/* server.c */
int server_start(struct responder *r, void **ret_daemon, struct err *e);
/* Stops taking connections; the listening socket is closed. */
void server_quiesce(void *daemon);
void server_stop(void *daemon);
/* Cuts connections older than RESPONDER_REQUEST_S; returns how many are open. */
size_t server_watchdog(struct responder *r);
void responder_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t responder_now_ms(void);

/* run.c */
int responder_run(const struct responder_opts *o);
