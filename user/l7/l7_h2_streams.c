// SPDX-License-Identifier: Apache-2.0
/*
 * The streams the h2c filter forwarded and the client has not ended: the only ones a HEADERS
 * frame may carry trailers on. A HEADERS frame on any other stream the client opened before is
 * not trailers of a decided request, whatever the client means by it (a stream the filter denied
 * and forgot, an id it skipped, a stream it ended already), and is never forwarded as such.
 *
 * A stream joins when its request goes to the pod without END_STREAM and leaves when the client
 * ends it (END_STREAM, RST_STREAM) or the pod resets it. Stream ids only grow, so the set is an
 * ascending array: appended to, searched by bisection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

/* Where sid is, or would go. */
static size_t slot(const struct l7_filter *f, uint32_t sid)
{
	size_t lo = 0, hi = f->nopen;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->open[mid] < sid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool h2_open_has(const struct l7_filter *f, uint32_t sid)
{
	size_t i = slot(f, sid);

	return i < f->nopen && f->open[i] == sid;
}

/* -ENOSPC when H2_MAX_OPEN streams are open already. Called with ascending ids. */
int h2_open_add(struct l7_filter *f, uint32_t sid)
{
	if (f->nopen == H2_MAX_OPEN)
		return -ENOSPC;
	if (f->nopen == f->opencap) {
		size_t cap = f->opencap ? f->opencap * 2 : 16;
		uint32_t *p = realloc(f->open, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->open = p;
		f->opencap = cap;
	}
	f->open[f->nopen++] = sid;
	return 0;
}

bool h2_open_remove(struct l7_filter *f, uint32_t sid)
{
	size_t i = slot(f, sid);

	if (i == f->nopen || f->open[i] != sid)
		return false;
	memmove(&f->open[i], &f->open[i + 1], (f->nopen - i - 1) * sizeof(*f->open));
	f->nopen--;
	return true;
}
