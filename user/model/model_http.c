// SPDX-License-Identifier: Apache-2.0
/*
 * The typed http route (model_http.h): retry condition names, Istio's default retry policy,
 * whether a route needs the L7 router, and freeing.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_regex.h"
#include "model/parse.h"

uint32_t m_retry_on_bit(const char *tok)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} names[] = {
	    {"5xx", M_RETRY_5XX},
	    {"gateway-error", M_RETRY_GATEWAY_ERROR},
	    {"reset", M_RETRY_RESET},
	    {"reset-before-request", M_RETRY_RESET_BEFORE_REQUEST},
	    {"connect-failure", M_RETRY_CONNECT_FAILURE},
	    {"retriable-4xx", M_RETRY_RETRIABLE_4XX},
	    {"refused-stream", M_RETRY_REFUSED_STREAM},
	    {"retriable-status-codes", M_RETRY_STATUS_CODES},
	    {"retriable-headers", M_RETRY_RETRIABLE_HEADERS},
	    {"envoy-ratelimited", M_RETRY_ENVOY_RATELIMITED},
	    {"http3-post-connect-failure", M_RETRY_HTTP3_POST_CONNECT},
	    {"cancelled", M_RETRY_CANCELLED},
	    {"deadline-exceeded", M_RETRY_DEADLINE_EXCEEDED},
	    {"internal", M_RETRY_INTERNAL},
	    {"resource-exhausted", M_RETRY_RESOURCE_EXHAUSTED},
	    {"unavailable", M_RETRY_UNAVAILABLE},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i].name, tok))
			return names[i].bit;
	return 0;
}

void m_retries_default(struct m_retries *r)
{
	static uint16_t code_503 = 503;

	memset(r, 0, sizeof(*r));
	r->attempts = 2;
	r->on = M_RETRY_CONNECT_FAILURE | M_RETRY_REFUSED_STREAM | M_RETRY_UNAVAILABLE |
		M_RETRY_CANCELLED | M_RETRY_STATUS_CODES;
	r->codes = &code_503; /* static: the default is never freed */
	r->ncodes = 1;
}

bool m_http_route_is_l7(const struct m_route *r)
{
	const struct m_http_route *h = r->h;

	if (!h)
		return false;
	if (r->has_match || h->rewrite || h->redirect || h->direct || h->retries || h->fault ||
	    h->headers || h->timeout_ms || h->nmirrors)
		return true;
	for (size_t i = 0; i < r->ndests; i++)
		if (r->dests[i].headers)
			return true;
	return false;
}

static void sm_free(struct m_string_match *sm)
{
	free(sm->value);
	m_regex_free(sm->re);
}

static void named_free(struct m_named_match *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		sm_free(&v[i].m);
	}
	free(v);
}

static void match_free(struct m_http_match *m)
{
	free(m->name);
	sm_free(&m->uri);
	sm_free(&m->scheme);
	sm_free(&m->method);
	sm_free(&m->authority);
	named_free(m->headers, m->nheaders);
	named_free(m->without_headers, m->nwithout_headers);
	named_free(m->query_params, m->nquery_params);
	labels_free(&m->source_labels);
	free(m->source_namespace);
}

static void ops_free(struct m_header_ops *o)
{
	labels_free(&o->set);
	labels_free(&o->add);
	for (size_t i = 0; i < o->nremove; i++)
		free(o->remove[i]);
	free(o->remove);
}

void m_headers_free(struct m_headers *h)
{
	if (!h)
		return;
	ops_free(&h->request);
	ops_free(&h->response);
	free(h);
}

static void actions_free(struct m_http_route *h)
{
	if (h->rewrite) {
		free(h->rewrite->uri);
		free(h->rewrite->authority);
		m_regex_free(h->rewrite->regex);
		free(h->rewrite->regex_match);
		free(h->rewrite->regex_rewrite);
		free(h->rewrite);
	}
	if (h->redirect) {
		free(h->redirect->uri);
		free(h->redirect->authority);
		free(h->redirect->scheme);
		free(h->redirect);
	}
	if (h->direct) {
		free(h->direct->body);
		free(h->direct);
	}
	if (h->retries) {
		free(h->retries->codes);
		free(h->retries);
	}
	if (h->fault) {
		free(h->fault->abort_grpc);
		free(h->fault);
	}
}

void m_http_route_free(struct m_http_route *h)
{
	if (!h)
		return;
	free(h->name);
	for (size_t i = 0; i < h->nmatches; i++)
		match_free(&h->matches[i]);
	free(h->matches);
	actions_free(h);
	m_headers_free(h->headers);
	for (size_t i = 0; i < h->nmirrors; i++) {
		free(h->mirrors[i].dest.host);
		free(h->mirrors[i].dest.subset);
		m_headers_free(h->mirrors[i].dest.headers);
	}
	free(h->mirrors);
	free(h);
}
