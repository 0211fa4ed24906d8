// SPDX-License-Identifier: Apache-2.0
/*
 * Outlier ejection in the kernel path: an endpoint the per-request proxy ejected is taken out of
 * the backend slots of a service port, so new L4 connections avoid it too, and put back when the
 * ejection ends. Each change is one switch of the port's skiff_services entry to slots written
 * beforehand under its other svc_id (as dp_apply_services does): a connect sees the old slots
 * or the new ones, never a mix.
 *
 * The slots are rebuilt from what the maps hold: a weighted port loses the endpoint's slots (its
 * weight is remembered for the return), a Maglev port gets a new table over the endpoints left,
 * which moves only the ejected endpoint's clients. Ejections are remembered and imposed on every
 * new generation before it is switched to, so a config change during an ejection does not bring
 * the endpoint back. An in-place rewrite (dp_apply_services) imposes them right after its
 * switch: for that moment a connect may still pick the endpoint.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "l7/upstream.h"
#include "sock_lb.skel.h"

struct slot {
	struct skiff_backend be;
	__u32 weight;
};

struct port_state {
	struct skiff_svc_key key; /* in the generation in force */
	struct skiff_svc svc;
	struct slot *v;
	size_t n;
};

static bool same_ep(const struct skiff_backend *b, const struct skiff_sock_origin *ep)
{
	return b->family == ep->family && b->port == ep->port &&
	       !memcmp(&b->addr, &ep->addr, sizeof(b->addr));
}

/* The port's slots in generation `gen`; a Maglev table reads as its distinct backends. */
static int port_read(struct dataplane *dp, unsigned int gen, const struct skiff_svc_key *key,
		     struct port_state *ps)
{
	int sfd = bpf_map__fd(dp->skel->maps.skiff_services);
	int bfd = bpf_map__fd(dp->skel->maps.skiff_backends);
	bool maglev;
	__u32 prev = 0;

	memset(ps, 0, sizeof(*ps));
	ps->key = *key;
	ps->key.gen = gen;
	if (bpf_map_lookup_elem(sfd, &ps->key, &ps->svc))
		return -ENOENT;
	maglev = ps->svc.flags & SKIFF_SVC_F_MAGLEV;
	ps->v = calloc(ps->svc.count + 1, sizeof(*ps->v));
	if (!ps->v)
		return -ENOMEM;
	for (__u32 s = 0; s < ps->svc.count; s++) {
		struct skiff_backend_key bk = {.gen = gen, .svc_id = ps->svc.svc_id, .slot = s};
		struct skiff_backend b;
		bool seen = false;

		if (bpf_map_lookup_elem(bfd, &bk, &b))
			return -EIO;
		for (size_t i = 0; maglev && i < ps->n; i++)
			seen |= !memcmp(&ps->v[i].be, &b, offsetof(struct skiff_backend, weight_end));
		if (!seen)
			ps->v[ps->n++] = (struct slot){.be = b, .weight = b.weight_end - prev};
		prev = b.weight_end;
	}
	return 0;
}

/* Maglev's canonical order is the compiler's: by address, then port. */
static int slot_cmp(const void *pa, const void *pb)
{
	const struct slot *a = pa, *b = pb;
	int c = memcmp(&a->be.addr, &b->be.addr, sizeof(a->be.addr));

	if (c)
		return c;
	return ntohs(a->be.port) - ntohs(b->be.port);
}

/* The slots to write: the weighted ones with cumulative weights, or a new Maglev table. */
static int slots_build(struct port_state *ps, struct skiff_backend **out, __u32 *count)
{
	bool maglev = ps->svc.flags & SKIFF_SVC_F_MAGLEV;
	__u32 n = maglev && ps->n ? SKIFF_MAGLEV_SIZE : (__u32)ps->n, end = 0;
	uint32_t *table = NULL;
	uint64_t *keys = NULL;
	int err = 0;

	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	if (maglev && ps->n) {
		qsort(ps->v, ps->n, sizeof(*ps->v), slot_cmp);
		keys = calloc(ps->n, sizeof(*keys));
		table = calloc(n, sizeof(*table));
		for (size_t i = 0; keys && i < ps->n; i++) {
			struct up_addr a = {.addr = ps->v[i].be.addr,
					    .port = ntohs(ps->v[i].be.port),
					    .family = ps->v[i].be.family};

			keys[i] = up_endpoint_key(&a);
		}
		err = keys && table ? up_maglev_build(keys, ps->n, n, table) : -ENOMEM;
	}
	for (__u32 s = 0; !err && s < n; s++) {
		const struct slot *src = &ps->v[table ? table[s] : s];

		end += table ? 1 : src->weight;
		(*out)[s] = src->be;
		(*out)[s].weight_end = end;
	}
	free(keys);
	free(table);
	*count = n;
	return err;
}

/* Write `slots` under the port's other svc_id, switch its entry to them, drop the old ones. */
static int port_switch(struct dataplane *dp, struct port_state *ps,
		       const struct skiff_backend *slots, __u32 n)
{
	int sfd = bpf_map__fd(dp->skel->maps.skiff_services);
	int bfd = bpf_map__fd(dp->skel->maps.skiff_backends);
	struct skiff_svc val = ps->svc;
	__u32 base = ps->svc.svc_id % SKIFF_SVC_ID_ALT;

	val.svc_id = ps->svc.svc_id == base ? base + SKIFF_SVC_ID_ALT : base;
	val.count = n;
	val.weight_total = n ? slots[n - 1].weight_end : 0;
	val.flags = n ? val.flags & ~SKIFF_SVC_F_NO_BACKENDS : val.flags | SKIFF_SVC_F_NO_BACKENDS;
	for (__u32 s = 0; s < n; s++) {
		struct skiff_backend_key bk = {.gen = ps->key.gen, .svc_id = val.svc_id, .slot = s};

		if (bpf_map_update_elem(bfd, &bk, &slots[s], BPF_ANY))
			return -errno;
	}
	if (bpf_map_update_elem(sfd, &ps->key, &val, BPF_ANY))
		return -errno;
	for (__u32 s = 0; s < ps->svc.count; s++) {
		struct skiff_backend_key bk = {.gen = ps->key.gen, .svc_id = ps->svc.svc_id, .slot = s};

		bpf_map_delete_elem(bfd, &bk);
	}
	return 0;
}

/* Take `ep` out of (out) or put it back into (!out) the port's slots in generation `gen`;
 * *weight is what it held when taken out, and what it gets back. 0 when there was nothing to
 * change. */
static int port_edit(struct dataplane *dp, unsigned int gen, const struct skiff_svc_key *key,
		     const struct skiff_sock_origin *ep, bool out, __u32 *weight)
{
	struct skiff_backend *slots = NULL;
	struct port_state ps;
	size_t k = 0, before;
	__u32 n = 0;
	int err = port_read(dp, gen, key, &ps);

	if (err)
		goto done;
	before = ps.n;
	if (out) {
		*weight = 0;
		for (size_t i = 0; i < ps.n; i++) {
			if (same_ep(&ps.v[i].be, ep))
				*weight += ps.v[i].weight;
			else
				ps.v[k++] = ps.v[i];
		}
		ps.n = k;
		if (k == before)
			err = -ENOENT; /* not one of its backends */
	} else {
		for (size_t i = 0; i < ps.n; i++)
			if (same_ep(&ps.v[i].be, ep))
				goto done; /* there already */
		memset(&ps.v[ps.n], 0, sizeof(ps.v[0]));
		ps.v[ps.n].be.addr = ep->addr;
		ps.v[ps.n].be.port = ep->port;
		ps.v[ps.n].be.family = ep->family;
		ps.v[ps.n++].weight = *weight ? *weight : 1;
	}
	if (ps.n == before)
		goto done;
	err = slots_build(&ps, &slots, &n);
	if (!err)
		err = port_switch(dp, &ps, slots, n);
done:
	free(slots);
	free(ps.v);
	return err;
}

static struct dp_ejection *ejection_find(struct dataplane *dp, const struct skiff_svc_key *key,
					 const struct skiff_sock_origin *ep)
{
	for (size_t i = 0; i < dp->nejections; i++) {
		struct dp_ejection *e = &dp->ejections[i];

		if (!memcmp(&e->key.addr, &key->addr, sizeof(key->addr)) &&
		    e->key.port == key->port && e->key.proto == key->proto &&
		    e->key.family == key->family && !memcmp(&e->ep, ep, sizeof(*ep)))
			return e;
	}
	return NULL;
}

int dp_backend_eject(struct dataplane *dp, const struct skiff_svc_key *svc,
		     const struct skiff_sock_origin *ep, bool out)
{
	struct dp_ejection *e = ejection_find(dp, svc, ep);
	__u32 weight = e ? e->weight : 0;
	int err;

	if (!dp->gen)
		return -EAGAIN;
	if (out && !e) {
		e = realloc(dp->ejections, (dp->nejections + 1) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		dp->ejections = e;
		e = &e[dp->nejections];
		memset(e, 0, sizeof(*e));
		e->key = *svc;
		e->key.gen = 0;
		e->ep = *ep;
		err = port_edit(dp, dp->gen, svc, ep, true, &e->weight);
		if (!err)
			dp->nejections++;
		return err;
	}
	if (out)
		return 0;
	if (e)
		*e = dp->ejections[--dp->nejections];
	return port_edit(dp, dp->gen, svc, ep, false, &weight);
}

void dp_ejections_impose(struct dataplane *dp, unsigned int gen)
{
	for (size_t i = 0; i < dp->nejections; i++) {
		struct dp_ejection *e = &dp->ejections[i];
		__u32 w = 0;
		int err = port_edit(dp, gen, &e->key, &e->ep, true, &w);

		if (err && err != -ENOENT)
			fprintf(stderr, "dataplane: cannot keep an ejected endpoint out of its "
					"service's backends: %s\n", strerror(-err));
		if (w)
			e->weight = w; /* the new config's weight, for its return */
	}
}
