/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiled form of AuthorizationPolicy rules, private to user/authz.
 *
 * A rule is from[] (OR) AND to[] (OR) AND when[] (AND). Each from/to entry is a list of fields
 * that must all match; a `when` condition is one field. A field is one attribute with an `in`
 * list (values, principals, paths, ...: any may match) and/or an `out` list (notValues,
 * notPrincipals, ...: none may match). `principals` and `notPrincipals` of one source become two
 * fields, which gives the same AND.
 */
#ifndef SKIFF_AUTHZ_INTERNAL_H
#define SKIFF_AUTHZ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz/authz.h"

/* What a field looks at. Identity attributes are all read from the peer principal. */
enum az_attr {
	AZ_PRINCIPAL,	    /* "td/ns/NS/sa/SA" (spiffe:// removed) */
	AZ_NAMESPACE,	    /* NS of the principal */
	AZ_SERVICE_ACCOUNT, /* "NS/SA" of the principal */
	AZ_TRUST_DOMAIN,    /* td of the principal */
	AZ_SOURCE_IP,
	AZ_REMOTE_IP,
	AZ_DEST_IP,
	AZ_DEST_PORT,
	AZ_SNI,
	AZ_HOST,
	AZ_METHOD,
	AZ_PATH,
	AZ_HEADER,	 /* field->key is the header name */
	AZ_REQUEST_AUTH, /* requestPrincipals, request.auth.*: never present in skiff */
	AZ_UNKNOWABLE,	 /* experimental.envoy.filters.*: skiff cannot know it */
};

/* How one value matches (Istio's string forms; templates for paths; CIDRs; ports). */
enum az_form {
	AZ_EXACT,
	AZ_PREFIX,   /* "abc*" */
	AZ_SUFFIX,   /* "*abc" */
	AZ_PRESENT,  /* "*" */
	AZ_TEMPLATE, /* path with {*} or {**} */
	AZ_CIDR,
	AZ_PORT,
};

struct az_cidr {
	int family; /* 4 or 6 */
	uint8_t addr[16];
	int bits;
};

struct az_value {
	enum az_form form;
	char *text; /* EXACT/PREFIX/SUFFIX: the part to compare; TEMPLATE: the template */
	struct az_cidr cidr;
	uint16_t port;
};

struct az_field {
	enum az_attr attr;
	char *key; /* AZ_HEADER: header name */
	struct az_value *in, *out;
	size_t nin, nout;
	bool http_only; /* does not exist for TCP traffic */
};

struct az_entry {
	struct az_field *f;
	size_t n;
};

struct az_rule {
	struct az_entry *from, *to;
	size_t nfrom, nto; /* 0: section absent, which matches */
	struct az_field *when;
	size_t nwhen;
	bool has_http;	     /* some field is HTTP-only */
	bool has_unknowable; /* some field is AZ_UNKNOWABLE */
	bool has_l4;	     /* some field exists for TCP traffic too */
	int line;
};

struct az_policy {
	const struct m_authorizationpolicy *ap;
	struct az_rule *rules;
	size_t nrules;
};

struct authz_set {
	struct az_policy *v;
	size_t n;
	const char *root_ns; /* the model's */
	enum authz_path_norm path_norm;
};

/* The request with every attribute extracted once (authz_attrs.c). */
struct az_ip {
	bool ok;
	int family;
	uint8_t addr[16];
};

#define AZ_NAME_MAX 254 /* a DNS name, the longest namespace or trust domain we read */

struct az_attrs {
	const struct authz_request *rq;
	const char *principal; /* spiffe:// removed; NULL when plaintext */
	char ns[AZ_NAME_MAX], sa[2 * AZ_NAME_MAX], td[AZ_NAME_MAX];
	bool has_ns, has_sa, has_td;
	struct az_ip src, remote, dst;
	char *path; /* normalised, query removed; NULL for TCP */
};

/* authz_eval.c: does policy `ap` apply to workload `wl` (namespace scope, selector)? */
bool az_applies(const struct authz_set *s, const struct m_authorizationpolicy *ap,
		const struct authz_workload *wl);

/* ---- authz_value.c: values ---- */
/* Parse an Istio string form ("abc", "abc*", "*abc", "*") into v (text owned). */
void az_value_string(struct az_value *v, const char *s);
/* "10.0.0.0/8", "1.2.3.4", "2001:db8::/32" into v; false when not an address. */
bool az_value_cidr(struct az_value *v, const char *s);
bool az_ip_parse(const char *s, struct az_ip *out);
bool az_cidr_match(const struct az_cidr *c, const struct az_ip *ip);
/* String forms against `s` (NULL: absent). `fold` compares case-insensitively (hosts). */
bool az_string_match(const struct az_value *v, const char *s, bool fold);

/* ---- authz_path.c: request paths ---- */
/* The path Istio matches: query and fragment removed, normalised. Caller frees. */
char *az_path_normalize(const char *raw, enum authz_path_norm norm);
/* A path template ({*} one non-empty segment, {**} zero or more) against a normalised path. */
bool az_path_template_match(const char *tmpl, const char *path);

/* ---- authz_attrs.c: the request side ---- */
void az_attrs_init(struct az_attrs *a, const struct authz_request *rq, enum authz_path_norm norm);
void az_attrs_free(struct az_attrs *a);
/* True when the field holds for the request (the in list matches, the out list does not). */
bool az_field_match(const struct az_field *f, const struct az_attrs *a);

/* ---- authz_match.c: rules under each action, TCP treatment ---- */
bool az_rule_match(const struct az_rule *r, enum m_authz_action action, const struct az_attrs *a);

/* ---- authz_field.c: YAML -> fields (authz_compile.c walks the rules) ---- */
struct az_cc {
	const struct m_authorizationpolicy *ap;
	struct diag *d;
	size_t errors;
};

void az_report(struct az_cc *c, enum diag_level lvl, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One key of a source (operation = false) or operation with its list. Returns 1 when *out was
 * filled, 0 for a key to skip (unknown: the model warned; or an empty list), -1 on error. */
int az_field_from_key(struct az_cc *c, const char *key, const struct ynode *list, bool operation,
		      const char *path, struct az_field *out);
/* One `when` condition. Same return contract. */
int az_field_from_condition(struct az_cc *c, const struct ynode *cond, const char *path,
			    struct az_field *out);
void az_field_free(struct az_field *f);
/* Field path for messages ("spec.rules[0].from[1].source"); truncated when longer than buf. */
const char *az_pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append a zeroed element to a growable array (aborts on OOM). */
void *az_push(void *arr, size_t *n, size_t elem);

#endif
