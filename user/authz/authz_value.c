// SPDX-License-Identifier: Apache-2.0
/*
 * Values of AuthorizationPolicy fields: Istio's string forms, addresses and CIDRs.
 *
 * String forms, in the order Istio's matcher tests them: "*" is presence, a leading '*' is a
 * suffix match, a trailing '*' a prefix match, anything else exact ("*a*" is the suffix "a*").
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz/authz_internal.h"
#include "common/addr.h"

static char *az_strndup(const char *s, size_t n)
{
	char *r = strndup(s, n);

	if (!r)
		abort();
	return r;
}

void az_value_string(struct az_value *v, const char *s)
{
	size_t n = strlen(s);

	memset(v, 0, sizeof(*v));
	if (!strcmp(s, "*")) {
		v->form = AZ_PRESENT;
	} else if (s[0] == '*') {
		v->form = AZ_SUFFIX;
		v->text = az_strndup(s + 1, n - 1);
	} else if (n && s[n - 1] == '*') {
		v->form = AZ_PREFIX;
		v->text = az_strndup(s, n - 1);
	} else {
		v->form = AZ_EXACT;
		v->text = az_strndup(s, n);
	}
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 peer it stands for. */
static void az_ip_unmap(struct az_ip *ip)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (ip->family == 6 && !memcmp(ip->addr, mapped, sizeof(mapped))) {
		memmove(ip->addr, ip->addr + 12, 4);
		memset(ip->addr + 4, 0, 12);
		ip->family = 4;
	}
}

bool az_ip_parse(const char *s, struct az_ip *out)
{
	union skiff_addr a;
	int family = addr_parse(s, &a);

	memset(out, 0, sizeof(*out));
	if (!family)
		return false;
	out->family = family; /* SKIFF_AF_* are 4 and 6 */
	memcpy(out->addr, &a, family == SKIFF_AF_INET6 ? 16 : 4);
	az_ip_unmap(out);
	out->ok = true;
	return true;
}

bool az_value_cidr(struct az_value *v, const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[64];
	struct az_ip ip;
	char *end;
	long bits;

	memset(v, 0, sizeof(*v));
	v->form = AZ_CIDR;
	if (strlen(s) >= sizeof(addr))
		return false;
	strcpy(addr, s);
	if (slash)
		addr[slash - s] = '\0';
	if (!az_ip_parse(addr, &ip))
		return false;
	bits = ip.family == 4 ? 32 : 128;
	if (slash) {
		long max = bits;

		bits = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || bits < 0 || bits > max)
			return false;
	}
	v->cidr.family = ip.family;
	memcpy(v->cidr.addr, ip.addr, sizeof(ip.addr));
	v->cidr.bits = (int)bits;
	return true;
}

/* Host bits of the CIDR are ignored, as Envoy does with 10.1.2.3/8. */
bool az_cidr_match(const struct az_cidr *c, const struct az_ip *ip)
{
	int full = c->bits / 8, rest = c->bits % 8;
	uint8_t mask;

	if (!ip->ok || ip->family != c->family)
		return false;
	if (memcmp(c->addr, ip->addr, full))
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (ip->addr[full] & mask);
}

static int az_ncmp(const char *a, const char *b, size_t n, bool fold)
{
	return fold ? strncasecmp(a, b, n) : strncmp(a, b, n);
}

bool az_string_match(const struct az_value *v, const char *s, bool fold)
{
	size_t n, k;

	if (!s)
		return false;
	switch (v->form) {
	case AZ_PRESENT:
		return true;
	case AZ_EXACT:
		return fold ? !strcasecmp(v->text, s) : !strcmp(v->text, s);
	case AZ_PREFIX:
		return !az_ncmp(s, v->text, strlen(v->text), fold);
	case AZ_SUFFIX:
		n = strlen(s);
		k = strlen(v->text);
		return n >= k && !az_ncmp(s + n - k, v->text, k, fold);
	default:
		return false;
	}
}
