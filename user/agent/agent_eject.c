// SPDX-License-Identifier: Apache-2.0
/*
 * Outlier ejections from the L7 router into the kernel's backends. The router decides on its own
 * threads, under a balancer's lock; the dataplane is the agent loop's alone (no lock guards its
 * maps and generations). So each ejection or return is queued here and an eventfd wakes the
 * loop, which applies them in order with dp_backend_eject.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include "agent/agent_state.h"
#include "common/addr.h"

struct eject_ev {
	struct skiff_svc_key svc;
	struct skiff_sock_origin ep;
	bool out;
};

struct agent_eject {
	pthread_mutex_t lock;
	int fd;
	struct eject_ev *q;
	size_t n, cap;
};

int agent_eject_open(struct agent *a)
{
	struct agent_eject *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->fd < 0) {
		int err = -errno;

		agent_log("error", "outlier ejections: no eventfd: %s", strerror(errno));
		free(e);
		return err;
	}
	pthread_mutex_init(&e->lock, NULL);
	a->eject = e;
	return 0;
}

/* After the router stopped: nobody pushes any more. */
void agent_eject_close(struct agent *a)
{
	struct agent_eject *e = a->eject;

	if (!e)
		return;
	close(e->fd);
	pthread_mutex_destroy(&e->lock);
	free(e->q);
	free(e);
	a->eject = NULL;
}

int agent_eject_fd(const struct agent *a)
{
	return a->eject ? a->eject->fd : -1;
}

/* l7route_opts.eject: any thread. An event that finds no memory is dropped with a log line
 * (the router's own picks still avoid the endpoint). */
void agent_eject_push(void *ctx, const struct skiff_svc_key *svc,
		      const struct skiff_sock_origin *ep, bool out)
{
	struct agent *a = ctx;
	struct agent_eject *e = a->eject;
	uint64_t one = 1;
	bool ok = true;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct eject_ev *q = realloc(e->q, cap * sizeof(*q));

		ok = q != NULL;
		if (ok) {
			e->q = q;
			e->cap = cap;
		}
	}
	if (ok)
		e->q[e->n++] = (struct eject_ev){.svc = *svc, .ep = *ep, .out = out};
	pthread_mutex_unlock(&e->lock);
	if (ok)
		(void)!write(e->fd, &one, sizeof(one));
	else
		agent_log("error", "outlier ejection lost (out of memory): the kernel path keeps "
				   "the endpoint");
}

static void apply_one(struct agent *a, const struct eject_ev *ev)
{
	char vip[80], ep[80];
	int err = dp_backend_eject(a->dp, &ev->svc, &ev->ep, ev->out);

	addr_endpoint(&ev->svc.addr, ev->svc.family, ntohs(ev->svc.port), vip, sizeof(vip));
	addr_endpoint(&ev->ep.addr, ev->ep.family, ntohs(ev->ep.port), ep, sizeof(ep));
	if (err)
		agent_log("error", "outlier detection: %s %s for %s in the kernel failed: %s",
			  ev->out ? "ejecting" : "returning", ep, vip, strerror(-err));
	else
		agent_log("info", "outlier detection: %s %s for service %s",
			  ev->out ? "ejected" : "returned", ep, vip);
}

/* The agent loop: apply what the router queued. */
void agent_eject_drain(struct agent *a)
{
	struct agent_eject *e = a->eject;
	struct eject_ev *q;
	uint64_t v;
	size_t n;

	if (!e)
		return;
	(void)!read(e->fd, &v, sizeof(v));
	pthread_mutex_lock(&e->lock);
	q = e->q;
	n = e->n;
	e->q = NULL;
	e->n = e->cap = 0;
	pthread_mutex_unlock(&e->lock);
	for (size_t i = 0; i < n; i++)
		apply_one(a, &q[i]);
	free(q);
}
