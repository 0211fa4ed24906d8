// SPDX-License-Identifier: Apache-2.0
/* The names flow events are shown with: pods by workload id and by address, policies by id.
 * Built by the agent after each apply; copies, so a snapshot may go while events still name it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "flows/flows_internal.h"

struct flows_names *flows_names_new(void)
{
	return calloc(1, sizeof(struct flows_names));
}

static char *ns_name(const char *ns, const char *name)
{
	char *s;

	return asprintf(&s, "%s/%s", ns, name) < 0 ? NULL : s;
}

/* Put "ns/name" at (*arr)[i], growing the array to i + 1. */
static int slot_set(char ***arr, size_t *n, size_t i, const char *ns, const char *name)
{
	if (i >= *n) {
		char **na = realloc(*arr, (i + 1) * sizeof(*na));

		if (!na)
			return -ENOMEM;
		memset(na + *n, 0, (i + 1 - *n) * sizeof(*na));
		*arr = na;
		*n = i + 1;
	}
	free((*arr)[i]);
	(*arr)[i] = ns_name(ns, name);
	return (*arr)[i] ? 0 : -ENOMEM;
}

int flows_names_workload(struct flows_names *n, uint32_t wl, const char *ns, const char *name)
{
	return slot_set(&n->wl, &n->nwl, wl, ns, name);
}

int flows_names_policy(struct flows_names *n, uint32_t id, const char *ns, const char *name)
{
	return id ? slot_set(&n->pol, &n->npol, id - 1, ns, name) : -EINVAL;
}

int flows_names_addr(struct flows_names *n, const char *ip, const char *ns, const char *name)
{
	struct flows_addr *a;
	union skiff_addr u;
	int fam = addr_parse(ip, &u);

	if (fam != SKIFF_AF_INET && fam != SKIFF_AF_INET6)
		return -EINVAL;
	if (n->naddrs == n->capaddrs) {
		size_t cap = n->capaddrs ? 2 * n->capaddrs : 64;

		a = realloc(n->addrs, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		n->addrs = a;
		n->capaddrs = cap;
	}
	a = &n->addrs[n->naddrs];
	memset(&a->key, 0, sizeof(a->key));
	a->key.addr = u;
	a->key.family = (__u8)fam;
	a->name = ns_name(ns, name);
	if (!a->name)
		return -ENOMEM;
	n->naddrs++;
	return 0;
}

static int addr_cmp(const void *pa, const void *pb)
{
	const struct flows_addr *a = pa, *b = pb;

	return memcmp(&a->key, &b->key, sizeof(a->key));
}

void flows_names_sort(struct flows_names *n)
{
	if (n->naddrs)
		qsort(n->addrs, n->naddrs, sizeof(*n->addrs), addr_cmp);
}

const char *flows_name_wl(const struct flows_names *n, uint32_t wl)
{
	return n && wl && wl < n->nwl ? n->wl[wl] : NULL;
}

const char *flows_name_policy(const struct flows_names *n, uint32_t id)
{
	return n && id && id - 1 < n->npol ? n->pol[id - 1] : NULL;
}

const char *flows_name_addr(const struct flows_names *n, const union skiff_addr *a, __u8 family)
{
	struct flows_addr k, *hit;

	if (!n || !n->naddrs)
		return NULL;
	memset(&k.key, 0, sizeof(k.key));
	k.key.addr = *a;
	k.key.family = family;
	hit = bsearch(&k, n->addrs, n->naddrs, sizeof(*n->addrs), addr_cmp);
	return hit ? hit->name : NULL;
}

void flows_names_free(struct flows_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nwl; i++)
		free(n->wl[i]);
	for (size_t i = 0; i < n->naddrs; i++)
		free(n->addrs[i].name);
	for (size_t i = 0; i < n->npol; i++)
		free(n->pol[i]);
	free(n->wl);
	free(n->addrs);
	free(n->pol);
	free(n);
}
