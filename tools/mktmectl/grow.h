/* SPDX-License-Identifier: GPL-2.0 */
/* Growing an array by doubling, for every array mktmectl builds up. */
#ifndef MKTMECTL_GROW_H
#define MKTMECTL_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Room for element @n of *@arr (elements of @size bytes, *@cap of them
 * allocated): doubled (at least 16) when full. 0, or -ENOMEM with *@arr
 * and *@cap as they were, so the caller frees what it has.
 */
static inline int grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void **p = arr;
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < *cap || ncap > SIZE_MAX / size)
		return -ENOMEM;
	np = realloc(*p, ncap * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Room for @n elements of *@arr: grow() as many times as that takes. */
static inline int grow_to(void *arr, size_t *cap, size_t n, size_t size)
{
	while (n > *cap)
		if (grow(arr, cap, *cap, size))
			return -ENOMEM;
	return 0;
}

/*
 * Room for @n elements at once, exactly @n if it has to grow: for an array
 * whose size is known up front, which doubling would copy over and over.
 */
static inline int reserve(void *arr, size_t *cap, size_t n, size_t size)
{
	void **p = arr;
	void *np;

	if (n <= *cap)
		return 0;
	if (n > SIZE_MAX / size)
		return -ENOMEM;
	np = realloc(*p, n * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = n;
	return 0;
}

#endif
