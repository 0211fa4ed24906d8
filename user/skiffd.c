// SPDX-License-Identifier: Apache-2.0
/* skiffd: the per-node agent. Parses flags and runs the agent loop (user/agent). */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "agent/agent.h"
#include "dataplane/dataplane.h"
#include "handoff/handoff.h"

#define OPT_LIMIT 1000 /* the relay limits: agent_limit_flag tells them apart by name */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: skiffd [options]\n"
	    "  --node NAME          this node's name (default: $NODE_NAME, else the hostname)\n"
	    "  --config-dir DIR     directory of Kubernetes/Istio YAML (default "
	    "/etc/skiff/config;\n"
	    "                       in a pod, without this flag, the Kubernetes API is read)\n"
	    "  --kube               read the config from the Kubernetes API: in-cluster (service\n"
	    "                       account token and CA), or with --kubeconfig\n"
	    "  --kubeconfig FILE    the API server and credentials from a kubeconfig (implies "
	    "--kube)\n"
	    "  --bpffs DIR          where maps and links are pinned (default /sys/fs/bpf/skiff)\n"
	    "  --cgroup-root DIR    the node's pod cgroup root (default: kubelet's, under the\n"
	    "                       cgroup v2 hierarchy: .../kubepods.slice or .../kubepods)\n"
	    "  --admin-addr ADDR    address of the admin ports (default 127.0.0.1)\n"
	    "  --admin-port N       config dump port (default 15000, 0 = off)\n"
	    "  --ready-port N       readiness port (default 15021, 0 = off)\n"
	    "  --metrics-addr ADDR  address of the Prometheus endpoint (default: --admin-addr;\n"
	    "                       0.0.0.0 or the node's address lets Prometheus scrape it)\n"
	    "  --metrics-port N     :N/metrics, Istio's metrics and skiffd's (default 15020, 0 = "
	    "off)\n"
	    "  --rescan-ms N        pod cgroup rescan period (default 200)\n"
	    "  --accel              the default: same-node pod-to-pod TCP goes socket to socket\n"
	    "                       (sockmap, sk_msg redirect) instead of through the TCP/IP "
	    "stack\n"
	    "  --no-accel           keep same-node TCP on the stack; the L4 counters still count\n"
	    "  --accel-join WHICH   learn (default): a same-node connection takes the fast path\n"
	    "                       unless its server's recent connections carried fewer than 4\n"
	    "                       messages each (one request and its answer: the fast path's\n"
	    "                       fixed cost per connection outweighs what it saves); always:\n"
	    "                       every same-node connection takes it\n"
	    "  --outbound-addr A[,A6]  this node's IPv4 and/or IPv6 address: skiffd listens there\n"
	    "                       on 15001 and the kernel punts TCP from mesh pods to mesh pods\n"
	    "                       on other nodes to it (in Kubernetes: status.hostIPs)\n"
	    "  --no-punt            the default: no outbound listener, cross-node TCP goes direct\n"
	    "  --uplink IFACE       the node's uplink: an XDP program drops plaintext SYNs from "
	    "off\n"
	    "                       the node to pods whose PeerAuthentication is STRICT\n"
	    "  --kubelet-cgroup DIR kubelet's cgroup v2 directory: its health probes reach STRICT\n"
	    "                       pods (e.g. /sys/fs/cgroup/system.slice/kubelet.service)\n"
	    "  --agent-cgroup DIR   skiffd's own cgroup v2 directory (default: from\n"
	    "                       /proc/self/cgroup; give it where skiffd runs in a private "
	    "cgroup\n"
	    "                       namespace): sockops there lets the hops between pods and "
	    "skiffd\n"
	    "                       skip TCP/IP like same-node pod traffic\n"
	    "  --ca-dir DIR         the mesh root (ca.crt, ca.key from `skiffctl ca init`): "
	    "skiffd\n"
	    "                       mints workload certificates and carries punted cross-node\n"
	    "                       traffic over HBONE (mTLS 1.3) to the other node's skiffd\n"
	    "  --trust-domain TD    SPIFFE trust domain (default cluster.local)\n"
	    "  --cert-ttl SECONDS   workload certificate lifetime (default 86400); rotated at "
	    "half\n"
	    "  --flow-events on|off on (default): the kernel reports connections opened, closed,\n"
	    "                       denied, dropped and punted; skiffctl observe shows them\n"
	    "  --same-node-mtls     carry traffic between mesh pods of this node over HBONE (TLS)\n"
	    "                       too, instead of the kernel fast path (needs --ca-dir)\n"
	    "  --hbone-ktls MODE    auto (default): the kernel encrypts what HBONE sends where it\n"
	    "                       has kTLS (the tls module), userspace elsewhere; off: always\n"
	    "                       userspace (see --hbone-records)\n"
	    "  --hbone-records WHO  skiffd (default): where kTLS does not, skiffd's own TLS 1.3\n"
	    "                       record layer seals and opens HBONE's records after OpenSSL's\n"
	    "                       handshake; openssl: libssl does (slower per record)\n"
	    "  --run-dir DIR        where skiffd serves the listener hand-off (DIR/handoff.sock)\n"
	    "                       and writes its pid (DIR/skiffd.pid); default /run/skiff, or\n"
	    "                       with another --bpffs /run/skiff/bpffs-<its path, / as ->. A\n"
	    "                       skiffd started while another serves DIR takes its listeners\n"
	    "                       over: no SYN is refused, and the other drains\n"
	    "  --takeover           require that hand-off: fail when no skiffd serves DIR\n"
	    "  --drain-seconds N    a skiffd replaced, or sent SIGTERM, stops accepting and exits\n"
	    "                       once its connections close or N seconds pass (default 600);\n"
	    "                       SIGINT stops at once\n"
	    "  --hold-after-drain   replaced and drained, wait for SIGTERM before exiting: in a\n"
	    "                       DaemonSet, kubelet would restart an old skiffd that exits\n"
	    "                       before its pod is deleted, and it would take over again\n"
	    "  --idle-timeout D     a relay or HBONE stream with no byte either way for D is\n"
	    "                       closed (default 1h, as Istio's idleTimeout)\n"
	    "  --connect-timeout D  a dial to a pod or a node, with its TLS handshake, fails\n"
	    "                       after D (default 10s, as Istio's connectTimeout)\n"
	    "  --sniff-timeout D    a client that has not shown HTTP or not-HTTP within D is\n"
	    "                       relayed as TCP (default 15s)\n"
	    "  --head-timeout D     an HTTP request head not complete within D closes the\n"
	    "                       connection (default 10s)\n"
	    "  --stream-idle-timeout D  a request in skiffd's HTTP router with no byte either\n"
	    "                       way for D ends with 504 (default 5m, as Envoy's\n"
	    "                       stream_idle_timeout)\n"
	    "  --max-conns-per-source N  connections open from one address on 15001 or 15008\n"
	    "                       (default 1024); more are closed at once\n"
	    "                       (D: 1s, 500ms, 90s, 1h; a DestinationRule's connectionPool\n"
	    "                       still sets connect and idle per destination)\n"
	    "  --uninstall          with no skiffd running: remove every program, map and pin\n"
	    "                       skiff put on this node (--bpffs, --uplink, --run-dir) and "
	    "exit\n"
	    "  --version            print skiffd's version and exit\n"
	    "An empty value (--uplink=) leaves a flag's feature off, as if not given: a\n"
	    "DaemonSet can pass each flag from a ConfigMap key that may be empty.\n");
}

/* kubelet's pod cgroup root on the cgroup v2 hierarchy (hybrid hosts mount it at .../unified). */
static const char *default_cgroup_root(void)
{
	static char path[256];
	const char *base = "/sys/fs/cgroup";
	struct statfs sfs;
	struct stat st;

	if (statfs("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
		base = "/sys/fs/cgroup/unified";
	snprintf(path, sizeof(path), "%s/kubepods.slice", base);
	if (stat(path, &st) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/kubepods", base);
	return path;
}

/* --uninstall: refused while a skiffd serves the node (its links would keep the programs). */
static int skiffd_uninstall(const struct agent_opts *o)
{
	int pid = handoff_running_pid(o->run_dir);
	char path[300];

	if (pid) {
		fprintf(stderr,
			"skiffd: --uninstall: skiffd %d still runs (%s/%s): stop it first "
			"(SIGINT, or delete the DaemonSet)\n",
			pid, o->run_dir, HANDOFF_PIDFILE);
		return 1;
	}
	if (dp_uninstall(o->bpffs, o->uplink))
		return 1;
	snprintf(path, sizeof(path), "%s/%s", o->run_dir, HANDOFF_SOCK);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", o->run_dir, HANDOFF_PIDFILE);
	unlink(path);
	rmdir(o->run_dir); /* when empty */
	return 0;
}

/*
 * The run dir when --run-dir is not given: /run/skiff for the default --bpffs, else one of its
 * own per pin directory, so that two skiffd on one host with their own pins (tests, a second
 * instance) never take each other's listeners.
 */
static const char *default_run_dir(const char *bpffs)
{
	static char dir[200];
	size_t n;

	if (!strcmp(bpffs, "/sys/fs/bpf/skiff"))
		return HANDOFF_DEFAULT_RUN_DIR;
	n = (size_t)snprintf(dir, sizeof(dir), HANDOFF_DEFAULT_RUN_DIR "/bpffs");
	for (const char *p = bpffs; *p && n + 1 < sizeof(dir); p++)
		dir[n++] = *p == '/' ? '-' : *p;
	dir[n] = '\0';
	return dir;
}

/* A flag given an empty value ("--uplink=") is as if it were not given. */
static const char *opt_value(const char *v)
{
	return *v ? v : NULL;
}

/*
 * Two malloc arenas, not glibc's eight per core: the API watchers' threads parse pages and
 * events in theirs, and freed pages spread over many arenas stayed resident (with 10,000
 * Services: 189 MB resident with the default arenas, 145 MB with one). The store's records are
 * not in any arena (kube_slab.c). One arena measured 3 MB less once loaded and the same after
 * whole reloads, with more CPU in one run: two it is. MALLOC_ARENA_MAX or GLIBC_TUNABLES set by
 * the operator win.
 */
static void malloc_arenas(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	if (!getenv("MALLOC_ARENA_MAX") && !(t && strstr(t, "arena_max")))
		mallopt(M_ARENA_MAX, 2);
	/*
	 * Blocks of 256 KB and more always from mmap(): the model's, the node view's and the live
	 * tables' arrays, and the store's tables, which grow by doubling. glibc's default moves
	 * its threshold up to the size of the largest block freed (up to 32 MB), so after the first
	 * whole reload those arrays came from the heap: each one freed or outgrown left a hole that
	 * small blocks filled and then kept resident. From mmap(), a freed array's pages go back
	 * at once and growing one is an mremap(). Fixing the threshold also fixes glibc's trim
	 * threshold (the free top of the heap it returns), here at 1 MB.
	 */
	if (!getenv("MALLOC_MMAP_THRESHOLD_") && !(t && strstr(t, "mmap_threshold")))
		mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	if (!getenv("MALLOC_TRIM_THRESHOLD_") && !(t && strstr(t, "trim_threshold")))
		mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

int main(int argc, char **argv)
{
	static char host[256];
	static const struct option opts[] = {
	    {"node", required_argument, 0, 'n'},
	    {"config-dir", required_argument, 0, 'c'},
	    {"bpffs", required_argument, 0, 'b'},
	    {"cgroup-root", required_argument, 0, 'g'},
	    {"admin-addr", required_argument, 0, 'a'},
	    {"admin-port", required_argument, 0, 'p'},
	    {"ready-port", required_argument, 0, 'r'},
	    {"rescan-ms", required_argument, 0, 's'},
	    {"no-accel", no_argument, 0, 'A'},
	    {"accel", no_argument, 0, 'C'},
	    {"accel-join", required_argument, 0, 'J'},
	    {"outbound-addr", required_argument, 0, 'o'},
	    {"no-punt", no_argument, 0, 'P'},
	    {"uplink", required_argument, 0, 'u'},
	    {"kubelet-cgroup", required_argument, 0, 'k'},
	    {"agent-cgroup", required_argument, 0, 'G'},
	    {"ca-dir", required_argument, 0, 'x'},
	    {"trust-domain", required_argument, 0, 't'},
	    {"cert-ttl", required_argument, 0, 'T'},
	    {"same-node-mtls", no_argument, 0, 'S'},
	    {"hbone-ktls", required_argument, 0, 'K'},
	    {"hbone-records", required_argument, 0, 'R'},
	    {"help", no_argument, 0, 'h'},
	    {"metrics-addr", required_argument, 0, 'm'},
	    {"metrics-port", required_argument, 0, 'M'},
	    {"kube", no_argument, 0, 'U'},
	    {"kubeconfig", required_argument, 0, 'F'},
	    {"version", no_argument, 0, 'V'},
	    {"flow-events", required_argument, 0, 'E'},
	    {"run-dir", required_argument, 0, 'D'},
	    {"takeover", no_argument, 0, 'O'},
	    {"drain-seconds", required_argument, 0, 'W'},
	    {"uninstall", no_argument, 0, 'X'},
	    {"hold-after-drain", no_argument, 0, 'H'},
	    {"idle-timeout", required_argument, 0, OPT_LIMIT},
	    {"connect-timeout", required_argument, 0, OPT_LIMIT},
	    {"sniff-timeout", required_argument, 0, OPT_LIMIT},
	    {"head-timeout", required_argument, 0, OPT_LIMIT},
	    {"stream-idle-timeout", required_argument, 0, OPT_LIMIT},
	    {"max-conns-per-source", required_argument, 0, OPT_LIMIT},
	    {0}};
	struct agent_opts o = {
	    .node = getenv("NODE_NAME"),
	    .config_dir = "/etc/skiff/config",
	    .bpffs = "/sys/fs/bpf/skiff",
	    .admin_addr = "127.0.0.1",
	    .admin_port = 15000,
	    .ready_port = 15021,
	    .metrics_port = 15020,
	    .rescan_ms = 200,
	    /* On: sk_msg falls back to TCP when a reader stops reading (bpf/lib/accel_msg.h),
		 * so the fast path has TCP's back-pressure. */
	    .no_accel = false,
	    .run_dir = NULL, /* from --bpffs: default_run_dir */
	    .drain_seconds = 600,
	};
	bool uninstall = false;
	const char *in_cluster = getenv("KUBERNETES_SERVICE_HOST");
	bool config_dir_given = false;
	int c, li = 0;

	malloc_arenas(); /* before any thread starts */
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'n':
			o.node = optarg;
			break;
		case 'c':
			o.config_dir = optarg;
			config_dir_given = true;
			break;
		case 'U':
			o.kube = true;
			break;
		case 'F':
			o.kube = true;
			o.kubeconfig = optarg;
			break;
		case 'b':
			o.bpffs = optarg;
			break;
		case 'g':
			o.cgroup_root = optarg;
			break;
		case 'a':
			o.admin_addr = optarg;
			break;
		case 'p':
			o.admin_port = atoi(optarg);
			break;
		case 'r':
			o.ready_port = atoi(optarg);
			break;
		case 'm':
			o.metrics_addr = optarg;
			break;
		case 'M':
			o.metrics_port = atoi(optarg);
			break;
		case 's':
			o.rescan_ms = atoi(optarg);
			break;
		case 'A':
			o.no_accel = true;
			break;
		case OPT_LIMIT: {
			char err[160];

			/* empty: the default, as for every flag a ConfigMap key may leave empty */
			if (*optarg &&
			    agent_limit_flag(&o, opts[li].name, optarg, err, sizeof(err))) {
				fprintf(stderr, "skiffd: %s\n", err);
				return 2;
			}
			break;
		}
		case 'C':
			o.no_accel = false;
			break;
		case 'J':
			if (strcmp(optarg, "learn") && strcmp(optarg, "always")) {
				fprintf(stderr, "skiffd: --accel-join=%s: want learn or always\n",
					optarg);
				return 2;
			}
			o.accel_join_all = !strcmp(optarg, "always");
			break;
		case 'o':
			o.outbound_addrs = opt_value(optarg);
			break;
		case 'P':
			o.outbound_addrs = NULL;
			break;
		case 'u':
			o.uplink = opt_value(optarg);
			break;
		case 'k':
			o.kubelet_cgroup = opt_value(optarg);
			break;
		case 'G':
			o.agent_cgroup = opt_value(optarg);
			break;
		case 'x':
			o.ca_dir = opt_value(optarg);
			break;
		case 't':
			o.trust_domain = opt_value(optarg);
			break;
		case 'T':
			o.cert_ttl = atol(optarg);
			break;
		case 'S':
			o.same_node_mtls = true;
			break;
		case 'E':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "skiffd: --flow-events=%s: want on or off\n",
					optarg);
				return 2;
			}
			o.flow_events_off = !strcmp(optarg, "off");
			break;
		case 'K':
			if (strcmp(optarg, "auto") && strcmp(optarg, "off")) {
				fprintf(stderr, "skiffd: --hbone-ktls=%s: want auto or off\n",
					optarg);
				return 2;
			}
			o.hbone_ktls_off = !strcmp(optarg, "off");
			break;
		case 'R':
			if (strcmp(optarg, "skiffd") && strcmp(optarg, "openssl")) {
				fprintf(stderr,
					"skiffd: --hbone-records=%s: want skiffd or openssl\n",
					optarg);
				return 2;
			}
			o.hbone_openssl_records = !strcmp(optarg, "openssl");
			break;
		case 'D':
			o.run_dir = optarg;
			break;
		case 'O':
			o.takeover = true;
			break;
		case 'W':
			o.drain_seconds = atoi(optarg);
			if (o.drain_seconds < 0 || !*optarg) {
				fprintf(stderr,
					"skiffd: --drain-seconds=%s: want a number of seconds "
					"(0: exit at once)\n",
					optarg);
				return 2;
			}
			break;
		case 'X':
			uninstall = true;
			break;
		case 'H':
			o.hold_after_drain = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("skiffd %s\n", SKIFF_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "skiffd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!o.run_dir || !*o.run_dir)
		o.run_dir = default_run_dir(o.bpffs);
	if (uninstall)
		return skiffd_uninstall(&o);
	if (o.kube && config_dir_given) {
		fprintf(stderr, "skiffd: --config-dir and --kube/--kubeconfig: pick one source\n");
		return 2;
	}
	/* in a pod (the DaemonSet) the API is the config unless a directory is asked for */
	if (!config_dir_given && in_cluster && *in_cluster)
		o.kube = true;
	if (!o.node || !*o.node) {
		gethostname(host, sizeof(host) - 1);
		o.node = host;
	}
	if (!o.cgroup_root)
		o.cgroup_root = default_cgroup_root();
	if (o.rescan_ms < 10)
		o.rescan_ms = 10;
	setvbuf(stderr, NULL, _IOLBF, 0);
	return agent_run(&o);
}
