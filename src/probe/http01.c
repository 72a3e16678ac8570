/* http01.c: the http-01 check as Boulder runs it: port 80, one attempt per address family
 * pinned to its address, redirects followed by hand under Boulder's rules, 128-byte bodies.
 * No privilege; called by probe_run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include "probe/probe_int.h"

#define MAX_REDIRECTS 10
/* Boulder reads at most 128 bytes; a body that fills them is refused. */
#define BODY_MAX 128
#define URL_MAX 2048

/* Bodies of other answers (a redirect's, an error page) are read and dropped, up to this. */
#define OTHER_BODY_MAX 65536

struct body {
	CURL *curl;
	char buf[BODY_MAX + 1];
	size_t n, dropped;
	bool too_large;
};

/* One request of an attempt (the first, or a redirect's). */
struct hop {
	char url[URL_MAX];
	char host[256];
	int port;
	bool https;
	struct sockaddr_storage dst;
	char addr[INET6_ADDRSTRLEN];
	long status;
	char location[URL_MAX];
	char source[INET6_ADDRSTRLEN];
	struct body body;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	long status = 0;

	/* the redirect's Location is only worked out once its answer is read to the end */
	curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		b->dropped += n;
		return b->dropped > OTHER_BODY_MAX ? 0 : n;
	}
	if (b->n + n >= BODY_MAX) {
		b->too_large = true;
		return 0;
	}
	memcpy(b->buf + b->n, p, n);
	b->n += n;
	return n;
}

/* Splits url into the hop's scheme, host and port; a class (with detail) when Boulder would
 * not follow it. */
static const char *hop_target(struct hop *h, const char *url, struct outcome *out)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	const char *cls = NULL;

	snprintf(h->url, sizeof(h->url), "%s", url);
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		cls = "redirect";
		outcome_set(out, cls, "Fetching %s: Invalid redirect target URL", url);
	} else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		cls = "redirect";
		outcome_set(out, cls, "Fetching %s: Invalid protocol scheme in redirect target. Only "
			    "\"http\" and \"https\" protocol schemes are supported, not \"%s\"", url, scheme);
	} else if (strcmp(port, "80") != 0 && strcmp(port, "443") != 0) {
		cls = "redirect";
		outcome_set(out, cls, "Fetching %s: Invalid port in redirect target. Only ports 80 and "
			    "443 are supported, not %s", url, port);
	} else {
		h->https = strcmp(scheme, "https") == 0;
		h->port = atoi(port);
		snprintf(h->host, sizeof(h->host), "%s", host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return cls;
}

/* A redirect target's address: resolved again, the attempt's family preferred. */
static const char *hop_resolve(struct probe_ctx *c, struct hop *h, int af, struct outcome *out)
{
	struct sockaddr_storage lit;
	struct addrs a;

	if (addr_literal(h->host, 0, &lit) == 0) {
		outcome_set(out, "redirect", "Fetching %s: Invalid host in redirect target \"%s\". Only "
			    "domain names are supported, not IP addresses", h->url, h->host);
		return out->cls;
	}
	if (resolve_host(c, h->host, &a, out) < 0)
		return out->cls;
	if ((af == AF_INET6 && a.n6) || !a.n4)
		h->dst = a.v6[0];
	else
		h->dst = a.v4[0];
	return NULL;
}

/* Maps a libcurl failure to the protocol's class and Boulder's wording. */
static const char *classify(CURL *curl, CURLcode rc, const struct hop *h, const char *errbuf,
			    struct outcome *out)
{
	long oserr = 0;
	curl_off_t connected = 0;
	const char *what = NULL, *cls;

	curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
	cls = connect_class((int)oserr, &what);
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		cls = connected ? "timeout" : "dropped";
		what = connected ? "Timeout after connect (your server may be slow or overloaded)"
				 : "Timeout during connect (likely firewall problem)";
	} else if (!cls && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING)) {
		cls = "reset";
		what = rc == CURLE_GOT_NOTHING ? "The server closed the connection without a response"
					       : "Connection reset by peer";
	} else if (!cls && h->https && (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CIPHER ||
					rc == CURLE_PEER_FAILED_VERIFICATION)) {
		cls = "tls";
		what = *errbuf ? errbuf : curl_easy_strerror(rc);
	} else if (!cls) {
		cls = rc == CURLE_COULDNT_CONNECT ? "unreachable" : "internal";
		what = *errbuf ? errbuf : curl_easy_strerror(rc);
	}
	outcome_set(out, cls, "%s: Fetching %s: %s", h->addr, h->url, what);
	return cls;
}

static int set_request(struct probe_ctx *c, CURL *curl, struct hop *h, struct curl_slist **headers,
		       struct curl_slist **pin, char *errbuf)
{
	char line[512];
	bool lit6 = h->dst.ss_family == AF_INET6;
	int fail = 0;

	struct sockaddr_storage lit;
	bool literal = addr_literal(h->host, 0, &lit) == 0;

	/* a name is pinned to the address the guard passed; a literal is its own address */
	snprintf(line, sizeof(line), "%s:%d:%s%s%s", h->host, h->port, lit6 ? "[" : "", h->addr, lit6 ? "]" : "");
	*pin = literal ? NULL : curl_slist_append(NULL, line);
	*headers = curl_slist_append(NULL, "Accept: */*");
	if (*headers)
		*headers = curl_slist_append(*headers, "Connection: close");
	if ((!literal && !*pin) || !*headers)
		return -ENOMEM;
	fail |= curl_easy_setopt(curl, CURLOPT_URL, h->url);
	fail |= curl_easy_setopt(curl, CURLOPT_RESOLVE, *pin);
	fail |= curl_easy_setopt(curl, CURLOPT_IPRESOLVE, lit6 ? CURL_IPRESOLVE_V6 : CURL_IPRESOLVE_V4);
	fail |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
	fail |= curl_easy_setopt(curl, CURLOPT_USERAGENT, c->o->user_agent ? c->o->user_agent : "acmegate-agent");
	fail |= curl_easy_setopt(curl, CURLOPT_PROXY, "");
	fail |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	fail |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	fail |= curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	fail |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	fail |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->dial_ms);
	fail |= curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2L * c->dial_ms);
	/* like Boulder: TLS 1.2 or newer on https hops, the certificate not verified */
	fail |= curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	fail |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
	fail |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	fail |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	fail |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, &h->body);
	fail |= curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	return fail ? -ENOMEM : 0;
}

/* One request to h->dst. NULL when an HTTP answer came back (any status); else the class. */
static const char *fetch(struct probe_ctx *c, struct hop *h, struct outcome *out, int *ret_err)
{
	struct curl_slist *headers = NULL, *pin = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *s = NULL;
	const char *cls = NULL;
	CURL *curl = curl_easy_init();
	CURLcode rc;

	h->body.curl = curl;
	*ret_err = curl ? set_request(c, curl, h, &headers, &pin, errbuf) : -ENOMEM;
	if (*ret_err < 0)
		goto out;
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &h->status);
	if (curl_easy_getinfo(curl, CURLINFO_LOCAL_IP, &s) == CURLE_OK && s)
		snprintf(h->source, sizeof(h->source), "%s", s);
	s = NULL;
	if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &s) == CURLE_OK && s)
		snprintf(h->location, sizeof(h->location), "%s", s);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && (h->body.too_large || h->body.dropped)))
		cls = classify(curl, rc, h, errbuf, out);
out:
	curl_slist_free_all(headers);
	curl_slist_free_all(pin);
	curl_easy_cleanup(curl);
	return cls;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 307 || status == 308;
}

/* The final answer against the key authorization: status 200, under 128 bytes, exact. */
static const char *judge_body(struct probe_ctx *c, struct hop *h, struct outcome *out)
{
	char got[200], want[200];
	size_t n = h->body.n;

	if (h->status != 200) {
		outcome_set(out, "http-status", "%s: Invalid response from %s: %ld", h->addr, h->url, h->status);
		return out->cls;
	}
	excerpt(h->body.buf, n, got, sizeof(got));
	if (h->body.too_large) {
		outcome_set(out, "too-large", "%s: Invalid response from %s: \"%s\" (more than %d bytes)",
			    h->addr, h->url, got, BODY_MAX - 1);
		return out->cls;
	}
	while (n > 0 && strchr(" \t\r\n\v\f", h->body.buf[n - 1]))
		n--;
	if (n == strlen(c->r->key_authorization) && memcmp(h->body.buf, c->r->key_authorization, n) == 0) {
		outcome_set(out, NULL, "%s: Fetched %s: the key authorization matches", h->addr, h->url);
		return NULL;
	}
	excerpt(h->body.buf, n, got, sizeof(got));
	excerpt(c->r->key_authorization, strlen(c->r->key_authorization), want, sizeof(want));
	outcome_set(out, "wrong-body", "%s: The key authorization file from the server did not match "
		    "this challenge. Expected \"%s\" (got \"%s\")", h->addr, want, got);
	return out->cls;
}

static int add_hop(json_t *hops, const struct hop *h, const char *cls)
{
	json_t *j = json_pack("{s:s, s:s?, s:i, s:o, s:s?, s:s}", "url", h->url,
			      "address", *h->addr ? h->addr : NULL, "port", h->port,
			      "status", h->status ? json_integer(h->status) : json_null(),
			      "location", *h->location ? h->location : NULL, "class", cls ? cls : "ok");

	return j && json_array_append_new(hops, j) == 0 ? 0 : -ENOMEM;
}

/* Whether cur's redirect may be followed; next gets its target. A refusal's class otherwise. */
static const char *follow(struct hop *cur, struct hop *next, char (*seen)[URL_MAX], int i,
			  struct outcome *out)
{
	struct outcome why;

	memset(next, 0, sizeof(*next));
	if (i >= MAX_REDIRECTS)
		outcome_set(&why, "redirect", "Fetching %s: Too many redirects", cur->url);
	else if (!hop_target(next, cur->location, &why))
		outcome_set(&why, NULL, "%s", "");
	for (int k = 0; !why.cls && k <= i; k++)
		if (strcmp(seen[k], cur->location) == 0)
			outcome_set(&why, "redirect", "Fetching %s: Redirect loop detected", cur->location);
	if (why.cls)
		outcome_set(out, why.cls, "%s: %s", cur->addr, why.detail);
	return why.cls;
}

/* Connects (guard first) and fetches one hop; NULL when an HTTP answer came back. */
static const char *hop_fetch(struct probe_ctx *c, struct hop *h, struct outcome *out, int *ret_err)
{
	struct err e;

	addr_set_port(&h->dst, h->port);
	addr_str((struct sockaddr *)&h->dst, h->addr, sizeof(h->addr));
	if (guard_check(c->o->guard, (struct sockaddr *)&h->dst, &e) < 0) {
		outcome_set(out, "forbidden", "%s: Fetching %s: %s", h->addr, h->url, e.msg);
		return out->cls;
	}
	return fetch(c, h, out, ret_err);
}

/* An attempt's working memory: two hops in turn and the URLs already fetched. */
struct walk {
	struct hop h[2];
	char seen[MAX_REDIRECTS + 1][URL_MAX];
};

/* The hops of one attempt, starting at the challenge URL on dst. */
static int run_hops(struct probe_ctx *c, const struct sockaddr_storage *dst, json_t *hops,
		    char *source, struct outcome *out)
{
	struct walk *w = calloc(1, sizeof(*w));
	bool lit6 = strchr(c->name, ':') && c->name[0] != '[';
	char url[URL_MAX];
	const char *cls;
	int err = 0;

	if (!w)
		return -ENOMEM;
	snprintf(url, sizeof(url), "http://%s%s%s/.well-known/acme-challenge/%s", lit6 ? "[" : "",
		 c->name, lit6 ? "]" : "", c->r->token);
	hop_target(&w->h[0], url, out);
	w->h[0].dst = *dst;
	for (int i = 0;; i++) {
		struct hop *cur = &w->h[i % 2], *next = &w->h[(i + 1) % 2];

		if (i > 0 && hop_resolve(c, cur, dst->ss_family, out)) {
			cls = out->cls;
		} else {
			cls = hop_fetch(c, cur, out, &err);
			if (i == 0)
				snprintf(source, INET6_ADDRSTRLEN, "%s", cur->source);
		}
		if (err < 0)
			break;
		if (!cls && is_redirect(cur->status) && *cur->location) {
			size_t n = strnlen(cur->url, URL_MAX - 1);

			memcpy(w->seen[i], cur->url, n);  /* both live in *w: no snprintf */
			w->seen[i][n] = '\0';
			cls = follow(cur, next, w->seen, i, out);
			if ((err = add_hop(hops, cur, cls)) < 0 || cls)
				break;
			continue;
		}
		if (!cls)
			cls = judge_body(c, cur, out);
		err = add_hop(hops, cur, cls);
		break;
	}
	free(w);
	return err;
}

static int attempt(struct probe_ctx *c, const struct sockaddr_storage *dst, json_t *attempts,
		   struct outcome *out)
{
	char source[INET6_ADDRSTRLEN] = "", addr[INET6_ADDRSTRLEN];
	json_t *hops = json_array(), *j;
	int err = hops ? run_hops(c, dst, hops, source, out) : -ENOMEM;

	if (err < 0) {
		json_decref(hops);
		return err;
	}
	addr_str((const struct sockaddr *)dst, addr, sizeof(addr));
	j = json_pack("{s:s, s:s, s:s?, s:b, s:s, s:s, s:o}", "family", probe_family_name(dst->ss_family),
		      "address", addr, "source", *source ? source : NULL, "ok", !out->cls,
		      "class", out->cls ? out->cls : "ok", "detail", out->detail, "hops", hops);
	return j && json_array_append_new(attempts, j) == 0 ? 0 : -ENOMEM;
}

/* Boulder falls back to IPv4 only when IPv6 failed before any HTTP was spoken. (A refused
 * special-use address counts too: a CA ignores those addresses.) */
static bool connect_level(const char *cls)
{
	return cls && (!strcmp(cls, "dropped") || !strcmp(cls, "refused") ||
		       !strcmp(cls, "unreachable") || !strcmp(cls, "forbidden"));
}

int http01_run(struct probe_ctx *c, json_t *res)
{
	struct outcome o6 = { 0 }, o4 = { 0 }, *v;
	json_t *attempts = json_array();
	struct addrs a;
	int r = result_add(res, "attempts", attempts);

	if (r < 0)
		return r;
	if (resolve_host(c, c->name, &a, &o6) < 0)
		return result_verdict(res, false, NULL, o6.cls, o6.detail);
	if (a.n6 && (r = attempt(c, &a.v6[0], attempts, &o6)) < 0)
		return r;
	if (a.n4 && (r = attempt(c, &a.v4[0], attempts, &o4)) < 0)
		return r;
	v = a.n6 && !(a.n4 && connect_level(o6.cls)) ? &o6 : &o4;
	return result_verdict(res, !v->cls, v == &o6 ? "ipv6" : "ipv4", v->cls, v->detail);
}
