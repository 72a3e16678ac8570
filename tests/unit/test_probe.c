/* test_probe.c: probe requests refused before any network traffic (names, tokens, missing
 * fields, refused IP literals), type names and ports, and TXT rdata decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "probe/probe_int.h"

static const struct guard no_allow = { .nallow = 0 };
static const struct probe_opts opts = { .guard = &no_allow, .dial_timeout_ms = 100 };

static void assert_refused(struct probe_req r, int code, const char *what)
{
	struct err e = { .msg = "" };
	json_t *res = (json_t *)1;

	assert_int_equal(probe_run(&opts, &r, &res, &e), code);
	assert_null(res);
	if (!strstr(e.msg, what))
		fail_msg("message '%s' lacks '%s'", e.msg, what);
}

static void test_bad_requests(void **state)
{
	const char *ka = "tok.thumb";

	(void)state;
	assert_refused((struct probe_req){ PROBE_HTTP01, NULL, "tok", ka, NULL, NULL }, -EINVAL, "name");
	assert_refused((struct probe_req){ PROBE_HTTP01, "bad_name.test", "tok", ka, NULL, NULL }, -EINVAL,
		       "neither a DNS name");
	assert_refused((struct probe_req){ PROBE_HTTP01, "*.site.test", "tok", ka, NULL, NULL }, -EINVAL,
		       "wildcard");
	assert_refused((struct probe_req){ PROBE_HTTP01, "www.site.test", NULL, ka, NULL, NULL }, -EINVAL, "token");
	assert_refused((struct probe_req){ PROBE_HTTP01, "www.site.test", "a/b", ka, NULL, NULL }, -EINVAL, "token");
	assert_refused((struct probe_req){ PROBE_HTTP01, "www.site.test", "tok", NULL, NULL, NULL }, -EINVAL,
		       "key authorization");
	assert_refused((struct probe_req){ PROBE_CAA, "www.site.test", NULL, NULL, NULL, NULL }, -EINVAL, "issuer");
	assert_refused((struct probe_req){ PROBE_DNS01, "192.0.2.1", NULL, NULL, NULL, NULL }, -EINVAL,
		       "not an address");
	assert_refused((struct probe_req){ PROBE_DNS01, "*.*.site.test", NULL, NULL, NULL, NULL }, -EINVAL,
		       "neither a DNS name");
}

static void test_refused_literals(void **state)
{
	(void)state;
	assert_refused((struct probe_req){ PROBE_HTTP01, "127.0.0.1", "tok", "k", NULL, NULL }, -EACCES,
		       "127.0.0.0/8 (loopback)");
	assert_refused((struct probe_req){ PROBE_TLSALPN01, "::1", NULL, NULL, NULL, NULL }, -EACCES, "::1/128");
	assert_refused((struct probe_req){ PROBE_TLSALPN01, "[fe80::1]", NULL, NULL, NULL, NULL }, -EACCES,
		       "fe80::/10");
}

static void test_types(void **state)
{
	enum probe_type t;

	(void)state;
	assert_int_equal(probe_type_from_name("tls-alpn-01", &t), 0);
	assert_int_equal(t, PROBE_TLSALPN01);
	assert_int_equal(probe_type_from_name("http-02", &t), -EINVAL);
	assert_string_equal(probe_type_name(PROBE_CAA), "caa");
	assert_int_equal(probe_type_port(PROBE_HTTP01), 80);
	assert_int_equal(probe_type_port(PROBE_TLSALPN01), 443);
	assert_int_equal(probe_type_port(PROBE_DNS01), 53);
}

static void test_txt_and_names(void **state)
{
	static const unsigned char rd[] = { 3, 'a', 'b', 'c', 2, 'd', 0x01, 0 };
	static const unsigned char msg[] = { 3, 'w', 'w', 'w', 4, 's', 'i', 't', 'e', 0, 0xc0, 4 };
	char *s, name[64];
	size_t off = 10;

	(void)state;
	assert_int_equal(txt_rdata(rd, sizeof(rd), &s), 0);
	assert_string_equal(s, "abcd?");
	free(s);
	assert_int_equal(dnswire_name(msg, sizeof(msg), &off, name, sizeof(name)), 0);
	assert_string_equal(name, "site");
	assert_int_equal(off, 12);
	off = 0;
	assert_int_equal(dnswire_name(msg, sizeof(msg), &off, name, sizeof(name)), 0);
	assert_string_equal(name, "www.site");
	off = 0;
	assert_int_equal(dnswire_name(msg, 5, &off, name, sizeof(name)), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_refused_literals),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_txt_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
