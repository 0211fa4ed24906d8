/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AuthorizationPolicy evaluation with Istio's semantics (its API and pilot/pkg/security/authz):
 * one evaluator for every place skiff decides (kernel map compiler, skiffd per request,
 * `skiffctl authz check`).
 *
 * authz_compile() turns the model's policies (rules validated by the model, kept as YAML trees)
 * into matchers once; authz_evaluate() answers one request. A set points into the model it was
 * compiled from (names, selectors, file names): free the set before the model.
 *
 * Where skiff cannot do what Istio does, it fails closed and says so at compile time:
 *   - CUSTOM: there is no ext-authz client, so a request that a CUSTOM rule matches is DENIED
 *     ("CUSTOM provider ... not supported"); requests it does not match are unaffected, as in
 *     Istio, where only matched requests go to the provider.
 *   - requestPrincipals, request.auth.*: skiff validates no JWT (RequestAuthentication is not
 *     read), so these attributes are always absent: values never match, notValues always do,
 *     exactly as Istio treats a request that carries no validated token.
 *   - experimental.envoy.filters.* (Envoy metadata skiff does not have): an ALLOW rule using it
 *     never matches; in DENY, CUSTOM and AUDIT rules the condition is removed (denies more).
 */
#ifndef SKIFF_AUTHZ_H
#define SKIFF_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/diag.h"
#include "model/model.h"

struct authz_set;

/*
 * How request paths are normalised before `paths` are matched (Istio meshConfig
 * pathNormalization). BASE is Istio's default: RFC 3986 (percent-encoded unreserved characters
 * decoded, `.` and `..` resolved), slashes kept as sent, so `/store//cart` stays two segments.
 */
enum authz_path_norm {
	AUTHZ_PATH_BASE = 0,
	AUTHZ_PATH_MERGE_SLASHES, /* BASE, then `//` becomes `/` */
};

struct authz_options {
	enum authz_path_norm path_norm;
};

struct authz_header {
	const char *name; /* matched case-insensitively */
	const char *value;
};

/* One request (HTTP) or connection (tcp = true) as the destination workload sees it. */
struct authz_request {
	/* Peer identity from mTLS or the kernel: "spiffe://td/ns/NS/sa/SA". NULL or "" means
	 * plaintext: no principal, namespace, service account or trust domain (Istio derives all
	 * four from the principal, so they are not separate inputs). */
	const char *principal;
	const char *source_ip; /* peer address, IPv4 or IPv6 text; NULL when unknown */
	const char *remote_ip; /* original client (XFF, proxy protocol); NULL: same as source_ip */
	const char *dest_ip;   /* the workload's address */
	uint16_t dest_port;    /* the workload (target) port, not the Service port */
	const char *sni;       /* connection.sni; NULL when the client sent none */
	bool tcp;	       /* L4 only: HTTP attributes do not exist */
	/* HTTP only (ignored when tcp) */
	const char *host;   /* Host / :authority as sent */
	const char *method; /* "GET" */
	const char *path;   /* as sent, query string included; normalised by the evaluator */
	const struct authz_header *headers;
	size_t nheaders;
};

/* The destination workload: policies apply by its namespace and labels. */
struct authz_workload {
	const char *ns;
	const struct labels *labels;
};

enum authz_reason {
	AUTHZ_DEFAULT_ALLOW,	  /* no DENY/CUSTOM matched and no ALLOW policy applies */
	AUTHZ_ALLOW_RULE,	  /* an ALLOW rule matched */
	AUTHZ_DENY_RULE,	  /* a DENY rule matched */
	AUTHZ_CUSTOM_UNSUPPORTED, /* a CUSTOM rule matched; skiff has no ext-authz: deny */
	AUTHZ_NO_ALLOW_MATCH,	  /* ALLOW policies apply and none matched */
};

struct authz_decision {
	bool allow;
	enum authz_reason reason;
	const struct m_authorizationpolicy *policy; /* the one that decided; NULL otherwise */
	int rule;				    /* index in its spec.rules, -1 when none */
	int rule_line;				    /* line of that rule in policy->meta.file */
	size_t nallow;				    /* ALLOW policies that apply to the workload */
	/* The first AUDIT rule that matched: reported, never changes the decision. */
	const struct m_authorizationpolicy *audit;
	int audit_rule;
};

/*
 * Compile every AuthorizationPolicy of `m`. `opt` NULL means Istio's defaults. Problems the model
 * does not already reject are reported to `d` as "file:line: AuthorizationPolicy ns/name: ..."
 * (warnings for what skiff treats differently, see above). Returns 0, or -EINVAL with errors in
 * `d` and *out NULL.
 */
int authz_compile(const struct model *m, const struct authz_options *opt, struct authz_set **out,
		  struct diag *d);
void authz_set_free(struct authz_set *s);
enum authz_path_norm authz_set_path_norm(const struct authz_set *s);

/*
 * The request target a decided request is forwarded with: the path exactly as the evaluator
 * matched it (normalised by `norm`), then the query string as sent. The pod must see what the
 * policy approved, not the raw `/public/../admin`, as Envoy forwards the normalised path under
 * Istio's default. NULL when `raw` is not an origin-form path ('/' first) or carries a fragment
 * ('#'), which Envoy refuses. Caller frees.
 */
char *authz_path_forward(const char *raw, enum authz_path_norm norm);

/* Decide one request for workload `wl`. Never fails: a request it cannot parse (a bad IP text)
 * simply does not match the attributes it lacks. */
void authz_evaluate(const struct authz_set *s, const struct authz_workload *wl,
		    const struct authz_request *rq, struct authz_decision *out);

/* What a workload's policies need from the data path (authz_summary.c). */
#define AUTHZ_INFO_MAX_PORTS 64
struct authz_workload_info {
	size_t npolicies; /* CUSTOM, DENY and ALLOW policies that apply (AUDIT is not counted) */
	bool http;	  /* a rule has HTTP-only fields: HTTP traffic is decided per request */
	bool source_ip;	  /* a rule looks at the source or remote address */
	uint16_t ports[AUTHZ_INFO_MAX_PORTS]; /* every destination port a rule names */
	size_t nports;
	bool ports_overflow; /* more than AUTHZ_INFO_MAX_PORTS: decide per connection instead */
};
void authz_workload_info(const struct authz_set *s, const struct authz_workload *wl,
			 struct authz_workload_info *out);

/* "ALLOW: AuthorizationPolicy payments/p rules[0] (file:line)", "DENY: no ALLOW policy matched
 * (1 ALLOW policy applies)", ... Returns what snprintf returns. */
int authz_decision_format(const struct authz_decision *dec, char *buf, size_t len);

/*
 * `skiffctl authz check DIR --to NS/NAME ...` (argv[0] is DIR): load DIR like skiffd, build the
 * request, evaluate, print. Returns the exit code: 0 ALLOW, 1 DENY, 2 usage or config error.
 */
int authz_cli_check(int argc, char **argv, FILE *out, FILE *err);

#endif
