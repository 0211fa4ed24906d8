// SPDX-License-Identifier: Apache-2.0
/*
 * Outlier ejection in the kernel path: an endpoint the per-request proxy ejected is taken out of
 * the backend slots of a service port, so new L4 connections avoid it too, and put back when the
 * ejection ends. Each change is one switch of the port's skiff_services entry to slots written
 * beforehand under its other svc_id (as dp_apply_services does): a connect sees the old slots
 * or the new ones, never a mix.
 *
 * The slots are rebuilt from what the maps hold (dp_eject_slots.c): on a weighted port the
 * endpoint's slots stay, marked out, and their share goes to the other endpoints of the same
 * route destination; a Maglev port gets a new table over the endpoints left, which moves only the
 * ejected endpoint's clients. Ejections are remembered and imposed on every new generation
 * before it is switched to, so a config change during an ejection does not bring the endpoint
 * back. An in-place rewrite (dp_apply_services) imposes them right after its switch: for that
 * moment a connect may still pick the endpoint.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

/* The port's slots in generation `gen` (ps->v, as stored). */
static int port_read(struct dataplane *dp, unsigned int gen, const struct skiff_svc_key *key,
		     struct dp_port_slots *ps)
{
	int sfd = bpf_map__fd(dp->skel->maps.skiff_services);
	int bfd = bpf_map__fd(dp->skel->maps.skiff_backends);

	memset(ps, 0, sizeof(*ps));
	ps->key = *key;
	ps->key.gen = gen;
	if (bpf_map_lookup_elem(sfd, &ps->key, &ps->svc))
		return -ENOENT;
	ps->v = calloc(ps->svc.count + 1, sizeof(*ps->v)); /* room for one more (a return) */
	if (!ps->v)
		return -ENOMEM;
	for (__u32 s = 0; s < ps->svc.count; s++) {
		struct skiff_backend_key bk = {.gen = gen, .svc_id = ps->svc.svc_id, .slot = s};

		if (bpf_map_lookup_elem(bfd, &bk, &ps->v[s]))
			return -EIO;
	}
	ps->n = ps->svc.count;
	return 0;
}

/* Write ps->v under the port's other svc_id, switch its entry to them, drop the old ones. */
static int port_switch(struct dataplane *dp, const struct dp_port_slots *ps)
{
	int sfd = bpf_map__fd(dp->skel->maps.skiff_services);
	int bfd = bpf_map__fd(dp->skel->maps.skiff_backends);
	struct skiff_svc val = ps->svc;
	__u32 base = ps->svc.svc_id % SKIFF_SVC_ID_ALT;

	val.svc_id = ps->svc.svc_id == base ? base + SKIFF_SVC_ID_ALT : base;
	val.count = (__u32)ps->n;
	val.weight_total = ps->n ? ps->v[ps->n - 1].weight_end : 0;
	val.flags =
	    ps->n ? val.flags & ~SKIFF_SVC_F_NO_BACKENDS : val.flags | SKIFF_SVC_F_NO_BACKENDS;
	for (__u32 s = 0; s < ps->n; s++) {
		struct skiff_backend_key bk = {.gen = ps->key.gen, .svc_id = val.svc_id, .slot = s};

		if (bpf_map_update_elem(bfd, &bk, &ps->v[s], BPF_ANY))
			return -errno;
	}
	if (bpf_map_update_elem(sfd, &ps->key, &val, BPF_ANY))
		return -errno;
	for (__u32 s = 0; s < ps->svc.count; s++) {
		struct skiff_backend_key bk = {
		    .gen = ps->key.gen, .svc_id = ps->svc.svc_id, .slot = s};

		bpf_map_delete_elem(bfd, &bk);
	}
	return 0;
}

/* Take `ep` out of (out) or put it back into (!out) the port's slots in generation `gen`.
 * -ENOENT when it is not a backend of the port; 0 when there was nothing to change. */
static int port_edit(struct dataplane *dp, unsigned int gen, const struct skiff_svc_key *key,
		     const struct skiff_sock_origin *ep, bool out)
{
	struct dp_port_slots ps;
	int err = port_read(dp, gen, key, &ps);

	if (!err)
		err = ps.svc.flags & SKIFF_SVC_F_MAGLEV ? dp_eject_maglev(&ps, ep, out)
							: dp_eject_weighted(&ps, ep, out);
	if (err == 1)
		err = port_switch(dp, &ps);
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
		err = port_edit(dp, dp->gen, svc, ep, true);
		if (!err)
			dp->nejections++;
		return err;
	}
	if (out)
		return 0;
	if (e)
		*e = dp->ejections[--dp->nejections];
	return port_edit(dp, dp->gen, svc, ep, false);
}

void dp_ejections_impose(struct dataplane *dp, unsigned int gen)
{
	for (size_t i = 0; i < dp->nejections; i++) {
		struct dp_ejection *e = &dp->ejections[i];
		int err = port_edit(dp, gen, &e->key, &e->ep, true);

		if (err && err != -ENOENT)
			fprintf(stderr,
				"dataplane: cannot keep an ejected endpoint out of its "
				"service's backends: %s\n",
				strerror(-err));
	}
}
