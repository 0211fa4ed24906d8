// SPDX-License-Identifier: Apache-2.0
/*
 * Cross-resource checks once every document is in: (kind, namespace, name) must be unique, as in
 * the API server, because later stages look resources up by that triple. Istio kinds add their
 * own checks in validate_istio().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/parse.h"

struct meta_ref {
	const char *kind;
	const struct meta *meta;
	size_t seq; /* order of appearance, to tell the first definition from the copy */
};

/* Every resource struct starts with its `struct meta`, so one walk over the arrays suffices. */
static void refs_add(struct meta_ref **v, size_t *n, const char *kind, const void *arr, size_t cnt,
		     size_t elem)
{
	for (size_t i = 0; i < cnt; i++) {
		struct meta_ref *r = PUSH(*v, *n);

		r->kind = kind;
		r->meta = (const struct meta *)((const char *)arr + i * elem);
		r->seq = *n;
	}
}

#define REFS_ADD(v, n, kind, arr, cnt) refs_add(v, n, kind, arr, cnt, sizeof((arr)[0]))

static int meta_ref_cmp(const void *pa, const void *pb)
{
	const struct meta_ref *a = pa, *b = pb;
	int r;

	r = strcmp(a->kind, b->kind);
	if (!r)
		r = strcmp(a->meta->ns ? a->meta->ns : "", b->meta->ns ? b->meta->ns : "");
	if (!r)
		r = strcmp(a->meta->name ? a->meta->name : "", b->meta->name ? b->meta->name : "");
	if (!r)
		r = (a->seq > b->seq) - (a->seq < b->seq);
	return r;
}

static bool meta_ref_same(const struct meta_ref *a, const struct meta_ref *b)
{
	struct meta_ref x = *a, y = *b;

	x.seq = y.seq = 0;
	return !meta_ref_cmp(&x, &y);
}

static void report_duplicate(struct diag *d, const struct meta_ref *first,
			     const struct meta_ref *dup)
{
	const struct meta *a = first->meta, *b = dup->meta;
	bool ns = b->ns && b->ns[0];

	diag_add(d, DIAG_ERROR, b->file, b->line,
		 "%s %s%s%s: defined twice, here and at %s:%d (kind, namespace and name must be "
		 "unique: rename or delete one)",
		 dup->kind, ns ? b->ns : "", ns ? "/" : "", b->name, a->file, a->line);
}

static int model_check_duplicates(struct model *m, struct diag *d)
{
	struct meta_ref *v = NULL;
	size_t n = 0, errs = 0, first = 0;

	REFS_ADD(&v, &n, "Namespace", m->namespaces, m->nnamespaces);
	REFS_ADD(&v, &n, "ServiceAccount", m->serviceaccounts, m->nserviceaccounts);
	REFS_ADD(&v, &n, "Pod", m->pods, m->npods);
	REFS_ADD(&v, &n, "Service", m->services, m->nservices);
	REFS_ADD(&v, &n, "EndpointSlice", m->endpointslices, m->nendpointslices);
	REFS_ADD(&v, &n, "VirtualService", m->virtualservices, m->nvirtualservices);
	REFS_ADD(&v, &n, "DestinationRule", m->destinationrules, m->ndestinationrules);
	REFS_ADD(&v, &n, "PeerAuthentication", m->peerauthentications, m->npeerauthentications);
	REFS_ADD(&v, &n, "AuthorizationPolicy", m->authorizationpolicies,
		 m->nauthorizationpolicies);
	if (n)
		qsort(v, n, sizeof(*v), meta_ref_cmp);
	for (size_t i = 1; i < n; i++) {
		if (!meta_ref_same(&v[first], &v[i])) {
			first = i;
			continue;
		}
		report_duplicate(d, &v[first], &v[i]);
		errs++;
	}
	free(v);
	return errs ? -EINVAL : 0;
}

int model_validate(struct model *m, struct diag *d)
{
	int rc = model_check_duplicates(m, d);

	model_index_build(m);

	if (validate_istio(m, d) < 0)
		rc = -EINVAL;
	return rc;
}
