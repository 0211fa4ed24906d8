/* SPDX-License-Identifier: Apache-2.0 */
/* skiffctl's text output: the pure formatting of shares, fill levels and backend lists. */
#ifndef SKIFF_CTL_FMT_H
#define SKIFF_CTL_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

/* part of total as a percentage: "45 %", "33.3 %", "<0.1 %" (a non-zero share never shows as
 * 0), "0 %"; "-" when total is 0. */
void ctl_fmt_share(char *buf, size_t len, uint64_t part, uint64_t total);

/* A map's fill level: "12/65536 (99.9 % free)"; "n/a (socket storage)" when the map cannot be
 * counted (entries < 0). */
void ctl_fmt_fill(char *buf, size_t len, long entries, uint32_t max);

/* A map is short of room when less than this share of it is free. */
#define CTL_FILL_WARN_PCT 10
/* Less than CTL_FILL_WARN_PCT % of the map is free (a generation switch needs room too). */
int ctl_fill_low(long entries, uint32_t max);

struct ctl_backend {
	const char *label; /* the pod's version, else its name, else its address */
	uint32_t weight;
};

/* "payments/payments-api:80 → 3 backends (v1 45 %, v1 45 %, v2 10 %)"; a slot with a NULL
 * label is a share that no backend serves ("no backend 10 %"). `name` ends in "/TCP" as the
 * compiler writes it: TCP is left unsaid, UDP is kept. */
void ctl_fmt_service(struct strbuf *b, const char *name, const struct ctl_backend *be, size_t n,
		     uint32_t total);

/* "ns/svc:80/TCP" -> "ns/svc:80" (TCP, the usual case, unsaid); other protocols unchanged. */
void ctl_fmt_service_name(char *buf, size_t len, const char *name);

#endif
