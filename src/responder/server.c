/* server.c: the responder's HTTP side (libmicrohttpd, a thread per connection): answers one
 * GET of one challenge per connection and closes, 404 for anything else, cuts connections that
 * take too long, logs one line per request. No privilege: started by run.c after dropping it. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <microhttpd.h>
#include "responder/responder.h"
#include "mhd_peer.h"

static atomic_bool serving;
static atomic_bool log_full;

/* One connection, from accept to close. */
struct conn {
	struct responder *r;
	int slot;                  /* in r->slots; -1 when the table was full */
	bool requested;            /* a request line arrived (its line is logged) */
	char client[INET6_ADDRSTRLEN + 8];
};

/* One request, from its request line to the completion callback. */
struct exchange {
	struct conn *c;
	int64_t start_ms;
	bool answered;
	unsigned status;
	char target[96];           /* printable, for the log */
	char raw[sizeof(RESPONDER_PREFIX) + 130];  /* the raw target, when it fits */
	bool raw_fits;
	char why[96];
};

int64_t responder_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void responder_log(const char *fmt, ...)
{
	char line[512];
	struct stat s;
	va_list ap;

	if (atomic_load(&log_full))
		return;
	if (fstat(STDERR_FILENO, &s) == 0 && S_ISREG(s.st_mode) && s.st_size > RESPONDER_LOG_MAX) {
		if (!atomic_exchange(&log_full, true))
			fprintf(stderr, "acmegate responder: the log passed %ld bytes: no more lines "
				"from this responder\n", RESPONDER_LOG_MAX);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one call, so lines of concurrent threads do not interleave */
	fprintf(stderr, "acmegate responder: %s\n", line);
}

/* libmicrohttpd's own messages matter while starting; once serving, each request's line
 * says what happened to it. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	if (atomic_load(&serving))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	responder_log("libmicrohttpd: %s", msg);
}

static int slot_take(struct responder *r, int fd)
{
	int slot = -1;

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < RESPONDER_CONN_MAX && slot < 0; i++)
		if (r->slots[i].fd < 0) {
			r->slots[i] = (struct conn_slot){ .fd = fd, .since_ms = responder_now_ms() };
			slot = i;
		}
	pthread_mutex_unlock(&r->lock);
	return slot;
}

static void slot_free(struct responder *r, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&r->lock);
	r->slots[slot].fd = -1;
	pthread_mutex_unlock(&r->lock);
}

/* shutdown(), not close(): the socket stays libmicrohttpd's, its next read sees the end and
 * it closes the connection itself. The slot is freed before libmicrohttpd closes the fd, so
 * this never touches a reused descriptor. */
size_t server_watchdog(struct responder *r)
{
	int64_t now = responder_now_ms();
	size_t open = 0;

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < RESPONDER_CONN_MAX; i++) {
		struct conn_slot *s = &r->slots[i];

		if (s->fd < 0)
			continue;
		open++;
		if (now - s->since_ms > RESPONDER_REQUEST_S * 1000)
			shutdown(s->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&r->lock);
	return open;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct responder *r = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c = *ctx;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return;
		ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->r = r;
		c->slot = ci ? slot_take(r, ci->connect_fd) : -1;
		mhd_client_address(mc, c->client, sizeof(c->client));
		*ctx = c;
		return;
	}
	if (!c)
		return;
	slot_free(r, c->slot);
	if (!c->requested)
		responder_log("%s no request (closed, cut, or refused by the HTTP parser)", c->client);
	free(c);
	*ctx = NULL;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Called with the raw request target, before any decoding: what the request is judged by. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct exchange *x = calloc(1, sizeof(*x));

	(void)cls;
	if (!x)
		return NULL;
	x->c = conn_of(mc);
	if (x->c)
		x->c->requested = true;
	x->start_ms = responder_now_ms();
	mhd_printable(x->target, sizeof(x->target), uri);
	x->raw_fits = strlen(uri) < sizeof(x->raw);
	if (x->raw_fits)
		memcpy(x->raw, uri, strlen(uri) + 1);
	atomic_fetch_add(&((struct responder *)cls)->requests, 1);
	return x;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **state,
			 enum MHD_RequestTerminationCode code)
{
	struct exchange *x = *state;
	char status[24];

	(void)cls;
	(void)mc;
	if (!x)
		return;
	snprintf(status, sizeof(status), x->status ? "%u" : "-", x->status);
	if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		snprintf(status + strlen(status), sizeof(status) - strlen(status), "(aborted)");
	responder_log("%s %s %s %lld ms%s%s%s", x->c ? x->c->client : "?", x->target, status,
		      (long long)(responder_now_ms() - x->start_ms), x->why[0] ? " (" : "", x->why,
		      x->why[0] ? ")" : "");
	free(x);
	*state = NULL;
}

/* Every answer closes the connection: one request per connection, nothing pipelined. */
static enum MHD_Result reply(struct MHD_Connection *mc, struct exchange *x, unsigned status,
			     char *body, size_t len)
{
	static char not_found[] = "not found\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body)
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(sizeof(not_found) - 1, not_found,
						       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	x->status = status;
	x->answered = true;
	ret = MHD_queue_response(mc, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const char *header(struct MHD_Connection *mc, const char *name)
{
	return MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
}

/* A request the responder serves at all: GET, HTTP/1.x, no body, the exact challenge target. */
static const char *refuse_why(struct MHD_Connection *mc, struct exchange *x, const char *method,
			      const char *version, unsigned token_len, const char **ret_token)
{
	const char *cl = header(mc, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (strcmp(method, "GET"))
		return "not GET";
	if (strcmp(version, MHD_HTTP_VERSION_1_1) && strcmp(version, MHD_HTTP_VERSION_1_0))
		return "not HTTP/1.x";
	if ((cl && strcmp(cl, "0")) || header(mc, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return "has a body";
	if (!x->raw_fits || !(*ret_token = responder_target_token(x->raw, token_len)))
		return "not a challenge target";
	return NULL;
}

static enum MHD_Result answer(struct responder *r, struct MHD_Connection *mc,
			      struct exchange *x, const char *method, const char *version)
{
	const char *token = NULL, *host = header(mc, MHD_HTTP_HEADER_HOST), *why;
	struct err e = { 0 };
	char *body = NULL;
	size_t len = 0;
	int rc;

	why = refuse_why(mc, x, method, version, r->o->token_len, &token);
	if (!why && host && !responder_host_valid(host))
		why = "bad Host header";
	if (why) {
		snprintf(x->why, sizeof(x->why), "%s", why);
		return reply(mc, x, MHD_HTTP_NOT_FOUND, NULL, 0);
	}
	rc = content_allowed(r, token, &e);
	if (rc == 0)
		rc = r->webroot_fd >= 0 ? content_webroot(r, token, &body, &len, &e)
					: content_relay(r, token, host, &body, &len, &e);
	if (rc < 0) {
		snprintf(x->why, sizeof(x->why), "%s", e.msg);
		return reply(mc, x, MHD_HTTP_NOT_FOUND, NULL, 0);
	}
	atomic_fetch_add(&r->served, 1);
	return reply(mc, x, MHD_HTTP_OK, body, len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct exchange *x = *state;

	(void)url;
	(void)upload;
	if (!x)
		return MHD_NO;
	if (x->answered) {  /* a body after the answer: dropped, the connection closes */
		*upload_size = 0;
		return MHD_YES;
	}
	return answer(cls, mc, x, method, version);
}

int server_start(struct responder *r, void **ret_daemon, struct err *e)
{
	struct MHD_Daemon *d;

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
			     0, NULL, NULL, on_request, r,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,  /* first, or MHD warns */
			     MHD_OPTION_LISTEN_SOCKET, r->listen_fd,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)RESPONDER_CONN_MAX,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)RESPONDER_CONN_PER_IP,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)RESPONDER_MEMORY,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)RESPONDER_IDLE_S,
			     MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
			     MHD_OPTION_URI_LOG_CALLBACK, on_request_line, r,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, r,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, r,
			     MHD_OPTION_END);
	if (!d)
		return err_set(e, -EIO, "cannot start the HTTP server on port %u", r->o->port);
	r->listen_fd = -1;  /* the daemon owns and closes it */
	atomic_store(&serving, true);
	*ret_daemon = d;
	return 0;
}

void server_quiesce(void *daemon)
{
	MHD_socket fd = MHD_quiesce_daemon(daemon);

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void server_stop(void *daemon)
{
	MHD_stop_daemon(daemon);
}
