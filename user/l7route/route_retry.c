// SPDX-License-Identifier: Apache-2.0
/*
 * The policy between two tries, one function for HTTP/1.1 requests and HTTP/2 streams so that
 * both retry alike: the route's retries (or Istio's default: 2 attempts on connect-failure,
 * refused-stream, unavailable, cancelled, retriable-status-codes 503), retried only when the
 * request body is held whole; the retryOn condition the try matched; one of the destination's
 * http.maxRetries for the retry (none left: the try's answer stands, as Envoy's
 * upstream_rq_retry_overflow); Envoy's jittered back-off, cut short by the route timeout or the
 * client leaving; and the endpoint of the last try, which the next pick avoids where it can.
 * Waiting is the caller's (a poll on an HTTP/1.1 client's socket, a stream's cancel condition):
 * the rest is the same code.
 */
#include "l7route/route_conn.h"
#include "l7route/route_pick.h"

void l7r_retry_begin(struct l7r_retry *r, const struct m_http_route *h, bool buffered,
		     l7r_retry_wait_fn wait, void *arg)
{
	*r = (struct l7r_retry){.wait = wait, .arg = arg};
	m_retries_default(&r->def);
	r->rp = h && h->retries ? h->retries : &r->def;
	r->tries = 1 + (buffered ? r->rp->attempts : 0);
	r->route_dl = l7r_deadline(h ? (uint64_t)h->timeout_ms : 0);
}

uint64_t l7r_retry_try_deadline(const struct l7r_retry *r)
{
	uint64_t dl = l7r_deadline((uint64_t)r->rp->per_try_timeout_ms);

	return dl < r->route_dl ? dl : r->route_dl;
}

/* The back-off before retry number `retry`, then whether the try may go. */
static bool backoff(struct l7r_retry *r, unsigned retry, enum l7r_outcome *o)
{
	uint64_t base = r->rp->backoff_ms > 0 ? (uint64_t)r->rp->backoff_ms : L7R_BACKOFF_BASE_MS;
	uint64_t until = l7r_deadline(l7r_backoff_ms(base, retry, l7r_rand32()));

	if (until == L7R_NO_DEADLINE)
		return true; /* a zero wait */
	if (r->wait(r->arg, until < r->route_dl ? until : r->route_dl)) {
		*o = OUT_CLIENT_GONE;
		return false;
	}
	if (r->route_dl != L7R_NO_DEADLINE && l7r_now_ns() >= r->route_dl) {
		*o = OUT_TIMEOUT;
		return false;
	}
	return true;
}

bool l7r_retry_again(struct l7r_retry *r, struct l7r_lb_pick *lp, enum l7r_outcome *o,
		     const struct h1_msg *rs)
{
	r->matched = *o != OUT_TIMEOUT && *o != OUT_CLIENT_GONE && l7r_retriable(r->rp, *o, rs);
	if (!r->matched || ++r->done >= r->tries)
		return false;
	l7r_lb_retry_done(r->held); /* the previous retry's try is over */
	r->held = NULL;
	if (l7r_lb_retry_take(lp, &r->held))
		return false; /* maxRetries: this try's answer stands */
	l7r_lb_end(lp);	      /* the endpoint is given back while the retry waits */
	return backoff(r, r->done, o);
}

/* Envoy flags URX whenever the last try still matched retryOn: a retriable status, and as well
 * a connect failure or a reset (Istio's familiar "UF,URX" of an endpoint that refuses). */
bool l7r_retry_urx(const struct l7r_retry *r, enum l7r_outcome o, unsigned attempts)
{
	(void)o;
	return attempts > 1 && r->matched;
}

void l7r_retry_end(struct l7r_retry *r)
{
	l7r_lb_retry_done(r->held);
	r->held = NULL;
}
