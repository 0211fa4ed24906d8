// SPDX-License-Identifier: Apache-2.0
/*
 * skiffd's relay limits as flags: the idle timeout of every relay and HBONE stream, the connect
 * timeout (dials and HBONE handshakes), the protocol sniffing limit, the HTTP request head limit
 * and the connections per source address. The defaults (user/proxy/proxy.h) are Istio's and
 * Envoy's; a DestinationRule's connectionPool still overrides connect and idle per destination
 * on the ports skiffd's router serves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"
#include "model/parse.h"

#define HOUR_MS (3600LL * 1000)

struct limit_flag {
	const char *name;
	size_t off; /* into struct agent_opts */
	long long max;
	bool count; /* a number of connections, not a duration */
};

static const struct limit_flag flags[] = {
    {"idle-timeout", offsetof(struct agent_opts, idle_ms), 30 * 24 * HOUR_MS, false},
    {"connect-timeout", offsetof(struct agent_opts, connect_ms), HOUR_MS, false},
    {"sniff-timeout", offsetof(struct agent_opts, sniff_ms), HOUR_MS, false},
    {"head-timeout", offsetof(struct agent_opts, head_ms), HOUR_MS, false},
    {"stream-idle-timeout", offsetof(struct agent_opts, stream_idle_ms), 24 * HOUR_MS, false},
    {"max-conns-per-source", offsetof(struct agent_opts, per_source), 1 << 20, true},
};

static int count_of(const struct limit_flag *f, const char *val, long long *out, char *err,
		    size_t errlen)
{
	char *end;

	errno = 0;
	*out = strtoll(val, &end, 10);
	if (!*val || *end || errno || *out < 1 || *out > f->max) {
		snprintf(err, errlen, "--%s=%s: want a number of connections from 1 to %lld",
			 f->name, val, f->max);
		return -EINVAL;
	}
	return 0;
}

static int duration_of(const struct limit_flag *f, const char *val, long long *out, char *err,
		       size_t errlen)
{
	static const char *const why[] = {"is not a duration (write e.g. 1s, 500ms, 90s, 1h)",
					  "is under 1ms", "is not a whole number of milliseconds"};
	int64_t ms = 0;
	int rc = duration_ms_parse(val, &ms);

	if (rc < 0) {
		snprintf(err, errlen, "--%s=%s %s", f->name, val, why[-rc - 1]);
		return -EINVAL;
	}
	if (ms > f->max) {
		snprintf(err, errlen, "--%s=%s is over the limit of %lldh", f->name, val,
			 f->max / HOUR_MS);
		return -EINVAL;
	}
	*out = ms;
	return 0;
}

int agent_limit_flag(struct agent_opts *o, const char *name, const char *val, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const struct limit_flag *f = &flags[i];
		long long v;
		int rc;

		if (strcmp(name, f->name))
			continue;
		rc = f->count ? count_of(f, val, &v, err, errlen)
			      : duration_of(f, val, &v, err, errlen);
		if (!rc)
			*(uint32_t *)((char *)o + f->off) = (uint32_t)v;
		return rc;
	}
	snprintf(err, errlen, "--%s: not a relay limit", name);
	return -EINVAL;
}

/* The flag when given, else the mesh config's value when set (0: the proxy's default). */
static uint32_t pick(uint32_t flag, int64_t mesh)
{
	return flag ? flag : mesh > 0 && mesh <= UINT32_MAX ? (uint32_t)mesh : 0;
}

void agent_limits_apply(struct agent *a)
{
	const struct m_meshconfig *mc = a->snap ? &a->snap->m.mesh : NULL;
	struct proxy_limits l = {
	    .idle_ms = a->o->idle_ms, .head_ms = a->o->head_ms, .per_source = a->o->per_source};

	l.connect_ms = pick(a->o->connect_ms, mc ? mc->connect_timeout_ms : 0);
	l.sniff_ms = pick(a->o->sniff_ms, mc ? mc->protocol_detection_ms : 0);
	if (!a->proxy || !memcmp(&l, &a->limits, sizeof(l)))
		return;
	proxy_limits_set(a->proxy, &l);
	a->limits = l;
	agent_log("info",
		  "relay limits: connect %s%ums, sniffing %s%ums (0: skiffd's default; flags "
		  "first, then the mesh config)",
		  a->o->connect_ms ? "--connect-timeout " : "", l.connect_ms,
		  a->o->sniff_ms ? "--sniff-timeout " : "", l.sniff_ms);
}
