// SPDX-License-Identifier: Apache-2.0
/*
 * compile_node_view(): model -> node view. Per Service: route once, then per port and family
 * the backend slots and their weights. A config error in one Service does not stop the others
 * from being checked, so one reload reports every problem; the view is only returned when there
 * were none.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "compile/compile_l7.h"

int compile_backends_reserve(struct node_view *out, size_t *cap, size_t more)
{
	size_t ncap = *cap ? *cap : 64;
	struct cv_backend *nv;

	if (out->nbackends + more <= *cap)
		return 0;
	while (ncap < out->nbackends + more)
		ncap *= 2;
	nv = realloc(out->backends, ncap * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	out->backends = nv;
	*cap = ncap;
	return 0;
}

/* The slots of one destination: its ready endpoints (in its subset), each holding an equal part
 * of the route weight, or one "no healthy upstream" slot holding the whole share. */
static int dest_slots(const struct cc_index *ix, const struct cc_route *r,
		      const struct cc_dest *dest, uint8_t group, const struct cc_svcport *sp,
		      struct cc_slots *slots, struct diag *d)
{
	const struct m_service_port *tp;
	size_t first = slots->n;
	struct cc_slot *s;
	int cnt;

	tp = compile_dest_port(r->vs, dest, sp->port->port, sp->port->proto, d);
	if (!tp)
		return -EINVAL;
	cnt = compile_endpoints(ix, dest->target, tp, sp->family, dest->subset, slots);
	if (cnt < 0)
		return cnt;
	if (cnt == 0) {
		s = compile_slots_push(slots);
		if (!s)
			return -ENOMEM;
		s->num = dest->weight;
		s->den = 1;
		s->group = group;
		return 0;
	}
	for (size_t i = first; i < slots->n; i++) {
		slots->v[i].num = dest->weight;
		slots->v[i].den = (uint32_t)cnt;
		slots->v[i].group = group;
	}
	return 0;
}

static int svcport_slots(const struct cc_index *ix, const struct cc_route *r,
			 const struct cc_svcport *sp, struct cc_slots *slots, struct diag *d)
{
	int err;

	if (!r->vs) {
		err = compile_endpoints(ix, sp->svc, sp->port, sp->family, NULL, slots);
		if (err < 0)
			return err;
		for (size_t i = 0; i < slots->n; i++)
			slots->v[i].num = slots->v[i].den = 1;
		return 0;
	}
	for (size_t i = 0; i < r->ndests; i++) {
		err = dest_slots(ix, r, &r->dests[i], (uint8_t)(i < 255 ? i : 255), sp, slots, d);
		if (err)
			return err;
	}
	return 0;
}

static bool all_unhealthy(const struct cc_slots *slots)
{
	for (size_t i = 0; i < slots->n; i++)
		if (slots->v[i].family)
			return false;
	return true;
}

static int emit_backends(const struct cc_slots *slots, uint32_t svc_id, struct node_view *out,
			 size_t *cap, uint32_t *total)
{
	uint32_t end = 0;
	int err = compile_backends_reserve(out, cap, slots->n);

	if (err)
		return err;
	for (size_t i = 0; i < slots->n; i++) {
		const struct cc_slot *s = &slots->v[i];
		struct cv_backend *b = &out->backends[out->nbackends];

		memset(b, 0, sizeof(*b));
		end += s->weight;
		b->key = (struct skiff_backend_key){.svc_id = svc_id, .slot = (uint32_t)i};
		b->val.addr = s->addr;
		b->val.port = htons(s->port);
		b->val.family = s->family;
		b->val.group = s->group;
		b->val.weight_end = end;
		if (s->pod_name && asprintf(&b->pod, "%s/%s", s->slice->meta.ns, s->pod_name) < 0)
			return -ENOMEM;
		out->nbackends++;
	}
	*total = end;
	return 0;
}

/* One skiff_services entry (*cs, for svc_id) and its backend slots (appended to out). */
static int compile_svcport(const struct cc_index *ix, const struct cc_route *r,
			   const struct cc_svcport *sp, uint32_t svc_id, struct cv_service *cs,
			   struct node_view *out, size_t *cap, struct diag *d)
{
	struct cc_slots slots = {0};
	uint32_t msize;
	int err;

	cs->name = compile_svcport_name(sp);
	if (!cs->name)
		return -ENOMEM;
	cs->key.addr = sp->addr;
	cs->key.port = htons(sp->port->port);
	cs->key.proto = sp->port->proto;
	cs->key.family = sp->family;
	cs->val.svc_id = svc_id;

	err = svcport_slots(ix, r, sp, &slots, d);
	if (err)
		goto out;
	if (slots.n > SKIFF_MAX_BACKEND_SLOTS) {
		diag_add(d, DIAG_ERROR, sp->svc->meta.file, sp->svc->meta.line,
			 "Service %s: %zu backends exceed the limit of %u per service port",
			 cs->name, slots.n, SKIFF_MAX_BACKEND_SLOTS);
		err = -E2BIG;
		goto out;
	}
	if (all_unhealthy(&slots)) {
		/* Nothing to connect to at all: refuse at once, like kube-proxy's REJECT. */
		cs->val.flags = SKIFF_SVC_F_NO_BACKENDS;
		compile_diag_once(d, DIAG_WARN, sp->svc->meta.file, sp->svc->meta.line,
				  "Service %s/%s has no ready endpoints; connections to it fail "
				  "at once with ECONNREFUSED (check its selector and its pods' "
				  "readiness)",
				  sp->svc->meta.ns, sp->svc->meta.name);
		goto out;
	}
	msize = compile_maglev_wanted(ix, r, sp, d);
	if (slots.n < msize) {
		err = compile_emit_maglev(&slots, msize, svc_id, out, cap, cs);
		goto out;
	}
	err = compile_weights_normalize(slots.v, slots.n);
	if (!err)
		err = emit_backends(&slots, svc_id, out, cap, &cs->val.weight_total);
	if (!err)
		cs->val.count = (uint32_t)slots.n;
out:
	compile_slots_free(&slots);
	return err;
}

/* Config problems (reported in d) let the compile go on to find more; others stop it. */
static bool config_error(int err)
{
	return err == -EINVAL || err == -E2BIG;
}

int compile_service(const struct cc_index *ix, const struct cc_svcport *sps, size_t from, size_t to,
		    struct cv_service *cs, struct node_view *out, size_t *cap, struct diag *d)
{
	const struct m_virtualservice *vs = compile_find_vs(ix, sps[from].svc, d);
	int err = 0;

	for (size_t k = from; k < to && !err; k++) {
		struct cc_route r;

		err = compile_route_for(ix, sps[k].svc, sps[k].port, &r, d);
		if (err)
			return err;
		err = compile_svcport(ix, &r, &sps[k], (uint32_t)k, &cs[k - from], out, cap, d);
		if (compile_l7_port(ix, vs, sps[k].svc, sps[k].port, d))
			cs[k - from].val.flags |= SKIFF_SVC_F_L7;
		compile_route_free(&r);
	}
	return err;
}

int compile_backends_check(const struct node_view *out, struct diag *d)
{
	if (out->nbackends <= SKIFF_MAX_BACKENDS)
		return 0;
	diag_add(d, DIAG_ERROR, NULL, 0,
		 "%zu backend slots (ready endpoints x service ports, over every Service) exceed "
		 "the limit of %u per node (SKIFF_MAX_BACKENDS in include/skiff/lb.h)",
		 out->nbackends, SKIFF_MAX_BACKENDS);
	return -E2BIG;
}

static int compile_services(const struct model *m, struct node_view *out, struct diag *d)
{
	struct cc_index ix;
	struct cc_svcport *sps = NULL;
	size_t nsps = 0, cap = 0, i = 0, j;
	int err = 0, failed = 0;

	err = compile_svcports(m, &sps, &nsps, d);
	if (err)
		return err;
	out->services = calloc(nsps ? nsps : 1, sizeof(*out->services));
	if (!out->services || compile_index_build(m, &ix)) {
		free(sps);
		return -ENOMEM;
	}
	out->nservices = nsps; /* svc_id is the index; entries are filled in below */
	failed = compile_check_destinations(&ix, d);
	for (; i < nsps && !err; i = j) {
		for (j = i; j < nsps && sps[j].svc == sps[i].svc; j++)
			;
		err = compile_service(&ix, sps, i, j, &out->services[i], out, &cap, d);
		if (config_error(err)) {
			failed = err;
			err = 0;
		}
	}
	compile_index_free(&ix);
	free(sps);
	if (!err && !failed)
		failed = compile_backends_check(out, d);
	return err ? err : failed;
}

int compile_node_view_opts(const struct model *m, const char *node_name,
			   compile_cgroup_fn cgroup_of, void *ctx, const struct compile_opts *o,
			   struct node_view *out, struct diag *d)
{
	int err;

	memset(out, 0, sizeof(*out));
	err = compile_services(m, out, d);
	if (!err)
		err = compile_pods(m, node_name, cgroup_of, ctx, o, out, d);
	if (!err)
		err = compile_remote_pods(m, node_name, out, d);
	if (!err)
		err = compile_mtls_view(m, node_name, out, d);
	if (!err)
		err = compile_policy_view(m, node_name, o, out, d);
	if (!err)
		compile_mtls_mark_strict_any(out);
	if (err) {
		node_view_free(out);
		return err;
	}
	return 0;
}

int compile_node_view(const struct model *m, const char *node_name, compile_cgroup_fn cgroup_of,
		      void *ctx, struct node_view *out, struct diag *d)
{
	return compile_node_view_opts(m, node_name, cgroup_of, ctx, NULL, out, d);
}

void node_view_free(struct node_view *v)
{
	for (size_t i = 0; i < v->nservices; i++)
		free(v->services[i].name);
	for (size_t i = 0; i < v->nbackends; i++)
		free(v->backends[i].pod);
	for (size_t i = 0; i < v->npods; i++)
		free(v->pods[i].name);
	free(v->services);
	free(v->backends);
	free(v->pods);
	free(v->pod_ips);
	free(v->remote_pods);
	free(v->mtls);
	free(v->policy);
	memset(v, 0, sizeof(*v));
}
