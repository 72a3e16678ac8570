/* array.h: room for one more element in a growable array (doubling). */
#pragma once
#include <stddef.h>

/* Makes *arr hold at least n + 1 elements of size bytes; returns 0 or -ENOMEM, in which case
 * *arr and *cap are unchanged. */
int array_grow(void **arr, size_t *cap, size_t n, size_t size);
