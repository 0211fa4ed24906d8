// SPDX-License-Identifier: Apache-2.0
/*
 * Every BPF object of the build, through the verifier of the running kernel: each program must
 * load, and its size after verification (xlated instructions) is printed so growth is visible.
 * Objects are found next to this binary: <build>/bpf/NAME.bpf.o. Nothing is
 * pinned or attached.
 */
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static char bpf_dir[PATH_MAX];

/* Instructions after verification, and how many the verifier walked (its cost). */
static unsigned int xlated_insns(const struct bpf_program *prog, unsigned int *verified)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	*verified = 0;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	*verified = info.verified_insns;
	return info.xlated_prog_len / 8;
}

/* Load one object without pinning its maps anywhere; returns how many programs loaded. */
static int load_object(const char *path)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	int n = 0, err;

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		print_error("%s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(map, obj)
	    bpf_map__set_pin_path(map, NULL); /* LIBBPF_PIN_BY_NAME would pin under /sys/fs/bpf */
	err = bpf_object__load(obj);
	if (err) {
		print_error("%s: the verifier refused it: %s (run with LIBBPF_LOG_LEVEL=debug "
			    "for the log)\n",
			    path, strerror(-err));
		bpf_object__close(obj);
		return -1;
	}
	bpf_object__for_each_program(prog, obj)
	{
		unsigned int v, x = xlated_insns(prog, &v);

		printf("# %s %-16s %-20s %5zu insns in ELF, %5u xlated, %6u verified\n",
		       basename((char *)path), bpf_program__name(prog),
		       bpf_program__section_name(prog), bpf_program__insn_cnt(prog), x, v);
		if (x > 0)
			n++;
	}
	bpf_object__close(obj);
	return n;
}

static void test_every_object_loads(void **state)
{
	char pattern[PATH_MAX + 16];
	glob_t g;
	int total = 0;

	(void)state;
	snprintf(pattern, sizeof(pattern), "%s/*.bpf.o", bpf_dir);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		int n = load_object(g.gl_pathv[i]);

		assert_true(n > 0);
		total += n;
	}
	globfree(&g);
	assert_true(total > 0);
}

/* The socket load balancer has its eight hooks. */
static void test_sock_lb_programs(void **state)
{
	char path[PATH_MAX + 16];

	(void)state;
	snprintf(path, sizeof(path), "%s/sock_lb.bpf.o", bpf_dir);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(load_object(path), 8);
}

/* The same-node accelerator: sockops (established, close) and sk_msg (redirect). */
static void test_sock_accel_programs(void **state)
{
	char path[PATH_MAX + 32];

	(void)state;
	snprintf(path, sizeof(path), "%s/sock_accel.bpf.o", bpf_dir);
	assert_int_equal(access(path, R_OK), 0);
	assert_int_equal(load_object(path), 2);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_object_loads),
	    cmocka_unit_test(test_sock_lb_programs),
	    cmocka_unit_test(test_sock_accel_programs),
	};
	char self[PATH_MAX];

	(void)argc;
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(bpf_dir, sizeof(bpf_dir), "%s/../../bpf", dirname(self));
	if (geteuid() != 0)
		fprintf(stderr, "test_bpf_load: loading BPF programs needs root\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
