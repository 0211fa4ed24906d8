// SPDX-License-Identifier: Apache-2.0
/*
 * Clients outside the mesh, against AuthorizationPolicy. A pod that is not enrolled, or the node
 * itself, never passes connect4/6 as a mesh source, and it has no identity: its connection is
 * plaintext, with no principal (as in Istio). Where the policies of a local mesh pod would
 * deny such a client on a port, or where their answer depends on the client's address (which
 * skiff_mtls cannot express), that address and port become STRICT for the guard (guard.h): it
 * then lets in only skiffd and the same-node mesh connections the kernel authorised at connect.
 * Where the policies allow plaintext, the PeerAuthentication mode stays as it was.
 *
 * The answer for plaintext is the L4 one (tcp), which never allows more than any HTTP request
 * would get (HTTP fields drop ALLOW rules and widen DENY rules), so it also holds for pods whose
 * policies need HTTP: a plaintext client bypasses skiffd and could not be decided per request.
 * A pod whose policies name more ports than the evaluator lists is STRICT on every port: the
 * ports beyond the list cannot be told apart here (fail closed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "compile/compile_internal.h"

/* What one address of a local mesh pod with policies lets a plaintext client do. */
struct pg_guard {
	struct skiff_mtls_key key; /* the address, port 0 */
	bool all;		   /* STRICT on every port */
	bool deny0;		   /* denied on the ports no rule names */
	uint16_t ports[AUTHZ_INFO_MAX_PORTS];
	bool deny[AUTHZ_INFO_MAX_PORTS];
	size_t nports;
	bool used;
};

struct pg_guards {
	struct pg_guard *v;
	size_t n, cap;
};

static bool pg_denied(const struct pg_guard *g, uint16_t port)
{
	if (g->all)
		return true;
	for (size_t i = 0; i < g->nports; i++)
		if (g->ports[i] == port)
			return g->deny[i];
	return g->deny0;
}

static bool pg_plaintext_denied(const struct authz_set *az, const struct authz_workload *wl,
				const char *ip, uint16_t port)
{
	struct authz_request rq = {.dest_ip = ip, .dest_port = port, .tcp = true};
	struct authz_decision dec;

	authz_evaluate(az, wl, &rq, &dec);
	return !dec.allow;
}

static struct pg_guard *pg_push(struct pg_guards *gs)
{
	if (gs->n == gs->cap) {
		size_t ncap = gs->cap ? 2 * gs->cap : 16;
		struct pg_guard *nv = realloc(gs->v, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		gs->v = nv;
		gs->cap = ncap;
	}
	memset(&gs->v[gs->n], 0, sizeof(gs->v[0]));
	return &gs->v[gs->n++];
}

/* One guard per address of pod `p`, when policies select it. */
static int pg_pod(const struct authz_set *az, const struct m_pod *p, struct pg_guards *gs)
{
	struct authz_workload wl = {.ns = p->meta.ns, .labels = &p->meta.labels};
	struct authz_workload_info info;

	authz_workload_info(az, &wl, &info);
	if (!info.npolicies)
		return 0;
	for (size_t k = 0; k < p->nips && k < 2; k++) {
		struct pg_guard *g = pg_push(gs);

		if (!g)
			return -ENOMEM;
		g->key.family = (__u8)addr_parse(p->ips[k], &g->key.addr);
		if (!g->key.family) {
			gs->n--; /* the model validated it */
			continue;
		}
		g->all = info.source_ip || info.ports_overflow;
		g->deny0 = g->all || pg_plaintext_denied(az, &wl, p->ips[k], 0);
		for (size_t i = 0; i < info.nports && !g->all; i++) {
			g->ports[g->nports] = info.ports[i];
			g->deny[g->nports++] =
			    pg_plaintext_denied(az, &wl, p->ips[k], info.ports[i]);
		}
	}
	return 0;
}

static int pg_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct skiff_mtls_key));
}

/* Two pods at one address (a config mistake the pod compiler reports): guard it on every port. */
static void pg_dedupe(struct pg_guards *gs)
{
	size_t n = 0;

	qsort(gs->v, gs->n, sizeof(*gs->v), pg_key_cmp);
	for (size_t i = 0; i < gs->n; i++) {
		if (n && !pg_key_cmp(&gs->v[n - 1].key, &gs->v[i].key)) {
			gs->v[n - 1].all = gs->v[n - 1].deny0 = true;
			continue;
		}
		gs->v[n++] = gs->v[i];
	}
	gs->n = n;
}

static struct pg_guard *pg_find(struct pg_guards *gs, const struct skiff_mtls_key *k)
{
	struct skiff_mtls_key addr = *k;

	addr.port = 0;
	return bsearch(&addr, gs->v, gs->n, sizeof(*gs->v), pg_key_cmp);
}

static __u32 pg_mode(const struct pg_guard *g, uint16_t port, __u32 pa_mode)
{
	return pg_denied(g, port) ? SKIFF_MTLS_STRICT : pa_mode;
}

/*
 * The entries of one address: `pa` (n of them, maybe none) are its PeerAuthentication entries,
 * port 0 and overrides. Out: port 0, every override, and each port a rule names whose mode then
 * differs from port 0's. Returns how many were written to `dst` (at most n + 1 + g->nports).
 */
static size_t pg_merge(const struct pg_guard *g, const struct cv_mtls *pa, size_t n,
		       struct cv_mtls *dst)
{
	__u32 d0 = SKIFF_MTLS_PERMISSIVE, m0;
	size_t w = 0;

	for (size_t i = 0; i < n; i++)
		if (!pa[i].key.port)
			d0 = pa[i].val.mode;
	m0 = pg_mode(g, 0, d0);
	dst[w++] = (struct cv_mtls){.key = g->key, .val.mode = m0};
	for (size_t i = 0; i < n; i++)
		if (pa[i].key.port)
			dst[w++] = (struct cv_mtls){
			    .key = pa[i].key,
			    .val.mode = pg_mode(g, ntohs(pa[i].key.port), pa[i].val.mode)};
	for (size_t k = 0; k < g->nports; k++) {
		struct skiff_mtls_key key = g->key;
		bool overridden = false;
		__u32 mode = pg_mode(g, g->ports[k], d0);

		key.port = htons(g->ports[k]);
		for (size_t i = 0; i < n; i++)
			overridden |= pa[i].key.port == key.port;
		if (!overridden && mode != m0)
			dst[w++] = (struct cv_mtls){.key = key, .val.mode = mode};
	}
	return w;
}

/* Same address as the entry before it (entries of one address are adjacent, port 0 first). */
static bool pg_same_addr(const struct cv_mtls *a, const struct cv_mtls *b)
{
	return a->key.family == b->key.family &&
	       !memcmp(&a->key.addr, &b->key.addr, sizeof(a->key.addr));
}

static int pg_rebuild(struct node_view *out, struct pg_guards *gs)
{
	size_t cap = out->nmtls, n = 0, j;
	struct cv_mtls *nv;

	for (size_t i = 0; i < gs->n; i++)
		cap += 1 + gs->v[i].nports;
	nv = calloc(cap ? cap : 1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (size_t i = 0; i < out->nmtls; i = j) {
		struct pg_guard *g = pg_find(gs, &out->mtls[i].key);

		for (j = i + 1; j < out->nmtls && pg_same_addr(&out->mtls[i], &out->mtls[j]); j++)
			;
		if (!g || g->used) {
			memcpy(nv + n, out->mtls + i, (j - i) * sizeof(*nv));
			n += j - i;
			continue;
		}
		g->used = true;
		n += pg_merge(g, out->mtls + i, j - i, nv + n);
	}
	for (size_t i = 0; i < gs->n; i++)
		if (!gs->v[i].used)
			n += pg_merge(&gs->v[i], NULL, 0, nv + n);
	free(out->mtls);
	out->mtls = nv;
	out->nmtls = n;
	return 0;
}

static bool pg_local_mesh_pod(const struct model *m, const struct m_pod *p, const char *node_name)
{
	return p->node_name && node_name && !strcmp(p->node_name, node_name) &&
	       model_pod_in_mesh(m, p);
}

int compile_policy_plaintext(const struct model *m, const char *node_name,
			     const struct authz_set *az, struct node_view *out, struct diag *d)
{
	struct pg_guards gs = {0};
	int err = 0;

	/* every local mesh pod, enrolled or still waiting for its cgroup, as compile_mtls does */
	for (size_t i = 0; i < m->npods && !err; i++)
		if (pg_local_mesh_pod(m, &m->pods[i], node_name))
			err = pg_pod(az, &m->pods[i], &gs);
	if (!err && gs.n) {
		pg_dedupe(&gs);
		err = pg_rebuild(out, &gs);
	}
	free(gs.v);
	if (!err && out->nmtls > SKIFF_MAX_MTLS_PORTS) {
		diag_add(
		    d, DIAG_ERROR, NULL, 0,
		    "%zu pod address/port modes (PeerAuthentication, and AuthorizationPolicy for "
		    "clients outside the mesh) exceed the limit of %u",
		    out->nmtls, SKIFF_MAX_MTLS_PORTS);
		return -E2BIG;
	}
	return err;
}
