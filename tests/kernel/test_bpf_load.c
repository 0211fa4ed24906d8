// SPDX-License-Identifier: Apache-2.0
/*
 * Every BPF object of the build, through the verifier of the running kernel: each program must
 * load, and what it cost is printed so growth is visible: its size (instructions in the ELF, and
 * xlated after verification) and the verifier's own statistics, read from its log at
 * BPF_LOG_STATS (instructions processed, states total and peak, stack depth, time).
 * Objects are found next to this binary: <build>/bpf/NAME.bpf.o. Nothing is pinned or attached.
 *
 * SKIFF_EXTRA_BPF=PATH[:PATH...] adds objects that must load too (test_extra_objects_load); a
 * refused program fails the run and its verifier log is printed. Without it, the run checks that
 * this very mechanism works: it runs itself on the deliberately broken object built from
 * tests/kernel/broken/ (built into <build>/tests/kernel/broken/) and expects a failure that shows the
 * verifier's message.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* BPF_LOG_STATS: the verifier writes its statistics (and any error) but no per-insn trace. */
#define VERIFIER_LOG_STATS 4
#define VERIFIER_LOG_SIZE  (1u << 20)

/* What the verifier's message about a refused program starts with, on the kernels we test. */
static const char *const verifier_refusals[] = {
    "infinite loop detected",
    "back-edge from insn",
    "BPF program is too large",
};

static char self_path[PATH_MAX];
static char bpf_dir[PATH_MAX];
static char broken_dir[PATH_MAX];

/* The last lines of the verifier's log for one program, parsed. */
struct verifier_stats {
	bool found;
	unsigned int processed, max_states_per_insn, total_states, peak_states;
	unsigned long long usec;
	char stack[32]; /* "64" or, with subprograms, "64+16+0" */
};

static void verifier_stats_parse(const char *log, struct verifier_stats *st)
{
	const char *p;

	memset(st, 0, sizeof(*st));
	snprintf(st->stack, sizeof(st->stack), "?");
	p = strstr(log, "verification time ");
	if (p)
		sscanf(p, "verification time %llu usec", &st->usec);
	p = strstr(log, "stack depth ");
	if (p)
		sscanf(p, "stack depth %31s", st->stack);
	p = strstr(log, "processed ");
	if (p && sscanf(p,
			"processed %u insns (limit %*u) max_states_per_insn %u total_states %u "
			"peak_states %u",
			&st->processed, &st->max_states_per_insn, &st->total_states,
			&st->peak_states) == 4)
		st->found = true;
}

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

/* The verifier's log of a refused program, as TAP comments: the reason is in its last lines. */
static void print_refusal(const char *obj, const struct bpf_program *prog, const char *log)
{
	const char *line = log, *nl;

	printf("# %s %s: the verifier refused it; its log:\n", obj, bpf_program__name(prog));
	while (*line) {
		nl = strchr(line, '\n');
		printf("#   | %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
		if (!nl)
			break;
		line = nl + 1;
	}
}

/*
 * One program's report line. Returns false when the verifier's statistics are missing or
 * disagree with the kernel's count of verified instructions.
 */
static bool report_program(const char *obj, const struct bpf_program *prog, const char *log)
{
	struct verifier_stats st;
	unsigned int v, x = xlated_insns(prog, &v);

	verifier_stats_parse(log, &st);
	printf("# %s %-16s %-20s %5zu insns in ELF, %5u xlated, %6u verified; verifier states "
	       "%5u total, %4u peak, %2u max/insn; stack %s B; %llu us\n",
	       obj, bpf_program__name(prog), bpf_program__section_name(prog),
	       bpf_program__insn_cnt(prog), x, v, st.total_states, st.peak_states,
	       st.max_states_per_insn, st.stack, st.usec);
	if (!st.found) {
		print_error("%s %s: no statistics in the verifier's log\n", obj,
			    bpf_program__name(prog));
		return false;
	}
	if (st.processed != v) {
		print_error("%s %s: the log says %u insns processed, the kernel %u verified\n", obj,
			    bpf_program__name(prog), st.processed, v);
		return false;
	}
	return x > 0;
}

/*
 * Load one object without pinning its maps anywhere, each program with its own verifier log at
 * BPF_LOG_STATS. Returns how many programs loaded and reported their statistics, or -1 if the
 * object was refused (the refused program's log is printed).
 */
static int load_object(const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	char *logs[64] = {0};
	int n = 0, i = 0, err;

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		print_error("%s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	bpf_object__for_each_map(map, obj)
	    bpf_map__set_pin_path(map, NULL); /* LIBBPF_PIN_BY_NAME would pin under /sys/fs/bpf */
	bpf_object__for_each_program(prog, obj)
	{
		if (i == 64 || !(logs[i] = calloc(1, VERIFIER_LOG_SIZE))) {
			n = -1;
			goto out;
		}
		bpf_program__set_log_buf(prog, logs[i], VERIFIER_LOG_SIZE);
		bpf_program__set_log_level(prog, VERIFIER_LOG_STATS);
		i++;
	}
	err = bpf_object__load(obj);
	i = 0;
	bpf_object__for_each_program(prog, obj)
	{
		const char *log = logs[i++];

		if (err) {
			/* libbpf stops at the refused program: loaded ones have an fd. */
			if (bpf_program__fd(prog) < 0 && log[0])
				print_refusal(name, prog, log);
			continue;
		}
		if (report_program(name, prog, log))
			n++;
	}
	if (err) {
		print_error("%s: the verifier refused it: %s\n", path, strerror(-err));
		n = -1;
	}
out:
	for (i = 0; i < 64; i++)
		free(logs[i]);
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

/* SKIFF_EXTRA_BPF: every listed object must load like the build's own. */
static void test_extra_objects_load(void **state)
{
	char *list = strdup(getenv("SKIFF_EXTRA_BPF")), *save = NULL, *path;
	int refused = 0;

	(void)state;
	assert_non_null(list);
	for (path = strtok_r(list, ":", &save); path; path = strtok_r(NULL, ":", &save)) {
		printf("# SKIFF_EXTRA_BPF: %s\n", path);
		if (load_object(path) <= 0)
			refused++;
	}
	free(list);
	assert_int_equal(refused, 0);
}

/* Runs this binary with SKIFF_EXTRA_BPF=extra; its output (stdout and stderr) goes to out. */
static int run_self_with_extra(const char *extra, char *out, size_t size)
{
	size_t len = 0;
	ssize_t r;
	int pipefd[2], status;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		setenv("SKIFF_EXTRA_BPF", extra, 1);
		setenv("CMOCKA_MESSAGE_OUTPUT", "TAP", 1);
		execl(self_path, self_path, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (len + 1 < size && (r = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += r;
	out[len] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/*
 * The check that a refused program fails the run visibly: this binary, run on the broken object
 * (an endless loop), must exit non-zero and print the verifier's reason. Its report is echoed
 * as TAP comments.
 */
static void test_broken_program_fails_visibly(void **state)
{
	static char out[1 << 20];
	char pattern[PATH_MAX + 16], *line, *save = NULL;
	bool refusal = false, others_passed;
	glob_t g;
	int status;

	(void)state;
	snprintf(pattern, sizeof(pattern), "%s/*.bpf.o", broken_dir);
	if (glob(pattern, 0, NULL, &g) != 0)
		fail_msg("no broken object in %s: build it with make (it is a prerequisite of "
			 "test_bpf_load)",
			 broken_dir);
	assert_int_equal(g.gl_pathc, 1);
	status = run_self_with_extra(g.gl_pathv[0], out, sizeof(out));
	globfree(&g);
	assert_true(status != -1);
	for (size_t i = 0; i < sizeof(verifier_refusals) / sizeof(verifier_refusals[0]); i++)
		refusal = refusal || strstr(out, verifier_refusals[i]);
	others_passed = strstr(out, "ok 1 - test_every_object_loads") != NULL;
	/* Its report, less the per-program lines that the cases above printed already. */
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strstr(line, " insns in ELF, "))
			printf("#   broken> %s\n", line);
	printf("# the broken object: exit %d, verifier's refusal %s\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	       refusal ? "shown" : "MISSING");
	assert_true(WIFEXITED(status));
	assert_int_not_equal(WEXITSTATUS(status), 0);
	assert_true(refusal);
	assert_true(others_passed); /* it failed for the broken object, not for anything else */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_object_loads),
	    cmocka_unit_test(test_sock_lb_programs),
	    cmocka_unit_test(test_sock_accel_programs),
	    cmocka_unit_test(test_broken_program_fails_visibly),
	};
	const struct CMUnitTest extra_tests[] = {
	    cmocka_unit_test(test_every_object_loads),
	    cmocka_unit_test(test_sock_lb_programs),
	    cmocka_unit_test(test_sock_accel_programs),
	    cmocka_unit_test(test_extra_objects_load),
	};
	const char *extra = getenv("SKIFF_EXTRA_BPF");
	char buf[PATH_MAX], *dir;

	(void)argc;
	if (!realpath("/proc/self/exe", self_path))
		snprintf(self_path, sizeof(self_path), "%s", argv[0]);
	snprintf(buf, sizeof(buf), "%s", self_path);
	dir = dirname(buf);
	snprintf(bpf_dir, sizeof(bpf_dir), "%s/../../bpf", dir);
	snprintf(broken_dir, sizeof(broken_dir), "%s/broken", dir);
	if (geteuid() != 0)
		fprintf(stderr, "test_bpf_load: loading BPF programs needs root\n");
	if (extra && *extra)
		return cmocka_run_group_tests(extra_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
