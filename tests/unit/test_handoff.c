// SPDX-License-Identifier: Apache-2.0
/*
 * The listener hand-off (user/handoff): a serving side on a thread (the old skiffd) and the
 * asking side (the new one) over a real unix socket in a temporary run dir, handing over a real
 * listening TCP socket on loopback: the new side finds it by address, a connection queued while
 * the old side still held it is accepted by the new one, READY gets DRAINING. A new side that
 * goes away before READY leaves the old one serving; a socket nobody serves is removed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "handoff/handoff.h"

struct old_side {
	struct handoff_server s;
	int fds[1];
	int events; /* handoff_server_event calls until READY (or the poll gave up) */
	int ready;  /* 1: READY arrived */
};

/* The old skiffd's loop: serve until a new side says READY, or 3 s of silence. */
static void *old_main(void *arg)
{
	struct old_side *o = arg;

	for (;;) {
		struct pollfd pfd = {.fd = handoff_server_fd(&o->s), .events = POLLIN};

		if (poll(&pfd, 1, 3000) != 1)
			return NULL;
		o->events++;
		if (handoff_server_event(&o->s, o->fds, 1) == 1) {
			o->ready = 1;
			close(o->fds[0]); /* stop accepting, as proxy_drain does */
			handoff_server_done(&o->s);
			return NULL;
		}
	}
}

static int tcp_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

static char *run_dir(void)
{
	char tmpl[] = "/tmp/skiff-handoff.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void rm_run_dir(char *dir)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, HANDOFF_SOCK);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, HANDOFF_PIDFILE);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void test_hand_over_and_ready(void **state)
{
	struct old_side o = {0};
	struct sockaddr_in sin, other;
	char *dir = run_dir();
	pthread_t t;
	int conn, fd, queued, c;

	(void)state;
	o.fds[0] = tcp_listener(&sin);
	assert_int_equal(handoff_serve(&o.s, dir), 0);
	/* a client whose SYN is queued on the old side's socket before the hand-off */
	queued = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(queued, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(pthread_create(&t, NULL, old_main, &o), 0);

	assert_int_equal(handoff_request(dir, &conn), 1);
	other = sin;
	other.sin_port = htons(ntohs(sin.sin_port) == 1 ? 2 : 1);
	assert_int_equal(handoff_listener((struct sockaddr *)&other, sizeof(other)), -1);
	fd = handoff_listener((struct sockaddr *)&sin, sizeof(sin));
	assert_true(fd >= 0);
	assert_int_equal(handoff_listener((struct sockaddr *)&sin, sizeof(sin)), -1); /* taken */
	assert_int_equal(handoff_ready(conn), 0);
	pthread_join(t, NULL);
	assert_int_equal(o.ready, 1);
	/* the old side closed its copy: the connection queued before is the new side's to accept */
	c = -1;
	for (int i = 0; i < 100 && c < 0; i++) {
		c = accept(fd, NULL, NULL);
		if (c < 0 && errno == EAGAIN)
			usleep(10000);
	}
	assert_true(c >= 0);
	assert_int_equal(write(queued, "x", 1), 1);
	assert_int_equal(read(c, &(char){0}, 1), 1);
	close(c);
	close(queued);
	close(fd);
	close(conn);
	handoff_pool_release();
	/* the test binary is not a skiffd: its pid in skiffd.pid does not count as running */
	assert_int_equal(handoff_running_pid(dir), 0);
	rm_run_dir(dir);
}

static void test_new_side_gone_before_ready(void **state)
{
	struct old_side o = {0};
	struct sockaddr_in sin;
	char *dir = run_dir();
	pthread_t t;
	int conn;

	(void)state;
	o.fds[0] = tcp_listener(&sin);
	assert_int_equal(handoff_serve(&o.s, dir), 0);
	assert_int_equal(pthread_create(&t, NULL, old_main, &o), 0);
	assert_int_equal(handoff_request(dir, &conn), 1);
	close(conn); /* a new skiffd that failed to start */
	handoff_pool_release();
	/* the old side is still serving: a second new side is handed the listener again */
	assert_int_equal(handoff_request(dir, &conn), 1);
	assert_true(handoff_listener((struct sockaddr *)&sin, sizeof(sin)) >= 0);
	assert_int_equal(handoff_ready(conn), 0);
	pthread_join(t, NULL);
	assert_int_equal(o.ready, 1);
	assert_true(o.events >= 4); /* accept, EOF, accept, READY */
	close(conn);
	handoff_pool_release();
	rm_run_dir(dir);
}

static void test_nobody_serving(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char *dir = run_dir();
	int fd, conn = 0;

	(void)state;
	assert_int_equal(handoff_request(dir, &conn), 0); /* a first start */
	assert_int_equal(conn, -1);
	/* a socket left by a skiffd that was killed: nobody answers, it is removed */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, HANDOFF_SOCK);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(access(sun.sun_path, F_OK), 0);
	assert_int_equal(handoff_request(dir, &conn), 0);
	assert_int_equal(conn, -1);
	assert_int_equal(access(sun.sun_path, F_OK), -1);
	rm_run_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hand_over_and_ready),
	    cmocka_unit_test(test_new_side_gone_before_ready),
	    cmocka_unit_test(test_nobody_serving),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
