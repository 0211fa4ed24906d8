/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent loop: watch the config directory or the Kubernetes API, load a whole snapshot, compile this node's view,
 * write it to the kernel as one generation; rescan pod cgroups; serve the admin ports.
 * A snapshot that fails to load or compile is logged and refused: the last good one stays.
 */
#ifndef SKIFF_AGENT_H
#define SKIFF_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_opts {
	const char *node;	  /* this node's name (spec.nodeName of its pods) */
	const char *config_dir;	  /* directory of YAML manifests, when not kube */
	bool kube;		  /* config from the Kubernetes API instead (user/kube) */
	const char *kubeconfig;	  /* with kube: this kubeconfig; NULL: in-cluster */
	const char *bpffs;	  /* where maps and links are pinned */
	const char *cgroup_root;  /* the node's pod cgroup root */
	const char *admin_addr;	  /* address of the admin listeners */
	int admin_port;		  /* 15000; 0 disables */
	int ready_port;		  /* 15021; 0 disables */
	const char *metrics_addr; /* address of the metrics listener; NULL: admin_addr */
	int metrics_port;	  /* 15020; 0 disables */
	int rescan_ms;		  /* pod cgroup rescan period */
	bool no_accel;		  /* --no-accel: same-node pod pairs stay on TCP */
	bool accel_join_all; /* --accel-join=always: every same-node pair takes the fast path */
	const char *outbound_addrs; /* "IPv4[,IPv6]" of this node: punt cross-node mesh TCP */
	const char *uplink;	    /* the node's uplink interface: XDP drops plaintext to STRICT */
	const char *kubelet_cgroup; /* kubelet's cgroup v2 dir: its probes pass STRICT */
	const char *agent_cgroup;   /* skiffd's own cgroup v2 dir; NULL: from /proc/self/cgroup */
	const char *ca_dir;	    /* the mesh root (ca.crt, ca.key): mTLS between nodes */
	const char *trust_domain;   /* NULL: cluster.local */
	long cert_ttl;		    /* workload certificate lifetime in seconds; 0: 24 h */
	bool same_node_mtls;	    /* punt same-node mesh traffic too: HBONE (TLS) on the node */
	bool hbone_ktls_off; /* --hbone-ktls=off: HBONE's records stay in userspace, never kTLS */
	bool hbone_openssl_records; /* --hbone-records=openssl: libssl seals HBONE's records */
	bool flow_events_off;	    /* --flow-events=off: the kernel writes no flow events */
	const char *run_dir;	    /* handoff.sock and skiffd.pid (user/handoff/handoff.h) */
	bool takeover;		    /* --takeover: a running skiffd must hand its listeners over */
	int drain_seconds;	    /* how long a replaced or SIGTERMed skiffd keeps its relays */
	bool hold_after_drain;	    /* replaced and drained: wait for SIGTERM before exiting */
	/* skiffd's relay limits (--idle-timeout ... --max-conns-per-source); 0: the default */
	uint32_t idle_ms, connect_ms, sniff_ms, head_ms, per_source;
	uint32_t stream_idle_ms; /* the router's requests (--stream-idle-timeout), 0: default */
};

/*
 * One relay limit flag (agent_limits.c): `name` is the long option without dashes
 * (idle-timeout, connect-timeout, sniff-timeout, head-timeout, max-conns-per-source). 0 when
 * set; -EINVAL with the reason in err, naming the flag, its value and what it wants.
 */
int agent_limit_flag(struct agent_opts *o, const char *name, const char *val, char *err,
		     size_t errlen);

/*
 * Run until SIGINT (stop now) or until drained: SIGTERM, or a new skiffd that took the
 * listeners over, makes it stop accepting and exit once its open connections are closed or
 * drain_seconds have passed. Returns a process exit code.
 */
int agent_run(const struct agent_opts *o);

#endif
