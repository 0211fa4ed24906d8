// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy for the kernel (include/skiff/policy.h). Every enrolled local pod that
 * policies select (a destination) gets either
 *   - SKIFF_POD_F_L7, when a rule names HTTP attributes (or more ports than the evaluator lists):
 *     skiffd must see every request, so connections to it are punted; or
 *   - SKIFF_POD_F_AUTHZ and a verdict for every enrolled local source pod, family both have, and
 *     port: each port a rule names, and port 0 for all the others (a port no rule names is
 *     decided like any other such port). The verdict is authz_evaluate() with L4 semantics, the
 *     source's SPIFFE principal (the kernel knows the calling pod by its cgroup) and addresses.
 * Clients outside the mesh are left to the guard (compile_policy_plain.c).
 *
 * Cost: sources x destinations x families x (ports + 1) evaluations. When the policies do not
 * look at the source address, sources with the same principal (service account) get the same
 * verdicts, so sources are sorted by principal and each principal is evaluated once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "compile/compile_internal.h"

#define PL_TRUST_DOMAIN "cluster.local"

/* An enrolled local pod, as a source and as a destination. */
struct pl_pod {
	const struct m_pod *p;
	uint32_t wid;	 /* its workload_id in the view */
	char *principal; /* "spiffe://td/ns/NS/sa/SA" */
	const char *ip4, *ip6;
};

struct pl_ctx {
	const struct model *m; /* policy ids are indexes into its AuthorizationPolicies, + 1 */
	const struct authz_set *az;
	struct pl_pod *pods; /* sorted by principal, then workload id */
	size_t npods;
	uint32_t *flags; /* SKIFF_POD_F_* to add, by workload id */
	size_t nflags;
	size_t cap; /* of out->policy */
	const char *node;
	struct node_view *out;
	struct diag *d;
};

/* The model's pod for a view name "ns/name". */
static const struct m_pod *pl_model_pod(const struct model *m, const char *name)
{
	const char *slash = strchr(name, '/');
	char ns[256];

	if (!slash || (size_t)(slash - name) >= sizeof(ns))
		return NULL;
	memcpy(ns, name, slash - name);
	ns[slash - name] = '\0';
	return model_pod(m, ns, slash + 1);
}

/* The pod's address of `family` as text, or NULL. */
static const char *pl_model_ip(const struct m_pod *p, int family)
{
	union skiff_addr a;

	for (size_t k = 0; k < p->nips && k < 2; k++)
		if (addr_parse(p->ips[k], &a) == family)
			return p->ips[k];
	return NULL;
}

static const char *pl_ip(const struct pl_pod *pp, int family)
{
	return family == SKIFF_AF_INET ? pp->ip4 : pp->ip6;
}

static int pl_pod_cmp(const void *pa, const void *pb)
{
	const struct pl_pod *a = pa, *b = pb;
	int c = strcmp(a->principal, b->principal);

	return c ? c : (a->wid > b->wid) - (a->wid < b->wid);
}

/* The enrolled pods of the view, with what the evaluator needs to know about them. */
static int pl_pods_build(const struct model *m, const char *trust_domain, struct pl_ctx *c)
{
	const struct node_view *out = c->out;

	c->pods = calloc(out->npods ? out->npods : 1, sizeof(*c->pods));
	if (!c->pods)
		return -ENOMEM;
	for (size_t i = 0; i < out->npods; i++) {
		const struct m_pod *p = pl_model_pod(m, out->pods[i].name);
		struct pl_pod *pp = &c->pods[c->npods];

		if (!p)
			continue; /* the view was compiled from this model: cannot happen */
		if (asprintf(&pp->principal, "spiffe://%s/ns/%s/sa/%s", trust_domain, p->meta.ns,
			     p->service_account) < 0)
			return -ENOMEM;
		pp->p = p;
		pp->wid = out->pods[i].val.workload_id;
		pp->ip4 = pl_model_ip(p, SKIFF_AF_INET);
		pp->ip6 = pl_model_ip(p, SKIFF_AF_INET6);
		c->npods++;
		if (pp->wid >= c->nflags)
			c->nflags = pp->wid + 1;
	}
	qsort(c->pods, c->npods, sizeof(*c->pods), pl_pod_cmp);
	c->flags = calloc(c->nflags ? c->nflags : 1, sizeof(*c->flags));
	return c->flags ? 0 : -ENOMEM;
}

static int pl_push(struct pl_ctx *c, const struct cv_policy *e)
{
	struct node_view *out = c->out;

	if (out->npolicy == SKIFF_MAX_POLICY) {
		diag_add(
		    c->d, DIAG_ERROR, NULL, 0,
		    "node %s: AuthorizationPolicy verdicts between its %zu mesh pods need more "
		    "than %u kernel entries (one per source pod, destination pod, family, and "
		    "port the policies name, plus one); name fewer ports in the rules or select "
		    "fewer pods with them",
		    c->node ? c->node : "?", c->npods, SKIFF_MAX_POLICY);
		return -E2BIG;
	}
	if (out->npolicy == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 256;
		struct cv_policy *nv = realloc(out->policy, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		out->policy = nv;
		c->cap = ncap;
	}
	out->policy[out->npolicy++] = *e;
	return 0;
}

/* The id the kernel files with a verdict for flow events: the deciding policy's index + 1. */
static uint32_t pl_policy_id(const struct pl_ctx *c, const struct authz_decision *dec)
{
	const struct m_authorizationpolicy *p = dec->policy, *base = c->m->authorizationpolicies;

	if (!p || p < base || p >= base + c->m->nauthorizationpolicies)
		return 0;
	return (uint32_t)(p - base) + 1;
}

/* v[0]: the verdict for ports no rule names (0); v[1 + k]: for info->ports[k]. */
static void pl_verdicts(const struct pl_ctx *c, const struct authz_workload *wl,
			const struct authz_workload_info *info, const struct pl_pod *src,
			const char *sip, const char *dip, struct skiff_policy *v)
{
	struct authz_request rq = {
	    .principal = src->principal, .source_ip = sip, .dest_ip = dip, .tcp = true};
	struct authz_decision dec;

	for (size_t k = 0; k <= info->nports; k++) {
		rq.dest_port = k ? info->ports[k - 1] : 0;
		authz_evaluate(c->az, wl, &rq, &dec);
		v[k].verdict = dec.allow ? SKIFF_POLICY_ALLOW : SKIFF_POLICY_DENY;
		v[k].policy_id = dec.allow ? 0 : pl_policy_id(c, &dec);
	}
}

static int pl_emit(struct pl_ctx *c, uint32_t src, uint32_t dst, int family,
		   const struct authz_workload_info *info, const struct skiff_policy *v)
{
	struct cv_policy e;
	int err = 0;

	for (size_t k = 0; k <= info->nports && !err; k++) {
		memset(&e, 0, sizeof(e));
		e.key.src_workload = src;
		e.key.dst_workload = dst;
		e.key.port = htons(k ? info->ports[k - 1] : 0);
		e.key.family = (__u8)family;
		e.val = v[k];
		err = pl_push(c, &e);
	}
	return err;
}

/* Every source to `dst` on its address of `family`. */
static int pl_dest_family(struct pl_ctx *c, const struct pl_pod *dst,
			  const struct authz_workload *wl, const struct authz_workload_info *info,
			  int family)
{
	const char *dip = pl_ip(dst, family), *prev = NULL;
	struct skiff_policy v[AUTHZ_INFO_MAX_PORTS + 1];
	int err = 0;

	for (size_t i = 0; dip && i < c->npods && !err; i++) {
		const struct pl_pod *src = &c->pods[i];
		const char *sip = pl_ip(src, family);

		if (!sip)
			continue;
		if (!prev || info->source_ip || strcmp(prev, src->principal))
			pl_verdicts(c, wl, info, src, sip, dip, v);
		prev = src->principal;
		err = pl_emit(c, src->wid, dst->wid, family, info, v);
	}
	return err;
}

static int pl_dest(struct pl_ctx *c, const struct pl_pod *dst)
{
	struct authz_workload wl = {.ns = dst->p->meta.ns, .labels = &dst->p->meta.labels};
	struct authz_workload_info info;
	int err;

	authz_workload_info(c->az, &wl, &info);
	if (!info.npolicies)
		return 0;
	if (info.http || info.ports_overflow) {
		c->flags[dst->wid] |= SKIFF_POD_F_L7;
		return 0;
	}
	c->flags[dst->wid] |= SKIFF_POD_F_AUTHZ;
	err = pl_dest_family(c, dst, &wl, &info, SKIFF_AF_INET);
	if (!err)
		err = pl_dest_family(c, dst, &wl, &info, SKIFF_AF_INET6);
	return err;
}

/* The flags go into both maps that carry a struct skiff_pod: by cgroup and by address. */
static void pl_flags_apply(const struct pl_ctx *c, struct node_view *out)
{
	for (size_t i = 0; i < out->npods; i++)
		if (out->pods[i].val.workload_id < c->nflags)
			out->pods[i].val.flags |= c->flags[out->pods[i].val.workload_id];
	for (size_t i = 0; i < out->npod_ips; i++)
		if (out->pod_ips[i].val.workload_id < c->nflags)
			out->pod_ips[i].val.flags |= c->flags[out->pod_ips[i].val.workload_id];
}

static void pl_ctx_free(struct pl_ctx *c)
{
	for (size_t i = 0; i < c->npods; i++)
		free(c->pods[i].principal);
	free(c->pods);
	free(c->flags);
}

int compile_policy_view(const struct model *m, const char *node_name, const struct compile_opts *o,
			struct node_view *out, struct diag *d)
{
	const char *td = o && o->trust_domain ? o->trust_domain : PL_TRUST_DOMAIN;
	struct authz_set *az = NULL;
	struct pl_ctx c = {.m = m, .node = node_name, .out = out, .d = d};
	int err;

	/* a policy the evaluator refuses rejects the whole snapshot: the previous one stays */
	if (o && o->authz) {
		c.az = o->authz;
	} else {
		err = authz_compile(m, NULL, &az, d);
		if (err)
			return err;
		c.az = az;
	}
	err = pl_pods_build(m, td, &c);
	for (size_t i = 0; i < c.npods && !err; i++)
		err = pl_dest(&c, &c.pods[i]);
	if (!err) {
		pl_flags_apply(&c, out);
		err = compile_policy_plaintext(m, node_name, c.az, out, d);
	}
	pl_ctx_free(&c);
	authz_set_free(az);
	return err;
}
