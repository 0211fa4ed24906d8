// SPDX-License-Identifier: Apache-2.0
/*
 * The router's per-table state (route_conn.h): each destination of the table resolved once per
 * client namespace to its upstream set and merged DestinationRule policy (l7r_lb_resolve), so
 * that a request pays for a hash and a pick, not for finding the rule, merging it, naming the set
 * and comparing it with the destination.
 *
 * The connections on one table share its plan. The current plan holds a reference of its own to
 * the table's snapshot, so it outlives short connections and the table it points at cannot be
 * freed and another allocated in its place while the plan is compared against it. The price: a
 * superseded snapshot stays in memory until the next connection brings the new table. A plan
 * whose table is no longer the one in force lives until its last connection ends. Each plan has a
 * serial that is never reused: a set remembers the serial of the table it was brought to.
 */
#include <stdint.h>
#include <stdlib.h>

#include "l7route/route_conn.h"

struct plan_entry {
	struct plan_entry *next;
	struct l7r_lb_target tg;
};

struct l7r_plan {
	const struct l7_table *t;
	void *ref; /* held by the plan; NULL: the connections' own references keep t */
	uint64_t serial;
	size_t users;	      /* connections, + 1 while it is the router's current plan */
	pthread_mutex_t lock; /* the buckets */
	struct plan_entry **bucket;
	size_t nbuckets; /* a power of two */
};

static size_t dests_of(const struct l7_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->v[i].nroutes; j++)
			n += t->v[i].routes[j].ndests;
	return n;
}

static struct l7r_plan *plan_new(const struct l7_table *t, void *ref, uint64_t serial)
{
	struct l7r_plan *p = calloc(1, sizeof(*p));
	size_t want = 2 * dests_of(t);

	if (!p)
		return NULL;
	p->nbuckets = 16;
	while (p->nbuckets < want && p->nbuckets < (1u << 20))
		p->nbuckets <<= 1;
	p->bucket = calloc(p->nbuckets, sizeof(*p->bucket));
	if (!p->bucket) {
		free(p);
		return NULL;
	}
	p->t = t;
	p->ref = ref;
	p->serial = serial;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static void plan_free(struct l7route *r, struct l7r_plan *p)
{
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct plan_entry *e, *next;

		for (e = p->bucket[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(p->bucket);
	pthread_mutex_destroy(&p->lock);
	if (p->ref)
		r->o.release(p->ref);
	free(p);
}

/* r->lock held: one user fewer; the plan to free when it was the last. */
static struct l7r_plan *plan_put_locked(struct l7r_plan *p)
{
	return p && --p->users == 0 ? p : NULL;
}

struct l7r_plan *l7r_plan_get(struct l7route *r, const struct l7_table *t)
{
	struct l7r_plan *p, *old = NULL;
	const struct l7_table *t2;
	void *ref = NULL;

	pthread_mutex_lock(&r->lock);
	p = r->plan && r->plan->t == t ? r->plan : NULL;
	if (p)
		p->users++;
	pthread_mutex_unlock(&r->lock);
	if (p)
		return p;
	/* A reference for the plan itself: the table in force again, which a reload may have
	 * replaced meanwhile (then the plan serves this connection alone). */
	t2 = r->o.acquire(r->o.ctx, &ref);
	if (t2 != t && ref) {
		r->o.release(ref);
		ref = NULL;
	}
	pthread_mutex_lock(&r->lock);
	p = plan_new(t, ref, ++r->plan_serial);
	if (p && ref) {
		p->users = 2;
		old = plan_put_locked(r->plan);
		r->plan = p;
	} else if (p) {
		p->users = 1;
	}
	pthread_mutex_unlock(&r->lock);
	if (old)
		plan_free(r, old);
	if (!p && ref)
		r->o.release(ref);
	return p;
}

void l7r_plan_put(struct l7route *r, struct l7r_plan *p)
{
	pthread_mutex_lock(&r->lock);
	p = plan_put_locked(p);
	pthread_mutex_unlock(&r->lock);
	if (p)
		plan_free(r, p);
}

void l7r_plan_drop(struct l7route *r)
{
	struct l7r_plan *p;

	pthread_mutex_lock(&r->lock);
	p = plan_put_locked(r->plan);
	r->plan = NULL;
	pthread_mutex_unlock(&r->lock);
	if (p)
		plan_free(r, p);
}

static size_t slot_of(const struct l7r_plan *p, const struct l7_dest *d, const char *ns)
{
	uint64_t h =
	    ((uintptr_t)d ^ ((uintptr_t)ns * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;

	return (size_t)(h >> 32) & (p->nbuckets - 1);
}

const struct l7r_lb_target *l7r_plan_target(struct l7route *r, struct l7r_plan *p,
					    const struct l7_dest *d, const char *client_ns)
{
	struct plan_entry *e;
	size_t s = slot_of(p, d, client_ns);

	pthread_mutex_lock(&p->lock);
	for (e = p->bucket[s]; e; e = e->next)
		if (e->tg.d == d && e->tg.client_ns == client_ns)
			break;
	if (!e && (e = calloc(1, sizeof(*e)))) {
		l7r_lb_resolve(r->lbs, p->t->m, d, client_ns, p->serial, &e->tg);
		e->next = p->bucket[s];
		p->bucket[s] = e;
	}
	pthread_mutex_unlock(&p->lock);
	return e ? &e->tg : NULL;
}

const struct l7_endpoint *l7r_plan_pick(struct l7r_conn *c, struct l7r_pick_cache *pc,
					const struct l7_dest *d, const struct l7r_request *rq,
					const struct l7_endpoint *avoid, struct l7r_lb_pick *p)
{
	const char *ns = c->src_pod ? c->src_pod->meta.ns : NULL;

	if (pc->d != d || !pc->tg) {
		pc->tg = c->plan ? l7r_plan_target(c->rt, c->plan, d, ns) : NULL;
		pc->d = d;
	}
	if (!pc->tg) /* no plan (out of memory): resolve for this request alone */
		return l7r_lb_pick(c->rt->lbs, c->t->m, d, rq, &c->client, avoid, p);
	return l7r_lb_pick_target(pc->tg, rq, &c->client, avoid, p);
}

const struct l7_endpoint *l7r_conn_pick(struct l7r_conn *c, const struct l7_dest *d,
					const struct l7r_request *rq,
					const struct l7_endpoint *avoid, struct l7r_lb_pick *p)
{
	return l7r_plan_pick(c, &c->pick, d, rq, avoid, p);
}
