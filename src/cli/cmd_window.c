/* cmd_window.c: `open`, `close` and `sweep`: take the lock, change leases, reconcile the
 * kernel's gate rules (CAP_NET_ADMIN), log one line about the result. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "window.h"

#define LOCK_TIMEOUT_S 30
#define DEFAULT_LEASE "default"
#define TOKENS_PER_CALL 16

struct open_args {
	const char *lease;
	unsigned ttl;
	unsigned services;
	enum http01_mode mode;
	bool mode_set;
	const char *tokens[TOKENS_PER_CALL];
	size_t ntokens;
};

/* A token exactly as the CA issues it: token_length base64url characters. */
static int add_token(const struct conf *c, const char *cmd, const char *t, const char **tokens,
		     size_t *n)
{
	if (!b64url_valid(t, c->token_length, c->token_length)) {
		cli_usage_error(cmd, "bad --token '%.80s': an ACME token is %u base64url characters "
				"(A-Z a-z 0-9 - _; token_length in the config)", t, c->token_length);
		return EXIT_USAGE;
	}
	if (*n == TOKENS_PER_CALL) {
		cli_usage_error(cmd, "more than %d --token options", TOKENS_PER_CALL);
		return EXIT_USAGE;
	}
	tokens[(*n)++] = t;
	return 0;
}

/* Holds what every window command needs between lock and unlock. */
struct session {
	int lock;
	struct state st;
	struct nft *nft;
	struct err e;
};

static int session_begin(struct session *s, const struct conf *c)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->lock = state_lock(c->state_dir, LOCK_TIMEOUT_S, &s->e);
	if (s->lock < 0)
		return s->lock;
	r = state_load(c->state_dir, &s->st, &s->e);
	if (r == 0)
		r = nft_open(&s->nft, &s->e);
	return r;
}

static void session_end(struct session *s)
{
	nft_close(s->nft);
	state_free(&s->st);
	state_unlock(s->lock);
}

static void services_str(char *buf, size_t len, unsigned svcs, enum http01_mode mode)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit & SVC_ALL; bit <<= 1) {
		if (!(svcs & bit))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", svc_name(bit));
		if (bit == SVC_HTTP01 && n < len)
			n += (size_t)snprintf(buf + n, len - n, " (%s mode)", mode_name(mode));
		if (n >= len)
			break;
	}
}

/* What a careful operator needs to know besides the main line. */
static void report_warnings(const struct window_report *rep)
{
	if (rep->vanished)
		log_warn("%zu of our rules were already gone (ruleset flushed or reloaded?)", rep->vanished);
	if (rep->foreign)
		log_warn("%zu recorded handles now hold rules that are not ours; left untouched", rep->foreign);
	if (rep->leftover)
		log_warn("removed %zu leftover acmegate rules that no state recorded", rep->leftover);
	if (rep->expired)
		log_info("%zu lease%s had passed %s deadline and %s dropped", rep->expired,
			 rep->expired == 1 ? "" : "s", rep->expired == 1 ? "its" : "their",
			 rep->expired == 1 ? "was" : "were");
	if (rep->ct_forgotten)
		log_info("ended %zu connection%s made through the window", rep->ct_forgotten,
			 rep->ct_forgotten == 1 ? "" : "s");
	if (rep->ct_error[0])
		log_warn("%s: connections made during the window may live on; run "
			 "'conntrack -D -p tcp --dport 80' to end them", rep->ct_error);
	if (rep->responder_error[0])
		log_warn("%s: the world's http-01 requests are redirected to a port nobody answers",
			 rep->responder_error);
	if (rep->exposure_error)
		log_warn("cannot append to exposure.log in the state directory: %s",
			 strerror(-rep->exposure_error));
	if (rep->legacy4 || rep->legacy6)
		log_warn("iptables-legacy tables are loaded (%s%s%s): acmegate cannot open them; if they "
			 "drop challenge traffic, validation will fail (see 'iptables-legacy -S')",
			 rep->legacy4 ? "IPv4" : "", rep->legacy4 && rep->legacy6 ? ", " : "",
			 rep->legacy6 ? "IPv6" : "");
}

static void report_opened(const struct window_report *rep, const char *lease, unsigned svcs,
			  enum http01_mode mode, time_t deadline, unsigned ttl)
{
	char what[128], when[32];

	if (rep->forward_skipped)
		log_warn("%zu forward chain%s can drop traffic and %s not opened; if the web server "
			 "is behind DNAT (a container), set 'forward = yes'", rep->forward_skipped,
			 rep->forward_skipped == 1 ? "" : "s", rep->forward_skipped == 1 ? "is" : "are");
	services_str(what, sizeof(what), svcs, mode);
	fmt_time(when, sizeof(when), deadline);
	if (!rep->chains) {
		log_info("no base chain drops %s traffic: nothing to open (lease '%s' recorded)", what, lease);
		return;
	}
	log_info("opened %s for lease '%s' until %s (%u s) in %zu chain%s: %s", what, lease, when,
		 ttl, rep->chains, rep->chains == 1 ? "" : "s", rep->chain_list);
	if (rep->services != svcs) {
		services_str(what, sizeof(what), rep->services, rep->mode);
		log_info("the window, shared with other leases, now opens %s", what);
	}
}

/* getopt's own messages lack the program name and a hint: say it ourselves. */
static void open_usage(FILE *f)
{
	fprintf(f, "Usage: acmegate open [--lease NAME] [--ttl SECONDS] [--challenge TYPE]... [--mode MODE]\n"
		"                     [--token TOKEN]...\n"
		"  --lease NAME       the caller's claim on the window (default '" DEFAULT_LEASE "')\n"
		"  --ttl SECONDS      the kernel closes the window by itself after this (default: ttl)\n"
		"  --challenge TYPE   http-01, tls-alpn-01 or dns; repeatable (default: challenges)\n"
		"  --mode MODE        http-01: path (only challenge requests), port (the whole port),\n"
		"                     or responder (the world's requests go to acmegate's responder)\n"
		"  --token TOKEN      http-01, repeatable: pass only these challenges (token-exact)\n");
}

static int parse_open_args(const struct conf *c, int argc, char **argv, struct open_args *a)
{
	static const struct option opts[] = {
		{ "lease", required_argument, NULL, 'l' }, { "ttl", required_argument, NULL, 't' },
		{ "challenge", required_argument, NULL, 'C' }, { "mode", required_argument, NULL, 'm' },
		{ "token", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' }, { 0 }
	};
	unsigned svc;
	int o, r;

	*a = (struct open_args){ .lease = DEFAULT_LEASE, .ttl = c->ttl, .mode = c->http01_mode };
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":l:t:C:m:T:h", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			a->lease = optarg;
			break;
		case 'T':
			if ((r = add_token(c, "open", optarg, a->tokens, &a->ntokens)))
				return r;
			a->services |= SVC_HTTP01;
			break;
		case 't':
			if (parse_uint(optarg, 1, c->max_ttl, &a->ttl) < 0) {
				cli_usage_error("open", "bad --ttl '%s': expected seconds from 1 to max_ttl (%u)",
						optarg, c->max_ttl);
				return EXIT_USAGE;
			}
			break;
		case 'C':
			svc = svc_from_name(optarg);
			if (!svc) {
				cli_usage_error("open", "unknown challenge '%s': expected http-01, tls-alpn-01 or dns", optarg);
				return EXIT_USAGE;
			}
			a->services |= svc;
			break;
		case 'm':
			if (mode_from_name(optarg, &a->mode) < 0) {
				cli_usage_error("open", "unknown mode '%s': expected path, port or responder",
						optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			open_usage(stdout);
			return -1;
		default:
			return cli_bad_option("open", o, argv);
		}
	}
	if (optind < argc) {
		cli_usage_error("open", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!lease_name_valid(a->lease)) {
		cli_usage_error("open", "bad lease name '%s': 1 to 64 of A-Z a-z 0-9 . _ : @ -", a->lease);
		return EXIT_USAGE;
	}
	if (!a->services)
		a->services = c->services;
	return 0;
}

int cmd_open(struct cli *cli, int argc, char **argv)
{
	struct open_args a;
	struct session s;
	struct window_report rep;
	time_t now = time(NULL);
	int r = cli_load_conf(cli);

	if (r)
		return r;
	r = parse_open_args(&cli->conf, argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	r = session_begin(&s, &cli->conf);
	if (r == 0)
		r = window_lease_open(&s.st, a.lease, a.services, a.mode, now, a.ttl, &s.e);
	for (size_t i = 0; r == 0 && i < a.ntokens; i++)
		if ((r = state_add_token(&s.st, a.lease, a.tokens[i])) < 0) {
			s.e.kind = ERR_KIND_STATE;
			err_set(&s.e, r, "too many tokens (%d at most); close some leases first", TOKENS_MAX);
		}
	if (r == 0)
		r = window_apply(s.nft, &cli->conf, &s.st, now, true, &rep, &s.e);
	if (r < 0) {
		r = cli_fail(r, &s.e);
	} else {
		report_warnings(&rep);
		report_opened(&rep, a.lease, a.services, a.mode, now + a.ttl, a.ttl);
		if (s.st.ntokens && (rep.services & SVC_HTTP01) && rep.mode == HTTP01_PORT)
			log_warn("http-01 is open in port mode (a lease asked for it): the whole of "
				 "port 80 is open and the leases' tokens are not enforced");
		if (rep.exact)
			log_info("http-01 is token-exact: only the %zu challenge token%s the leases named "
				 "pass%s the %s", rep.ntokens, rep.ntokens == 1 ? "" : "s",
				 rep.ntokens == 1 ? "es" : "",
				 rep.mode == HTTP01_RESPONDER ? "responder" : "path gate");
	}
	session_end(&s);
	return r;
}

static void report_closed(const struct window_report *rep, const char *what)
{
	char when[32], redirected[64] = "";

	if (rep->deadline) {
		fmt_time(when, sizeof(when), rep->deadline);
		log_info("%s; the window stays open until %s", what, when);
		return;
	}
	if (rep->leases_left && rep->vanished) {
		log_warn("%s; the window stays closed although %zu lease%s remain%s: its rules were "
			 "removed by someone else ('acmegate open' reopens it)", what, rep->leases_left,
			 rep->leases_left == 1 ? "" : "s", rep->leases_left == 1 ? "s" : "");
		return;
	}
	if (!rep->closed_ms) {
		log_info("%s; no window was open", what);
		return;
	}
	if (rep->packets[KIND_REDIRECT])
		snprintf(redirected, sizeof(redirected), ", %llu connections redirected to the responder",
			 (unsigned long long)rep->packets[KIND_REDIRECT]);
	log_info("%s; window closed after %.1f s: %llu connections came in, %llu packets passed to "
		 "tcp/80, %llu challenge requests, %llu other requests reset, %llu packets to tcp/443, "
		 "%llu to port 53%s", what, (double)(rep->closed_ms - rep->opened_ms) / 1000.0,
		 (unsigned long long)rep->packets[KIND_TALLY],
		 (unsigned long long)rep->packets[KIND_OPEN_HTTP01],
		 (unsigned long long)rep->packets[KIND_PATH_ACCEPT],
		 (unsigned long long)rep->packets[KIND_PATH_RESET],
		 (unsigned long long)rep->packets[KIND_OPEN_TLSALPN01],
		 (unsigned long long)rep->packets[KIND_OPEN_DNS], redirected);
}

struct close_args {
	const char *lease;
	bool all;
	const char *tokens[TOKENS_PER_CALL];
	size_t ntokens;
};

static int parse_close_args(const struct conf *c, int argc, char **argv, struct close_args *a)
{
	static const struct option opts[] = {
		{ "lease", required_argument, NULL, 'l' }, { "all", no_argument, NULL, 'a' },
		{ "token", required_argument, NULL, 'T' }, { "help", no_argument, NULL, 'h' }, { 0 }
	};
	const char **lease = &a->lease;
	bool named = false, *all = &a->all;
	int o, r;

	*a = (struct close_args){ .lease = DEFAULT_LEASE };
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":l:aT:h", opts, NULL)) != -1) {
		if (o == 'l') {
			*lease = optarg;
			named = true;
		} else if (o == 'a')
			*all = true;
		else if (o == 'T') {
			if ((r = add_token(c, "close", optarg, a->tokens, &a->ntokens)))
				return r;
		} else if (o == 'h') {
			printf("Usage: acmegate close [--lease NAME [--token TOKEN]... | --all]\n");
			return -1;
		} else
			return cli_bad_option("close", o, argv);
	}
	if (optind < argc) {
		cli_usage_error("close", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (*all && (named || a->ntokens)) {
		cli_usage_error("close", "--all excludes --lease and --token");
		return EXIT_USAGE;
	}
	if (!*all && !lease_name_valid(*lease)) {
		cli_usage_error("close", "bad lease name '%s': 1 to 64 of A-Z a-z 0-9 . _ : @ -", *lease);
		return EXIT_USAGE;
	}
	return 0;
}

/* close --token: drops those tokens; the lease ends with its last one. */
static void close_tokens(struct state *st, const struct close_args *a, char *what, size_t len)
{
	size_t dropped = 0, left;

	for (size_t i = 0; i < a->ntokens; i++)
		dropped += state_drop_tokens(st, a->lease, a->tokens[i]) == 0;
	left = state_lease_tokens(st, a->lease);
	if (!state_find_lease(st, a->lease))
		snprintf(what, len, "no lease '%s' was open", a->lease);
	else if (left == 0 && dropped == 0)
		snprintf(what, len, "lease '%s' held none of those tokens; it stays open", a->lease);
	else if (left == 0 && window_lease_close(st, a->lease) == 0)
		snprintf(what, len, "closed lease '%s' with its last token", a->lease);
	else
		snprintf(what, len, "removed %zu of %zu tokens from lease '%s' (%zu left)", dropped,
			 a->ntokens, a->lease, left);
}

int cmd_close(struct cli *cli, int argc, char **argv)
{
	struct session s;
	struct window_report rep;
	struct close_args a;
	const char *lease;
	char what[160];
	int r = cli_load_conf(cli);

	if (r)
		return r;
	r = parse_close_args(&cli->conf, argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	lease = a.lease;
	r = session_begin(&s, &cli->conf);
	if (r == 0) {
		if (a.all) {
			snprintf(what, sizeof(what), "closed all leases (%zu)", s.st.nleases);
			s.st.nleases = 0;
			s.st.ntokens = 0;
			s.st.reclaim = true;
		} else if (a.ntokens) {
			close_tokens(&s.st, &a, what, sizeof(what));
		} else if (window_lease_close(&s.st, lease) == 0) {
			snprintf(what, sizeof(what), "closed lease '%s'", lease);
		} else {
			snprintf(what, sizeof(what), "no lease '%s' was open", lease);
		}
		r = window_apply(s.nft, &cli->conf, &s.st, time(NULL), false, &rep, &s.e);
	}
	if (r < 0) {
		r = cli_fail(r, &s.e);
	} else {
		report_warnings(&rep);
		report_closed(&rep, what);
	}
	session_end(&s);
	return r;
}

int cmd_sweep(struct cli *cli, int argc, char **argv)
{
	struct session s;
	struct window_report rep;
	int gone, r = cli_load_conf(cli);

	if (r)
		return r;
	if (argc > 1) {
		cli_usage_error("sweep", "unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	r = session_begin(&s, &cli->conf);
	gone = r == 0 ? window_gate_missing(s.nft, &s.st, &s.e) : 0;
	if (gone > 0)
		log_warn("the path gate (table inet acmegate) was removed: closing the http-01 "
			 "window, which would otherwise open the whole port");
	if (r == 0 && gone == 0 && !window_needs_sweep(&s.st, time(NULL))) {
		session_end(&s);
		return 0;
	}
	if (gone < 0)
		r = gone;
	if (r == 0)
		r = window_apply(s.nft, &cli->conf, &s.st, time(NULL), false, &rep, &s.e);
	if (r < 0) {
		r = cli_fail(r, &s.e);
	} else {
		report_warnings(&rep);
		report_closed(&rep, "swept expired leases");
	}
	session_end(&s);
	return r;
}
