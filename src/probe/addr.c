/* addr.c: socket address helpers for the probes (literals, text, families). No privilege. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "probe/probe_int.h"

void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
						 : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* An IPv4 or IPv6 literal (brackets allowed) as a socket address; -EINVAL when s is not one. */
int addr_literal(const char *s, int port, struct sockaddr_storage *ret)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return -EINVAL;
	addr_set_port(&ss, port);
	*ret = ss;
	return 0;
}

void addr_set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

socklen_t addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

const char *probe_family_name(int af)
{
	return af == AF_INET ? "ipv4" : "ipv6";
}

/* A socket connected to dst (TCP: within timeout_ms); the socket is blocking with I/O timeouts after. */
int addr_dial(const struct sockaddr_storage *dst, int type, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct pollfd pfd = { .events = POLLOUT };
	int fd = socket(dst->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	pfd.fd = fd;
	if (connect(fd, (const struct sockaddr *)dst, addr_len(dst)) < 0 && errno != EINPROGRESS)
		err = errno;
	else if (poll(&pfd, 1, timeout_ms) == 0)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0 && (fcntl(fd, F_SETFL, 0) < 0 ||
			 setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
			 setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0))
		err = errno;
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}
