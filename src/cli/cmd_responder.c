/* cmd_responder.c: `acmegate responder`, the HTTP-01 responder, run in the foreground (the
 * window starts it detached in responder mode). Started as root: binds, then drops to an
 * unprivileged user (responder/run.c). */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "responder/responder.h"

#define UNTIL_MAX_S 86400   /* no window is longer; a typo in --until must not serve for years */

static void usage(FILE *f)
{
	fprintf(f, "Usage: acmegate responder --port P --until EPOCH [--webroot DIR | --relay URL]\n"
		"                           [--tokens FILE] [--user NAME] [--token-length N]\n\n"
		"Serves GET /.well-known/acme-challenge/TOKEN on port P, nothing else, until EPOCH.\n"
		"Started by 'acmegate open' in http01_mode = responder; see acmegate(8).\n\n"
		"  --port P          port to listen on, both families\n"
		"  --until EPOCH     stop at this time (seconds since the epoch)\n"
		"  --webroot DIR     serve DIR/.well-known/acme-challenge/TOKEN (regular files, <= 4 KiB)\n"
		"  --relay URL       or ask the local web server (default " RESPONDER_RELAY_DEFAULT ")\n"
		"  --tokens FILE     when FILE exists, serve only the tokens it lists (one a line)\n"
		"  --user NAME       user to run as after binding (default nobody)\n"
		"  --token-length N  base64url characters of a token (default %d)\n",
		TOKEN_LEN_DEFAULT);
}

static int parse_until(const char *s, time_t *ret)
{
	time_t now = time(NULL);
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || v <= (unsigned long long)now || v > (unsigned long long)now + UNTIL_MAX_S)
		return -1;
	*ret = (time_t)v;
	return 0;
}

#define bad(cmd, ...) (cli_usage_error((cmd), __VA_ARGS__), EXIT_USAGE)

/* 0, or an exit code. */
static int parse(int argc, char **argv, struct responder_opts *o)
{
	static const struct option longs[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "until", required_argument, NULL, 'u' },
		{ "webroot", required_argument, NULL, 'w' },
		{ "relay", required_argument, NULL, 'r' },
		{ "tokens", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'U' },
		{ "token-length", required_argument, NULL, 'n' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "responder";
	unsigned fd;
	int c;

	*o = (struct responder_opts){ .token_len = TOKEN_LEN_DEFAULT, .ready_fd = -1 };
	while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 1, 65535, &o->port) < 0)
				return bad(cmd, "--port: '%s' is not a port (1-65535)", optarg);
			break;
		case 'u':
			if (parse_until(optarg, &o->until) < 0)
				return bad(cmd, "--until: '%s' is not a time within the next day "
						       "(seconds since the epoch)", optarg);
			break;
		case 'w': o->webroot = optarg; break;
		case 'r': o->relay = optarg; break;
		case 't': o->tokens = optarg; break;
		case 'U': o->user = optarg; break;
		case 'n':
			if (parse_uint(optarg, 1, 128, &o->token_len) < 0)
				return bad(cmd, "--token-length: '%s' is not 1-128", optarg);
			break;
		case 'R':  /* internal: the window's pipe, see responder_proc.c */
			if (parse_uint(optarg, 3, 1023, &fd) < 0 || fcntl((int)fd, F_GETFD) < 0)
				return bad(cmd, "--ready-fd: '%s' is not an open descriptor", optarg);
			o->ready_fd = (int)fd;
			break;
		case 'h': usage(stdout); return -1;
		default: return cli_bad_option(cmd, c, argv);
		}
	}
	if (optind != argc)
		return bad(cmd, "unexpected argument '%s'", argv[optind]);
	if (!o->port || !o->until)
		return bad(cmd, "--port and --until are required");
	if (o->webroot && o->relay)
		return bad(cmd, "--webroot and --relay exclude each other");
	if (!o->webroot && !o->relay)
		o->relay = RESPONDER_RELAY_DEFAULT;
	if (o->relay && !responder_relay_valid(o->relay))
		return bad(cmd, "--relay: '%s' is not http://HOST[:PORT]", o->relay);
	return 0;
}

int cmd_responder(struct cli *cli, int argc, char **argv)
{
	struct responder_opts o;
	int r;

	(void)cli;
	r = parse(argc, argv, &o);
	if (r)
		return r < 0 ? 0 : r;
	return responder_run(&o) < 0 ? EXIT_FAIL : 0;
}
