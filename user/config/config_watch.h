/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch one config directory with inotify and say when a manifest in it changed, so skiffd
 * reloads. Only complete writes count (IN_CLOSE_WRITE, IN_MOVED_TO): an editor or `kubectl` that
 * is half-way through a file does not trigger a read of half a manifest.
 */
#ifndef SKIFF_CONFIG_WATCH_H
#define SKIFF_CONFIG_WATCH_H

#include <stdbool.h>

struct config_watch;

/* Start watching `dir`. Returns 0 or a negative errno (the directory must exist). */
int config_watch_open(const char *dir, struct config_watch **out);
/* Non-blocking fd to poll for readability. */
int config_watch_fd(const struct config_watch *w);
/* Read every pending event; true when a .yaml, .yml or .json file whose name does not start with
 * '.' was created, written, moved in or out, or deleted; when a ConfigMap volume swapped its
 * `..data` link; or when the directory went away or the event queue overflowed (then the caller
 * should reload to be safe). */
bool config_watch_drain(struct config_watch *w);
void config_watch_close(struct config_watch *w);

/* A manifest skiffd reads from its directory: *.yaml, *.yml or *.json, not hidden (temporaries
 * written before a rename start with '.'), not an editor backup (ending in '~'). */
bool config_is_manifest_name(const char *name);

#endif
