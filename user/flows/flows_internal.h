/* SPDX-License-Identifier: Apache-2.0 */
/* The flows module's private parts, shared by its files. */
#ifndef SKIFF_FLOWS_INTERNAL_H
#define SKIFF_FLOWS_INTERNAL_H

#include <stdbool.h>

#include "common/strbuf.h"
#include "flows/flows.h"
#include "skiff/accel.h"

struct flows_addr {
	struct skiff_pod_ip_key key;
	char *name; /* "ns/pod" */
};

struct flows_names {
	char **wl; /* workload id -> "ns/pod" */
	size_t nwl;
	struct flows_addr *addrs; /* sorted by key once installed */
	size_t naddrs, capaddrs;
	char **pol; /* policy id - 1 -> "ns/name" */
	size_t npol;
};

/* flows_names.c: NULL when unknown */
void flows_names_sort(struct flows_names *n);
const char *flows_name_wl(const struct flows_names *n, uint32_t wl);
const char *flows_name_addr(const struct flows_names *n, const union skiff_addr *a, __u8 family);
const char *flows_name_policy(const struct flows_names *n, uint32_t id);

/* One event as shown: what filters look at, and what its JSON line is made of. The line is
 * written only when a client asks for the event (flows_rec_json): most events are never read, and
 * writing each one's line cost skiffd more CPU than the kernel spent on its connection. */
struct flows_rec {
	int64_t ms; /* realtime */
	__u8 kind;
	char src[320], dst[320]; /* "ns/pod", or "" when no pod */
	struct skiff_event e;	 /* as the kernel wrote it (CLOSED: both parts merged) */
	char *policy;		 /* DENIED: the policy's "ns/name" when known, else NULL */
	const char *node;	 /* outlives the record (the reader's own copy) */
	char *json;		 /* NULL until flows_rec_json: one line, '\n' included */
};

/* flows_record.c */
void flows_rec_build(struct flows_rec *r, const struct skiff_event *e, int64_t ms,
		     const struct flows_names *n, const char *node);
/* The record's JSON line, written on first use and kept with the record. */
const char *flows_rec_json(struct flows_rec *r);
void flows_rec_free(struct flows_rec *r);
const char *flows_verdict(__u8 kind);
bool flows_rec_match(const struct flows_rec *r, const struct flows_filter *ft);

#endif
