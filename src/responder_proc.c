/* responder_proc.c: starts `acmegate responder` detached (fork, setsid, fork, exec of
 * /proc/self/exe) and stops it by its recorded pid. Runs as root (the responder binds, then
 * drops root itself); called by window.c at the end of every reconciliation. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "responder_proc.h"
#include "responder/responder.h"   /* RESPONDER_RELAY_DEFAULT */

#define READY_FD 3              /* where the responder finds the pipe it reports on */
#define READY_TIMEOUT_MS 5000
#define CMDLINE_MAX 4096

/* What STATE_DIR/responder.pid records. */
struct running {
	pid_t pid;
	long long until;
	unsigned port;
};

static void state_path(char *buf, size_t len, const struct conf *c, const char *name)
{
	snprintf(buf, len, "%s/%s", c->state_dir, name);
}

static int pid_read(const struct conf *c, struct running *ret)
{
	char path[PATH_MAX];
	struct running r = { 0 };
	FILE *f;
	int n;

	state_path(path, sizeof(path), c, "responder.pid");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%d %lld %u", &r.pid, &r.until, &r.port);
	fclose(f);
	if (n != 3 || r.pid <= 1)
		return -EINVAL;
	*ret = r;
	return 0;
}

static int pid_write(const struct conf *c, const struct running *r)
{
	char path[PATH_MAX];
	FILE *f;
	int bad;

	state_path(path, sizeof(path), c, "responder.pid");
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d %lld %u\n", (int)r->pid, r->until, r->port);
	bad = ferror(f);
	return fclose(f) != 0 || bad ? -EIO : 0;
}

/* Whether pid runs "acmegate responder … --tokens STATE_DIR/tokens": ours, not a reused pid. */
static bool is_ours(const struct conf *c, pid_t pid)
{
	char path[64], buf[CMDLINE_MAX + 1], tokens[PATH_MAX + 8];
	bool responder = false, dir = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, CMDLINE_MAX);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	state_path(tokens, sizeof(tokens), c, "tokens");
	/* NUL-separated arguments: argv[1] is "responder", and "--tokens" names our state dir */
	const char *prev = "";
	int i = 0;

	for (const char *a = buf; a < buf + n; prev = a, a += strlen(a) + 1, i++) {
		if (i == 1)
			responder = !strcmp(a, "responder");
		if (!strcmp(prev, "--tokens") && !strcmp(a, tokens))
			dir = true;
	}
	return responder && dir;
}

/* The arguments, built before fork: the child only execs. */
struct args {
	char port[8], until[24], toklen[8], ready[8], tokens[PATH_MAX + 8];
	char *argv[20];
};

static void args_build(struct args *a, const struct conf *c, time_t until)
{
	int i = 0;

	snprintf(a->port, sizeof(a->port), "%u", c->responder_port);
	snprintf(a->until, sizeof(a->until), "%lld", (long long)until);
	snprintf(a->toklen, sizeof(a->toklen), "%u", c->token_length);
	snprintf(a->ready, sizeof(a->ready), "%d", READY_FD);
	state_path(a->tokens, sizeof(a->tokens), c, "tokens");
	a->argv[i++] = "acmegate";
	a->argv[i++] = "responder";
	a->argv[i++] = "--port";
	a->argv[i++] = a->port;
	a->argv[i++] = "--until";
	a->argv[i++] = a->until;
	a->argv[i++] = c->responder_webroot[0] ? "--webroot" : "--relay";
	a->argv[i++] = c->responder_webroot[0] ? (char *)c->responder_webroot :
		       c->responder_relay[0] ? (char *)c->responder_relay : RESPONDER_RELAY_DEFAULT;
	a->argv[i++] = "--tokens";
	a->argv[i++] = a->tokens;
	a->argv[i++] = "--user";
	a->argv[i++] = (char *)c->responder_user;
	a->argv[i++] = "--token-length";
	a->argv[i++] = a->toklen;
	a->argv[i++] = "--ready-fd";
	a->argv[i++] = a->ready;
	a->argv[i] = NULL;
}

/* In the grandchild: stdin and stdout from /dev/null, stderr to the log, the ready pipe on
 * READY_FD, nothing else: no netlink socket, no state lock goes with it. */
static void exec_responder(struct args *a, int log_fd, int ready_fd)
{
	static char *const env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int null = open("/dev/null", O_RDWR);

	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0 || dup2(ready_fd, READY_FD) < 0)
		_exit(127);
	closefrom(READY_FD + 1);
	if (chdir("/") < 0)
		_exit(127);
	execve("/proc/self/exe", a->argv, env);
	_exit(127);
}

/* The responder writes its pid on the pipe once it serves; EOF means it gave up. */
static int wait_ready(int fd, pid_t *ret_pid)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[32] = "";
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 && !strchr(buf, '\n')) {
		if (poll(&p, 1, READY_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return -EIO;
		len += (size_t)n;
		buf[len] = '\0';
	}
	*ret_pid = (pid_t)atoi(buf);
	return *ret_pid > 1 ? 0 : -EIO;
}

static int spawn(struct args *a, int log_fd, pid_t *ret_pid)
{
	int p[2], status, r;
	pid_t mid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	mid = fork();
	if (mid < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (mid == 0) {  /* a session of its own, and not our child: init reaps it */
		setsid();
		if (fork() == 0)
			exec_responder(a, log_fd, p[1]);
		_exit(0);
	}
	close(p[1]);
	waitpid(mid, &status, 0);
	r = wait_ready(p[0], ret_pid);
	close(p[0]);
	return r;
}

/* The responder, no longer root, opens STATE_DIR/tokens by name: the directory must let
 * others search it (a state directory made before it was 0711 may not). */
static int ensure_searchable(const struct conf *c, struct err *e)
{
	struct stat s;

	if (stat(c->state_dir, &s) < 0)
		return err_set(e, -errno, "responder: %s: %s", c->state_dir, strerror(errno));
	if ((s.st_mode & S_IXOTH) || chmod(c->state_dir, (s.st_mode & 07777) | S_IXOTH) == 0)
		return 0;
	return err_set(e, -errno, "responder: %s: chmod o+x: %s", c->state_dir, strerror(errno));
}

static int start(const struct conf *c, time_t until, pid_t *ret_pid, struct err *e)
{
	char log[PATH_MAX];
	struct args *a = calloc(1, sizeof(*a));
	int fd, r;

	if (!a)
		return err_set(e, -ENOMEM, "responder: out of memory");
	args_build(a, c, until);
	r = ensure_searchable(c, e);
	if (r < 0) {
		free(a);
		return r;
	}
	state_path(log, sizeof(log), c, "responder.log");
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = err_set(e, -errno, "responder: %s: %s", log, strerror(errno));
	} else {
		/* a window starts where a flooded one left off: begin a fresh log then */
		struct stat s;

		if (fstat(fd, &s) == 0 && s.st_size > RESPONDER_LOG_MAX)
			r = ftruncate(fd, 0);  /* failing that, the responder still stops at the limit */
		r = spawn(a, fd, ret_pid);
		close(fd);
		if (r < 0)
			err_set(e, r, "the responder did not start on port %u (%s); its reason is in %s",
				c->responder_port, r == -ETIMEDOUT ? "no word from it in 5 s" : "it exited",
				log);
	}
	free(a);
	return r;
}

static void stop(const struct conf *c, const struct running *cur)
{
	char path[PATH_MAX];

	if (is_ours(c, cur->pid))
		kill(cur->pid, SIGTERM);
	state_path(path, sizeof(path), c, "responder.pid");
	unlink(path);
}

int responder_running(const struct conf *c, int *ret_pid, unsigned *ret_port, time_t *ret_until)
{
	struct running cur;

	if (pid_read(c, &cur) < 0 || !is_ours(c, cur.pid))
		return -ENOENT;
	*ret_pid = (int)cur.pid;
	*ret_port = cur.port;
	*ret_until = (time_t)cur.until;
	return 0;
}

int responder_sync(const struct conf *c, time_t until, struct err *e)
{
	struct running cur = { 0 }, next = { .until = until, .port = c->responder_port };
	bool running = pid_read(c, &cur) == 0 && is_ours(c, cur.pid);
	int r;

	if (!until) {
		if (cur.pid)
			stop(c, &cur);
		return 0;
	}
	if (running && cur.until == (long long)until && cur.port == c->responder_port)
		return 0;
	r = start(c, until, &next.pid, e);
	if (r < 0)
		return r;
	/* the new one serves (SO_REUSEPORT shares the port): the old one may go */
	if (running)
		kill(cur.pid, SIGTERM);
	r = pid_write(c, &next);
	return r < 0 ? err_set(e, r, "responder: cannot record its pid in %s: %s", c->state_dir,
			       strerror(-r)) : 0;
}
