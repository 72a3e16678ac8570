/* log.c: one line per event on stderr, prefixed with the program name; no privilege needed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "log.h"

static bool log_quiet;

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code < 0 ? code : -code;
}

void log_set_quiet(bool quiet)
{
	log_quiet = quiet;
}

/* Results go to stdout, problems to stderr: hook runners (certbot) show any stderr output
 * as a warning, even when the hook succeeded. */
static void log_line(FILE *f, const char *level, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(f, "acmegate: %s", level);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_line(stdout, "", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(stderr, "warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(stderr, "error: ", fmt, ap);
	va_end(ap);
}
