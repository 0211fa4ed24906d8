// SPDX-License-Identifier: Apache-2.0
/*
 * HBONE's HTTP/2 side (user/hbone/hbone_session.c) over nghttp2, as the bytes TLS decrypted
 * reach it: the h2 frames and HPACK of a peer node, the CONNECT request checks (:method, an
 * :authority that must be an address and port, `forwarded`, `baggage`, `traceparent`), the 400
 * and 401 answers, DATA into the stream buffers with manual flow control, resets and closes.
 *
 * Server side (the input's first byte even): a peer's CONNECTs, decided by an AuthorizationPolicy
 * callback that denies (401). Allowing would dial the pod: the pod sockets are the lab tests'.
 * Client side (odd): skiffd has sent one CONNECT; the input is the peer's answer.
 * The connection's stream sockets are absent (fd -1); what a pod would take from a stream's
 * buffer is taken and acknowledged after each piece, as hb_stream_pump does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "hbone/hbone_internal.h"
#include "l7/l7_filter.h"

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

static enum proxy_verdict deny(void *ctx, const char *principal,
			       const struct skiff_sock_origin *src,
			       const struct skiff_sock_origin *dst, struct proxy_l7 *l7)
{
	(void)ctx, (void)principal, (void)src, (void)dst, (void)l7;
	return PROXY_DENY;
}

/* What the socket and the pods would do between two reads: take the output, take the streams'
 * bytes, free the streams that are done. */
static void turn(struct hb_conn *c)
{
	const uint8_t *out;
	struct hb_stream *st, *next;

	while (nghttp2_session_mem_send(c->h2, &out) > 0)
		;
	c->woff = c->wlen = 0; /* DATA frames written by hb_tls_send_data */
	for (st = c->streams; st; st = next) {
		next = st->next;
		if (st->down.len && st->id >= 0) {
			nghttp2_session_consume(c->h2, st->id, st->down.len);
			st->down.off = st->down.len = 0;
		}
		if (st->remote_eof)
			st->local_shut = true;
		if (st->local_reset || (st->closed && st->local_shut))
			hb_stream_free(st, st->local_reset);
	}
}

static void graveyard_free(struct proxy *p)
{
	for (size_t i = 0; i < p->ngrave; i++)
		free(p->graveyard[i]);
	free(p->graveyard);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy p = {.epfd = -1, .o = {.authz = deny}};
	struct hb_conn *c;
	struct fz_split sp;
	bool server = !size || !(data[0] & 1);

	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->p = &p;
	c->server = server;
	c->ev.fd = -1;
	snprintf(c->peer_id, sizeof(c->peer_id), "spiffe://cluster.local/ns/shop/sa/web");
	if (hb_session_init(c))
		abort();
	if (size) {
		data++;
		size--;
	}
	if (!server) {
		struct hb_stream *st = hb_stream_new(c, -1);

		if (!st)
			abort();
		st->dst.family = SKIFF_AF_INET;
		st->dst.addr.v4 = htonl(0x0a000009);
		st->dst.port = htons(8080);
		if (hb_session_connect(c, st))
			abort();
	} else if (size < sizeof(H2_PREFACE) - 1 ||
		   memcmp(data, H2_PREFACE, sizeof(H2_PREFACE) - 1)) {
		if (nghttp2_session_mem_recv(c->h2, (const uint8_t *)H2_PREFACE,
					     sizeof(H2_PREFACE) - 1) < 0)
			abort();
	}
	turn(c);
	fz_split_init(&sp, data, size);
	for (size_t off = 0, n; off < size; off += n) {
		n = fz_split_next(&sp, size - off, 512);
		if (nghttp2_session_mem_recv(c->h2, data + off, n) < 0)
			break; /* the connection ends: hb_conn_kick closes it */
		turn(c);
	}
	while (c->streams)
		hb_stream_free(c->streams, true);
	nghttp2_session_del(c->h2);
	free(c->wbuf);
	free(c);
	graveyard_free(&p);
	return 0;
}
