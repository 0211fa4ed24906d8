/* SPDX-License-Identifier: Apache-2.0 */
/* The dataplane's private state, shared by its files (bpffs, open, attach, generation). */
#ifndef SKIFF_DP_INTERNAL_H
#define SKIFF_DP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "dataplane/dataplane.h"

#define DP_MAX_LINKS 16

struct sock_lb;
struct sock_accel;
struct guard;
struct bpf_link;
struct bpf_program;
struct bpf_object;

/* An endpoint taken out of a service port's slots (dp_eject.c). */
struct dp_ejection {
	struct skiff_svc_key key; /* gen 0 */
	struct skiff_sock_origin ep;
};

struct dataplane {
	struct sock_lb *skel;
	struct sock_accel *accel;
	struct guard *guard;
	bool accel_on;	     /* same-node redirect wanted (not --no-accel) */
	bool accel_join_all; /* dp_opts.accel_join_all */
	bool agent_sockops;  /* attach sockops to our own cgroup too (dp_opts.agent_sockops) */
	bool agent_accel;    /* ... and it is attached: punt hops can join the sockhash */
	char agent_cgroup[PATH_MAX]; /* dp_opts.agent_cgroup, or "" */
	struct bpf_link *links[DP_MAX_LINKS];
	size_t nlinks;
	struct bpf_link *guard_sock; /* the STRICT socket check's link, while attached */
	unsigned int gen;	     /* skiff_config.active_gen as we last wrote or read it */
	char dir[PATH_MAX];
	char cgroup_root[PATH_MAX];
	struct dp_ejection *ejections;
	size_t nejections;
};

/* dp_bpffs.c */
int dp_bpffs_ensure(const char *dir);
int dp_path(char *buf, size_t size, const char *dir, const char *name);
void dp_bpffs_remove(const char *dir);

/* dp_open.c */
int dp_pin_paths(struct dataplane *dp, struct bpf_object *obj);
void dp_unpin_maps(struct dataplane *dp, struct bpf_object *obj);

/* dp_accel.c */
int dp_accel_load(struct dataplane *dp);
int dp_accel_attach_msg(struct dataplane *dp);
void dp_accel_close(struct dataplane *dp, bool unpin);

/* dp_map_sync.c: an array of n entries, each `stride` bytes, with its key and value at the given
 * offsets; the map is made to hold exactly these. `hint` ends the error message on a full map. */
struct dp_entries {
	const void *base;
	size_t n, stride;
	size_t key_off, key_size;
	size_t val_off, val_size;
};

int dp_map_sync(int fd, const struct dp_entries *e, const char *map_name, const char *hint);
/* Its two halves, for a map whose new entries must be in before other maps point at them and
 * whose departed ones may only go after (skiff_policy): write, or delete what is not in `e`. */
int dp_map_upsert(int fd, const struct dp_entries *e, const char *map_name, const char *hint);
int dp_map_prune(int fd, const struct dp_entries *e, const char *map_name);

/* dp_map_full.c: a failed write into `map` (errno set by bpf_map_update_elem); on a full map it
 * is counted for skiff_map_full_total and logged with the map's size and `fix`. Returns -errno. */
int dp_map_write_failed(int fd, const char *map, const char *what, const char *fix);
/* $SKIFF_MAP_MAX_ENTRIES: smaller maps for tests, set on `obj` before it is loaded */
int dp_map_limits_apply(struct bpf_object *obj);

/* dp_attach.c */
int dp_attach_all(struct dataplane *dp);
/* Attach `prog` to the cgroup `cgfd` (inode `cgid`) through the link pinned at
 * links/<program><suffix>, adopting one an earlier agent pinned there. */
int dp_attach_one(struct dataplane *dp, struct bpf_program *prog, int cgfd, unsigned long long cgid,
		  const char *suffix);

/* dp_agent_cgroup.c: sockops on skiffd's own cgroup, for the punt hops (sets agent_accel) */
void dp_attach_agent(struct dataplane *dp);
/* An earlier agent's link there (it ran with the fast path, this one without) is removed. */
void dp_detach_agent(struct dataplane *dp);
void dp_links_close(struct dataplane *dp, bool unpin);
/* The STRICT guard's socket check (guard_sock) at the pod cgroup root: attached while some local
 * pod is STRICT on a port, detached (and unpinned) when none is. Elsewhere it lets every packet
 * pass, and its run on each packet delivered to a pod socket cost ~0.1-0.2 µs, 1-2 µs per short
 * connection. _pinned: a link is pinned for it (ours, or an earlier agent's). */
int dp_guard_sock_attach(struct dataplane *dp);
void dp_guard_sock_detach(struct dataplane *dp);
bool dp_guard_sock_pinned(const struct dataplane *dp);

/* dp_wl_reset.c: clear what the maps keyed by workload still hold of the earlier holders of the
 * ids `v` gives for the first time (cv_pod.id_fresh) */
int dp_wl_reset(struct dataplane *dp, const struct node_view *v);

/* dp_eject.c: take the ejected endpoints out of generation `gen`, which an apply has just
 * written with every ready endpoint */
void dp_ejections_impose(struct dataplane *dp, unsigned int gen);

/* dp_eject_slots.c: one service port's slots as read from the maps (room for one more in v),
 * edited for an ejection (out) or a return. 1 when ps->v changed and must be switched to, 0 when
 * there was nothing to do, -ENOENT when `ep` is not a backend of the port, other -errno. */
struct dp_port_slots {
	struct skiff_svc_key key; /* with its generation */
	struct skiff_svc svc;
	struct skiff_backend *v;
	size_t n;
};
int dp_eject_weighted(struct dp_port_slots *ps, const struct skiff_sock_origin *ep, bool out);
int dp_eject_maglev(struct dp_port_slots *ps, const struct skiff_sock_origin *ep, bool out);

/* dp_generation.c */
int dp_gen_read(struct dataplane *dp);

/* dp_pod_maps.c: the per-pod maps, by difference through dp_map_sync */
int dp_enrolled_sync(struct dataplane *dp, const struct node_view *v);
int dp_pod_addr_sync(struct dataplane *dp, const struct node_view *v);
int dp_pod_ips_sync(struct dataplane *dp, const struct node_view *v);

/* dp_guard.c */
int dp_guard_load(struct dataplane *dp);
void dp_guard_close(struct dataplane *dp, bool unpin);
int dp_mtls_sync(struct dataplane *dp, const struct node_view *v);
int dp_guard_attach_pods(struct dataplane *dp, const struct node_view *v);
int dp_guard_attach_uplink(struct dataplane *dp, const char *ifname);
int dp_guard_configure(struct dataplane *dp, const char *kubelet_cgroup);

/* dp_route.c: the interface a route to `addr` leaves by, or -errno */
int dp_route_oif(const union skiff_addr *addr, __u8 family);

/* dp_punt.c */
int dp_remote_pods_sync(struct dataplane *dp, const struct node_view *v);

/* dp_policy.c: skiff_policy, in two steps around the pod maps that point into it */
int dp_policy_add(struct dataplane *dp, const struct node_view *v);
int dp_policy_prune(struct dataplane *dp, const struct node_view *v);

#define SKIFF_STR_(x) #x
#define SKIFF_STR(x)  SKIFF_STR_(x)

#endif
