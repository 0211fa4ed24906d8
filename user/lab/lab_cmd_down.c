// SPDX-License-Identifier: Apache-2.0
/*
 * down: remove everything the lab made, from the state file and from what is left on the machine
 * under the lab's names (skl-* netns, the skiff-lab cgroup tree and bpffs directory), so that it
 * also works after a crash. On a clean machine it does nothing and succeeds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab_proc.h"

/* How long each skiffd gets to stop on SIGINT before SIGKILL. Under AddressSanitizer the leak
 * check at exit runs then and needs a few seconds; a plain skiffd stops in milliseconds. */
#define AGENT_STOP_MS 15000

/* Any recorded skiffd still running. */
static bool agents_alive(const struct lab *lab)
{
	for (size_t i = 0; i < lab->nagent; i++)
		if (lab_pid_matches(lab->agent[i].pid, "skiffd"))
			return true;
	return false;
}

/* SIGINT first (skiffd stops at once, leaving its pins), so that it exits through its own
 * cleanup: a sanitizer build reports leaks and errors only at a normal exit. */
static void stop_agents(const struct lab *lab)
{
	struct timespec tick = {.tv_nsec = 20 * 1000 * 1000};

	for (size_t i = 0; i < lab->nagent; i++)
		if (lab_pid_matches(lab->agent[i].pid, "skiffd"))
			kill(lab->agent[i].pid, SIGINT);
	for (int ms = 0; ms < AGENT_STOP_MS && agents_alive(lab); ms += 20)
		nanosleep(&tick, NULL);
	for (size_t i = 0; i < lab->nagent; i++)
		if (lab_pid_matches(lab->agent[i].pid, "skiffd")) {
			fprintf(stderr,
				"skiff-lab: skiffd %d did not stop on SIGINT in %d s; killed\n",
				lab->agent[i].pid, AGENT_STOP_MS / 1000);
			kill(lab->agent[i].pid, SIGKILL);
		}
}

static void kill_recorded(const struct lab *lab)
{
	stop_agents(lab);
	for (size_t i = 0; i < lab->npod; i++)
		if (lab_pid_matches(lab->pod[i].pid, lab->pod[i].cmd))
			kill(lab->pod[i].pid, SIGKILL);
}

static void del_netns(const char *name)
{
	if (lab_netns_exists(name))
		lab_run("ip netns del %s", name);
}

static void del_all_netns(const struct lab *lab)
{
	char name[32];
	struct dirent *e;
	DIR *d;

	for (size_t i = 0; i < lab->npod; i++)
		del_netns(lab->pod[i].netns);
	for (int k = 1; k <= lab->nodes; k++) {
		lab_node_netns(name, sizeof(name), k);
		del_netns(name);
	}
	del_netns("skl-fabric");
	d = opendir("/run/netns");
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "skl-", 4))
			lab_run("ip netns del %s", e->d_name);
	closedir(d);
}

/* Copy the regular file `from` to `to`; 0 or -errno. */
static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out, err = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		err = -errno;
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
	if (n < 0)
		err = -errno;
	close(in);
	close(out);
	return err;
}

/* $SKIFF_LAB_KEEP_LOGS=DIR: a copy of the logs (skiffd's, the pods') in a new DIR/lab.XXXXXX
 * before they go, for whoever inspects them after the test: tests/run.sh looks there for
 * sanitizer reports, which skiffd writes to its log as it stops. */
static void keep_logs(const struct lab *lab)
{
	const char *keep = getenv("SKIFF_LAB_KEEP_LOGS");
	char logs[PATH_MAX], dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int err = 0;

	lab_path(logs, lab, "logs");
	if (!keep || !*keep || !(d = opendir(logs)))
		return;
	lab_fmt(dir, sizeof(dir), "%s/lab.XXXXXX", keep);
	err = lab_mkdir_p(keep);
	if (!err && !mkdtemp(dir))
		err = -errno;
	while (!err && (e = readdir(d)))
		if (e->d_type == DT_REG) {
			lab_fmt(from, sizeof(from), "%s/%s", logs, e->d_name);
			lab_fmt(to, sizeof(to), "%s/%s", dir, e->d_name);
			err = copy_file(from, to);
		}
	closedir(d);
	if (err)
		fprintf(stderr, "skiff-lab: warning: logs not kept in %s: %s\n", keep,
			strerror(-err));
}

/* Only what the lab put in the state dir: the dir may be one the user also uses. */
static int remove_state_dir(const struct lab *lab)
{
	static const char *const sub[] = {"config",	"logs",	 "hosts", "api",
					  "kubeconfig", "state", "run"};
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		lab_path(path, lab, sub[i]);
		if (lab_rm_rf(path) < 0) {
			fprintf(stderr, "skiff-lab: cannot remove %s\n", path);
			err = -EIO;
		}
	}
	if (rmdir(lab->state_dir) < 0 && errno != ENOENT)
		fprintf(stderr, "skiff-lab: warning: %s not removed: %s\n", lab->state_dir,
			strerror(errno));
	return err;
}

int lab_cmd_down(struct lab *lab)
{
	int err = lab_state_load(lab);

	if (err && err != -ENOENT)
		return err;
	kill_recorded(lab);
	lab_api_stop(lab);
	err = lab_cgroup_remove_tree(LAB_CGROUP_ROOT) < 0 ? -EBUSY : 0;
	del_all_netns(lab);
	if (access(LAB_BPFFS_ROOT, F_OK) == 0 && lab_rm_rf(LAB_BPFFS_ROOT) < 0) {
		fprintf(stderr, "skiff-lab: cannot remove " LAB_BPFFS_ROOT "\n");
		err = -EIO;
	}
	keep_logs(lab);
	if (remove_state_dir(lab))
		err = -EIO;
	return err;
}
