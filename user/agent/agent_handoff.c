// SPDX-License-Identifier: Apache-2.0
/*
 * Upgrades without a refused SYN or a cut connection (user/handoff/handoff.h): a new skiffd
 * takes the running one's listeners, accepts once its first configuration is in the kernel,
 * and the old one drains: it accepts nothing more, says GOAWAY on inbound HBONE, lets its
 * relays run until they close or --drain-seconds pass, and exits. SIGTERM drains the same way.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_state.h"
#include "flows/flows.h"
#include "l7route/l7route.h"

int agent_handoff_begin(struct agent *a)
{
	int r = handoff_request(a->o->run_dir, &a->takeover_conn);

	a->handoff.listen_fd = a->handoff.conn = -1;
	if (r < 0)
		return r;
	if (r == 0 && a->o->takeover) {
		agent_log("error",
			  "--takeover: no skiffd serves %s/%s to hand its listeners over "
			  "(start without --takeover for a first start)",
			  a->o->run_dir, HANDOFF_SOCK);
		return -ENOENT;
	}
	if (r == 1)
		agent_log("info", "took the listeners of the running skiffd; it serves until this "
				  "one has applied its configuration");
	return 0;
}

void agent_handoff_started(struct agent *a)
{
	/* what the old process listened on and this one does not (a changed flag) */
	handoff_pool_release();
	if (a->takeover_conn < 0 && handoff_serve(&a->handoff, a->o->run_dir))
		agent_log("error", "a new skiffd will not be able to take over without a reset");
}

void agent_handoff_tick(struct agent *a)
{
	int err;

	if (a->takeover_conn < 0 || !a->applied)
		return;
	proxy_resume(a->proxy);
	err = handoff_ready(a->takeover_conn);
	close(a->takeover_conn);
	a->takeover_conn = -1;
	if (err)
		agent_log("error", "the old skiffd did not confirm that it drains: %s",
			  strerror(-err));
	handoff_serve(&a->handoff, a->o->run_dir);
	agent_log("info", "serving: generation %u; the old skiffd drains", dp_generation(a->dp));
}

/* Every listening socket of this process, in the order handed over. */
static int listener_fds(const struct agent *a, int *fds, int max)
{
	int n = proxy_listener_fds(a->proxy, fds, max);

	for (int i = 0; i < 2 && n < max; i++)
		if (a->admin.listen_fd[i] >= 0)
			fds[n++] = a->admin.listen_fd[i];
	if (a->metrics.listen_fd >= 0 && n < max)
		fds[n++] = a->metrics.listen_fd;
	return n;
}

bool agent_handoff_event(struct agent *a)
{
	int fds[HANDOFF_MAX_FDS];

	return handoff_server_event(&a->handoff, fds, listener_fds(a, fds, HANDOFF_MAX_FDS)) == 1;
}

static long mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Relays, HBONE streams and the L7 router's client connections all closed. */
static bool agent_drained(struct agent *a)
{
	return proxy_drained(a->proxy) && !l7route_open(a->l7route);
}

void agent_drain(struct agent *a, bool handed_over, volatile sig_atomic_t *stop,
		 volatile sig_atomic_t *term)
{
	long deadline = mono_s() + a->o->drain_seconds;
	struct proxy_stats st = {0};

	proxy_drain(a->proxy);
	l7route_drain(a->l7route);
	admin_close(&a->admin);
	/* a ring buffer has one reader: the new process's, from now on */
	flows_close(a->flows);
	a->flows = NULL;
	metrics_server_close(&a->metrics);
	/* nothing here writes the kernel any more: the maps and links are the new process's (or
	 * stay as they are), and the programs this process loaded are released now, not when the
	 * last relay closes: by the time the new process serves, no program is held twice */
	if (a->watch)
		config_watch_close(a->watch);
	a->watch = NULL;
	kube_source_close(a->kube);
	a->kube = NULL;
	dp_close(a->dp, false);
	a->dp = NULL;
	if (handed_over)
		handoff_server_done(&a->handoff); /* the new process owns handoff.sock now */
	else
		handoff_server_close(&a->handoff, true);
	if (a->proxy)
		proxy_stats_read(a->proxy, &st);
	agent_log("info",
		  "%s: accepting nothing; %lu relays open, exiting when they and the HBONE "
		  "streams close or in %d s (--drain-seconds)",
		  handed_over ? "replaced by a new skiffd" : "SIGTERM", (unsigned long)st.active,
		  a->o->drain_seconds);
	while (!*stop && !agent_drained(a) && mono_s() < deadline)
		poll(NULL, 0, 100);
	if (agent_drained(a))
		agent_log("info", "drained: every connection closed");
	else if (!*stop)
		agent_log("info", "drain deadline: resetting what is still open");
	if (!handed_over || !a->o->hold_after_drain || *stop || *term)
		return;
	/* in a pod, exiting now would have kubelet start this old version again, and it would
	 * take the listeners back: it waits for its pod's deletion (SIGTERM) holding nothing */
	agent_log("info", "holding until SIGTERM (--hold-after-drain)");
	while (!*stop && !*term)
		poll(NULL, 0, 1000);
}
