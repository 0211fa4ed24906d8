// SPDX-License-Identifier: Apache-2.0
/* inotify on the config directory (see config_watch.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config/config_watch.h"

struct config_watch {
	int fd;
	int wd;
};

/* IN_MODIFY is left out on purpose: it fires for every write() of a file being written. */
#define CONFIG_WATCH_MASK                                                                          \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF |               \
	 IN_MOVE_SELF | IN_ONLYDIR)

int config_watch_open(const char *dir, struct config_watch **out)
{
	struct config_watch *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	w->wd = inotify_add_watch(w->fd, dir, CONFIG_WATCH_MASK);
	if (w->wd < 0) {
		err = -errno;
		close(w->fd);
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

int config_watch_fd(const struct config_watch *w)
{
	return w->fd;
}

bool config_is_manifest_name(const char *name)
{
	static const char *const exts[] = {".yaml", ".yml", ".json", NULL};
	size_t len = strlen(name);

	if (!len || name[0] == '.' || name[len - 1] == '~')
		return false;
	for (size_t i = 0; exts[i]; i++) {
		size_t el = strlen(exts[i]);

		if (len > el && !strcmp(name + len - el, exts[i]))
			return true;
	}
	return false;
}

static bool config_event_relevant(const struct inotify_event *ev)
{
	if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
		return true;
	/* a ConfigMap volume updates every file at once by renaming the `..data` symlink */
	if (ev->len && !strcmp(ev->name, "..data") && (ev->mask & IN_MOVED_TO))
		return true;
	if (ev->mask & IN_ISDIR)
		return false;
	return ev->len && config_is_manifest_name(ev->name);
}

bool config_watch_drain(struct config_watch *w)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool changed = false;
	ssize_t n;

	for (;;) {
		n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			changed |= config_event_relevant(ev);
		}
	}
	return changed;
}

void config_watch_close(struct config_watch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w);
}
