/* mhd_peer.c: the peer and request text for the per-request log lines of the daemons. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "mhd_peer.h"

void mhd_printable(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = src[i] > 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

void mhd_client_address(struct MHD_Connection *conn, char *dst, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t salen = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							 : sizeof(struct sockaddr_in);

	snprintf(dst, len, "?");
	if (sa && getnameinfo(sa, salen, dst, (socklen_t)len, NULL, 0, NI_NUMERICHOST) == 0 &&
	    !strncmp(dst, "::ffff:", 7) && strchr(dst, '.'))
		memmove(dst, dst + 7, strlen(dst + 7) + 1);  /* an IPv4 client on the [::] socket */
}
