/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks shared by the Istio kind parsers (model_istio_*.c). Private to the model module.
 * The p*-style helpers follow parse.h's contract: they report problems with perr()/pwarn()
 * (location, object, what to do) and return 1 present and valid, 0 absent, -1 on error.
 */
#ifndef SKIFF_MODEL_ISTIO_COMMON_H
#define SKIFF_MODEL_ISTIO_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model/parse.h"

/* Format a field path ("spec.http[0].route") into buf; returns buf. */
static inline __attribute__((format(printf, 3, 4))) const char *pathf(char *buf, size_t n,
								      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return buf;
}

/* Host as written in VirtualService/DestinationRule: an IP, or a DNS name whose first label may
 * be a wildcard ("*", "*.example.com", "*foo.example.com"). `*` alone only when allow_star. */
bool istio_host_valid(const char *h, bool allow_star);
/* Istio's host.Name.Matches: equal, or one is a wildcard whose suffix covers the other. */
bool istio_hosts_overlap(const char *a, const char *b);
/* True when `inner` (maybe wildcard) is within `outer` (maybe wildcard). */
bool istio_host_within(const char *inner, const char *outer);
/* "ns/name" (DNS-1123 labels) or a legacy name/FQDN (FQDN gives a warning). */
void istio_check_gateway_name(struct pctx *c, const struct ynode *at, const char *name,
			      const char *path);
/* exportTo: ".", "*", "~" or namespace names. True when it restricts visibility (anything but
 * absent or ["*"]), which skiff does not enforce yet. */
bool istio_check_export_to(struct pctx *c, const struct ynode *spec, const char *path);

/* Regex check: RE2 syntax, as Istio requires (model_regex.h gives the reason when not). */
bool istio_regex_valid(const char *re);
/* An AuthorizationPolicy `paths` value: NULL when valid, else what is wrong. Templates: {*} and
 * {**} only as whole segments, nothing templated after {**} (the authz fuzz target matches only
 * the templates this accepts, as skiffd does). */
const char *istio_authz_path_problem(const char *v);
/* HTTP header name: RFC 7230 token characters (a leading ':' for pseudo-headers allowed). */
bool istio_header_name_valid(const char *name);
/* IPv4/IPv6 address or CIDR ("10.0.0.0/8", "2001:db8::/32"), prefix within the family. */
bool istio_ip_or_cidr_valid(const char *s);
/* A gRPC status by its name as Istio's grpcStatus spells it ("UNAVAILABLE": 14), -1 for any
 * other text. The validator and the router read names through this one table. */
int istio_grpc_code(const char *name);
/* One retryOn token: Envoy/Istio condition names or an HTTP status code 100..599. */
bool istio_retry_on_valid(const char *tok);
/* Kubernetes label key (optional DNS prefix + '/' + name) and value. */
bool istio_label_key_valid(const char *k);
bool istio_label_value_valid(const char *v);
/* Strip leading/trailing blanks in place; returns the start. */
char *istio_trim(char *s);

/* A YAML number (unquoted scalar, integer or decimal) as a double. */
int istio_number(struct pctx *c, const struct ynode *map, const char *key, double *out,
		 const char *path);
/* Istio Percent.value: 0, or 0.0001..100. */
int istio_percent(struct pctx *c, const struct ynode *map, const char *key, const char *path);
/* An enum scalar: returns the index in `allowed` (NULL-terminated), -ENOENT absent, -EINVAL
 * wrong (reported with the list of allowed values). */
int istio_check_enum(struct pctx *c, const struct ynode *map, const char *key,
		     const char *const *allowed, const char *path);
/* Optional scalar that must be a DNS-1123 label (namespace names). */
void istio_check_label_field(struct pctx *c, const struct ynode *map, const char *key,
			     const char *path);
/* L4 match of a tcp/tls route (port, sourceLabels, subnets...). sniHosts is left to the caller.
 * Returns false when `m` is not a mapping. *port_out (may be NULL): the port, 0 when absent,
 * -1 when invalid. */
bool istio_l4_match(struct pctx *c, const struct ynode *m, const char *path, bool tls,
		    int64_t *port_out);

void istio_strlist_free(char **v, size_t n);

/* model_tel_tracing.c: Telemetry spec.tracing into t->tracing (seq: the list, NULL: absent). */
void parse_tel_tracing(struct pctx *c, struct m_telemetry *t, const struct ynode *seq);
void free_tel_tracing(struct m_tel_tracing *t);

#endif
