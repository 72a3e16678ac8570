/* cli.h: shared by the command files: options common to all commands, exit codes. */
#pragma once
#include <stdio.h>
#include <time.h>
#include "conf.h"
#include "log.h"

/* Exit codes (sysexits.h values), listed in acmegate(8). */
enum {
	EXIT_OK_ = 0,
	EXIT_FAIL = 1,          /* a check failed (status: no window open with --quiet-check) */
	EXIT_USAGE = 64,        /* bad command line */
	EXIT_CHECK = 65,        /* the self-test failed: a CA would most likely fail too */
	EXIT_UNAVAILABLE = 69,  /* nf_tables not available in this kernel */
	EXIT_INCONCLUSIVE = 71, /* the self-test could not decide: too few perspectives answered */
	EXIT_KERNEL = 70,       /* the kernel refused the change */
	EXIT_STATE = 74,        /* state directory or file unusable */
	EXIT_LOCKED = 75,       /* another acmegate held the lock too long: try again */
	EXIT_NOPERM = 77,       /* no CAP_NET_ADMIN */
	EXIT_CONFIG = 78,       /* bad configuration */
	EXIT_NOEXEC = 126,      /* run: the client is not executable (as the shell says it) */
	EXIT_NOTFOUND = 127,    /* run: the client is not found in PATH */
};

struct cli {
	const char *conf_path;  /* -c, or $ACMEGATE_CONFIG, or the default */
	bool conf_required;
	struct conf conf;
};

/* Loads the config for a command; prints the error and returns an exit code on failure. */
int cli_load_conf(struct cli *cli);
/* Maps a failure of nftables or state handling to an exit code, after printing e. */
int cli_fail(int r, const struct err *e);
/* Reports getopt's ':' (missing value) or '?' (unknown option); returns EXIT_USAGE. */
int cli_bad_option(const char *cmd, int o, char **argv);
void cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fmt_time(char *buf, size_t len, time_t t);

int cmd_open(struct cli *cli, int argc, char **argv);
int cmd_close(struct cli *cli, int argc, char **argv);
int cmd_sweep(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_check_config(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_responder(struct cli *cli, int argc, char **argv);

/* cmd_check.c, shared with run. */
struct selftest;
struct check_args {
	const char *domains[DOMAIN_MAX];
	size_t ndomains;
	const char *type, *token, *keyauth, *value, *ca, *lease;
	bool json;
	bool if_configured;
};
void check_signals(void);
int check_targets(const struct conf *c, const struct check_args *a, struct selftest *st);
int check_execute(const struct conf *c, struct selftest *st, FILE *out);
