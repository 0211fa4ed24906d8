/* SPDX-License-Identifier: Apache-2.0 */
/* Read-only views of skiff's pinned maps for operators (skiffctl), decoded where bpftool cannot. */
#ifndef SKIFF_INSPECT_H
#define SKIFF_INSPECT_H

#include <stdio.h>

/*
 * Print every socket in <bpffs>/skiff_sockhash, one line each, as "family local -> remote
 * cookie N". The kernel refuses BTF for sockhash maps, so bpftool shows the key as hex; this is
 * the same key decoded. Returns the number of sockets, or -errno with a message on stderr.
 */
int inspect_sockets(FILE *out, const char *bpffs);

#endif
