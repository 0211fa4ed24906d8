// SPDX-License-Identifier: Apache-2.0
/*
 * The router's upstream sets (route_lb.h): one per (Service, subset, port, rule), found by name
 * so that it survives reloads, each behind its own lock because the router serves every client
 * connection on its own thread. A set is checked against the destination it is picked for on
 * every request (the endpoint list in order, the merged policy field by field): the table is
 * rebuilt with each snapshot, and an index the set returns must name the same endpoint of the
 * destination.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "l7/upstream.h"
#include "l7route/route_lb.h"
#include "l7route/route_pick.h"

struct l7r_lb {
	struct l7r_lb *next;
	char *key;
	pthread_mutex_t lock;
	bool ready;		  /* set holds a built set */
	struct m_tp_settings pol; /* as merged, before defaults; strings are ours */
	struct up_set set;
};

struct l7r_lbs {
	pthread_mutex_t lock;
	struct l7r_lb *head;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct l7r_lbs *l7r_lbs_new(void)
{
	struct l7r_lbs *b = calloc(1, sizeof(*b));

	if (b)
		pthread_mutex_init(&b->lock, NULL);
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
	       a->ring_min == b->ring_min && a->maglev_size == b->maglev_size &&
	       p->set == q->set && p->max_connections == q->max_connections &&
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
	if (lb->ready && pol_same(&lb->pol, pol)) {
		err = up_set_update(&lb->set, eps, d->neps, now_ms());
	} else {
		if (lb->ready)
			up_set_free(&lb->set);
		pol_strings_free(&lb->pol);
		lb->ready = false;
		lb->pol = *pol;
		lb->pol.lb.hash_name = pol->lb.hash_name ? strdup(pol->lb.hash_name) : NULL;
		lb->pol.lb.cookie_path = pol->lb.cookie_path ? strdup(pol->lb.cookie_path) : NULL;
		err = up_set_init(&lb->set, pol, eps, d->neps,
				  ((uint64_t)l7r_rand32() << 32) | l7r_rand32(), now_ms());
		lb->ready = !err;
	}
	free(eps);
	return err;
}

/* The merged policy for d as seen from the client, and the name of its set. */
static void policy_of(const struct model *m, const struct l7_dest *d,
		      const struct l7r_request *rq, struct m_tp_settings *pol, char *key,
		      size_t keylen)
{
	const char *subset = d->dst ? d->dst->subset : NULL;
	const struct m_destinationrule *dr =
	    m ? model_dr_for(m, d->target, rq->src_pod ? rq->src_pod->meta.ns : NULL) : NULL;

	memset(pol, 0, sizeof(*pol));
	if (dr)
		model_traffic_policy(dr, subset, d->port, pol);
	snprintf(key, keylen, "%s/%s|%s|%u|%s/%s", d->target->meta.ns, d->target->meta.name,
		 subset ? subset : "", d->port, dr ? dr->meta.ns : "", dr ? dr->meta.name : "");
}

const struct l7_endpoint *l7r_lb_pick(struct l7r_lbs *b, const struct model *m,
				      const struct l7_dest *d, const struct l7r_request *rq,
				      const struct skiff_punt_key *client,
				      const struct l7_endpoint *avoid, struct l7r_lb_pick *p)
{
	struct m_tp_settings pol;
	struct l7r_lb *lb;
	uint64_t h;
	bool hashed;
	char key[512];
	int i;

	p->lb = NULL;
	p->idx = -1;
	if (!d->neps)
		return NULL;
	policy_of(m, d, rq, &pol, key, sizeof(key));
	lb = lb_get(b, key);
	if (!lb)
		return l7r_pick_endpoint(d, avoid ? &avoid : NULL, avoid ? 1 : 0, l7r_rand32());
	hashed = pol.lb.simple == M_LB_CONSISTENT_HASH && l7r_lb_hash(&pol.lb, rq, client, &h);
	pthread_mutex_lock(&lb->lock);
	if (lb_sync(lb, &pol, d)) {
		pthread_mutex_unlock(&lb->lock);
		return l7r_pick_endpoint(d, avoid ? &avoid : NULL, avoid ? 1 : 0, l7r_rand32());
	}
	i = up_pick(&lb->set, hashed ? &h : NULL, avoid ? (int)(avoid - d->eps) : -1);
	if (i >= 0) {
		up_request_begin(&lb->set, i);
		p->lb = lb;
		p->idx = i;
	}
	pthread_mutex_unlock(&lb->lock);
	if (i == UP_PASSTHROUGH)
		return l7r_pick_endpoint(d, avoid ? &avoid : NULL, avoid ? 1 : 0, l7r_rand32());
	return i >= 0 && (size_t)i < d->neps ? &d->eps[i] : NULL;
}

void l7r_lb_end(struct l7r_lb_pick *p)
{
	if (!p->lb)
		return;
	pthread_mutex_lock(&p->lb->lock);
	up_request_end(&p->lb->set, p->idx);
	pthread_mutex_unlock(&p->lb->lock);
	p->lb = NULL;
}
