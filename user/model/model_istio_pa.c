// SPDX-License-Identifier: Apache-2.0
/*
 * PeerAuthentication: selector, mtls.mode and portLevelMtls, with Istio's validation (its
 * pkg/config/validation). An absent mode is UNSET (inherit from the namespace / mesh policy).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

static const char *const pa_modes[] = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT", NULL};

_Static_assert(MTLS_UNSET == 0 && MTLS_DISABLE == 1 && MTLS_PERMISSIVE == 2 && MTLS_STRICT == 3,
	       "pa_modes[] is indexed by enum m_mtls_mode");

/* {mode: ...} of spec.mtls or of one port. Absent map or mode: UNSET. */
static enum m_mtls_mode pa_mode(struct pctx *c, const struct ynode *m, const char *path)
{
	static const char *const known[] = {"mode", NULL};
	char p[256];
	int i;

	if (m->kind != YNODE_MAP) {
		perr(c, m, "%s must be a mapping with a mode", path);
		return MTLS_UNSET;
	}
	punknown(c, m, known, path);
	i = istio_check_enum(c, m, "mode", pa_modes, pathf(p, sizeof(p), "%s.mode", path));
	return i >= 0 ? (enum m_mtls_mode)i : MTLS_UNSET;
}

/* Map keys are port numbers written as strings ("8080"). */
static int pa_port_key(const char *k)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)k[0]))
		return -1;
	errno = 0;
	v = strtol(k, &end, 10);
	if (errno || *end)
		return -1;
	return v >= 1 && v <= 65535 ? (int)v : 0;
}

static void pa_port_level(struct pctx *c, struct m_peerauthentication *pa, const struct ynode *spec)
{
	const struct ynode *pl;
	char p[256];

	pl = pget(c, spec, "portLevelMtls", YNODE_MAP, false, "spec.portLevelMtls");
	if (!pl)
		return;
	if (pl->n == 0)
		perr(c, pl, "spec.portLevelMtls must not be empty: list ports, or remove it");
	if (pl->n > 0 && pa->selector.n == 0)
		perr(c, pl,
		     "spec.portLevelMtls requires a non-empty spec.selector.matchLabels "
		     "(port-level settings apply to selected workloads only)");
	for (size_t i = 0; i < pl->n; i++) {
		int port = pa_port_key(pl->keys[i]);
		struct m_port_mtls *pm;

		pathf(p, sizeof(p), "spec.portLevelMtls[%s]", pl->keys[i]);
		if (port < 0) {
			perr(c, pl->items[i], "%s: \"%s\" is not a port number", p, pl->keys[i]);
			continue;
		}
		if (port == 0) {
			perr(c, pl->items[i], "%s: port must be between 1-65535", p);
			continue;
		}
		pm = PUSH(pa->ports, pa->nports);
		pm->port = (uint16_t)port;
		pm->mode = pa_mode(c, pl->items[i], p);
	}
}

int parse_peerauthentication(struct pctx *c)
{
	static const char *const known[] = {"selector", "mtls", "portLevelMtls", NULL};
	struct m_peerauthentication *pa;
	const struct ynode *spec, *n;
	int errors = c->errors;

	pa = PUSH(c->m->peerauthentications, c->m->npeerauthentications);
	pmeta(c, &pa->meta, true);
	spec = ynode_get(c->doc, "spec");
	if (!spec || (spec->kind == YNODE_SCALAR && spec->plain && !spec->scalar[0]))
		return c->errors > errors ? -EINVAL : 0; /* no spec: namespace-wide, UNSET */
	spec = pget(c, c->doc, "spec", YNODE_MAP, false, "spec");
	if (!spec)
		return -EINVAL;
	punknown(c, spec, known, "spec");
	n = pget(c, spec, "selector", YNODE_MAP, false, "spec.selector");
	if (n) {
		pa->has_selector = true;
		punknown(c, n, (const char *const[]){"matchLabels", NULL}, "spec.selector");
		plabels(c, n, "matchLabels", &pa->selector, "spec.selector.matchLabels");
	}
	n = pget(c, spec, "mtls", YNODE_MAP, false, "spec.mtls");
	if (n)
		pa->mode = pa_mode(c, n, "spec.mtls");
	pa_port_level(c, pa, spec);
	return c->errors > errors ? -EINVAL : 0;
}
