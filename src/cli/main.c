/* main.c: parses global options and dispatches to a command; runs as root (the commands that
 * touch nftables need CAP_NET_ADMIN). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli.h"

#define VERSION "0.1.0"

static const struct {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "open", cmd_open, "open (or refresh) a validation window for a lease" },
	{ "close", cmd_close, "end a lease; the window closes with its last lease" },
	{ "status", cmd_status, "show the window, its leases and what passed through it" },
	{ "sweep", cmd_sweep, "remove rules and leases whose deadline has passed" },
	{ "check", cmd_check, "ask the perspective agents whether a CA could validate now" },
	{ "run", cmd_run, "open, check, run an ACME client, and close again" },
	{ "check-config", cmd_check_config, "validate the configuration file" },
	{ "responder", cmd_responder, "(internal) the http-01 responder a window in responder mode runs" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: acmegate [-c FILE] [-q] COMMAND [ARGS]\n\n"
		"Opens nftables for exactly what ACME validation needs, only while it runs.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nOptions:\n"
		"  -c, --config FILE  configuration (default " CONF_DEFAULT_PATH ", or $ACMEGATE_CONFIG)\n"
		"  -q, --quiet        print only warnings and errors\n"
		"  -h, --help         this help; COMMAND --help for a command's options\n"
		"  -V, --version      print the version\n\n"
		"See acmegate(8) and acmegate.conf(5).\n");
}

int cli_bad_option(const char *cmd, int o, char **argv)
{
	if (o == ':')
		cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	else
		cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	return EXIT_USAGE;
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	char msg[2048];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "acmegate%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	log_escaped(stderr, msg);
	fprintf(stderr, "\nTry 'acmegate%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
}

int cli_load_conf(struct cli *cli)
{
	struct err e = { .kind = ERR_KIND_NFT };
	int r = conf_load(&cli->conf, cli->conf_path, cli->conf_required, &e);

	if (r < 0) {
		log_error("%s", e.msg);
		return EXIT_CONFIG;
	}
	return 0;
}

int cli_fail(int r, const struct err *e)
{
	if (e->kind == ERR_KIND_STATE) {
		log_error("%s%s", e->msg, r == -ETIMEDOUT ? "; try again" : "");
		return r == -ETIMEDOUT ? EXIT_LOCKED : EXIT_STATE;
	}
	switch (-r) {
	case EPERM:
		log_error("%s (acmegate needs CAP_NET_ADMIN: run it as root); nothing was changed", e->msg);
		return EXIT_NOPERM;
	case EACCES:  /* a table owned by another process */
		log_error("%s; nothing was changed", e->msg);
		return EXIT_KERNEL;
	case EPROTONOSUPPORT:
	case EAFNOSUPPORT:
	case EOPNOTSUPP:
		log_error("%s (is nf_tables available in this kernel? try 'modprobe nf_tables'); "
			  "nothing was changed", e->msg);
		return EXIT_UNAVAILABLE;
	default:
		log_error("%s; nothing was changed", e->msg);
		return EXIT_KERNEL;
	}
}

void fmt_time(char *buf, size_t len, time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
}

static int dispatch(struct cli *cli, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[0], commands[i].name))
			return commands[i].run(cli, argc, argv);
	cli_usage_error(NULL, "unknown command '%s'", argv[0]);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct cli cli = { .conf_path = CONF_DEFAULT_PATH };
	const char *env = secure_getenv("ACMEGATE_CONFIG");
	int c;

	umask(077);
	if (env && *env) {
		cli.conf_path = env;
		cli.conf_required = true;
	}
	while ((c = getopt_long(argc, argv, "+c:qhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.conf_path = optarg;
			cli.conf_required = true;
			break;
		case 'q':
			log_set_quiet(true);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("acmegate " VERSION "\n");
			return 0;
		default:
			fprintf(stderr, "Try 'acmegate --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argv += optind;
	argc -= optind;
	optind = 0;
	return dispatch(&cli, argc, argv);
}
