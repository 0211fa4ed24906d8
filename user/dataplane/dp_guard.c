// SPDX-License-Identifier: Apache-2.0
/*
 * The STRICT guard (bpf/guard.bpf.c, include/skiff/guard.h): load it with its maps pinned next to
 * the others, write each local mesh pod's PeerAuthentication modes, put the TC program on the
 * node side of every enrolled pod's veth (found by route, so any CNI's naming works), and the XDP
 * program on the uplink when skiffd is told which one it is. TC filters and XDP stay on their
 * interfaces when skiffd exits (the kernel keeps guarding); a restart replaces them in place.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "guard.skel.h"

int dp_guard_load(struct dataplane *dp)
{
	int err;

	dp->guard = guard__open();
	if (!dp->guard)
		return -errno;
	err = dp_pin_paths(dp, dp->guard->obj);
	if (!err)
		err = guard__load(dp->guard);
	if (err)
		fprintf(stderr, "dataplane: cannot load the STRICT guard: %s\n", strerror(-err));
	return err;
}

void dp_guard_close(struct dataplane *dp, bool unpin)
{
	if (!dp->guard)
		return;
	if (unpin)
		dp_unpin_maps(dp, dp->guard->obj);
	guard__destroy(dp->guard);
	dp->guard = NULL;
}

int dp_guard_configure(struct dataplane *dp, const char *kubelet_cgroup)
{
	struct skiff_guard_cfg cfg = {0};
	struct stat st;
	__u32 zero = 0;

	if (kubelet_cgroup) {
		/* a cgroup v2 directory's inode number is its cgroup id */
		if (stat(kubelet_cgroup, &st) || !S_ISDIR(st.st_mode)) {
			fprintf(stderr,
				"dataplane: --kubelet-cgroup %s is not a cgroup directory; kubelet "
				"probes to STRICT pods would be dropped\n",
				kubelet_cgroup);
			return -ENOENT;
		}
		cfg.kubelet_cgroup = st.st_ino;
	}
	if (bpf_map_update_elem(bpf_map__fd(dp->guard->maps.skiff_guard_cfg), &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

/* skiff_guard_ifaces: one entry per veth that leads to an enrolled local pod. */
struct guard_iface_entry {
	__u32 ifindex;
	struct skiff_guard_iface pod;
};

/* skiff_guard_ifaces from the veths found by dp_guard_attach_pods. */
static int ifaces_sync(struct dataplane *dp, const struct guard_iface_entry *t, size_t n)
{
	const struct dp_entries e = {
	    .base = t,
	    .n = n,
	    .stride = sizeof(*t),
	    .key_off = offsetof(struct guard_iface_entry, ifindex),
	    .key_size = sizeof(__u32),
	    .val_off = offsetof(struct guard_iface_entry, pod),
	    .val_size = sizeof(struct skiff_guard_iface),
	};

	return dp_map_sync(bpf_map__fd(dp->guard->maps.skiff_guard_ifaces), &e,
			   SKIFF_MAP_GUARD_IFACES,
			   "more than " SKIFF_STR(SKIFF_MAX_GUARD_IFACES) " local mesh pods?");
}

int dp_mtls_sync(struct dataplane *dp, const struct node_view *v)
{
	const struct dp_entries e = {
	    .base = v->mtls,
	    .n = v->nmtls,
	    .stride = sizeof(*v->mtls),
	    .key_off = offsetof(struct cv_mtls, key),
	    .key_size = sizeof(struct skiff_mtls_key),
	    .val_off = offsetof(struct cv_mtls, val),
	    .val_size = sizeof(struct skiff_mtls),
	};

	return dp_map_sync(bpf_map__fd(dp->guard->maps.skiff_mtls), &e, SKIFF_MAP_MTLS,
			   "more than " SKIFF_STR(SKIFF_MAX_MTLS_PORTS) " pod ports with a mode?");
}

/* The guard on the TC egress hook of interface `ifindex` (packets going into the pod). */
static int tc_attach(struct dataplane *dp, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1,
			    .prog_fd = bpf_program__fd(dp->guard->progs.guard_pod),
			    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_attach(&hook, &opts);

	if (!err)
		return 0;
	/* no clsact qdisc on the veth yet (a new pod): make it, then attach (creating it first
	 * every time would make the kernel log "Exclusivity flag on" at each reload) */
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* The guard off interface `ifindex` if it was guarded: skiff_guard_ifaces still lists the veths
 * guarded until this apply, by this agent or an earlier one (asking the kernel of every other
 * veth would log a netlink error for each one without a clsact qdisc). */
static void tc_detach_if_guarded(struct dataplane *dp, int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	struct skiff_guard_iface pod;
	__u32 key = (__u32)ifindex;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->guard->maps.skiff_guard_ifaces), &key, &pod))
		return;
	bpf_tc_detach(&hook, &opts); /* gone already is as good */
}

/* Has veth `oif` been met already (the pod's other address)? */
static bool iface_listed(const struct guard_iface_entry *t, size_t n, int oif)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].ifindex == (__u32)oif)
			return true;
	return false;
}

/*
 * Each enrolled pod's veth, found once by route. The TC guard goes on the veth of a pod STRICT on
 * some port (SKIFF_POD_F_STRICT), and skiff_guard_ifaces names the pod behind it (one of its
 * addresses, all of which carry the same modes). Any other pod's veth is left without it (and
 * loses it when its pod stops being STRICT): there the guard lets every packet pass, and running
 * it on each packet cost ~0.2 µs, 2 µs per short connection. A veth that cannot be found or
 * guarded is reported; the rest of the node is still guarded.
 */
int dp_guard_attach_pods(struct dataplane *dp, const struct node_view *v)
{
	struct guard_iface_entry *t = calloc(v->npod_ips ? v->npod_ips : 1, sizeof(*t));
	size_t n = 0;
	int failed = 0, err;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < v->npod_ips; i++) {
		const struct skiff_pod_ip_key *k = &v->pod_ips[i].key;
		int oif = dp_route_oif(&k->addr, k->family);

		if (oif > 0 && iface_listed(t, n, oif))
			continue;
		if (oif > 0 && !(v->pod_ips[i].val.flags & SKIFF_POD_F_STRICT)) {
			tc_detach_if_guarded(dp, oif);
			continue;
		}
		err = oif < 0 ? oif : tc_attach(dp, oif);
		if (err) {
			failed++;
			fprintf(
			    stderr,
			    "dataplane: cannot put the STRICT guard on the veth of a pod (address "
			    "%d of %zu, interface %d): %s\n",
			    (int)i + 1, v->npod_ips, oif, strerror(-err));
			continue;
		}
		t[n++] = (struct guard_iface_entry){
		    .ifindex = (__u32)oif,
		    .pod = {.addr = k->addr, .family = k->family},
		};
	}
	err = ifaces_sync(dp, t, n);
	free(t);
	return err ? err : failed ? -EIO : 0;
}

int dp_guard_attach_uplink(struct dataplane *dp, const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);
	int fd = bpf_program__fd(dp->guard->progs.guard_uplink);
	int err;

	if (!ifindex) {
		fprintf(stderr, "dataplane: no interface %s for --uplink\n", ifname);
		return -ENODEV;
	}
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_SKB_MODE, NULL);
	if (err)
		fprintf(stderr, "dataplane: cannot attach XDP to %s: %s\n", ifname, strerror(-err));
	return err;
}

int dp_guard_stats(struct dataplane *dp, __u64 out[SKIFF_GUARD_VERDICTS])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(dp->guard->maps.skiff_guard_stats);
	__u64 v[ncpu > 0 ? ncpu : 1];

	if (ncpu <= 0)
		return -EINVAL;
	for (__u32 k = 0; k < SKIFF_GUARD_VERDICTS; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	return 0;
}
