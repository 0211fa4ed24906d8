// SPDX-License-Identifier: Apache-2.0
/*
 * The punt path, agent side: start the outbound proxy on the node's addresses (--outbound-addr)
 * and tell the kernel where it listens. Without addresses, punting is switched off in the kernel,
 * so a restart without the flag does not leave pods dialling a listener that is gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"
#include "l7route/l7route.h"

/* "198.18.0.1,2001:db8::1" (either may be missing) -> the two addresses, as text and binary. */
static int split_addrs(const char *list, char *v4, char *v6, struct skiff_punt_cfg *cfg)
{
	char copy[2 * INET6_ADDRSTRLEN + 2], *tok, *save = NULL;

	if (strlen(list) >= sizeof(copy))
		return -EINVAL;
	strcpy(copy, list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!v4[0] && inet_pton(AF_INET, tok, &cfg->addr4) == 1)
			strcpy(v4, tok);
		else if (!v6[0] && inet_pton(AF_INET6, tok, cfg->addr6) == 1)
			strcpy(v6, tok);
		else
			return -EINVAL;
	}
	return v4[0] || v6[0] ? 0 : -EINVAL;
}

static int orig_dst(void *ctx, const struct skiff_punt_key *k, struct skiff_sock_origin *dst)
{
	return dp_punt_orig_take(((struct agent *)ctx)->dp, k, dst);
}

int agent_punt_start(struct agent *a)
{
	char v4[INET6_ADDRSTRLEN] = "", v6[INET6_ADDRSTRLEN] = "";
	struct skiff_punt_cfg cfg = {0};
	struct proxy_opts po = {.port = SKIFF_OUTBOUND_PORT,
				.orig_dst = orig_dst,
				.authz = agent_authz,
				.l7route = agent_l7route_take,
				.limits = {.idle_ms = a->o->idle_ms,
					   .sniff_ms = a->o->sniff_ms,
					   .head_ms = a->o->head_ms,
					   .connect_ms = a->o->connect_ms,
					   .per_source = a->o->per_source},
				.ctx = a};
	int err;

	if (!a->o->outbound_addrs || !a->o->outbound_addrs[0])
		return dp_punt_configure(a->dp, &cfg); /* off */
	if (split_addrs(a->o->outbound_addrs, v4, v6, &cfg)) {
		agent_log("error",
			  "--outbound-addr %s: want this node's IPv4 and/or IPv6 address, comma "
			  "separated (e.g. 10.0.0.5,fd00::5)",
			  a->o->outbound_addrs);
		return -EINVAL;
	}
	/* the hops between pods and skiffd skip TCP/IP where skiffd's sockets run sockops: skiffd
	 * then read()s those clients (splice() would not see their bytes) */
	po.fast_hops = dp_punt_hops_fast(a->dp);
	agent_streams_proxy_opts(a, &po);
	/* taking over: the old skiffd accepts until this one has its configuration */
	po.paused = a->takeover_conn >= 0;
	po.addr4 = v4[0] ? v4 : NULL;
	po.addr6 = v6[0] ? v6 : NULL;
	if (a->tls) {
		/* cross-node mesh traffic over HBONE, and inbound HBONE on 15008 */
		po.route = agent_tls_route;
		po.server_ctx = agent_tls_server_ctx;
		po.hbone_ktls_off = a->o->hbone_ktls_off;
		po.hbone_openssl_records = a->o->hbone_openssl_records;
	}
	err = agent_l7route_start(a);
	if (!err)
		err = proxy_start(&po, &a->proxy);
	if (err)
		return err;
	a->limits = po.limits; /* a mesh config's timeouts replace them at its apply */
	cfg.port = htons(SKIFF_OUTBOUND_PORT);
	cfg.flags = SKIFF_PUNT_F_ON;
	if (po.fast_hops)
		cfg.flags |= SKIFF_PUNT_F_ACCEL;
	err = dp_punt_configure(a->dp, &cfg);
	if (!err)
		agent_log(
		    "info",
		    "outbound proxy on %s%s%s port %u: cross-node mesh TCP is punted to it%s%s", v4,
		    v4[0] && v6[0] ? "," : "", v6, SKIFF_OUTBOUND_PORT,
		    a->tls ? " and carried over HBONE (mTLS); inbound HBONE on 15008"
			   : " and relayed in plaintext (no --ca-dir)",
		    cfg.flags & SKIFF_PUNT_F_ACCEL
			? "; the hops between pods and skiffd skip TCP/IP (sockhash)"
			: "");
	return err;
}

void agent_punt_stop(struct agent *a)
{
	/* the kernel keeps punting: new connections are refused until an agent listens again,
	 * rather than leaving the node in plaintext */
	/* the router's threads may still open HBONE streams through the proxy: end them first;
	 * the proxy may still hand the router connections meanwhile (refused), not after */
	l7route_quiesce(a->l7route);
	proxy_stop(a->proxy);
	a->proxy = NULL;
	agent_l7route_stop(a);
}
