// SPDX-License-Identifier: Apache-2.0
/*
 * Pod cgroups found by kubelet's naming, in a temporary directory tree laid out like the
 * cgroupfs and systemd drivers lay out /sys/fs/cgroup.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/pod_cgroup.h"

#define UID_A "1f0c2a8e-7b3d-4c55-9e21-0a1b2c3d4e5f"
#define UID_B "b0b0b0b0-1111-4222-8333-444455556666"
#define UID_C "c0ffee00-aaaa-4bbb-8ccc-dddddddddddd"
#define UID_D "d0d0d0d0-0000-4000-8000-000000000000"

static char root[PATH_MAX];

static uint64_t mkdir_at(const char *rel)
{
	char path[2 * PATH_MAX], *p;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	assert_int_equal(mkdir(path, 0755) == 0 || errno == EEXIST, 1);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/skiff-podcg-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_uid_from_name(void **state)
{
	char uid[64];

	(void)state;
	assert_int_equal(pod_cgroup_uid_from_name("pod" UID_A, uid, sizeof(uid)), 0);
	assert_string_equal(uid, UID_A);
	assert_int_equal(pod_cgroup_uid_from_name(
			     "kubepods-burstable-podb0b0b0b0_1111_4222_8333_444455556666.slice",
			     uid, sizeof(uid)),
			 0);
	assert_string_equal(uid, UID_B);
	assert_int_equal(pod_cgroup_uid_from_name("kubepods-pod"
						  "c0ffee00_aaaa_4bbb_8ccc_"
						  "dddddddddddd.slice",
						  uid, sizeof(uid)),
			 0);
	assert_string_equal(uid, UID_C);
	/* the parents and the containers are no pods */
	assert_int_equal(pod_cgroup_uid_from_name("kubepods", uid, sizeof(uid)), -EINVAL);
	assert_int_equal(pod_cgroup_uid_from_name("kubepods.slice", uid, sizeof(uid)), -EINVAL);
	assert_int_equal(pod_cgroup_uid_from_name("kubepods-burstable.slice", uid, sizeof(uid)),
			 -EINVAL);
	assert_int_equal(pod_cgroup_uid_from_name("burstable", uid, sizeof(uid)), -EINVAL);
	assert_int_equal(pod_cgroup_uid_from_name("pod", uid, sizeof(uid)), -EINVAL);
	assert_int_equal(
	    pod_cgroup_uid_from_name("cri-containerd-0123abcd.scope", uid, sizeof(uid)), -EINVAL);
	assert_int_equal(pod_cgroup_uid_from_name("pod" UID_A ".scope", uid, sizeof(uid)), -EINVAL);
	/* a uid longer than the buffer is refused, not cut */
	assert_int_equal(pod_cgroup_uid_from_name("pod" UID_A, uid, 8), -EINVAL);
}

static void test_scan_cgroupfs_and_systemd(void **state)
{
	struct pod_cgroup_table t = {0};
	uint64_t a, b, c, id = 0;

	(void)state;
	a = mkdir_at("kubepods/pod" UID_A);
	mkdir_at("kubepods/pod" UID_A "/0123456789abcdef"); /* a container, not a pod */
	b = mkdir_at("kubepods/burstable/pod" UID_B);
	c = mkdir_at("kubepods.slice/kubepods-besteffort.slice/"
		     "kubepods-besteffort-podc0ffee00_aaaa_4bbb_8ccc_dddddddddddd.slice");
	/* 5 levels down: beyond the search depth */
	mkdir_at("x/y/z/w/pod" UID_D);

	assert_int_equal(pod_cgroup_scan(root, &t), 0);
	assert_int_equal(t.n, 3);
	assert_int_equal(pod_cgroup_find(&t, UID_A, &id), 0);
	assert_int_equal(id, a);
	assert_int_equal(pod_cgroup_find(&t, UID_B, &id), 0);
	assert_int_equal(id, b);
	assert_int_equal(pod_cgroup_find(&t, UID_C, &id), 0);
	assert_int_equal(id, c);
	assert_int_equal(pod_cgroup_find(&t, UID_D, &id), -ENOENT);
	assert_int_equal(pod_cgroup_find(&t, "0123456789abcdef", &id), -ENOENT);
	pod_cgroup_table_free(&t);
	assert_null(t.v);
	assert_int_equal(t.n, 0);
}

static void test_scan_missing_root(void **state)
{
	struct pod_cgroup_table t = {0};
	uint64_t id;
	char path[PATH_MAX + 16];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent", root);
	assert_int_equal(pod_cgroup_scan(path, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(pod_cgroup_find(&t, UID_A, &id), -ENOENT);
	pod_cgroup_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uid_from_name),
	    cmocka_unit_test_setup_teardown(test_scan_cgroupfs_and_systemd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_missing_root, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
