// SPDX-License-Identifier: Apache-2.0
/* One kernel event as skiffd shows it: pods and policies named, and one JSON line. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/addr.h"
#include "flows/flows_internal.h"
#include "skiff/guard.h"

static const char *const kind_names[SKIFF_EV_KINDS] = {
    [SKIFF_EV_OPENED] = "opened",   [SKIFF_EV_CLOSED] = "closed", [SKIFF_EV_DENIED] = "denied",
    [SKIFF_EV_DROPPED] = "dropped", [SKIFF_EV_PUNTED] = "punted",
};

/* Hubble's verdicts: what became of the connection. */
const char *flows_verdict(__u8 kind)
{
	switch (kind) {
	case SKIFF_EV_DENIED:
		return "denied";
	case SKIFF_EV_DROPPED:
		return "dropped";
	default:
		return "forwarded";
	}
}

/* Why the STRICT guard dropped it, by enum skiff_guard_verdict. */
static const char *drop_reason(__u8 v)
{
	switch (v) {
	case SKIFF_GUARD_DROP_TC:
		return "STRICT mTLS: plaintext SYN dropped on the pod's veth (tc)";
	case SKIFF_GUARD_DROP_XDP:
		return "STRICT mTLS: plaintext SYN from off the node dropped on the uplink (xdp)";
	case SKIFF_GUARD_DROP_TC_FRAG:
	case SKIFF_GUARD_DROP_XDP_FRAG:
		return "STRICT mTLS: TCP fragment to a STRICT pod";
	case SKIFF_GUARD_DROP_TC_UNPARSED:
	case SKIFF_GUARD_DROP_XDP_UNPARSED:
		return "STRICT mTLS: a packet the guard cannot parse, to a STRICT pod";
	case SKIFF_GUARD_DROP_SOCK:
		return "STRICT mTLS: SYN at the pod's listener that bypassed the veth guard";
	default:
		return "STRICT mTLS";
	}
}

static void reason_of(const struct skiff_event *e, const char *policy, char *buf, size_t len)
{
	switch (e->kind) {
	case SKIFF_EV_DENIED:
		if (e->reason == SKIFF_EV_DENY_L7)
			snprintf(buf, len, "AuthorizationPolicy needs HTTP and punting is off");
		else if (policy)
			snprintf(buf, len, "AuthorizationPolicy %s", policy);
		else
			snprintf(buf, len, "AuthorizationPolicy: no ALLOW policy matched");
		break;
	case SKIFF_EV_DROPPED:
		snprintf(buf, len, "%s", drop_reason(e->reason));
		break;
	case SKIFF_EV_PUNTED:
		snprintf(buf, len, "to skiffd (another node, or HTTP rules)");
		break;
	default:
		buf[0] = '\0';
	}
}

/* The pod at one end: by workload id, else by address; "" when none is known. */
static void end_name(const struct flows_names *n, uint32_t wl, const union skiff_addr *a,
		     __u8 family, char *out, size_t len)
{
	const char *s = flows_name_wl(n, wl);

	if (!s && family)
		s = flows_name_addr(n, a, family);
	snprintf(out, len, "%s", s ? s : "");
}

static void json_end(struct strbuf *b, const char *key, const char *name, const union skiff_addr *a,
		     __u8 family, __be16 port)
{
	const char *slash = strchr(name, '/');
	char ip[INET6_ADDRSTRLEN] = "";

	if (family)
		addr_text(a, family, ip, sizeof(ip));
	sb_printf(b, ",\"%s\":{\"namespace\":", key);
	if (slash) {
		sb_printf(b, "\"%.*s\",\"pod\":", (int)(slash - name), name);
		sb_json_str(b, slash + 1);
	} else {
		sb_printf(b, "null,\"pod\":null");
	}
	sb_printf(b, ",\"ip\":");
	sb_json_str(b, ip[0] ? ip : NULL);
	sb_printf(b, ",\"port\":%u}", ntohs(port));
}

static void time_text(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char d[32];

	gmtime_r(&s, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", d, (int)(ms % 1000));
}

void flows_rec_build(struct flows_rec *r, const struct skiff_event *e, int64_t ms,
		     const struct flows_names *n, const char *node)
{
	const char *policy = e->kind == SKIFF_EV_DENIED ? flows_name_policy(n, e->policy_id) : NULL;

	r->ms = ms;
	r->kind = e->kind < SKIFF_EV_KINDS ? e->kind : 0;
	r->e = *e;
	r->node = node;
	r->json = NULL;
	r->policy = policy ? strdup(policy) : NULL; /* names may be replaced before it is read */
	end_name(n, e->src_workload, &e->saddr, e->sport ? e->family : 0, r->src, sizeof(r->src));
	end_name(n, e->dst_workload, &e->daddr, e->family, r->dst, sizeof(r->dst));
}

const char *flows_rec_json(struct flows_rec *r)
{
	const struct skiff_event *e = &r->e;
	struct strbuf b = {0};
	char when[48], reason[160];

	if (r->json)
		return r->json;
	sb_grow(&b, 512); /* the whole line: every sb_printf prints once */
	time_text(r->ms, when, sizeof(when));
	reason_of(e, r->policy, reason, sizeof(reason));
	sb_printf(&b, "{\"time\":\"%s\",\"node\":", when);
	sb_json_str(&b, r->node);
	sb_printf(&b, ",\"event\":\"%s\",\"verdict\":\"%s\"",
		  kind_names[r->kind] ? kind_names[r->kind] : "unknown", flows_verdict(r->kind));
	json_end(&b, "source", r->src, &e->saddr, e->sport ? e->family : 0, e->sport);
	json_end(&b, "destination", r->dst, &e->daddr, e->family, e->dport);
	sb_printf(&b, ",\"reason\":");
	sb_json_str(&b, reason[0] ? reason : NULL);
	sb_printf(&b, ",\"policy\":");
	sb_json_str(&b, r->policy);
	if (e->kind == SKIFF_EV_DENIED)
		sb_printf(&b, ",\"policy_id\":%u", e->policy_id);
	if (e->kind == SKIFF_EV_CLOSED)
		sb_printf(&b,
			  ",\"bytes_received\":%llu,\"bytes_sent\":%llu,\"duration_ms\":%.3f,"
			  "\"fast_path\":%s",
			  (unsigned long long)e->bytes_received, (unsigned long long)e->bytes_sent,
			  e->duration_ns / 1e6, e->flags & SKIFF_EV_F_FAST ? "true" : "false");
	sb_printf(&b, "}\n");
	r->json = sb_take(&b);
	return r->json;
}

void flows_rec_free(struct flows_rec *r)
{
	free(r->json);
	free(r->policy);
	r->json = r->policy = NULL;
}

/* -n matches either end's namespace; --pod either end's pod (NAME, or NS/NAME). */
static bool end_match(const char *end, const struct flows_filter *ft)
{
	size_t nl = strlen(ft->ns);
	const char *slash = strchr(end, '/');

	if (nl && (!slash || (size_t)(slash - end) != nl || strncmp(end, ft->ns, nl)))
		return false;
	if (!ft->pod[0])
		return true;
	if (strchr(ft->pod, '/'))
		return !strcmp(end, ft->pod);
	return slash && !strcmp(slash + 1, ft->pod);
}

bool flows_rec_match(const struct flows_rec *r, const struct flows_filter *ft)
{
	if (ft->since_ms && r->ms < ft->since_ms)
		return false;
	if (ft->verdict[0] && strcmp(ft->verdict, flows_verdict(r->kind)))
		return false;
	if (!ft->ns[0] && !ft->pod[0])
		return true;
	return end_match(r->src, ft) || end_match(r->dst, ft);
}
