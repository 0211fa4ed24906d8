// SPDX-License-Identifier: Apache-2.0
/*
 * The "filter" for a connection that turns out not to be HTTP although its destination's
 * policies have HTTP rules (a raw TCP port of the same pod, a server-first protocol): decided
 * once, as a TCP connection (Istio's L4 treatment: ALLOW rules with HTTP fields are dropped,
 * DENY rules lose them), then bytes pass untouched both ways. A denied connection is closed
 * before any of its bytes reach the pod.
 */
#include <stdlib.h>

#include "l7/l7_filter.h"

struct l7_filter {
	bool allowed;
	struct l7_counts counts;
};

static struct l7_filter *tcp_open(const struct l7_decider *d)
{
	struct l7_filter *f = calloc(1, sizeof(*f));
	struct authz_request rq = {.tcp = true};

	if (!f)
		return NULL;
	f->allowed = d->decide(d->ctx, &rq, NULL, 0);
	f->counts.requests = 1;
	f->counts.denied = !f->allowed;
	return f;
}

static int tcp_from_client(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_up,
			   struct l7_buf *to_client)
{
	(void)to_client;
	return f->allowed ? l7_buf_put(to_up, in, len) : 0;
}

static int tcp_from_upstream(struct l7_filter *f, const uint8_t *in, size_t len,
			     struct l7_buf *to_client, struct l7_buf *to_up)
{
	(void)to_up;
	return f->allowed ? l7_buf_put(to_client, in, len) : 0;
}

static bool tcp_done(const struct l7_filter *f)
{
	return !f->allowed;
}

static const struct l7_counts *tcp_counts(const struct l7_filter *f)
{
	return &f->counts;
}

static void tcp_close(struct l7_filter *f)
{
	free(f);
}

const struct l7_filter_ops l7_tcp_ops = {
    .name = "tcp",
    .open = tcp_open,
    .from_client = tcp_from_client,
    .from_upstream = tcp_from_upstream,
    .done = tcp_done,
    .counts = tcp_counts,
    .close = tcp_close,
};
