/* cmd_run.c: `run -- CLIENT ARGS...`: finds the client, opens a window for a lease of its own,
 * runs the self-test, runs the ACME client only if the test passes, and closes the lease in
 * every case: when the client fails, and on SIGINT, SIGTERM or SIGHUP (passed on to the client
 * first, SIGKILL after a grace period). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check/selftest.h"
#include "cli.h"
#include "state.h"

#define CHALLENGES_MAX 3
#define KILL_GRACE_S 10     /* a client that ignores our signal this long gets SIGKILL */

struct run_args {
	struct check_args check;
	const char *challenges[CHALLENGES_MAX];
	size_t nchallenges;
	const char *ttl;
	const char *mode;        /* --mode, passed on to open */
	unsigned ttl_s;          /* the window's lifetime: --ttl, or ttl in [gate] */
	char lease[LEASE_NAME_MAX + 1];
	bool no_check;
	char **client;
};

static volatile sig_atomic_t child_pid, got_signal, killed, deadline_passed;

static void run_usage(FILE *f)
{
	fprintf(f, "Usage: acmegate run [--challenge TYPE]... [--domain NAME]... [--ttl SECONDS]\n"
		"                    [--mode path|port|responder] [--lease NAME] [--quorum POLICY]\n"
		"                    [--no-check] -- CLIENT [ARGS...]\n"
		"Opens the window, runs the self-test, runs CLIENT only if it passes, closes again.\n"
		"  --challenge TYPE   http-01, tls-alpn-01 or dns; repeatable (default: challenges)\n"
		"  --domain NAME      what to check (default: the client's -d/--domain(s), or [check] domains)\n"
		"  --ttl SECONDS      the kernel closes the window by itself after this\n"
		"  --mode MODE        http-01: path, port (a standalone client) or responder\n"
		"  --lease NAME       the window's lease (default run-PID)\n"
		"  --quorum POLICY    cabf, all, majority or a number (default: quorum in [check])\n"
		"  --no-check         skip the self-test\n"
		"Exit: the client's exit code; %d when the self-test failed, %d when it was inconclusive\n"
		"(and on_inconclusive = refuse): the client did not run; %d / %d when CLIENT is not\n"
		"found / not executable; 128+N after acmegate got signal N. See acmegate(8).\n",
		EXIT_CHECK, EXIT_INCONCLUSIVE, EXIT_NOTFOUND, EXIT_NOEXEC);
}

/* certbot, lego, dehydrated: -d NAME, -d=NAME, --domain(s) NAME, comma-separated lists. */
static void client_domains(struct check_args *a, char **client)
{
	static char buf[4096];
	size_t used = 0;

	for (size_t i = 0; client[i] && a->ndomains < DOMAIN_MAX; i++) {
		const char *v = NULL, *arg = client[i];
		char *save = NULL, *copy;

		if (!strcmp(arg, "-d") || !strcmp(arg, "--domain") || !strcmp(arg, "--domains"))
			v = client[++i];
		else if (!strncmp(arg, "-d=", 3) || !strncmp(arg, "--domain=", 9) || !strncmp(arg, "--domains=", 10))
			v = strchr(arg, '=') + 1;
		if (!v || used + strlen(v) + 1 > sizeof(buf))
			continue;
		copy = memcpy(buf + used, v, strlen(v) + 1);
		used += strlen(v) + 1;
		for (char *d = strtok_r(copy, ",", &save); d && a->ndomains < DOMAIN_MAX; d = strtok_r(NULL, ",", &save))
			a->domains[a->ndomains++] = d;
		if (!client[i])
			break;
	}
}

static int parse_run_args(int argc, char **argv, struct run_args *a, struct selftest *st)
{
	static const struct option opts[] = {
		{ "challenge", required_argument, NULL, 'C' }, { "domain", required_argument, NULL, 'd' },
		{ "ttl", required_argument, NULL, 't' }, { "lease", required_argument, NULL, 'l' },
		{ "quorum", required_argument, NULL, 'Q' }, { "no-check", no_argument, NULL, 'n' },
		{ "mode", required_argument, NULL, 'm' }, { "help", no_argument, NULL, 'h' }, { 0 }
	};
	enum http01_mode mode;
	int o;

	snprintf(a->lease, sizeof(a->lease), "run-%ld", (long)getpid());
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:C:d:t:l:Q:m:nh", opts, NULL)) != -1) {
		if (o == 'C' && a->nchallenges < CHALLENGES_MAX)
			a->challenges[a->nchallenges++] = optarg;
		else if (o == 'd' && a->check.ndomains < DOMAIN_MAX)
			a->check.domains[a->check.ndomains++] = optarg;
		else if (o == 't')
			a->ttl = optarg;
		else if (o == 'm' && mode_from_name(optarg, &mode) == 0)
			a->mode = optarg;
		else if (o == 'l')
			snprintf(a->lease, sizeof(a->lease), "%s", optarg);
		else if (o == 'Q' && quorum_from_name(optarg, &st->quorum, &st->quorum_count) == 0)
			;
		else if (o == 'n')
			a->no_check = true;
		else if (o == 'h') {
			run_usage(stdout);
			return -1;
		} else if (o == 'Q' || o == 'C' || o == 'd' || o == 'm') {
			cli_usage_error("run", "bad or too many '%s'", argv[optind - 1]);
			return EXIT_USAGE;
		} else
			return cli_bad_option("run", o, argv);
	}
	if (optind >= argc) {
		cli_usage_error("run", "no client to run: acmegate run [OPTIONS] -- CLIENT [ARGS...]");
		return EXIT_USAGE;
	}
	a->client = argv + optind;
	if (!a->check.ndomains)
		client_domains(&a->check, a->client);
	return 0;
}

/* What `open --ttl` would refuse, refused here, before anything opens, in run's own name. */
static int check_ttl(const struct conf *c, struct run_args *a)
{
	a->ttl_s = c->ttl;
	if (a->ttl && parse_uint(a->ttl, 1, c->max_ttl, &a->ttl_s) < 0) {
		cli_usage_error("run", "bad --ttl '%s': expected seconds from 1 to max_ttl (%u)",
				a->ttl, c->max_ttl);
		return EXIT_USAGE;
	}
	return 0;
}

/* -ENOENT, -EACCES or 0 for one candidate path, as execve would judge it. */
static int exec_ok(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

/* The client as execvp finds it: a name with a slash as it is, else the first hit in PATH
 * (an unusable hit is remembered, as execvp does, but a later usable one wins). */
static int find_client(const char *name)
{
	const char *path = secure_getenv("PATH");
	char buf[PATH_MAX];
	int r = -ENOENT;

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/'))
		return exec_ok(name);
	path = path ? path : "/usr/local/bin:/bin:/usr/bin";
	for (const char *p = path; ; p += strcspn(p, ":") + 1) {
		size_t n = strcspn(p, ":");
		int one;

		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)n, p, n ? "/" : "", name);
		one = exec_ok(buf);
		if (one == 0)
			return 0;
		if (one == -EACCES)
			r = -EACCES;
		if (!p[n])
			return r;
	}
}

static int check_client(const char *name)
{
	int r = find_client(name);

	if (r == 0)
		return 0;
	log_error("run: '%s': %s; nothing was opened", name, r == -ENOENT ?
		  "command not found (looked it up in PATH as the shell does)" :
		  "not an executable file (or no permission to run it)");
	return r == -ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC;
}

static int open_window(struct cli *cli, const struct run_args *a)
{
	char *argv[4 + 2 * CHALLENGES_MAX + 5] = { "open", "--lease", (char *)a->lease };
	int n = 3;

	for (size_t i = 0; i < a->nchallenges; i++) {
		argv[n++] = "--challenge";
		argv[n++] = (char *)a->challenges[i];
	}
	if (a->ttl) {
		argv[n++] = "--ttl";
		argv[n++] = (char *)a->ttl;
	}
	if (a->mode) {
		argv[n++] = "--mode";
		argv[n++] = (char *)a->mode;
	}
	optind = 0;
	return cmd_open(cli, n, argv);
}

static int close_window(struct cli *cli, const char *lease)
{
	char *argv[] = { "close", "--lease", (char *)lease, NULL };

	optind = 0;
	return cmd_close(cli, 3, argv);
}

/* The first signal goes on to the client, and starts the grace period (alarm); more of them go
 * on too. */
static void forward(int sig)
{
	if (!got_signal)
		alarm(KILL_GRACE_S);
	got_signal = sig;
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

/* The alarm is the window's deadline while the client runs, or the end of the grace period
 * after we got a signal: a client that ignores it must not hold the window open forever. */
static void on_alarm(int sig)
{
	(void)sig;
	if (!got_signal) {
		deadline_passed = 1;
		return;
	}
	if (child_pid > 0) {
		killed = 1;
		kill((pid_t)child_pid, SIGKILL);
	}
}

static void signals_to_child(void)
{
	struct sigaction sa = { .sa_handler = forward };

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGALRM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
}

static void warn_deadline(const struct run_args *a)
{
	log_warn("run: '%s' is still running at the window's deadline (%u s after it opened): "
		 "the kernel has closed the window, so a CA's validation from now on fails; give a "
		 "larger --ttl (at most max_ttl)", a->client[0], a->ttl_s);
}

/* Waits for the client; says so once when the window's deadline passes while it runs. */
static int wait_client(const struct run_args *a, pid_t pid, int *status)
{
	bool warned = false;

	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
		if (deadline_passed && !warned) {
			warn_deadline(a);
			warned = true;
		}
	}
	if (deadline_passed && !warned && !got_signal)
		warn_deadline(a);
	return 0;
}

static int run_client(const struct run_args *a, time_t deadline)
{
	char **client = a->client;
	time_t now = time(NULL);
	pid_t pid;
	int status;

	fflush(NULL);
	signals_to_child();
	/* before the fork: a signal from now on replaces it with the grace period */
	alarm(deadline > now ? (unsigned)(deadline - now) : 1);
	pid = fork();
	if (pid < 0) {
		alarm(0);
		log_error("run: cannot start '%s': %s", client[0], strerror(errno));
		return EXIT_FAIL;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		execvp(client[0], client);
		fprintf(stderr, "acmegate run: cannot run '%s': %s\n", client[0], strerror(errno));
		_exit(errno == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
	}
	child_pid = pid;
	if (got_signal)
		kill(pid, got_signal);
	if (wait_client(a, pid, &status) < 0)
		return EXIT_FAIL;
	child_pid = 0;
	alarm(0);
	if (killed)
		log_warn("run: '%s' did not exit within %d s of signal %d; killed it", client[0],
			 KILL_GRACE_S, (int)got_signal);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The self-test after opening; 0 when the client may run. */
static int run_check(struct cli *cli, struct run_args *a, struct selftest *st)
{
	int r;

	if (a->no_check || !cli->conf.npersp) {
		if (!a->no_check)
			log_info("run: no [perspective] configured: running the client without a self-test");
		return 0;
	}
	if (a->nchallenges)
		a->check.type = !strcmp(a->challenges[0], "dns") ? "dns-01" : a->challenges[0];
	r = check_targets(&cli->conf, &a->check, st);
	if (r)
		return r;
	check_signals();
	r = check_execute(&cli->conf, st, stdout);
	if (r == EXIT_CHECK)
		log_error("run: the self-test failed; '%s' was not run, so no CA validation attempt was "
			  "spent on a window that would fail", a->client[0]);
	if (r == EXIT_INCONCLUSIVE && cli->conf.check.on_inconclusive == ON_INC_PROCEED) {
		log_warn("run: the self-test was inconclusive (too few perspectives could be asked); "
			 "running '%s' anyway (on_inconclusive = proceed)", a->client[0]);
		return 0;
	}
	if (r == EXIT_INCONCLUSIVE)
		log_error("run: the self-test was inconclusive: too few perspectives could be asked to "
			  "tell whether a CA could validate; '%s' was not run. Make the agents answer "
			  "(see above), or run it anyway with --no-check or on_inconclusive = proceed "
			  "in [check]", a->client[0]);
	return r;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	static struct selftest st;
	struct run_args a = { 0 };
	int r = cli_load_conf(cli), closed;
	time_t deadline;

	if (r)
		return r;
	st.quorum = cli->conf.check.quorum;
	st.quorum_count = cli->conf.check.quorum_count;
	r = parse_run_args(argc, argv, &a, &st);
	if (r)
		return r < 0 ? 0 : r;
	if (!lease_name_valid(a.lease)) {
		cli_usage_error("run", "bad lease name '%s': 1 to 64 of A-Z a-z 0-9 . _ : @ -", a.lease);
		return EXIT_USAGE;
	}
	if ((r = check_ttl(&cli->conf, &a)) || (r = check_client(a.client[0])))
		return r;
	r = open_window(cli, &a);
	if (r)
		return r;
	deadline = time(NULL) + a.ttl_s;
	r = run_check(cli, &a, &st);
	if (r == 0)
		r = run_client(&a, deadline);
	closed = close_window(cli, a.lease);
	/* a stop by signal says so, whatever the client made of the signal */
	if (got_signal)
		return 128 + got_signal;
	return r ? r : closed;
}
