/* conf_check.c: the self-test's part of acmegate.conf, [check] and [perspective NAME]; no
 * privilege (reads secret files the caller may read), called through conf_load. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "conf_internal.h"
#include "sig.h"

static const char *const check_keys[] = { "quorum", "on_check_failure", "timeout", "webroot",
					  "domains", "caa_issuer", "on_inconclusive" };
static const char *const persp_keys[] = { "url", "key_id", "secret", "secret_file", "ca_file" };

static int bad(char *msg, size_t len, const char *key, const char *value, const char *want)
{
	char shown[64];

	snprintf(msg, len, "bad value '%s' for key '%s': expected %s",
		 conf_printable(value, shown, sizeof(shown)), key, want);
	return 0;
}

bool valid_domain(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (!strncmp(s, "*.", 2))
		s += 2, n -= 2;
	if (n == 0 || n > 253 || s[n - 1] == '.' || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++) {
		bool ldh = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || *p == '-';

		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if (!ldh || ++label > 63 || (label == 1 && *p == '-')) {
			return false;
		}
	}
	return s[n - 1] != '-';
}

static const char *const quorum_names[] = { "cabf", "all", "majority", "count" };
static const char *const on_failure_names[] = { "close", "keep", "warn" };
static const char *const on_inconclusive_names[] = { "refuse", "proceed" };

const char *on_inconclusive_name(enum check_inconclusive v)
{
	return on_inconclusive_names[v];
}

const char *quorum_name(enum quorum_policy q)
{
	return quorum_names[q];
}

const char *on_failure_name(enum check_failure f)
{
	return on_failure_names[f];
}

int on_failure_from_name(const char *s, enum check_failure *ret)
{
	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(s, on_failure_names[i])) {
			*ret = (enum check_failure)i;
			return 0;
		}
	return -EINVAL;
}

int quorum_from_name(const char *v, enum quorum_policy *q, unsigned *count)
{
	for (size_t i = 0; i < QUORUM_COUNT; i++) {
		if (!strcmp(v, quorum_names[i])) {
			*q = (enum quorum_policy)i;
			return 0;
		}
	}
	*q = QUORUM_COUNT;
	return parse_uint(v, 1, PERSPECTIVE_MAX, count);
}

/* "a.example b.example, c.example": adds to the list; several lines add up. */
static int parse_domains(struct check_conf *k, const char *value, char *msg, size_t len)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (!valid_domain(t))
			return bad(msg, len, "domains", t, "host names like www.example.org or *.example.org");
		if (k->ndomains == DOMAIN_MAX)
			return bad(msg, len, "domains", t, "at most 32 names");
		snprintf(k->domains[k->ndomains++], DOMAIN_LEN, "%s", t);
	}
	return 1;
}

static int set_check_key(struct check_conf *k, const char *key, const char *v, char *msg, size_t len)
{
	if (!strcmp(key, "quorum"))
		return quorum_from_name(v, &k->quorum, &k->quorum_count) ? bad(msg, len, key, v, "cabf, all, majority or a number from 1 to 16") : 1;
	if (!strcmp(key, "on_check_failure"))
		return on_failure_from_name(v, &k->on_failure) ? bad(msg, len, key, v, "close, keep or warn") : 1;
	if (!strcmp(key, "on_inconclusive")) {
		if (strcmp(v, "refuse") && strcmp(v, "proceed"))
			return bad(msg, len, key, v, "refuse or proceed");
		k->on_inconclusive = strcmp(v, "refuse") ? ON_INC_PROCEED : ON_INC_REFUSE;
		return 1;
	}
	if (!strcmp(key, "timeout"))
		return parse_uint(v, 5, 600, &k->timeout) ? bad(msg, len, key, v, "seconds from 5 to 600") : 1;
	if (!strcmp(key, "webroot")) {
		if (v[0] != '/' || strlen(v) >= sizeof(k->webroot) - 96)
			return bad(msg, len, key, v, "an absolute path");
		snprintf(k->webroot, sizeof(k->webroot), "%s", v);
		return 1;
	}
	if (!strcmp(key, "caa_issuer")) {
		if (!valid_domain(v) || v[0] == '*')
			return bad(msg, len, key, v, "the CA's issuer domain, e.g. letsencrypt.org");
		snprintf(k->caa_issuer, sizeof(k->caa_issuer), "%s", v);
		return 1;
	}
	return parse_domains(k, v, msg, len);
}

/* The secret file holds 64 hex digits (and maybe a newline); nobody but its owner may read it. */
static int read_secret_file(const char *path, uint8_t ret[SECRET_LEN], char *msg, size_t len)
{
	char buf[SIG_HEX_LEN + 2] = "";
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return snprintf(msg, len, "secret_file '%s': %s", path, strerror(errno)), 0;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, buf, sizeof(buf) - 1) : -1;
	close(fd);
	if (n < 0)
		return snprintf(msg, len, "secret_file '%s': not a readable regular file", path), 0;
	if (st.st_mode & 077)
		return snprintf(msg, len, "secret_file '%s': readable by others (mode %03o); chmod 600 it",
				path, (unsigned)(st.st_mode & 0777)), 0;
	buf[strcspn(buf, "\n")] = '\0';
	if (sig_parse_secret(buf, ret) < 0)
		return snprintf(msg, len, "secret_file '%s': expected 64 hex digits (openssl rand -hex 32)", path), 0;
	return 1;
}

#define CA_FILE_MAX (1 << 20)   /* a certificate or a bundle; /dev/zero is neither */

/* ca_file: a readable regular file holding at least one PEM certificate, or curl would only
 * say so at the first check, as a perspective that "could not be asked". */
static int check_ca_file(const char *path, char *msg, size_t len)
{
	struct stat st;
	X509 *cert = NULL;
	FILE *f = fopen(path, "re");

	if (!f)
		return snprintf(msg, len, "ca_file '%s': %s", path, strerror(errno)), 0;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CA_FILE_MAX) {
		fclose(f);
		return snprintf(msg, len, "ca_file '%s': not a regular file of at most 1 MiB", path), 0;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!cert)
		return snprintf(msg, len, "ca_file '%s': no PEM certificate in it (expected the agent's "
				"certificate, -----BEGIN CERTIFICATE-----)", path), 0;
	X509_free(cert);
	return 1;
}

/* url: what libcurl will parse, https, with a host. */
static int check_url(const char *v, char *msg, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL, shown[64];
	CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, v, 0) : CURLUE_OUT_OF_MEMORY;

	if (rc == CURLUE_OK)
		rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_free(host);
	curl_url_cleanup(u);
	if (rc == CURLUE_OK)
		return 1;
	snprintf(msg, len, "bad value '%s' for key 'url': %s; expected the agent's https:// URL, "
		 "e.g. https://agent.example.net:8443 or https://[2001:db8::1]:8443",
		 conf_printable(v, shown, sizeof(shown)), curl_url_strerror(rc));
	return 0;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= max && s[n] == '\0';
}

/* https://HOST[:PORT] and at most a "/": acmegate check signs the path /v1/check alone, and the
 * agent refuses a target with anything more (a path prefix, a query, a %-escape). */
static bool agent_url_ok(const char *v)
{
	const char *path;

	if (strncmp(v, "https://", 8) || strpbrk(v, " \t\"'?#%"))
		return false;
	path = strchr(v + 8, '/');
	return path != v + 8 && (!path || !strcmp(path, "/"));
}

static int set_persp_key(struct perspective_conf *pc, const char *key, const char *v, char *msg, size_t len)
{
	if (!strcmp(key, "url")) {
		if (!agent_url_ok(v) || strlen(v) >= sizeof(pc->url))
			return bad(msg, len, key, v, "the agent's https:// URL without a path, query or "
				   "%-escape, e.g. https://agent.example.net:8443");
		if (!check_url(v, msg, len))
			return 0;
		snprintf(pc->url, sizeof(pc->url), "%s", v);
		return 1;
	}
	if (!strcmp(key, "key_id")) {
		if (!name_ok(v, 64))
			return bad(msg, len, key, v, "1 to 64 characters of A-Z a-z 0-9 . _ -");
		snprintf(pc->key_id, sizeof(pc->key_id), "%s", v);
		return 1;
	}
	if (!strcmp(key, "ca_file")) {
		if (v[0] != '/' || strlen(v) >= sizeof(pc->ca_file))
			return bad(msg, len, key, v, "an absolute path to the agent's certificate (PEM)");
		if (!check_ca_file(v, msg, len))
			return 0;
		snprintf(pc->ca_file, sizeof(pc->ca_file), "%s", v);
		return 1;
	}
	if (pc->has_secret)
		return snprintf(msg, len, "give either secret or secret_file, not both"), 0;
	pc->has_secret = true;
	if (!strcmp(key, "secret"))
		return sig_parse_secret(v, pc->secret) ? bad(msg, len, key, "…", "64 hex digits (openssl rand -hex 32)") : 1;
	return read_secret_file(v, pc->secret, msg, len);
}

static struct perspective_conf *perspective(struct conf *c, const char *name, char *msg, size_t len)
{
	char shown[64];

	if (!name_ok(name, 32)) {
		snprintf(msg, len, "bad perspective name '%s': 1 to 32 characters of A-Z a-z 0-9 . _ -",
			 conf_printable(name, shown, sizeof(shown)));
		return NULL;
	}
	/* inih hands over keys in order, so a name seen before that is not the last section is
	 * a second section of that name */
	for (size_t i = 0; i < c->npersp; i++) {
		if (strcmp(c->persp[i].name, name))
			continue;
		if (i + 1 == c->npersp)
			return &c->persp[i];
		snprintf(msg, len, "[perspective %s] is given twice", name);
		return NULL;
	}
	if (c->npersp == PERSPECTIVE_MAX) {
		snprintf(msg, len, "at most %d perspectives", PERSPECTIVE_MAX);
		return NULL;
	}
	snprintf(c->persp[c->npersp].name, sizeof(c->persp[0].name), "%s", name);
	return &c->persp[c->npersp++];
}

int conf_other_key(struct conf *c, const char *section, const char *key, const char *value,
		   char *msg, size_t len)
{
	struct perspective_conf *pc;
	char k[64], sec[64];

	if (!strcmp(section, "check")) {
		return conf_key_once("check", check_keys, sizeof(check_keys) / sizeof(check_keys[0]), "domains", &c->check.seen, key, value, msg, len) &&
		       set_check_key(&c->check, key, value, msg, len);
	}
	if (!strncmp(section, "perspective ", 12)) {
		pc = perspective(c, section + 12, msg, len);
		return pc && conf_key_once("perspective", persp_keys, 5, NULL, &pc->seen, key, value, msg, len) &&
		       set_persp_key(pc, key, value, msg, len);
	}
	if (!section[0])
		snprintf(msg, len, "key '%s' is outside any section; put it under [gate], [check] or "
			 "[perspective NAME]", conf_printable(key, k, sizeof(k)));
	else
		snprintf(msg, len, "key '%s' is in an unknown section '[%s]'; sections are [gate], "
			 "[check] and [perspective NAME]", conf_printable(key, k, sizeof(k)),
			 conf_printable(section, sec, sizeof(sec)));
	return 0;
}

int conf_validate_check(const struct conf *c, struct err *e)
{
	for (size_t i = 0; i < c->npersp; i++) {
		const struct perspective_conf *pc = &c->persp[i];

		if (!pc->url[0] || !pc->key_id[0] || !pc->has_secret)
			return err_set(e, -EINVAL, "%s: [perspective %s] needs url, key_id and secret (or "
				       "secret_file)", c->path, pc->name);
	}
	if (c->check.quorum == QUORUM_COUNT && c->npersp && c->check.quorum_count > c->npersp)
		return err_set(e, -EINVAL, "%s: quorum %u is more than the %zu perspectives configured",
			       c->path, c->check.quorum_count, c->npersp);
	return 0;
}
