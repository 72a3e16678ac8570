/* cmd_config.c: `check-config`: validates the configuration without acting; no privilege. */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "responder/responder.h"

static void print_trusted(const struct conf *c)
{
	char addr[INET6_ADDRSTRLEN];

	printf("  trusted_sources =");
	for (size_t i = 0; i < c->ntrusted; i++) {
		const struct cidr *t = &c->trusted[i];

		inet_ntop(t->family == NFPROTO_IPV4 ? AF_INET : AF_INET6, t->addr, addr, sizeof(addr));
		printf("%s %s/%u", i ? "," : "", addr, t->plen);
	}
	printf("\n");
}

static void print_check(const struct conf *c)
{
	if (!c->npersp)
		return;
	if (c->check.quorum == QUORUM_COUNT)
		printf("  quorum = %u\n", c->check.quorum_count);
	else
		printf("  quorum = %s\n", quorum_name(c->check.quorum));
	printf("  on_check_failure = %s\n  on_inconclusive = %s\n  perspectives =",
	       on_failure_name(c->check.on_failure), on_inconclusive_name(c->check.on_inconclusive));
	for (size_t i = 0; i < c->npersp; i++)
		printf("%s %s", i ? "," : "", c->persp[i].name);
	printf("\n");
}

int cmd_check_config(struct cli *cli, int argc, char **argv)
{
	char svcs[64] = "";
	int r;

	if (argc > 1) {
		cli_usage_error("check-config", "unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	r = cli_load_conf(cli);
	if (r)
		return r;
	for (unsigned bit = 1; bit & SVC_ALL; bit <<= 1)
		if (cli->conf.services & bit)
			snprintf(svcs + strlen(svcs), sizeof(svcs) - strlen(svcs), "%s%s",
				 svcs[0] ? "," : "", svc_name(bit));
	if (access(cli->conf.path, F_OK) == 0)
		printf("%s: ok\n", cli->conf.path);
	else
		printf("%s: no such file; built-in defaults apply\n", cli->conf.path);
	printf("  challenges = %s\n  ttl = %u\n  max_ttl = %u\n  http01_mode = %s\n"
	       "  token_length = %u\n  forward = %s\n  state_dir = %s\n", svcs, cli->conf.ttl,
	       cli->conf.max_ttl, mode_name(cli->conf.http01_mode), cli->conf.token_length,
	       cli->conf.forward ? "yes" : "no", cli->conf.state_dir);
	if (cli->conf.http01_mode == HTTP01_RESPONDER)
		printf("  responder_port = %u\n  responder_%s = %s\n  responder_user = %s\n",
		       cli->conf.responder_port, cli->conf.responder_webroot[0] ? "webroot" : "relay",
		       cli->conf.responder_webroot[0] ? cli->conf.responder_webroot :
		       cli->conf.responder_relay[0] ? cli->conf.responder_relay : RESPONDER_RELAY_DEFAULT,
		       cli->conf.responder_user);
	print_trusted(&cli->conf);
	print_check(&cli->conf);
	return 0;
}
