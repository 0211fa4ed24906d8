// SPDX-License-Identifier: Apache-2.0
/*
 * DATA payloads by splice(), where the kernel does the TLS records (kTLS send, hbone_tls.c).
 *
 * A stream's bytes then never enter skiffd's memory on their way out: splice() moves them from
 * the local socket into a pipe, and from the pipe into the TLS socket, where the kernel encrypts
 * them. HTTP/2 still needs a 9-byte header before every payload, so the connection's output is
 * plaintext (wbuf: frames nghttp2 wrote, DATA headers) with payloads in between (hb_seg: "after
 * byte `at` of wbuf, `len` bytes of this pipe"). hb_splice_send() writes them in that order:
 * each piece but the last of a batch goes with MSG_MORE / SPLICE_F_MORE, so the kernel packs a
 * header and its payload into the same record. nghttp2 is told a frame was sent as soon as it is
 * queued (NGHTTP2_DATA_FLAG_NO_COPY): the queue, not nghttp2, keeps the order on the wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbone/hbone_internal.h"

#define SPLICE_FLAGS (SPLICE_F_NONBLOCK | SPLICE_F_MOVE)

static struct hb_pipe *pipe_new(void)
{
	struct hb_pipe *pp = calloc(1, sizeof(*pp));

	if (!pp)
		return NULL;
	if (pipe2(pp->fd, O_NONBLOCK | O_CLOEXEC)) {
		free(pp);
		return NULL;
	}
	/* more slots than the bytes a stream reads ahead (one per skb fragment): a pipe short of
	 * slots only splices in smaller steps */
	if (fcntl(pp->fd[1], F_SETPIPE_SZ, 4 * HB_UP_BUF) < 0)
		fcntl(pp->fd[1], F_SETPIPE_SZ, HB_UP_BUF);
	pp->refs = 1;
	return pp;
}

void hb_pipe_put(struct hb_pipe *pp)
{
	if (!pp || --pp->refs)
		return;
	close(pp->fd[0]);
	close(pp->fd[1]);
	free(pp);
}

int hb_splice_up(struct hb_stream *st)
{
	struct hb_pipe *pp = st->pipe;
	ssize_t n;

	if (!pp && !(pp = st->pipe = pipe_new()))
		return -ENOMEM;
	while (st->open && !st->local_eof && st->in_ready && pp->len < HB_UP_BUF) {
		n = splice(st->local.fd, NULL, pp->fd[1], NULL, HB_UP_BUF - pp->len, SPLICE_FLAGS);
		if (n > 0) {
			pp->len += n;
			st->up.len += n;
			st->bytes_up += (uint64_t)n;
		} else if (n == 0) {
			st->local_eof = true;
		} else if (errno == EAGAIN) {
			/* an empty socket, or a pipe out of slots: either way wait, and with bytes in
			 * the pipe wait for frames to drain them rather than for EPOLLIN */
			st->in_ready = false;
			pp->stalled = pp->len > 0;
			break;
		} else {
			return -errno;
		}
		nghttp2_session_resume_data(st->conn->h2, st->id);
	}
	return 0;
}

static int seg_push(struct hb_conn *c, struct hb_pipe *pp, size_t len)
{
	if (c->seg0 + c->nseg == c->segcap) {
		if (c->seg0) { /* reuse the front the sent ones left */
			memmove(c->segs, c->segs + c->seg0, c->nseg * sizeof(*c->segs));
			c->seg0 = 0;
		} else {
			size_t cap = c->segcap ? 2 * c->segcap : 16;
			struct hb_seg *ns = realloc(c->segs, cap * sizeof(*ns));

			if (!ns)
				return -ENOMEM;
			c->segs = ns;
			c->segcap = cap;
		}
	}
	pp->refs++;
	c->segs[c->seg0 + c->nseg++] = (struct hb_seg){.at = c->wlen, .len = len, .pipe = pp};
	return 0;
}

int hb_splice_queue(struct hb_conn *c, struct hb_stream *st, const uint8_t *hd, size_t len)
{
	size_t wlen = c->wlen;

	if (hb_tls_wbuf_add(c, hd, 9))
		return -ENOMEM;
	/* an empty frame (END_STREAM alone) has no payload: a segment of nothing would leave its
	 * header sent with MSG_MORE and the record open, waiting for bytes that never come */
	if (!len)
		return 0;
	if (seg_push(c, st->pipe, len)) {
		c->wlen = wlen;
		return -ENOMEM;
	}
	st->up.len -= len; /* claimed: the bytes stay in the pipe until the segment is sent */
	return 0;
}

void hb_splice_shift(struct hb_conn *c, size_t n)
{
	for (size_t i = c->seg0; i < c->seg0 + c->nseg; i++)
		c->segs[i].at -= n;
}

void hb_splice_drop(struct hb_conn *c)
{
	for (size_t i = c->seg0; i < c->seg0 + c->nseg; i++)
		hb_pipe_put(c->segs[i].pipe);
	free(c->segs);
	c->segs = NULL;
	c->seg0 = c->nseg = c->segcap = 0;
}

/* The front segment's bytes -> the socket; 1 when it is done, 0 when the socket is full. */
static int seg_send(struct hb_conn *c, bool more)
{
	struct hb_seg *sg = &c->segs[c->seg0];

	while (sg->len) {
		/* MORE only when this call goes on writing: a record left open with nothing
		 * after it would wait in the kernel */
		ssize_t n = splice(sg->pipe->fd[0], NULL, c->ev.fd, NULL, sg->len,
				   SPLICE_FLAGS | (more ? SPLICE_F_MORE : 0));

		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return 0;
			return -1; /* the pipe holds what was queued: 0 would be a bug, not an EOF */
		}
		hb_tls_ktls_sent(c, n);
		sg->len -= n;
		sg->pipe->len -= n;
		sg->pipe->stalled = false;
		c->p->stats.hbone_spliced += n;
		if (c->dead) /* the kernel's key has sealed all it may */
			return -1;
	}
	hb_pipe_put(sg->pipe);
	c->seg0++;
	if (!--c->nseg)
		c->seg0 = 0;
	return 1;
}

int hb_splice_send(struct hb_conn *c)
{
	while (c->woff < c->wlen || c->nseg) {
		size_t stop = c->nseg ? c->segs[c->seg0].at : c->wlen;
		int rv;

		if (c->woff < stop) {
			/* more follows: a payload, or plaintext after it */
			int fl = MSG_NOSIGNAL | (c->nseg ? MSG_MORE : 0);
			ssize_t n = send(c->ev.fd, c->wbuf + c->woff, stop - c->woff, fl);

			if (n < 0) {
				c->ssl_want_write = errno == EAGAIN;
				return errno == EAGAIN ? 0 : -1;
			}
			hb_tls_ktls_sent(c, n);
			c->woff += n;
			if (c->dead) /* the kernel's key has sealed all it may */
				return -1;
			continue;
		}
		rv = seg_send(c, c->nseg > 1 || c->woff < c->wlen);
		if (rv < 0)
			return -1;
		if (!rv) {
			c->ssl_want_write = true;
			return 0;
		}
	}
	c->ssl_want_write = false;
	c->woff = c->wlen = 0;
	return 0;
}
