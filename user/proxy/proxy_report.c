// SPDX-License-Identifier: Apache-2.0
/*
 * The report of a punted connection skiffd relays in plaintext (no HBONE route: no --ca-dir, or
 * a destination outside the mesh), for the metrics: the kernel counts the client's hop to skiffd
 * under skiffd's id and leaves the connection to skiffd, which knows where it went. HBONE
 * streams report themselves (hbone_stream.c).
 */
#include "proxy/proxy.h"

/* The relay as a stream: its ends and the time since it began (bytes are the caller's). */
static struct proxy_stream_end plain_view(const struct proxy *p, const struct proxy_plain *pl)
{
	return (struct proxy_stream_end){
	    .src = &pl->src,
	    .dst = &pl->dst,
	    .src_id = "",
	    .dst_id = "",
	    .duration_ms = p->now_ms - pl->start_ms,
	};
}

void proxy_report_plain(struct proxy *p, const struct proxy_plain *pl, bool end, bool reset,
			uint64_t up, uint64_t down)
{
	struct proxy_stream_end e = plain_view(p, pl);

	if (end && p->o.stream_end) {
		e.bytes_up = up;
		e.bytes_down = down;
		e.reset = reset;
		p->o.stream_end(p->o.ctx, &e);
	} else if (!end && p->o.stream_open) {
		e.duration_ms = 0;
		p->o.stream_open(p->o.ctx, &e);
	}
}

/* As Envoy's tcp_proxy counts a connection whose upstream connect failed: the downstream one
 * was opened and is closed, with UF and no bytes. */
void proxy_report_failed(struct proxy *p, struct proxy_stream_end *e)
{
	e->flags = "UF";
	e->bytes_up = e->bytes_down = 0;
	if (p->o.stream_open)
		p->o.stream_open(p->o.ctx, e);
	if (p->o.stream_end)
		p->o.stream_end(p->o.ctx, e);
}

void proxy_report_plain_failed(struct proxy *p, const struct proxy_plain *pl)
{
	struct proxy_stream_end e = plain_view(p, pl);

	proxy_report_failed(p, &e);
}
