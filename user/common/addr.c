// SPDX-License-Identifier: Apache-2.0
/* Address conversions; the forms are described in addr.h. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"

int addr_parse(const char *text, union skiff_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	if (inet_pton(AF_INET, text, &out->v4) == 1)
		return SKIFF_AF_INET;
	if (inet_pton(AF_INET6, text, out->v6) == 1)
		return SKIFF_AF_INET6;
	memset(out, 0, sizeof(*out));
	return 0;
}

int addr_parse_endpoint(const char *s, size_t n, union skiff_addr *out, uint16_t *port)
{
	char host[ADDR_ENDPOINT_MAX], *colon, *end, *h = host;
	unsigned long p;
	int family;

	memset(out, 0, sizeof(*out));
	if (n >= sizeof(host))
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	colon = strrchr(host, ':');
	if (!colon)
		return 0;
	*colon = '\0';
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || !p || p > 65535)
		return 0;
	if (h[0] == '[') {
		if (colon[-1] != ']')
			return 0;
		colon[-1] = '\0';
		h++;
	}
	family = addr_parse(h, out);
	/* an IPv6 address must be bracketed, an IPv4 one must not */
	if (family != (host[0] == '[' ? SKIFF_AF_INET6 : SKIFF_AF_INET)) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	*port = htons((uint16_t)p);
	return family;
}

const char *addr_text(const union skiff_addr *a, int family, char *buf, size_t len)
{
	if (family == SKIFF_AF_INET6)
		inet_ntop(AF_INET6, a->v6, buf, len);
	else if (family == SKIFF_AF_INET)
		inet_ntop(AF_INET, &a->v4, buf, len);
	else
		snprintf(buf, len, "none");
	return buf;
}

const char *addr_endpoint(const union skiff_addr *a, int family, uint16_t port, char *buf,
			  size_t len)
{
	char ip[ADDR_TEXT_MAX];

	addr_text(a, family, ip, sizeof(ip));
	if (family == SKIFF_AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

int addr_sockaddr(const char *text, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	union skiff_addr a;

	memset(ss, 0, sizeof(*ss));
	switch (addr_parse(text, &a)) {
	case SKIFF_AF_INET:
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = a.v4;
		return sizeof(*sin);
	case SKIFF_AF_INET6:
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a.v6, 16);
		return sizeof(*sin6);
	}
	return -EINVAL;
}

int addr_from_sockaddr(const struct sockaddr_storage *ss, union skiff_addr *a, uint16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		a->v4 = sin->sin_addr.s_addr;
		if (port)
			*port = sin->sin_port;
		return SKIFF_AF_INET;
	}
	if (ss->ss_family != AF_INET6)
		return 0;
	if (port)
		*port = sin6->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(&a->v4, sin6->sin6_addr.s6_addr + 12, 4);
		return SKIFF_AF_INET;
	}
	memcpy(a->v6, &sin6->sin6_addr, 16);
	return SKIFF_AF_INET6;
}
