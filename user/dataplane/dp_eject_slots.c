// SPDX-License-Identifier: Apache-2.0
/*
 * The slot arithmetic of an ejection (dp_eject.c), on one service port's slots in memory.
 *
 * Weighted port: each route destination (skiff_backend.group) keeps its share, as Envoy keeps a
 * weighted cluster's: the share is split evenly over the destination's endpoints still in. An
 * ejected endpoint's slots stay with family 0 and width 0 (never picked), so it can return;
 * when none of a destination's endpoints is left, its slots keep the share and refuse, as Envoy
 * answers 503 for a cluster with no healthy host. Maglev port: a new table over the endpoints
 * left.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "dataplane/dp_internal.h"
#include "l7/upstream.h"

#define GROUPS 256

static bool at_ep(const struct skiff_backend *b, const struct skiff_sock_origin *ep)
{
	return b->port == ep->port && !memcmp(&b->addr, &ep->addr, sizeof(b->addr));
}

static bool same_backend(const struct skiff_backend *a, const struct skiff_backend *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* New cumulative weights from the old widths and the in/out marks (family 0 is out). */
static int reweigh(struct skiff_backend *v, const __u32 *width, size_t n)
{
	uint64_t total[GROUPS] = {0};
	uint32_t in[GROUPS] = {0};
	struct cc_slot *s = calloc(n ? n : 1, sizeof(*s));
	size_t *at = calloc(n ? n : 1, sizeof(*at)), k = 0;
	__u32 end = 0;
	int err;

	if (!s || !at) {
		free(s);
		free(at);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		total[v[i].group] += width[i];
		in[v[i].group] += v[i].family != 0;
	}
	for (size_t i = 0; i < n; i++) {
		__u8 g = v[i].group;

		if (v[i].family && total[g])
			s[k] = (struct cc_slot){.num = total[g], .den = in[g]};
		else if (!v[i].family && !in[g] && width[i])
			s[k] = (struct cc_slot){.num = width[i], .den = 1};
		else
			continue;
		at[k++] = i;
	}
	err = k ? compile_weights_normalize(s, k) : -EINVAL;
	for (size_t i = 0, j = 0; !err && i < n; i++) {
		if (j < k && at[j] == i)
			end += s[j++].weight;
		v[i].weight_end = end;
	}
	free(s);
	free(at);
	return err;
}

int dp_eject_weighted(struct dp_port_slots *ps, const struct skiff_sock_origin *ep, bool out)
{
	__u32 *width = calloc(ps->n ? ps->n : 1, sizeof(*width)), prev = 0;
	size_t marked = 0, present = 0;
	int err;

	if (!width)
		return -ENOMEM;
	for (size_t i = 0; i < ps->n; i++) {
		width[i] = ps->v[i].weight_end - prev;
		prev = ps->v[i].weight_end;
		if (!at_ep(&ps->v[i], ep))
			continue;
		present++;
		if (out && ps->v[i].family == ep->family) {
			ps->v[i].family = 0;
			marked++;
		} else if (!out && !ps->v[i].family) {
			ps->v[i].family = ep->family;
			marked++;
		}
	}
	if (!marked) {
		free(width);
		return out && !present ? -ENOENT : 0;
	}
	err = reweigh(ps->v, width, ps->n);
	free(width);
	return err ? err : 1;
}

/* The distinct backends of a Maglev table, into d (room for ps->n + 1). */
static size_t maglev_backends(const struct dp_port_slots *ps, struct skiff_backend *d)
{
	size_t nd = 0;

	for (size_t i = 0; i < ps->n; i++) {
		bool seen = false;

		for (size_t j = 0; j < nd && !seen; j++)
			seen = same_backend(&d[j], &ps->v[i]);
		if (!seen)
			d[nd++] = ps->v[i];
	}
	return nd;
}

/* The port's table keeps its size (maglev.tableSize), read back from its entry's count; a port
 * whose every endpoint was out has none left to read, and takes the default. */
static int maglev_fill(struct dp_port_slots *ps, const struct skiff_backend *d, size_t nd)
{
	uint32_t size =
	    ps->svc.count && ps->svc.count <= SKIFF_MAGLEV_SIZE ? ps->svc.count : SKIFF_MAGLEV_SIZE;
	uint64_t *keys = calloc(nd ? nd : 1, sizeof(*keys));
	uint32_t *table = calloc(size, sizeof(*table));
	struct skiff_backend *v = realloc(ps->v, size * sizeof(*v));
	int err = keys && table && v ? 0 : -ENOMEM;

	if (v)
		ps->v = v;
	for (size_t i = 0; !err && i < nd; i++) {
		struct up_addr a = {
		    .addr = d[i].addr, .port = ntohs(d[i].port), .family = d[i].family};

		keys[i] = up_endpoint_key(&a);
	}
	if (!err && nd)
		err = up_maglev_build(keys, nd, size, table);
	for (uint32_t e = 0; !err && nd && e < size; e++) {
		ps->v[e] = d[table[e]];
		ps->v[e].weight_end = e + 1;
	}
	if (!err)
		ps->n = nd ? size : 0;
	free(keys);
	free(table);
	return err;
}

int dp_eject_maglev(struct dp_port_slots *ps, const struct skiff_sock_origin *ep, bool out)
{
	struct skiff_backend *d = calloc(ps->n + 1, sizeof(*d));
	size_t nd, at = SIZE_MAX;
	int err;

	if (!d)
		return -ENOMEM;
	nd = maglev_backends(ps, d);
	for (size_t j = 0; j < nd; j++)
		if (d[j].family == ep->family && at_ep(&d[j], ep))
			at = j;
	if (out && at == SIZE_MAX) {
		free(d);
		return -ENOENT;
	}
	if (!out && at != SIZE_MAX) {
		free(d);
		return 0;
	}
	if (out) {
		d[at] = d[--nd];
	} else {
		memset(&d[nd], 0, sizeof(d[nd]));
		d[nd].addr = ep->addr;
		d[nd].port = ep->port;
		d[nd++].family = ep->family;
	}
	err = nd < (ps->svc.count ? ps->svc.count : SKIFF_MAGLEV_SIZE) ? maglev_fill(ps, d, nd)
								       : -E2BIG;
	free(d);
	return err ? err : 1;
}
