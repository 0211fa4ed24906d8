/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dataplane: loads the BPF programs, pins and adopts maps, attaches at the pod cgroup root,
 * and writes compiled node views into the maps as whole generations.
 */
#ifndef SKIFF_DATAPLANE_H
#define SKIFF_DATAPLANE_H

#include <stdbool.h>

#include "compile/compile.h"
#include "skiff/accel.h"
#include "skiff/events.h"
#include "skiff/guard.h"

struct dp_opts {
	const char *bpffs_dir;	 /* e.g. /sys/fs/bpf/skiff; created (and bpffs mounted) if needed */
	const char *cgroup_root; /* the node's pod cgroup root, where programs attach */
	bool no_accel;		 /* keep same-node pairs on TCP (sockops still counts bytes) */
	bool accel_join_all;	 /* every same-node pair joins the sockhash, not only those whose
				  * server's recent connections carried enough messages */
	const char *uplink;	 /* the node's uplink for the XDP guard, or NULL */
	const char *kubelet_cgroup; /* kubelet's cgroup: its probes pass the STRICT guard */
	bool agent_sockops; /* sockops on the caller's own cgroup too (skiffd: the punt hops) */
	const char *agent_cgroup; /* that cgroup's directory; NULL: from /proc/self/cgroup */
};

struct dataplane;

/*
 * Open the dataplane: load programs, reuse maps already pinned in bpffs_dir (an agent restart
 * adopts them, so kernel-path flows keep working), pin new ones, and attach with links pinned
 * under <bpffs_dir>/links (an existing pinned link is updated in place, never detached).
 * The same-node accelerator (sock_accel) is loaded with it: sockops on a pinned link, sk_msg on
 * the pinned sockhash.
 */
int dp_open(const struct dp_opts *opts, struct dataplane **out);
/* Write `v` as generation active+1, switch, then delete the old generation. Enrolled pods are
 * updated by difference. On error the previous generation stays active. */
int dp_apply(struct dataplane *dp, const struct node_view *v);
/* Call fn for every pod skiff_enrolled holds (cgroup id, workload id): the ids an adopted
 * dataplane gave, which a new skiffd keeps (wl_ids_adopt). The number of pods. */
int dp_enrolled_each(struct dataplane *dp, void (*fn)(void *ctx, __u64 cgroup, __u32 wl),
		     void *ctx);
/*
 * Rewrite only service ports ids[0..n) of `v` (ascending svc_ids, as compile_live lists them), in
 * the generation in force, one at a time: each port's new slots go under a svc_id its old ones
 * do not use, then its skiff_services entry switches to them in one element update, then the
 * old slots go. A connect sees a port's old slots or its new ones, never a mix; other ports are
 * not touched. The rest of `v` must be what is in the maps already. -EAGAIN when this cannot be
 * done in place (nothing applied yet, or a UDP port: its flows stick to a backend until the
 * generation changes): apply the whole view with dp_apply instead.
 */
int dp_apply_services(struct dataplane *dp, const struct node_view *v, const uint32_t *ids,
		      size_t n);
/*
 * Outlier ejection in the kernel path: take endpoint `ep` (address, port, family as in
 * skiff_backends) out of the backend slots of service port `svc` (its skiff_services key; gen is
 * ignored), or put it back (`out` false), each as one switch of the port's entry. On a
 * weighted port its share goes to the other endpoints of its route destination (a destination
 * left with none refuses its share: ECONNREFUSED, as Envoy answers 503 UH); a Maglev port gets a
 * new table that moves only the ejected endpoint's clients. The ejection outlives later applies until it is ended (a new generation is written
 * without the endpoint; dp_apply_services takes it out just after its switch). New connections
 * only: open
 * ones, and UDP flows already stuck to it, are not moved. -ENOENT: no such port or endpoint;
 * -EAGAIN before the first apply.
 */
int dp_backend_eject(struct dataplane *dp, const struct skiff_svc_key *svc,
		     const struct skiff_sock_origin *ep, bool out);
/* Maps that refused a write for being full, and how many times (skiff_map_full_total): up to
 * `max` names (valid for the process's life) and counts; returns how many. */
size_t dp_map_full_counts(const char **names, uint64_t *counts, size_t max);
/* The punt path: skiffd's outbound listener as pods reach it (flags 0: punting off). */
int dp_punt_configure(struct dataplane *dp, const struct skiff_punt_cfg *cfg);
/* Can the hops between pods and skiffd join the sockhash (sockops runs on skiffd's cgroup)? */
bool dp_punt_hops_fast(const struct dataplane *dp);
/* File (add) or withdraw skiffd's dial to a pod of this node (skiff_agent_dial); any thread. */
void dp_agent_dial(struct dataplane *dp, const struct skiff_agent_dial_key *k, bool add);
/* Where the punted connection whose client end is `k` was going; the entry is consumed.
 * -ENOENT when the kernel filed nothing under `k`; 1 when the client is on the fast path
 * (SKIFF_ORIGIN_F_FAST: its bytes must be read(), splice() would not see them), else 0. */
int dp_punt_orig_take(struct dataplane *dp, const struct skiff_punt_key *k,
		      struct skiff_sock_origin *dst);
/* The STRICT guard's counters, summed over CPUs, indexed by enum skiff_guard_verdict. */
int dp_guard_stats(struct dataplane *dp, __u64 out[SKIFF_GUARD_VERDICTS]);
/* Every (source, destination) workload pair of skiff_l4_stats, summed over CPUs. Returns how
 * many pairs were passed to `fn`, or -ENOENT without the accelerator's maps. */
typedef void (*dp_l4_stats_fn)(void *ctx, const struct skiff_l4_key *k,
			       const struct skiff_l4_stats *v);
int dp_l4_stats_each(struct dataplane *dp, dp_l4_stats_fn fn, void *ctx);
/* The flow events' ring buffer (skiff_events), for a ring_buffer reader; -ENOENT when none. */
int dp_events_fd(struct dataplane *dp);
/* Flow events on or off for every program (skiff_config.flags; the generation is kept). */
int dp_events_enable(struct dataplane *dp, bool on);
/* Events the kernel could not write, by enum skiff_ev_stat, summed over CPUs. */
int dp_events_stats(struct dataplane *dp, __u64 out[SKIFF_EV_STATS]);
/* Generation now in force (0 before the first apply). */
unsigned int dp_generation(const struct dataplane *dp);
/* Take skiff off the node with no skiffd running: the TC guard off the pod veths, XDP off
 * `uplink` (NULL: none) when it is skiff's, every link and map pinned in `bpffs_dir`, and the
 * directory. Programs and maps are freed with their last pin. */
int dp_uninstall(const char *bpffs_dir, const char *uplink);
/* Close file descriptors. With `unpin`, remove links and maps from bpffs: programs detach. */
void dp_close(struct dataplane *dp, bool unpin);

/* How many redirected bytes a fast-path reader may leave unread before its writer falls back to
 * TCP: the largest TCP receive buffer (net.ipv4.tcp_rmem[2]), as TCP itself would allow. */
unsigned long long dp_accel_queue_cap(void);

#endif
