// SPDX-License-Identifier: Apache-2.0
/*
 * What each forwarded stream carried, for the decider's stream_end: the request's size as read
 * from the client and the response's as passed to it, counted as the L7 router counts its own
 * HTTP/2 streams (route_h2_conn.c): the request's header list as RFC 9113 6.5.2 sizes it plus its
 * DATA, the final response head's fields (names and values, not :status) plus its DATA. DATA is
 * counted by frame length, padding included: the frames pass through unread, and clients that pad
 * are rare. Trailers count on neither side, as in the router.
 *
 * A stream is reported once, when its response ends (the pod's END_STREAM, as Envoy ends a stream
 * with its response), or when it is cut short: the pod reset it (UR), the client did (DC), the
 * connection ended (UC or DC); in every case with the final :status the pod gave, if any, so that
 * a body cut short by the pod's close is "200 UC" as Envoy logs it. Only while the decider asks
 * for stream_end; a stream past H2_MAX_TALLY is reported at its :status, without sizes.
 */
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

static struct h2_tally *find(struct l7_filter *f, uint32_t sid)
{
	for (size_t i = 0; i < f->ntally; i++)
		if (f->tally[i].sid == sid)
			return &f->tally[i];
	return NULL;
}

void h2_tally_open(struct l7_filter *f, uint32_t sid, uint64_t head)
{
	struct h2_tally *t;

	if (!f->dec.stream_end || f->ntally == H2_MAX_TALLY)
		return;
	if (f->ntally == f->tallycap) {
		size_t cap = f->tallycap ? 2 * f->tallycap : 8;

		t = realloc(f->tally, cap * sizeof(*t));
		if (!t)
			return; /* reported at its :status, without sizes */
		f->tally = t;
		f->tallycap = cap;
	}
	f->tally[f->ntally++] = (struct h2_tally){.sid = sid, .request = head};
}

void h2_tally_client_data(struct l7_filter *f, uint32_t sid, uint32_t len)
{
	struct h2_tally *t = find(f, sid);

	if (t)
		t->request += len;
}

void h2_tally_pod_data(struct l7_filter *f, uint32_t sid, uint32_t len)
{
	struct h2_tally *t = find(f, sid);

	if (t)
		t->response += len;
}

/* True when the stream is tallied: its end reports the status; else it is reported now. */
bool h2_tally_status(struct l7_filter *f, uint32_t sid, int status)
{
	struct h2_tally *t = find(f, sid);

	if (!t)
		return false;
	if (!t->status)
		t->status = status;
	return true;
}

void h2_tally_head_field(struct l7_filter *f, uint32_t sid, size_t len)
{
	struct h2_tally *t = find(f, sid);

	if (t)
		t->response += len;
}

static void report(struct l7_filter *f, size_t i, const char *flags)
{
	struct h2_tally t = f->tally[i];

	f->tally[i] = f->tally[--f->ntally];
	h2_stream_end(f, t.sid, t.status, flags, t.request, t.response);
}

void h2_tally_end(struct l7_filter *f, uint32_t sid, const char *flags)
{
	if (sid) {
		for (size_t i = 0; i < f->ntally; i++)
			if (f->tally[i].sid == sid) {
				report(f, i, flags);
				return;
			}
		/* not tallied: the decider ignores it when already ended */
		h2_stream_end(f, sid, 0, flags, 0, 0);
		return;
	}
	while (f->ntally)
		report(f, f->ntally - 1, flags);
	h2_stream_end(f, 0, 0, flags, 0, 0); /* streams begun and never tallied */
}

void h2_tally_free(struct l7_filter *f)
{
	free(f->tally);
	f->tally = NULL;
	f->ntally = f->tallycap = 0;
}
