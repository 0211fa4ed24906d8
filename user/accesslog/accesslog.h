/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access logs: one line per connection (L4) and per request (L7), on skiffd's standard output,
 * with Envoy's field names, switched on as Istio does (the mesh config's accessLogFile, and the
 * Telemetry resource per namespace and workload, by mode and by filter).
 *
 *   al_policy.c  who logs what: from a model, a decision per pod and side (client, server)
 *   al_line.c    one line, JSON (Envoy's field names) or TEXT (Envoy's default format)
 *   al_writer.c  a bounded queue and one thread writing it to stdout: a slow reader of the
 *                pipe makes lines drop (counted), never a relay or the kernel's reader wait
 *   al_cel_*.c   the filter expressions (al_cel.h)
 *
 * The policy in force is swapped whole by the agent after each apply; callers on any thread
 * hold a reference for the time of one decision.
 */
#ifndef SKIFF_ACCESSLOG_H
#define SKIFF_ACCESSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accesslog/al_cel.h"
#include "common/strbuf.h"
#include "model/model.h"

/* Which proxy's line: the client's (Istio's CLIENT mode, reporter source) or the server's. */
enum al_side { AL_CLIENT = 0, AL_SERVER = 1 };

/* One line's fields; NULL strings print as null (JSON) or "-" (TEXT). */
struct al_entry {
	int64_t start_ms; /* realtime */
	enum al_side side;
	const char *method, *path, *protocol, *authority, *user_agent, *request_id;
	const char *x_forwarded_for;
	int response_code; /* 0 for TCP and when none was sent, as Envoy prints it */
	const char *response_flags;
	uint64_t bytes_received, bytes_sent;
	uint64_t duration_ms;
	const char *upstream_host, *upstream_cluster;
	const char *downstream_remote_address, *downstream_local_address;
	const char *upstream_transport_failure_reason, *connection_termination_details;
	const char *source_principal, *destination_principal;
	const char *source_workload, *destination_workload; /* "ns/pod" */
	/* Envoy's upstream_request_attempt_count: tries upstream, 0 when the router answered
	 * itself; only lines of the HTTP router, which retries, carry it */
	bool has_attempts;
	unsigned attempts;
};

/* al_line.c: the line, '\n' included, appended to b. */
void al_line_json(struct strbuf *b, const struct al_entry *e);
void al_line_text(struct strbuf *b, const struct al_entry *e);
/* Envoy's start_time: 2026-12-06T14:10:18.182Z */
void al_time(char *buf, size_t len, int64_t ms);

/* al_policy.c */
struct al_policy;
/* What the model says for every pod. NULL only when nothing logs anywhere (no accessLogFile,
 * no Telemetry with accessLogging): callers then skip all work. */
struct al_policy *al_policy_build(const struct model *m, const char *trust_domain);
void al_policy_ref(struct al_policy *p);
void al_policy_unref(struct al_policy *p);
/* Does pod `ns`/`name` log this side? *filter: its filter (NULL: every line). */
bool al_policy_logs(const struct al_policy *p, const char *ns, const char *name, enum al_side s,
		    const struct al_cel **filter);
/* The pod's SPIFFE principal, NULL when not a pod of the model. */
const char *al_policy_principal(const struct al_policy *p, const char *ns, const char *name);
/* The FQDN of the pod's Service (the first whose selector picks it), NULL when none. */
const char *al_policy_service(const struct al_policy *p, const char *ns, const char *name);
/* The "ns/name" of the pod with address `ip` (text), NULL when none. */
const char *al_policy_pod_at(const struct al_policy *p, const char *ip);
bool al_policy_text(const struct al_policy *p);

/* The process-wide log (al_writer.c). al_start once; al_set swaps the policy (takes it). */
int al_start(void);
void al_set(struct al_policy *p);
/* A reference to the policy in force (NULL: logs are off); al_policy_unref when done. */
struct al_policy *al_get(void);
/* Queue one line (filter already applied); never blocks. */
void al_emit(const struct al_policy *p, const struct al_entry *e);
/* Wait (at most timeout_ms) until every queued line is written: skiffd is stopping. */
void al_flush(int timeout_ms);
/* Lines written, and dropped because the queue was full (the reader of stdout is slow). */
void al_counts(uint64_t *written, uint64_t *dropped);

#endif
