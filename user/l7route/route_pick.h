/* SPDX-License-Identifier: Apache-2.0 */
/* Destination and endpoint choice per request. Private to user/l7route. */
#ifndef SKIFF_L7ROUTE_PICK_H
#define SKIFF_L7ROUTE_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/compile_l7.h"

/* A destination of `r` by weight (uniform `rnd` in [0, 1)); NULL when the route has none. */
const struct l7_dest *l7r_pick_dest(const struct l7_route *r, double rnd);

/*
 * The one place an endpoint of a destination is chosen, so that DestinationRule load-balancing
 * policies can replace it: today uniformly at random among the ready endpoints, preferring one
 * not in `tried` (a retry goes to another endpoint where one exists). NULL
 * when there is none (no healthy upstream).
 */
const struct l7_endpoint *l7r_pick_endpoint(const struct l7_dest *d,
					    const struct l7_endpoint *const *tried, size_t ntried,
					    uint32_t rnd);

/* Envoy's retry back-off: base 25 ms unless retries.backoff says, at most ten times the base. */
#define L7R_BACKOFF_BASE_MS    25
#define L7R_BACKOFF_MAX_FACTOR 10
/* The wait before retry number `retry` (1: the first retry), from a uniform `rnd`: below an
 * interval that starts at base_ms and doubles per retry up to the maximum. */
uint64_t l7r_backoff_ms(uint64_t base_ms, unsigned retry, uint32_t rnd);

/* A uniform double in [0, 1) and a uniform 32-bit value, per thread. */
double l7r_rand01(void);
uint32_t l7r_rand32(void);

#endif
