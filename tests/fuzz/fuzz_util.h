/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the libFuzzer targets share. Parsers that take bytes as they arrive are fed each input
 * twice, whole and in pieces, because the network cuts a stream anywhere: the pieces' lengths
 * come from a generator seeded by the input itself, so a crash replays from its input alone.
 */
#ifndef SKIFF_TESTS_FUZZ_UTIL_H
#define SKIFF_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fz_split {
	uint32_t state;
};

/* FNV-1a of the input: the seed of its pieces. */
static inline void fz_split_init(struct fz_split *s, const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	s->state = h | 1;
}

/* The next piece's length: 1 to `max`, at most `left` (xorshift32). */
static inline size_t fz_split_next(struct fz_split *s, size_t left, size_t max)
{
	size_t n;

	s->state ^= s->state << 13;
	s->state ^= s->state >> 17;
	s->state ^= s->state << 5;
	n = 1 + s->state % max;
	return n < left ? n : left;
}

/* A NUL-terminated copy of data[0..size) (NULs inside stay: C strings stop there). */
static inline char *fz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Split the input at its first `sep`: *a before, *b after (both NUL-terminated copies). */
static inline void fz_split2(const uint8_t *data, size_t size, char sep, char **a, char **b)
{
	const uint8_t *p = memchr(data, sep, size);
	size_t n = p ? (size_t)(p - data) : size;

	*a = fz_strndup(data, n);
	*b = p ? fz_strndup(p + 1, size - n - 1) : fz_strndup((const uint8_t *)"", 0);
}

#endif
