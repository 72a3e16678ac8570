/* result.c: building the result object of docs/agent-protocol.md. No privilege. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "probe/probe_int.h"

/* A connect-level failure's class and Boulder's wording for it; NULL for another errno. */
const char *connect_class(int err, const char **what)
{
	switch (err) {
	case ETIMEDOUT: *what = "Timeout during connect (likely firewall problem)"; return "dropped";
	case ECONNREFUSED: *what = "Connection refused"; return "refused";
	case ECONNRESET: *what = "Connection reset by peer"; return "reset";
	case EHOSTUNREACH: *what = "No route to host"; return "unreachable";
	case ENETUNREACH: *what = "Network is unreachable"; return "unreachable";
	default: return NULL;
	}
}

void outcome_set(struct outcome *out, const char *cls, const char *fmt, ...)
{
	va_list ap;

	out->cls = cls;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
}

/* What a server sent, fit for a quoted detail: printable ASCII kept, the rest escaped, cut
 * short with "..." when it does not fit. */
void excerpt(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		char esc[8];
		int n = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
				? snprintf(esc, sizeof(esc), "%c", ch)
				: snprintf(esc, sizeof(esc), "\\x%02x", ch);

		if (o + (size_t)n + 4 >= outlen) {
			snprintf(out + o, outlen - o, "...");
			return;
		}
		memcpy(out + o, esc, (size_t)n);
		o += (size_t)n;
	}
	out[o] = '\0';
}

/* Sets key to val, taking the reference; NULL val (a failed constructor) is -ENOMEM. */
int result_add(json_t *obj, const char *key, json_t *val)
{
	return val && json_object_set_new(obj, key, val) == 0 ? 0 : -ENOMEM;
}

json_t *result_strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The CA-style verdict at the top of the result. */
int result_verdict(json_t *res, bool ok, const char *family, const char *cls, const char *detail)
{
	int r = result_add(res, "ok", json_boolean(ok));

	if (r == 0)
		r = result_add(res, "family", family ? json_string(family) : json_null());
	if (r == 0)
		r = result_add(res, "class", json_string(ok ? "ok" : cls ? cls : "internal"));
	if (r == 0)
		r = result_add(res, "detail", json_string(detail ? detail : ""));
	return r;
}
