// SPDX-License-Identifier: Apache-2.0
/*
 * The wait before a retry, as Envoy's router computes it (JitteredExponentialBackOffStrategy):
 * the interval starts at the base (25 ms, or the route's retries.backoff) and doubles with each
 * retry up to the maximum (ten times the base); the wait is drawn uniformly below the interval.
 * Jitter spreads the retries of many clients that failed at once, so a struggling endpoint does
 * not get them all back in the same instant.
 */
#include "l7route/route_pick.h"

uint64_t l7r_backoff_ms(uint64_t base_ms, unsigned retry, uint32_t rnd)
{
	uint64_t max = base_ms * L7R_BACKOFF_MAX_FACTOR, iv = base_ms;

	if (!base_ms)
		return 0;
	for (unsigned i = 1; i < retry && iv < max; i++)
		iv = iv > max / 2 ? max : iv * 2;
	return rnd % iv;
}
