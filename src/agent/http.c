/* http.c: the HTTPS server (libmicrohttpd over GnuTLS, a thread per connection): collects each
 * body, authenticates, routes, signs the reply and logs one line per request. No privilege:
 * started by main.c after privdrop.c. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>
#include "agent/agent.h"
#include "mhd_peer.h"

/* TLS 1.2 and 1.3 only (docs/agent-protocol.md). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* Seconds a connection may stay silent, in the TLS handshake too: long enough for a slow link,
 * short enough that connections nobody uses (or that never say hello) do not hold the agent's
 * places; a running check does not count as silence. */
#define CONN_TIMEOUT 5

/* One request, from its headers to the completion callback. */
struct exchange {
	int64_t start_ns;
	char *body;
	size_t len;
	bool too_large;
	bool started;              /* on_request has seen its headers */
	bool bad_target;           /* the raw target has a query, a fragment or a %-escape */
	unsigned status;
	char client[INET6_ADDRSTRLEN + 8];
	char method[8];
	char path[48];
	char key[65];
	char why[96];              /* why a request was refused unauthenticated (400, 401) */
	struct check_log log;
};

void agent_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(line) && n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	/* one call, so lines of concurrent threads do not interleave */
	fprintf(stderr, "acmegate-agent: %s\n", line);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	agent_log("libmicrohttpd: %s", msg);
}

/* The request's one log line: who, what, the answer, the check and its verdict class, time. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode code)
{
	struct exchange *x = *state;
	char status[24], name[sizeof(x->log.name)];

	(void)cls;
	(void)conn;
	if (!x)
		return;
	snprintf(status, sizeof(status), x->status ? "%u" : "-", x->status);
	if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		snprintf(status + strlen(status), sizeof(status) - strlen(status), "(aborted)");
	mhd_printable(name, sizeof(name), x->log.name);
	agent_log("%s key=%s %s %s %s type=%s name=%s class=%s %lld ms%s%s%s", x->client,
		  x->key[0] ? x->key : "-", x->method, x->path, status,
		  x->log.type[0] ? x->log.type : "-", name[0] ? name : "-",
		  x->log.class[0] ? x->log.class : "-",
		  (long long)((agent_now_mono() - x->start_ns) / 1000000),
		  x->why[0] ? " (" : "", x->why, x->why[0] ? ")" : "");
	free(x->body);
	free(x);
	*state = NULL;
}

/* Queues status and body (malloc'd JSON, taken; NULL means out of memory), signed for k. */
static enum MHD_Result reply(struct MHD_Connection *conn, struct exchange *x, unsigned status,
			     char *body, const struct agent_client *k, const char *nonce,
			     const char *allow)
{
	char sig[SIG_HEX_LEN + 1];
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!body) {
		status = 500;
		body = strdup("{\"error\":\"out of memory\"}");
		if (!body)
			return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (k) {
		sig_reply(k->secret, status, nonce, body, strlen(body), sig);
		MHD_add_response_header(resp, "Acmegate-Signature", sig);
	}
	x->status = status;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const char *header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* An authenticated request: rate limit, then the route. */
static enum MHD_Result route(struct agent *a, struct MHD_Connection *conn, struct exchange *x,
			     struct agent_client *k, const char *method, const char *url)
{
	const char *nonce = header(conn, "Acmegate-Nonce");
	bool info = !strcmp(url, "/v1/info"), check = !strcmp(url, "/v1/check");
	char *body = NULL;
	unsigned status;

	if (!limit_take(k, a->conf.rate_per_minute))
		return reply(conn, x, 429, agent_error_body("more than %u requests a minute for this "
			     "key; slow down", a->conf.rate_per_minute), k, nonce, NULL);
	if (!info && !check)
		return reply(conn, x, 404, agent_error_body("no such path; the agent serves /v1/info "
			     "and /v1/check"), k, nonce, NULL);
	if (info && strcmp(method, "GET"))
		return reply(conn, x, 405, agent_error_body("/v1/info takes GET"), k, nonce, "GET");
	if (check && strcmp(method, "POST"))
		return reply(conn, x, 405, agent_error_body("/v1/check takes POST"), k, nonce, "POST");
	if (info)
		status = check_info(a, &body);
	else
		status = check_run(a, x->body ? x->body : "", x->len, &body, &x->log);
	return reply(conn, x, status, body, k, nonce, NULL);
}

static const char *const auth_names[] = {
	"Acmegate-Key", "Acmegate-Time", "Acmegate-Nonce", "Acmegate-Signature",
};

struct header_count {
	unsigned n[sizeof(auth_names) / sizeof(auth_names[0])];
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct header_count *hc = cls;

	(void)kind;
	(void)value;
	for (size_t i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]); i++)
		if (!strcasecmp(key, auth_names[i]))
			hc->n[i]++;
	return MHD_YES;
}

/* The first signed header given twice, or NULL: MHD would hand us the first one, while a proxy
 * in front or the next version might take the last; a request that can be read two ways is
 * refused. */
static const char *duplicated_auth_header(struct MHD_Connection *conn)
{
	struct header_count hc = { 0 };

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &hc);
	for (size_t i = 0; i < sizeof(auth_names) / sizeof(auth_names[0]); i++)
		if (hc.n[i] > 1)
			return auth_names[i];
	return NULL;
}

/* 400, unsigned: the request cannot be read one way only, so it is not authenticated at all. */
static enum MHD_Result malformed(struct MHD_Connection *conn, struct exchange *x, const char *why)
{
	snprintf(x->why, sizeof(x->why), "%s", why);
	return reply(conn, x, 400, agent_error_body("%s", why), NULL, NULL, NULL);
}

static enum MHD_Result serve(struct agent *a, struct MHD_Connection *conn, struct exchange *x,
			     const char *method, const char *url)
{
	struct auth_headers h = {
		header(conn, "Acmegate-Key"), header(conn, "Acmegate-Time"),
		header(conn, "Acmegate-Nonce"), header(conn, "Acmegate-Signature"),
	};
	struct agent_client *k = NULL;
	struct err e = { 0 };
	const char *dup = duplicated_auth_header(conn);
	char why[64];
	int r;

	mhd_printable(x->key, sizeof(x->key), h.key);  /* claimed; the log says whether it held */
	/* the signature covers the path as MHD decodes it: the target must be that path, bare */
	if (x->bad_target)
		return malformed(conn, x, "the request target must be a bare path: no query, "
				 "fragment or %-escape");
	if (dup) {
		snprintf(why, sizeof(why), "%s given more than once", dup);
		return malformed(conn, x, why);
	}
	if (x->too_large)
		return reply(conn, x, 413, agent_error_body("body larger than %d bytes",
			     AGENT_BODY_MAX), NULL, NULL, NULL);
	r = auth_verify(&a->conf, &h, method, url, x->body ? x->body : "", x->len, &k, &e);
	if (r == -EBUSY) {
		/* authentic but the nonce memory is full: answered, signed, not served */
		return reply(conn, x, 429, agent_error_body("%s", e.msg),
			     agent_client_find(&a->conf, h.key), h.nonce, NULL);
	}
	if (r < 0) {
		snprintf(x->why, sizeof(x->why), "%s", e.msg);
		return reply(conn, x, 401, agent_error_body("%s", e.msg), NULL, NULL, NULL);
	}
	return route(a, conn, x, k, method, url);
}

/* Content-Length beyond the limit is refused before any of the body is read. */
static bool declared_too_large(struct MHD_Connection *conn)
{
	const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned n;

	return cl && parse_uint(cl, 0, AGENT_BODY_MAX, &n) < 0;
}

static int append(struct exchange *x, const char *data, size_t n)
{
	char *b;

	if (x->too_large || x->len + n > AGENT_BODY_MAX) {
		x->too_large = true;  /* the rest is read and dropped; 413 at the end */
		return 0;
	}
	b = realloc(x->body, x->len + n + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b + x->len, data, n);
	x->len += n;
	b[x->len] = '\0';
	x->body = b;
	return 0;
}

/* MHD's URI log callback: called with the raw request target, before MHD splits off the query
 * and decodes %-escapes, so it is the one place that sees what the client sent. The exchange
 * starts here; NULL (out of memory) makes on_request close the connection. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct exchange *x = calloc(1, sizeof(*x));

	(void)cls;
	if (!x)
		return NULL;
	x->start_ns = agent_now_mono();
	mhd_client_address(conn, x->client, sizeof(x->client));
	mhd_printable(x->path, sizeof(x->path), uri);
	x->bad_target = strpbrk(uri, "?#%") != NULL;
	return x;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **state)
{
	struct exchange *x = *state;

	(void)version;
	if (!x)
		return MHD_NO;
	if (!x->started) {
		x->started = true;
		mhd_printable(x->method, sizeof(x->method), method);
		if (!declared_too_large(conn))
			return MHD_YES;
		x->too_large = true;
		return serve(cls, conn, x, method, url);
	}
	if (*upload_size) {
		if (append(x, upload, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	return serve(cls, conn, x, method, url);
}

int http_start(struct agent *a, void **ret_daemon, struct err *e)
{
	struct MHD_Daemon *d;

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ERROR_LOG,
			     0, NULL, NULL, on_request, a,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,  /* first, or MHD warns */
			     MHD_OPTION_LISTEN_SOCKET, a->fd,
			     MHD_OPTION_HTTPS_MEM_CERT, a->cert_pem,
			     MHD_OPTION_HTTPS_MEM_KEY, a->key_pem,
			     MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
			     /* a place per connection, handshake or not: one source must not
			      * take them all, nor all the checks (max_concurrent, limit.c) */
			     MHD_OPTION_CONNECTION_LIMIT, a->conf.max_connections,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, a->conf.max_connections_per_address,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT,
			     MHD_OPTION_URI_LOG_CALLBACK, on_uri, a,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
			     MHD_OPTION_END);
	if (!d)
		return err_set(e, -EIO, "cannot start the HTTPS server on %s (do the certificate "
			       "and the key match?)", a->conf.listen_text);
	a->fd = -1;  /* the daemon owns and closes it */
	*ret_daemon = d;
	return 0;
}

void http_stop(void *daemon)
{
	MHD_stop_daemon(daemon);
}
