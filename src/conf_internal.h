/* conf_internal.h: shared between the config readers (conf.c, conf_check.c); not an API. */
#pragma once
#include <stddef.h>
#include "conf.h"

const char *conf_printable(const char *in, char *out, size_t len);
int conf_key_once(const char *section, const char *const *keys, size_t nkeys, const char *repeatable,
		  unsigned *seen, const char *key, const char *value, char *msg, size_t len);
/* Keys of [check] and [perspective NAME]: 1 when taken, 0 with the reason in msg. */
int conf_other_key(struct conf *c, const char *section, const char *key, const char *value,
		   char *msg, size_t len);
int conf_validate_check(const struct conf *c, struct err *e);
