// SPDX-License-Identifier: Apache-2.0
/*
 * The serving process's side of the hand-off: handoff.sock and the pid file in the run dir, one
 * new process at a time. A new process that connects is sent every listener at once; its READY
 * ends this process's service, its going away before READY changes nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_internal.h"

int handoff_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int mkdir_p(const char *dir)
{
	char buf[256];
	size_t len = strlen(dir);

	if (!len || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

/* <run_dir>/skiffd.pid, replaced in one rename: a reader sees the old pid or the new one. */
static int pidfile_write(const char *run_dir)
{
	char path[256], tmp[272];
	FILE *f;

	if (handoff_path(path, sizeof(path), run_dir, HANDOFF_PIDFILE))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

int handoff_serve(struct handoff_server *s, const char *run_dir)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int err;

	s->listen_fd = s->conn = -1;
	if (handoff_path(s->path, sizeof(s->path), run_dir, HANDOFF_SOCK) ||
	    strlen(s->path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "skiffd: --run-dir %s is too long for a unix socket path\n",
			run_dir);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, s->path);
	err = mkdir_p(run_dir);
	if (!err) {
		unlink(s->path); /* a dead process's, or the old one's that handed over to us */
		s->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) ||
		    listen(s->listen_fd, 4))
			err = -errno;
		else
			chmod(s->path, 0600); /* whoever connects gets the node's listeners */
	}
	if (!err)
		err = pidfile_write(run_dir);
	if (err) {
		fprintf(stderr,
			"skiffd: cannot serve the hand-off on %s: %s (is --run-dir "
			"writable?)\n",
			s->path, strerror(-err));
		handoff_server_close(s, false);
	}
	return err;
}

int handoff_server_fd(const struct handoff_server *s)
{
	return s->conn >= 0 ? s->conn : s->listen_fd;
}

static int send_fds(int conn, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(HANDOFF_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)HANDOFF_MSG_FDS,
			    .iov_len = strlen(HANDOFF_MSG_FDS)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (nfds > HANDOFF_MAX_FDS)
		nfds = HANDOFF_MAX_FDS;
	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(conn, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int handoff_server_event(struct handoff_server *s, const int *fds, int nfds)
{
	char msg[32];
	ssize_t n;

	if (s->conn < 0) {
		s->conn = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s->conn < 0)
			return 0;
		if (send_fds(s->conn, fds, nfds)) {
			close(s->conn);
			s->conn = -1;
			return 0;
		}
		fprintf(stderr,
			"skiffd: handed %d listeners to a new skiffd; serving until it is "
			"ready\n",
			nfds);
		return 0;
	}
	n = recv(s->conn, msg, sizeof(msg), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == (ssize_t)strlen(HANDOFF_MSG_READY) && !memcmp(msg, HANDOFF_MSG_READY, n))
		return 1;
	fprintf(stderr, "skiffd: the new skiffd went away before it was ready; this one keeps "
			"serving\n");
	close(s->conn);
	s->conn = -1;
	return 0;
}

void handoff_server_done(struct handoff_server *s)
{
	if (s->conn >= 0)
		send(s->conn, HANDOFF_MSG_DRAINING, strlen(HANDOFF_MSG_DRAINING), MSG_NOSIGNAL);
	handoff_server_close(s, false);
}

void handoff_server_close(struct handoff_server *s, bool unlink_path)
{
	char pid[256], *slash;

	if (s->conn >= 0)
		close(s->conn);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->conn = s->listen_fd = -1;
	if (!unlink_path || !s->path[0])
		return;
	unlink(s->path);
	snprintf(pid, sizeof(pid), "%s", s->path);
	slash = strrchr(pid, '/');
	if (slash && (size_t)(slash - pid) + 1 + strlen(HANDOFF_PIDFILE) < sizeof(pid)) {
		strcpy(slash + 1, HANDOFF_PIDFILE);
		unlink(pid);
		*slash = '\0';
		/* when empty: the last skiffd of these pins leaves nothing behind */
		if (!rmdir(pid) && !strncmp(pid, HANDOFF_DEFAULT_RUN_DIR "/bpffs",
					    strlen(HANDOFF_DEFAULT_RUN_DIR "/bpffs")))
			rmdir(HANDOFF_DEFAULT_RUN_DIR);
	}
}

int handoff_running_pid(const char *run_dir)
{
	char path[256], comm[64] = "";
	int pid = 0;
	FILE *f;

	if (handoff_path(path, sizeof(path), run_dir, HANDOFF_PIDFILE))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || kill(pid, 0))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "skiffd", 6) ? 0 : pid;
}
