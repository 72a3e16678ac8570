/* test_responder.c: the responder's judgement of request targets, tokens, token lists and the
 * relay URL (responder/target.c); no root needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "responder/responder.h"

#define TOKEN "Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0czE"   /* 43 characters */

static void test_target(void **state)
{
	const char *t;

	(void)state;
	t = responder_target_token("/.well-known/acme-challenge/" TOKEN, 43);
	assert_non_null(t);
	assert_string_equal(t, TOKEN);
	assert_null(responder_target_token("/.well-known/acme-challenge/" TOKEN, 42));
	assert_null(responder_target_token("/.well-known/acme-challenge/" TOKEN "x", 43));
	assert_null(responder_target_token("/.well-known/acme-challenge/" TOKEN "?a=b", 43));
	assert_null(responder_target_token("/.well-known/acme-challenge/" TOKEN "/", 43));
	assert_null(responder_target_token("http://example.test/.well-known/acme-challenge/" TOKEN, 43));
	assert_null(responder_target_token("//.well-known/acme-challenge/" TOKEN, 43));
	assert_null(responder_target_token("/.well-known/acme-challenge/../../etc/passwd-abcdefghijklmnop", 43));
	assert_null(responder_target_token("/.well-known/acme-challenge/%2e%2e/index.html-abcdefghijklm", 43));
	assert_null(responder_target_token("/.well-known/acme-challenge/Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0.hh", 43));
	assert_null(responder_target_token("/.well-known/acme-challenge/Zm9vYmFyLXRva2VuLWZvci1hY21lZ2F0ZS10ZXN0+/=", 43));
	assert_null(responder_target_token("*", 43));
	assert_null(responder_target_token("", 43));
	assert_null(responder_target_token(NULL, 43));
}

static void test_token_list(void **state)
{
	const char list[] = "abc\r\n" TOKEN "\nzzz";

	(void)state;
	assert_true(responder_token_listed(list, strlen(list), TOKEN));
	assert_true(responder_token_listed(list, strlen(list), "abc"));
	assert_true(responder_token_listed(list, strlen(list), "zzz"));
	assert_false(responder_token_listed(list, strlen(list), "ab"));
	assert_false(responder_token_listed(list, strlen(list), "zz"));
	assert_false(responder_token_listed("", 0, TOKEN));
	assert_false(responder_token_listed(TOKEN "x\n", strlen(TOKEN) + 2, TOKEN));
}

static void test_relay_and_host(void **state)
{
	(void)state;
	assert_true(responder_relay_valid("http://127.0.0.1:80"));
	assert_true(responder_relay_valid("http://127.0.0.1/"));
	assert_true(responder_relay_valid("http://[::1]:8080"));
	assert_false(responder_relay_valid("https://127.0.0.1"));
	assert_false(responder_relay_valid("http://127.0.0.1/app"));
	assert_false(responder_relay_valid("http://user@127.0.0.1"));
	assert_false(responder_relay_valid("http://"));
	assert_true(responder_host_valid("www.example.test"));
	assert_true(responder_host_valid("[2001:db8::1]:80"));
	assert_false(responder_host_valid("www.example.test\r\nX: y"));
	assert_false(responder_host_valid("a b"));
	assert_false(responder_host_valid(""));
	assert_false(responder_host_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_token_list),
		cmocka_unit_test(test_relay_and_host),
	};

	return cmocka_run_group_tests_name("responder", tests, NULL, NULL);
}
