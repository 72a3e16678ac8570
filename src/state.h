/* state.h: the window's state under state_dir (tmpfs /run: nothing survives a reboot, and
 * neither do the rules): leases, the rules we inserted, counters of rules already removed. */
#pragma once
#include <stdint.h>
#include <time.h>
#include "conf.h"
#include "log.h"

#define LEASE_NAME_MAX 64
#define LEASES_MAX 256

/* What a recorded rule does: one service's opener, or one of the path gate's rules. */
enum rule_kind { KIND_OPEN_HTTP01, KIND_OPEN_TLSALPN01, KIND_OPEN_DNS, KIND_PATH_ACCEPT,
		 KIND_PATH_RESET, KIND_PATH_TRUSTED, KIND_PATH_EXPECT, KIND_COUNT };

struct lease {
	char name[LEASE_NAME_MAX + 1];
	time_t opened;
	time_t deadline;
	unsigned services;
	enum http01_mode mode;
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
	time_t window_opened;  /* when the current window first opened; 0 if closed */
};

/* Takes the exclusive lock (waiting up to timeout_s); returns an fd to pass to state_unlock. */
int state_lock(const char *dir, unsigned timeout_s, struct err *e);
void state_unlock(int fd);
int state_load(const char *dir, struct state *st, struct err *e);
int state_save(const char *dir, const struct state *st, struct err *e);
void state_free(struct state *st);

struct lease *state_find_lease(struct state *st, const char *name);
int state_add_rule(struct state *st, const struct rec_rule *r);
bool lease_name_valid(const char *name);
const char *kind_name(enum rule_kind k);
