/* mhd_peer.h: what the agent's and the responder's one log line per request say about the peer
 * and its request (libmicrohttpd). */
#pragma once
#include <stddef.h>
#include <microhttpd.h>

/* Request text in a log line: printable ASCII only (others become '?'), cut to fit. */
void mhd_printable(char *dst, size_t len, const char *src);
/* The client's numeric address; an IPv4 client on a [::] socket without its ::ffff: prefix. */
void mhd_client_address(struct MHD_Connection *conn, char *dst, size_t len);
