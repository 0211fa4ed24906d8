// SPDX-License-Identifier: Apache-2.0
/*
 * Where punted connections go: for every address of a mesh pod, either "here" with the pod's
 * identity (namespace, service account: the certificate skiffd presents for it as a client) or
 * "on another node" with that node's addresses (Pod status.hostIPs: where its skiffd listens for
 * HBONE). Rebuilt from each good snapshot and read by the proxy thread, so it is swapped whole
 * under a lock: a lookup sees the old table or the new one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"

/* A node's HBONE addresses, port HBONE_PORT: one per node, shared by its pods' entries. */
struct route_hosts {
	uint8_t n;
	struct skiff_sock_origin host[2];
	const char *const *text; /* the model's pooled host_ips it was made from (dedup only) */
};

/* One per address of every mesh pod of the cluster (40,000 with 10,000 Services): 28 bytes. The
 * node's addresses are an index into the table's hosts, since a node's pods all repeat them. */
struct route_entry {
	struct skiff_pod_ip_key key;
	uint32_t hosts; /* index into route_table.hosts; NO_HOSTS when the pod has none */
	/* local pods: offset in the table's strings of namespace, service account, then for the
	 * CONNECT's baggage pod name, canonical name and version, one after another (local_names);
	 * REMOTE for other nodes' pods */
	uint32_t names;
};

#define NO_HOSTS UINT32_MAX
#define REMOTE	 UINT32_MAX

struct route_table {
	struct route_entry *v;
	size_t n;
	struct route_hosts *hosts;
	size_t nhosts;
	char *strings; /* ns and sa of local pods, owned here */
};

static pthread_rwlock_t routes_lock = PTHREAD_RWLOCK_INITIALIZER;

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct route_entry *)a)->key, &((const struct route_entry *)b)->key,
		      sizeof(struct skiff_pod_ip_key));
}

static int addr_key(const char *text, struct skiff_pod_ip_key *k, uint16_t port,
		    struct skiff_sock_origin *ep)
{
	union skiff_addr a;
	int fam = addr_parse(text, &a);

	if (!fam)
		return -EINVAL;
	if (k) {
		memset(k, 0, sizeof(*k));
		k->addr = a;
		k->family = fam;
	}
	if (ep) {
		memset(ep, 0, sizeof(*ep));
		ep->addr = a;
		ep->port = htons(port);
		ep->family = fam;
	}
	return 0;
}

/* Istio's canonical service name and revision of a workload, from its labels. */
static const char *canonical_name(const struct m_pod *p)
{
	const char *v = labels_get(&p->meta.labels, "service.istio.io/canonical-name");

	if (!v)
		v = labels_get(&p->meta.labels, "app.kubernetes.io/name");
	if (!v)
		v = labels_get(&p->meta.labels, "app");
	return v ? v : p->meta.name;
}

static const char *canonical_version(const struct m_pod *p)
{
	const char *v = labels_get(&p->meta.labels, "service.istio.io/canonical-revision");

	if (!v)
		v = labels_get(&p->meta.labels, "app.kubernetes.io/version");
	if (!v)
		v = labels_get(&p->meta.labels, "version");
	return v ? v : "latest";
}

/* Writes a local pod's names into the table's strings; its offset there. */
static uint32_t local_fill(const struct m_pod *p, const char *base, char **strings)
{
	uint32_t at = (uint32_t)(*strings - base);

	*strings = stpcpy(*strings, p->meta.ns) + 1;
	*strings = stpcpy(*strings, p->service_account) + 1;
	*strings = stpcpy(*strings, p->meta.name) + 1;
	*strings = stpcpy(*strings, canonical_name(p)) + 1;
	*strings = stpcpy(*strings, canonical_version(p)) + 1;
	return at;
}

/* The index of the pod's node addresses in t->hosts, added on first sight. The model pools a
 * pod's host addresses, so one node's pods hold one pointer; the last one found is tried first
 * (a node's pods are mostly listed together). */
static uint32_t hosts_of(struct route_table *t, const struct m_pod *p, size_t *last)
{
	struct route_hosts *h;

	if (!p->nhost_ips)
		return NO_HOSTS;
	if (*last < t->nhosts && t->hosts[*last].text == (const char *const *)p->host_ips)
		return (uint32_t)*last;
	for (size_t i = 0; i < t->nhosts; i++)
		if (t->hosts[i].text == (const char *const *)p->host_ips)
			return (uint32_t)(*last = i);
	h = &t->hosts[t->nhosts];
	memset(h, 0, sizeof(*h));
	h->text = (const char *const *)p->host_ips;
	/* a local pod's node is this one: HBONE to ourselves with --same-node-mtls */
	for (size_t i = 0; i < p->nhost_ips; i++)
		if (!addr_key(p->host_ips[i], NULL, HBONE_PORT, &h->host[h->n]))
			h->n++;
	*last = t->nhosts;
	return (uint32_t)t->nhosts++;
}

static bool is_local(const struct m_pod *p, const char *node)
{
	return p->node_name && !strcmp(p->node_name, node);
}

/* Room for the local pods' names: only they are written. */
static size_t strings_size(const struct model *m, const char *node)
{
	size_t n = 1;

	for (size_t i = 0; i < m->npods; i++)
		if (is_local(&m->pods[i], node))
			n += strlen(m->pods[i].meta.ns) + strlen(m->pods[i].service_account) +
			     strlen(m->pods[i].meta.name) + strlen(canonical_name(&m->pods[i])) +
			     strlen(canonical_version(&m->pods[i])) + 5;
	return n;
}

/* Room for the addresses table_build keeps: those of pods with a node, in the mesh; and for
 * their nodes' addresses, at most one set per such pod. */
static size_t entries_max(const struct model *m, size_t *pods)
{
	size_t n = 1;

	*pods = 1;
	for (size_t i = 0; i < m->npods; i++)
		if (m->pods[i].node_name && model_pod_in_mesh(m, &m->pods[i])) {
			n += m->pods[i].nips;
			(*pods)++;
		}
	return n;
}

static void table_fill(struct route_table *t, const struct model *m, const char *node)
{
	char *s = t->strings;
	size_t last = 0;

	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];
		uint32_t hosts, names;

		if (!p->node_name || !model_pod_in_mesh(m, p))
			continue;
		hosts = hosts_of(t, p, &last);
		names = is_local(p, node) ? local_fill(p, t->strings, &s) : REMOTE;
		for (size_t k = 0; k < p->nips; k++) {
			struct route_entry *e = &t->v[t->n];

			memset(e, 0, sizeof(*e));
			if (addr_key(p->ips[k], &e->key, 0, NULL))
				continue;
			e->hosts = hosts;
			e->names = names;
			t->n++;
		}
	}
}

static void table_free(struct route_table *t);

static struct route_table *table_build(const struct model *m, const char *node)
{
	struct route_table *t = calloc(1, sizeof(*t));
	size_t pods, nv;

	if (!t)
		return NULL;
	nv = entries_max(m, &pods);
	t->v = calloc(nv, sizeof(*t->v));
	t->hosts = calloc(pods, sizeof(*t->hosts));
	t->strings = malloc(strings_size(m, node));
	if (!t->v || !t->hosts || !t->strings) {
		table_free(t);
		return NULL;
	}
	table_fill(t, m, node);
	/* a node per pod was room for the worst case: keep the nodes found */
	if (t->nhosts) {
		struct route_hosts *h = realloc(t->hosts, t->nhosts * sizeof(*h));

		if (h)
			t->hosts = h;
	}
	qsort(t->v, t->n, sizeof(*t->v), key_cmp);
	return t;
}

static void table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t->hosts);
	free(t->strings);
	free(t);
}

void agent_routes_update(struct agent *a)
{
	struct route_table *t = table_build(&a->snap->m, a->o->node), *old;

	if (!t) {
		agent_log("warning",
			  "out of memory building the HBONE route table; the old one stays");
		return;
	}
	pthread_rwlock_wrlock(&routes_lock);
	old = a->routes;
	a->routes = t;
	pthread_rwlock_unlock(&routes_lock);
	table_free(old);
}

void agent_routes_free(struct agent *a)
{
	pthread_rwlock_wrlock(&routes_lock);
	table_free(a->routes);
	a->routes = NULL;
	pthread_rwlock_unlock(&routes_lock);
}

static const struct route_entry *find(const struct route_table *t, const union skiff_addr *addr,
				      __u8 family)
{
	struct route_entry probe = {0};

	if (!t)
		return NULL;
	probe.key.addr = *addr;
	probe.key.family = family;
	return bsearch(&probe, t->v, t->n, sizeof(*t->v), key_cmp);
}

/* A local entry's names, in entry_fill's order. */
enum { LN_NS, LN_SA, LN_POD, LN_APP, LN_VERSION, LN_COUNT };
static void local_names(const struct route_table *t, const struct route_entry *e,
			const char *n[LN_COUNT])
{
	n[0] = t->strings + e->names;
	for (size_t i = 1; i < LN_COUNT; i++)
		n[i] = n[i - 1] + strlen(n[i - 1]) + 1;
}

int agent_routes_lookup(struct agent *a, const struct skiff_punt_key *client,
			const struct skiff_sock_origin *dst, struct agent_route *r)
{
	const struct route_entry *src, *to;
	const char *n[LN_COUNT];
	int err = -ENOENT;

	pthread_rwlock_rdlock(&routes_lock);
	src = find(a->routes, &client->addr, client->family);
	to = find(a->routes, &dst->addr, dst->family);
	if (src && src->names != REMOTE && to && (to->names == REMOTE || a->o->same_node_mtls) &&
	    to->hosts != NO_HOSTS && a->routes->hosts[to->hosts].n) {
		const struct route_hosts *h = &a->routes->hosts[to->hosts];

		/* the node address of the destination's family, else the other one */
		r->node = h->host[0];
		for (size_t i = 0; i < h->n; i++)
			if (h->host[i].family == dst->family)
				r->node = h->host[i];
		local_names(a->routes, src, n);
		snprintf(r->ns, sizeof(r->ns), "%s", n[LN_NS]);
		snprintf(r->sa, sizeof(r->sa), "%s", n[LN_SA]);
		/* the keys ztunnel puts in its CONNECT's baggage, for the receiver's telemetry */
		snprintf(r->baggage, sizeof(r->baggage),
			 "k8s.cluster.name=Kubernetes,k8s.namespace.name=%s,k8s.pod.name=%s,"
			 "service.name=%s,service.version=%s",
			 n[LN_NS], n[LN_POD], n[LN_APP], n[LN_VERSION]);
		err = 0;
	}
	pthread_rwlock_unlock(&routes_lock);
	return err;
}
