// SPDX-License-Identifier: Apache-2.0
/*
 * The router's upstream sets (route_lb.h): one per (Service, subset, port, rule), found by name
 * so that it survives reloads, each behind its own lock because the router serves every client
 * connection on its own thread. Which set a destination uses and its merged policy depend only
 * on the table and the client's namespace: the router resolves them once per table
 * (l7r_lb_resolve, route_plan.c), which also brings the set to the destination's endpoints in
 * order and to the policy field by field. A request then only hashes and picks; it checks the set
 * against its destination again only when a request under another table (a connection older or
 * newer than the last reload) used the set last, since an index the set returns must name the
 * same endpoint of the destination.
 *
 * Outlier detection ejects from inside a set, under its lock; the set's callback hands the
 * event to the owner (the agent, which takes the endpoint out of the kernel's backends for the
 * Service's VIP and port). An ejected endpoint that leaves a set (its pod went, or the policy
 * changed and the set is rebuilt) is handed back first, so the kernel never keeps it out for a
 * set that no longer remembers it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "l7/upstream.h"
#include "l7route/route_lb_internal.h"
#include "l7route/route_pick.h"


uint64_t l7r_lb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct l7r_lbs *l7r_lbs_new(l7r_eject_fn eject, void *ctx)
{
	struct l7r_lbs *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	b->eject = eject;
	b->ctx = ctx;
	return b;
}

static void pol_strings_free(struct m_tp_settings *p)
{
	free(p->lb.hash_name);
	free(p->lb.cookie_path);
	p->lb.hash_name = p->lb.cookie_path = NULL;
}

void l7r_lbs_free(struct l7r_lbs *b)
{
	struct l7r_lb *lb, *next;

	if (!b)
		return;
	for (lb = b->head; lb; lb = next) {
		next = lb->next;
		if (lb->ready)
			up_set_free(&lb->set);
		pol_strings_free(&lb->pol);
		pthread_mutex_destroy(&lb->lock);
		pthread_cond_destroy(&lb->freed);
		free(lb->key);
		free(lb);
	}
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* The set named `key`, made (empty) on first use. NULL: out of memory. */
static struct l7r_lb *lb_get(struct l7r_lbs *b, const char *key)
{
	struct l7r_lb *lb;

	pthread_mutex_lock(&b->lock);
	for (lb = b->head; lb; lb = lb->next)
		if (!strcmp(lb->key, key))
			break;
	if (!lb) {
		lb = calloc(1, sizeof(*lb));
		if (lb && !(lb->key = strdup(key))) {
			free(lb);
			lb = NULL;
		}
		if (lb) {
			pthread_condattr_t ca;

			pthread_condattr_init(&ca);
			pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
			pthread_cond_init(&lb->freed, &ca);
			pthread_condattr_destroy(&ca);
			lb->owner = b;
			pthread_mutex_init(&lb->lock, NULL);
			lb->next = b->head;
			b->head = lb;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return lb;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Field by field: the structs have padding, and the strings belong to different models. */
static bool pol_same(const struct m_tp_settings *x, const struct m_tp_settings *y)
{
	const struct m_lb_policy *a = &x->lb, *b = &y->lb;
	const struct m_pool_policy *p = &x->pool, *q = &y->pool;
	const struct m_outlier_policy *o = &x->od, *r = &y->od;

	return a->set == b->set && a->simple == b->simple && a->hash_on == b->hash_on &&
	       str_same(a->hash_name, b->hash_name) && str_same(a->cookie_path, b->cookie_path) &&
	       a->cookie_ttl_ms == b->cookie_ttl_ms && a->algo == b->algo &&
	       a->ring_min == b->ring_min && a->maglev_size == b->maglev_size && p->set == q->set &&
	       p->max_connections == q->max_connections &&
	       p->connect_timeout_ms == q->connect_timeout_ms && p->keepalive == q->keepalive &&
	       p->keepalive_probes == q->keepalive_probes &&
	       p->keepalive_time_ms == q->keepalive_time_ms &&
	       p->keepalive_interval_ms == q->keepalive_interval_ms &&
	       p->http1_max_pending == q->http1_max_pending &&
	       p->http2_max_requests == q->http2_max_requests &&
	       p->max_requests_per_conn == q->max_requests_per_conn &&
	       p->max_retries == q->max_retries && p->idle_timeout_ms == q->idle_timeout_ms &&
	       o->set == r->set && o->has_5xx == r->has_5xx && o->has_gateway == r->has_gateway &&
	       o->has_local == r->has_local && o->consecutive_5xx == r->consecutive_5xx &&
	       o->consecutive_gateway == r->consecutive_gateway &&
	       o->consecutive_local == r->consecutive_local && o->split_local == r->split_local &&
	       o->interval_ms == r->interval_ms && o->base_ejection_ms == r->base_ejection_ms &&
	       o->max_ejection_pct == r->max_ejection_pct && o->min_health_pct == r->min_health_pct;
}

static void to_up_addr(const struct skiff_sock_origin *o, struct up_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->addr = o->addr;
	a->port = ntohs(o->port);
	a->family = o->family;
}

static void to_origin(const struct up_addr *a, struct skiff_sock_origin *o)
{
	memset(o, 0, sizeof(*o));
	o->addr = a->addr;
	o->port = htons(a->port);
	o->family = a->family;
}

/* up_eject_fn: an ejection or return of the set, on to the owner for the kernel */
static void on_eject(void *ctx, const struct up_set *s, const struct up_endpoint *ep, bool out)
{
	struct l7r_lb *lb = ctx;
	struct skiff_sock_origin o;

	(void)s;
	if (!lb->owner->eject || !lb->svc.family)
		return;
	to_origin(&ep->addr, &o);
	lb->owner->eject(lb->owner->ctx, &lb->svc, &o, out);
}

/* The kernel's key for the target Service's VIP of the endpoints' family (family 0: none). */
static void svc_key_of(const struct l7_dest *d, uint8_t family, struct skiff_svc_key *k)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < d->target->nips; i++) {
		int af = family == SKIFF_AF_INET ? AF_INET : AF_INET6;

		if (inet_pton(af, d->target->cluster_ips[i], &k->addr) == 1) {
			k->port = htons(d->port);
			k->proto = IPPROTO_TCP;
			k->family = family;
			return;
		}
	}
}

/* Ejected endpoints of lb's set that are not in d (all of them when `all`) are handed back. */
static void release_ejected(struct l7r_lb *lb, const struct l7_dest *d, bool all)
{
	for (size_t i = 0; lb->ready && i < lb->set.n; i++) {
		const struct up_endpoint *e = &lb->set.ep[i];
		struct skiff_sock_origin o;
		bool stays = false;

		if (!e->ejected)
			continue;
		to_origin(&e->addr, &o);
		for (size_t j = 0; !all && j < d->neps && !stays; j++)
			stays = d->eps[j].addr.family == o.family &&
				d->eps[j].addr.port == o.port &&
				!memcmp(&d->eps[j].addr.addr, &o.addr, sizeof(o.addr));
		if (!stays)
			on_eject(lb, &lb->set, e, false);
	}
}

/* Does the set hold d's endpoints, in d's order? */
static bool eps_same(const struct up_set *s, const struct l7_dest *d)
{
	struct up_addr a;

	if (s->n != d->neps)
		return false;
	for (size_t i = 0; i < d->neps; i++) {
		to_up_addr(&d->eps[i].addr, &a);
		if (s->ep[i].addr.family != a.family || s->ep[i].addr.port != a.port ||
		    memcmp(&s->ep[i].addr.addr, &a.addr, sizeof(a.addr)))
			return false;
	}
	return true;
}

/* Bring lb (locked) to policy `pol` and d's endpoints: a new policy starts a new set, new
 * endpoints keep the state of those that stay. 0 or -ENOMEM (the set is then unusable). */
static int lb_sync(struct l7r_lb *lb, const struct m_tp_settings *pol, const struct l7_dest *d)
{
	struct up_addr *eps;
	int err;

	if (lb->ready && pol_same(&lb->pol, pol) && eps_same(&lb->set, d))
		return 0;
	eps = calloc(d->neps ? d->neps : 1, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (size_t i = 0; i < d->neps; i++)
		to_up_addr(&d->eps[i].addr, &eps[i]);
	svc_key_of(d, d->neps ? d->eps[0].addr.family : 0, &lb->svc);
	if (lb->ready && pol_same(&lb->pol, pol)) {
		release_ejected(lb, d, false);
		err = up_set_update(&lb->set, eps, d->neps, l7r_lb_now_ms());
	} else {
		release_ejected(lb, d, true);
		if (lb->ready)
			up_set_free(&lb->set);
		pol_strings_free(&lb->pol);
		lb->ready = false;
		lb->pol = *pol;
		lb->pol.lb.hash_name = pol->lb.hash_name ? strdup(pol->lb.hash_name) : NULL;
		lb->pol.lb.cookie_path = pol->lb.cookie_path ? strdup(pol->lb.cookie_path) : NULL;
		err = up_set_init(&lb->set, pol, eps, d->neps,
				  ((uint64_t)l7r_rand32() << 32) | l7r_rand32(), l7r_lb_now_ms());
		lb->ready = !err;
		if (!err)
			up_set_on_eject(&lb->set, on_eject, lb);
	}
	free(eps);
	return err;
}

void l7r_lb_resolve(struct l7r_lbs *b, const struct model *m, const struct l7_dest *d,
		    const char *client_ns, uint64_t serial, struct l7r_lb_target *tg)
{
	const char *subset = d->dst ? d->dst->subset : NULL;
	const struct m_destinationrule *dr = m ? model_dr_for(m, d->target, client_ns) : NULL;
	char key[512];

	memset(tg, 0, sizeof(*tg));
	tg->d = d;
	tg->client_ns = client_ns;
	tg->serial = serial;
	if (dr)
		model_traffic_policy(dr, subset, d->port, &tg->pol);
	snprintf(key, sizeof(key), "%s/%s|%s|%u|%s/%s", d->target->meta.ns, d->target->meta.name,
		 subset ? subset : "", d->port, dr ? dr->meta.ns : "", dr ? dr->meta.name : "");
	tg->lb = lb_get(b, key);
	if (!tg->lb)
		return;
	pthread_mutex_lock(&tg->lb->lock);
	if (!lb_sync(tg->lb, &tg->pol, d))
		tg->lb->serial = serial;
	pthread_mutex_unlock(&tg->lb->lock);
}

static const struct l7_endpoint *pick_uniform(const struct l7_dest *d,
					      const struct l7_endpoint *avoid)
{
	return l7r_pick_endpoint(d, avoid ? &avoid : NULL, avoid ? 1 : 0, l7r_rand32());
}

const struct l7_endpoint *l7r_lb_pick_target(const struct l7r_lb_target *tg,
					     const struct l7r_request *rq,
					     const struct skiff_punt_key *client,
					     const struct l7_endpoint *avoid, struct l7r_lb_pick *p)
{
	const struct l7_dest *d = tg->d;
	struct l7r_lb *lb = tg->lb;
	uint64_t h;
	bool hashed;
	int i;

	p->lb = NULL;
	p->idx = -1;
	p->admitted = false;
	if (!lb)
		return d->neps ? pick_uniform(d, avoid) : NULL;
	hashed =
	    tg->pol.lb.simple == M_LB_CONSISTENT_HASH && l7r_lb_hash(&tg->pol.lb, rq, client, &h);
	pthread_mutex_lock(&lb->lock);
	/* Requests under an older or newer table may have moved the set to their endpoints */
	if (!tg->serial || lb->serial != tg->serial) {
		if (lb_sync(lb, &tg->pol, d)) {
			pthread_mutex_unlock(&lb->lock);
			return pick_uniform(d, avoid);
		}
		lb->serial = tg->serial;
	}
	i = up_pick(&lb->set, hashed ? &h : NULL, avoid ? (int)(avoid - d->eps) : -1);
	if (i >= 0) {
		up_request_begin(&lb->set, i);
		p->lb = lb;
		p->idx = i;
		p->ep = d->eps[i].addr;
	}
	pthread_mutex_unlock(&lb->lock);
	if (i == UP_PASSTHROUGH)
		return pick_uniform(d, avoid);
	return i >= 0 && (size_t)i < d->neps ? &d->eps[i] : NULL;
}

const struct l7_endpoint *l7r_lb_pick(struct l7r_lbs *b, const struct model *m,
				      const struct l7_dest *d, const struct l7r_request *rq,
				      const struct skiff_punt_key *client,
				      const struct l7_endpoint *avoid, struct l7r_lb_pick *p)
{
	struct l7r_lb_target tg;

	l7r_lb_resolve(b, m, d, rq->src_pod ? rq->src_pod->meta.ns : NULL, 0, &tg);
	return l7r_lb_pick_target(&tg, rq, client, avoid, p);
}

/* Is p's index still its endpoint (a reload may have updated the set)? lb locked. */
static bool pick_valid(const struct l7r_lb_pick *p)
{
	const struct up_endpoint *e;
	struct up_addr a;

	if (!p->lb->ready || p->idx < 0 || (size_t)p->idx >= p->lb->set.n)
		return false;
	e = &p->lb->set.ep[p->idx];
	to_up_addr(&p->ep, &a);
	return e->addr.family == a.family && e->addr.port == a.port &&
	       !memcmp(&e->addr.addr, &a.addr, sizeof(a.addr));
}

void l7r_lb_end(struct l7r_lb_pick *p)
{
	if (!p->lb)
		return;
	pthread_mutex_lock(&p->lb->lock);
	if (p->admitted)
		l7r_lb_pool_release(p->lb);
	p->admitted = false;
	if (pick_valid(p))
		up_request_end(&p->lb->set, p->idx);
	pthread_mutex_unlock(&p->lb->lock);
	p->lb = NULL;
}

void l7r_lb_report(struct l7r_lb_pick *p, int outcome)
{
	if (!p->lb)
		return;
	pthread_mutex_lock(&p->lb->lock);
	if (pick_valid(p))
		up_report(&p->lb->set, p->idx, (enum up_outcome)outcome, l7r_lb_now_ms());
	pthread_mutex_unlock(&p->lb->lock);
}

void l7r_lbs_tick(struct l7r_lbs *b)
{
	struct l7r_lb *lb;
	uint64_t now = l7r_lb_now_ms();

	pthread_mutex_lock(&b->lock);
	lb = b->head; /* entries are only ever added at the head, and never freed before b */
	pthread_mutex_unlock(&b->lock);
	for (; lb; lb = lb->next) {
		pthread_mutex_lock(&lb->lock);
		if (lb->ready && lb->set.pol.od.set && now >= up_next_tick(&lb->set))
			up_tick(&lb->set, now);
		pthread_mutex_unlock(&lb->lock);
	}
}
