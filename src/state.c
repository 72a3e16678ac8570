/* state.c: reads and writes the state file atomically and holds the lock that serialises
 * concurrent acmegate runs; needs write access to state_dir (root). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "array.h"
#include "state.h"

#define STATE_FILE "state"
#define STATE_MAGIC "acmegate-state 1"

/* err_set for the state directory: the command maps these to exit code 74 (75 for the lock). */
#define state_err(e, code, ...) ((e) ? (void)((e)->kind = ERR_KIND_STATE) : (void)0, \
				 err_set((e), (code), __VA_ARGS__))

static const char *const kind_names[KIND_COUNT] = {
	"open-http-01", "open-tls-alpn-01", "open-dns", "path-accept", "path-reset", "path-trusted", "path-expect",
	"tally", "redirect",
};

const char *kind_name(enum rule_kind k)
{
	return k < KIND_COUNT ? kind_names[k] : "?";
}

static int kind_from_name(const char *s)
{
	for (int i = 0; i < KIND_COUNT; i++)
		if (!strcmp(s, kind_names[i]))
			return i;
	return -1;
}

bool lease_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > LEASE_NAME_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-") == n;
}

static int ensure_dir(const char *dir, struct err *e)
{
	/* 0711: others may open a file they know the name of (the responder reads "tokens");
	 * chmod, as acmegate's umask (077) takes the bits off what mkdir creates */
	if (mkdir(dir, 0711) == 0)
		return chmod(dir, 0711) == 0 ? 0 : state_err(e, -errno, "%s: chmod: %s", dir, strerror(errno));
	if (errno == EEXIST)
		return 0;
	return state_err(e, -errno, "%s: cannot create the state directory: %s", dir, strerror(errno));
}

int state_lock(const char *dir, unsigned timeout_s, struct err *e)
{
	char path[PATH_MAX];
	int fd, r = ensure_dir(dir, e);

	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return state_err(e, -errno, "%s: cannot open the lock: %s", path, strerror(errno));
	for (unsigned i = 0; i <= timeout_s * 20; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR)
			break;
		usleep(50000);
	}
	r = -errno;
	close(fd);
	if (r == -EWOULDBLOCK)
		return state_err(e, -ETIMEDOUT, "%s: another acmegate still holds the lock after %us",
			       path, timeout_s);
	return state_err(e, r, "%s: cannot lock: %s", path, strerror(-r));
}

void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

void state_free(struct state *st)
{
	free(st->rules);
	free(st->tokens);
	memset(st, 0, sizeof(*st));
}

struct lease *state_find_lease(struct state *st, const char *name)
{
	for (size_t i = 0; i < st->nleases; i++)
		if (!strcmp(st->leases[i].name, name))
			return &st->leases[i];
	return NULL;
}

int state_add_rule(struct state *st, const struct rec_rule *r)
{
	if (array_grow((void **)&st->rules, &st->cap_rules, st->nrules, sizeof(*st->rules)) < 0)
		return -ENOMEM;
	st->rules[st->nrules++] = *r;
	return 0;
}

int state_add_token(struct state *st, const char *lease, const char *token)
{
	struct token_rec *t;

	for (size_t i = 0; i < st->ntokens; i++)
		if (!strcmp(st->tokens[i].lease, lease) && !strcmp(st->tokens[i].token, token))
			return 0;
	if (st->ntokens == TOKENS_MAX)
		return -ENOSPC;
	if (array_grow((void **)&st->tokens, &st->cap_tokens, st->ntokens, sizeof(*st->tokens)) < 0)
		return -ENOMEM;
	t = &st->tokens[st->ntokens++];
	snprintf(t->lease, sizeof(t->lease), "%s", lease);
	snprintf(t->token, sizeof(t->token), "%s", token);
	return 0;
}

int state_drop_tokens(struct state *st, const char *lease, const char *token)
{
	size_t kept = 0, before = st->ntokens;

	for (size_t i = 0; i < st->ntokens; i++) {
		const struct token_rec *t = &st->tokens[i];

		if (!strcmp(t->lease, lease) && (!token || !strcmp(t->token, token)))
			continue;
		st->tokens[kept++] = *t;
	}
	st->ntokens = kept;
	if (token)
		return kept < before ? 0 : -ENOENT;
	return (int)(before - kept);
}

size_t state_lease_tokens(const struct state *st, const char *lease)
{
	size_t n = 0;

	for (size_t i = 0; i < st->ntokens; i++)
		n += !strcmp(st->tokens[i].lease, lease);
	return n;
}

static int parse_token(struct state *st, char *rest)
{
	char *tab = strchr(rest, '\t');

	if (!tab)
		return -EBADMSG;
	*tab = '\0';
	if (!lease_name_valid(rest) || !b64url_valid(tab + 1, 1, TOKEN_MAX))
		return -EBADMSG;
	return state_add_token(st, rest, tab + 1);
}

static int parse_lease(struct state *st, char *rest)
{
	struct lease *l;
	long long opened, deadline;
	unsigned services, mode;
	char name[LEASE_NAME_MAX + 2];

	if (st->nleases == LEASES_MAX)
		return -ENOSPC;
	if (sscanf(rest, "%65s %lld %lld %u %u", name, &opened, &deadline, &services, &mode) != 5 ||
	    !lease_name_valid(name) || mode > HTTP01_RESPONDER || deadline < 0 || deadline > (1LL << 40) ||
	    opened < 0 || opened > (1LL << 40))
		return -EBADMSG;
	l = &st->leases[st->nleases++];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->opened = (time_t)opened;
	l->deadline = (time_t)deadline;
	l->services = services & SVC_ALL;
	l->mode = (enum http01_mode)mode;
	return 0;
}

/* Table and chain names are kept tab-separated: nft names cannot hold tabs or newlines. */
static int parse_rule(struct state *st, char *rest)
{
	struct rec_rule r = { 0 };
	char *save = NULL, *f[5];
	int kind;

	for (int i = 0; i < 5; i++) {
		f[i] = strtok_r(i ? NULL : rest, "\t", &save);
		if (!f[i])
			return -EBADMSG;
	}
	kind = kind_from_name(f[4]);
	if (kind < 0 || strlen(f[1]) >= sizeof(r.table) || strlen(f[2]) >= sizeof(r.chain))
		return -EBADMSG;
	r.family = (uint32_t)strtoul(f[0], NULL, 10);
	strcpy(r.table, f[1]);
	strcpy(r.chain, f[2]);
	r.handle = strtoull(f[3], NULL, 10);
	r.kind = (enum rule_kind)kind;
	return r.handle ? state_add_rule(st, &r) : -EBADMSG;
}

static int parse_count(struct state *st, char *rest)
{
	char kind[32];
	unsigned long long p, b;
	int k;

	if (sscanf(rest, "%31s %llu %llu", kind, &p, &b) != 3 || (k = kind_from_name(kind)) < 0)
		return -EBADMSG;
	st->packets[k] = p;
	st->bytes[k] = b;
	return 0;
}

static int parse_line(struct state *st, char *line)
{
	long long t, until = 0;

	line[strcspn(line, "\n")] = '\0';
	if (!strncmp(line, "lease\t", 6))
		return parse_lease(st, line + 6);
	if (!strncmp(line, "rule\t", 5))
		return parse_rule(st, line + 5);
	if (!strncmp(line, "count\t", 6))
		return parse_count(st, line + 6);
	if (!strncmp(line, "token\t", 6))
		return parse_token(st, line + 6);
	if (sscanf(line, "window\t%lld\t%lld", &t, &until) >= 1 && t >= 0 && until >= 0 &&
	    until < (1LL << 40)) {
		/* files from before milliseconds held seconds */
		st->window_opened_ms = t < 100000000000LL ? t * 1000 : t;
		st->window_until = (time_t)until;
		return 0;
	}
	return -EBADMSG;
}

int state_load(const char *dir, struct state *st, struct err *e)
{
	char path[PATH_MAX], line[1024];
	FILE *f;
	int r = 0, lineno = 1;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/" STATE_FILE, dir);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : state_err(e, -errno, "%s: %s", path, strerror(errno));
	if (!fgets(line, sizeof(line), f) || strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC)) != 0)
		r = -EBADMSG;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		r = parse_line(st, line);
	}
	fclose(f);
	if (r < 0) {
		state_free(st);
		return state_err(e, r, "%s:%d: the state file is damaged; remove it and run "
			       "'acmegate close --all' to clean up", path, lineno);
	}
	return 0;
}

static void write_state(FILE *f, const struct state *st)
{
	fprintf(f, STATE_MAGIC "\n");
	if (st->window_opened_ms)
		fprintf(f, "window\t%lld\t%lld\n", (long long)st->window_opened_ms,
			(long long)st->window_until);
	for (size_t i = 0; i < st->nleases; i++) {
		const struct lease *l = &st->leases[i];

		fprintf(f, "lease\t%s %lld %lld %u %u\n", l->name, (long long)l->opened,
			(long long)l->deadline, l->services, (unsigned)l->mode);
	}
	for (size_t i = 0; i < st->nrules; i++) {
		const struct rec_rule *r = &st->rules[i];

		fprintf(f, "rule\t%u\t%s\t%s\t%llu\t%s\n", r->family, r->table, r->chain,
			(unsigned long long)r->handle, kind_name(r->kind));
	}
	for (size_t i = 0; i < st->ntokens; i++)
		fprintf(f, "token\t%s\t%s\n", st->tokens[i].lease, st->tokens[i].token);
	for (int k = 0; k < KIND_COUNT; k++)
		if (st->packets[k] || st->bytes[k])
			fprintf(f, "count\t%s %llu %llu\n", kind_name((enum rule_kind)k),
				(unsigned long long)st->packets[k], (unsigned long long)st->bytes[k]);
}

int state_log_exposure(const char *dir, int64_t opened_ms, int64_t closed_ms,
		       const uint64_t packets[KIND_COUNT])
{
	char path[PATH_MAX];
	FILE *f;
	int bad;

	snprintf(path, sizeof(path), "%s/exposure.log", dir);
	f = fopen(path, "ae");
	if (!f)
		return -errno;
	fprintf(f, "{\"opened\": %lld, \"closed\": %lld, \"open_ms\": %lld, \"connections\": %llu, "
		"\"challenge_requests\": %llu, \"requests_reset\": %llu, \"redirected\": %llu}\n",
		(long long)opened_ms, (long long)closed_ms, (long long)(closed_ms - opened_ms),
		(unsigned long long)packets[KIND_TALLY], (unsigned long long)packets[KIND_PATH_ACCEPT],
		(unsigned long long)packets[KIND_PATH_RESET], (unsigned long long)packets[KIND_REDIRECT]);
	bad = fclose(f) != 0;
	return bad ? -EIO : 0;
}

int state_write_tokens(const char *dir, const char *const *tokens, size_t n)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int fd, bad;

	snprintf(path, sizeof(path), "%s/tokens", dir);
	if (!tokens)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	snprintf(tmp, sizeof(tmp), "%s/.tokens.XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -EIO;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", tokens[i]);
	bad = fchmod(fd, 0644) != 0;
	bad = fclose(f) != 0 || bad;
	if (bad || rename(tmp, path) != 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* Written to a temporary file and renamed over the old one: a crash leaves one or the other. */
int state_save(const char *dir, const struct state *st, struct err *e)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/" STATE_FILE, dir);
	snprintf(tmp, sizeof(tmp), "%s/." STATE_FILE ".XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return state_err(e, -errno, "%s: cannot write state: %s", dir, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return state_err(e, -errno, "%s: cannot write state: %s", tmp, strerror(errno));
	}
	write_state(f, st);
	int bad = fflush(f) != 0 || fsync(fd) != 0;

	bad = fclose(f) != 0 || bad;
	if (bad || rename(tmp, path) != 0) {
		int r = errno ? -errno : -EIO;

		unlink(tmp);
		return state_err(e, r, "%s: cannot write state: %s", path, strerror(-r));
	}
	return 0;
}
