/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the per-kind parsers (model_k8s_*.c, model_istio_*.c). Every helper that finds
 * a problem reports it once, with the location and the object:
 *   "payments.yaml:14: VirtualService payments/payments-api: weight -5 must be >= 0"
 * and bumps c->errors, so a parser can finish the document and report every problem at once.
 */
#ifndef SKIFF_MODEL_PARSE_H
#define SKIFF_MODEL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"

/* The document being parsed. */
struct pctx {
	struct model *m;
	struct diag *d;
	const struct ynode *doc;
	const char *kind; /* "VirtualService" */
	const char *ns;	  /* metadata.namespace ("default" when absent, "" when cluster-scoped) */
	const char *name; /* metadata.name, or "<unnamed>" */
	int errors;
};

void perr(struct pctx *c, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pwarn(struct pctx *c, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Fetch map[key] and check its kind. Missing + required -> error "<key> is required";
 * wrong kind -> error "<key> must be a <kind>, not a <kind>". Returns NULL in both cases.
 * `path` is the field path used in messages ("spec.http[0].route"); NULL means `key`.
 */
const struct ynode *pget(struct pctx *c, const struct ynode *map, const char *key,
			 enum ynode_kind want, bool required, const char *path);
/* Scalar as an owned string (strdup). NULL when absent (error when required). */
char *pstr(struct pctx *c, const struct ynode *map, const char *key, bool required,
	   const char *path);
/* Integer in [min, max]. Returns 1 when present and valid, 0 when absent, -1 on error. A quoted
 * scalar ("90") is an error, as it is for the Kubernetes API server. */
int pint(struct pctx *c, const struct ynode *map, const char *key, int64_t min, int64_t max,
	 int64_t *out, const char *path);
/* true/false. Same return contract as pint. */
int pbool(struct pctx *c, const struct ynode *map, const char *key, bool *out, const char *path);
/* Istio duration ("2s", "150ms", "1.5s", "1m", "1h"): must be >= 1ms with ms precision
 * (as Istio validates durations). Same return contract as pint; *ms in milliseconds. */
int pduration(struct pctx *c, const struct ynode *map, const char *key, int64_t *ms,
	      const char *path);
/* The same rules on a plain string (a flag's value): 0 with *ms set; -1 not a duration, -2 under
 * 1ms, -3 not a whole number of milliseconds. */
int duration_ms_parse(const char *s, int64_t *ms);
/* A map of string -> string (labels, selectors). Absent -> empty, returns 0; error -> -1. */
int plabels(struct pctx *c, const struct ynode *map, const char *key, struct labels *out,
	    const char *path);
/* A sequence of scalars as owned strings. Same contract as plabels; on an error the list is
 * empty (nothing to free). */
int pstrlist(struct pctx *c, const struct ynode *map, const char *key, char ***out, size_t *n,
	     const char *path);
/* Warn once per unknown key of `map`: "<path>.<key>: unknown field, ignored". `known` ends with
 * NULL. */
void punknown(struct pctx *c, const struct ynode *map, const char *const *known, const char *path);
/* Record a field that is parsed and valid but not enforced yet; skiffd warns once about it. */
void punenforced(struct pctx *c, struct m_unenforced **v, size_t *n, const struct ynode *at,
		 const char *field);

/* "TCP"/"UDP"/"SCTP" -> IPPROTO_*; absent -> TCP. Same contract as pint. */
int pproto(struct pctx *c, const struct ynode *map, const char *key, uint8_t *out,
	   const char *path);

/* IP address text at `at` (already fetched). family 4 or 6 requires that family, 0 accepts both.
 * Returns 4 or 6, or -1 after reporting "<path> \"x\" is not an IPv4 address". */
int pip(struct pctx *c, const struct ynode *at, int family, const char *path);

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
bool dns1123_label(const char *s);
/* RFC 1123 subdomain: labels joined by dots, at most 253 characters. */
bool dns1123_subdomain(const char *s);

/* Growable arrays: PUSH(m->pods, m->npods) returns a zeroed new element (aborts on OOM). */
void *parray_push(void **arr, size_t *n, size_t elem);
#define PUSH(arr, n) ((__typeof__(&(arr)[0]))parray_push((void **)&(arr), &(n), sizeof((arr)[0])))

void labels_free(struct labels *l);
void meta_free(struct meta *m);

/* Per-kind entry points, called by model_add_doc with c->kind set. Return 0 or -EINVAL. */
int parse_namespace(struct pctx *c);
int parse_serviceaccount(struct pctx *c);
int parse_pod(struct pctx *c);
int parse_service(struct pctx *c);
int parse_endpointslice(struct pctx *c);
int parse_virtualservice(struct pctx *c);
int parse_destinationrule(struct pctx *c);
int parse_peerauthentication(struct pctx *c);
int parse_authorizationpolicy(struct pctx *c);
/* model_mesh_tracing.c: the tracing part of a meshConfig mapping (the IstioOperator's reader
 * calls it once it has checked there is a single meshConfig). */
void parse_mesh_tracing(struct pctx *c, const struct ynode *meshconfig);
void model_mesh_tracing_init(struct m_mesh_tracing *t);
void model_mesh_tracing_free(struct m_mesh_tracing *t);
int parse_telemetry(struct pctx *c);
int parse_istiooperator(struct pctx *c);
int parse_configmap(struct pctx *c);

/* Parse metadata into `out` (name required; namespace defaults to "default" when namespaced). */
int pmeta(struct pctx *c, struct meta *out, bool namespaced);

/* Build (or rebuild) the name indexes of `m` (model_validate() calls it). */
void model_index_build(struct model *m);
void model_index_free(struct model *m);

/* Free the per-kind arrays (each kind's parser file provides its own). */
void free_k8s_resources(struct model *m);
void free_istio_resources(struct model *m);
/* model_istio_telemetry.c, model_istio_mesh.c */
void free_telemetry_resources(struct model *m);
void free_mesh_config(struct model *m);
/* Cross-resource validation of Istio kinds (VS hosts unique across VSs of a namespace is NOT an
 * Istio error; subset references are checked by the compiler). */
int validate_istio(struct model *m, struct diag *d);

#endif
