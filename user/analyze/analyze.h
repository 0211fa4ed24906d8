/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `skiffctl analyze`: Istio's analyzers (istioctl analyze) over skiff's model, with Istio's message
 * codes, names, levels and wording, plus skiff's own SKF codes for what only skiff knows (fields
 * parsed but not enforced, CUSTOM denies, pods whose cgroup skiffd cannot find...).
 *
 * The input is loaded leniently (analyze_load.c): a document skiff's validator refuses becomes an
 * IST0106 message and the rest of the configuration is still analyzed, as istioctl does. Every
 * message names its resource and file:line, and says what to do.
 */
#ifndef SKIFF_ANALYZE_H
#define SKIFF_ANALYZE_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"

enum an_level { AN_INFO, AN_WARNING, AN_ERROR };

/* The codes skiff reports (Istio's IST numbers; skiff's own SKF numbers). */
enum an_code {
	IST0101, /* ReferencedResourceNotFound */
	IST0102, /* NamespaceNotInjected (worded for skiff's enrolment label) */
	IST0106, /* SchemaValidationError */
	IST0109, /* ConflictingMeshGatewayVirtualServiceHosts */
	IST0112, /* VirtualServiceDestinationPortSelectorRequired */
	IST0116, /* DeploymentAssociatedToMultipleServices */
	IST0118, /* PortNameIsNotUnderNamingConvention */
	IST0123, /* NamespaceMultipleInjectionLabels */
	IST0127, /* NoMatchingWorkloadsFound */
	IST0130, /* VirtualServiceUnreachableRule */
	IST0131, /* VirtualServiceIneffectiveMatch */
	IST0137, /* DeploymentConflictingPorts */
	IST0167, /* IneffectivePolicy */
	IST0173, /* DestinationRuleSubsetNotSelectPods */
	IST0174, /* UnknownDestinationRuleHost */
	SKF0001, /* FieldNotEnforced */
	SKF0002, /* CustomActionDenies */
	SKF0003, /* L7RuleOnUndeclaredProtocol */
	SKF0004, /* PodCgroupNotFound (--live only) */
	SKF0005, /* KindNotUsed */
	SKF0006, /* SidecarInjectionNotEnrolled */
	SKF0007, /* ValidationWarning */
	SKF0008, /* CompileError: what compiling the node view refuses (limits) */
	SKF0009, /* CompileWarning */
	AN_NCODES
};

struct an_code_def {
	const char *id;	  /* "IST0101" */
	const char *name; /* "ReferencedResourceNotFound" */
	enum an_level level;
};

const struct an_code_def *analyze_code(enum an_code c);
const char *analyze_level_name(enum an_level l); /* "Info", "Warning", "Error" */
/* "info"/"Info", "warning", "error" (any case). Returns 0, or -1 for another word. */
int analyze_level_parse(const char *s, enum an_level *out);

struct an_msg {
	enum an_code code;
	char *kind, *ns, *name; /* origin; ns "" for cluster-scoped objects and files */
	char *file;		/* NULL when the origin has no file (live objects) */
	int line;
	char *text; /* Istio's template, filled in */
	char *fix;  /* what to do; may be NULL */
};

struct an_result {
	struct an_msg *v;
	size_t n;
};

/* Where an analyzer reports. `line` 0 means the resource's own line. */
void analyze_report(struct an_result *r, enum an_code code, const char *kind,
		    const struct meta *origin, int line, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* The same with an explicit origin (files, namespaces named only by their objects). */
void analyze_report_at(struct an_result *r, enum an_code code, const char *kind, const char *ns,
		       const char *name, const char *file, int line, const char *fix,
		       const char *fmt, ...) __attribute__((format(printf, 9, 10)));
void analyze_result_free(struct an_result *r);
void analyze_msg_free(struct an_msg *m);
/* Stable order: file, line, code. */
void analyze_result_sort(struct an_result *r);

/*
 * Lenient load: `paths` (files or directories of manifests, as skiffd reads them) on top of
 * `live` (documents skiffd holds; may be NULL). A file object replaces the live object of the
 * same kind, namespace and name. Documents skiff refuses become IST0106 messages in `r` and are
 * left out (or kept partial, where the parser keeps what it read); warnings become SKF0005 or
 * SKF0007. Returns 0, or -errno when a path cannot be read (named in `err`).
 */
int analyze_load(const char *const *paths, size_t n, struct ydoc_set *live, struct model *m,
		 struct an_result *r, struct diag *err);

/* Turn diagnostics d->v[from..] ("file:line: Kind ns/name: text") into messages of the two
 * codes (SKF0007 warnings saying a kind is skipped become SKF0005). */
void analyze_from_diag(struct diag *d, size_t from, enum an_code err_code, enum an_code warn_code,
		       struct an_result *r);
/* skiffctl analyze (usage in analyze_cli.c). Returns the exit code. */
int analyze_cli(int argc, char **argv, FILE *out, FILE *err);

struct an_index;

/* One analyzer: Istio's name where it has one ("virtualservice.DestinationHostAnalyzer"). */
struct analyzer {
	const char *name;
	void (*run)(const struct model *m, const struct an_index *x, struct an_result *r);
};

extern const struct analyzer analyze_analyzers[];
extern const size_t analyze_nanalyzers;
const struct analyzer *analyze_find(const char *name);
/* One analyzer (`a`), or every analyzer when `a` is NULL. */
void analyze_run(const struct model *m, const struct analyzer *a, struct an_result *r);

/* Output (skiffctl -o). `min` is the output threshold. */
void analyze_print_text(FILE *f, const struct an_result *r, enum an_level min);
int analyze_print_json(FILE *f, const struct an_result *r, enum an_level min);
void analyze_print_yaml(FILE *f, const struct an_result *r, enum an_level min);

#endif
