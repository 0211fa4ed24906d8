// SPDX-License-Identifier: Apache-2.0
/*
 * Whole-table updates. A node view goes in as generation active+1 next to the one in force,
 * skiff_config.active_gen flips to it in one word write, then every key of any other generation
 * goes. A program reads active_gen once per run, so a connect sees the old table or the new one.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

#define DP_KEY_MAX 32 /* largest generational key */

int dp_gen_read(struct dataplane *dp)
{
	struct skiff_config cfg;
	__u32 zero = 0;
	int err;

	err = bpf_map__lookup_elem(dp->skel->maps.skiff_config, &zero, sizeof(zero), &cfg,
				   sizeof(cfg), 0);
	if (err) {
		fprintf(stderr, "dataplane: cannot read %s: %s\n", SKIFF_MAP_CONFIG,
			strerror(-err));
		return err;
	}
	dp->gen = cfg.active_gen;
	return 0;
}

int dp_events_enable(struct dataplane *dp, bool on)
{
	struct skiff_config cfg = {0};
	__u32 zero = 0;
	int fd = bpf_map__fd(dp->skel->maps.skiff_config);

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	cfg.flags = on ? cfg.flags & ~SKIFF_CFG_F_NO_EVENTS : cfg.flags | SKIFF_CFG_F_NO_EVENTS;
	return bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

static int gen_switch(struct dataplane *dp, unsigned int gen)
{
	struct skiff_config cfg = {0};
	__u32 zero = 0;
	int fd = bpf_map__fd(dp->skel->maps.skiff_config);

	/* keep the flags word; only the generation changes */
	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		memset(&cfg, 0, sizeof(cfg));
	cfg.active_gen = gen;
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY)) {
		int err = -errno;

		fprintf(stderr, "dataplane: cannot switch to generation %u: %s\n", gen,
			strerror(-err));
		return err;
	}
	dp->gen = gen;
	return 0;
}

/* A generational map: its fd, key size and where the key holds its generation. */
struct gen_map {
	int fd;
	size_t key_size;
	size_t gen_off;
	const char *name;
};

static int keys_push(char **keys, size_t *n, size_t *cap, const void *key, size_t size)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 256;
		char *k = realloc(*keys, ncap * size);

		if (!k)
			return -ENOMEM;
		*keys = k;
		*cap = ncap;
	}
	memcpy(*keys + (*n)++ * size, key, size);
	return 0;
}

/*
 * Delete the keys of generation `gen` (`others` false) or of every generation but `gen`
 * (`others` true). Keys are collected first and deleted after the walk: deleting during a
 * bpf_map_get_next_key() walk of a hash can restart it from the first bucket.
 */
static int gen_sweep(const struct gen_map *m, unsigned int gen, bool others)
{
	char cur[DP_KEY_MAX], next[DP_KEY_MAX], *keys = NULL;
	size_t n = 0, cap = 0;
	bool first = true;
	int err = 0;

	while (!err && !bpf_map_get_next_key(m->fd, first ? NULL : cur, next)) {
		__u32 kgen;

		memcpy(&kgen, next + m->gen_off, sizeof(kgen));
		if ((kgen != gen) == others)
			err = keys_push(&keys, &n, &cap, next, m->key_size);
		memcpy(cur, next, m->key_size);
		first = false;
	}
	for (size_t i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(m->fd, keys + i * m->key_size) && errno != ENOENT)
			err = -errno;
	free(keys);
	if (err)
		fprintf(stderr, "dataplane: cleaning %s of generation %s%u failed: %s\n", m->name,
			others ? "all but " : "", gen, strerror(-err));
	return err;
}

static void gen_maps(const struct dataplane *dp, struct gen_map m[2])
{
	m[0] = (struct gen_map){bpf_map__fd(dp->skel->maps.skiff_services),
				sizeof(struct skiff_svc_key), offsetof(struct skiff_svc_key, gen),
				SKIFF_MAP_SERVICES};
	m[1] = (struct gen_map){bpf_map__fd(dp->skel->maps.skiff_backends),
				sizeof(struct skiff_backend_key),
				offsetof(struct skiff_backend_key, gen), SKIFF_MAP_BACKENDS};
}

static int sweep_both(const struct dataplane *dp, unsigned int gen, bool others)
{
	struct gen_map m[2];
	int err;

	gen_maps(dp, m);
	err = gen_sweep(&m[0], gen, others);
	if (!err)
		err = gen_sweep(&m[1], gen, others);
	return err;
}

/* The backend table is searched by bisection with a bounded number of steps: reject a view the
 * BPF side could not search rather than let it pick wrong backends. */
static int view_check(const struct node_view *v)
{
	for (size_t i = 0; i < v->nservices; i++) {
		const struct cv_service *s = &v->services[i];

		if (s->val.count > SKIFF_MAX_BACKEND_SLOTS ||
		    s->val.weight_total > SKIFF_WEIGHT_TOTAL_MAX) {
			fprintf(stderr,
				"dataplane: service %s has %u backend slots and weight %u; "
				"the limits are %u and %u\n",
				s->name ? s->name : "?", s->val.count, s->val.weight_total,
				SKIFF_MAX_BACKEND_SLOTS, SKIFF_WEIGHT_TOTAL_MAX);
			return -E2BIG;
		}
	}
	return 0;
}

static int write_fail(int fd, const char *map, const char *what, unsigned int gen)
{
	char desc[160];

	snprintf(desc, sizeof(desc), "%s of generation %u", what ? what : "an entry", gen);
	return dp_map_write_failed(
	    fd, map, desc,
	    "it holds two generations: fewer Service ports or endpoints "
	    "on this node, or a larger map; built for " SKIFF_STR(
		SKIFF_MAX_SERVICES) " service ports and " SKIFF_STR(SKIFF_MAX_BACKENDS) " backend"
											"s");
}

static int view_write(const struct dataplane *dp, const struct node_view *v, unsigned int gen)
{
	int sfd = bpf_map__fd(dp->skel->maps.skiff_services);
	int bfd = bpf_map__fd(dp->skel->maps.skiff_backends);

	for (size_t i = 0; i < v->nservices; i++) {
		struct skiff_svc_key k = v->services[i].key;

		k.gen = gen;
		if (bpf_map_update_elem(sfd, &k, &v->services[i].val, BPF_ANY))
			return write_fail(sfd, SKIFF_MAP_SERVICES, v->services[i].name, gen);
	}
	for (size_t i = 0; i < v->nbackends; i++) {
		struct skiff_backend_key k = v->backends[i].key;

		k.gen = gen;
		if (bpf_map_update_elem(bfd, &k, &v->backends[i].val, BPF_ANY))
			return write_fail(bfd, SKIFF_MAP_BACKENDS, v->backends[i].pod, gen);
	}
	return 0;
}

/* Is some local pod STRICT on a port (the socket check's business)? */
static bool view_strict(const struct node_view *v)
{
	for (size_t i = 0; i < v->npods; i++)
		if (v->pods[i].val.flags & SKIFF_POD_F_STRICT)
			return true;
	return false;
}

int dp_apply(struct dataplane *dp, const struct node_view *v)
{
	unsigned int gen = dp->gen + 1 ? dp->gen + 1 : 1; /* 0 means "nothing applied yet" */
	int err;

	err = view_check(v);
	if (err)
		return err;
	/* the socket check is in place before the first STRICT flag it acts on */
	if (view_strict(v)) {
		err = dp_guard_sock_attach(dp);
		if (err)
			return err;
	}
	/* leftovers of a crash in the middle of an earlier apply must not join the new table */
	err = sweep_both(dp, gen, false);
	if (!err)
		err = view_write(dp, v, gen);
	/* the endpoints outlier detection took out stay out in the new table, from its start */
	if (!err)
		dp_ejections_impose(dp, gen);
	/* a reused workload id starts clean: its last pod's counters go before the new pod's */
	if (!err)
		err = dp_wl_reset(dp, v);
	/* verdicts before the pod flags and ids that lead to them, departed ones after */
	if (!err)
		err = dp_policy_add(dp, v);
	/* a pod's addresses before its enrolment: its first connect to a Maglev port hashes them */
	if (!err)
		err = dp_pod_addr_sync(dp, v);
	if (!err)
		err = dp_enrolled_sync(dp, v);
	if (!err)
		err = dp_pod_ips_sync(dp, v);
	if (!err)
		err = dp_policy_prune(dp, v);
	if (!err)
		err = dp_remote_pods_sync(dp, v);
	if (!err)
		err = dp_mtls_sync(dp, v);
	if (!err)
		err = gen_switch(dp, gen);
	if (err) {
		sweep_both(dp, gen, false);
		return err;
	}
	/*
	 * The new generation is in force. Keys of other generations are garbage from here on: a
	 * failure to delete them is logged, not returned, and the next apply sweeps them again.
	 */
	sweep_both(dp, gen, true);
	/* a pod whose veth cannot be guarded is reported; the rest of the node is still guarded */
	dp_guard_attach_pods(dp, v);
	/* ... and the socket check goes once no pod's flags ask for it */
	if (!view_strict(v))
		dp_guard_sock_detach(dp);
	return 0;
}
