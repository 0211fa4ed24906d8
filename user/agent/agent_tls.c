// SPDX-License-Identifier: Apache-2.0
/*
 * skiffd's identities (--ca-dir): the mesh root loaded once, a certificate per local workload
 * minted on first use and rotated at half-life (user/identity), and skiffd's own identity
 * (spiffe://<td>/ns/skiff-system/sa/skiffd) for inbound HBONE. The store is shared by the agent
 * thread (rotation) and the proxy thread (handshakes), under one lock. A context handed out stays
 * usable after a rotation: the store keeps the previous generation, and every SSL holds its own
 * reference.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_state.h"
#include "identity/identity.h"

#define AGENT_NS IDENTITY_AGENT_NS
#define AGENT_SA IDENTITY_AGENT_SA

struct agent_tls {
	struct identity_ca ca;
	struct identity_store store;
	pthread_mutex_t lock;
	time_t next_refresh;
};

int agent_tls_open(struct agent *a)
{
	struct identity_store_opts so = {
	    .trust_domain = a->o->trust_domain, .ttl = a->o->cert_ttl, .alpn = HBONE_ALPN};
	struct identity_err err = {{0}};
	struct agent_tls *t;

	if (!a->o->ca_dir)
		return 0; /* no identities: punted traffic is relayed directly */
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	if (identity_ca_load(a->o->ca_dir, time(NULL), &t->ca, &err) ||
	    identity_store_init(&t->store, &t->ca, &so, &err) ||
	    !identity_store_get(&t->store, AGENT_NS, AGENT_SA, time(NULL), &err)) {
		agent_log("error", "--ca-dir %s: %s", a->o->ca_dir, err.msg);
		identity_ca_free(&t->ca);
		free(t);
		return -EINVAL;
	}
	t->next_refresh = identity_store_next_refresh(&t->store);
	a->tls = t;
	agent_log("info", "mesh root from %s; trust domain %s", a->o->ca_dir,
		  t->store.trust_domain);
	return 0;
}

void agent_tls_close(struct agent *a)
{
	if (!a->tls)
		return;
	identity_store_free(&a->tls->store);
	identity_ca_free(&a->tls->ca);
	pthread_mutex_destroy(&a->tls->lock);
	free(a->tls);
	a->tls = NULL;
}

/* A rotation that failed (the CA could not sign) would fail the same way a moment later: it is
 * tried again after this many seconds, not on every tick and every handshake in between, each
 * with its log line. */
#define ROTATE_RETRY_S 10

/* Re-mint what is due and plan the next look. Under t->lock. */
static int rotate_locked(struct agent_tls *t, time_t now, struct identity_err *err)
{
	int n = identity_store_rotate(&t->store, now, err);

	t->next_refresh = n < 0 ? now + ROTATE_RETRY_S : identity_store_next_refresh(&t->store);
	return n;
}

/* On the agent's tick: re-mint what is half way through its life. */
void agent_tls_rotate(struct agent *a)
{
	struct agent_tls *t = a->tls;
	struct identity_err err = {{0}};
	time_t now = time(NULL);
	int n;

	if (!t || now < t->next_refresh)
		return;
	pthread_mutex_lock(&t->lock);
	n = rotate_locked(t, now, &err);
	pthread_mutex_unlock(&t->lock);
	if (n < 0)
		agent_log("error", "certificate rotation: %s (retried in %d s)", err.msg,
			  ROTATE_RETRY_S);
	else if (n > 0)
		agent_log("info", "rotated %d workload certificate(s)", n);
}

/* The current TLS context of workload ns/sa and its SPIFFE ID; NULL on failure (logged). */
static SSL_CTX *ctx_of(struct agent *a, const char *ns, const char *sa, char *id, size_t idlen)
{
	struct agent_tls *t = a->tls;
	const struct identity_workload *w;
	struct identity_err err = {{0}};
	struct identity_err rerr = {{0}};
	time_t now = time(NULL);
	SSL_CTX *ctx = NULL;
	size_t known;
	int rotated = 0;

	pthread_mutex_lock(&t->lock);
	/* The agent's timer renews certificates, but a wall clock that jumped (a VM resumed, NTP
	 * stepping) can pass their refresh point, even their expiry, between two ticks: renew here
	 * then, so no handshake presents a certificate the clock says is due. */
	if (now >= t->next_refresh)
		rotated = rotate_locked(t, now, &rerr);
	known = t->store.n;
	w = identity_store_get(&t->store, ns, sa, now, &err);
	if (w) {
		ctx = w->cur.tls;
		if (id)
			identity_spiffe_format(&w->cur.cert.id, id, idlen);
	}
	/* a workload minted just now is due before the planned refresh: look again, only then
	 * (this runs for every punted connection), and not over a failed rotation's back-off */
	if (t->store.n != known && rotated >= 0)
		t->next_refresh = identity_store_next_refresh(&t->store);
	pthread_mutex_unlock(&t->lock);
	if (rotated < 0)
		agent_log("error", "certificate rotation: %s (retried in %d s)", rerr.msg,
			  ROTATE_RETRY_S);
	else if (rotated > 0)
		agent_log("info", "rotated %d workload certificate(s) at a handshake", rotated);
	if (!w)
		agent_log("error", "identity of %s/%s: %s", ns, sa, err.msg);
	return ctx;
}

SSL_CTX *agent_tls_server_ctx(void *ctx)
{
	struct agent *a = ctx;

	return a->tls ? ctx_of(a, AGENT_NS, AGENT_SA, NULL, 0) : NULL;
}

int agent_tls_route(void *ctx, const struct skiff_punt_key *client,
		    const struct skiff_sock_origin *dst, struct proxy_route *r)
{
	struct agent *a = ctx;
	struct agent_route ar;

	if (!a->tls || agent_routes_lookup(a, client, dst, &ar))
		return -ENOENT;
	r->ctx = ctx_of(a, ar.ns, ar.sa, r->src_id, sizeof(r->src_id));
	if (!r->ctx)
		return -ENOENT;
	r->node_len = proxy_sockaddr(&ar.node, &r->node);
	snprintf(r->baggage, sizeof(r->baggage), "%s", ar.baggage);
	return 0;
}
