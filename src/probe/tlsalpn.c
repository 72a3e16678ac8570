/* tlsalpn.c: the tls-alpn-01 check (RFC 8737): port 443, TLS >= 1.2, SNI = the name, ALPN
 * offering only acme-tls/1, the challenge certificate inspected, never verified.
 * No privilege; called by probe_run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "probe/probe_int.h"

#define ACME_TLS_1 "acme-tls/1"
#define OID_ACME_IDENTIFIER "1.3.6.1.5.5.7.1.31"

/* What one attempt found. */
struct tls_seen {
	char addr[INET6_ADDRSTRLEN];
	char source[INET6_ADDRSTRLEN];
	bool alpn;
	int cert_ok;   /* -1: not checked (no key authorization) */
};

static void local_addr(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		addr_str((struct sockaddr *)&ss, buf, len);
}

/* Exactly one subjectAltName entry, a dNSName equal to name. */
static bool san_is(X509 *x, const char *name)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool ok = false;

	if (gens && sk_GENERAL_NAME_num(gens) == 1) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);

		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;

			ok = (size_t)s->length == strlen(name) && strncasecmp((const char *)s->data, name, strlen(name)) == 0;
		}
	}
	GENERAL_NAMES_free(gens);
	return ok;
}

/* A critical id-pe-acmeIdentifier whose value is the DER OCTET STRING of SHA-256(ka). */
static bool acme_identifier_is(X509 *x, const char *ka, char *why, size_t len)
{
	unsigned char want[2 + 32] = { 0x04, 0x20 };
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_ACME_IDENTIFIER, 1);
	int i = oid ? X509_get_ext_by_OBJ(x, oid, -1) : -1;
	X509_EXTENSION *ext = i >= 0 ? X509_get_ext(x, i) : NULL;
	const ASN1_OCTET_STRING *v = ext ? X509_EXTENSION_get_data(ext) : NULL;
	bool ok = false;

	ASN1_OBJECT_free(oid);
	EVP_Digest(ka, strlen(ka), want + 2, NULL, EVP_sha256(), NULL);
	if (!ext)
		snprintf(why, len, "no acmeIdentifier extension (%s)", OID_ACME_IDENTIFIER);
	else if (!X509_EXTENSION_get_critical(ext))
		snprintf(why, len, "the acmeIdentifier extension is not critical");
	else if (v->length != sizeof(want) || memcmp(v->data, want, sizeof(want)) != 0)
		snprintf(why, len, "the acmeIdentifier extension does not hold SHA-256 of the key authorization");
	else
		ok = true;
	return ok;
}

/* The challenge certificate RFC 8737 asks for; why says what is wrong. */
static bool cert_ok(X509 *x, const char *name, const char *ka, char *why, size_t len)
{
	if (!x) {
		snprintf(why, len, "no certificate");
		return false;
	}
	if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)) != 0) {
		snprintf(why, len, "the certificate is not self-signed (issuer differs from subject)");
		return false;
	}
	if (!san_is(x, name)) {
		snprintf(why, len, "the certificate's subjectAltName is not exactly one dNSName \"%s\"", name);
		return false;
	}
	return acme_identifier_is(x, ka, why, len);
}

/* A failed handshake's class: reset, timeout, alpn (the server refused acme-tls/1) or tls. */
static const char *handshake_failure(SSL *ssl, int ret, int sys_errno, char *what, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL && e == 0) {
		if (sys_errno == EAGAIN || sys_errno == EWOULDBLOCK) {
			snprintf(what, len, "Timeout during the TLS handshake");
			return "timeout";
		}
		snprintf(what, len, "%s", sys_errno == ECONNRESET || sys_errno == 0 ? "Connection reset by peer"
									 : strerror(sys_errno));
		return "reset";
	}
	snprintf(what, len, "TLS handshake failed: %s", e ? ERR_reason_error_string(e) : "unknown error");
	return ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL ? "alpn" : "tls";
}

/* The handshake on a connected socket, then what the server offered. */
static int handshake(struct probe_ctx *c, SSL_CTX *tls, int fd, struct tls_seen *s, struct outcome *out)
{
	static const unsigned char alpn[] = "\x0a" ACME_TLS_1;
	const unsigned char *sel = NULL;
	unsigned sel_len = 0;
	char what[300], why[200];
	SSL *ssl = SSL_new(tls);
	struct sockaddr_storage lit;
	X509 *x;
	int ret;

	if (!ssl)
		return -ENOMEM;
	ERR_clear_error();
	SSL_set_fd(ssl, fd);
	if (addr_literal(c->name, 0, &lit) < 0)
		SSL_set_tlsext_host_name(ssl, c->name);
	SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
	errno = 0;
	ret = SSL_connect(ssl);
	if (ret <= 0) {
		const char *cls = handshake_failure(ssl, ret, errno, what, sizeof(what));

		outcome_set(out, cls, "%s: Connecting to %s:443: %s", s->addr, c->name, what);
		SSL_free(ssl);
		return 0;
	}
	SSL_get0_alpn_selected(ssl, &sel, &sel_len);
	s->alpn = sel_len == strlen(ACME_TLS_1) && memcmp(sel, ACME_TLS_1, sel_len) == 0;
	x = SSL_get1_peer_certificate(ssl);
	if (c->r->key_authorization)
		s->cert_ok = cert_ok(x, c->name, c->r->key_authorization, why, sizeof(why));
	if (!s->alpn)
		outcome_set(out, "alpn", "%s: Cannot negotiate ALPN protocol \"%s\" for tls-alpn-01 challenge",
			    s->addr, ACME_TLS_1);
	else if (s->cert_ok == 0)
		outcome_set(out, "certificate", "%s: Incorrect validation certificate for tls-alpn-01 "
			    "challenge: %s", s->addr, why);
	else
		outcome_set(out, NULL, "%s: acme-tls/1 negotiated%s", s->addr,
			    s->cert_ok == 1 ? ", the challenge certificate matches" : "");
	X509_free(x);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	return 0;
}

static int attempt(struct probe_ctx *c, SSL_CTX *tls, struct sockaddr_storage dst, json_t *attempts,
		   struct outcome *out)
{
	struct tls_seen s = { .cert_ok = -1 };
	struct err e;
	const char *what;
	int fd, r = 0;
	json_t *j;

	addr_set_port(&dst, 443);
	addr_str((struct sockaddr *)&dst, s.addr, sizeof(s.addr));
	if (guard_check(c->o->guard, (struct sockaddr *)&dst, &e) < 0) {
		outcome_set(out, "forbidden", "%s: %s", s.addr, e.msg);
	} else if ((fd = addr_dial(&dst, SOCK_STREAM, c->dial_ms)) < 0) {
		const char *cls = connect_class(-fd, &what);

		if (!cls) {
			cls = "unreachable";
			what = strerror(-fd);
		}

		outcome_set(out, cls, "%s: Connecting to %s:443: %s", s.addr, c->name, what);
	} else {
		local_addr(fd, s.source, sizeof(s.source));
		r = handshake(c, tls, fd, &s, out);
		close(fd);
	}
	if (r < 0)
		return r;
	j = json_pack("{s:s, s:s, s:s?, s:b, s:s, s:s, s:b, s:o}", "family", probe_family_name(dst.ss_family),
		      "address", s.addr, "source", *s.source ? s.source : NULL, "ok", !out->cls,
		      "class", out->cls ? out->cls : "ok", "detail", out->detail, "alpn", s.alpn,
		      "certificate_ok", s.cert_ok < 0 ? json_null() : json_boolean(s.cert_ok));
	return j && json_array_append_new(attempts, j) == 0 ? 0 : -ENOMEM;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *tls = SSL_CTX_new(TLS_client_method());

	if (!tls)
		return NULL;
	/* RFC 8737: TLS 1.2 or newer; the certificate is inspected, not verified */
	SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
	SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
	return tls;
}

int tlsalpn_run(struct probe_ctx *c, json_t *res)
{
	struct outcome o6 = { 0 }, o4 = { 0 }, *v;
	json_t *attempts = json_array();
	SSL_CTX *tls = NULL;
	struct addrs a;
	int r = result_add(res, "attempts", attempts);

	if (r < 0)
		return r;
	if (resolve_host(c, c->name, &a, &o6) < 0)
		return result_verdict(res, false, NULL, o6.cls, o6.detail);
	tls = client_ctx();
	if (!tls)
		return -ENOMEM;
	if (a.n6)
		r = attempt(c, tls, a.v6[0], attempts, &o6);
	if (r == 0 && a.n4)
		r = attempt(c, tls, a.v4[0], attempts, &o4);
	SSL_CTX_free(tls);
	if (r < 0)
		return r;
	/* RFC 8737 as Boulder runs it: IPv4 after any IPv6 failure */
	v = a.n6 && !(a.n4 && o6.cls) ? &o6 : &o4;
	return result_verdict(res, !v->cls, v == &o6 ? "ipv6" : "ipv4", v->cls, v->detail);
}
