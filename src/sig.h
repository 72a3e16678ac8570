/* sig.h: the HMAC-SHA256 signatures of the agent protocol (docs/agent-protocol.md), for both the
 * agent (verifies requests, signs replies) and acmegate check (the other way round). No I/O. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIG_SECRET_LEN 32
#define SIG_HEX_LEN 64      /* signature as lowercase hex, without the NUL */
#define SIG_NONCE_HEX_LEN 32

/* Parses 64 hex digits into a secret; -EINVAL otherwise. */
int sig_parse_secret(const char *hex, uint8_t ret_secret[SIG_SECRET_LEN]);
/* 16 random bytes as 32 lowercase hex digits. */
int sig_new_nonce(char ret_nonce[SIG_NONCE_HEX_LEN + 1]);
void sig_request(const uint8_t secret[SIG_SECRET_LEN], const char *method, const char *path,
		 const char *time, const char *nonce, const void *body, size_t len,
		 char ret_hex[SIG_HEX_LEN + 1]);
void sig_reply(const uint8_t secret[SIG_SECRET_LEN], unsigned status, const char *nonce,
	       const void *body, size_t len, char ret_hex[SIG_HEX_LEN + 1]);
/* Constant-time comparison of two hex signatures; false when either is not SIG_HEX_LEN long. */
bool sig_equal(const char *a, const char *b);
