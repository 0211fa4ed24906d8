/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The L7 targets' decider: the real evaluator (user/authz/) with a fixed policy set that uses
 * every kind of HTTP field (paths with a template and a prefix, methods, hosts, headers, `when`
 * keys), so that what a fuzzed request carries is matched as skiffd matches it.
 *
 * The input stream holds both sides of a connection: the client's bytes, then, after the first
 * FZ_L7_POD marker, the pod's. Seeds spell it out; the mutator keeps it mostly.
 */
#ifndef SKIFF_TESTS_FUZZ_L7_H
#define SKIFF_TESTS_FUZZ_L7_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "l7/l7_filter.h"
#include "model/model.h"

#define FZ_L7_POD "\n--pod--\n"

static const char fz_l7_policy[] =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
    "metadata: {name: deny-admin, namespace: shop}\n"
    "spec:\n  action: DENY\n  rules:\n"
    "  - to:\n    - operation: {paths: [\"/admin*\", \"/api/{*}/secret\"]}\n"
    "  - when:\n    - key: request.headers[x-block]\n      values: [\"yes\", \"a b\"]\n"
    "---\n"
    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
    "metadata: {name: allow-shop, namespace: shop}\n"
    "spec:\n  action: ALLOW\n  rules:\n"
    "  - to:\n    - operation:\n        methods: [GET, HEAD, POST, PUT]\n"
    "        notPaths: [\"/private/{**}\"]\n"
    "        hosts: [\"shop.example.com\", \"*.local\", \"*\"]\n"
    "  - to:\n    - operation: {methods: [DELETE], paths: [\"/items/*\"]}\n"
    "    when:\n    - key: request.headers[authorization]\n      values: [\"Bearer *\"]\n";

struct fz_l7_policy {
	struct model m;
	struct authz_set *set;
};

static struct fz_l7_policy *fz_l7_policy_get(void)
{
	static struct fz_l7_policy p;
	static bool loaded;
	struct diag d = {0};

	if (loaded)
		return &p;
	if (model_load_string("fuzz-policy.yaml", fz_l7_policy, &p.m, &d) ||
	    authz_compile(&p.m, NULL, &p.set, &d)) {
		diag_print(&d);
		abort();
	}
	diag_free(&d);
	loaded = true;
	return &p;
}

static bool fz_l7_decide(void *ctx, struct authz_request *rq, char *why, size_t whylen)
{
	struct fz_l7_policy *p = ctx;
	struct authz_workload wl = {.ns = "shop", .labels = NULL};
	struct authz_decision dec;

	rq->principal = "spiffe://cluster.local/ns/shop/sa/web";
	rq->source_ip = "10.0.0.7";
	rq->dest_ip = "10.0.0.9";
	rq->dest_port = 8080;
	authz_evaluate(p->set, &wl, rq, &dec);
	if (why)
		authz_decision_format(&dec, why, whylen);
	return dec.allow;
}

static inline struct l7_decider fz_l7_decider(enum authz_path_norm norm)
{
	return (struct l7_decider){
	    .decide = fz_l7_decide, .ctx = fz_l7_policy_get(), .path_norm = norm};
}

/* Split the input into the client's bytes and the pod's (after FZ_L7_POD, if any). */
static inline void fz_l7_sides(const uint8_t *data, size_t size, const uint8_t **cl, size_t *ncl,
			       const uint8_t **up, size_t *nup)
{
	const uint8_t *m = memmem(data, size, FZ_L7_POD, sizeof(FZ_L7_POD) - 1);

	*cl = data;
	*ncl = m ? (size_t)(m - data) : size;
	*up = m ? m + sizeof(FZ_L7_POD) - 1 : data + size;
	*nup = size - (size_t)(*up - data);
}

#endif
