/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow events in skiffd (include/skiff/events.h): a thread drains the kernel's ring buffer,
 * joins the two parts of a fast-path connection's CLOSED event, names pods and policies, and
 * keeps the last FLOWS_HISTORY events. The admin port hands it GET /flows connections, which it
 * answers with JSON lines (filtered here, not by the client), and keeps open with follow=1.
 *
 * Why a thread and not the agent loop: the loop stops for a whole reload (a big snapshot's
 * compile takes seconds), and a ring nobody drains for that long drops what the kernel writes;
 * a follower would also see nothing meanwhile. The thread waits in epoll on the ring's fd and
 * on an eventfd the loop pokes when it hands over a client, and touches nothing of the agent's
 * but the names table the loop gives it after each apply (under the table's lock).
 */
#ifndef SKIFF_FLOWS_H
#define SKIFF_FLOWS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "skiff/events.h"

#define FLOWS_HISTORY	    10000
#define FLOWS_MAX_FOLLOWERS 16

struct flows;

/* The names of one configuration, built by the agent (flows_names_* then flows_names_set). */
struct flows_names;
struct flows_names *flows_names_new(void);
/* Local pod `ns/name` is workload `wl` (skiff_pod.workload_id). */
int flows_names_workload(struct flows_names *n, uint32_t wl, const char *ns, const char *name);
/* Pod `ns/name` (any node) has address `ip` (text). */
int flows_names_addr(struct flows_names *n, const char *ip, const char *ns, const char *name);
/* AuthorizationPolicy with kernel id `id` (its index + 1) is `ns/name`. */
int flows_names_policy(struct flows_names *n, uint32_t id, const char *ns, const char *name);
void flows_names_free(struct flows_names *n);

/* Start reading the ring `ring_fd` (the pinned skiff_events). `node` names this node in events. */
int flows_open(int ring_fd, const char *node, struct flows **out);
/* Install `n` (owned by flows now) for the events that follow. */
void flows_names_set(struct flows *f, struct flows_names *n);
/* GET /flows?QUERY on `fd` (the request read, nothing answered yet): flows owns fd now. */
void flows_serve(struct flows *f, int fd, const char *query);
/* Events published by kind (index enum skiff_ev_kind), and CLOSED parts that found no partner. */
void flows_counts(struct flows *f, uint64_t kinds[SKIFF_EV_KINDS], uint64_t *orphans);
void flows_close(struct flows *f);
/* Call fn for every CLOSED event as shown (the parts of a fast-path connection joined), on
 * the reader's thread, with both ends' "ns/pod" ("" when not a pod) and the realtime ms of
 * the close. fn must not block: the ring fills meanwhile. */
typedef void (*flows_closed_fn)(void *ctx, const struct skiff_event *e, int64_t ms, const char *src,
				const char *dst);
void flows_on_closed(struct flows *f, flows_closed_fn fn, void *ctx);

/* The filter of a /flows request (flows_filter.c). */
struct flows_filter {
	char ns[64];
	char pod[256];
	char verdict[16]; /* forwarded, denied, dropped; "" any */
	int64_t since_ms; /* realtime ms; 0: the whole history */
	int follow;
};
int flows_filter_parse(const char *query, struct flows_filter *ft, char *err, size_t errlen);

/* skiffctl observe (flows_cli.c). */
int flows_cli_observe(int argc, char **argv, FILE *out, FILE *err);

#endif
