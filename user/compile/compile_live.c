// SPDX-License-Identifier: Apache-2.0
/*
 * EndpointSlice changes compiled into an existing node view (compile_live.h). The lookup tables
 * of the last full compile stay; a changed slice is swapped in the slice table, and only the
 * service ports that read it are compiled again and spliced into the view.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "compile/compile_l7.h"
#include "compile/compile_live.h"

/* The slices swapped in by one change, with how many of them the slice table still holds. */
struct live_overlay {
	struct model m;
	size_t held;
};

struct compile_live {
	const struct model *m;
	struct cc_index ix;
	size_t slices_cap;
	struct cc_svcport *sps; /* every service port, as compile_services numbers them */
	size_t nsps;
	size_t *svc_from;     /* per model Service: its first service port in sps, or SIZE_MAX */
	struct cc_pair *deps; /* (Service routed to, Service whose route goes there) by the first */
	size_t ndeps;
	struct live_overlay **ovl;
	size_t novl;
};

static int push(void *vp, size_t *n, size_t *cap, const void *item, size_t size)
{
	char **v = vp;

	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		char *nv = realloc(*v, ncap * size);

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	memcpy(*v + (*n)++ * size, item, size);
	return 0;
}

static int pair_cmp(const void *pa, const void *pb)
{
	const struct cc_pair *a = pa, *b = pb;

	if (a->svc != b->svc)
		return a->svc < b->svc ? -1 : 1;
	return (uintptr_t)a->obj < (uintptr_t)b->obj ? -1 : (uintptr_t)a->obj > (uintptr_t)b->obj;
}

/* Who routes where: a Service's backends read the slices of every Service its route names. */
static int live_deps(struct compile_live *cl)
{
	size_t cap = 0;
	int err = 0;

	for (size_t i = 0; i < cl->ix.nvs && !err; i++) {
		const struct m_service *svc = &cl->m->services[cl->ix.vs[i].svc];
		struct diag scratch = {0};
		struct cc_route r;

		if (i && cl->ix.vs[i - 1].svc == cl->ix.vs[i].svc)
			continue;
		/* the model compiled whole just before: its routes resolve; each port has its own */
		for (size_t pi = 0; pi < svc->nports && !err; pi++) {
			if (compile_route_for(&cl->ix, svc, &svc->ports[pi], &r, &scratch))
				continue;
			for (size_t k = 0; k < r.ndests && !err; k++) {
				const struct m_service *t = r.dests[k].target;
				struct cc_pair p = {.obj = svc};

				if (!t || t == svc)
					continue;
				p.svc = (size_t)(t - cl->m->services);
				err = push(&cl->deps, &cl->ndeps, &cap, &p, sizeof(p));
			}
			compile_route_free(&r);
		}
		diag_free(&scratch);
	}
	if (cl->ndeps > 1)
		qsort(cl->deps, cl->ndeps, sizeof(*cl->deps), pair_cmp);
	return err;
}

int compile_live_new(const struct model *m, struct compile_live **out, struct diag *d)
{
	struct compile_live *cl = calloc(1, sizeof(*cl));
	int err;

	*out = NULL;
	if (!cl)
		return -ENOMEM;
	cl->m = m;
	err = compile_svcports(m, &cl->sps, &cl->nsps, d);
	if (!err)
		err = compile_index_build(m, &cl->ix);
	cl->slices_cap = m->nendpointslices ? m->nendpointslices : 1;
	if (!err && !(cl->svc_from = malloc((m->nservices + 1) * sizeof(*cl->svc_from))))
		err = -ENOMEM;
	if (!err) {
		for (size_t i = 0; i < m->nservices; i++)
			cl->svc_from[i] = SIZE_MAX;
		for (size_t k = cl->nsps; k-- > 0;)
			cl->svc_from[cl->sps[k].svc - m->services] = k;
		err = live_deps(cl);
	}
	if (err) {
		compile_live_free(cl);
		return err;
	}
	*out = cl;
	return 0;
}

static void overlay_free(struct live_overlay *ov)
{
	model_free(&ov->m);
	free(ov);
}

/* A slice left the table: the overlay it came from goes once none of its slices is held. */
static void slice_release(struct compile_live *cl, const struct m_endpointslice *es)
{
	for (size_t i = 0; i < cl->novl; i++) {
		struct live_overlay *ov = cl->ovl[i];

		if (es < ov->m.endpointslices || es >= ov->m.endpointslices + ov->m.nendpointslices)
			continue;
		if (--ov->held == 0) {
			overlay_free(ov);
			cl->ovl[i] = cl->ovl[--cl->novl];
		}
		return;
	}
}

static int affect(struct compile_live *cl, const char *ns, const char *svc_name, size_t **aff,
		  size_t *naff, size_t *cap)
{
	const struct m_service *svc = svc_name ? model_service(cl->m, ns, svc_name) : NULL;
	size_t idx;

	if (!svc)
		return 0;
	idx = (size_t)(svc - cl->m->services);
	return push(aff, naff, cap, &idx, sizeof(idx));
}

/* Where slice ns/name is in the table: among the slices of Service `svc` when it is given (a
 * changed slice usually keeps its Service: a binary search), else anywhere. */
static size_t slice_find(const struct compile_live *cl, const char *ns, const char *name,
			 const char *svc)
{
	size_t from = 0, to = cl->ix.nslices;

	if (svc) {
		struct m_service probe = {.meta = {.ns = (char *)ns, .name = (char *)svc}};
		const struct m_endpointslice *const *v = compile_index_slices(&cl->ix, &probe, &to);

		from = v ? (size_t)(v - cl->ix.slices) : 0;
		to += from;
	}
	for (size_t i = from; i < to; i++)
		if (!strcmp(cl->ix.slices[i]->meta.name, name) &&
		    !strcmp(cl->ix.slices[i]->meta.ns, ns))
			return i;
	return svc ? slice_find(cl, ns, name, NULL) : SIZE_MAX;
}

/* Take slice ns/name out of the table, noting its Service. */
static int slice_out(struct compile_live *cl, const char *ns, const char *name, const char *svc,
		     size_t **aff, size_t *naff, size_t *cap)
{
	size_t i = slice_find(cl, ns, name, svc);
	const struct m_endpointslice *es;
	int err;

	if (i == SIZE_MAX)
		return 0;
	es = cl->ix.slices[i];
	err = affect(cl, es->meta.ns, es->service_name, aff, naff, cap);
	compile_index_slice_del(&cl->ix, i);
	slice_release(cl, es);
	return err;
}

static int slices_out(struct compile_live *cl, const struct model *in, const char *const *gone,
		      size_t ngone, size_t **aff, size_t *naff, size_t *cap)
{
	int err = 0;

	for (size_t i = 0; i < ngone && !err; i++) {
		const char *slash = strchr(gone[i], '/');
		char ns[256];

		if (!slash || (size_t)(slash - gone[i]) >= sizeof(ns))
			continue;
		memcpy(ns, gone[i], (size_t)(slash - gone[i]));
		ns[slash - gone[i]] = '\0';
		err = slice_out(cl, ns, slash + 1, NULL, aff, naff, cap);
	}
	for (size_t i = 0; i < in->nendpointslices && !err; i++) {
		const struct m_endpointslice *es = &in->endpointslices[i];

		err = slice_out(cl, es->meta.ns, es->meta.name, es->service_name, aff, naff, cap);
	}
	return err;
}

/* Put the new slices into the table; their overlay is kept while the table holds one. */
static int slices_in(struct compile_live *cl, struct model *in, size_t **aff, size_t *naff,
		     size_t *cap)
{
	/* the table's slot for ov first: once the index holds one of its slices, ov must be kept */
	struct live_overlay **ovl = realloc(cl->ovl, (cl->novl + 1) * sizeof(*ovl));
	struct live_overlay *ov = ovl ? calloc(1, sizeof(*ov)) : NULL;
	int err = 0;

	if (ovl)
		cl->ovl = ovl;
	if (!ov) {
		model_free(in);
		return -ENOMEM;
	}
	ov->m = *in;
	memset(in, 0, sizeof(*in));
	for (size_t i = 0; i < ov->m.nendpointslices && !err; i++) {
		const struct m_endpointslice *es = &ov->m.endpointslices[i];

		if (!es->service_name)
			continue; /* a slice no Service owns: the full compile skips it too */
		err = compile_index_slice_add(&cl->ix, es, &cl->slices_cap);
		if (!err)
			ov->held++;
		if (!err)
			err = affect(cl, es->meta.ns, es->service_name, aff, naff, cap);
	}
	if (!ov->held) {
		overlay_free(ov);
		return err;
	}
	/* the index points into ov->m: kept even when a later slice failed (it used to leak then) */
	cl->ovl[cl->novl++] = ov;
	return err;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The Services touched, and every Service whose route reads one of them; sorted, unique. */
static int affected_close(struct compile_live *cl, size_t **aff, size_t *naff, size_t *cap)
{
	size_t n = *naff, k = 0;
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		struct cc_pair key = {.svc = (*aff)[i], .obj = NULL};
		size_t lo = 0, hi = cl->ndeps;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cl->deps[mid].svc < key.svc)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < cl->ndeps && cl->deps[lo].svc == key.svc && !err; lo++) {
			size_t dep =
			    (size_t)((const struct m_service *)cl->deps[lo].obj - cl->m->services);

			err = push(aff, naff, cap, &dep, sizeof(dep));
		}
	}
	if (*naff > 1)
		qsort(*aff, *naff, sizeof(**aff), size_cmp);
	for (size_t i = 0; i < *naff; i++)
		if (!k || (*aff)[k - 1] != (*aff)[i])
			(*aff)[k++] = (*aff)[i];
	*naff = k;
	return err;
}

/* The service ports of the affected Services compiled again, in svc_id order. */
struct live_new {
	struct cv_service *cs; /* one per changed svc_id */
	uint32_t *ids;
	size_t n;
	struct node_view bk; /* their backends, in svc_id order */
};

static void live_new_free(struct live_new *ln)
{
	for (size_t i = 0; i < ln->n; i++)
		free(ln->cs[i].name);
	free(ln->cs);
	free(ln->ids);
	node_view_free(&ln->bk);
}

/* The end of the service ports of the Service whose first one is sps[from]. */
static size_t svc_to(const struct compile_live *cl, size_t from)
{
	size_t to = from;

	while (to < cl->nsps && cl->sps[to].svc == cl->sps[from].svc)
		to++;
	return to;
}

/* `aff` (Service indexes, unique) becomes the first service port of each, ascending: svc_id
 * order is service port order, not model order. Services without one (headless) drop out. */
static size_t aff_to_ports(const struct compile_live *cl, size_t *aff, size_t naff)
{
	size_t k = 0;

	for (size_t i = 0; i < naff; i++)
		if (cl->svc_from[aff[i]] != SIZE_MAX)
			aff[k++] = cl->svc_from[aff[i]];
	if (k > 1)
		qsort(aff, k, sizeof(*aff), size_cmp);
	return k;
}

static int live_compile(struct compile_live *cl, size_t *aff, size_t naff, struct live_new *ln,
			struct diag *d)
{
	size_t total = 0, cap = 0;
	int err = 0;

	naff = aff_to_ports(cl, aff, naff);
	for (size_t i = 0; i < naff; i++)
		total += svc_to(cl, aff[i]) - aff[i];
	ln->cs = calloc(total ? total : 1, sizeof(*ln->cs));
	ln->ids = calloc(total ? total : 1, sizeof(*ln->ids));
	if (!ln->cs || !ln->ids)
		return -ENOMEM;
	for (size_t i = 0; i < naff && !err; i++) {
		size_t from = aff[i], to = svc_to(cl, from);

		for (size_t k = from; k < to; k++)
			ln->ids[ln->n + k - from] = (uint32_t)k;
		err = compile_service(&cl->ix, cl->sps, from, to, &ln->cs[ln->n], &ln->bk, &cap, d);
		ln->n += to - from;
	}
	return err;
}

/* Slots of svc_id `id` in v[0..n) (sorted by svc_id): [*from, return). */
static size_t slots_of(const struct cv_backend *v, size_t n, uint32_t id, size_t *from)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].key.svc_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*from = lo;
	while (hi < n && v[hi].key.svc_id == id)
		hi++;
	return hi;
}

/* The slots of svc_id `id` in the view become `nv` new ones (moved in): in place when the count
 * is the same, else the rest of the array moves. */
static int splice_one(struct node_view *view, uint32_t id, struct cv_backend *nv, size_t m)
{
	size_t from, to = slots_of(view->backends, view->nbackends, id, &from), old = to - from;

	for (size_t i = from; i < to; i++) {
		free(view->backends[i].pod);
		view->backends[i].pod = NULL;
	}
	if (m > old) {
		struct cv_backend *b =
		    realloc(view->backends, (view->nbackends + m - old) * sizeof(*b));

		if (!b)
			return -ENOMEM;
		view->backends = b;
	}
	if (m != old)
		memmove(&view->backends[from + m], &view->backends[to],
			(view->nbackends - to) * sizeof(*view->backends));
	if (m) /* nv is NULL when the slice has no backends left: memcpy must not see it */
		memcpy(&view->backends[from], nv, m * sizeof(*nv));
	view->nbackends = view->nbackends - old + m;
	return 0;
}

/* The new entries and slots in place of the old ones. */
static int live_splice(struct live_new *ln, struct node_view *view)
{
	size_t j = 0;

	for (size_t i = 0; i < ln->n; i++) {
		size_t k = j;
		int err;

		while (k < ln->bk.nbackends && ln->bk.backends[k].key.svc_id == ln->ids[i])
			k++;
		err = splice_one(view, ln->ids[i], &ln->bk.backends[j], k - j);
		if (err) /* the slots not moved yet are still ln's to free */
			return err;
		for (; j < k; j++)
			ln->bk.backends[j].pod = NULL; /* moved */
		free(view->services[ln->ids[i]].name);
		view->services[ln->ids[i]] = ln->cs[i];
		ln->cs[i].name = NULL;
	}
	return 0;
}

int compile_live_slices(struct compile_live *cl, struct model *slices, const char *const *gone,
			size_t ngone, struct node_view *view, uint32_t **changed, size_t *nchanged,
			struct diag *d)
{
	struct live_new ln = {0};
	size_t *aff = NULL, naff = 0, cap = 0;
	int err;

	*changed = NULL;
	*nchanged = 0;
	err = slices_out(cl, slices, gone, ngone, &aff, &naff, &cap);
	if (!err)
		err = slices_in(cl, slices, &aff, &naff, &cap);
	else
		model_free(slices);
	if (!err)
		err = affected_close(cl, &aff, &naff, &cap);
	if (!err)
		err = live_compile(cl, aff, naff, &ln, d);
	if (!err)
		err = live_splice(&ln, view);
	if (!err)
		err = compile_backends_check(view, d);
	if (!err) {
		*changed = ln.ids;
		*nchanged = ln.n;
		ln.ids = NULL;
	}
	live_new_free(&ln);
	free(aff);
	return err;
}

int compile_live_l7_table(const struct compile_live *cl, const char *node, struct l7_table *t,
			  struct diag *d)
{
	return compile_l7_table_ix(cl->m, &cl->ix, cl->sps, cl->nsps, node, t, d);
}

void compile_live_free(struct compile_live *cl)
{
	if (!cl)
		return;
	for (size_t i = 0; i < cl->novl; i++)
		overlay_free(cl->ovl[i]);
	free(cl->ovl);
	compile_index_free(&cl->ix);
	free(cl->sps);
	free(cl->svc_from);
	free(cl->deps);
	free(cl);
}
