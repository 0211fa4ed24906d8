// SPDX-License-Identifier: Apache-2.0
/*
 * Where skiffd's heap goes on a big cluster. Reads the List files kube_scale_gen.py writes and
 * puts every object through what skiffd runs on them: the API source's store (normalise, trim,
 * pack, kube_store_put), a whole snapshot into the model (kube_source_snapshot), the node view
 * (compile_node_view), the L7 table and the live tables (compile_live_new). After each, glibc's
 * bytes in use (mallinfo2: arena and mmapped blocks), so the parts add up to the heap skiffd
 * holds with the same cluster loaded. One thread and one arena: no watcher threads, no BPF.
 *
 * Usage: kube-mem DIR [NODE]   (DIR from kube_scale_gen.py, NODE default node-0)
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile/compile.h"
#include "compile/compile_l7.h"
#include "compile/compile_live.h"
#include "kube/kube_internal.h"
#include "kube/kube_slab.h"
#include "model/model.h"

/* malloc's blocks in use, and the store's record slabs (mapped apart from malloc) */
static size_t in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	struct kube_slab_stats st = kube_slab_stats();

	return mi.uordblks + mi.hblkhd + st.slabs * 64 * 1024;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *part, size_t *last, double *t, const char *note)
{
	size_t u = in_use();
	double n = now();

	printf("| %s | %.1f | %.2f | %s |\n", part, (double)(u - *last) / 1048576.0, n - *t, note);
	*last = u;
	*t = n;
}

/* One kind's List file into the watcher's store, as kube_list.c stores a page. */
static size_t load_kind(const char *dir, struct kube_watcher *w)
{
	char path[4096], key[512], lower[64];
	struct json_object *list, *items;
	size_t i, n = 0;

	for (i = 0; w->k->kind[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)(w->k->kind[i] | 0x20);
	lower[i] = '\0';
	snprintf(path, sizeof(path), "%s/%s.json", dir, lower);
	if (!(list = json_object_from_file(path)))
		return 0;
	if (json_object_object_get_ex(list, "items", &items))
		for (i = 0; i < json_object_array_length(items); i++) {
			struct json_object *o = json_object_array_get_idx(items, i);
			struct kube_rec *r;

			if (!kube_obj_key(o, key, sizeof(key)))
				continue;
			kube_obj_normalise(w, o);
			if (!(r = kube_obj_pack(o, key)) || kube_store_put(&w->objs, r) < 0)
				abort();
			n++;
		}
	json_object_put(list);
	return n;
}

static int no_cgroup(void *ctx, const struct m_pod *pod, uint64_t *id)
{
	(void)ctx;
	(void)pod;
	*id = 0;
	return -ENOENT;
}

int main(int argc, char **argv)
{
	const char *node = argc > 2 ? argv[2] : "node-0";
	struct kube_source ks = {0};
	struct model m;
	struct node_view v = {0};
	struct l7_table l7 = {0};
	struct compile_live *live = NULL;
	struct diag d = {0};
	size_t last, objs = 0;
	char note[128];
	double t;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [NODE]\n", argv[0]);
		return 2;
	}
	mallopt(M_ARENA_MAX, 1);
	pthread_mutex_init(&ks.lock, NULL);
	ks.o.node = node;
	ks.nw = kube_nkinds;
	ks.w = calloc(ks.nw, sizeof(*ks.w));
	if (!ks.w)
		return 1;
	printf("| part | MB in use | s | |\n| --- | --- | --- | --- |\n");
	last = in_use();
	t = now();
	for (size_t i = 0; i < ks.nw; i++) {
		ks.w[i].k = &kube_kinds[i];
		ks.w[i].ks = &ks;
		ks.w[i].listed = true;
		objs += load_kind(argv[1], &ks.w[i]);
	}
	malloc_trim(0);
	snprintf(note, sizeof(note), "%zu objects; %zu record slabs, %.1f MB in records", objs,
		 kube_slab_stats().slabs, (double)kube_slab_stats().bytes / 1048576.0);
	row("the API store", &last, &t, note);
	if (kube_source_snapshot(&ks, &m, &d))
		fprintf(stderr, "kube-mem: the snapshot has %zu error(s)\n", d.errors);
	snprintf(note, sizeof(note), "%zu pods, %zu Services, %zu EndpointSlices", m.npods,
		 m.nservices, m.nendpointslices);
	row("the model", &last, &t, note);
	if (compile_node_view(&m, node, no_cgroup, NULL, &v, &d))
		fprintf(stderr, "kube-mem: the node view has %zu error(s)\n", d.errors);
	snprintf(note, sizeof(note), "%zu service ports, %zu slots", v.nservices, v.nbackends);
	row("the node view", &last, &t, note);
	compile_l7_table(&m, node, &l7, &d);
	row("the L7 table", &last, &t, "");
	compile_live_new(&m, &live, &d);
	row("the live tables", &last, &t, "");
	printf("| all | %.1f | | |\n", (double)in_use() / 1048576.0);
	compile_live_free(live);
	l7_table_free(&l7);
	node_view_free(&v);
	model_free(&m);
	for (size_t i = 0; i < ks.nw; i++)
		kube_store_clear(&ks.w[i].objs);
	free(ks.w);
	diag_free(&d);
	return 0;
}
