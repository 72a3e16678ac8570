/* probefile.c: places a probe challenge (random token and key authorization) under the
 * webroot for an http-01 self-test, and removes it, with any directory it had to create.
 * Needs write access to the webroot; called by acmegate check and run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "check/probefile.h"

/* n random bytes as unpadded base64url. */
static int random_b64url(size_t n, char *out, size_t len)
{
	unsigned char raw[48], b64[72];
	int w;

	if (n > sizeof(raw) || RAND_bytes(raw, (int)n) != 1)
		return -EIO;
	w = EVP_EncodeBlock(b64, raw, (int)n);
	while (w > 0 && b64[w - 1] == '=')
		w--;
	if ((size_t)w >= len)
		return -ENOBUFS;
	for (int i = 0; i < w; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	out[w] = '\0';
	return 0;
}

static int mkdir_tracked(struct probefile *pf, const char *dir, unsigned bit, struct err *e)
{
	if (mkdir(dir, 0755) == 0) {
		pf->created |= bit;
		chmod(dir, 0755);  /* the web server reads it whatever our umask */
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return err_set(e, -errno, "check: cannot create '%s' for the probe file: %s; is webroot "
		       "in [check] right?", dir, strerror(errno));
}

int probefile_place(struct probefile *pf, const char *webroot, unsigned token_len, struct err *e)
{
	char thumb[64];
	int fd, r;

	memset(pf, 0, sizeof(*pf));
	/* the path gate and the responder pass only tokens of token_length characters */
	if (token_len >= sizeof(pf->token))
		return err_set(e, -EINVAL, "check: token_length %u is too long for a probe", token_len);
	if ((r = random_b64url(token_len * 3 / 4 + 1, pf->token, sizeof(pf->token))) < 0 ||
	    (r = random_b64url(32, thumb, sizeof(thumb))) < 0)
		return err_set(e, r, "check: no random bytes for a probe token");
	pf->token[token_len] = '\0';
	snprintf(pf->key_authorization, sizeof(pf->key_authorization), "%s.%s", pf->token, thumb);
	snprintf(pf->dir[0], sizeof(pf->dir[0]), "%s/.well-known", webroot);
	snprintf(pf->dir[1], sizeof(pf->dir[1]), "%s/.well-known/acme-challenge", webroot);
	snprintf(pf->path, sizeof(pf->path), "%s/%s", pf->dir[1], pf->token);
	if ((r = mkdir_tracked(pf, pf->dir[0], 1, e)) < 0 || (r = mkdir_tracked(pf, pf->dir[1], 2, e)) < 0) {
		probefile_remove(pf);
		return r;
	}
	fd = open(pf->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || fchmod(fd, 0644) < 0 ||
	    write(fd, pf->key_authorization, strlen(pf->key_authorization)) < 0) {
		r = err_set(e, -errno, "check: cannot write the probe file '%s': %s", pf->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		probefile_remove(pf);
		return r;
	}
	close(fd);
	pf->placed = true;
	return 0;
}

void probefile_remove(struct probefile *pf)
{
	if (pf->placed)
		unlink(pf->path);
	if (pf->created & 2)
		rmdir(pf->dir[1]);
	if (pf->created & 1)
		rmdir(pf->dir[0]);
	pf->placed = false;
	pf->created = 0;
}
