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
	assert_error("[other]\nttl = 5\n", "2:", "outside section [gate]");
	assert_error("ttl = 5\n", "1:", "outside section [gate]");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_cross_field),
		cmocka_unit_test(test_not_a_file),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
