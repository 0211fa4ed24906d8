/* SPDX-License-Identifier: Apache-2.0 */
/* The hand-off's messages and path function, shared by its two sides. */
#ifndef SKIFF_HANDOFF_INTERNAL_H
#define SKIFF_HANDOFF_INTERNAL_H

#include <stddef.h>

/* old -> new, with the listeners as SCM_RIGHTS */
#define HANDOFF_MSG_FDS "SKIFF-LISTENERS 1"
/* new -> old: this process accepts now */
#define HANDOFF_MSG_READY "READY"
/* old -> new: the old one stopped accepting */
#define HANDOFF_MSG_DRAINING "DRAINING"

/* How long either side waits for the other's next message: both are local and answer from
 * their poll loop, so seconds mean the other is stuck. */
#define HANDOFF_WAIT_MS 5000

/* <dir>/<name> into buf; -1 when it does not fit. */
int handoff_path(char *buf, size_t size, const char *dir, const char *name);

#endif
