// SPDX-License-Identifier: Apache-2.0
/*
 * Streams the h2c filter answers itself, and when it may write toward the client.
 *
 * A denied stream gets HEADERS 403 and DATA "RBAC: access denied" with END_STREAM (a HEAD request,
 * the HEADERS alone with END_STREAM: its answer has no body); a CONNECT gets 403 and an oversized
 * header list 431, both without a body. If the client had not ended its side, RST_STREAM(NO_ERROR)
 * follows so it stops sending a body nobody reads (as Envoy does). A malformed request gets
 * RST_STREAM(PROTOCOL_ERROR), one over H2_MAX_OPEN open streams RST_STREAM(REFUSED_STREAM). The
 * pod never hears of these streams, so the client's frames on them are dropped (l7_h2_client.c)
 * and every dropped DATA byte is given back with a connection-level WINDOW_UPDATE: the pod, which
 * never saw them, would never replenish them. A stream the pod reset is kept the same way, with
 * nothing to answer, so that what the client still sends on it is dropped too.
 *
 * The 403 body shares the client's receive windows with the pod's DATA, so it is sent only as
 * far as those windows allow, and the client's connection WINDOW_UPDATEs that pay for it are
 * kept from the pod (`owed`), or the pod would be credited bytes it never sent. Until they come,
 * the pod may think the client's window `owed` bytes larger than it is: l7_h2_upstream.c holds
 * the pod's DATA that would not fit.
 *
 * Everything here is written between the pod's frames only: h2_flush() does nothing before the
 * pod's SETTINGS (the first frame the client must see) or while a pod frame or header block is
 * half way through to the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

#define BODY_LEN (sizeof(L7_DENY_BODY) - 1)

struct h2_denied *h2_denied_find(struct l7_filter *f, uint32_t sid)
{
	size_t i;

	for (i = f->nden; i-- > 0;)
		if (f->den[i].sid == sid)
			return &f->den[i];
	return NULL;
}

static void denied_remove(struct l7_filter *f, size_t i)
{
	memmove(&f->den[i], &f->den[i + 1], (f->nden - i - 1) * sizeof(*f->den));
	f->nden--;
}

/* A stream we reset is kept only so the client's frames still in flight are dropped; the
 * oldest go first. Returns whether one went. */
static bool evict_oldest_reset(struct l7_filter *f)
{
	size_t i;

	for (i = 0; i < f->nden; i++) {
		if (f->den[i].reset && f->den[i].answered) {
			denied_remove(f, i);
			return true;
		}
	}
	return false;
}

int h2_denied_add(struct l7_filter *f, uint32_t sid, enum h2_answer answer, bool client_done)
{
	if (f->nden == f->dencap) {
		size_t cap = f->dencap ? f->dencap * 2 : 8;
		struct h2_denied *p;

		if (f->nden >= H2_MAX_DENIED && !evict_oldest_reset(f))
			return -EPROTO; /* a client that keeps 1024 denied streams open */
		if (f->nden == f->dencap) {
			p = realloc(f->den, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			f->den = p;
			f->dencap = cap;
		}
	}
	f->den[f->nden++] = (struct h2_denied){
	    .sid = sid,
	    .answer = answer,
	    .client_done = client_done,
	    .answered = answer == H2_ANSWER_NONE,
	    .reset = answer == H2_ANSWER_NONE,
	};
	return 0;
}

/* The client ended its side (END_STREAM) or reset the stream: once our answer is out, or at
 * once when reset (the client wants no answer), the stream is forgotten. */
void h2_denied_client_done(struct l7_filter *f, struct h2_denied *d, bool reset)
{
	d->client_done = true;
	if (reset || d->answered)
		denied_remove(f, d - f->den);
}

static int put_body(struct l7_filter *f, struct h2_denied *d, struct l7_buf *out)
{
	int64_t stream_win = f->cl_init_win + d->win_extra - (int64_t)d->body_sent;
	int64_t n = BODY_LEN - d->body_sent;

	if (n > f->cl_conn_win)
		n = f->cl_conn_win;
	if (n > stream_win)
		n = stream_win;
	if (n <= 0)
		return 0; /* the client's window is full: wait for its WINDOW_UPDATE */
	if (h2_put_hd(out, n, NGHTTP2_DATA,
		      d->body_sent + n == BODY_LEN ? NGHTTP2_FLAG_END_STREAM : 0, d->sid) ||
	    l7_buf_put(out, L7_DENY_BODY + d->body_sent, n))
		return -ENOMEM;
	d->body_sent += n;
	f->cl_conn_win -= n;
	f->owed += n;
	d->answered = d->body_sent == BODY_LEN;
	return 0;
}

/* As much of one stream's answer as may go now. */
static int answer(struct l7_filter *f, struct h2_denied *d, struct l7_buf *out)
{
	uint8_t block[64];
	size_t n;

	if (d->answered)
		return 0;
	if (d->answer == H2_ANSWER_RESET || d->answer == H2_ANSWER_REFUSED) {
		d->answered = d->reset = true;
		return h2_put_u32_frame(out, NGHTTP2_RST_STREAM, d->sid,
					d->answer == H2_ANSWER_RESET ? NGHTTP2_PROTOCOL_ERROR
								     : NGHTTP2_REFUSED_STREAM);
	}
	if (!d->head_sent) {
		bool head = d->answer != H2_ANSWER_403; /* the others have no body */

		n = h2_hpack_reply(block, sizeof(block), d->answer);
		if (h2_put_header_block(out, d->sid, head ? NGHTTP2_FLAG_END_STREAM : 0, NULL,
					block, n, H2_MIN_FRAME))
			return -ENOMEM;
		d->head_sent = true;
		d->answered = head;
	}
	if (!d->answered && put_body(f, d, out))
		return -ENOMEM;
	if (!d->answered || d->client_done)
		return 0;
	d->reset = true;
	return h2_put_u32_frame(out, NGHTTP2_RST_STREAM, d->sid, NGHTTP2_NO_ERROR);
}

/* Forget streams that are over on both sides; keep only the newest streams we reset. */
static void sweep(struct l7_filter *f)
{
	size_t i, nreset = 0;

	for (i = f->nden; i-- > 0;) {
		if (f->den[i].answered && f->den[i].client_done)
			denied_remove(f, i);
		else if (f->den[i].reset)
			nreset++;
	}
	for (; nreset > H2_MAX_RESET_KEPT; nreset--)
		evict_oldest_reset(f);
}

/* Write what the filter owes the client, if the pod's byte stream is between frames. */
int h2_flush(struct l7_filter *f, struct l7_buf *to_client)
{
	size_t i;

	if (!f->up_started || !h2_reader_at_boundary(&f->up) || f->up_in_block)
		return 0;
	while (f->give_back) {
		uint32_t n = f->give_back > H2_MAX_WINDOW ? H2_MAX_WINDOW : f->give_back;

		if (h2_put_u32_frame(to_client, NGHTTP2_WINDOW_UPDATE, 0, n))
			return -ENOMEM;
		f->give_back -= n;
	}
	for (i = 0; i < f->nden; i++)
		if (answer(f, &f->den[i], to_client))
			return -ENOMEM;
	sweep(f);
	if (f->goaway) {
		f->goaway = false;
		return h2_put_goaway(to_client, f->last_request_id, f->goaway_code);
	}
	return 0;
}
