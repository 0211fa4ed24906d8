// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/1.1 filter (user/l7/l7_http1*.c): request heads, targets, fields, framing and bodies
 * from the client, response heads and bodies from the pod, each request decided by the real
 * AuthorizationPolicy evaluator (fuzz_l7.h). Input: client bytes, FZ_L7_POD, pod bytes.
 *
 * The filter is a pure byte transform, so where the network cuts the bytes must not matter: the
 * connection is played whole (the client's bytes in one call, then the pod's) and again in pieces
 * of 1 to 64 bytes, and both must send the pod and the client the same bytes and end alike.
 * Where a side breaks the protocol inside a body, the body bytes before that point may have gone
 * on in earlier pieces (a filter cannot take back what it passed): there, what each side got
 * from one play must begin what it got from the other. A
 * third play interleaves the two sides' pieces (what arrives in between differs, so only
 * crashes count there), under the other path normalisation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_l7.h"
#include "fuzz/fuzz_util.h"

struct play {
	struct l7_filter *f;
	struct l7_buf to_up, to_cl; /* everything the filter wrote, never consumed */
	int rc;
	bool over; /* an error or the filter's last word: the relay closes */
};

static void play_feed(struct play *p, bool client, const uint8_t *in, size_t n)
{
	if (p->over)
		return;
	if (client)
		p->rc = l7_http1_ops.from_client(p->f, in, n, &p->to_up, &p->to_cl);
	else
		p->rc = l7_http1_ops.from_upstream(p->f, in, n, &p->to_cl, &p->to_up);
	p->over = p->rc < 0 || l7_http1_ops.done(p->f);
}

/* One side's bytes, whole (max 0) or in pieces. */
static void play_side(struct play *p, struct fz_split *sp, bool client, const uint8_t *in,
		      size_t len, size_t max)
{
	for (size_t off = 0, n; off < len && !p->over; off += n) {
		n = max ? fz_split_next(sp, len - off, max) : len - off;
		play_feed(p, client, in + off, n);
	}
}

static void play_open(struct play *p, enum authz_path_norm norm)
{
	struct l7_decider d = fz_l7_decider(norm);

	memset(p, 0, sizeof(*p));
	p->f = l7_http1_ops.open(&d);
	if (!p->f)
		abort();
}

static void play_close(struct play *p)
{
	l7_http1_ops.close(p->f);
	l7_buf_free(&p->to_up);
	l7_buf_free(&p->to_cl);
}

static bool same_buf(const struct l7_buf *a, const struct l7_buf *b)
{
	return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
}

/* One buffer begins the other. */
static bool same_start(const struct l7_buf *a, const struct l7_buf *b)
{
	size_t n = a->len < b->len ? a->len : b->len;

	return !n || !memcmp(a->data, b->data, n);
}

static void compare(const struct play *w, const struct play *c)
{
	bool ok = w->rc < 0 ? same_start(&w->to_up, &c->to_up) && same_start(&w->to_cl, &c->to_cl)
			    : same_buf(&w->to_up, &c->to_up) && same_buf(&w->to_cl, &c->to_cl);

	if (w->rc != c->rc || w->over != c->over || !ok) {
		fprintf(stderr,
			"whole: rc %d, to pod %zu bytes, to client %zu bytes\n"
			"in pieces: rc %d, to pod %zu bytes, to client %zu bytes\n",
			w->rc, w->to_up.len, w->to_cl.len, c->rc, c->to_up.len, c->to_cl.len);
		fprintf(stderr, "to pod, whole:\n%.*s\nin pieces:\n%.*s\n", (int)w->to_up.len,
			w->to_up.data, (int)c->to_up.len, c->to_up.data);
		fprintf(stderr, "to client, whole:\n%.*s\nin pieces:\n%.*s\n", (int)w->to_cl.len,
			w->to_cl.data, (int)c->to_cl.len, c->to_cl.data);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *cl, *up;
	size_t ncl, nup, ocl = 0, oup = 0, n;
	struct play whole, cut;
	struct fz_split sp;

	fz_l7_sides(data, size, &cl, &ncl, &up, &nup);
	fz_split_init(&sp, data, size);

	play_open(&whole, AUTHZ_PATH_BASE);
	play_side(&whole, &sp, true, cl, ncl, 0);
	play_side(&whole, &sp, false, up, nup, 0);
	play_open(&cut, AUTHZ_PATH_BASE);
	play_side(&cut, &sp, true, cl, ncl, 64);
	play_side(&cut, &sp, false, up, nup, 64);
	compare(&whole, &cut);
	play_close(&whole);
	play_close(&cut);

	play_open(&cut, AUTHZ_PATH_MERGE_SLASHES);
	while ((ocl < ncl || oup < nup) && !cut.over) {
		bool client = oup == nup || (ocl < ncl && (sp.state & 1));

		if (client) {
			n = fz_split_next(&sp, ncl - ocl, 64);
			play_feed(&cut, true, cl + ocl, n);
			ocl += n;
		} else {
			n = fz_split_next(&sp, nup - oup, 64);
			play_feed(&cut, false, up + oup, n);
			oup += n;
		}
	}
	play_close(&cut);
	return 0;
}
