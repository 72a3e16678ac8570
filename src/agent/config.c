/* config.c: agent.conf, read strictly through inih before privileges are dropped (secret files
 * are root's); called by main.c for the daemon and --check-config. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent/agent.h"

#define LINE_MAX_INI 199          /* inih splits longer lines and reads the rest as a new one */

struct parse_ctx {
	struct agent_conf *conf;
	char msg[400];
	bool failed;
};

static const char *const agent_keys[] = {
	"perspective", "rir", "listen", "certificate", "private_key", "user", "root_hints",
	"trust_anchor", "allow_destination", "max_concurrent", "rate_per_minute", "dial_timeout_ms",
	"max_connections", "max_connections_per_address",
};
static const char *const client_keys[] = { "secret", "secret_file" };
static const char *const rirs[] = { "ARIN", "RIPE", "APNIC", "LACNIC", "AFRINIC" };

/* User text in a message: control bytes and non-ASCII become '?', long text is cut. */
static const char *printable(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; in[i] && i + 1 < len; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
	return out;
}

static int fail(struct parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse_ctx *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	p->failed = true;
	return 0;
}

static int bad(struct parse_ctx *p, const char *key, const char *value, const char *want)
{
	char shown[64];

	return fail(p, "bad value '%s' for key '%s': expected %s",
		    printable(value, shown, sizeof(shown)), key, want);
}

static bool chars_ok(const char *s, const char *set, size_t max)
{
	size_t n = strspn(s, set);

	return n > 0 && n <= max && s[n] == '\0';
}

/* Each known key once (allow_destination may repeat); no '#' comment behind a value. */
static int key_once(struct parse_ctx *p, const char *section, const char *const *keys, size_t n,
		    unsigned *seen, const char *key, const char *value)
{
	const char *hash = strchr(value, '#');
	char shown[64];

	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, keys[i]))
			continue;
		if ((*seen & (1u << i)) && strcmp(key, "allow_destination"))
			return fail(p, "key '%s' is given twice in [%s] (an indented line continues "
				    "the previous one); give it once", key, section);
		*seen |= 1u << i;
		if (hash && hash > value && (hash[-1] == ' ' || hash[-1] == '\t'))
			return fail(p, "'#' after the value of '%s': a comment after a value starts "
				    "with ';'", key);
		return 1;
	}
	return fail(p, "unknown key '%s' in [%s]; see acmegate-agent(8)",
		    printable(key, shown, sizeof(shown)), section);
}

static int set_path(struct parse_ctx *p, char *dst, size_t len, const char *key, const char *v)
{
	if (v[0] != '/' || strlen(v) >= len)
		return bad(p, key, v, "an absolute path");
	snprintf(dst, len, "%s", v);
	return 1;
}

static int set_allow(struct parse_ctx *p, const char *value)
{
	struct guard *g = &p->conf->guard;
	char buf[LINE_MAX_INI + 1], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", value);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (g->nallow == GUARD_ALLOW_MAX)
			return bad(p, "allow_destination", t, "at most 32 prefixes in all");
		if (parse_cidr(t, &g->allow[g->nallow]) < 0)
			return bad(p, "allow_destination", t,
				   "prefixes like 192.0.2.0/24 or 2001:db8::/32, host bits clear, not /0");
		g->nallow++;
	}
	return 1;
}

static int set_rir(struct parse_ctx *p, const char *v)
{
	for (size_t i = 0; i < sizeof(rirs) / sizeof(rirs[0]); i++) {
		if (!strcmp(v, rirs[i])) {
			snprintf(p->conf->rir, sizeof(p->conf->rir), "%s", v);
			return 1;
		}
	}
	return bad(p, "rir", v, "one of ARIN, RIPE, APNIC, LACNIC, AFRINIC");
}

static int set_uint(struct parse_ctx *p, const char *key, const char *v, unsigned min,
		    unsigned max, unsigned *dst)
{
	char want[64];

	snprintf(want, sizeof(want), "a whole number from %u to %u", min, max);
	return parse_uint(v, min, max, dst) < 0 ? bad(p, key, v, want) : 1;
}

static int set_agent_key(struct parse_ctx *p, const char *key, const char *v)
{
	struct agent_conf *c = p->conf;

	if (!strcmp(key, "perspective")) {
		if (!chars_ok(v, "abcdefghijklmnopqrstuvwxyz0123456789-", 32))
			return bad(p, key, v, "1 to 32 characters of a-z 0-9 -");
		snprintf(c->perspective, sizeof(c->perspective), "%s", v);
		return 1;
	}
	if (!strcmp(key, "rir"))
		return set_rir(p, v);
	if (!strcmp(key, "listen")) {
		if (agent_parse_listen(v, &c->listen, &c->listen_len) < 0 ||
		    strlen(v) >= sizeof(c->listen_text))
			return bad(p, key, v, "ADDRESS:PORT ([::]:8443, 0.0.0.0:8443, "
				   "[2001:db8::1]:8443) or a port");
		snprintf(c->listen_text, sizeof(c->listen_text), "%s", v);
		return 1;
	}
	if (!strcmp(key, "certificate"))
		return set_path(p, c->certificate, sizeof(c->certificate), key, v);
	if (!strcmp(key, "private_key"))
		return set_path(p, c->private_key, sizeof(c->private_key), key, v);
	if (!strcmp(key, "root_hints"))
		return set_path(p, c->root_hints, sizeof(c->root_hints), key, v);
	if (!strcmp(key, "trust_anchor"))
		return set_path(p, c->trust_anchor, sizeof(c->trust_anchor), key, v);
	if (!strcmp(key, "user")) {
		if (!chars_ok(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", 32))
			return bad(p, key, v, "a user name (1 to 32 characters of A-Z a-z 0-9 . _ -)");
		snprintf(c->user, sizeof(c->user), "%s", v);
		return 1;
	}
	if (!strcmp(key, "allow_destination"))
		return set_allow(p, v);
	if (!strcmp(key, "max_concurrent"))
		return set_uint(p, key, v, 1, 256, &c->max_concurrent);
	if (!strcmp(key, "rate_per_minute"))
		return set_uint(p, key, v, 1, 600, &c->rate_per_minute);
	if (!strcmp(key, "max_connections"))
		return set_uint(p, key, v, 2, 1024, &c->max_connections);
	if (!strcmp(key, "max_connections_per_address"))
		return set_uint(p, key, v, 1, 1024, &c->max_connections_per_address);
	return set_uint(p, key, v, 100, 60000, &c->dial_timeout_ms);
}

/* The secret file holds 64 hex digits (and maybe a newline); nobody but its owner may read it. */
static int read_secret_file(struct parse_ctx *p, struct agent_client *k, const char *path)
{
	struct err e = { 0 };
	char *text = NULL;
	size_t len = 0;
	int r;

	if (path[0] != '/')
		return bad(p, "secret_file", path, "an absolute path");
	r = agent_read_file(path, 256, 077, &text, &len, &e);
	if (r < 0)
		return fail(p, "secret_file: %s", e.msg);
	text[strcspn(text, "\r\n")] = '\0';
	r = sig_parse_secret(text, k->secret);
	explicit_bzero(text, len);
	free(text);
	if (r < 0)
		return fail(p, "secret_file '%s': expected 64 hex digits (openssl rand -hex 32)", path);
	return 1;
}

static int set_client_key(struct parse_ctx *p, struct agent_client *k, const char *key,
			  const char *v)
{
	if (k->has_secret)
		return fail(p, "[client %s] has both secret and secret_file; give one", k->id);
	k->has_secret = true;
	if (!strcmp(key, "secret_file"))
		return read_secret_file(p, k, v);
	if (sig_parse_secret(v, k->secret) < 0)
		return fail(p, "bad value for key 'secret': expected 64 hex digits "
			    "(openssl rand -hex 32)");
	return 1;
}

static struct agent_client *client_get(struct parse_ctx *p, const char *id)
{
	struct agent_conf *c = p->conf;
	struct agent_client *k = agent_client_find(c, id);
	char shown[64];

	if (k)
		return k;
	if (!chars_ok(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", 64))
		return fail(p, "bad client id '%s' in [client ID]: expected 1 to 64 characters of "
			    "A-Z a-z 0-9 . _ -", printable(id, shown, sizeof(shown))), NULL;
	if (c->nclients == AGENT_CLIENT_MAX)
		return fail(p, "too many [client] sections (at most %d)", AGENT_CLIENT_MAX), NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return fail(p, "out of memory"), NULL;
	snprintf(k->id, sizeof(k->id), "%s", id);
	pthread_mutex_init(&k->lock, NULL);
	k->bucket_ns = -1;
	c->clients[c->nclients++] = k;
	return k;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;
	struct agent_client *k;
	char shown[64];

	if (p->failed)
		return 0;
	if (!strcmp(section, "agent"))
		return key_once(p, "agent", agent_keys, sizeof(agent_keys) / sizeof(agent_keys[0]),
				&p->conf->seen, key, value) && set_agent_key(p, key, value);
	if (!strncmp(section, "client ", 7)) {
		k = client_get(p, section + 7);
		return k && key_once(p, section, client_keys, 2, &k->seen, key, value) &&
		       set_client_key(p, k, key, value);
	}
	if (!section[0])
		return fail(p, "key '%s' is outside any section; put it under [agent] or [client ID]",
			    printable(key, shown, sizeof(shown)));
	return fail(p, "unknown section '[%s]'; sections are [agent] and [client ID]",
		    printable(section, shown, sizeof(shown)));
}

struct agent_client *agent_client_find(const struct agent_conf *c, const char *id)
{
	for (size_t i = 0; i < c->nclients; i++)
		if (!strcmp(c->clients[i]->id, id))
			return c->clients[i];
	return NULL;
}

/* A regular file of at most max bytes, no NUL, as a string, refused when its mode has any bit of
 * forbid (077: only its owner may read it). */
int agent_read_file(const char *path, size_t max, mode_t forbid, char **ret, size_t *ret_len,
		    struct err *e)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY), r = 0;

	if (fd < 0)
		return err_set(e, -errno, "'%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
		r = err_set(e, -EINVAL, "'%s': not a regular file of at most %zu bytes", path, max);
	else if (st.st_mode & forbid)
		r = err_set(e, -EPERM, "'%s': open to others (mode %03o); chmod %s it", path,
			    (unsigned)(st.st_mode & 0777), forbid & 070 ? "600" : "o-rwx");
	if (r == 0 && (buf = calloc(1, (size_t)st.st_size + 1)))
		n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (r == 0 && (n != st.st_size || memchr(buf, '\0', (size_t)st.st_size)))
		r = err_set(e, -EINVAL, "'%s': cannot read it as a text file", path);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

static int check_lines(const char *path, const char *text, struct err *e)
{
	int line = 1;

	for (const char *p = text; *p; line++) {
		size_t n = strcspn(p, "\n");

		if (n > LINE_MAX_INI)
			return err_set(e, -EINVAL, "%s:%d: line longer than %d characters; split it",
				       path, line, LINE_MAX_INI);
		p += n + (p[n] == '\n');
	}
	return 0;
}

static int validate(const struct agent_conf *c, struct err *e)
{
	if (!c->perspective[0])
		return err_set(e, -EINVAL, "%s: [agent] needs perspective = NAME (a-z 0-9 -, up to 32)",
			       c->path);
	if (!c->rir[0])
		return err_set(e, -EINVAL, "%s: [agent] needs rir = ARIN, RIPE, APNIC, LACNIC or AFRINIC",
			       c->path);
	if (!c->certificate[0] || !c->private_key[0])
		return err_set(e, -EINVAL, "%s: [agent] needs certificate = FILE and private_key = FILE "
			       "(PEM)", c->path);
	if (c->nclients == 0)
		return err_set(e, -EINVAL, "%s: no [client ID] section; add one with secret = 64 hex "
			       "digits (openssl rand -hex 32)", c->path);
	/* one address must not be able to take every connection */
	if (c->max_connections_per_address >= c->max_connections)
		return err_set(e, -EINVAL, "%s: max_connections_per_address (%u) must be below "
			       "max_connections (%u)", c->path, c->max_connections_per_address,
			       c->max_connections);
	for (size_t i = 0; i < c->nclients; i++)
		if (!c->clients[i]->has_secret)
			return err_set(e, -EINVAL, "%s: [client %s] needs secret or secret_file", c->path,
				       c->clients[i]->id);
	return 0;
}

static void defaults(struct agent_conf *c, const char *path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->listen_text, sizeof(c->listen_text), "[::]:8443");
	agent_parse_listen(c->listen_text, &c->listen, &c->listen_len);
	c->max_concurrent = 8;
	c->max_connections = 128;
	c->max_connections_per_address = 8;
	c->rate_per_minute = 30;
	c->dial_timeout_ms = 10000;
}

int agent_conf_load(struct agent_conf *c, const char *path, struct err *e)
{
	struct parse_ctx p = { .conf = c };
	struct err why = { 0 };
	char *text = NULL;
	size_t len;
	int r;

	defaults(c, path);
	r = agent_read_file(path, 65536, 0, &text, &len, &why);
	if (r < 0)
		return err_set(e, r, "cannot read config %s", why.msg);
	r = check_lines(path, text, e);
	if (r == 0)
		r = ini_parse_string(text, handler, &p);
	explicit_bzero(text, len);  /* it may hold secrets */
	free(text);
	if (r < 0)
		return r;
	if (p.failed)
		return err_set(e, -EINVAL, "%s:%d: %s", path, r, p.msg);
	if (r != 0)
		return err_set(e, -EINVAL, "%s:%d: syntax error (expected '[section]' or 'key = value')",
			       path, r);
	return validate(c, e);
}

void agent_conf_free(struct agent_conf *c)
{
	for (size_t i = 0; i < c->nclients; i++) {
		explicit_bzero(c->clients[i]->secret, sizeof(c->clients[i]->secret));
		pthread_mutex_destroy(&c->clients[i]->lock);
		free(c->clients[i]);
	}
	c->nclients = 0;
}
