/* test_rules.c: the gate's rule builders produce exactly the bytecode nft produces for the
 * syntax in each fixture's first line (tests/fixtures/gen.sh made them); no root needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnftnl/udata.h>
#include "rules.h"
#include "rules_nat.h"

#define DEADLINE ((time_t)1800000000)  /* 2027-01-15 08:00:00 UTC, as in gen.sh */

/* Keeps only the expression lines ("  [ … ]"), one per line. */
static void expr_lines(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (const char *p = in; *p && n + 1 < len;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);

		if (l > 3 && !strncmp(p, "  [", 3) && n + l + 2 < len) {
			memcpy(out + n, p, l);
			n += l;
			out[n++] = '\n';
		}
		p += l + (eol ? 1 : 0);
	}
	out[n] = '\0';
}

static void read_fixture(const char *name, char *out, size_t len)
{
	char path[512], *buf = calloc(1, 1 << 16);
	const char *dir = getenv("FIXTURE_DIR");
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.payload", dir ? dir : "tests/fixtures", name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	buf[n] = '\0';
	expr_lines(buf, out, len);
	free(buf);
}

static void assert_golden(struct nftnl_rule *r, const char *fixture)
{
	char *got = calloc(1, 1 << 16), *raw = calloc(1, 1 << 16), *want = calloc(1, 1 << 16);

	assert_non_null(r);
	nftnl_rule_snprintf(raw, 1 << 16, r, NFTNL_OUTPUT_DEFAULT, 0);
	expr_lines(raw, got, 1 << 16);
	read_fixture(fixture, want, 1 << 16);
	assert_true(want[0] != '\0');
	assert_string_equal(got, want);
	free(got);
	free(raw);
	free(want);
	nftnl_rule_free(r);
}

static void test_opener_inet(void **state)
{
	const struct opening o = { IPPROTO_TCP, 80 };

	(void)state;
	assert_golden(rule_opener(NFPROTO_INET, "filter", "input", &o, DEADLINE, "acmegate: x",
				  OPEN_ORIGINAL_PORT | OPEN_SKIP_INVALID), "opener-input-tcp80");
}

static void test_opener_netdev(void **state)
{
	const struct opening o = { IPPROTO_UDP, 53 };

	(void)state;
	assert_golden(rule_opener(NFPROTO_NETDEV, "geo", "ingress", &o, DEADLINE, "acmegate: x",
				  OPEN_LOCAL), "opener-netdev-udp53");
}

static void test_opener_prerouting(void **state)
{
	const struct opening o = { IPPROTO_TCP, 443 };

	(void)state;
	assert_golden(rule_opener(NFPROTO_INET, "filter", "pre", &o, DEADLINE, "acmegate: x",
				  OPEN_LOCAL | OPEN_SKIP_INVALID), "opener-prerouting-tcp443");
}

static void test_opener_forward(void **state)
{
	const struct opening o = { IPPROTO_TCP, 80 };

	(void)state;
	assert_golden(rule_opener(NFPROTO_INET, "filter", "forwarding", &o, DEADLINE, "acmegate: x",
				  OPEN_ORIGINAL_PORT | OPEN_DNAT | OPEN_SKIP_INVALID),
		      "opener-forward-tcp80");
}

static void test_path_accept(void **state)
{
	(void)state;
	assert_golden(rule_path_accept(NFPROTO_IPV4, DEADLINE, 43, false, "acmegate: x"), "path-accept-43-v4");
	assert_golden(rule_path_accept(NFPROTO_IPV6, DEADLINE, 43, false, "acmegate: x"), "path-accept-43-v6");
}

static void test_path_accept_exact(void **state)
{
	(void)state;
	assert_golden(rule_path_accept(NFPROTO_IPV4, DEADLINE, 43, true, "acmegate: x"),
		      "path-accept-exact-43-v4");
	assert_golden(rule_path_accept(NFPROTO_IPV6, DEADLINE, 43, true, "acmegate: x"),
		      "path-accept-exact-43-v6");
}

static void test_tally(void **state)
{
	const struct opening http = { IPPROTO_TCP, 80 }, dns = { IPPROTO_UDP, 53 };

	(void)state;
	assert_golden(rule_tally(&http, DEADLINE, "acmegate: x"), "tally-tcp80");
	assert_golden(rule_tally(&dns, DEADLINE, "acmegate: x"), "tally-udp53");
}

/* Only tokens of the set's length become elements. */
static void test_exact_token_set(void **state)
{
	const char *tokens[] = { "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", "short" };
	struct nftnl_set *s = gate_token_set(43, tokens, 2);
	struct nftnl_set_elems_iter *it;
	int n = 0;

	(void)state;
	assert_non_null(s);
	assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), 43);
	it = nftnl_set_elems_iter_create(s);
	while (nftnl_set_elems_iter_next(it))
		n++;
	nftnl_set_elems_iter_destroy(it);
	assert_int_equal(n, 1);
	nftnl_set_free(s);
}

static void test_path_expect(void **state)
{
	(void)state;
	assert_golden(rule_path_expect(NFPROTO_IPV4, "acmegate: x"), "path-expect-v4");
	assert_golden(rule_path_expect(NFPROTO_IPV6, "acmegate: x"), "path-expect-v6");
}

static void test_path_reset(void **state)
{
	(void)state;
	assert_golden(rule_path_reset(DEADLINE, "acmegate: x"), "path-reset");
}

static void assert_trusted(const char *prefix, const char *fixture)
{
	struct cidr c;

	assert_int_equal(parse_cidr(prefix, &c), 0);
	assert_golden(rule_path_trusted(&c, "acmegate: trusted source"), fixture);
}

static void test_trusted(void **state)
{
	(void)state;
	assert_trusted("198.51.100.0/24", "trusted-v4-24");
	assert_trusted("198.51.100.0/23", "trusted-v4-23");
	assert_trusted("2001:db8:100::/47", "trusted-v6-47");
}

static void test_responder_redirect(void **state)
{
	(void)state;
	assert_golden(rule_responder_redirect(DEADLINE, 8402, "acmegate: x"), "redirect-8402");
}

static void assert_responder_trusted(const char *prefix, const char *fixture)
{
	struct cidr c;

	assert_int_equal(parse_cidr(prefix, &c), 0);
	assert_golden(rule_responder_trusted(&c, "acmegate: trusted source"), fixture);
}

static void test_responder_trusted(void **state)
{
	(void)state;
	assert_responder_trusted("198.51.100.0/24", "redirect-trusted-v4-24");
	assert_responder_trusted("2001:db8:100::/47", "redirect-trusted-v6-47");
}

static void test_responder_chain(void **state)
{
	struct nftnl_chain *c = responder_chain();

	(void)state;
	assert_non_null(c);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "nat");
	assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), -101);
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_PRE_ROUTING);
	nftnl_chain_free(c);
}

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
		snprintf(data, 128, "%s", (const char *)nftnl_udata_get(attr));
	return 0;
}

static void test_comment(void **state)
{
	const struct opening o = { IPPROTO_TCP, 443 };
	char comment[128], got[128] = "";
	struct nftnl_rule *r;
	const void *ud;
	uint32_t len;

	(void)state;
	gate_comment(comment, sizeof(comment), "tls-alpn-01", DEADLINE);
	assert_string_equal(comment, "acmegate: tls-alpn-01 until 2027-01-15T08:00:00Z");
	r = rule_opener(NFPROTO_IPV6, "filter", "INPUT", &o, DEADLINE, comment, 0);
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
	assert_non_null(ud);
	nftnl_udata_parse(ud, len, comment_cb, got);
	assert_string_equal(got, comment);
	nftnl_rule_free(r);
}

static void test_comment_is_ours(void **state)
{
	(void)state;
	assert_true(gate_comment_is_ours("acmegate: http-01 until 2027-01-15T08:00:00Z"));
	assert_true(gate_comment_is_ours("acmegate: dns until 2027-01-15T08:00:00Z"));
	assert_true(gate_comment_is_ours("acmegate: http-01 path gate until 2027-01-15T08:00:00Z"));
	assert_true(gate_comment_is_ours("acmegate: trusted source"));
	assert_true(gate_comment_is_ours("acmegate: http-01 responder until 2027-01-15T08:00:00Z"));
	assert_false(gate_comment_is_ours("acmegate: keep this host out"));
	assert_false(gate_comment_is_ours("acmegate: http-01 until tomorrow"));
	assert_false(gate_comment_is_ours("acmegate: http-01 until 2027-01-15T08:00:00Z and more"));
	assert_false(gate_comment_is_ours("my acmegate: http-01 until 2027-01-15T08:00:00Z"));
	assert_false(gate_comment_is_ours(""));
}

static void test_token_set(void **state)
{
	struct nftnl_set *s = gate_set();
	struct nftnl_set_elems_iter *it;
	int n = 0;

	(void)state;
	assert_non_null(s);
	it = nftnl_set_elems_iter_create(s);
	while (nftnl_set_elems_iter_next(it))
		n++;
	nftnl_set_elems_iter_destroy(it);
	assert_int_equal(n, 64);  /* A-Z a-z 0-9 - _ : nothing else, no '.', '%' or '/' */
	nftnl_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opener_inet),
		cmocka_unit_test(test_opener_netdev),
		cmocka_unit_test(test_opener_prerouting),
		cmocka_unit_test(test_opener_forward),
		cmocka_unit_test(test_path_accept),
		cmocka_unit_test(test_path_accept_exact),
		cmocka_unit_test(test_tally),
		cmocka_unit_test(test_exact_token_set),
		cmocka_unit_test(test_path_reset),
		cmocka_unit_test(test_path_expect),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_responder_redirect),
		cmocka_unit_test(test_responder_trusted),
		cmocka_unit_test(test_responder_chain),
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_comment_is_ours),
		cmocka_unit_test(test_token_set),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
