/* probe_main.c: `acmegate-agent probe`: runs one check from here and prints the result object.
 * No privilege (run it as an unprivileged user); called by acmegate-agent's main. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "probe/probe_int.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 64
#define EXIT_SOFTWARE 70

static const char usage[] =
	"usage: acmegate-agent probe [--root-hints FILE] [--trust-anchor FILE] [--allow CIDR]...\n"
	"                            [--dial-timeout MS] TYPE NAME [--token T]\n"
	"                            [--key-authorization K] [--value V] [--ca CA]\n"
	"TYPE is http-01, tls-alpn-01, dns-01 or caa.\n";

enum { OPT_ROOT_HINTS = 256, OPT_TRUST_ANCHOR, OPT_ALLOW, OPT_DIAL, OPT_TOKEN, OPT_KEYAUTH,
       OPT_VALUE, OPT_CA, OPT_HELP };

static const struct option options[] = {
	{ "root-hints", required_argument, NULL, OPT_ROOT_HINTS },
	{ "trust-anchor", required_argument, NULL, OPT_TRUST_ANCHOR },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "dial-timeout", required_argument, NULL, OPT_DIAL },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "key-authorization", required_argument, NULL, OPT_KEYAUTH },
	{ "value", required_argument, NULL, OPT_VALUE },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

__attribute__((format(printf, 1, 2)))
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "acmegate-agent probe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}

static int add_allow(struct guard *g, const char *s)
{
	if (g->nallow >= GUARD_ALLOW_MAX)
		return bad_usage("too many --allow (at most 32): '%s'", s);
	if (parse_cidr(s, &g->allow[g->nallow]) < 0)
		return bad_usage("--allow '%s': want a prefix such as 192.0.2.0/24 or 2001:db8::/32 "
				 "(no host bits)", s);
	g->nallow++;
	return 0;
}

static int parse_option(int opt, struct probe_opts *o, struct probe_req *r, struct guard *g)
{
	unsigned ms;

	switch (opt) {
	case OPT_ROOT_HINTS: o->root_hints = optarg; return 0;
	case OPT_TRUST_ANCHOR: o->trust_anchor = optarg; return 0;
	case OPT_ALLOW: return add_allow(g, optarg);
	case OPT_DIAL:
		if (parse_uint(optarg, 1, 60000, &ms) < 0)
			return bad_usage("--dial-timeout '%s': want milliseconds from 1 to 60000", optarg);
		o->dial_timeout_ms = (int)ms;
		return 0;
	case OPT_TOKEN: r->token = optarg; return 0;
	case OPT_KEYAUTH: r->key_authorization = optarg; return 0;
	case OPT_VALUE: r->value = optarg; return 0;
	case OPT_CA: r->ca = optarg; return 0;
	case OPT_HELP: fputs(usage, stdout); return -1;
	default: return bad_usage("%s", "unknown option");
	}
}

static int parse_args(int argc, char **argv, struct probe_opts *o, struct probe_req *r, struct guard *g)
{
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
		if ((rc = parse_option(opt, o, r, g)) != 0)
			return rc < 0 ? -1 : rc;
	if (argc - optind != 2)
		return bad_usage("%s", "want TYPE and NAME");
	if (probe_type_from_name(argv[optind], &r->type) < 0)
		return bad_usage("unknown check type '%s'", argv[optind]);
	r->name = argv[optind + 1];
	return 0;
}

/* An IP literal the guard refuses is reported like any refused destination. */
static json_t *forbidden_result(const struct probe_req *r, const struct err *e)
{
	return json_pack("{s:s, s:s, s:b, s:n, s:s, s:s}", "type", probe_type_name(r->type),
			 "name", r->name, "ok", 0, "family", "class", "forbidden", "detail", e->msg);
}

static int print_result(json_t *res)
{
	char *text = json_dumps(res, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int ok = json_is_true(json_object_get(res, "ok"));

	if (!text)
		return EXIT_SOFTWARE;
	puts(text);
	free(text);
	return ok ? 0 : EXIT_FAILED;
}

int probe_main(int argc, char **argv)
{
	struct guard g = { .nallow = 0 };
	struct probe_opts o = { .guard = &g, .dial_timeout_ms = DIAL_TIMEOUT_DEFAULT_MS };
	struct probe_req r = { .type = PROBE_HTTP01 };
	struct err e = { .msg = "" };
	json_t *res = NULL;
	int rc = parse_args(argc, argv, &o, &r, &g);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = probe_run(&o, &r, &res, &e);
	if (rc == -EACCES)
		res = forbidden_result(&r, &e);
	if (res) {
		rc = print_result(res);
	} else {
		fprintf(stderr, "acmegate-agent probe: %s\n", e.msg);
		rc = rc == -EINVAL ? EXIT_USAGE : EXIT_SOFTWARE;
	}
	json_decref(res);
	curl_global_cleanup();
	return rc;
}
