/* window.h: leases and the reconciliation that makes the kernel's gate rules match them. */
#pragma once
#include <stdbool.h>
#include <time.h>
#include "conf.h"
#include "nft.h"
#include "state.h"

/* What one reconciliation found and did, for the one log line at the command boundary. */
struct window_report {
	size_t chains;          /* base chains that got openers */
	size_t forward_skipped; /* forward chains that can drop, left alone (forward = no) */
	size_t rules_added;
	size_t rules_removed;
	size_t vanished;        /* recorded rules someone else removed (flush, reload) */
	size_t foreign;         /* recorded handles now holding someone else's rule: kept */
	size_t leftover;        /* our rules nobody recorded (a crash between batch and save) */
	size_t expired;         /* leases dropped because their deadline passed */
	unsigned services;      /* services open after this run */
	enum http01_mode mode;
	time_t deadline;        /* latest deadline of what is open after this run; 0 = closed */
	size_t leases_left;     /* leases recorded after this run (open or not) */
	char chain_list[512];   /* "inet filter input, netdev geo ingress" */
	bool legacy4, legacy6;  /* iptables-legacy tables present */
	time_t open_seconds;    /* when the window closed fully: how long it was open */
	int64_t opened_ms, closed_ms;  /* … and when (ms since the epoch) */
	int exposure_error;     /* writing the exposure log failed (negative errno) */
	char responder_error[300];  /* http01_mode = responder: why it is not serving */
	bool exact;             /* the path gate passes only the leases' tokens */
	size_t ntokens;         /* distinct tokens the leases named */
	size_t ct_forgotten;    /* connections to closed ports removed from conntrack */
	char ct_error[256];     /* why that failed, if it did */
	uint64_t packets[KIND_COUNT];  /* when it closed fully: what passed, per rule kind */
};

/* Drops expired leases, then makes the kernel hold exactly the rules the leases want:
 * removes our recorded rules (by handle, comment checked) and inserts fresh ones with the
 * current deadlines, all in one atomic batch. Saves the state. Caller holds the lock.
 * Without may_open (close, sweep) it renews only rules that still stand: it never reopens
 * what someone else closed. */
int window_apply(struct nft *n, const struct conf *c, struct state *st, time_t now,
		 bool may_open, struct window_report *rep, struct err *e);

/* Adds or refreshes a lease: its deadline becomes now + ttl, its services are merged. */
int window_lease_open(struct state *st, const char *name, unsigned services,
		      enum http01_mode mode, time_t now, unsigned ttl, struct err *e);
/* 1 if the path gate we made is gone (someone deleted table inet acmegate): the http-01
 * openers then open the whole port, and a sweep must take them away. */
int window_gate_missing(struct nft *n, const struct state *st, struct err *e);
/* Whether a sweep has work: a lease past its deadline, or rules without any lease. */
bool window_needs_sweep(const struct state *st, time_t now);
/* Removes a lease; returns 0 or -ENOENT when there was none. */
int window_lease_close(struct state *st, const char *name);
