/* SPDX-License-Identifier: Apache-2.0 */
/* The router's upstream sets, shared by route_lb.c (balancing, outliers) and route_lb_pool.c
 * (connection pools). Private to user/l7route. */
#ifndef SKIFF_L7ROUTE_LB_INTERNAL_H
#define SKIFF_L7ROUTE_LB_INTERNAL_H

#include <pthread.h>

#include "l7/upstream.h"
#include "l7route/route_lb.h"

struct l7r_lb {
	struct l7r_lb
	    *next; /* set once, before the entry is visible: the list is walked unlocked */
	struct l7r_lbs *owner;
	char *key;
	struct skiff_svc_key svc; /* the kernel's service port: target VIP, port, TCP */
	pthread_mutex_t lock;
	pthread_cond_t freed;	  /* a pooled connection was given back (CLOCK_MONOTONIC) */
	bool ready;		  /* set holds a built set */
	uint64_t serial;	  /* table whose destination the set was last brought to */
	struct m_tp_settings pol; /* as merged, before defaults; strings are ours */
	struct up_set set;
};

struct l7r_lbs {
	pthread_mutex_t lock;
	struct l7r_lb *head;
	l7r_eject_fn eject;
	void *ctx;
};

uint64_t l7r_lb_now_ms(void);
/* lb locked: give back a try's request and connection, and wake a pending one */
void l7r_lb_pool_release(struct l7r_lb *lb);

#endif
