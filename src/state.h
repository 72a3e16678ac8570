/* state.h: the window's state under state_dir (tmpfs /run: nothing survives a reboot, and
 * neither do the rules): leases, the rules we inserted, counters of rules already removed. */
#pragma once
#include <stdint.h>
#include <time.h>
#include "conf.h"
#include "log.h"

#define LEASE_NAME_MAX 64
#define LEASES_MAX 256
#define TOKEN_MAX 54      /* the longest token_length the config allows */
#define TOKENS_MAX 1024

/* What a recorded rule does: one service's opener, or one of the path gate's rules. */
enum rule_kind { KIND_OPEN_HTTP01, KIND_OPEN_TLSALPN01, KIND_OPEN_DNS, KIND_PATH_ACCEPT,
		 KIND_PATH_RESET, KIND_PATH_TRUSTED, KIND_PATH_EXPECT, KIND_TALLY, KIND_REDIRECT, KIND_COUNT };

struct lease {
	char name[LEASE_NAME_MAX + 1];
	time_t opened;
	time_t deadline;
	unsigned services;
	enum http01_mode mode;
};

/* A challenge token a lease asked for: the http-01 window then passes only these. */
struct token_rec {
	char lease[LEASE_NAME_MAX + 1];
	char token[TOKEN_MAX + 1];
};
struct rec_rule {
	uint32_t family;
	char table[256];
	char chain[256];
	uint64_t handle;
	enum rule_kind kind;
};

struct state {
	struct lease leases[LEASES_MAX];
	size_t nleases;
	struct rec_rule *rules;
	size_t nrules, cap_rules;
	uint64_t packets[KIND_COUNT], bytes[KIND_COUNT];  /* from rules already removed */
	struct token_rec *tokens;
	size_t ntokens, cap_tokens;
	int64_t window_opened_ms;  /* when the current window first opened (ms since the epoch); 0 if closed */
	time_t window_until;       /* its latest deadline while open */
	bool reclaim;  /* not saved: close --all may delete a table inet acmegate of ours that the
			* state does not record (state file lost or damaged) */
};

/* Takes the exclusive lock (waiting up to timeout_s); returns an fd to pass to state_unlock. */
int state_lock(const char *dir, unsigned timeout_s, struct err *e);
void state_unlock(int fd);
int state_load(const char *dir, struct state *st, struct err *e);
int state_save(const char *dir, const struct state *st, struct err *e);
void state_free(struct state *st);

struct lease *state_find_lease(struct state *st, const char *name);
int state_add_rule(struct state *st, const struct rec_rule *r);
/* Adds LEASE's claim on TOKEN (once); -ENOSPC past TOKENS_MAX. */
int state_add_token(struct state *st, const char *lease, const char *token);
/* Drops LEASE's TOKEN (0, or -ENOENT), or with token NULL all of LEASE's tokens (their count). */
int state_drop_tokens(struct state *st, const char *lease, const char *token);
/* Appends one JSON line about a closed window to DIR/exposure.log: when it opened and closed,
 * how long, and what passed (from the rules' counters by kind). */
int state_log_exposure(const char *dir, int64_t opened_ms, int64_t closed_ms,
		       const uint64_t packets[KIND_COUNT]);
/* DIR/tokens, one token per line, readable by all (the responder runs unprivileged): the
 * tokens a token-exact window passes; tokens NULL removes the file. */
int state_write_tokens(const char *dir, const char *const *tokens, size_t n);
/* How many tokens LEASE holds. */
size_t state_lease_tokens(const struct state *st, const char *lease);
bool lease_name_valid(const char *name);
const char *kind_name(enum rule_kind k);
