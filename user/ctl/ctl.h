/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffctl's commands that look at running nodes: status (every node's skiffd), maps (the
 * pinned maps decoded with names) and config dump (the compiled view, readable). Each takes the
 * words after its own name and returns the process exit code (2: usage error).
 */
#ifndef SKIFF_CTL_H
#define SKIFF_CTL_H

#include <stdio.h>

int ctl_status(int argc, char **argv, FILE *out, FILE *err);
int ctl_maps(int argc, char **argv, FILE *out, FILE *err);
int ctl_config_dump(int argc, char **argv, FILE *out, FILE *err);

#endif
