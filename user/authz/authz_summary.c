// SPDX-License-Identifier: Apache-2.0
/*
 * What the policies of one workload need from the data path, without evaluating a request:
 * whether any apply (else nothing needs checking), whether a decision can depend on HTTP (then
 * the flow must reach skiffd, which decides per request), on the source address, and which
 * destination ports they name (every other port is decided alike). The kernel policy compiler
 * and skiffd's per-connection hook both start here.
 */
#include <string.h>

#include "authz/authz_internal.h"

static void note_port(struct authz_workload_info *out, uint16_t port)
{
	for (size_t i = 0; i < out->nports; i++)
		if (out->ports[i] == port)
			return;
	if (out->nports == AUTHZ_INFO_MAX_PORTS) {
		out->ports_overflow = true;
		return;
	}
	out->ports[out->nports++] = port;
}

static void note_field(struct authz_workload_info *out, const struct az_field *f)
{
	if (f->attr == AZ_SOURCE_IP || f->attr == AZ_REMOTE_IP)
		out->source_ip = true;
	if (f->attr != AZ_DEST_PORT)
		return;
	for (size_t i = 0; i < f->nin; i++)
		note_port(out, f->in[i].port);
	for (size_t i = 0; i < f->nout; i++)
		note_port(out, f->out[i].port);
}

static void note_entries(struct authz_workload_info *out, const struct az_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < e[i].n; j++)
			note_field(out, &e[i].f[j]);
}

static void note_rule(struct authz_workload_info *out, const struct az_rule *r)
{
	note_entries(out, r->from, r->nfrom);
	note_entries(out, r->to, r->nto);
	for (size_t i = 0; i < r->nwhen; i++)
		note_field(out, &r->when[i]);
	out->http |= r->has_http;
}

void authz_workload_info(const struct authz_set *s, const struct authz_workload *wl,
			 struct authz_workload_info *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; s && i < s->n; i++) {
		const struct az_policy *p = &s->v[i];

		/* AUDIT never changes a decision: it needs nothing from the data path */
		if (p->ap->action == AUTHZ_AUDIT || !az_applies(s, p->ap, wl))
			continue;
		out->npolicies++;
		for (size_t r = 0; r < p->nrules; r++)
			note_rule(out, &p->rules[r]);
	}
}
