/* cmd_check.c: `check`: the multi-perspective self-test from the command line, a manual hook's
 * environment or the config; with --lease, the pre-hook's on_check_failure policy. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "check/selftest.h"
#include "cli.h"
#include "state.h"


static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
	check_stop = 1;
	selftest_cleanup_now();
}

void check_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void check_usage(FILE *f)
{
	fprintf(f, "Usage: acmegate check [--challenge TYPE] [--domain NAME]... [--token T] "
		"[--key-authorization K]\n"
		"                      [--value V] [--ca DOMAIN] [--quorum POLICY] [--json] [--lease NAME]\n"
		"  --challenge TYPE   http-01, tls-alpn-01, dns-01 or caa (default: the hook's, or the\n"
		"                     first of the configured challenges)\n"
		"  --domain NAME      repeatable (default: $CERTBOT_DOMAIN, or domains in [check])\n"
		"  --token T, --key-authorization K   http-01: check this challenge instead of a probe file\n"
		"  --value V          dns-01: the TXT value to expect (default: $CERTBOT_VALIDATION)\n"
		"  --ca DOMAIN        caa: the CA's issuer domain (default: caa_issuer in [check])\n"
		"  --quorum POLICY    cabf, all, majority or a number (default: quorum in [check])\n"
		"  --json             the report as JSON\n"
		"  --lease NAME       a pre-hook's check of that lease: apply on_check_failure to it\n"
		"  --if-configured    succeed quietly when no [perspective] is configured\n"
		"Exit: 0 the quorum passed, %d it failed, %d too few perspectives could be asked to\n"
		"decide it; see acmegate(8).\n", EXIT_CHECK, EXIT_INCONCLUSIVE);
}

static int parse_check_args(int argc, char **argv, struct check_args *a, struct selftest *st)
{
	static const struct option opts[] = {
		{ "challenge", required_argument, NULL, 'C' }, { "domain", required_argument, NULL, 'd' },
		{ "token", required_argument, NULL, 't' }, { "key-authorization", required_argument, NULL, 'k' },
		{ "value", required_argument, NULL, 'v' }, { "ca", required_argument, NULL, 'a' },
		{ "quorum", required_argument, NULL, 'Q' }, { "json", no_argument, NULL, 'j' },
		{ "lease", required_argument, NULL, 'l' }, { "if-configured", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	int o;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":C:d:t:k:v:a:Q:jl:ih", opts, NULL)) != -1) {
		switch (o) {
		case 'C': a->type = optarg; break;
		case 'd':
			if (a->ndomains == DOMAIN_MAX) {
				cli_usage_error("check", "more than %d domains", DOMAIN_MAX);
				return EXIT_USAGE;
			}
			a->domains[a->ndomains++] = optarg;
			break;
		case 't': a->token = optarg; break;
		case 'k': a->keyauth = optarg; break;
		case 'v': a->value = optarg; break;
		case 'a': a->ca = optarg; break;
		case 'Q':
			if (quorum_from_name(optarg, &st->quorum, &st->quorum_count) < 0) {
				cli_usage_error("check", "bad --quorum '%s': expected cabf, all, majority or a "
						"number from 1 to %d", optarg, PERSPECTIVE_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'j': st->json = true; break;
		case 'l': a->lease = optarg; break;
		case 'i': a->if_configured = true; break;
		case 'h': check_usage(stdout); return -1;
		default: return cli_bad_option("check", o, argv);
		}
	}
	if (optind < argc) {
		cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

static const char *env(const char *name)
{
	const char *v = secure_getenv(name);

	return v && *v ? v : NULL;
}

static int pick_type(const struct conf *c, const struct check_args *a, enum probe_type *t)
{
	if (a->type) {
		if (!strcmp(a->type, "dns"))
			*t = PROBE_DNS01;
		else if (probe_type_from_name(a->type, t) < 0) {
			cli_usage_error("check", "unknown challenge '%s': expected http-01, tls-alpn-01, "
					"dns-01 or caa", a->type);
			return EXIT_USAGE;
		}
	} else if (a->token || env("CERTBOT_TOKEN")) {
		*t = PROBE_HTTP01;
	} else if (env("CERTBOT_VALIDATION") || a->value) {
		*t = PROBE_DNS01;  /* certbot's manual hook: a validation without a token is a TXT */
	} else {
		*t = c->services & SVC_HTTP01 ? PROBE_HTTP01 :
		     c->services & SVC_TLSALPN01 ? PROBE_TLSALPN01 : PROBE_DNS01;
	}
	return 0;
}

/* The challenge's own values: http-01 token + key authorization, dns-01 value, caa CA. */
static int fill_challenge(const struct conf *c, const struct check_args *a, struct check_target *t)
{
	const char *token = a->token ? a->token : env("CERTBOT_TOKEN");
	const char *ka = a->keyauth ? a->keyauth : token ? env("CERTBOT_VALIDATION") : NULL;
	const char *value = a->value ? a->value : !token ? env("CERTBOT_VALIDATION") : NULL;
	const char *ca = a->ca ? a->ca : c->check.caa_issuer[0] ? c->check.caa_issuer : NULL;

	if (t->type == PROBE_HTTP01 && (!token != !ka)) {
		cli_usage_error("check", "http-01 needs both --token and --key-authorization, or neither "
				"(then a probe file is placed under webroot)");
		return EXIT_USAGE;
	}
	if (token && (!b64url_valid(token, 1, sizeof(t->token) - 1) || strncmp(ka, token, strlen(token)) ||
		      ka[strlen(token)] != '.' || strlen(ka) >= sizeof(t->key_authorization))) {
		cli_usage_error("check", "bad http-01 challenge: the token must be base64url and the key "
				"authorization TOKEN.THUMBPRINT");
		return EXIT_USAGE;
	}
	if (t->type == PROBE_DNS01 && value && !b64url_valid(value, 1, sizeof(t->value) - 1)) {
		cli_usage_error("check", "bad dns-01 value '%s': expected base64url, as the TXT record holds", value);
		return EXIT_USAGE;
	}
	if (t->type == PROBE_CAA && (!ca || !valid_domain(ca))) {
		cli_usage_error("check", "caa needs the CA's issuer domain: --ca DOMAIN or caa_issuer in [check]");
		return EXIT_USAGE;
	}
	if (t->type == PROBE_HTTP01 && token) {
		snprintf(t->token, sizeof(t->token), "%s", token);
		snprintf(t->key_authorization, sizeof(t->key_authorization), "%s", ka);
	}
	if (t->type == PROBE_TLSALPN01 && a->keyauth)
		snprintf(t->key_authorization, sizeof(t->key_authorization), "%s", a->keyauth);
	if (t->type == PROBE_DNS01 && value)
		snprintf(t->value, sizeof(t->value), "%s", value);
	if (t->type == PROBE_CAA)
		snprintf(t->ca, sizeof(t->ca), "%s", ca);
	return 0;
}

static int add_target(struct selftest *st, enum probe_type type, const char *name)
{
	struct check_target *t = &st->targets[st->ntargets];
	bool wild = !strncmp(name, "*.", 2);

	if (wild && (type == PROBE_HTTP01 || type == PROBE_TLSALPN01)) {
		cli_usage_error("check", "'%s' is a wildcard: a CA validates it only with dns-01", name);
		return EXIT_USAGE;
	}
	if (!valid_domain(wild ? name + 2 : name)) {
		cli_usage_error("check", "bad domain '%s': expected a DNS name like www.example.org", name);
		return EXIT_USAGE;
	}
	memset(t, 0, sizeof(*t));
	t->type = type;
	snprintf(t->name, sizeof(t->name), "%s", wild && type != PROBE_CAA ? name + 2 : name);
	st->ntargets++;
	return 0;
}

/* A token-exact window (open --token; the tokens file exists exactly while the gate is exact)
 * resets every token it was not given, so a probe file cannot pass it whatever a CA would
 * see. That is a usage error, not a verdict: the same call would never pass, and the fix is
 * to check the challenge itself. */
static int probe_can_pass(const struct conf *c, const struct selftest *st)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/tokens", c->state_dir);
	if (!st->probe_file || access(path, F_OK) != 0)
		return 0;
	log_error("check: the window is token-exact (a lease was opened with --token; %s lists "
		  "the tokens it passes): a probe file's random token cannot pass it. Check the "
		  "challenge itself with --token and --key-authorization (a certbot manual hook has "
		  "them in $CERTBOT_TOKEN and $CERTBOT_VALIDATION)", path);
	return EXIT_USAGE;
}

/* Every domain gets the chosen check, and a caa check when caa_issuer is set. */
int check_targets(const struct conf *c, const struct check_args *a, struct selftest *st)
{
	const char *names[DOMAIN_MAX];
	size_t n = a->ndomains;
	enum probe_type type;
	int r = pick_type(c, a, &type);

	memcpy(names, a->domains, n * sizeof(names[0]));
	if (!n && env("CERTBOT_DOMAIN"))
		names[n++] = env("CERTBOT_DOMAIN");
	for (size_t i = 0; !n && i < c->check.ndomains; i++)
		names[i] = c->check.domains[i];
	n = n ? n : c->check.ndomains;
	if (r == 0 && !n) {
		cli_usage_error("check", "no domain to check: give --domain NAME, or list domains in "
				"[check] of %s", c->path);
		return EXIT_USAGE;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		if ((r = add_target(st, type, names[i])) == 0)
			r = fill_challenge(c, a, &st->targets[st->ntargets - 1]);
		if (r == 0 && type != PROBE_CAA && c->check.caa_issuer[0] && add_target(st, PROBE_CAA, names[i]) == 0)
			snprintf(st->targets[st->ntargets - 1].ca, DOMAIN_LEN, "%s", c->check.caa_issuer);
	}
	st->probe_file = r == 0 && type == PROBE_HTTP01 && !st->targets[0].token[0];
	/* the responder serves its own webroot; a relay, the web server's (webroot in [check]) */
	st->webroot = c->http01_mode == HTTP01_RESPONDER && c->responder_webroot[0] ?
		      c->responder_webroot : c->check.webroot;
	return r ? r : probe_can_pass(c, st);
}

/* Runs the self-test; 0 pass, EXIT_CHECK fail, EXIT_INCONCLUSIVE undecided, or another exit
 * code after saying why. */
int check_execute(const struct conf *c, struct selftest *st, FILE *out)
{
	struct err e = { 0 };
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("check: libcurl could not start");
		return EXIT_FAIL;
	}
	r = selftest_run(c, st, out, &e);
	curl_global_cleanup();
	fflush(out);
	if (r == -EINTR && stop_signal)
		return 128 + stop_signal;
	if (r < 0) {
		log_error("%s", e.msg);
		return EXIT_FAIL;
	}
	return r == SELFTEST_PASS ? 0 : r == SELFTEST_INCONCLUSIVE ? EXIT_INCONCLUSIVE : EXIT_CHECK;
}

/* A pre-hook's failed or undecided check: on_inconclusive, then on_check_failure decide what
 * happens to its lease. */
static int apply_policy(struct cli *cli, const char *lease, int r)
{
	char *argv[] = { "close", "--lease", (char *)lease, NULL };
	enum check_failure f = cli->conf.check.on_failure;
	const char *what = r == EXIT_CHECK ? "failed" : "was inconclusive (on_inconclusive = refuse)";

	if (r == EXIT_INCONCLUSIVE && cli->conf.check.on_inconclusive == ON_INC_PROCEED) {
		log_warn("acmegate: the self-test was inconclusive: too few perspectives could be "
			 "asked; the window stays open and validation goes on (on_inconclusive = proceed)");
		return 0;
	}
	if (f == ON_FAIL_WARN) {
		log_warn("acmegate: the self-test %s; the window stays open and validation goes on "
			 "(on_check_failure = warn)", what);
		return 0;
	}
	if (f == ON_FAIL_KEEP) {
		log_warn("acmegate: the self-test %s; the window stays open until its deadline "
			 "(on_check_failure = keep)", what);
		return r;
	}
	log_warn("acmegate: the self-test %s; closing lease '%s' (on_check_failure = close)", what, lease);
	optind = 0;
	cmd_close(cli, 3, argv);
	return r;
}

int cmd_check(struct cli *cli, int argc, char **argv)
{
	static struct selftest st;
	struct check_args a = { 0 };
	int r = cli_load_conf(cli);

	if (r)
		return r;
	st.quorum = cli->conf.check.quorum;
	st.quorum_count = cli->conf.check.quorum_count;
	r = parse_check_args(argc, argv, &a, &st);
	if (r)
		return r < 0 ? 0 : r;
	if (!cli->conf.npersp) {
		if (a.if_configured)
			return 0;
		log_error("check: no perspective agents are configured in %s: add [perspective NAME] "
			  "sections (at least 2; see acmegate.conf(5))", cli->conf.path);
		return EXIT_CONFIG;
	}
	if (a.lease && !lease_name_valid(a.lease)) {
		cli_usage_error("check", "bad lease name '%s'", a.lease);
		return EXIT_USAGE;
	}
	if ((r = check_targets(&cli->conf, &a, &st)))
		return r;
	check_signals();
	r = check_execute(&cli->conf, &st, a.lease ? stderr : stdout);
	if ((r == EXIT_CHECK || r == EXIT_INCONCLUSIVE) && a.lease)
		r = apply_policy(cli, a.lease, r);
	return r;
}
