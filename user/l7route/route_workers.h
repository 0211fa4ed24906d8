/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Threads kept for the router's HTTP/2 streams. Private to user/l7route (route_workers.c).
 *
 * Each stream runs on a thread of its own, since it blocks on its endpoint, its fault delay and
 * its back-off. Creating and ending a thread per stream made clone(), the stack's mapping and
 * its release most of skiffd's CPU under many short streams; a thread that finished a stream
 * now waits a while for the next one instead. A job never waits for a thread: with none idle, a
 * new one is started, so a stream blocked for minutes holds up no other.
 */
#ifndef SKIFF_L7ROUTE_WORKERS_H
#define SKIFF_L7ROUTE_WORKERS_H

#include <stdbool.h>

#define L7R_WORKERS_IDLE_MAX 64	   /* threads kept waiting for a job; more end */
#define L7R_WORKERS_IDLE_MS  10000 /* a kept thread ends after waiting this long */

struct l7r_workers;

struct l7r_workers *l7r_workers_new(void);
/* Run fn(arg) on a kept thread, or a new one: 0, or -errno when no thread could be started
 * (fn is then not run). */
int l7r_workers_run(struct l7r_workers *w, void *(*fn)(void *), void *arg);
/* Threads now kept idle (for tests and the bench's checks). */
unsigned l7r_workers_idle(struct l7r_workers *w);
/* End the kept threads, wait for the ones still running a job to finish it, and free. The
 * caller has made sure no job is still blocked (the router's connections are over). */
void l7r_workers_free(struct l7r_workers *w);

#endif
