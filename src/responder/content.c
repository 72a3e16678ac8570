/* content.c: what the responder answers with: the tokens file's say, the challenge file from
 * the webroot (opened beneath a directory fd taken while root, no symlink followed), or the
 * local web server's answer relayed with libcurl. No privilege; called by server.c's threads. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <curl/curl.h>
#include "responder/responder.h"

/* Reads a small regular file (at most max bytes) from fd; -EFBIG when larger. */
static int read_small(int fd, size_t max, char **ret, size_t *ret_len)
{
	struct stat s;
	char *buf;
	ssize_t n = 0;
	size_t len = 0;

	if (fstat(fd, &s) < 0)
		return -errno;
	if (!S_ISREG(s.st_mode))
		return -EINVAL;
	if ((size_t)s.st_size > max)
		return -EFBIG;
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	/* one byte more than allowed tells a file that grew since fstat */
	while (len < max + 1 && (n = read(fd, buf + len, max + 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len > max) {
		int r = n < 0 ? -errno : -EFBIG;

		free(buf);
		return r;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* The tokens file, when there is one, must list the token. Read anew for every request: the
 * window rewrites it as leases come and go. No file: any well-formed token. */
int content_allowed(struct responder *r, const char *token, struct err *e)
{
	char *list = NULL;
	size_t len = 0;
	int fd, ret;

	if (r->tokens_dir_fd < 0)
		return 0;
	fd = openat(r->tokens_dir_fd, r->tokens_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return err_set(e, -errno, "tokens file: %s", strerror(errno));
	ret = read_small(fd, RESPONDER_TOKENS_MAX, &list, &len);
	close(fd);
	if (ret < 0)
		return err_set(e, ret, "tokens file: %s", strerror(-ret));
	ret = responder_token_listed(list, len, token) ? 0 : -ENOENT;
	free(list);
	if (ret < 0)
		err_set(e, ret, "token not in the tokens file");
	return ret;
}

/* Kernels before 5.6 lack openat2: one component at a time, none of them a symlink. The path
 * is ours (the prefix and a base64url token), so it holds no "..". */
static int open_walk(int dirfd, const char *path)
{
	char buf[256], *save = NULL, *part, *next;
	int fd = dirfd, nfd;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, "/", &save); part; part = next) {
		next = strtok_r(NULL, "/", &save);
		nfd = openat(fd, part, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			     (next ? O_DIRECTORY : 0));
		if (fd != dirfd)
			close(fd);
		if (nfd < 0)
			return -errno;
		fd = nfd;
	}
	return fd == dirfd ? -EINVAL : fd;
}

/* openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: neither a symlinked file nor a symlinked
 * .well-known leads out of the webroot, and ".." cannot either. */
static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		return open_walk(dirfd, path);
	return fd < 0 ? -errno : (int)fd;
}

int content_webroot(struct responder *r, const char *token, char **ret, size_t *ret_len,
		    struct err *e)
{
	char path[sizeof(RESPONDER_PREFIX) + 256];
	int fd, rc;

	snprintf(path, sizeof(path), "%s%s", RESPONDER_PREFIX + 1, token);
	fd = open_beneath(r->webroot_fd, path);
	if (fd < 0)
		return err_set(e, fd == -ENOENT ? -ENOENT : fd, "webroot: %s", strerror(-fd));
	rc = read_small(fd, RESPONDER_BODY_MAX, ret, ret_len);
	close(fd);
	if (rc == -EINVAL || rc == -EFBIG)
		return err_set(e, -ENOENT, "webroot: %s", rc == -EFBIG ? "larger than 4 KiB" :
			       "not a regular file");
	return rc < 0 ? err_set(e, rc, "webroot: %s", strerror(-rc)) : 0;
}

/* The relayed answer, collected up to RESPONDER_BODY_MAX. */
struct sink {
	char buf[RESPONDER_BODY_MAX + 1];
	size_t len;
	bool too_large;
};

static size_t sink_write(char *data, size_t size, size_t n, void *cls)
{
	struct sink *s = cls;
	size_t len = size * n;

	if (s->len + len > RESPONDER_BODY_MAX) {
		s->too_large = true;
		return 0;  /* ends the transfer */
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return len;
}

static CURL *relay_handle(const char *url, struct curl_slist *hdrs, struct sink *s)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_PROXY, "");           /* never the environment's proxy */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)RESPONDER_RELAY_MS);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)RESPONDER_BODY_MAX);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "acmegate-responder");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	return c;
}

/* GET exactly the challenge path from the local web server, with the client's Host; only a
 * 200 with a body of at most 4 KiB is passed on, anything else is "no such challenge". */
int content_relay(struct responder *r, const char *token, const char *host, char **ret,
		  size_t *ret_len, struct err *e)
{
	char url[600], hh[300];
	const char *base = r->o->relay;
	size_t blen = strlen(base);
	struct curl_slist *hdrs = NULL;
	struct sink *s = calloc(1, sizeof(*s));
	long status = 0;
	CURLcode cc = CURLE_OUT_OF_MEMORY;
	CURL *c = NULL;
	int rc;

	if (blen && base[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof(url), "%.*s%s%s", (int)blen, base, RESPONDER_PREFIX, token);
	if (host) {
		snprintf(hh, sizeof(hh), "Host: %s", host);
		hdrs = curl_slist_append(NULL, hh);
	}
	if (s && (!host || hdrs) && (c = relay_handle(url, hdrs, s)))
		cc = curl_easy_perform(c);
	if (c)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		rc = err_set(e, s && s->too_large ? -ENOENT : -EIO, "relay: %s",
			     s && s->too_large ? "answer larger than 4 KiB" : curl_easy_strerror(cc));
	else if (status != 200)
		rc = err_set(e, -ENOENT, "relay: the web server answered %ld", status);
	else if (!(*ret = malloc(s->len + 1)))
		rc = err_set(e, -ENOMEM, "relay: out of memory");
	else {
		memcpy(*ret, s->buf, s->len);
		(*ret)[s->len] = '\0';
		*ret_len = s->len;
		rc = 0;
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(s);
	return rc;
}
