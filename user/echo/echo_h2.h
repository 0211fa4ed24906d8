/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff-echo's HTTP/2 side (h2c prior knowledge): the same answers as its HTTP/1.1 side, each
 * stream a request, and gRPC the gRPC way. The test peer of the router's HTTP/2 routing.
 */
#ifndef SKIFF_ECHO_H2_H
#define SKIFF_ECHO_H2_H

#include <stddef.h>
#include <stdint.h>

#include "authz/authz.h"
#include "common/strbuf.h"

/* One request's answer: its status and JSON body (skiff_echo.c). A path's delay is taken by
 * the callback. */
typedef int (*echo_answer_fn)(void *ctx, const char *method, const char *path,
			      const struct authz_header *h, size_t n, struct strbuf *body);

/* Serve an HTTP/2 connection whose first `len` bytes (the client preface and maybe more) are
 * in `pre`, until it ends; every response names `pod` in x-pod. */
void echo_h2_serve(int fd, const uint8_t *pre, size_t len, const char *pod, echo_answer_fn answer,
		   void *ctx);

#endif
