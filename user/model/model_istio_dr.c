// SPDX-License-Identifier: Apache-2.0
/*
 * DestinationRule: host, subsets (name + labels), workloadSelector, and Istio's validation of
 * trafficPolicy (its pkg/config/validation). Subsets drive weighted routing in the kernel.
 * loadBalancer, connectionPool and outlierDetection are typed into struct m_traffic_policy for
 * the upstream library (user/l7/upstream.h) and the compiler. The L7 router applies them only on
 * the ports it serves, so they are still recorded in dr->unenforced (the warning holds for every
 * other port), except consistentHash.useSourceIp, which the kernel enforces everywhere (Maglev
 * on the client's address). tls, tunnel, proxyProtocol, retryBudget and
 * exportTo are valid-but-not-enforced.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"
#include "skiff/lb.h"

#define PLEN 256

struct drctx {
	struct pctx *c;
	struct m_destinationrule *dr;
};

static void dr_unenforced(struct drctx *x, const struct ynode *at, const char *path)
{
	if (!strncmp(path, "spec.", 5))
		path += 5;
	punenforced(x->c, &x->dr->unenforced, &x->dr->nunenforced, at, path);
}

/* Non-negative integer counters of connection pools and outlier detection; out[i] (when
 * non-NULL) receives keys[i]'s value, has[i] whether it was set. */
static void dr_counters(struct pctx *c, const struct ynode *m, const char *const *keys,
			uint32_t *const *out, bool *const *has, const char *path)
{
	char p[PLEN];
	int64_t v;

	for (int i = 0; keys[i]; i++) {
		if (pint(c, m, keys[i], 0, UINT32_MAX, &v,
			 pathf(p, sizeof(p), "%s.%s", path, keys[i])) != 1)
			continue;
		if (out && out[i])
			*out[i] = (uint32_t)v;
		if (has && has[i])
			*has[i] = true;
	}
}

/* Durations of `keys` (>= 1ms) into out[i] (when non-NULL); "0s" also accepted where zero
 * means "disabled" (then out[i] stays 0). */
static void dr_durations(struct pctx *c, const struct ynode *m, const char *const *keys,
			 int64_t *const *out, const char *zero_ok, const char *path)
{
	char p[PLEN];
	int64_t ms;

	for (int i = 0; keys[i]; i++) {
		const struct ynode *n = ynode_get(m, keys[i]);

		if (zero_ok && !strcmp(keys[i], zero_ok) && n && n->kind == YNODE_SCALAR &&
		    (!strcmp(n->scalar, "0s") || !strcmp(n->scalar, "0")))
			continue;
		if (pduration(c, m, keys[i], &ms, pathf(p, sizeof(p), "%s.%s", path, keys[i])) ==
			1 &&
		    out && out[i])
			*out[i] = ms;
	}
}

/* ---- loadBalancer ---- */

static bool is_prime(int64_t n)
{
	if (n < 2)
		return false;
	for (int64_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static void dr_cookie(struct pctx *c, const struct ynode *ck, const char *path,
		      struct m_lb_policy *out)
{
	static const char *const known[] = {"name", "path", "ttl", "attributes", NULL};
	const struct ynode *attrs;
	char p[PLEN];

	punknown(c, ck, known, path);
	out->hash_name = pstr(c, ck, "name", true, pathf(p, sizeof(p), "%s.name", path));
	out->cookie_path = pstr(c, ck, "path", false, pathf(p, sizeof(p), "%s.path", path));
	dr_durations(c, ck, (const char *const[]){"ttl", NULL},
		     (int64_t *const[]){&out->cookie_ttl_ms}, "ttl", path);
	attrs =
	    pget(c, ck, "attributes", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.attributes", path));
	for (size_t i = 0; attrs && i < attrs->n; i++) {
		const char *ni = ynode_str(ynode_get(attrs->items[i], "name"));

		if (!ni) {
			perr(c, attrs->items[i], "%s[%zu].name is required", p, i);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ni, ynode_str(ynode_get(attrs->items[j], "name")) ?: ""))
				perr(c, attrs->items[i],
				     "%s[%zu].name \"%s\" is already used by "
				     "%s[%zu]; attribute names must be unique",
				     p, i, ni, p, j);
	}
}

/* Which request attribute the hash reads (`source_ip`: useSourceIp's value, already checked);
 * the caller already refused more than one. */
static void dr_hash_key(struct pctx *c, const struct ynode *h, const char *path, bool source_ip,
			struct m_lb_policy *out)
{
	char p[PLEN];

	if (ynode_get(h, "httpHeaderName")) {
		out->hash_on = M_HASH_HEADER;
		out->hash_name = pstr(c, h, "httpHeaderName", true,
				      pathf(p, sizeof(p), "%s.httpHeaderName", path));
		if (out->hash_name && !istio_header_name_valid(out->hash_name))
			perr(c, ynode_get(h, "httpHeaderName"),
			     "%s \"%s\" is not a valid HTTP header name", p, out->hash_name);
	} else if (ynode_get(h, "httpQueryParameterName")) {
		out->hash_on = M_HASH_QUERY;
		out->hash_name = pstr(c, h, "httpQueryParameterName", true,
				      pathf(p, sizeof(p), "%s.httpQueryParameterName", path));
	} else if (ynode_get(h, "httpCookie")) {
		out->hash_on = M_HASH_COOKIE;
	} else if (source_ip) {
		out->hash_on = M_HASH_SOURCE_IP;
	}
}

static void dr_consistent_hash(struct pctx *c, const struct ynode *h, const char *path,
			       struct m_lb_policy *out)
{
	static const char *const known[] = {"httpHeaderName",	      "httpCookie", "useSourceIp",
					    "httpQueryParameterName", "ringHash",   "maglev",
					    "minimumRingSize",	      NULL};
	const struct ynode *n;
	char p[PLEN];
	int64_t v;
	bool b;
	int keys;

	punknown(c, h, known, path);
	keys = !!ynode_get(h, "httpHeaderName") + !!ynode_get(h, "httpCookie") +
	       !!ynode_get(h, "useSourceIp") + !!ynode_get(h, "httpQueryParameterName");
	if (keys > 1)
		perr(c, h,
		     "%s: set only one of httpHeaderName, httpCookie, useSourceIp or "
		     "httpQueryParameterName",
		     path);
	out->simple = M_LB_CONSISTENT_HASH;
	n = pget(c, h, "httpCookie", YNODE_MAP, false, pathf(p, sizeof(p), "%s.httpCookie", path));
	if (n)
		dr_cookie(c, n, p, out);
	if (pbool(c, h, "useSourceIp", &b, pathf(p, sizeof(p), "%s.useSourceIp", path)) != 1)
		b = false;
	if (keys <= 1)
		dr_hash_key(c, h, path, b, out);
	n = pget(c, h, "ringHash", YNODE_MAP, false, pathf(p, sizeof(p), "%s.ringHash", path));
	/* Envoy refuses a ring above 8M entries (its maximum_ring_size) */
	if (n && pint(c, n, "minimumRingSize", 0, 8388608, &v,
		      pathf(p, sizeof(p), "%s.ringHash.minimumRingSize", path)) == 1)
		out->ring_min = (uint64_t)v;
	n = pget(c, h, "maglev", YNODE_MAP, false, pathf(p, sizeof(p), "%s.maglev", path));
	if (n)
		out->algo = M_HASH_MAGLEV;
	if (n && pint(c, n, "tableSize", 0, INT64_MAX, &v,
		      pathf(p, sizeof(p), "%s.maglev.tableSize", path)) == 1) {
		if (v >= 5000011 || !is_prime(v))
			perr(c, ynode_get(n, "tableSize"),
			     "%s %lld must be a prime number below 5000011", p, (long long)v);
		else if (b && v > SKIFF_MAGLEV_SIZE)
			perr(c, ynode_get(n, "tableSize"),
			     "%s %lld is too large with useSourceIp: the client address is hashed "
			     "in the kernel, whose table holds at most %d entries; use a prime up "
			     "to %d (or leave tableSize out: %d)",
			     p, (long long)v, SKIFF_MAGLEV_SIZE, SKIFF_MAGLEV_SIZE,
			     SKIFF_MAGLEV_SIZE);
		else
			out->maglev_size = (uint64_t)v;
	}
	if (ynode_get(h, "ringHash") && ynode_get(h, "maglev"))
		perr(c, h, "%s: set only one of ringHash or maglev", path);
	if (pint(c, h, "minimumRingSize", 0, 8388608, &v,
		 pathf(p, sizeof(p), "%s.minimumRingSize", path)) == 1) {
		out->ring_min = (uint64_t)v;
		pwarn(c, ynode_get(h, "minimumRingSize"),
		      "%s is deprecated; use "
		      "ringHash.minimumRingSize",
		      p);
		if (ynode_get(h, "ringHash") || ynode_get(h, "maglev"))
			perr(c, ynode_get(h, "minimumRingSize"),
			     "%s cannot be combined with "
			     "ringHash or maglev",
			     p);
	}
}

static void dr_warmup(struct pctx *c, const struct ynode *w, const char *path)
{
	static const char *const known[] = {"duration", "minimumPercent", "aggression", NULL};
	char p[PLEN];
	int64_t ms;
	double v;

	punknown(c, w, known, path);
	if (pduration(c, w, "duration", &ms, pathf(p, sizeof(p), "%s.duration", path)) == 0)
		perr(c, w, "%s is required", p);
	if (istio_number(c, w, "minimumPercent", &v,
			 pathf(p, sizeof(p), "%s.minimumPercent", path)) == 1 &&
	    (v < 0 || v > 100))
		perr(c, ynode_get(w, "minimumPercent"), "%s %g must be between 0 and 100", p, v);
	if (istio_number(c, w, "aggression", &v, pathf(p, sizeof(p), "%s.aggression", path)) == 1 &&
	    v <= 0)
		perr(c, ynode_get(w, "aggression"), "%s %g must be > 0", p, v);
}

static void dr_load_balancer(struct pctx *c, const struct ynode *lb, const char *path,
			     struct m_lb_policy *out)
{
	static const char *const known[] = {"simple",
					    "consistentHash",
					    "localityLbSetting",
					    "zoneAwareLbSetting",
					    "warmupDurationSecs",
					    "warmup",
					    NULL};
	static const char *const simple[] = {"UNSPECIFIED", "RANDOM",	     "PASSTHROUGH",
					     "ROUND_ROBIN", "LEAST_REQUEST", "LEAST_CONN",
					     NULL};
	/* the enum above, in order, as the model's values */
	static const enum m_lb_simple typed[] = {M_LB_UNSET,	     M_LB_RANDOM,
						 M_LB_PASSTHROUGH,   M_LB_ROUND_ROBIN,
						 M_LB_LEAST_REQUEST, M_LB_LEAST_REQUEST};
	const struct ynode *n;
	char p[PLEN];
	int k;

	out->set = true;
	out->line = lb->line;
	punknown(c, lb, known, path);
	k = istio_check_enum(c, lb, "simple", simple, pathf(p, sizeof(p), "%s.simple", path));
	if (k >= 0)
		out->simple = typed[k];
	n = pget(c, lb, "consistentHash", YNODE_MAP, false,
		 pathf(p, sizeof(p), "%s.consistentHash", path));
	if (n)
		dr_consistent_hash(c, n, p, out);
	if (ynode_get(lb, "simple") && ynode_get(lb, "consistentHash"))
		perr(c, lb, "%s: set only one of simple or consistentHash", path);
	if (ynode_get(lb, "localityLbSetting") && ynode_get(lb, "zoneAwareLbSetting"))
		perr(c, lb, "%s: set only one of localityLbSetting or zoneAwareLbSetting", path);
	pget(c, lb, "localityLbSetting", YNODE_MAP, false,
	     pathf(p, sizeof(p), "%s.localityLbSetting", path));
	dr_durations(c, lb, (const char *const[]){"warmupDurationSecs", NULL}, NULL, NULL, path);
	n = pget(c, lb, "warmup", YNODE_MAP, false, pathf(p, sizeof(p), "%s.warmup", path));
	if (n)
		dr_warmup(c, n, p);
}

/* ---- connectionPool, outlierDetection, tls ---- */

static void dr_pool_tcp(struct pctx *c, const struct ynode *t, const char *path,
			struct m_pool_policy *out)
{
	static const char *const known[] = {"maxConnections", "connectTimeout",
					    "tcpKeepalive",   "maxConnectionDuration",
					    "idleTimeout",    NULL};
	static const char *const ka[] = {"probes", "time", "interval", NULL};
	const struct ynode *n;
	char p[PLEN];

	punknown(c, t, known, path);
	dr_counters(c, t, (const char *const[]){"maxConnections", NULL},
		    (uint32_t *const[]){&out->max_connections}, NULL, path);
	dr_durations(
	    c, t,
	    (const char *const[]){"connectTimeout", "maxConnectionDuration", "idleTimeout", NULL},
	    (int64_t *const[]){&out->connect_timeout_ms, NULL, NULL}, "idleTimeout", path);
	n = pget(c, t, "tcpKeepalive", YNODE_MAP, false,
		 pathf(p, sizeof(p), "%s.tcpKeepalive", path));
	if (n) {
		out->keepalive = true;
		punknown(c, n, ka, p);
		dr_counters(c, n, (const char *const[]){"probes", NULL},
			    (uint32_t *const[]){&out->keepalive_probes}, NULL, p);
		dr_durations(
		    c, n, (const char *const[]){"time", "interval", NULL},
		    (int64_t *const[]){&out->keepalive_time_ms, &out->keepalive_interval_ms}, NULL,
		    p);
	}
}

static void dr_pool_http(struct pctx *c, const struct ynode *h, const char *path,
			 struct m_pool_policy *out)
{
	static const char *const known[] = {"http1MaxPendingRequests",
					    "http2MaxRequests",
					    "maxRequestsPerConnection",
					    "maxRetries",
					    "idleTimeout",
					    "h2UpgradePolicy",
					    "useClientProtocol",
					    "maxConcurrentStreams",
					    "http2KeepAlive",
					    NULL};
	static const char *const upgrade[] = {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE", NULL};
	const struct ynode *ka;
	char p[PLEN];
	bool client = false;

	punknown(c, h, known, path);
	dr_counters(c, h,
		    (const char *const[]){"http1MaxPendingRequests", "http2MaxRequests",
					  "maxRequestsPerConnection", "maxRetries",
					  "maxConcurrentStreams", NULL},
		    (uint32_t *const[]){&out->http1_max_pending, &out->http2_max_requests,
					&out->max_requests_per_conn, &out->max_retries, NULL},
		    NULL, path);
	dr_durations(c, h, (const char *const[]){"idleTimeout", NULL},
		     (int64_t *const[]){&out->idle_timeout_ms}, NULL, path);
	pbool(c, h, "useClientProtocol", &client,
	      pathf(p, sizeof(p), "%s.useClientProtocol", path));
	if (istio_check_enum(c, h, "h2UpgradePolicy", upgrade,
			     pathf(p, sizeof(p), "%s.h2UpgradePolicy", path)) == 2 &&
	    client)
		perr(c, h, "%s: useClientProtocol cannot be combined with h2UpgradePolicy UPGRADE",
		     path);
	ka = pget(c, h, "http2KeepAlive", YNODE_MAP, false,
		  pathf(p, sizeof(p), "%s.http2KeepAlive", path));
	if (ka) {
		punknown(c, ka, (const char *const[]){"interval", "timeout", NULL}, p);
		if (!ynode_get(ka, "interval") || !ynode_get(ka, "timeout"))
			perr(c, ka, "%s needs both interval and timeout", p);
		dr_durations(c, ka, (const char *const[]){"interval", "timeout", NULL}, NULL, NULL,
			     p);
	}
}

static void dr_pool(struct pctx *c, const struct ynode *cp, const char *path,
		    struct m_pool_policy *out)
{
	static const char *const known[] = {"tcp", "http", NULL};
	const struct ynode *n;
	char p[PLEN];

	out->set = true;
	out->line = cp->line;
	punknown(c, cp, known, path);
	if (!ynode_get(cp, "tcp") && !ynode_get(cp, "http"))
		perr(c, cp, "%s needs at least one of tcp or http", path);
	n = pget(c, cp, "tcp", YNODE_MAP, false, pathf(p, sizeof(p), "%s.tcp", path));
	if (n)
		dr_pool_tcp(c, n, p, out);
	n = pget(c, cp, "http", YNODE_MAP, false, pathf(p, sizeof(p), "%s.http", path));
	if (n)
		dr_pool_http(c, n, p, out);
}

static void dr_outlier(struct pctx *c, const struct ynode *o, const char *path,
		       struct m_outlier_policy *out)
{
	static const char *const known[] = {"splitExternalLocalOriginErrors",
					    "consecutiveLocalOriginFailures",
					    "consecutiveGatewayErrors",
					    "consecutive5xxErrors",
					    "interval",
					    "baseEjectionTime",
					    "maxEjectionPercent",
					    "minHealthPercent",
					    "consecutiveErrors",
					    NULL};
	char p[PLEN];
	int64_t v;
	bool split = false;

	out->set = true;
	out->line = o->line;
	punknown(c, o, known, path);
	/* the deprecated consecutiveErrors fills consecutive5xxErrors when that is absent */
	dr_counters(
	    c, o,
	    (const char *const[]){"consecutiveErrors", "consecutiveLocalOriginFailures",
				  "consecutiveGatewayErrors", "consecutive5xxErrors", NULL},
	    (uint32_t *const[]){&out->consecutive_5xx, &out->consecutive_local,
				&out->consecutive_gateway, &out->consecutive_5xx},
	    (bool *const[]){&out->has_5xx, &out->has_local, &out->has_gateway, &out->has_5xx},
	    path);
	dr_durations(c, o, (const char *const[]){"interval", "baseEjectionTime", NULL},
		     (int64_t *const[]){&out->interval_ms, &out->base_ejection_ms}, NULL, path);
	if (pint(c, o, "maxEjectionPercent", 0, 100, &v,
		 pathf(p, sizeof(p), "%s.maxEjectionPercent", path)) == 1)
		out->max_ejection_pct = (uint32_t)v;
	if (pint(c, o, "minHealthPercent", 0, 100, &v,
		 pathf(p, sizeof(p), "%s.minHealthPercent", path)) == 1)
		out->min_health_pct = (uint32_t)v;
	pbool(c, o, "splitExternalLocalOriginErrors", &split,
	      pathf(p, sizeof(p), "%s.splitExternalLocalOriginErrors", path));
	out->split_local = split;
	if (ynode_get(o, "consecutiveLocalOriginFailures") && !split)
		perr(c, ynode_get(o, "consecutiveLocalOriginFailures"),
		     "%s.consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true",
		     path);
	if (ynode_get(o, "consecutiveErrors"))
		pwarn(c, ynode_get(o, "consecutiveErrors"),
		      "%s.consecutiveErrors is deprecated; "
		      "use consecutive5xxErrors",
		      path);
}

static void dr_tls(struct pctx *c, const struct ynode *t, const char *path)
{
	static const char *const known[] = {"mode",
					    "clientCertificate",
					    "privateKey",
					    "caCertificates",
					    "credentialName",
					    "subjectAltNames",
					    "sni",
					    "insecureSkipVerify",
					    "caCrl",
					    NULL};
	static const char *const modes[] = {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL", NULL};
	char p[PLEN];
	int mode;
	bool b;

	punknown(c, t, known, path);
	mode = istio_check_enum(c, t, "mode", modes, pathf(p, sizeof(p), "%s.mode", path));
	pbool(c, t, "insecureSkipVerify", &b, pathf(p, sizeof(p), "%s.insecureSkipVerify", path));
	pget(c, t, "subjectAltNames", YNODE_SEQ, false,
	     pathf(p, sizeof(p), "%s.subjectAltNames", path));
	if ((mode == 1 || mode == 2) && ynode_get(t, "credentialName")) {
		if (ynode_get(t, "clientCertificate") || ynode_get(t, "privateKey") ||
		    ynode_get(t, "caCertificates") || ynode_get(t, "caCrl"))
			perr(c, t,
			     "%s: with credentialName, do not set clientCertificate, "
			     "privateKey, caCertificates or caCrl",
			     path);
		return;
	}
	if (mode == 2 && (!ynode_get(t, "clientCertificate") || !ynode_get(t, "privateKey")))
		perr(c, t,
		     "%s: mode MUTUAL needs clientCertificate and privateKey (or "
		     "credentialName)",
		     path);
}

/* ---- trafficPolicy ---- */

/* Locality-aware balancing and slow start have no equivalent in skiff. */
static void dr_lb_unenforced(struct drctx *x, const struct ynode *lb, const char *path)
{
	static const char *const keys[] = {"localityLbSetting", "warmupDurationSecs", "warmup"};
	char p[PLEN];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (ynode_get(lb, keys[i]))
			dr_unenforced(x, ynode_get(lb, keys[i]),
				      pathf(p, sizeof(p), "%s.%s", path, keys[i]));
}

/* loadBalancer, connectionPool, outlierDetection and tls: shared by policy and port level. */
static int dr_settings(struct drctx *x, const struct ynode *tp, const char *path,
		       struct m_tp_settings *out)
{
	static const char *const keys[] = {"loadBalancer", "connectionPool", "outlierDetection",
					   "tls"};
	char p[PLEN];
	int found = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct ynode *n;

		n = pget(x->c, tp, keys[i], YNODE_MAP, false,
			 pathf(p, sizeof(p), "%s.%s", path, keys[i]));
		if (!n)
			continue;
		found++;
		switch (i) {
		case 0:
			dr_load_balancer(x->c, n, p, &out->lb);
			break;
		case 1:
			dr_pool(x->c, n, p, &out->pool);
			break;
		case 2:
			dr_outlier(x->c, n, p, &out->od);
			break;
		default:
			dr_tls(x->c, n, p);
			out->tls_set = true;
		}
		/* loadBalancer, connectionPool and outlierDetection are the router's on L7 ports
		 * (and a source-address hash the kernel's: Maglev at connect); the compiler warns
		 * of a port that stays in the kernel. Client TLS origination is nobody's. */
		if (i == 0)
			dr_lb_unenforced(x, n, p);
		else if (i == 3)
			dr_unenforced(x, n, p);
	}
	return found;
}

static void dr_port_level(struct drctx *x, const struct ynode *seq, const char *path,
			  struct m_traffic_policy *tp)
{
	static const char *const known[] = {
	    "port", "loadBalancer", "connectionPool", "outlierDetection", "tls", NULL};
	struct pctx *c = x->c;
	char p[PLEN], q[PLEN];
	const struct ynode *port;
	int64_t v;

	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *it = seq->items[i];
		struct m_port_policy *pp;

		pathf(p, sizeof(p), "%s[%zu]", path, i);
		if (it->kind != YNODE_MAP) {
			perr(c, it, "%s must be a mapping", p);
			continue;
		}
		pp = PUSH(tp->ports, tp->nports);
		pp->line = it->line;
		punknown(c, it, known, p);
		port = pget(c, it, "port", YNODE_MAP, true, pathf(q, sizeof(q), "%s.port", p));
		v = 0;
		if (port && pint(c, port, "number", 1, 65535, &v,
				 pathf(q, sizeof(q), "%s.port.number", p)) == 0)
			perr(c, port, "%s is required", q);
		pp->port = (uint32_t)v;
		for (size_t j = 0; v && j + 1 < tp->nports; j++)
			if (tp->ports[j].port == pp->port)
				perr(c, port,
				     "%s %u is already set at line %d; a port may appear once", q,
				     pp->port, tp->ports[j].line);
		if (dr_settings(x, it, p, &pp->s) == 0)
			perr(c, it,
			     "%s needs at least one of loadBalancer, connectionPool, "
			     "outlierDetection or tls",
			     p);
	}
}

static void dr_tunnel(struct pctx *c, const struct ynode *t, const char *path)
{
	static const char *const known[] = {"protocol", "targetHost", "targetPort", NULL};
	static const char *const protos[] = {"CONNECT", "POST", NULL};
	char p[PLEN];
	int64_t v;

	punknown(c, t, known, path);
	istio_check_enum(c, t, "protocol", protos, pathf(p, sizeof(p), "%s.protocol", path));
	free(pstr(c, t, "targetHost", true, pathf(p, sizeof(p), "%s.targetHost", path)));
	if (pint(c, t, "targetPort", 1, 65535, &v, pathf(p, sizeof(p), "%s.targetPort", path)) == 0)
		perr(c, t, "%s is required", p);
}

static void dr_traffic_policy(struct drctx *x, const struct ynode *tp, const char *path,
			      struct m_traffic_policy *out)
{
	static const char *const known[] = {
	    "loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings",
	    "tunnel",	    "proxyProtocol",  "retryBudget",	  NULL};
	static const char *const versions[] = {"V1", "V2", NULL};
	struct pctx *c = x->c;
	const struct ynode *n;
	char p[PLEN];
	int found;

	out->set = true;
	out->line = tp->line;
	punknown(c, tp, known, path);
	found = dr_settings(x, tp, path, &out->s);
	n = pget(c, tp, "portLevelSettings", YNODE_SEQ, false,
		 pathf(p, sizeof(p), "%s.portLevelSettings", path));
	if (n)
		dr_port_level(x, n, p, out);
	n = pget(c, tp, "tunnel", YNODE_MAP, false, pathf(p, sizeof(p), "%s.tunnel", path));
	if (n) {
		dr_tunnel(c, n, p);
		dr_unenforced(x, n, p);
	}
	n = pget(c, tp, "proxyProtocol", YNODE_MAP, false,
		 pathf(p, sizeof(p), "%s.proxyProtocol", path));
	if (n) {
		punknown(c, n, (const char *const[]){"version", NULL}, p);
		istio_check_enum(c, n, "version", versions,
				 pathf(p, sizeof(p), "%s.proxyProtocol.version", path));
		dr_unenforced(x, n, pathf(p, sizeof(p), "%s.proxyProtocol", path));
	}
	n = pget(c, tp, "retryBudget", YNODE_MAP, false,
		 pathf(p, sizeof(p), "%s.retryBudget", path));
	if (n) {
		dr_unenforced(x, n, p);
		if (ynode_get(n, "percent"))
			istio_percent(c, ynode_get(n, "percent"), "value",
				      pathf(p, sizeof(p), "%s.retryBudget.percent.value", path));
	}
	found += !!ynode_get(tp, "portLevelSettings") + !!ynode_get(tp, "tunnel") +
		 !!ynode_get(tp, "proxyProtocol") + !!ynode_get(tp, "retryBudget");
	if (found == 0)
		perr(c, tp, "%s must set at least one field (or remove it)", path);
	if (ynode_get(tp, "tunnel") && ynode_get(tp, "proxyProtocol"))
		perr(c, tp, "%s: set only one of tunnel or proxyProtocol", path);
}

/* ---- subsets, selector ---- */

static void dr_labels_valid(struct pctx *c, const struct labels *l, const struct ynode *at,
			    const char *path)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!istio_label_key_valid(l->v[i].key))
			perr(c, at, "%s: \"%s\" is not a valid label key", path, l->v[i].key);
		if (!istio_label_value_valid(l->v[i].val))
			perr(c, at,
			     "%s.%s: \"%s\" is not a valid label value (at most 63 "
			     "characters: letters, digits, '-', '_', '.')",
			     path, l->v[i].key, l->v[i].val);
	}
}

static void dr_subset(struct drctx *x, const struct ynode *it, const char *path)
{
	static const char *const known[] = {"name", "labels", "trafficPolicy", NULL};
	struct m_destinationrule *dr = x->dr;
	struct pctx *c = x->c;
	struct m_subset *s;
	const struct ynode *tp;
	char p[PLEN];

	if (it->kind != YNODE_MAP) {
		perr(c, it, "%s must be a mapping with a name", path);
		return;
	}
	punknown(c, it, known, path);
	s = PUSH(dr->subsets, dr->nsubsets);
	s->line = it->line;
	s->name = pstr(c, it, "name", true, pathf(p, sizeof(p), "%s.name", path));
	if (s->name && !dns1123_label(s->name))
		perr(c, ynode_get(it, "name"),
		     "%s \"%s\" must be a DNS-1123 label (lowercase "
		     "letters, digits, '-'; at most 63 characters)",
		     p, s->name);
	for (size_t j = 0; s->name && j + 1 < dr->nsubsets; j++)
		if (dr->subsets[j].name && !strcmp(dr->subsets[j].name, s->name))
			perr(c, ynode_get(it, "name"),
			     "%s \"%s\" is already defined at line %d; "
			     "subset names must be unique",
			     p, s->name, dr->subsets[j].line);
	plabels(c, it, "labels", &s->labels, pathf(p, sizeof(p), "%s.labels", path));
	dr_labels_valid(c, &s->labels, ynode_get(it, "labels"), p);
	tp = pget(c, it, "trafficPolicy", YNODE_MAP, false,
		  pathf(p, sizeof(p), "%s.trafficPolicy", path));
	if (tp)
		dr_traffic_policy(x, tp, p, &s->tp);
}

static void dr_workload_selector(struct drctx *x, const struct ynode *spec)
{
	static const char *const known[] = {"matchLabels", NULL};
	const struct ynode *ws;

	ws = pget(x->c, spec, "workloadSelector", YNODE_MAP, false, "spec.workloadSelector");
	if (!ws)
		return;
	punknown(x->c, ws, known, "spec.workloadSelector");
	plabels(x->c, ws, "matchLabels", &x->dr->workload_selector,
		"spec.workloadSelector.matchLabels");
	dr_labels_valid(x->c, &x->dr->workload_selector, ynode_get(ws, "matchLabels"),
			"spec.workloadSelector.matchLabels");
}

int parse_destinationrule(struct pctx *c)
{
	static const char *const known[] = {"host",	"trafficPolicy",    "subsets",
					    "exportTo", "workloadSelector", NULL};
	struct drctx x = {.c = c};
	const struct ynode *spec, *n;
	int errors = c->errors;
	char p[PLEN];

	x.dr = PUSH(c->m->destinationrules, c->m->ndestinationrules);
	pmeta(c, &x.dr->meta, true);
	spec = pget(c, c->doc, "spec", YNODE_MAP, true, "spec");
	if (!spec)
		return -EINVAL;
	punknown(c, spec, known, "spec");
	x.dr->host = pstr(c, spec, "host", true, "spec.host");
	if (x.dr->host && !istio_host_valid(x.dr->host, true))
		perr(c, ynode_get(spec, "host"),
		     "spec.host \"%s\" is not a valid host name "
		     "(a service name or FQDN, optionally with a leading wildcard label)",
		     x.dr->host);
	dr_workload_selector(&x, spec);
	if (istio_check_export_to(c, spec, "spec.exportTo"))
		dr_unenforced(&x, ynode_get(spec, "exportTo"), "spec.exportTo");
	n = pget(c, spec, "trafficPolicy", YNODE_MAP, false, "spec.trafficPolicy");
	if (n)
		dr_traffic_policy(&x, n, "spec.trafficPolicy", &x.dr->tp);
	n = pget(c, spec, "subsets", YNODE_SEQ, false, "spec.subsets");
	for (size_t i = 0; n && i < n->n; i++)
		dr_subset(&x, n->items[i], pathf(p, sizeof(p), "spec.subsets[%zu]", i));
	return c->errors > errors ? -EINVAL : 0;
}
