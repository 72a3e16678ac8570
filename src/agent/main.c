/* main.c: acmegate-agent, the perspective agent: parses options and wires the pieces in the
 * order privilege demands (read config and keys, bind, drop root, then serve); `probe` runs one
 * check here. Started as root by its service (or unprivileged, on a port >= 1024). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "agent/agent.h"

struct options {
	const char *config;
	bool foreground;
	bool check_config;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: acmegate-agent [-c FILE] [--foreground]\n"
		"       acmegate-agent --check-config [-c FILE]\n"
		"       acmegate-agent probe [OPTIONS] TYPE NAME   (one check, see acmegate-agent(8))\n"
		"       acmegate-agent --version | --help\n"
		"  -c, --config FILE   configuration (default " AGENT_CONF_PATH ")\n"
		"  -f, --foreground    do not detach (for systemd and other supervisors)\n"
		"  -t, --check-config  validate the configuration and key files, then exit\n");
}

/* 0 to go on, or an exit code + 1000 to stop with. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct options){ .config = AGENT_CONF_PATH };
	while ((c = getopt_long(argc, argv, "c:fthV", longs, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = true; break;
		case 't': o->check_config = true; break;
		case 'V': printf("acmegate-agent %s (protocol v1)\n", AGENT_VERSION); return 1000;
		case 'h': usage(stdout); return 1000;
		default: usage(stderr); return 1000 + EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "acmegate-agent: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1000 + EXIT_USAGE;
	}
	return 0;
}

/* Everything a start reads, without binding: the config, the TLS files and the user. */
static int load(struct agent *a, const char *path, struct err *e)
{
	struct err why = { 0 };
	uid_t uid;
	gid_t gid;
	int r = agent_conf_load(&a->conf, path, e);

	if (r < 0)
		return r;
	r = agent_read_tls(&a->conf, &a->cert_pem, &a->key_pem, &why);
	if (r == 0 && (a->conf.user[0] || geteuid() == 0))
		r = agent_resolve_user(a->conf.user[0] ? a->conf.user : "nobody", &uid, &gid, &why);
	return r < 0 ? err_set(e, r, "%s: %s", path, why.msg) : 0;
}

static void agent_free(struct agent *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->key_pem)
		explicit_bzero(a->key_pem, strlen(a->key_pem));
	free(a->key_pem);
	free(a->cert_pem);
	agent_conf_free(&a->conf);
	free(a);
}

static int check_config(const char *path)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct err e = { 0 };
	int r;

	if (!a)
		return EXIT_RUNTIME;
	a->fd = -1;
	r = load(a, path, &e);
	if (r < 0)
		fprintf(stderr, "acmegate-agent: %s\n", e.msg);
	else
		printf("%s: ok: perspective %s (%s), listen %s, %zu client key%s, user %s\n", path,
		       a->conf.perspective, a->conf.rir, a->conf.listen_text, a->conf.nclients,
		       a->conf.nclients == 1 ? "" : "s",
		       a->conf.user[0] ? a->conf.user : geteuid() == 0 ? "nobody" : "(unchanged)");
	agent_free(a);
	return r < 0 ? EXIT_CONFIG : 0;
}

/* Detaches; the parent exits once the child says it serves (0) or failed (its exit code). */
static int detach(int *ret_ready_fd)
{
	int p[2];
	pid_t pid;
	unsigned char code = EXIT_RUNTIME;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &code, 1) != 1)
			code = EXIT_RUNTIME;
		_exit(code);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);  /* stderr stays: it carries the log */
		close(null);
	}
	*ret_ready_fd = p[1];
	return 0;
}

static void tell_parent(int *fd, unsigned char code)
{
	if (*fd < 0)
		return;
	if (write(*fd, &code, 1) != 1)
		agent_log("cannot report start-up to the parent: %s", strerror(errno));
	close(*fd);
	*fd = -1;
}

static void fill_opts(struct agent *a)
{
	struct agent_conf *c = &a->conf;

	a->opts = (struct probe_opts){
		.root_hints = c->root_hints[0] ? c->root_hints : NULL,
		.trust_anchor = c->trust_anchor[0] ? c->trust_anchor : NULL,
		.guard = &c->guard,
		.dial_timeout_ms = (int)c->dial_timeout_ms,
		.user_agent = "acmegate-agent/" AGENT_VERSION,
	};
}

/* Serves until SIGTERM or SIGINT; the signals are blocked first so every thread inherits that
 * and only sigwait sees them. */
static int serve(struct agent *a, int *ready_fd, struct err *e)
{
	sigset_t set;
	void *daemon = NULL;
	int sig = 0, r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = http_start(a, &daemon, e);
	if (r < 0)
		return r;
	tell_parent(ready_fd, 0);
	agent_log("perspective %s (%s) listening on %s as uid %u, %zu client key%s",
		  a->conf.perspective, a->conf.rir, a->conf.listen_text, (unsigned)geteuid(),
		  a->conf.nclients, a->conf.nclients == 1 ? "" : "s");
	while (sigwait(&set, &sig) != 0)
		;
	agent_log("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	http_stop(daemon);
	return 0;
}

static int run(const struct options *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct err e = { 0 };
	int r, ready = -1, code = EXIT_CONFIG;

	if (!a)
		return EXIT_RUNTIME;
	a->fd = -1;
	r = load(a, o->config, &e);
	if (r == 0) {
		code = EXIT_RUNTIME;
		r = agent_bind(&a->conf, &a->fd, &e);
	}
	if (r == 0 && !o->foreground && (r = detach(&ready)) < 0)
		err_set(&e, r, "cannot detach: %s", strerror(-r));
	if (r == 0)
		r = agent_drop_privileges(a->conf.user, &e);
	if (r == 0) {
		fill_opts(a);
		r = serve(a, &ready, &e);
	}
	if (r < 0)
		agent_log("%s", e.msg);
	tell_parent(&ready, r < 0 ? (unsigned char)code : 0);
	agent_free(a);
	return r < 0 ? code : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	int r;

	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_main(argc - 1, argv + 1);
	r = parse_options(argc, argv, &o);
	if (r)
		return r - 1000;
	umask(077);
	return o.check_config ? check_config(o.config) : run(&o);
}
