// SPDX-License-Identifier: Apache-2.0
/*
 * How every mirror copy starts, for HTTP/1.1 (route_mirror.c) and HTTP/2 (route_h2_mirror.c):
 * an endpoint of the mirror's destination picked uniformly, the router, the client and that
 * endpoint copied into a job of its own (the connection may end before the copy does), and a
 * detached thread with a small stack, since a copy is fire and forget and many may be under way.
 */
#include <pthread.h>
#include <stdlib.h>

#include "l7route/route_conn.h"
#include "l7route/route_pick.h"

/* A copy's thread only builds a request and reads a response into a fixed buffer. */
#define MIRROR_STACK (128u << 10)

void l7r_mirror_spawn(struct l7r_conn *c, const struct l7_dest *d, const struct l7r_mirror_ops *ops,
		      void *arg)
{
	const struct l7_endpoint *ep = l7r_pick_endpoint(d, NULL, 0, l7r_rand32());
	struct l7r_mirror *m;
	pthread_attr_t at;
	pthread_t th;
	int err;

	if (!ep || !(m = calloc(1, ops->size)))
		return;
	m->rt = c->rt;
	m->client = c->client;
	m->ep = *ep;
	err = ops->fill(m, arg);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, MIRROR_STACK);
	if (err || pthread_create(&th, &at, ops->run, m)) {
		ops->drop(m);
		free(m);
	}
	pthread_attr_destroy(&at);
}
