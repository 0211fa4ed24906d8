// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/2 (prior-knowledge h2c) L7 filter: l7_h2_ops. How it works is in l7_h2.h; this file
 * opens and closes it and runs each call: the client preface, then frames in both directions,
 * then whatever the filter owes the client, once the pod's bytes are between frames.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

static struct l7_filter *h2_open(const struct l7_decider *d)
{
	struct l7_filter *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	if (d)
		f->dec = *d;
	f->cl.max_len = H2_MIN_FRAME; /* the pod's SETTINGS_MAX_FRAME_SIZE until it says more */
	f->up.max_len = H2_MIN_FRAME; /* the client's, likewise */
	f->up_max_frame = H2_MIN_FRAME;
	f->cl_conn_win = NGHTTP2_INITIAL_WINDOW_SIZE;
	f->cl_init_win = NGHTTP2_INITIAL_WINDOW_SIZE;
	if (h2_hpack_open(f)) {
		free(f);
		return NULL;
	}
	if (h2_status_open(f)) {
		h2_hpack_close(f);
		free(f);
		return NULL;
	}
	return f;
}

static void h2_close(struct l7_filter *f)
{
	if (!f)
		return;
	h2_hpack_close(f);
	h2_status_close(f);
	h2_tally_free(f);
	h2_reader_free(&f->cl);
	h2_reader_free(&f->up);
	free(f->open);
	free(f->pending);
	free(f->den);
	free(f);
}

/* The client is making skiffd work for nothing (RFC 9113 10.5): end the connection with
 * ENHANCE_YOUR_CALM rather than PROTOCOL_ERROR. Returns -EPROTO, for the caller to pass on. */
int h2_calm(struct l7_filter *f)
{
	f->goaway_code = NGHTTP2_ENHANCE_YOUR_CALM;
	return -EPROTO;
}

/* A call ended in an error: nothing passes from now on. */
static int h2_fail(struct l7_filter *f, int rc, bool client)
{
	f->failed = true;
	if (rc == -EPROTO)
		f->counts.bad++;
	if (!f->goaway_code)
		f->goaway_code = NGHTTP2_PROTOCOL_ERROR;
	if (client && rc == -EPROTO) {
		f->goaway = true; /* tell the client why, if the pod's bytes allow it now */
		h2_flush(f, f->out_cl);
	}
	return rc;
}

/* The client's first 24 bytes must be the preface; they go on to the pod as they are. */
static int preface(struct l7_filter *f, const uint8_t **in, size_t *len)
{
	size_t n = L7_H2_PREFACE_LEN - f->preface_got;

	if (n > *len)
		n = *len;
	if (memcmp(*in, L7_H2_PREFACE + f->preface_got, n))
		return -EPROTO;
	if (l7_buf_put(f->out_up, *in, n))
		return -ENOMEM;
	f->preface_got += n;
	*in += n;
	*len -= n;
	return 0;
}

static int h2_from_client(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_up,
			  struct l7_buf *to_client)
{
	int rc = 0;

	if (f->failed)
		return -EPROTO;
	f->out_up = to_up;
	f->out_cl = to_client;
	if (f->preface_got < L7_H2_PREFACE_LEN && len)
		rc = preface(f, &in, &len);
	if (!rc && len)
		rc = h2_read(&f->cl, in, len, to_up, &h2_client_cb, f);
	if (rc)
		return h2_fail(f, rc, true);
	/* a WINDOW_UPDATE may have opened the window a pod DATA frame waits for */
	rc = h2_resume(&f->up, to_client, &h2_upstream_cb, f);
	if (rc)
		return h2_fail(f, rc, false);
	rc = h2_flush(f, to_client);
	return rc ? h2_fail(f, rc, true) : 0;
}

static int h2_from_upstream(struct l7_filter *f, const uint8_t *in, size_t len,
			    struct l7_buf *to_client, struct l7_buf *to_up)
{
	int rc;

	if (f->failed)
		return -EPROTO;
	f->out_up = to_up;
	f->out_cl = to_client;
	rc = h2_flush(f, to_client);
	if (!rc)
		rc = h2_read(&f->up, in, len, to_client, &h2_upstream_cb, f);
	return rc ? h2_fail(f, rc, false) : 0;
}

static bool h2_done(const struct l7_filter *f)
{
	return f->failed;
}

/* A header block (HEADERS without END_HEADERS yet) is open: nothing else may pass meanwhile. */
static bool h2_in_head(const struct l7_filter *f)
{
	return !f->failed && f->blk.open;
}

/* The streams still waiting for an answer end with the connection. */
static void h2_end(struct l7_filter *f, bool pod_gone)
{
	h2_tally_end(f, 0, pod_gone ? "UC" : "DC");
}

static const struct l7_counts *h2_counts(const struct l7_filter *f)
{
	return &f->counts;
}

const struct l7_filter_ops l7_h2_ops = {
    .name = "h2c",
    .open = h2_open,
    .from_client = h2_from_client,
    .from_upstream = h2_from_upstream,
    .done = h2_done,
    .counts = h2_counts,
    .close = h2_close,
    .in_head = h2_in_head,
    .end = h2_end,
};
