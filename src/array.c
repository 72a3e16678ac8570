/* array.c: growable arrays for the ruleset, batches, state and conntrack lists; no privilege. */
#include <errno.h>
#include <stdlib.h>
#include "array.h"

int array_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 32;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
