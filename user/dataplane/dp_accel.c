// SPDX-License-Identifier: Apache-2.0
/*
 * The same-node accelerator (bpf/sock_accel.bpf.c): load it with its maps pinned next to
 * sock_lb's, and attach its sk_msg program to the pinned sockhash. Its sockops program is
 * attached at the pod cgroup root by dp_attach.c, through a pinned link like every cgroup hook.
 *
 * An sk_msg attachment belongs to the map, not to a link or a process: it lives as long as the
 * pinned sockhash. Attaching replaces whatever program an earlier agent attached, so a restart is
 * idempotent. Sockets already in the sockhash keep the program they were inserted under until
 * they close, so a restart or --no-accel never breaks a connection on the fast path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_accel.skel.h"

unsigned long long dp_accel_queue_cap(void)
{
	unsigned long long min, def, max = 0;
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_rmem", "r");

	if (f) {
		if (fscanf(f, "%llu %llu %llu", &min, &def, &max) != 3)
			max = 0;
		fclose(f);
	}
	return max >= 65536 ? max : 6 << 20;
}

int dp_accel_load(struct dataplane *dp)
{
	int err;

	dp->accel = sock_accel__open();
	if (!dp->accel) {
		err = -errno;
		fprintf(stderr, "dataplane: cannot open the sock_accel BPF object: %s\n",
			strerror(-err));
		return err;
	}
	dp->accel->rodata->accel_redirect_on = dp->accel_on;
	dp->accel->rodata->accel_join_learn = !dp->accel_join_all;
	dp->accel->rodata->accel_queue_cap = dp_accel_queue_cap();
	err = dp_pin_paths(dp, dp->accel->obj);
	if (err)
		return err;
	err = sock_accel__load(dp->accel);
	if (err) {
		fprintf(stderr,
			"dataplane: cannot load sock_accel: %s (if pinned maps under %s come "
			"from an incompatible skiff version, remove them and restart)\n",
			strerror(-err), dp->dir);
		return err;
	}
	return 0;
}

/* --no-accel: take the sk_msg program off the sockhash. Detaching needs the attached program
 * itself, which an earlier agent loaded; attaching ours first replaces it, then ours goes. */
static int msg_detach(int prog_fd, int map_fd)
{
	if (bpf_prog_attach(prog_fd, map_fd, BPF_SK_MSG_VERDICT, 0))
		return -errno;
	if (bpf_prog_detach2(prog_fd, map_fd, BPF_SK_MSG_VERDICT))
		return -errno;
	return 0;
}

int dp_accel_attach_msg(struct dataplane *dp)
{
	int prog_fd = bpf_program__fd(dp->accel->progs.accel_sk_msg);
	int map_fd = bpf_map__fd(dp->accel->maps.skiff_sockhash);
	int err;

	if (!dp->accel_on) {
		err = msg_detach(prog_fd, map_fd);
		if (err)
			fprintf(stderr,
				"dataplane: cannot detach %s from %s/%s: %s (connections "
				"inserted earlier keep their fast path until they close)\n",
				SKIFF_PROG_SK_MSG, dp->dir, SKIFF_MAP_SOCKHASH, strerror(-err));
		return 0; /* nothing new enters the sockhash with redirect off */
	}
	if (bpf_prog_attach(prog_fd, map_fd, BPF_SK_MSG_VERDICT, 0)) {
		err = -errno;
		fprintf(stderr,
			"dataplane: cannot attach %s to %s/%s: %s (run skiffd with --no-accel "
			"to keep same-node traffic on TCP)\n",
			SKIFF_PROG_SK_MSG, dp->dir, SKIFF_MAP_SOCKHASH, strerror(-err));
		return err;
	}
	return 0;
}

void dp_accel_close(struct dataplane *dp, bool unpin)
{
	if (!dp->accel)
		return;
	/* unpinning drops the last reference to the sockhash: the kernel detaches sk_msg */
	if (unpin)
		dp_unpin_maps(dp, dp->accel->obj);
	sock_accel__destroy(dp->accel);
	dp->accel = NULL;
}
