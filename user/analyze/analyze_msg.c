// SPDX-License-Identifier: Apache-2.0
/*
 * The message codes and the message list. Codes, names and levels are Istio's
 * (pkg/config/analysis/msg/messages.yaml); SKF codes are skiff's own, for what Istio has no code
 * for because only skiff behaves that way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/analyze.h"

static const struct an_code_def codes[AN_NCODES] = {
    [IST0101] = {"IST0101", "ReferencedResourceNotFound", AN_ERROR},
    [IST0102] = {"IST0102", "NamespaceNotInjected", AN_INFO},
    [IST0106] = {"IST0106", "SchemaValidationError", AN_ERROR},
    [IST0109] = {"IST0109", "ConflictingMeshGatewayVirtualServiceHosts", AN_ERROR},
    [IST0112] = {"IST0112", "VirtualServiceDestinationPortSelectorRequired", AN_ERROR},
    [IST0116] = {"IST0116", "DeploymentAssociatedToMultipleServices", AN_WARNING},
    [IST0118] = {"IST0118", "PortNameIsNotUnderNamingConvention", AN_INFO},
    [IST0123] = {"IST0123", "NamespaceMultipleInjectionLabels", AN_WARNING},
    [IST0127] = {"IST0127", "NoMatchingWorkloadsFound", AN_WARNING},
    [IST0130] = {"IST0130", "VirtualServiceUnreachableRule", AN_WARNING},
    [IST0131] = {"IST0131", "VirtualServiceIneffectiveMatch", AN_INFO},
    [IST0137] = {"IST0137", "DeploymentConflictingPorts", AN_WARNING},
    [IST0167] = {"IST0167", "IneffectivePolicy", AN_WARNING},
    [IST0173] = {"IST0173", "DestinationRuleSubsetNotSelectPods", AN_ERROR},
    [IST0174] = {"IST0174", "UnknownDestinationRuleHost", AN_WARNING},
    [SKF0001] = {"SKF0001", "FieldNotEnforced", AN_WARNING},
    [SKF0002] = {"SKF0002", "CustomActionDenies", AN_WARNING},
    [SKF0003] = {"SKF0003", "L7RuleOnUndeclaredProtocol", AN_WARNING},
    [SKF0004] = {"SKF0004", "PodCgroupNotFound", AN_WARNING},
    [SKF0005] = {"SKF0005", "KindNotUsed", AN_INFO},
    [SKF0006] = {"SKF0006", "SidecarInjectionNotEnrolled", AN_WARNING},
    [SKF0007] = {"SKF0007", "ValidationWarning", AN_WARNING},
    [SKF0008] = {"SKF0008", "CompileError", AN_ERROR},
    [SKF0009] = {"SKF0009", "CompileWarning", AN_WARNING},
};

static const char *const level_names[] = {"Info", "Warning", "Error"};

const struct an_code_def *analyze_code(enum an_code c)
{
	return &codes[c];
}

const char *analyze_level_name(enum an_level l)
{
	return level_names[l];
}

int analyze_level_parse(const char *s, enum an_level *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum an_level)i;
			return 0;
		}
	return -1;
}

static char *xstrdup(const char *s)
{
	char *r = strdup(s ? s : "");

	if (!r)
		abort();
	return r;
}

static void report_v(struct an_result *r, enum an_code code, const char *kind, const char *ns,
		     const char *name, const char *file, int line, const char *fix, const char *fmt,
		     va_list ap)
{
	struct an_msg *m;

	r->v = realloc(r->v, (r->n + 1) * sizeof(*r->v));
	if (!r->v)
		abort();
	m = &r->v[r->n++];
	m->code = code;
	m->kind = xstrdup(kind);
	m->ns = xstrdup(ns);
	m->name = xstrdup(name);
	m->file = file ? xstrdup(file) : NULL;
	m->line = line;
	m->fix = fix ? xstrdup(fix) : NULL;
	if (vasprintf(&m->text, fmt, ap) < 0)
		abort();
}

void analyze_report(struct an_result *r, enum an_code code, const char *kind,
		    const struct meta *origin, int line, const char *fix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(r, code, kind, origin->ns, origin->name, origin->file, line ? line : origin->line,
		 fix, fmt, ap);
	va_end(ap);
}

void analyze_report_at(struct an_result *r, enum an_code code, const char *kind, const char *ns,
		       const char *name, const char *file, int line, const char *fix,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(r, code, kind, ns, name, file, line, fix, fmt, ap);
	va_end(ap);
}

static int msg_cmp(const void *pa, const void *pb)
{
	const struct an_msg *a = pa, *b = pb;
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");

	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return strcmp(codes[a->code].id, codes[b->code].id);
}

void analyze_result_sort(struct an_result *r)
{
	/* qsort is not stable: equal keys keep no order, which only affects same-line pairs */
	if (r->n > 1)
		qsort(r->v, r->n, sizeof(*r->v), msg_cmp);
}

void analyze_msg_free(struct an_msg *m)
{
	free(m->kind);
	free(m->ns);
	free(m->name);
	free(m->file);
	free(m->text);
	free(m->fix);
}

void analyze_result_free(struct an_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		analyze_msg_free(&r->v[i]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}
