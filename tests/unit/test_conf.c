/* test_conf.c: acmegate.conf parsing, good and bad: every error names file, line and key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "conf.h"

static char path[64];

static int load(const char *text, struct conf *c, struct err *e)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/acmegate-test-conf.XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	memset(e, 0, sizeof(*e));
	int r = conf_load(c, path, true, e);

	unlink(path);
	return r;
}

static void assert_error(const char *text, const char *where, const char *what)
{
	struct conf c;
	struct err e;
	char prefix[128];

	assert_int_equal(load(text, &c, &e), -EINVAL);
	snprintf(prefix, sizeof(prefix), "%s:%s", path, where);
	if (!strstr(e.msg, prefix) || !strstr(e.msg, what))
		fail_msg("message '%s' lacks '%s' or '%s'", e.msg, prefix, what);
}

static void test_defaults(void **state)
{
	struct conf c;
	struct err e;

	(void)state;
	assert_int_equal(conf_load(&c, "/nonexistent/acmegate.conf", false, &e), 0);
	assert_int_equal(c.ttl, 600);
	assert_int_equal(c.services, SVC_HTTP01);
	assert_int_equal(c.http01_mode, HTTP01_PATH);
	assert_int_equal(c.token_length, 43);
	assert_string_equal(c.state_dir, "/run/acmegate");
	assert_true(conf_load(&c, "/nonexistent/acmegate.conf", true, &e) < 0);
	assert_non_null(strstr(e.msg, "/nonexistent/acmegate.conf"));
}

static void test_good(void **state)
{
	struct conf c;
	struct err e;

	(void)state;
	assert_int_equal(load("# comment\n[gate]\nttl = 120 ; inline\nchallenges = http-01, dns\n"
			      "http01_mode = port\ntoken_length = 32\nforward = yes\n"
			      "state_dir = /tmp/x\nmax_ttl = 900\n"
			      "trusted_sources = 198.51.100.0/24, 2001:db8:100::/48\n"
			      "trusted_sources = 192.0.2.7\n", &c, &e), 0);
	assert_int_equal(c.ntrusted, 3);
	assert_int_equal(c.trusted[1].plen, 48);
	assert_int_equal(c.trusted[2].plen, 32);
	assert_int_equal(c.ttl, 120);
	assert_int_equal(c.max_ttl, 900);
	assert_int_equal(c.services, SVC_HTTP01 | SVC_DNS);
	assert_int_equal(c.http01_mode, HTTP01_PORT);
	assert_int_equal(c.token_length, 32);
	assert_true(c.forward);
	assert_string_equal(c.state_dir, "/tmp/x");
}

static void test_bad(void **state)
{
	(void)state;
	assert_error("[gate]\nttl = 10\nbogus = 1\n", "3:", "unknown key 'bogus'");
	assert_error("[gate]\nttl = soon\n", "2:", "'ttl'");
	assert_error("[gate]\nttl = 0\n", "2:", "'ttl'");
	assert_error("[gate]\nttl = 99999999999\n", "2:", "'ttl'");
	assert_error("[gate]\nhttp01_mode = open\n", "2:", "'http01_mode'");
	assert_error("[gate]\nchallenges = http-01, smtp\n", "2:", "'challenges'");
	assert_error("[gate]\ntoken_length = 200\n", "2:", "'token_length'");
	assert_error("[gate]\nforward = maybe\n", "2:", "'forward'");
	assert_error("[gate]\nstate_dir = relative\n", "2:", "'state_dir'");
	assert_error("[gate]\ntrusted_sources = 198.51.100.7/24\n", "2:", "host bits");
	assert_error("[gate]\ntrusted_sources = 0.0.0.0/0\n", "2:", "'trusted_sources'");
	assert_error("[gate]\ntrusted_sources = example.com\n", "2:", "'trusted_sources'");
	assert_error("[gate]\ntrusted_sources = 2001:db8::/129\n", "2:", "'trusted_sources'");
	assert_error("[other]\nttl = 5\n", "2:", "unknown section '[other]'");
	assert_error("ttl = 5\n", "1:", "outside any section");
	assert_error("[gate]\nthis line has no equals sign\n", "2:", "syntax error");
	assert_error("[gate]\nttl = 60\nttl = 70\n", "3:", "given twice");
	assert_error("[gate]\nttl = 600\n  5\n", "3:", "given twice");
	assert_error("[gate]\nttl = 30 # half a minute\n", "2:", "starts with ';'");
	assert_error("[gate]\nttl = \x01\x02\n", "2:", "'?" "?'");
	{
		char text[400];

		snprintf(text, sizeof(text), "[gate]\n# %0250d\nhttp01_mode = port\n", 0);
		assert_error(text, "2:", "longer than 199");
	}
}

static void test_responder(void **state)
{
	struct conf c;
	struct err e;

	(void)state;
	assert_int_equal(conf_load(&c, "/nonexistent/acmegate.conf", false, &e), 0);
	assert_int_equal(c.responder_port, 8402);
	assert_string_equal(c.responder_user, "nobody");
	assert_string_equal(c.responder_webroot, "");
	assert_string_equal(c.responder_relay, "");
	assert_int_equal(load("[gate]\nhttp01_mode = responder\nresponder_port = 8080\n"
			      "responder_webroot = /var/www/html\nresponder_user = www-data\n", &c, &e), 0);
	assert_int_equal(c.http01_mode, HTTP01_RESPONDER);
	assert_int_equal(c.responder_port, 8080);
	assert_string_equal(c.responder_webroot, "/var/www/html");
	assert_string_equal(c.responder_user, "www-data");
	assert_int_equal(load("[gate]\nresponder_relay = http://[::1]:8080\n", &c, &e), 0);
	assert_string_equal(c.responder_relay, "http://[::1]:8080");
	assert_error("[gate]\nresponder_port = 80\n", "2", "other than 80");
	assert_error("[gate]\nresponder_port = 70000\n", "2", "responder_port");
	assert_error("[gate]\nresponder_webroot = www\n", "2", "an absolute path");
	assert_error("[gate]\nresponder_relay = https://127.0.0.1\n", "2", "http://HOST[:PORT]");
	assert_error("[gate]\nresponder_relay = http://127.0.0.1/app\n", "2", "no path");
	assert_error("[gate]\nresponder_user = Root User\n", "2", "a user name");
	assert_error("[gate]\nresponder_mode = x\n", "2", "unknown key 'responder_mode'");
	assert_error("[gate]\nhttp01_mode = proxy\n", "2", "'responder'");
	assert_int_equal(load("[gate]\nresponder_webroot = /srv\nresponder_relay = http://127.0.0.1\n",
			      &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "exclude each other"));
	assert_int_equal(load("[gate]\nhttp01_mode = responder\nresponder_user = root\n", &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "is root"));
	assert_int_equal(load("[gate]\nhttp01_mode = responder\nresponder_user = no-such-user-x\n",
			      &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "does not exist"));
}

static void test_not_a_file(void **state)
{
	struct conf c;
	struct err e = { .kind = ERR_KIND_NFT };

	(void)state;
	assert_int_equal(conf_load(&c, "/tmp", true, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

static void test_cross_field(void **state)
{
	struct conf c;
	struct err e;

	(void)state;
	assert_int_equal(load("[gate]\nttl = 900\nmax_ttl = 600\n", &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "max_ttl"));
}

static void test_names(void **state)
{
	enum http01_mode m;
	unsigned v;

	(void)state;
	assert_int_equal(svc_from_name("tls-alpn-01"), SVC_TLSALPN01);
	assert_int_equal(svc_from_name("dns-01"), SVC_DNS);
	assert_int_equal(svc_from_name("HTTP-01"), 0);
	assert_int_equal(mode_from_name("port", &m), 0);
	assert_int_equal(m, HTTP01_PORT);
	assert_true(parse_uint("-1", 0, 10, &v) < 0);
	assert_true(parse_uint("5x", 0, 10, &v) < 0);
	assert_true(parse_uint("", 0, 10, &v) < 0);
}

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* A throwaway self-signed certificate as PEM at path, as an agent's ca_file. */
static void write_cert(const char *file)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f = fopen(file, "w");

	assert_non_null(key);
	assert_non_null(f);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"agent", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_check_sections(void **state)
{
	struct conf c;
	struct err e;
	char text[1024];

	(void)state;
	write_cert("/tmp/acmegate-test-eu-1.pem");
	snprintf(text, sizeof(text), "[check]\nquorum = 3\ndomains = a.example.org, *.b.example.org\n"
			      "domains = c.example.org\non_check_failure = warn\nwebroot = /srv/www\n"
			      "on_inconclusive = proceed\n"
			      "[perspective eu-1]\nurl = https://192.0.2.1:8443\nkey_id = home\n"
			      "secret = " HEX64 "\nca_file = /tmp/acmegate-test-eu-1.pem\n"
			      "[perspective us-1]\nurl = https://agent.example.net\nkey_id = k\n"
			      "secret = " HEX64 "\n[perspective x]\nurl = https://x/\nkey_id = k\n"
			      "secret = " HEX64 "\n");
	assert_int_equal(load(text, &c, &e), 0);
	unlink("/tmp/acmegate-test-eu-1.pem");
	assert_int_equal(c.check.quorum, QUORUM_COUNT);
	assert_int_equal(c.check.quorum_count, 3);
	assert_int_equal(c.check.ndomains, 3);
	assert_string_equal(c.check.domains[1], "*.b.example.org");
	assert_int_equal(c.check.on_failure, ON_FAIL_WARN);
	assert_int_equal(c.check.on_inconclusive, ON_INC_PROCEED);
	assert_int_equal(c.npersp, 3);
	assert_string_equal(c.persp[0].name, "eu-1");
	assert_int_equal(c.persp[0].secret[1], 0x11);
	assert_string_equal(c.persp[1].url, "https://agent.example.net");
}

static void test_check_bad(void **state)
{
	FILE *f;

	(void)state;
	assert_error("[check]\nquorum = most\n", "2:", "'quorum'");
	assert_error("[check]\nquorum = 0\n", "2:", "'quorum'");
	assert_error("[check]\non_check_failure = ignore\n", "2:", "close, keep or warn");
	assert_error("[check]\ndomains = bad_name.example\n", "2:", "host names");
	assert_error("[check]\ntimeout = 1\n", "2:", "'timeout'");
	assert_error("[check]\ncolour = red\n", "2:", "unknown key 'colour' in [check]");
	assert_error("[perspective a/b]\nurl = https://x\n", "2:", "bad perspective name");
	assert_error("[perspective a]\nurl = http://x\n", "2:", "https://");
	/* the agent signs and serves the bare path /v1/check only */
	assert_error("[perspective a]\nurl = https://x/agent\n", "2:", "without a path, query");
	assert_error("[perspective a]\nurl = https://x/?k=1\n", "2:", "without a path, query");
	assert_error("[perspective a]\nurl = https://x:8443#f\n", "2:", "without a path, query");
	assert_error("[perspective a]\nurl = https://%78\n", "2:", "without a path, query");
	assert_error("[perspective a]\nurl = https:///\n", "2:", "without a path, query");
	assert_error("[perspective a]\nsecret = 1234\n", "2:", "64 hex digits");
	assert_error("[perspective a]\nsecret = " HEX64 "\nsecret_file = /x\n", "3:", "not both");
	assert_error("[perspective a]\nurl = https://x\n[perspective b]\nurl = https://y\n"
		     "[perspective a]\nkey_id = k\n", "5:", "[perspective a] is given twice (first on line 1)");
	/* twice in a row: the section is given twice, not its keys */
	assert_error("[perspective a]\nurl = https://x\n[perspective a]\nurl = https://y\n", "3:",
		     "[perspective a] is given twice");
	/* broken settings that only the first check would have found */
	assert_error("[perspective a]\nurl = https://[::1\n", "2:", "'url'");
	assert_error("[perspective a]\nurl = https://\n", "2:", "'url'");
	assert_error("[perspective a]\nca_file = /nonexistent.pem\n", "2:", "No such file");
	assert_error("[perspective a]\nca_file = /dev/zero\n", "2:", "not a regular file");
	f = fopen("/tmp/acmegate-test-notpem", "w");
	fputs("not a certificate\n", f);
	fclose(f);
	assert_error("[perspective a]\nca_file = /tmp/acmegate-test-notpem\n", "2:", "no PEM certificate");
	unlink("/tmp/acmegate-test-notpem");
	assert_error("[perspective a]\nsecret_file = /dev/zero\n", "2:", "not a readable regular file");
	assert_error("[check]\non_inconclusive = maybe\n", "2:", "refuse or proceed");
	assert_error("[perspective a]\nurl = https://x\nurl = https://y\n", "3:", "twice");
	assert_error("[perspective a]\nsecret_file = /nonexistent\n", "2:", "No such file");
}

static void test_check_cross_field(void **state)
{
	struct conf c;
	struct err e;

	(void)state;
	assert_int_equal(load("[perspective a]\nurl = https://x\n", &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "needs url, key_id and secret"));
	assert_int_equal(load("[check]\nquorum = 2\n[perspective a]\nurl = https://x\nkey_id = k\n"
			      "secret = " HEX64 "\n", &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "more than the 1 perspectives"));
}

static void test_secret_file(void **state)
{
	char sp[] = "/tmp/acmegate-test-secret.XXXXXX", text[256];
	struct conf c;
	struct err e;
	int fd = mkstemp(sp);

	(void)state;
	assert_true(write(fd, HEX64 "\n", 65) == 65);
	close(fd);
	snprintf(text, sizeof(text), "[perspective a]\nurl = https://x\nkey_id = k\nsecret_file = %s\n", sp);
	assert_int_equal(load(text, &c, &e), 0);
	assert_int_equal(c.persp[0].secret[31], 0xff);
	chmod(sp, 0644);
	assert_int_equal(load(text, &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "readable by others"));
	unlink(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_cross_field),
		cmocka_unit_test(test_not_a_file),
		cmocka_unit_test(test_responder),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_check_sections),
		cmocka_unit_test(test_check_bad),
		cmocka_unit_test(test_check_cross_field),
		cmocka_unit_test(test_secret_file),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
