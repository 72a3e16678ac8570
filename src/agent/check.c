/* check.c: the bodies of GET /v1/info and POST /v1/check: request JSON in, probe_run, result
 * JSON out; no privilege (after privdrop.c); called from http.c's connection threads. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"

char *agent_error_body(const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	json_t *o;
	char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = json_pack("{s:s}", "error", msg);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

unsigned check_info(const struct agent *a, char **ret_body)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "perspective", a->conf.perspective,
			      "rir", a->conf.rir, "version", AGENT_VERSION);

	*ret_body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return 200;
}

/* An optional string field; -EINVAL when present as anything but a string. */
static int opt_string(json_t *o, const char *key, const char **ret, char *why, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return snprintf(why, len, "field '%s' must be a string", key), -EINVAL;
	*ret = json_string_value(v);
	return 0;
}

static const char *const string_fields[] = { "name", "token", "key_authorization", "value", "ca" };

/* The request's fields into r; -EINVAL (400) or -EACCES (403, a port not the type's) with why. */
static int parse_request(json_t *o, struct probe_req *r, char *why, size_t len)
{
	const char *type = NULL, *f[5];
	json_t *port = json_object_get(o, "port");

	if (!json_is_object(o))
		return snprintf(why, len, "the body must be a JSON object"), -EINVAL;
	if (opt_string(o, "type", &type, why, len) < 0)
		return -EINVAL;
	if (!type || probe_type_from_name(type, &r->type) < 0)
		return snprintf(why, len, "field 'type' must be http-01, tls-alpn-01, dns-01 or caa"),
		       -EINVAL;
	for (size_t i = 0; i < 5; i++)
		if (opt_string(o, string_fields[i], &f[i], why, len) < 0)
			return -EINVAL;
	if (!f[0] || !f[0][0])
		return snprintf(why, len, "field 'name' is required"), -EINVAL;
	*r = (struct probe_req){ .type = r->type, .name = f[0], .token = f[1],
				 .key_authorization = f[2], .value = f[3], .ca = f[4] };
	if (port && !json_is_null(port) && !json_is_integer(port))
		return snprintf(why, len, "field 'port' must be a number"), -EINVAL;
	if (port && json_is_integer(port) && json_integer_value(port) != probe_type_port(r->type))
		return snprintf(why, len, "port %lld is not allowed for %s; only %d",
				(long long)json_integer_value(port), type, probe_type_port(r->type)),
		       -EACCES;
	return 0;
}

/* The result with "perspective" and "rir" first. */
static char *result_body(const struct agent *a, json_t *result, struct check_log *log)
{
	json_t *o = json_pack("{s:s, s:s}", "perspective", a->conf.perspective, "rir", a->conf.rir);
	const char *cls = json_string_value(json_object_get(result, "class"));
	char *s = NULL;

	snprintf(log->class, sizeof(log->class), "%s", cls ? cls : "?");
	if (o && json_object_update(o, result) == 0)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static unsigned status_of(int r)
{
	return r == -EINVAL ? 400 : r == -EACCES ? 403 : 500;
}

static unsigned run_probe(struct agent *a, const struct probe_req *req, char **ret_body,
			  struct check_log *log)
{
	struct err e = { 0 };
	json_t *result = NULL;
	int r;

	if (!limit_enter(a)) {
		*ret_body = agent_error_body("%u checks are running already; try again later",
					     a->conf.max_concurrent);
		return 503;
	}
	r = probe_run(&a->opts, req, &result, &e);
	limit_leave(a);
	if (r < 0) {
		*ret_body = agent_error_body("%s", e.msg[0] ? e.msg : strerror(-r));
		return status_of(r);
	}
	*ret_body = result_body(a, result, log);
	json_decref(result);
	return *ret_body ? 200 : 500;
}

unsigned check_run(struct agent *a, const char *body, size_t len, char **ret_body,
		   struct check_log *log)
{
	struct probe_req req = { 0 };
	json_error_t je;
	char why[256];
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	unsigned status;
	int r;

	if (!o) {
		*ret_body = agent_error_body("malformed JSON: %s", je.text);
		return 400;
	}
	r = parse_request(o, &req, why, sizeof(why));
	if (r == 0 || req.name) {
		snprintf(log->type, sizeof(log->type), "%s", probe_type_name(req.type));
		snprintf(log->name, sizeof(log->name), "%s", req.name ? req.name : "");
	}
	if (r < 0) {
		*ret_body = agent_error_body("%s", why);
		status = status_of(r);
	} else {
		status = run_probe(a, &req, ret_body, log);
	}
	json_decref(o);
	return status;
}
