// SPDX-License-Identifier: Apache-2.0
/*
 * The request's hash for consistentHash (route_lb.h): the value of a header, of a cookie or of a
 * query parameter, as sent (no decoding), or the client's address, hashed as the kernel hashes
 * it so both paths send one client to the same pod. Envoy hashes a request without the
 * attribute to a random point; so does the caller when this returns false. A cookie policy with
 * a ttl is the exception, as in Envoy: the request without the cookie is hashed on a value made
 * for it, and the response sets that cookie (l7r_lb_set_cookie), so the client's next requests
 * carry it and reach the same endpoint.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "l7/upstream.h"
#include "l7route/route_lb.h"

/* In "a=1; b=2" (a Cookie field), the value of `name`. */
static bool cookie_value(const char *field, const char *name, const char **v, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *p = field; *p;) {
		p += strspn(p, " \t");
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			*v = p + nl + 1;
			*len = n - nl - 1;
			while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
				(*len)--;
			if (*len >= 2 && (*v)[0] == '"' && (*v)[*len - 1] == '"') {
				(*v)++; /* a quoted value means the same unquoted (RFC 6265) */
				*len -= 2;
			}
			return true;
		}
		p += n + (end != NULL);
	}
	return false;
}

/* In a path's query string, the value of parameter `name` (the first; "" for a bare name). */
static bool query_value(const char *path, const char *name, const char **v, size_t *len)
{
	const char *q = strchr(path, '?');
	size_t nl = strlen(name);

	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		const char *end = strpbrk(p, "&#");
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n >= nl && !strncmp(p, name, nl) && (n == nl || p[nl] == '=')) {
			*v = n == nl ? p + n : p + nl + 1;
			*len = n == nl ? 0 : n - nl - 1;
			return true;
		}
		if (end && *end == '#')
			break;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static bool cookie_of(const struct l7r_request *rq, const char *name, const char **v, size_t *len)
{
	for (size_t i = 0; name && i < rq->nheaders; i++)
		if (!strcasecmp(rq->headers[i].name, "cookie") &&
		    cookie_value(rq->headers[i].value, name, v, len))
			return true;
	return false;
}

bool l7r_lb_has_cookie(const struct l7r_request *rq, const char *name)
{
	const char *v;
	size_t len;

	return cookie_of(rq, name, &v, &len);
}

void l7r_lb_cookie_value(const struct l7r_request *rq, const struct skiff_punt_key *client,
			 char out[17])
{
	uint8_t in[sizeof(client->addr) + sizeof(rq->cookie_seed)];

	memcpy(in, &client->addr, sizeof(client->addr));
	memcpy(in + sizeof(client->addr), &rq->cookie_seed, sizeof(rq->cookie_seed));
	snprintf(out, 17, "%016llx", (unsigned long long)up_hash_bytes(in, sizeof(in)));
}

bool l7r_lb_hash(const struct m_lb_policy *lb, const struct l7r_request *rq,
		 const struct skiff_punt_key *client, uint64_t *out)
{
	const char *v = NULL;
	char gen[17];
	size_t len = 0;
	bool found = false;
	struct up_addr a = {0};

	switch (lb->hash_on) {
	case M_HASH_SOURCE_IP:
		a.addr = client->addr;
		a.family = client->family;
		*out = up_hash_source(&a);
		return true;
	case M_HASH_HEADER:
		v = lb->hash_name ? l7r_header(rq, lb->hash_name) : NULL;
		found = v != NULL;
		len = v ? strlen(v) : 0;
		break;
	case M_HASH_COOKIE:
		found = cookie_of(rq, lb->hash_name, &v, &len);
		if (!found && lb->hash_name && lb->cookie_ttl_ms > 0) {
			l7r_lb_cookie_value(rq, client, gen);
			v = gen;
			len = 16;
			found = true;
		}
		break;
	case M_HASH_QUERY:
		found = lb->hash_name && rq->path && query_value(rq->path, lb->hash_name, &v, &len);
		break;
	default:
		break;
	}
	if (found)
		*out = up_hash_bytes(v, len);
	return found;
}
