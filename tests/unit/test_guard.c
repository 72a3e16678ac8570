/* test_guard.c: the probes' destination guard: every special-use range refused with a message
 * naming address and range, public addresses allowed, allow lists honoured, mapped IPv4 judged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "probe/probe.h"

static int check(const struct guard *g, const char *addr, struct err *e)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("bad test address %s", addr);
	return guard_check(g, (struct sockaddr *)&ss, e);
}

static void assert_refused(const struct guard *g, const char *addr, const char *range)
{
	struct err e;

	assert_int_equal(check(g, addr, &e), -EACCES);
	if (!strstr(e.msg, addr) || !strstr(e.msg, range) || !strstr(e.msg, "allow_destination"))
		fail_msg("%s: message '%s' lacks the address or '%s'", addr, e.msg, range);
}

static void assert_allowed(const struct guard *g, const char *addr)
{
	struct err e;

	if (check(g, addr, &e) != 0)
		fail_msg("%s refused: %s", addr, e.msg);
}

static const char *const refused4[][2] = {
	{ "0.1.2.3", "0.0.0.0/8" }, { "10.1.2.3", "10.0.0.0/8" }, { "100.64.0.1", "100.64.0.0/10" },
	{ "100.127.255.255", "100.64.0.0/10" }, { "127.0.0.1", "127.0.0.0/8" },
	{ "169.254.169.254", "169.254.0.0/16" }, { "172.16.0.1", "172.16.0.0/12" },
	{ "172.31.255.255", "172.16.0.0/12" }, { "192.0.0.9", "192.0.0.0/24" },
	{ "192.0.2.10", "192.0.2.0/24" }, { "192.88.99.1", "192.88.99.0/24" },
	{ "192.168.1.5", "192.168.0.0/16" }, { "198.18.0.1", "198.18.0.0/15" },
	{ "198.19.255.1", "198.18.0.0/15" }, { "198.51.100.7", "198.51.100.0/24" },
	{ "203.0.113.5", "203.0.113.0/24" }, { "224.0.0.1", "224.0.0.0/4" },
	{ "239.255.255.250", "224.0.0.0/4" }, { "240.0.0.1", "240.0.0.0/4" },
	{ "255.255.255.255", "240.0.0.0/4" },
};

static const char *const refused6[][2] = {
	{ "::", "::/128" }, { "::1", "::1/128" }, { "64:ff9b::c000:20a", "64:ff9b::/96" },
	{ "100::1", "100::/64" }, { "2001::1", "2001::/23" }, { "2001:1ff::1", "2001::/23" },
	{ "2001:db8:10::10", "2001:db8::/32" }, { "2002:c000:20a::1", "2002::/16" },
	{ "fc00::1", "fc00::/7" }, { "fd12:3456::1", "fc00::/7" }, { "fe80::1", "fe80::/10" },
	{ "febf::1", "fe80::/10" }, { "ff02::1", "ff00::/8" },
	{ "::ffff:192.168.1.5", "192.168.0.0/16" }, { "::ffff:127.0.0.1", "127.0.0.0/8" },
};

static void test_special_refused(void **state)
{
	struct guard g = { .nallow = 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(refused4) / sizeof(*refused4); i++)
		assert_refused(&g, refused4[i][0], refused4[i][1]);
	for (size_t i = 0; i < sizeof(refused6) / sizeof(*refused6); i++)
		assert_refused(&g, refused6[i][0], refused6[i][1]);
}

static void test_public_allowed(void **state)
{
	static const char *const ok[] = {
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
		"126.255.255.255", "128.0.0.1", "169.253.0.1", "172.15.255.255", "172.32.0.0",
		"192.0.1.255", "192.0.3.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
		"198.20.0.0", "203.0.114.1", "223.255.255.255",
		"2606:4700::1111", "2001:200::1", "2001:db9::1", "2003::1", "fe00::1", "fec0::1",
		"::2", "::ffff:8.8.8.8", "64:ff9c::1", "100:0:0:1::1",
	};
	struct guard g = { .nallow = 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		assert_allowed(&g, ok[i]);
}

static void test_allow_list(void **state)
{
	struct guard g = { .nallow = 3 };

	(void)state;
	assert_int_equal(parse_cidr("192.0.2.0/24", &g.allow[0]), 0);
	assert_int_equal(parse_cidr("2001:db8:10::/48", &g.allow[1]), 0);
	assert_int_equal(parse_cidr("10.1.0.0/17", &g.allow[2]), 0);
	assert_allowed(&g, "192.0.2.10");
	assert_allowed(&g, "::ffff:192.0.2.10");
	assert_allowed(&g, "2001:db8:10::10");
	assert_allowed(&g, "10.1.127.255");
	assert_refused(&g, "10.1.128.0", "10.0.0.0/8");
	assert_refused(&g, "2001:db8:11::10", "2001:db8::/32");
	assert_refused(&g, "198.51.100.7", "198.51.100.0/24");
	assert_refused(&g, "127.0.0.1", "127.0.0.0/8");
}

static void test_message_and_null_guard(void **state)
{
	struct guard g = { .nallow = 0 };
	struct err e;

	(void)state;
	assert_int_equal(check(&g, "192.168.1.5", &e), -EACCES);
	assert_string_equal(e.msg, "192.168.1.5 is in 192.168.0.0/16 (private-use); the agent does "
			    "not connect there unless allow_destination lists it");
	assert_int_equal(check(NULL, "127.0.0.1", &e), 0);
	assert_int_equal(check(NULL, "::1", &e), 0);
}

static void test_other_family_refused(void **state)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct err e;

	(void)state;
	assert_int_equal(guard_check(NULL, &sa, &e), -EACCES);
}

/* guard_refused's prefixes, joined by spaces. */
struct joined {
	char text[4096];
	int calls, stop_at;
};

static int join(void *arg, const char *prefix)
{
	struct joined *j = arg;
	size_t n = strlen(j->text);

	if (++j->calls == j->stop_at)
		return -E2BIG;
	snprintf(j->text + n, sizeof(j->text) - n, "%s%s", n ? " " : "", prefix);
	return 0;
}

static void assert_has(const char *text, const char *word, bool want)
{
	char padded[128];
	char all[4200];

	snprintf(padded, sizeof(padded), " %s ", word);
	snprintf(all, sizeof(all), " %s ", text);
	if ((strstr(all, padded) != NULL) != want)
		fail_msg("'%s' %s in: %s", word, want ? "missing" : "present", text);
}

/* What the resolver may not ask: every special-use prefix and its IPv4-mapped twin, less the
 * allow list, which may take a whole prefix or a piece (the rest is then listed in halves). */
static void test_refused_prefixes(void **state)
{
	struct guard g = { .nallow = 3 };
	struct joined j = { .text = "" };

	(void)state;
	assert_int_equal(parse_cidr("192.0.2.0/24", &g.allow[0]), 0);
	assert_int_equal(parse_cidr("10.1.0.0/16", &g.allow[1]), 0);
	assert_int_equal(parse_cidr("2001:db8::/32", &g.allow[2]), 0);
	assert_int_equal(guard_refused(&g, join, &j), 0);
	assert_has(j.text, "127.0.0.0/8", true);
	assert_has(j.text, "::ffff:127.0.0.0/104", true);
	assert_has(j.text, "::1/128", true);
	assert_has(j.text, "fc00::/7", true);
	assert_has(j.text, "198.51.100.0/24", true);
	assert_has(j.text, "192.0.2.0/24", false);
	assert_has(j.text, "2001:db8::/32", false);
	/* 10.0.0.0/8 less 10.1.0.0/16 */
	assert_has(j.text, "10.0.0.0/8", false);
	assert_has(j.text, "10.1.0.0/16", false);
	assert_has(j.text, "10.0.0.0/16", true);
	assert_has(j.text, "10.2.0.0/15", true);
	assert_has(j.text, "10.128.0.0/9", true);
	assert_has(j.text, "::ffff:10.128.0.0/105", true);
	assert_true(guard_opens(&g, "10.0.0.0/8"));
	assert_false(guard_opens(&g, "127.0.0.0/8"));
	assert_false(guard_opens(&g, "::1/128"));

	/* nothing allowed: the tables as they are; fn's error stops the walk */
	g.nallow = 0;
	memset(&j, 0, sizeof(j));
	assert_int_equal(guard_refused(&g, join, &j), 0);
	assert_has(j.text, "10.0.0.0/8", true);
	assert_has(j.text, "192.0.2.0/24", true);
	assert_has(j.text, "::ffff:192.0.2.0/120", true);
	assert_int_equal(j.calls, 15 * 2 + 10);
	memset(&j, 0, sizeof(j));
	j.stop_at = 3;
	assert_int_equal(guard_refused(&g, join, &j), -E2BIG);
	assert_int_equal(j.calls, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_special_refused),
		cmocka_unit_test(test_public_allowed),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_message_and_null_guard),
		cmocka_unit_test(test_other_family_refused),
		cmocka_unit_test(test_refused_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
