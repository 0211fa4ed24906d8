// SPDX-License-Identifier: Apache-2.0
/*
 * The h2c filter (user/l7/l7_h2*.c): frame reassembly, HPACK decoding of the client's header
 * blocks over nghttp2's inflater, request checks and decisions by the real evaluator
 * (fuzz_l7.h), re-encoding toward the pod, denied streams, flow control. Input: client bytes (the
 * preface is added when the input lacks it), then optionally FZ_L7_POD and raw pod bytes.
 *
 * Without pod bytes the pod is a real nghttp2 server in memory that answers every request it
 * gets with 200: what the filter forwards is what that server reads, and what it answers comes
 * back through the filter, interleaved with the client's pieces as the input's hash decides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "fuzz/fuzz_l7.h"
#include "fuzz/fuzz_util.h"

struct conn {
	struct l7_filter *f;
	struct l7_buf to_up, to_cl;
	nghttp2_session *pod; /* NULL: raw pod bytes from the input */
	bool over;
};

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *user)
{
	(void)s, (void)id, (void)src, (void)user;
	if (len < 2)
		return NGHTTP2_ERR_DEFERRED;
	memcpy(buf, "ok", 2);
	*flags |= NGHTTP2_DATA_FLAG_EOF;
	return 2;
}

static int pod_frame(nghttp2_session *s, const nghttp2_frame *fr, void *user)
{
	nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE};
	nghttp2_data_provider dp = {.read_callback = body_read};

	(void)user;
	if (fr->hd.type == NGHTTP2_HEADERS && fr->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    (fr->hd.flags & NGHTTP2_FLAG_END_STREAM))
		nghttp2_submit_response(s, fr->hd.stream_id, &nv, 1, &dp);
	return 0;
}

static void pod_open(struct conn *c)
{
	nghttp2_session_callbacks *cb;

	if (nghttp2_session_callbacks_new(&cb))
		abort();
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, pod_frame);
	if (nghttp2_session_server_new(&c->pod, cb, c))
		abort();
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->pod, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void from_client(struct conn *c, const uint8_t *in, size_t n)
{
	if (c->over)
		return;
	c->over =
	    l7_h2_ops.from_client(c->f, in, n, &c->to_up, &c->to_cl) < 0 || l7_h2_ops.done(c->f);
}

static void from_pod(struct conn *c, const uint8_t *in, size_t n)
{
	if (c->over)
		return;
	c->over =
	    l7_h2_ops.from_upstream(c->f, in, n, &c->to_cl, &c->to_up) < 0 || l7_h2_ops.done(c->f);
}

/* The real pod reads what the filter sent it and answers; its answer goes through the filter. */
static void pod_turn(struct conn *c)
{
	const uint8_t *out;
	ssize_t n;

	if (!c->pod || c->over)
		return;
	if (l7_buf_unread(&c->to_up)) {
		/* a pod that finds the client's errors passed on just stops reading */
		if (nghttp2_session_mem_recv(c->pod, c->to_up.data + c->to_up.off,
					     l7_buf_unread(&c->to_up)) < 0) {
			nghttp2_session_del(c->pod);
			c->pod = NULL;
			return;
		}
		l7_buf_consume(&c->to_up, l7_buf_unread(&c->to_up));
	}
	while ((n = nghttp2_session_mem_send(c->pod, &out)) > 0 && !c->over)
		from_pod(c, out, (size_t)n);
	l7_buf_consume(&c->to_cl, l7_buf_unread(&c->to_cl)); /* the client reads it all */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cl, *up;
	size_t ncl, nup, ocl = 0, oup = 0, n;
	struct l7_decider d = fz_l7_decider(size & 1 ? AUTHZ_PATH_MERGE_SLASHES : AUTHZ_PATH_BASE);
	struct conn c = {0};
	struct fz_split sp;
	bool marker;

	fz_l7_sides(data, size, &cl, &ncl, &up, &nup);
	marker = up != data + size || nup;
	fz_split_init(&sp, data, size);
	c.f = l7_h2_ops.open(&d);
	if (!c.f)
		abort();
	if (!marker)
		pod_open(&c);
	if (ncl < L7_H2_PREFACE_LEN || memcmp(cl, L7_H2_PREFACE, L7_H2_PREFACE_LEN))
		from_client(&c, (const uint8_t *)L7_H2_PREFACE, L7_H2_PREFACE_LEN);
	while ((ocl < ncl || oup < nup) && !c.over) {
		if (oup == nup || (ocl < ncl && (sp.state & 1))) {
			n = fz_split_next(&sp, ncl - ocl, 256);
			from_client(&c, cl + ocl, n);
			ocl += n;
		} else {
			n = fz_split_next(&sp, nup - oup, 256);
			from_pod(&c, up + oup, n);
			oup += n;
		}
		pod_turn(&c);
	}
	pod_turn(&c);
	if (c.pod)
		nghttp2_session_del(c.pod);
	l7_h2_ops.close(c.f);
	l7_buf_free(&c.to_up);
	l7_buf_free(&c.to_cl);
	return 0;
}
