// SPDX-License-Identifier: Apache-2.0
/*
 * The original-destination lookup of an accepted punted connection, in skiffd's part: the peer's
 * address (getpeername's bytes) made into the key the kernel filed the destination under
 * (proxy_punt_key), and the destination the kernel recorded made into the address skiffd
 * connects to (proxy_sockaddr). Input: a sockaddr_storage's bytes, then a skiff_sock_origin's.
 *
 * Beyond not crashing: a key has every byte set as the BPF side sets it (the map hashes all 20,
 * so a stray byte would miss the record and reset the connection): no bytes past an IPv4
 * address, a zero pad, the peer's port; an IPv4-mapped IPv6 peer has the key of the same IPv4
 * peer; and a destination survives the trip to a socket address and back.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "proxy/proxy.h"

static void fail(const char *what)
{
	fprintf(stderr, "orig_dst: %s\n", what);
	abort();
}

static void check_key(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	const struct sockaddr_in *sin = (const void *)ss;
	struct skiff_punt_key k, k4;
	struct sockaddr_storage v4 = {0};
	struct sockaddr_in *s4 = (void *)&v4;
	int rc = proxy_punt_key(ss, &k);

	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) {
		if (rc != -EAFNOSUPPORT)
			fail("a family other than IPv4 and IPv6 was given a key");
		return;
	}
	if (rc || (k.family != SKIFF_AF_INET && k.family != SKIFF_AF_INET6) || k.pad)
		fail("an IPv4 or IPv6 peer has no key, or a key with a stray family or pad");
	if (k.family == SKIFF_AF_INET && (k.addr.v6[1] || k.addr.v6[2] || k.addr.v6[3]))
		fail("an IPv4 key has bytes past its address");
	if (k.port != (ss->ss_family == AF_INET ? sin->sin_port : sin6->sin6_port))
		fail("the key's port is not the peer's");
	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	s4->sin_family = AF_INET;
	s4->sin_port = sin6->sin6_port;
	memcpy(&s4->sin_addr, sin6->sin6_addr.s6_addr + 12, 4);
	if (proxy_punt_key(&v4, &k4) || memcmp(&k, &k4, sizeof(k)))
		fail("an IPv4-mapped peer's key differs from the same IPv4 peer's");
}

static void check_dst(const struct skiff_sock_origin *rec)
{
	struct skiff_sock_origin dst = *rec;
	struct sockaddr_storage ss;
	union skiff_addr back;
	uint16_t port;
	socklen_t len;
	int fam;

	/* skiffd connects only to what the kernel can file: IPv4 (addr.v4 alone) or IPv6 */
	if (dst.family == SKIFF_AF_INET)
		dst.addr.v6[1] = dst.addr.v6[2] = dst.addr.v6[3] = 0;
	else if (dst.family != SKIFF_AF_INET6)
		return;
	len = proxy_sockaddr(&dst, &ss);
	if (len != (dst.family == SKIFF_AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6)))
		fail("the socket address's length does not match the destination's family");
	fam = addr_from_sockaddr(&ss, &back, &port);
	if (port != dst.port)
		fail("the destination's port changed on its way to a socket address");
	if (fam == dst.family && !memcmp(&back, &dst.addr, sizeof(back)))
		return;
	/* the one change allowed: an IPv4-mapped IPv6 destination reads back as IPv4 */
	if (!(dst.family == SKIFF_AF_INET6 && fam == SKIFF_AF_INET &&
	      IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)dst.addr.v6) &&
	      back.v4 == dst.addr.v6[3]))
		fail("the destination changed on its way to a socket address");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss = {0};
	struct skiff_sock_origin rec = {0};
	size_t n = size < sizeof(ss) ? size : sizeof(ss);

	memcpy(&ss, data, n);
	if (size > n)
		memcpy(&rec, data + n, size - n < sizeof(rec) ? size - n : sizeof(rec));
	check_key(&ss);
	check_dst(&rec);
	return 0;
}
