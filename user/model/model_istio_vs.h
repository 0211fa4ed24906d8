/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VirtualService parsing, shared between model_istio_vs.c (hosts, destinations, tcp and tls
 * routes) and model_istio_vs_http.c (http routes: matches and actions, typed). Private to the
 * model module.
 */
#ifndef SKIFF_MODEL_ISTIO_VS_H
#define SKIFF_MODEL_ISTIO_VS_H

#include "model/model_istio_common.h"

#define PATH_MAX_LEN 256

struct vsctx {
	struct pctx *c;
	struct m_virtualservice *vs;
	bool mesh; /* bound to the mesh: no gateways, or "mesh" among them */
};

/* Record `path` ("spec.http[0].retries") as valid but not enforced; stored without "spec.". */
void vs_unenforced(struct vsctx *v, const struct ynode *at, const char *path);
/* Destination {host, subset, port.number}; fills `d` (owned strings). */
void vs_destination(struct vsctx *v, const struct ynode *dst, const char *path,
		    struct m_destination *d);
void vs_destination_free(struct m_destination *d);
/* route[] of an http or tcp route, into r->dests. */
void vs_route_dests(struct vsctx *v, const struct ynode *seq, const char *path, struct m_route *r,
		    bool http);
/* StringMatch {exact|prefix|regex} into `out` (may be NULL: validate only). */
void vs_string_match(struct vsctx *v, const struct ynode *sm, const char *path,
		     bool empty_prefix_ok, bool star_regex_ok, struct m_string_match *out);
void vs_cors(struct vsctx *v, const struct ynode *cp, const char *path);
/* HTTPRoute.headers / HTTPRouteDestination.headers; *out allocated when present. */
void vs_headers(struct vsctx *v, const struct ynode *h, const char *path, struct m_headers **out);
/* The combinations Istio forbids between route, redirect, directResponse, fault and rewrite. */
void vs_http_actions_combine(struct vsctx *v, const struct ynode *h, const char *path);
/* One http[] route: matches, destinations, actions. */
void vs_http_one(struct vsctx *v, const struct ynode *h, const char *path, struct m_route *r);
/* http[].match into h->matches; true when at least one match is given. */
bool vs_http_matches(struct vsctx *v, const struct ynode *route, const char *path,
		     struct m_http_route *h);
/* Percent {value} at parent[key]: *out set when present and valid. */
void vs_percentage(struct vsctx *v, const struct ynode *parent, const char *key, const char *path,
		   double *out);
/* The deprecated integer percent fields (percent, mirrorPercent): *out set when present. */
void vs_old_percent(struct vsctx *v, const struct ynode *parent, const char *key, const char *path,
		    const char *instead, double *out);

#endif
