/* probefile.h: a probe http-01 challenge under the webroot for the self-test. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include "log.h"

struct probefile {
	char token[64];
	char key_authorization[130];
	char path[PATH_MAX];
	char dir[2][PATH_MAX];     /* .well-known and .well-known/acme-challenge */
	unsigned created;          /* bit per dir[] created here, removed again */
	bool placed;
};

/* Writes WEBROOT/.well-known/acme-challenge/TOKEN (token_len characters) holding a fresh key
 * authorization. */
int probefile_place(struct probefile *pf, const char *webroot, unsigned token_len, struct err *e);
/* Removes what probefile_place made; safe to call twice. */
void probefile_remove(struct probefile *pf);
