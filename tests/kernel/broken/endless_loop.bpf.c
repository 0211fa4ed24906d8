// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Deliberately broken, for the check that a program the verifier refuses fails the tests with
 * the verifier's message in sight (test_bpf_load with SKIFF_EXTRA_BPF, and `vmtests/run.sh
 * BUILD --broken`). It compiles cleanly; the verifier must refuse it: the loop waits for a
 * value that nothing changes, so it never ends ("infinite loop detected").
 * Built into BUILD/tests/kernel/broken/, never into BUILD/bpf/ (whose objects must all load).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int endless_loop(struct bpf_sock_addr *ctx)
{
	volatile int ready = 0;

	(void)ctx;
	while (!ready)
		;
	return 1;
}
