/* run.c: wires the responder in the order privilege demands: bind the port and open the
 * webroot and the tokens directory as root, drop to an unprivileged user, serve until the
 * deadline or SIGTERM. Started by `acmegate responder` (cmd_responder.c), as root. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include "agent/agent.h"   /* agent_drop_privileges(), shared with the agent */
#include "responder/responder.h"

/* [::]:port taking IPv4 too, or 0.0.0.0:port on a host without IPv6. SO_REUSEPORT lets the
 * responder that replaces this one (a moved deadline) bind before this one lets go; only
 * root's sockets can join a port root bound. */
static int bind_port(unsigned port, int *ret_fd, struct err *e)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, off = 0;
	const struct sockaddr *sa = (const struct sockaddr *)&s6;
	socklen_t salen = sizeof(s6);

	if (fd < 0 && errno == EAFNOSUPPORT) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sa = (const struct sockaddr *)&s4;
		salen = sizeof(s4);
	}
	if (fd < 0)
		return err_set(e, -errno, "port %u: socket: %s", port, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, sa, salen) < 0 || listen(fd, 64) < 0) {
		int r = -errno;

		close(fd);
		return err_set(e, r, "port %u: %s", port, strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

static int open_dir(const char *path, const char *what, int *ret_fd, struct err *e)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, -errno, "%s '%s': %s", what, path, strerror(errno));
	*ret_fd = fd;
	return 0;
}

/* The tokens file's directory, held open: it is read by name for every request, and the
 * directory may be one the unprivileged user could not reach by path. */
static int open_tokens(struct responder *r, const char *path, struct err *e)
{
	char *copy = strdup(path), *copy2 = strdup(path);
	const char *name;
	int rc = -ENOMEM;

	if (copy && copy2) {
		name = basename(copy2);
		if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > NAME_MAX)
			rc = err_set(e, -EINVAL, "tokens file '%s': not a file name", path);
		else if ((rc = open_dir(dirname(copy), "tokens directory", &r->tokens_dir_fd, e)) == 0)
			snprintf(r->tokens_name, sizeof(r->tokens_name), "%s", name);
	} else {
		err_set(e, rc, "out of memory");
	}
	free(copy);
	free(copy2);
	return rc;
}

static int prepare(struct responder *r, struct err *e)
{
	int rc = bind_port(r->o->port, &r->listen_fd, e);

	if (rc == 0 && r->o->webroot)
		rc = open_dir(r->o->webroot, "webroot", &r->webroot_fd, e);
	if (rc == 0 && r->o->tokens)
		rc = open_tokens(r, r->o->tokens, e);
	if (rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		rc = err_set(e, -EIO, "cannot initialise libcurl");
	if (rc == 0)
		rc = agent_drop_privileges(r->o->user, e);
	return rc;
}

/* The window that started us waits for our pid on this pipe before it records us. */
static void tell_ready(int fd)
{
	char buf[24];
	int n;

	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		responder_log("cannot tell the window we serve: %s", strerror(errno));
	close(fd);
}

/* Waits for the deadline or a signal, cutting slow connections every second. Returns the
 * reason it stopped. */
static const char *wait_until(struct responder *r, const sigset_t *set)
{
	struct timespec tick = { .tv_sec = 1 };
	int sig;

	for (;;) {
		sig = sigtimedwait(set, NULL, &tick);
		if (sig == SIGTERM)
			return "SIGTERM";
		if (sig == SIGINT)
			return "SIGINT";
		if (time(NULL) >= r->o->until)
			return "the deadline";
		server_watchdog(r);
	}
}

/* SIGTERM (a replacement is serving, or the window closed): stop taking connections, let the
 * ones in flight finish within their time bound. The deadline: stop at once. */
static void drain(struct responder *r, void *daemon, const char *why)
{
	int64_t end = responder_now_ms() + RESPONDER_REQUEST_S * 1000 + 500;

	if (strcmp(why, "SIGTERM"))
		return;
	server_quiesce(daemon);
	while (server_watchdog(r) > 0 && responder_now_ms() < end)
		usleep(100 * 1000);
}

static int serve(struct responder *r, struct err *e)
{
	char until[32];
	const char *why;
	void *daemon = NULL;
	sigset_t set;
	struct tm tm;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);  /* before any thread: only sigtimedwait sees them */
	signal(SIGPIPE, SIG_IGN);
	rc = server_start(r, &daemon, e);
	if (rc < 0)
		return rc;
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&r->o->until, &tm));
	responder_log("serving http-01 challenges on port %u from %s %s until %s as uid %u",
		      r->o->port, r->o->webroot ? "webroot" : "relay",
		      r->o->webroot ? r->o->webroot : r->o->relay, until, (unsigned)geteuid());
	tell_ready(r->o->ready_fd);
	why = wait_until(r, &set);
	drain(r, daemon, why);
	server_stop(daemon);
	responder_log("stopped on %s: %u requests, %u served", why, atomic_load(&r->requests),
		      atomic_load(&r->served));
	return 0;
}

int responder_run(const struct responder_opts *o)
{
	struct responder *r = calloc(1, sizeof(*r));
	struct err e = { 0 };
	int rc = -ENOMEM;

	if (!r) {
		responder_log("out of memory");
		return rc;
	}
	r->o = o;
	r->listen_fd = r->webroot_fd = r->tokens_dir_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	for (int i = 0; i < RESPONDER_CONN_MAX; i++)
		r->slots[i].fd = -1;
	rc = prepare(r, &e);
	if (rc == 0)
		rc = serve(r, &e);
	if (rc < 0)
		responder_log("%s", e.msg);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->webroot_fd >= 0)
		close(r->webroot_fd);
	if (r->tokens_dir_fd >= 0)
		close(r->tokens_dir_fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
}
