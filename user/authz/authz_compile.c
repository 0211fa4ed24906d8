// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy rules, compiled once from the model's YAML trees into matchers
 * (authz_internal.h), so that evaluating a request never walks YAML or parses a CIDR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_internal.h"

#define AZ_PATH_LEN 256

static void az_entry_free(struct az_entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		az_field_free(&e->f[i]);
	free(e->f);
}

void az_rule_free(struct az_rule *r)
{
	for (size_t i = 0; i < r->nfrom; i++)
		az_entry_free(&r->from[i]);
	for (size_t i = 0; i < r->nto; i++)
		az_entry_free(&r->to[i]);
	for (size_t i = 0; i < r->nwhen; i++)
		az_field_free(&r->when[i]);
	free(r->from);
	free(r->to);
	free(r->when);
	memset(r, 0, sizeof(*r));
}

static void az_rule_note(struct az_rule *r, const struct az_field *f)
{
	r->has_http |= f->http_only;
	r->has_unknowable |= f->attr == AZ_UNKNOWABLE;
	r->has_l4 |= !f->http_only && f->attr != AZ_UNKNOWABLE;
}

/* One source or operation: every key becomes a field (ANDed). */
static int az_entry_compile(struct az_cc *c, struct az_rule *r, const struct ynode *map,
			    bool operation, const char *path, struct az_entry *e)
{
	char p[AZ_PATH_LEN];
	struct az_field f;
	int rc;

	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++) {
		az_pathf(p, sizeof(p), "%s.%s", path, map->keys[i]);
		rc = az_field_from_key(c, map->keys[i], map->items[i], operation, p, &f);
		if (rc < 0)
			return -EINVAL;
		if (rc == 0)
			continue;
		az_rule_note(r, &f);
		*(struct az_field *)az_push(&e->f, &e->n, sizeof(f)) = f;
	}
	return 0;
}

/* from[] or to[]: entries ORed. */
static int az_section_compile(struct az_cc *c, struct az_rule *r, const struct ynode *rule,
			      bool operation, const char *path)
{
	const char *key = operation ? "to" : "from", *inner = operation ? "operation" : "source";
	const struct ynode *seq = ynode_get(rule, key);
	struct az_entry **v = operation ? &r->to : &r->from;
	size_t *n = operation ? &r->nto : &r->nfrom;
	char p[AZ_PATH_LEN];

	if (!seq || seq->kind != YNODE_SEQ)
		return 0;
	for (size_t i = 0; i < seq->n; i++) {
		struct az_entry *e = az_push(v, n, sizeof(**v));

		az_pathf(p, sizeof(p), "%s.%s[%zu].%s", path, key, i, inner);
		if (az_entry_compile(c, r, ynode_get(seq->items[i], inner), operation, p, e) < 0)
			return -EINVAL;
	}
	return 0;
}

static int az_when_compile(struct az_cc *c, struct az_rule *r, const struct ynode *rule,
			   const char *path)
{
	const struct ynode *seq = ynode_get(rule, "when");
	char p[AZ_PATH_LEN];
	struct az_field f;

	if (!seq || seq->kind != YNODE_SEQ)
		return 0;
	for (size_t i = 0; i < seq->n; i++) {
		az_pathf(p, sizeof(p), "%s.when[%zu]", path, i);
		if (az_field_from_condition(c, seq->items[i], p, &f) < 0)
			return -EINVAL;
		az_rule_note(r, &f);
		*(struct az_field *)az_push(&r->when, &r->nwhen, sizeof(f)) = f;
	}
	return 0;
}

static int az_rule_compile(struct az_cc *c, const struct ynode *rule, size_t idx, struct az_rule *r)
{
	char path[AZ_PATH_LEN];

	az_pathf(path, sizeof(path), "spec.rules[%zu]", idx);
	r->line = rule->line;
	if (rule->kind != YNODE_MAP) {
		az_report(c, DIAG_ERROR, rule, "%s must be a mapping", path);
		return -EINVAL;
	}
	if (az_section_compile(c, r, rule, false, path) < 0 ||
	    az_section_compile(c, r, rule, true, path) < 0 || az_when_compile(c, r, rule, path) < 0)
		return -EINVAL;
	/* Istio's validation warns here too: such a rule is rarely meant to
	 * refuse every TCP connection, yet that is what it does. */
	if (c->ap->action == AUTHZ_DENY && r->has_http && !r->has_l4)
		az_report(c, DIAG_WARN, rule,
			  "%s uses only HTTP attributes: on TCP traffic they do not exist, so this "
			  "DENY rule refuses every TCP connection to the workloads it selects; add "
			  "ports (or a source) to say which traffic it is for",
			  path);
	return 0;
}

/* What skiff does differently from Istio for this action, said once per policy. */
static void az_warn_action(struct az_cc *c)
{
	const struct m_authorizationpolicy *ap = c->ap;

	if (ap->action == AUTHZ_CUSTOM)
		az_report(c, DIAG_WARN, NULL,
			  "action CUSTOM: skiff has no ext-authz client for provider \"%s\"; "
			  "requests its rules match are DENIED, others are unaffected",
			  ap->provider ? ap->provider : "");
	else if (ap->action == AUTHZ_AUDIT)
		az_report(c, DIAG_WARN, NULL,
			  "action AUDIT: skiff writes no audit log; the policy is evaluated and "
			  "reported by `skiffctl authz check`, and never changes a decision");
}

static int az_policy_compile(struct az_cc *c, struct az_policy *p)
{
	const struct ynode *rules = c->ap->rules;

	p->ap = c->ap;
	az_warn_action(c);
	for (size_t i = 0; rules && rules->kind == YNODE_SEQ && i < rules->n; i++) {
		struct az_rule *r = az_push(&p->rules, &p->nrules, sizeof(*r));

		if (az_rule_compile(c, rules->items[i], i, r) < 0)
			return -EINVAL;
	}
	return 0;
}

int authz_compile(const struct model *m, const struct authz_options *opt, struct authz_set **out,
		  struct diag *d)
{
	struct authz_set *s = calloc(1, sizeof(*s));
	size_t errors = 0;

	if (!s)
		abort();
	s->root_ns = m->root_namespace;
	s->path_norm = opt ? opt->path_norm : AUTHZ_PATH_BASE;
	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		struct az_cc c = {.ap = &m->authorizationpolicies[i], .d = d};
		struct az_policy *p = az_push(&s->v, &s->n, sizeof(*p));

		az_policy_compile(&c, p);
		errors += c.errors;
	}
	if (errors) {
		authz_set_free(s);
		s = NULL;
	}
	*out = s;
	return errors ? -EINVAL : 0;
}

void authz_set_free(struct authz_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < s->v[i].nrules; j++)
			az_rule_free(&s->v[i].rules[j]);
		free(s->v[i].rules);
	}
	free(s->v);
	free(s);
}

enum authz_path_norm authz_set_path_norm(const struct authz_set *s)
{
	return s ? s->path_norm : AUTHZ_PATH_BASE;
}
