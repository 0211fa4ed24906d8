/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How skiffctl reaches a node's skiffd: its admin endpoint HOST:PORT, optionally from inside a
 * named network namespace (a skiff-lab node, whose skiffd listens on that netns' 127.0.0.1).
 */
#ifndef SKIFF_CTL_HTTP_H
#define SKIFF_CTL_HTTP_H

#include <stddef.h>

struct ctl_target {
	char name[128];	 /* how the node is shown until it names itself */
	char netns[256]; /* /run/netns/<netns> to connect from; "" for skiffctl's own */
	char addr[128];	 /* "127.0.0.1:15000", "[fd00::1]:15000" */
};

/* GET http://addr/path; the whole body (checked against Content-Length), malloc'd. NULL with
 * the reason in `err` when skiffd cannot be reached or does not answer 200. */
char *ctl_http_get(const struct ctl_target *t, const char *path, char *err, size_t errlen);

/* The targets of `--lab`: every skiff-lab node's netns (skl-node-K) that exists, with its
 * skiffd's admin port. Returns how many (0: no lab on this machine). */
size_t ctl_lab_targets(struct ctl_target *out, size_t max);

/* skiffd's status port: /status on the metrics listener, which (unlike the admin port, on
 * 127.0.0.1) listens on the node's address in the DaemonSet. */
#define CTL_STATUS_PORT 15020

/* Targets from a comma-separated list of HOST[:PORT] (PORT defaults to CTL_STATUS_PORT)
 * appended to out[*n..max). Returns 0, or -1 after naming the bad entry in `err`. */
int ctl_parse_targets(const char *list, struct ctl_target *out, size_t *n, size_t max, char *err,
		      size_t errlen);

#endif
