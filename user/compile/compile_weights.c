// SPDX-License-Identifier: Apache-2.0
/*
 * Route weights -> integer per-slot weights.
 *
 * A slot's ideal weight is num/den: its destination's route weight split over the destination's
 * den slots. Multiplying every ideal weight by the lcm of the dens gives integers with the exact
 * ratios; dividing by their gcd gives the smallest such integers (90/10 over 1+1 pods -> 9 and 1;
 * over 2+3 pods -> 27,27 and 2,2,2). Only when that exact total exceeds SKIFF_WEIGHT_TOTAL_MAX do
 * we round, with largest remainders, keeping every slot at >= 1 so no ready backend starves.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"

typedef unsigned __int128 u128;

/* Beyond this lcm we stop being exact and use ratios accurate to about 1e-12 instead. */
#define LCM_CAP (1ull << 40)

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static u128 gcd128(u128 a, u128 b)
{
	while (b) {
		u128 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* lcm of all dens, or 0 when it passes LCM_CAP. */
static uint64_t dens_lcm(const struct cc_slot *s, size_t n)
{
	uint64_t l = 1;

	for (size_t i = 0; i < n; i++) {
		uint64_t den = s[i].den;

		l = l / gcd64(l, den) * den;
		if (l > LCM_CAP)
			return 0;
	}
	return l;
}

struct rem {
	u128 r;
	size_t idx;
};

static int rem_cmp(const void *pa, const void *pb)
{
	const struct rem *a = pa, *b = pb;

	if (a->r != b->r)
		return a->r > b->r ? -1 : 1;
	return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Scale exact weights e (sum t) into at most SKIFF_WEIGHT_TOTAL_MAX: one unit per slot, the
 * rest shared in proportion, leftover units to the largest remainders. */
static int scale_down(struct cc_slot *s, const u128 *e, size_t n, u128 t)
{
	uint64_t budget = SKIFF_WEIGHT_TOTAL_MAX - n, used = 0;
	struct rem *rems = calloc(n, sizeof(*rems));

	if (!rems)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		u128 x = e[i] * budget;
		uint64_t q = (uint64_t)(x / t);

		s[i].weight = (uint32_t)(1 + q);
		used += q;
		rems[i] = (struct rem){.r = x % t, .idx = i};
	}
	qsort(rems, n, sizeof(*rems), rem_cmp);
	for (size_t i = 0; used < budget && i < n; i++, used++)
		s[rems[i].idx].weight++;
	free(rems);
	return 0;
}

int compile_weights_normalize(struct cc_slot *s, size_t n)
{
	uint64_t l;
	u128 *e, g = 0, t = 0;
	int err = 0;

	if (!n || n > SKIFF_MAX_BACKEND_SLOTS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!s[i].num || !s[i].den || s[i].num > UINT32_MAX)
			return -EINVAL;
	e = calloc(n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	l = dens_lcm(s, n);
	for (size_t i = 0; i < n; i++) {
		if (l)
			e[i] = (u128)s[i].num * (l / s[i].den);
		else
			e[i] = (u128)s[i].num * LCM_CAP / s[i].den;
		g = gcd128(g, e[i]);
	}
	if (!g) { /* every share rounded to 0 (denominators past 2^40 times the numerators) */
		free(e);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		e[i] /= g;
		t += e[i];
	}
	if (t <= SKIFF_WEIGHT_TOTAL_MAX) {
		for (size_t i = 0; i < n; i++)
			s[i].weight = (uint32_t)e[i];
	} else {
		err = scale_down(s, e, n, t);
	}
	free(e);
	return err;
}
