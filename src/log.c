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

void log_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/* Results go to stdout, problems to stderr: hook runners (certbot) show any stderr output
 * as a warning, even when the hook succeeded. One event, one line: control characters in
 * what we were given (an environment variable, an argument) are escaped, so they can neither
 * forge a line nor drive the terminal. */
static void log_line(FILE *f, const char *level, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fflush(stdout);
	fprintf(f, "acmegate: %s", level);
	log_escaped(f, msg);
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
