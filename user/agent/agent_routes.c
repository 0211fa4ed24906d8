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

/* One per address of every mesh pod of the cluster (40,000 with 10,000 Services): 72 bytes, the
 * local pods' five names behind one pointer. */
struct route_entry {
	struct skiff_pod_ip_key key;
	uint8_t nhost;
	bool local;
	struct skiff_sock_origin host[2]; /* remote pods: their node's addresses, port HBONE_PORT */
	/* local pods: namespace, service account, then for the CONNECT's baggage pod name,
	 * canonical name and version, one after another in the table's strings (local_names) */
	const char *names;
};

struct route_table {
	struct route_entry *v;
	size_t n;
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

static void entry_fill(struct route_entry *e, const struct m_pod *p, bool local, char **strings)
{
	e->local = local;
	if (local) {
		e->names = *strings;
		*strings = stpcpy(*strings, p->meta.ns) + 1;
		*strings = stpcpy(*strings, p->service_account) + 1;
		*strings = stpcpy(*strings, p->meta.name) + 1;
		*strings = stpcpy(*strings, canonical_name(p)) + 1;
		*strings = stpcpy(*strings, canonical_version(p)) + 1;
	}
	/* a local pod's node is this one: HBONE to ourselves with --same-node-mtls */
	for (size_t h = 0; h < p->nhost_ips; h++)
		if (!addr_key(p->host_ips[h], NULL, HBONE_PORT, &e->host[e->nhost]))
			e->nhost++;
}

static size_t strings_size(const struct model *m)
{
	size_t n = 1;

	for (size_t i = 0; i < m->npods; i++)
		n += 2 * (strlen(m->pods[i].meta.ns) + strlen(m->pods[i].service_account) +
			  strlen(m->pods[i].meta.name) + strlen(canonical_name(&m->pods[i])) +
			  strlen(canonical_version(&m->pods[i])) + 5);
	return n;
}

/* Room for the addresses table_build keeps: those of pods with a node, in the mesh. */
static size_t entries_max(const struct model *m)
{
	size_t n = 1;

	for (size_t i = 0; i < m->npods; i++)
		if (m->pods[i].node_name && model_pod_in_mesh(m, &m->pods[i]))
			n += m->pods[i].nips;
	return n;
}

static struct route_table *table_build(const struct model *m, const char *node)
{
	struct route_table *t = calloc(1, sizeof(*t));
	char *s;

	if (!t)
		return NULL;
	t->v = calloc(entries_max(m), sizeof(*t->v));
	t->strings = s = malloc(strings_size(m));
	if (!t->v || !s) {
		free(t->v);
		free(t->strings);
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];
		bool local = p->node_name && !strcmp(p->node_name, node);

		if (!p->node_name || !model_pod_in_mesh(m, p))
			continue;
		for (size_t k = 0; k < p->nips; k++) {
			struct route_entry *e = &t->v[t->n];

			memset(e, 0, sizeof(*e));
			if (addr_key(p->ips[k], &e->key, 0, NULL))
				continue;
			entry_fill(e, p, local, &s);
			t->n++;
		}
	}
	qsort(t->v, t->n, sizeof(*t->v), key_cmp);
	return t;
}

static void table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->v);
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
static void local_names(const struct route_entry *e, const char *n[LN_COUNT])
{
	n[0] = e->names;
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
	if (src && src->local && to && (!to->local || a->o->same_node_mtls) && to->nhost) {
		/* the node address of the destination's family, else the other one */
		r->node = to->host[0];
		for (size_t i = 0; i < to->nhost; i++)
			if (to->host[i].family == dst->family)
				r->node = to->host[i];
		local_names(src, n);
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
