/* log.h: error context filled by library code, printed once at the command boundary.
 * log_info writes to stdout; log_warn and log_error to stderr. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#define ERR_MSG_MAX 512

/* Library code returns -errno and says why here; callers print it once. */
/* Where a failure happened, when the errno alone cannot tell (EPERM from netlink is a missing
 * capability; from the state directory it is an immutable or foreign file). */
enum err_kind { ERR_KIND_NFT = 0, ERR_KIND_STATE = 1 };

struct err {
	char msg[ERR_MSG_MAX];
	enum err_kind kind;
};

/* Records a message (printf-style) and returns -abs(code), so `return err_set(e, -EINVAL, …)`. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void log_set_quiet(bool quiet);
/* Writes s with control characters escaped (\n, \t, \xHH); for text from outside. */
void log_escaped(FILE *f, const char *s);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
