/* listen.c: binds the listening socket and reads the TLS certificate and key, both while still
 * root (a low port, root-only key files); called by main.c before privdrop.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent/agent.h"

static int parse_port(const char *s, in_port_t *ret)
{
	unsigned v;

	if (parse_uint(s, 1, 65535, &v) < 0)
		return -EINVAL;
	*ret = htons((in_port_t)v);
	return 0;
}

/* "[::]:8443", "[2001:db8::1]:8443", "0.0.0.0:8443", "192.0.2.1:8443", or "8443" ([::]:8443). */
int agent_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *close;
	size_t n;

	if (!strchr(s, ':')) {
		if (parse_port(s, &s6.sin6_port) < 0)
			return -EINVAL;
	} else if (s[0] == '[') {
		close = strchr(s, ']');
		n = close ? (size_t)(close - s - 1) : 0;
		if (!close || close[1] != ':' || n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &s6.sin6_addr) != 1 || parse_port(close + 2, &s6.sin6_port) < 0)
			return -EINVAL;
	} else {
		colon = strchr(s, ':');
		n = (size_t)(colon - s);
		if (strchr(colon + 1, ':') || n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &s4.sin_addr) != 1 || parse_port(colon + 1, &s4.sin_port) < 0)
			return -EINVAL;
		memset(ret, 0, sizeof(*ret));
		memcpy(ret, &s4, sizeof(s4));
		*ret_len = sizeof(s4);
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	memcpy(ret, &s6, sizeof(s6));
	*ret_len = sizeof(s6);
	return 0;
}

/* [::] takes IPv4 too (v6only off), whatever net.ipv6.bindv6only says. */
int agent_bind(const struct agent_conf *c, int *ret_fd, struct err *e)
{
	int fd = socket(c->listen.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, off = 0;

	if (fd < 0)
		return err_set(e, -errno, "listen %s: socket: %s", c->listen_text, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (c->listen.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&c->listen)->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (const struct sockaddr *)&c->listen, c->listen_len) < 0 || listen(fd, 64) < 0) {
		int r = -errno;

		close(fd);
		return err_set(e, r, "listen %s: %s", c->listen_text, strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

static int read_pem(const char *key, const char *path, mode_t forbid, char **ret, struct err *e)
{
	struct err why = { 0 };
	size_t len = 0;
	char *text = NULL;
	int r = agent_read_file(path, AGENT_PEM_MAX, forbid, &text, &len, &why);

	if (r < 0)
		return err_set(e, r, "%s %s", key, why.msg);
	if (!strstr(text, "-----BEGIN ")) {
		explicit_bzero(text, len);
		free(text);
		return err_set(e, -EINVAL, "%s '%s': not a PEM file", key, path);
	}
	*ret = text;
	return 0;
}

int agent_read_tls(const struct agent_conf *c, char **ret_cert, char **ret_key, struct err *e)
{
	char *cert = NULL, *key = NULL;
	int r;

	r = read_pem("certificate", c->certificate, 0, &cert, e);
	if (r == 0)
		r = read_pem("private_key", c->private_key, 007,  /* ssl-cert group may read */
			      &key, e);
	if (r < 0) {
		free(cert);
		return r;
	}
	*ret_cert = cert;
	*ret_key = key;
	return 0;
}
