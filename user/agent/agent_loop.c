// SPDX-License-Identifier: Apache-2.0
/* skiffd's single-threaded poll loop. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "accesslog/accesslog.h"
#include "agent/agent_state.h"
#include "flows/flows.h"
#include "tracing/tracing.h"

/* Config directory: wait this long after the last inotify event before reloading, so that
 * `kubectl apply` of many files (or an editor's save dance) becomes one generation, not several. */
#define RELOAD_DEBOUNCE_MS 50
/*
 * API source: an event finds the agent idle, it is applied at once (an endpoint change must reach
 * the kernel in milliseconds, and a watch delivers whole objects, never half a save). What
 * arrives while an apply runs, or this soon after it ends, waits and goes in one apply: a
 * rollout's burst of events costs a few applies, not one per event.
 */
#define RELOAD_HOLDOFF_MS 10
/*
 * After an EndpointSlice change applied in place, once no other has come for this long: the
 * blocks its parse and compile freed go back to the kernel (malloc_trim). A whole reload trims
 * at its end; without this, a day of endpoint changes kept their freed pages resident. Not after
 * each change: a burst of them would trim once per change.
 */
#define TRIM_QUIET_MS 300

/* SIGINT: stop now. SIGTERM (what kubelet sends): drain, then stop. */
static volatile sig_atomic_t stop_requested, drain_requested;

static void on_signal(int sig)
{
	if (sig == SIGTERM)
		drain_requested = 1;
	else
		stop_requested = 1;
}

void agent_log(const char *level, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld skiffd %s: ", when, ts.tv_nsec / 1000000, level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int timer_open(int period_ms)
{
	struct itimerspec its = {
	    .it_interval = {period_ms / 1000, (period_ms % 1000) * 1000000L},
	    .it_value = {period_ms / 1000, (period_ms % 1000) * 1000000L},
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd >= 0)
		timerfd_settime(fd, 0, &its, NULL);
	return fd;
}

const char *agent_config_source(const struct agent *a)
{
	return a->o->kube ? "the Kubernetes API" : a->o->config_dir;
}

/* The config source: inotify on the directory, or the API's watchers (their own threads), each
 * an fd the loop polls. */
static int agent_config_open(struct agent *a)
{
	struct kube_source_opts ko = {.kubeconfig = a->o->kubeconfig, .node = a->o->node};
	struct diag d = {0};
	int err;

	if (!a->o->kube) {
		err = config_watch_open(a->o->config_dir, &a->watch);
		if (err)
			agent_log("error",
				  "cannot watch config dir %s: %s (create it, or pass "
				  "--config-dir)",
				  a->o->config_dir, strerror(-err));
		return err;
	}
	err = kube_source_open(&ko, &a->kube, &d);
	diag_print(&d);
	if (err)
		agent_log("error", "cannot read config from the Kubernetes API (%s): %s",
			  a->o->kubeconfig ? a->o->kubeconfig : "in-cluster", strerror(-err));
	diag_free(&d);
	return err;
}

static int agent_config_fd(const struct agent *a)
{
	return a->kube ? kube_source_fd(a->kube) : config_watch_fd(a->watch);
}

/* True when the config changed and a reload is due (after the debounce). */
static bool agent_config_drain(struct agent *a)
{
	return a->kube ? kube_source_drain(a->kube) : config_watch_drain(a->watch);
}

static void id_adopt(void *ctx, __u64 cgroup, __u32 wl)
{
	struct agent *a = ctx;

	if (wl_ids_adopt(a->ids, cgroup, wl))
		agent_log("warning",
			  "adopted skiff_enrolled: cgroup %llu has workload id %u, out of range or "
			  "given twice; the pod gets a new id",
			  (unsigned long long)cgroup, wl);
}

/* The pods the adopted maps name keep their ids: connections, verdicts and counters of an
 * earlier skiffd stay theirs across a restart or a hand-off. */
static int agent_ids_adopt(struct agent *a)
{
	int n;

	a->ids = wl_ids_new(SKIFF_MAX_PODS);
	if (!a->ids)
		return -ENOMEM;
	n = dp_enrolled_each(a->dp, id_adopt, a);
	if (n > 0)
		agent_log("info", "kept the workload ids of %d enrolled pods from the adopted maps",
			  n);
	return 0;
}

static int agent_start(struct agent *a)
{
	struct dp_opts dpo = {.bpffs_dir = a->o->bpffs,
			      .cgroup_root = a->o->cgroup_root,
			      .no_accel = a->o->no_accel,
			      .accel_join_all = a->o->accel_join_all,
			      .uplink = a->o->uplink,
			      .kubelet_cgroup = a->o->kubelet_cgroup,
			      .agent_sockops = true,
			      .agent_cgroup = a->o->agent_cgroup};
	int err;

	err = dp_open(&dpo, &a->dp);
	if (err) {
		agent_log("error", "cannot open the dataplane (bpffs %s, cgroup root %s): %s",
			  a->o->bpffs, a->o->cgroup_root, strerror(-err));
		return err;
	}
	err = agent_ids_adopt(a);
	if (err)
		return err;
	agent_flows_start(a);
	/* spans are not worth refusing to run for either */
	if (tracing_start())
		agent_log("error", "the span exporter did not start; requests are not traced");
	err = agent_accesslog_start(a);
	if (err)
		agent_log("error", "access logs are off (cannot start their writer: %s)",
			  strerror(-err));
	err = agent_tls_open(a);
	if (!err)
		err = agent_eject_open(a); /* before the router that pushes to it */
	if (!err)
		err = agent_punt_start(a);
	if (err)
		return err;
	err = agent_config_open(a);
	if (err)
		return err;
	err = admin_open(&a->admin, a->o->admin_addr, a->o->admin_port, a->o->ready_port,
			 agent_admin_handler, a);
	if (err)
		return err;
	a->admin.stream = agent_flows_stream;
	/* Metrics are not worth refusing to run for: the data plane works without them. */
	if (metrics_server_open(&a->metrics,
				a->o->metrics_addr ? a->o->metrics_addr : a->o->admin_addr,
				a->o->metrics_port, agent_metrics_render, a))
		agent_log("error", "metrics are not served; skiffd runs without them");
	a->metrics.status = agent_status_page; /* skiffctl status from off the node */
	if (a->metrics.listen_fd >= 0 && !agent_scrape_start(a))
		a->metrics.offload = agent_scrape_offload; /* else pages render on this loop */
	agent_log("info", "node %s: bpffs %s, cgroup root %s, config %s, generation %u adopted",
		  a->o->node, a->o->bpffs, a->o->cgroup_root, agent_config_source(a),
		  dp_generation(a->dp));
	return 0;
}

static void agent_stop(struct agent *a)
{
	agent_punt_stop(a);
	agent_eject_close(a); /* the router is gone: nothing pushes any more */
	tracing_stop();	      /* nor spans: the queue is flushed */
	agent_tls_close(a);
	agent_routes_free(a);
	admin_close(&a->admin);
	flows_close(a->flows);
	a->flows = NULL;
	al_flush(1000); /* the relays and the flow reader are gone: the lines left are the last */
	metrics_server_close(&a->metrics);
	agent_scrape_stop(a);		   /* before the maps and the relays' table it reads */
	metrics_table_free(a->l7_metrics); /* the proxy thread is stopped: nobody adds now */
	a->l7_metrics = NULL;
	if (a->watch)
		config_watch_close(a->watch);
	kube_source_close(a->kube);
	/* Maps and links stay pinned: the kernel keeps serving while the agent is away. */
	if (a->dp)
		dp_close(a->dp, false);
	compile_live_free(a->live); /* before the snapshot it points into */
	a->live = NULL;
	agent_snap_install(a, NULL);
	node_view_free(&a->view);
	pod_cgroup_table_free(&a->cgroups);
	wl_ids_free(a->ids);
	a->ids = NULL;
	for (size_t i = 0; i < a->nwarned; i++)
		free(a->warned[i]);
	free(a->warned);
	free(a->last_error);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* When to reload: -1 none pending; else a CLOCK_MONOTONIC time in ms. */
struct reload_clock {
	long due;
	long last_end; /* when the last reload finished */
	bool trim_due; /* a reload ran since the last malloc_trim() */
};

/* A change arrived: when does it go to the kernel? */
static void reload_schedule(const struct agent *a, struct reload_clock *c)
{
	long now = now_ms();

	if (!a->kube)
		c->due = now + RELOAD_DEBOUNCE_MS; /* every event moves it on */
	else if (c->due < 0)
		c->due =
		    c->last_end + RELOAD_HOLDOFF_MS > now ? c->last_end + RELOAD_HOLDOFF_MS : now;
}

static void agent_poll_once(struct agent *a, int tfd, struct reload_clock *c)
{
	struct pollfd pfds[3 + 2 + ADMIN_MAX_CONNS + 1 + METRICS_MAX_CONNS + 1];
	size_t n = 0, nadmin, nej;
	long now = now_ms();
	int r;

	pfds[n++] = (struct pollfd){.fd = agent_config_fd(a), .events = POLLIN};
	pfds[n++] = (struct pollfd){.fd = tfd, .events = POLLIN};
	pfds[n++] = (struct pollfd){.fd = handoff_server_fd(&a->handoff), .events = POLLIN};
	n += admin_pollfds(&a->admin, pfds + n, sizeof(pfds) / sizeof(pfds[0]) - n);
	nadmin = n - 3;
	n += metrics_server_pollfds(&a->metrics, pfds + n, sizeof(pfds) / sizeof(pfds[0]) - n - 1);
	nej = n;
	pfds[n++] = (struct pollfd){.fd = agent_eject_fd(a), .events = POLLIN};
	r = poll(pfds, n, c->due < 0 ? -1 : c->due > now ? (int)(c->due - now) : 0);
	if (r < 0)
		return;
	if ((pfds[0].revents & POLLIN) && agent_config_drain(a))
		reload_schedule(a, c);
	/* due is a deadline, not a quiet period: a steady stream of API events cannot hold a
	 * reload off for ever */
	if (c->due >= 0 && now_ms() >= c->due) {
		c->due = -1;
		agent_reload(a);
		c->last_end = now_ms();
		c->trim_due = true;
	}
	if (pfds[1].revents & POLLIN) {
		unsigned long long ticks;

		(void)!read(tfd, &ticks, sizeof(ticks));
		agent_rescan(a);
		agent_tls_rotate(a);
		if (c->trim_due && c->due < 0 && now_ms() - c->last_end >= TRIM_QUIET_MS) {
			c->trim_due = false;
			malloc_trim(0);
		}
	}
	agent_handoff_tick(a);
	admin_serve(&a->admin, pfds + 3, nadmin);
	metrics_server_serve(&a->metrics, pfds + 3 + nadmin, nej - 3 - nadmin);
	if (pfds[nej].revents & POLLIN)
		agent_eject_drain(a);
	/* last: a new skiffd that said READY ends this loop (the fds above are closed then) */
	if ((pfds[2].revents & (POLLIN | POLLHUP)) && agent_handoff_event(a))
		a->handed_over = true;
}

int agent_run(const struct agent_opts *o)
{
	struct agent a = {.o = o, .takeover_conn = -1, .handoff = {.listen_fd = -1, .conn = -1}};
	struct sigaction sa = {.sa_handler = on_signal};
	struct reload_clock clock = {.due = -1, .last_end = 0};
	int tfd = -1, rc = 1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	a.admin.listen_fd[0] = a.admin.listen_fd[1] = -1;
	for (int i = 0; i < ADMIN_MAX_CONNS; i++)
		a.admin.conns[i].fd = -1;
	pthread_mutex_init(&a.l7_metrics_lock, NULL);
	a.metrics.listen_fd = -1;
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		a.metrics.conns[i].fd = -1;
	if (agent_handoff_begin(&a) || agent_start(&a))
		goto out;
	agent_handoff_started(&a);
	tfd = timer_open(o->rescan_ms);
	if (tfd < 0)
		goto out;
	pod_cgroup_scan(o->cgroup_root, &a.cgroups);
	if (!a.kube) /* the API's first snapshot comes when every kind has been listed */
		agent_reload(&a);
	while (!stop_requested && !drain_requested && !a.handed_over)
		agent_poll_once(&a, tfd, &clock);
	if (!stop_requested)
		agent_drain(&a, a.handed_over, &stop_requested, &drain_requested);
	else
		handoff_server_close(&a.handoff, true);
	agent_log("info", "stopping; maps and programs stay pinned under %s", o->bpffs);
	rc = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (a.takeover_conn >= 0)
		close(a.takeover_conn); /* the old skiffd keeps serving */
	handoff_server_close(&a.handoff, false);
	agent_stop(&a);
	return rc;
}
