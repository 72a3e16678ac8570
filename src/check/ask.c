/* ask.c: sends one signed check request per perspective and target, all at once (libcurl
 * multi), and keeps only replies whose signature verifies. No privilege; called by acmegate
 * check and run. The protocol is docs/agent-protocol.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include "check/check.h"
#include "sig.h"

#define REPLY_MAX (256 * 1024)  /* an agent's result is a few kB; more is not an agent */
/* The path signed and the path asked for, one string: the agent refuses a request whose target
 * is anything but the signed path (a prefix, a query, a %-escape); conf_check.c keeps the url
 * to an origin so that the target is exactly this. */
#define CHECK_PATH "/v1/check"

volatile sig_atomic_t check_stop;

/* One request in flight. */
struct call {
	struct answer *ans;
	CURL *h;
	struct curl_slist *headers;
	char *body;
	char nonce[SIG_NONCE_HEX_LEN + 1];
	char sig[SIG_HEX_LEN + 1];     /* the reply's Acmegate-Signature */
	char *reply;
	size_t len;
	bool too_big;
	struct timespec start;
};

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct call *c = user;
	size_t add = size * n;
	char *grown;

	if (c->len + add > REPLY_MAX) {
		c->too_big = true;
		return 0;
	}
	grown = realloc(c->reply, c->len + add + 1);
	if (!grown)
		return 0;
	memcpy(grown + c->len, p, add);
	c->reply = grown;
	c->len += add;
	c->reply[c->len] = '\0';
	return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
	static const char name[] = "acmegate-signature:";
	struct call *c = user;
	size_t len = size * n, skip = sizeof(name) - 1;

	if (len > skip && !strncasecmp(p, name, skip)) {
		while (skip < len && (p[skip] == ' ' || p[skip] == '\t'))
			skip++;
		if (len - skip >= SIG_HEX_LEN) {
			memcpy(c->sig, p + skip, SIG_HEX_LEN);
			c->sig[SIG_HEX_LEN] = '\0';
		}
	}
	return len;
}

static char *request_body(const struct check_target *t)
{
	json_t *o = json_pack("{s:s, s:s}", "type", probe_type_name(t->type), "name", t->name);
	char *s;

	if (!o)
		return NULL;
	if (t->token[0])
		json_object_set_new(o, "token", json_string(t->token));
	if (t->key_authorization[0])
		json_object_set_new(o, "key_authorization", json_string(t->key_authorization));
	if (t->value[0])
		json_object_set_new(o, "value", json_string(t->value));
	if (t->ca[0])
		json_object_set_new(o, "ca", json_string(t->ca));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static struct curl_slist *signed_headers(const struct perspective_conf *pc, struct call *c)
{
	char stamp[24], sig[SIG_HEX_LEN + 1], line[128];
	struct curl_slist *h = NULL;

	snprintf(stamp, sizeof(stamp), "%lld", (long long)time(NULL));
	if (sig_new_nonce(c->nonce) < 0)
		return NULL;
	sig_request(pc->secret, "POST", CHECK_PATH, stamp, c->nonce, c->body, strlen(c->body), sig);
	h = curl_slist_append(h, "Content-Type: application/json");
	snprintf(line, sizeof(line), "Acmegate-Key: %s", pc->key_id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "Acmegate-Time: %s", stamp);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "Acmegate-Nonce: %s", c->nonce);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "Acmegate-Signature: %s", sig);
	return curl_slist_append(h, line);
}

static int call_setup(struct call *c, const struct check_target *t, unsigned timeout)
{
	const struct perspective_conf *pc = c->ans->pc;
	char url[sizeof(pc->url) + 16];
	size_t ulen = strlen(pc->url);

	c->body = request_body(t);
	c->h = curl_easy_init();
	if (!c->body || !c->h || !(c->headers = signed_headers(pc, c)))
		return -ENOMEM;
	while (ulen && pc->url[ulen - 1] == '/')
		ulen--;
	snprintf(url, sizeof(url), "%.*s" CHECK_PATH, (int)ulen, pc->url);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (pc->ca_file[0])
		curl_easy_setopt(c->h, CURLOPT_CAINFO, pc->ca_file);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	return 0;
}

static void answer_fail(struct answer *a, const char *what, const char *why)
{
	a->answered = false;
	a->ok = false;
	snprintf(a->cls, sizeof(a->cls), "agent");
	snprintf(a->detail, sizeof(a->detail), "%s: %s", what, why);
}

static void copy_str(char *dst, size_t len, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	snprintf(dst, len, "%s", s ? s : "");
}

/* The CA may pass a name over IPv4 after an IPv6 dial failure, but only after a 10 s timeout,
 * and a remote perspective or a redirect may not fall back at all: the self-test wants every
 * family the name has to pass, and names the first that does not. */
static void every_family(struct answer *a, json_t *o)
{
	json_t *at;
	size_t i;

	json_array_foreach(json_object_get(o, "attempts"), i, at) {
		if (json_is_true(json_object_get(at, "ok")))
			continue;
		if (a->ok) {
			copy_str(a->cls, sizeof(a->cls), at, "class");
			copy_str(a->detail, sizeof(a->detail), at, "detail");
		}
		a->ok = false;
		return;
	}
}

/* dns-01: any resolver may ask any authoritative server, so one that lacks the value (a
 * lagging secondary) or cannot be reached fails the self-test, naming the server. */
static void every_server(struct answer *a, json_t *o)
{
	json_t *sv;
	size_t i;

	json_array_foreach(json_object_get(o, "servers"), i, sv) {
		const char *name = json_string_value(json_object_get(sv, "name"));
		const char *addr = json_string_value(json_object_get(sv, "address"));
		const char *why = json_string_value(json_object_get(sv, "detail"));

		if (json_is_true(json_object_get(sv, "ok")))
			continue;
		if (a->ok) {
			copy_str(a->cls, sizeof(a->cls), sv, "class");
			snprintf(a->detail, sizeof(a->detail), "authoritative server %s (%s): %s",
				 name ? name : "?", addr ? addr : "?", why ? why : a->cls);
		}
		a->ok = false;
		return;
	}
}

/* A verified 200 reply: the agent's result, which must at least carry its verdict. */
static void take_result(struct answer *a, const char *reply)
{
	json_error_t je;
	json_t *o = json_loads(reply, 0, &je);

	if (!o || !json_is_object(o) || !json_is_boolean(json_object_get(o, "ok"))) {
		json_decref(o);
		answer_fail(a, "the agent's reply is not a check result", o ? "no verdict" : je.text);
		return;
	}
	a->result = o;
	a->answered = true;
	a->ok = json_is_true(json_object_get(o, "ok"));
	copy_str(a->rir, sizeof(a->rir), o, "rir");
	copy_str(a->cls, sizeof(a->cls), o, "class");
	copy_str(a->detail, sizeof(a->detail), o, "detail");
	every_family(a, o);
	every_server(a, o);
}

static void call_finish(struct call *c, CURLcode code)
{
	struct answer *a = c->ans;
	char mine[SIG_HEX_LEN + 1], why[256];
	long status = 0;
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	a->seconds = (double)(end.tv_sec - c->start.tv_sec) + (end.tv_nsec - c->start.tv_nsec) / 1e9;
	if (code != CURLE_OK) {
		answer_fail(a, "agent not asked", c->too_big ? "reply too large" : curl_easy_strerror(code));
		return;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	sig_reply(a->pc->secret, (unsigned)status, c->nonce, c->reply, c->len, mine);
	if (!sig_equal(c->sig, mine)) {
		snprintf(why, sizeof(why), "HTTP %ld without a valid signature; check key_id and secret "
			 "on both sides", status);
		answer_fail(a, "agent reply rejected", why);
		return;
	}
	if (status != 200) {
		json_t *o = c->reply ? json_loads(c->reply, 0, NULL) : NULL;
		const char *msg = json_string_value(json_object_get(o, "error"));

		snprintf(why, sizeof(why), "HTTP %ld: %s", status, msg ? msg : "no reason given");
		json_decref(o);
		answer_fail(a, "agent refused the check", why);
		return;
	}
	take_result(a, c->reply ? c->reply : "");
}

static void call_free(struct call *c)
{
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->headers);
	free(c->body);
	free(c->reply);
}

/* Drives the transfers until all are done; curl's own timeouts bound each one. */
static void run_multi(CURLM *m)
{
	int running = 1, left;
	CURLMsg *msg;

	while (running && !check_stop) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct call *c = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			call_finish(c, msg->data.result);
		}
		if (running)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
}

int ask_all(const struct conf *c, const struct check_target *targets, size_t ntargets,
	    struct answer *ret, struct err *e)
{
	size_t n = c->npersp * ntargets;
	struct call *calls = calloc(n ? n : 1, sizeof(*calls));
	CURLM *m = curl_multi_init();
	int r = 0;

	if (!calls || !m) {
		r = err_set(e, -ENOMEM, "check: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memset(&ret[i], 0, sizeof(ret[i]));
		ret[i].pc = &c->persp[i % c->npersp];
		calls[i].ans = &ret[i];
		r = call_setup(&calls[i], &targets[i / c->npersp], c->check.timeout);
		if (r < 0) {
			err_set(e, r, "check: cannot prepare the request to perspective '%s'", ret[i].pc->name);
			goto out;
		}
		curl_multi_add_handle(m, calls[i].h);
	}
	for (size_t i = 0; i < n; i++)
		answer_fail(&ret[i], "agent not asked", "interrupted");
	run_multi(m);
out:
	for (size_t i = 0; calls && i < n; i++) {
		if (calls[i].h)
			curl_multi_remove_handle(m, calls[i].h);
		call_free(&calls[i]);
	}
	curl_multi_cleanup(m);
	free(calls);
	return r;
}

void answers_free(struct answer *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++) {
		json_decref(a[i].result);
		a[i].result = NULL;
	}
}
