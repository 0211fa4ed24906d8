// SPDX-License-Identifier: Apache-2.0
/*
 * VirtualService http[] routes: destinations, matches (model_istio_vs_match.c) and the actions
 * (headers, fault, retries, timeout, redirect, directResponse, rewrite, mirrors), validated as
 * Istio does and stored typed (model_http.h) for skiffd's L7 router.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "model/model_istio_vs.h"
#include "model/model_regex.h"

static void *zalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		abort();
	return p;
}

static void header_ops(struct vsctx *v, const struct ynode *h, const char *key, const char *path,
		       struct m_header_ops *out)
{
	static const char *const known[] = {"set", "add", "remove", NULL};
	struct pctx *c = v->c;
	const struct ynode *ops;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];

	ops = pget(c, h, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!ops)
		return;
	punknown(c, ops, known, p);
	plabels(c, ops, "set", &out->set, pathf(q, sizeof(q), "%s.set", p));
	plabels(c, ops, "add", &out->add, pathf(q, sizeof(q), "%s.add", p));
	pstrlist(c, ops, "remove", &out->remove, &out->nremove,
		 pathf(q, sizeof(q), "%s.remove", p));
}

void vs_headers(struct vsctx *v, const struct ynode *h, const char *path, struct m_headers **out)
{
	static const char *const known[] = {"request", "response", NULL};

	if (h->kind != YNODE_MAP) {
		perr(v->c, h, "%s must be a mapping with request and/or response", path);
		return;
	}
	punknown(v->c, h, known, path);
	*out = zalloc(sizeof(**out));
	header_ops(v, h, "request", path, &(*out)->request);
	header_ops(v, h, "response", path, &(*out)->response);
}

static void fault_delay(struct vsctx *v, const struct ynode *d, const char *path, struct m_fault *f)
{
	static const char *const known[] = {"fixedDelay", "exponentialDelay", "percentage",
					    "percent", NULL};
	char p[PATH_MAX_LEN];

	punknown(v->c, d, known, path);
	f->delay = true;
	f->delay_pct = 100;
	if (ynode_get(d, "exponentialDelay"))
		perr(v->c, ynode_get(d, "exponentialDelay"),
		     "%s.exponentialDelay is not supported (Istio rejects it too); use fixedDelay",
		     path);
	else if (pduration(v->c, d, "fixedDelay", &f->delay_ms,
			   pathf(p, sizeof(p), "%s.fixedDelay", path)) == 0)
		perr(v->c, d, "%s.fixedDelay is required", path);
	vs_percentage(v, d, "percentage", path, &f->delay_pct);
	vs_old_percent(v, d, "percent", path, "percentage.value", &f->delay_pct);
}

static void fault_abort(struct vsctx *v, const struct ynode *a, const char *path, struct m_fault *f)
{
	static const char *const known[] = {"httpStatus", "grpcStatus", "http2Error",
					    "percentage", "percent",	NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *g;
	int64_t st;
	int kinds = 0;

	punknown(c, a, known, path);
	f->abort = true;
	f->abort_pct = 100;
	if (ynode_get(a, "http2Error")) {
		perr(c, ynode_get(a, "http2Error"),
		     "%s.http2Error is not supported (Istio rejects it too); use httpStatus or "
		     "grpcStatus",
		     path);
		kinds++;
	}
	/* The API says 200..599; Istio's validation allows 600, and so do we. */
	if (pint(c, a, "httpStatus", 200, 600, &st, pathf(p, sizeof(p), "%s.httpStatus", path))) {
		kinds++;
		f->abort_status = (uint16_t)st;
	}
	g = pget(c, a, "grpcStatus", YNODE_SCALAR, false,
		 pathf(p, sizeof(p), "%s.grpcStatus", path));
	if (g) {
		kinds++;
		if (istio_grpc_code(g->scalar) < 0)
			perr(c, g,
			     "%s: \"%s\" is not a gRPC status name (e.g. UNAVAILABLE, NOT_FOUND)",
			     p, g->scalar);
		f->abort_grpc = strdup(g->scalar);
		vs_unenforced(v, g, p); /* HTTP/1.1 requests have no gRPC status to set */
	}
	if (kinds == 0)
		pwarn(c, a, "%s has no httpStatus or grpcStatus: it aborts nothing", path);
	else if (kinds > 1)
		perr(c, a, "%s: set only one of httpStatus, grpcStatus or http2Error", path);
	vs_percentage(v, a, "percentage", path, &f->abort_pct);
	vs_old_percent(v, a, "percent", path, "percentage.value", &f->abort_pct);
}

static void fault(struct vsctx *v, const struct ynode *n, const char *path, struct m_fault *f)
{
	static const char *const known[] = {"delay", "abort", NULL};
	const struct ynode *d, *a;
	char p[PATH_MAX_LEN];

	punknown(v->c, n, known, path);
	d = pget(v->c, n, "delay", YNODE_MAP, false, pathf(p, sizeof(p), "%s.delay", path));
	if (d)
		fault_delay(v, d, p, f);
	a = pget(v->c, n, "abort", YNODE_MAP, false, pathf(p, sizeof(p), "%s.abort", path));
	if (a)
		fault_abort(v, a, p, f);
	if (!ynode_get(n, "delay") && !ynode_get(n, "abort"))
		perr(v->c, n, "%s needs an abort, a delay, or both", path);
}

/* "5xx,reset,503": condition names to bits, bare status codes to the retriable codes. */
static void retry_on(struct vsctx *v, const struct ynode *n, const char *path, struct m_retries *r)
{
	char *copy = strdup(n->scalar), *tok, *next;

	if (!copy)
		abort();
	if (!copy[0])
		perr(v->c, n, "%s must not be empty", path);
	/* strtok_r would skip empty items; Istio rejects them, so split by hand. */
	for (tok = copy; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		tok = istio_trim(tok);
		if (!istio_retry_on_valid(tok)) {
			perr(v->c, n,
			     "%s: \"%s\" is not a retry condition Istio accepts (5xx, "
			     "gateway-error, "
			     "reset, reset-before-request, connect-failure, envoy-ratelimited, "
			     "retriable-4xx, refused-stream, retriable-status-codes, "
			     "retriable-headers, cancelled, deadline-exceeded, internal, "
			     "resource-exhausted, unavailable, or an HTTP status code like 503)",
			     path, tok);
		} else if (m_retry_on_bit(tok)) {
			r->on |= m_retry_on_bit(tok);
		} else {
			*PUSH(r->codes, r->ncodes) = (uint16_t)atoi(tok);
			r->on |= M_RETRY_STATUS_CODES;
		}
	}
	free(copy);
}

static void retries(struct vsctx *v, const struct ynode *n, const char *path, struct m_retries *r)
{
	static const char *const known[] = {"attempts",
					    "perTryTimeout",
					    "retryOn",
					    "retryRemoteLocalities",
					    "retryIgnorePreviousHosts",
					    "backoff",
					    NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *on;
	int64_t attempts = 0;
	bool b;

	punknown(c, n, known, path);
	r->line = n->line;
	pint(c, n, "attempts", 0, INT32_MAX, &attempts, pathf(p, sizeof(p), "%s.attempts", path));
	r->attempts = (uint32_t)attempts;
	pduration(c, n, "perTryTimeout", &r->per_try_timeout_ms,
		  pathf(p, sizeof(p), "%s.perTryTimeout", path));
	pduration(c, n, "backoff", &r->backoff_ms, pathf(p, sizeof(p), "%s.backoff", path));
	pbool(c, n, "retryRemoteLocalities", &r->remote_localities,
	      pathf(p, sizeof(p), "%s.retryRemoteLocalities", path));
	pbool(c, n, "retryIgnorePreviousHosts", &b,
	      pathf(p, sizeof(p), "%s.retryIgnorePreviousHosts", path));
	/* Istio's default conditions when retryOn is absent */
	r->on = M_RETRY_CONNECT_FAILURE | M_RETRY_REFUSED_STREAM | M_RETRY_UNAVAILABLE |
		M_RETRY_CANCELLED | M_RETRY_STATUS_CODES;
	on = pget(c, n, "retryOn", YNODE_SCALAR, false, pathf(p, sizeof(p), "%s.retryOn", path));
	if (on) {
		r->on = 0;
		retry_on(v, on, p, r);
	} else {
		*PUSH(r->codes, r->ncodes) = 503;
	}
	/* A missing attempts is 0 too, as in Istio's proto. */
	if (attempts == 0 && (ynode_get(n, "perTryTimeout") || ynode_get(n, "retryOn") ||
			      ynode_get(n, "retryRemoteLocalities")))
		perr(c, n,
		     "%s: perTryTimeout, retryOn and retryRemoteLocalities need attempts > 0 "
		     "(attempts 0 or absent disables retries)",
		     path);
}

static void redirect(struct vsctx *v, const struct ynode *n, const char *path, struct m_redirect *r)
{
	static const char *const known[] = {"uri",    "authority",    "port", "derivePort",
					    "scheme", "redirectCode", NULL};
	static const char *const derive[] = {"FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	int64_t num;
	int d;

	punknown(c, n, known, path);
	r->code = 301;
	r->uri = pstr(c, n, "uri", false, pathf(p, sizeof(p), "%s.uri", path));
	r->authority = pstr(c, n, "authority", false, pathf(p, sizeof(p), "%s.authority", path));
	r->scheme = pstr(c, n, "scheme", false, pathf(p, sizeof(p), "%s.scheme", path));
	if (pint(c, n, "port", 1, 65535, &num, pathf(p, sizeof(p), "%s.port", path)) == 1) {
		r->port_mode = M_REDIRECT_PORT_SET;
		r->port = (uint16_t)num;
	}
	if (pint(c, n, "redirectCode", 300, 399, &num,
		 pathf(p, sizeof(p), "%s.redirectCode", path)) == 1)
		r->code = (uint16_t)num;
	d = istio_check_enum(c, n, "derivePort", derive,
			     pathf(p, sizeof(p), "%s.derivePort", path));
	if (d >= 0)
		r->port_mode = d == 0 ? M_REDIRECT_FROM_PROTOCOL : M_REDIRECT_FROM_REQUEST;
	if (!r->uri && !r->authority && !ynode_get(n, "port") && !ynode_get(n, "derivePort") &&
	    !r->scheme)
		perr(c, n, "%s must set at least one of uri, authority, scheme or port", path);
	if (ynode_get(n, "port") && ynode_get(n, "derivePort"))
		perr(c, n, "%s: set only one of port or derivePort", path);
}

/* body.bytes is base64 in the YAML. */
static void body_bytes(struct vsctx *v, const struct ynode *b, const char *path,
		       struct m_direct_response *r)
{
	size_t len = strlen(b->scalar);
	int n;

	r->body = zalloc(len / 4 * 3 + 4);
	n = len % 4 ? -1
		    : EVP_DecodeBlock((unsigned char *)r->body, (const unsigned char *)b->scalar,
				      (int)len);
	if (n < 0) {
		perr(v->c, b, "%s: not valid base64", path);
		return;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	for (size_t i = len; i > 0 && b->scalar[i - 1] == '='; i--)
		n--;
	r->body_len = (size_t)n;
}

static void direct_response(struct vsctx *v, const struct ynode *n, const char *path,
			    struct m_direct_response *r)
{
	static const char *const known[] = {"status", "body", NULL};
	static const char *const bknown[] = {"string", "bytes", "fileName", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	const struct ynode *body, *b;
	int64_t st;

	punknown(c, n, known, path);
	if (pint(c, n, "status", 200, 599, &st, pathf(p, sizeof(p), "%s.status", path)) == 0)
		perr(c, n, "%s.status is required", path);
	r->status = (uint16_t)st;
	body = pget(c, n, "body", YNODE_MAP, false, pathf(p, sizeof(p), "%s.body", path));
	if (!body)
		return;
	punknown(c, body, bknown, p);
	if ((ynode_get(body, "string") != NULL) + (ynode_get(body, "bytes") != NULL) +
		(ynode_get(body, "fileName") != NULL) !=
	    1) {
		perr(c, body, "%s: set exactly one of string, bytes or fileName", p);
		return;
	}
	r->body = pstr(c, body, "string", false, pathf(q, sizeof(q), "%s.string", p));
	if (r->body)
		r->body_len = strlen(r->body);
	b = pget(c, body, "bytes", YNODE_SCALAR, false, pathf(q, sizeof(q), "%s.bytes", p));
	if (b)
		body_bytes(v, b, q, r);
	if (ynode_get(body, "fileName"))
		vs_unenforced(v, ynode_get(body, "fileName"),
			      pathf(q, sizeof(q), "%s.fileName", p));
}

static void rewrite(struct vsctx *v, const struct ynode *n, const char *path, struct m_rewrite *r)
{
	static const char *const known[] = {"uri", "authority", "uriRegexRewrite", NULL};
	static const char *const rknown[] = {"match", "rewrite", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN], why[160];
	const struct ynode *rx;

	punknown(c, n, known, path);
	r->uri = pstr(c, n, "uri", false, pathf(p, sizeof(p), "%s.uri", path));
	r->authority = pstr(c, n, "authority", false, pathf(p, sizeof(p), "%s.authority", path));
	rx = pget(c, n, "uriRegexRewrite", YNODE_MAP, false,
		  pathf(p, sizeof(p), "%s.uriRegexRewrite", path));
	if (rx) {
		punknown(c, rx, rknown, p);
		r->regex_match = pstr(c, rx, "match", true, pathf(q, sizeof(q), "%s.match", p));
		if (r->regex_match && m_regex_problem(r->regex_match, why, sizeof(why)))
			perr(c, ynode_get(rx, "match"),
			     "%s: \"%s\" is not a valid regular expression: %s", q, r->regex_match,
			     why);
		else if (r->regex_match)
			r->regex = m_regex_compile(r->regex_match, false, false);
		r->regex_rewrite =
		    pstr(c, rx, "rewrite", true, pathf(q, sizeof(q), "%s.rewrite", p));
	}
	if (ynode_get(n, "uri") && rx)
		perr(c, n, "%s: set only one of uri or uriRegexRewrite", path);
	if (!ynode_get(n, "uri") && !ynode_get(n, "authority") && !rx)
		perr(c, n, "%s must set at least one of uri, authority or uriRegexRewrite", path);
}

static void mirror_one(struct vsctx *v, const struct ynode *dst, const char *path,
		       struct m_http_route *h, double pct)
{
	struct m_mirror *m = PUSH(h->mirrors, h->nmirrors);

	vs_destination(v, dst, path, &m->dest);
	m->line = dst->line;
	m->pct = pct;
}

static void mirrors(struct vsctx *v, const struct ynode *n, const char *path,
		    struct m_http_route *h)
{
	static const char *const known[] = {"destination", "percentage", NULL};
	struct pctx *c = v->c;
	const struct ynode *m, *seq;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	double pct = 100;

	if (ynode_get(n, "mirror") && ynode_get(n, "mirrors"))
		perr(c, ynode_get(n, "mirrors"), "%s: set only one of mirror or mirrors", path);
	vs_percentage(v, n, "mirrorPercentage", path, &pct);
	vs_old_percent(v, n, "mirrorPercent", path, "mirrorPercentage.value", &pct);
	if (ynode_get(n, "mirror_percent"))
		pwarn(c, ynode_get(n, "mirror_percent"),
		      "%s.mirror_percent is deprecated and ignored; use mirrorPercentage", path);
	m = pget(c, n, "mirror", YNODE_MAP, false, pathf(p, sizeof(p), "%s.mirror", path));
	if (m)
		mirror_one(v, m, p, h, pct);
	seq = pget(c, n, "mirrors", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.mirrors", path));
	for (size_t i = 0; seq && i < seq->n; i++) {
		const struct ynode *it = seq->items[i], *dst;
		double one = 100;

		pathf(q, sizeof(q), "%s[%zu]", p, i);
		if (it->kind != YNODE_MAP) {
			perr(c, it, "%s must be a mapping with a destination", q);
			continue;
		}
		punknown(c, it, known, q);
		vs_percentage(v, it, "percentage", q, &one);
		pathf(q, sizeof(q), "%s[%zu].destination", p, i);
		dst = pget(c, it, "destination", YNODE_MAP, true, q);
		if (dst)
			mirror_one(v, dst, q, h, one);
	}
}

/* The combinations Istio forbids between route, redirect, directResponse, fault and rewrite. */
void vs_http_actions_combine(struct vsctx *v, const struct ynode *h, const char *path)
{
	const struct ynode *r = ynode_get(h, "route");
	bool route = r && !(r->kind == YNODE_SEQ && r->n == 0), redirect = ynode_get(h, "redirect");
	bool direct = ynode_get(h, "directResponse"), fault = ynode_get(h, "fault");
	bool rewrite = ynode_get(h, "rewrite"), delegate = ynode_get(h, "delegate");

	if (!route && !redirect && !direct && !delegate)
		perr(v->c, h, "%s needs one of route, redirect or directResponse", path);
	if (redirect && (route || fault || rewrite || direct))
		perr(v->c, h,
		     "%s: redirect cannot be combined with route, fault, rewrite or "
		     "directResponse",
		     path);
	else if (direct && (route || fault || rewrite))
		perr(v->c, h, "%s: directResponse cannot be combined with route, fault or rewrite",
		     path);
}

/* An optional map-valued action at h[key]: validate it into a new *out. */
#define VS_ACTION(v, node, key, path, fn, out)                                                     \
	do {                                                                                       \
		char ap_[PATH_MAX_LEN];                                                            \
		const struct ynode *an_ = pget((v)->c, node, key, YNODE_MAP, false,                \
					       pathf(ap_, sizeof(ap_), "%s.%s", path, key));       \
		if (an_) {                                                                         \
			(out) = zalloc(sizeof(*(out)));                                            \
			fn(v, an_, ap_, out);                                                      \
		}                                                                                  \
	} while (0)

void vs_http_one(struct vsctx *v, const struct ynode *n, const char *path, struct m_route *r)
{
	static const char *const known[] = {"name",
					    "match",
					    "route",
					    "redirect",
					    "directResponse",
					    "delegate",
					    "rewrite",
					    "timeout",
					    "retries",
					    "fault",
					    "mirror",
					    "mirrors",
					    "mirrorPercentage",
					    "mirrorPercent",
					    "mirror_percent",
					    "corsPolicy",
					    "headers",
					    NULL};
	struct pctx *c = v->c;
	struct m_http_route *h;
	char p[PATH_MAX_LEN];
	const struct ynode *x;

	r->line = n->line;
	r->h = h = zalloc(sizeof(*h));
	if (n->kind != YNODE_MAP) {
		perr(c, n, "%s must be a mapping", path);
		return;
	}
	punknown(c, n, known, path);
	vs_http_actions_combine(v, n, path);
	h->name = pstr(c, n, "name", false, pathf(p, sizeof(p), "%s.name", path));
	r->has_match = vs_http_matches(v, n, path, h);
	x = pget(c, n, "route", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.route", path));
	if (x)
		vs_route_dests(v, x, p, r, true);
	VS_ACTION(v, n, "redirect", path, redirect, h->redirect);
	VS_ACTION(v, n, "directResponse", path, direct_response, h->direct);
	VS_ACTION(v, n, "rewrite", path, rewrite, h->rewrite);
	VS_ACTION(v, n, "retries", path, retries, h->retries);
	VS_ACTION(v, n, "fault", path, fault, h->fault);
	x = pget(c, n, "corsPolicy", YNODE_MAP, false, pathf(p, sizeof(p), "%s.corsPolicy", path));
	if (x) {
		vs_cors(v, x, p);
		vs_unenforced(v, x, p);
	}
	x = ynode_get(n, "headers");
	if (x)
		vs_headers(v, x, pathf(p, sizeof(p), "%s.headers", path), &h->headers);
	pduration(c, n, "timeout", &h->timeout_ms, pathf(p, sizeof(p), "%s.timeout", path));
	if (ynode_get(n, "delegate"))
		vs_unenforced(v, ynode_get(n, "delegate"),
			      pathf(p, sizeof(p), "%s.delegate", path));
	mirrors(v, n, path, h);
}
