// SPDX-License-Identifier: Apache-2.0
/* inotify config watcher: which directory changes trigger a reload. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config_watch.h"

static char dir[] = "/tmp/skiff-test-watch-XXXXXX";

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Wait briefly for events, then drain: inotify delivers synchronously, the poll is a guard. */
static bool changed(struct config_watch *w)
{
	struct pollfd p = {.fd = config_watch_fd(w), .events = POLLIN};

	poll(&p, 1, 100);
	return config_watch_drain(w);
}

static int open_for_write(const char *name)
{
	char path[256];
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	return fd;
}

static void test_watch_events(void **state)
{
	char a[256], b[256];
	struct config_watch *w;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(config_watch_open(dir, &w), 0);
	assert_false(changed(w));

	/* a write in progress does not count; closing the file does */
	fd = open_for_write("svc.yaml");
	assert_int_equal(write(fd, "a: 1\n", 5), 5);
	assert_false(changed(w));
	close(fd);
	assert_true(changed(w));

	close(open_for_write(".svc.yaml.swp"));
	close(open_for_write("notes.txt"));
	assert_false(changed(w));

	/* editors write a temporary file and rename it over the manifest */
	close(open_for_write(".tmp123"));
	assert_false(changed(w));
	path_of(a, sizeof(a), ".tmp123");
	path_of(b, sizeof(b), "routes.yml");
	assert_int_equal(rename(a, b), 0);
	assert_true(changed(w));

	path_of(a, sizeof(a), "routes.yml");
	assert_int_equal(unlink(a), 0);
	assert_true(changed(w));
	close(open_for_write("x.json"));
	assert_true(changed(w));
	assert_false(changed(w)); /* drained */

	config_watch_close(w);
	snprintf(a, sizeof(a), "rm -rf '%s'", dir);
	assert_int_equal(system(a), 0);
	assert_int_equal(config_watch_open(dir, &w), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_watch_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
