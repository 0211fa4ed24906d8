/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow events (include/skiff/events.h): one ring buffer shared by every program, pinned by name.
 * ev_reserve() hands out a zeroed record or NULL (the ring is full: counted, never waited for);
 * ev_submit() sends it. Guard drops go through ev_drop_allowed() first, a per-CPU token bucket,
 * so that a SYN flood costs a counter increment per packet, not an event.
 */
#ifndef SKIFF_BPF_EVENTS_H
#define SKIFF_BPF_EVENTS_H

#include "skiff/events.h"
#include "skiff/guard.h" /* struct skiff_flow_key */
#include "lib/lb_config.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SKIFF_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_events SEC(".maps");

/* What did not become an event, per reason and CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SKIFF_EV_STATS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_ev_stats SEC(".maps");

/* Guard drop events' budget, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct skiff_ev_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_ev_bucket SEC(".maps");

static __always_inline void ev_count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&skiff_ev_stats, &stat);

	if (n)
		__sync_fetch_and_add(n, 1); /* softirq may interrupt a process-context run */
}

/* skiffd --flow-events=off: no event is written (and none counted as lost). */
static __always_inline bool ev_off(void)
{
	__u32 zero = 0;
	struct skiff_config *c = bpf_map_lookup_elem(&skiff_config, &zero);

	return c && (c->flags & SKIFF_CFG_F_NO_EVENTS);
}

static __always_inline struct skiff_event *ev_reserve(__u8 kind)
{
	struct skiff_event *e;

	if (ev_off())
		return NULL;
	e = bpf_ringbuf_reserve(&skiff_events, sizeof(*e), 0);
	if (!e) {
		ev_count(SKIFF_EV_STAT_LOST);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	return e;
}

/*
 * Send `e`. A wakeup of skiffd is an irq_work (a self-IPI, a VM exit under a hypervisor): it
 * doubled sockops' cost per connection when every opened and closed event asked for one. So
 * connection events are sent quietly and skiffd drains the ring on a short timer; denials and
 * drops, rare and rate-limited, wake it at once.
 */
static __always_inline void ev_submit(struct skiff_event *e)
{
	bool urgent = e->kind == SKIFF_EV_DENIED || e->kind == SKIFF_EV_DROPPED;

	/* forced: quiet events before it may sit unread, and then the kernel's own "wake only if
	 * the reader has caught up" would not wake it */
	bpf_ringbuf_submit(e, urgent ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* May this CPU write one more guard drop event now? Tokens grow at SKIFF_EV_DROP_RATE a second
 * up to SKIFF_EV_DROP_BURST. Per CPU, so no two programs race on one bucket (a softirq run that
 * interrupts a process-context one on the same CPU can only lose a token's update). */
static __always_inline bool ev_drop_allowed(void)
{
	const __u64 ns_per_token = 1000000000ull / SKIFF_EV_DROP_RATE;
	struct skiff_ev_bucket *b;
	__u64 now, add;
	__u32 zero = 0;

	b = bpf_map_lookup_elem(&skiff_ev_bucket, &zero);
	if (!b)
		return false;
	now = bpf_ktime_get_ns();
	add = (now - b->last_ns) / ns_per_token;
	if (add) {
		b->tokens =
		    b->tokens + add > SKIFF_EV_DROP_BURST ? SKIFF_EV_DROP_BURST : b->tokens + add;
		b->last_ns = now;
	}
	if (!b->tokens) {
		ev_count(SKIFF_EV_STAT_SUPPRESSED);
		return false;
	}
	b->tokens--;
	return true;
}

/* A STRICT guard drop of the packet `f` (family 0 when it could not be parsed). */
static __always_inline void ev_dropped(const struct skiff_flow_key *f, __u32 verdict)
{
	struct skiff_event *e;

	if (ev_off() || !ev_drop_allowed())
		return;
	e = ev_reserve(SKIFF_EV_DROPPED);
	if (!e)
		return;
	e->saddr = f->saddr;
	e->daddr = f->daddr;
	e->sport = f->sport;
	e->dport = f->dport;
	e->family = f->family;
	e->reason = (__u8)verdict;
	ev_submit(e);
}

#endif
