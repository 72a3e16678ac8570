/* conf.c: strict INI reader for acmegate.conf (inih); no privilege needed, called by every command. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <ini.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "conf.h"
#include "conf_internal.h"
#include "responder/responder.h"   /* responder_relay_valid() */

#define TOKEN_LEN_MIN 22   /* 128 bits of entropy, RFC 8555 section 8.1 */
#define TOKEN_LEN_MAX 54   /* one rule holds at most 128 expressions */

/* inih reports the line of the first handler failure as ini_parse's result,
 * so messages are kept without it and prefixed with file:line afterwards. */
struct parse_ctx {
	struct conf *conf;
	unsigned seen;             /* bit per entry of keys[]: each key once */
	char msg[ERR_MSG_MAX - PATH_MAX / 16];
	int failed;
};

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->ttl = 600;
	c->max_ttl = 3600;
	c->services = SVC_HTTP01;
	c->http01_mode = HTTP01_PATH;
	c->token_length = 43;
	c->forward = false;
	snprintf(c->state_dir, sizeof(c->state_dir), "/run/acmegate");
	c->responder_port = 8402;
	snprintf(c->responder_user, sizeof(c->responder_user), "nobody");
	c->check.timeout = 60;
	snprintf(c->check.webroot, sizeof(c->check.webroot), "/var/www/html");
}

int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

static bool host_bits_clear(const struct cidr *c)
{
	unsigned len = c->family == NFPROTO_IPV4 ? 4 : 16;

	for (unsigned bit = c->plen; bit < len * 8; bit++)
		if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int parse_cidr(const char *s, struct cidr *ret)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct cidr c = { 0 };
	unsigned plen, max;

	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1)
		c.family = NFPROTO_IPV4;
	else if (inet_pton(AF_INET6, addr, c.addr) == 1)
		c.family = NFPROTO_IPV6;
	else
		return -EINVAL;
	max = c.family == NFPROTO_IPV4 ? 32 : 128;
	plen = max;
	/* a /0 would let the whole world past the path gate: that is http01_mode = port */
	if (slash && parse_uint(slash + 1, 1, max, &plen) < 0)
		return -ERANGE;
	c.plen = (uint8_t)plen;
	if (!host_bits_clear(&c))
		return -EADDRNOTAVAIL;
	*ret = c;
	return 0;
}

static const struct { unsigned svc; const char *name; } svc_names[] = {
	{ SVC_HTTP01, "http-01" },
	{ SVC_TLSALPN01, "tls-alpn-01" },
	{ SVC_DNS, "dns" },
};

unsigned svc_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(svc_names) / sizeof(svc_names[0]); i++)
		if (strcmp(name, svc_names[i].name) == 0)
			return svc_names[i].svc;
	if (strcmp(name, "dns-01") == 0)
		return SVC_DNS;
	return 0;
}

const char *svc_name(unsigned svc)
{
	for (size_t i = 0; i < sizeof(svc_names) / sizeof(svc_names[0]); i++)
		if (svc_names[i].svc == svc)
			return svc_names[i].name;
	return "?";
}

int mode_from_name(const char *name, enum http01_mode *ret_mode)
{
	if (strcmp(name, "path") == 0)
		*ret_mode = HTTP01_PATH;
	else if (strcmp(name, "port") == 0)
		*ret_mode = HTTP01_PORT;
	else if (strcmp(name, "responder") == 0)
		*ret_mode = HTTP01_RESPONDER;
	else
		return -EINVAL;
	return 0;
}

const char *mode_name(enum http01_mode m)
{
	return m == HTTP01_PORT ? "port" : m == HTTP01_RESPONDER ? "responder" : "path";
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcmp(s, "1"))
		*ret = true;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcmp(s, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* "http-01, dns" -> bit set; 0 on an unknown name. */
static unsigned parse_services(const char *value)
{
	char buf[256], *save = NULL;
	unsigned set = 0, one;

	if (strlen(value) >= sizeof(buf))
		return 0;
	strcpy(buf, value);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		one = svc_from_name(t);
		if (!one)
			return 0;
		set |= one;
	}
	return set;
}

/* User text in a message: control bytes and non-ASCII become '?', long text is cut. */
const char *conf_printable(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; in[i] && i + 1 < len; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
	return out;
}

static int bad(struct parse_ctx *p, const char *key, const char *value, const char *want)
{
	char shown[64];

	snprintf(p->msg, sizeof(p->msg), "bad value '%s' for key '%s': expected %s",
		 conf_printable(value, shown, sizeof(shown)), key, want);
	p->failed = 1;
	return 0;
}

static int parse_trusted(struct parse_ctx *p, const char *value)
{
	char buf[2048], *save = NULL;
	struct conf *c = p->conf;
	int r;

	if (strlen(value) >= sizeof(buf))
		return bad(p, "trusted_sources", "…", "at most 2047 characters");
	strcpy(buf, value);
	/* several trusted_sources lines add up: one line holds only so many prefixes */
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		if (c->ntrusted == TRUSTED_MAX)
			return bad(p, "trusted_sources", t, "at most 32 prefixes");
		r = parse_cidr(t, &c->trusted[c->ntrusted]);
		if (r == -EADDRNOTAVAIL)
			return bad(p, "trusted_sources", t, "a prefix without host bits (e.g. 198.51.100.0/24)");
		if (r < 0)
			return bad(p, "trusted_sources", t, "IPv4 or IPv6 prefixes like 198.51.100.0/24, 2001:db8::/32 (not /0)");
		c->ntrusted++;
	}
	return 1;
}

/* A user name as useradd takes it: the responder switches to it after binding. */
static bool user_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 33 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n &&
	       s[0] != '-';
}

static int set_responder_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct conf *c = p->conf;

	/* 80 itself would redirect the world onto the web server's own port */
	if (!strcmp(key, "responder_port"))
		return parse_uint(value, 1, 65535, &c->responder_port) || c->responder_port == 80 ?
			bad(p, key, value, "a port from 1 to 65535 other than 80") : 1;
	if (!strcmp(key, "responder_webroot")) {
		if (value[0] && (value[0] != '/' || strlen(value) >= sizeof(c->responder_webroot)))
			return bad(p, key, value, "an absolute path (or nothing, to relay)");
		snprintf(c->responder_webroot, sizeof(c->responder_webroot), "%s", value);
		return 1;
	}
	if (!strcmp(key, "responder_relay")) {
		if (value[0] && (strlen(value) >= sizeof(c->responder_relay) ||
				 !responder_relay_valid(value)))
			return bad(p, key, value, "http://HOST[:PORT] of the local web server, no path");
		snprintf(c->responder_relay, sizeof(c->responder_relay), "%s", value);
		return 1;
	}
	if (!strcmp(key, "responder_user")) {
		if (!user_name_valid(value))
			return bad(p, key, value, "a user name (lower-case letters, digits, _ and -)");
		snprintf(c->responder_user, sizeof(c->responder_user), "%s", value);
		return 1;
	}
	return 0;
}

static int set_gate_key(struct parse_ctx *p, const char *key, const char *value)
{
	struct conf *c = p->conf;
	unsigned svc;

	if (!strcmp(key, "ttl"))
		return parse_uint(value, 1, 86400, &c->ttl) ? bad(p, key, value, "seconds from 1 to 86400") : 1;
	if (!strcmp(key, "max_ttl"))
		return parse_uint(value, 1, 86400, &c->max_ttl) ? bad(p, key, value, "seconds from 1 to 86400") : 1;
	if (!strcmp(key, "token_length"))
		return parse_uint(value, TOKEN_LEN_MIN, TOKEN_LEN_MAX, &c->token_length) ?
			bad(p, key, value, "a number of characters from 22 to 54") : 1;
	if (!strcmp(key, "http01_mode"))
		return mode_from_name(value, &c->http01_mode) ? bad(p, key, value,
			"'path', 'port' or 'responder'") : 1;
	if (!strcmp(key, "forward"))
		return parse_bool(value, &c->forward) ? bad(p, key, value, "yes or no (or true/false, 1/0)") : 1;
	if (!strcmp(key, "challenges")) {
		svc = parse_services(value);
		if (!svc)
			return bad(p, key, value, "a list of http-01, tls-alpn-01, dns");
		c->services = svc;
		return 1;
	}
	if (!strcmp(key, "trusted_sources"))
		return parse_trusted(p, value);
	if (!strncmp(key, "responder_", 10))
		return set_responder_key(p, key, value);
	if (!strcmp(key, "state_dir")) {
		if (value[0] != '/' || strlen(value) >= sizeof(c->state_dir) - 32)
			return bad(p, key, value, "an absolute path");
		snprintf(c->state_dir, sizeof(c->state_dir), "%s", value);
		return 1;
	}
	return 0;
}

static const char *const gate_keys[] = { "challenges", "ttl", "max_ttl", "http01_mode",
					 "trusted_sources", "token_length", "forward", "state_dir",
					 "responder_port", "responder_webroot", "responder_relay",
					 "responder_user" };

/* Each key known and once (but for `repeatable`), without a '#' comment behind its value (inih
 * only knows ';'). Returns 1, or 0 with the reason in msg. */
int conf_key_once(const char *section, const char *const *keys, size_t nkeys, const char *repeatable,
		  unsigned *seen, const char *key, const char *value, char *msg, size_t len)
{
	char shown[64];
	const char *hash = strchr(value, '#');

	for (unsigned i = 0; i < nkeys; i++) {
		if (strcmp(key, keys[i]))
			continue;
		if ((*seen & (1u << i)) && !(repeatable && !strcmp(key, repeatable))) {
			snprintf(msg, len, "key '%s' is given twice (an indented line would continue the "
				 "previous one); give each key once", key);
			return 0;
		}
		*seen |= 1u << i;
		if (hash && hash > value && (hash[-1] == ' ' || hash[-1] == '\t')) {
			snprintf(msg, len, "'#' after the value of '%s': a comment after a value starts "
				 "with ';'", key);
			return 0;
		}
		return 1;
	}
	snprintf(msg, len, "unknown key '%s' in [%s]; see acmegate.conf(5)",
		 conf_printable(key, shown, sizeof(shown)), section);
	return 0;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;
	int ok;

	if (p->failed)
		return 0;
	if (!strcmp(section, "gate"))
		ok = conf_key_once("gate", gate_keys, sizeof(gate_keys) / sizeof(gate_keys[0]),
				   "trusted_sources", &p->seen, key, value, p->msg, sizeof(p->msg)) &&
		     set_gate_key(p, key, value);
	else
		ok = conf_other_key(p->conf, section, key, value, p->msg, sizeof(p->msg));
	if (!ok)
		p->failed = 1;
	return ok;
}

/* The responder switches to responder_user after binding: it must exist and not be root. */
static int conf_validate_responder(const struct conf *c, struct err *e)
{
	struct passwd *pw = getpwnam(c->responder_user);

	if (!pw)
		return err_set(e, -EINVAL, "%s: responder_user '%s' does not exist; create it or use "
			       "nobody", c->path, c->responder_user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return err_set(e, -EINVAL, "%s: responder_user '%s' is root; the responder must not run "
			       "as root once it has bound its port", c->path, c->responder_user);
	return 0;
}

static int conf_validate(const struct conf *c, struct err *e)
{
	if (c->ttl > c->max_ttl)
		return err_set(e, -EINVAL, "%s: ttl %u is larger than max_ttl %u", c->path, c->ttl, c->max_ttl);
	if (c->responder_webroot[0] && c->responder_relay[0])
		return err_set(e, -EINVAL, "%s: responder_webroot and responder_relay exclude each other: "
			       "the responder serves files or relays, not both", c->path);
	if (c->http01_mode == HTTP01_RESPONDER && conf_validate_responder(c, e) < 0)
		return -EINVAL;
	return conf_validate_check(c, e);
}

/* inih splits lines longer than its buffer and would read the rest as a new line. */
#define LINE_MAX_INI 199
#define CONF_SIZE_MAX 65536

static int check_lines(const char *path, const char *text, struct err *e)
{
	int line = 1;

	for (const char *p = text; *p; line++) {
		size_t n = strcspn(p, "\n");

		if (n > LINE_MAX_INI)
			return err_set(e, -EINVAL, "%s:%d: line longer than %d characters; split the list "
				       "or shorten it", path, line, LINE_MAX_INI);
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* inih hands over keys, not section lines: a [perspective NAME] given twice in a row would
 * look like one section with its keys given twice. Section lines are found here instead. */
static int check_sections(const char *path, const char *text, struct err *e)
{
	struct { char name[64]; int line; } seen[PERSPECTIVE_MAX * 2];
	size_t n = 0;
	int line = 1;

	for (const char *p = text; *p; line++) {
		size_t len = strcspn(p, "\n"), skip = strspn(p, " \t"), name;
		const char *s = p + skip + 1;

		p += len + (p[len] == '\n');
		if (s[-1] != '[' || strncmp(s, "perspective ", 12) || (name = strcspn(s, "]\n")) >= 64)
			continue;
		for (size_t i = 0; i < n; i++)
			if (strlen(seen[i].name) == name && !strncmp(seen[i].name, s, name))
				return err_set(e, -EINVAL, "%s:%d: [%.*s] is given twice (first on line %d); "
					       "give each perspective one section", path, line,
					       (int)name, s, seen[i].line);
		if (n < sizeof(seen) / sizeof(seen[0])) {
			snprintf(seen[n].name, sizeof(seen[n].name), "%.*s", (int)name, s);
			seen[n++].line = line;
		}
	}
	return 0;
}

/* The whole file as a string: a regular file of at most CONF_SIZE_MAX bytes, no NUL. */
static int read_conf(const char *path, char **ret, struct err *e)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONF_SIZE_MAX) {
		close(fd);
		return err_set(e, -EINVAL, "%s: not a regular file of at most %d bytes", path, CONF_SIZE_MAX);
	}
	buf = calloc(1, (size_t)st.st_size + 1);
	n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size || memchr(buf, '\0', (size_t)n))
		r = err_set(e, -EINVAL, "%s: cannot read it as a text file", path);
	if (r < 0)
		free(buf);
	else
		*ret = buf;
	return r;
}

int conf_load(struct conf *c, const char *path, bool required, struct err *e)
{
	struct parse_ctx p = { .conf = c };
	char *text = NULL;
	int r;

	conf_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	r = read_conf(path, &text, e);
	if (r == -ENOENT && !required)
		return 0;
	if (r < 0 && !text && r != -EINVAL)
		return err_set(e, r, "%s: cannot read config: %s", path, strerror(-r));
	if (r < 0)
		return r;
	r = check_lines(path, text, e);
	if (r == 0)
		r = check_sections(path, text, e);
	if (r == 0)
		r = ini_parse_string(text, handler, &p);
	free(text);
	if (r < 0)
		return r;
	if (p.failed)
		return err_set(e, -EINVAL, "%s:%d: %s", path, r, p.msg);
	if (r != 0)
		return err_set(e, -EINVAL, "%s:%d: syntax error (expected '[section]' or 'key = value')", path, r);
	return conf_validate(c, e);
}

bool b64url_char(char c)
{
	return c && strchr(B64URL_ALPHABET, c);
}

bool b64url_valid(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max && strspn(s, B64URL_ALPHABET) == n;
}
