// SPDX-License-Identifier: Apache-2.0
/*
 * `skiffctl authz check DIR --to NS/NAME ...`: "would this request be allowed?", answered by the
 * same model loader and evaluator skiffd uses. The destination is a Pod, or a Service (then the
 * first Pod it selects, or, when the directory has no Pods, a workload carrying exactly the
 * Service's selector labels). The source is a SPIFFE ID, a Pod (its service account and address)
 * or nothing (plaintext).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"

#define CLI_MAX_HEADERS 32

struct cli_args {
	const char *dir, *to, *from, *from_pod, *method, *path, *host, *sni, *source_ip;
	const char *trust_domain;
	long port;
	bool tcp;
	struct authz_header headers[CLI_MAX_HEADERS];
	size_t nheaders;
	char *header_buf[CLI_MAX_HEADERS];
};

/* The destination as resolved from --to. */
struct cli_target {
	const char *kind; /* "pod" or "service" */
	const struct m_pod *pod;
	const struct m_service *svc;
	struct authz_workload wl;
	uint16_t port;
	char *principal; /* --from-pod's SPIFFE ID (owned) */
};

static void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: skiffctl authz check DIR --to NS/POD|NS/SERVICE\n"
		"           [--from spiffe://TD/ns/NS/sa/SA | --from-pod NS/POD] [--port N]\n"
		"           [--method M] [--path P] [--host H] [--header NAME=VALUE]... [--tcp]\n"
		"           [--source-ip IP] [--sni NAME] [--trust-domain TD]\n"
		"  --port is the workload (target) port; without --from/--from-pod the request is\n"
		"  plaintext. Exit 0 ALLOW, 1 DENY, 2 usage or config error.\n");
}

static int cli_header(struct cli_args *a, const char *kv, FILE *err)
{
	char *copy, *eq;

	if (a->nheaders == CLI_MAX_HEADERS || !(eq = strchr(kv, '=')) || eq == kv) {
		fprintf(err, "skiffctl authz check: --header wants NAME=VALUE (at most %d): '%s'\n",
			CLI_MAX_HEADERS, kv);
		return -EINVAL;
	}
	copy = strdup(kv);
	if (!copy)
		abort();
	copy[eq - kv] = '\0';
	a->header_buf[a->nheaders] = copy;
	a->headers[a->nheaders++] = (struct authz_header){copy, copy + (eq - kv) + 1};
	return 0;
}

static int cli_port(struct cli_args *a, const char *s, FILE *err)
{
	char *end;

	a->port = strtol(s, &end, 10);
	if (*s && !*end && a->port >= 1 && a->port <= 65535)
		return 0;
	fprintf(err, "skiffctl authz check: --port '%s' is not a port between 1 and 65535\n", s);
	return -EINVAL;
}

/* Options that take a value: name -> field of cli_args. */
static const char **cli_string_opt(struct cli_args *a, const char *name)
{
	static const char *const names[] = {"--to",	      "--from", "--from-pod", "--method",
					    "--path",	      "--host", "--sni",      "--source-ip",
					    "--trust-domain", NULL};
	const char **fields[] = {&a->to,   &a->from, &a->from_pod,  &a->method,	     &a->path,
				 &a->host, &a->sni,  &a->source_ip, &a->trust_domain};

	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], name))
			return fields[i];
	return NULL;
}

static int cli_parse(int argc, char **argv, struct cli_args *a, FILE *err)
{
	const char **field;
	int rc = 0;

	a->dir = argc > 0 && argv[0][0] != '-' ? argv[0] : NULL;
	for (int i = a->dir ? 1 : 0; i < argc && rc == 0; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(opt, "--tcp")) {
			a->tcp = true;
			continue;
		}
		if (!val) {
			fprintf(err, "skiffctl authz check: %s needs a value\n", opt);
			return -EINVAL;
		}
		i++;
		if ((field = cli_string_opt(a, opt))) {
			*field = val;
		} else if (!strcmp(opt, "--port")) {
			rc = cli_port(a, val, err);
		} else if (!strcmp(opt, "--header")) {
			rc = cli_header(a, val, err);
		} else {
			fprintf(err, "skiffctl authz check: unknown option '%s'\n", opt);
			rc = -EINVAL;
		}
	}
	return rc;
}

/* Combinations that would make the answer meaningless. */
static int cli_check_args(const struct cli_args *a, FILE *err)
{
	const char *why = NULL;

	if (!a->dir)
		why = "DIR (the config directory) is required";
	else if (!a->to || !strchr(a->to, '/'))
		why = "--to NS/POD or NS/SERVICE is required";
	else if (a->from && a->from_pod)
		why = "use --from or --from-pod, not both";
	else if (a->from_pod && !strchr(a->from_pod, '/'))
		why = "--from-pod wants NS/POD";
	else if (a->from && strncmp(a->from, "spiffe://", 9))
		why = "--from wants a SPIFFE ID: spiffe://TRUST-DOMAIN/ns/NS/sa/SA";
	else if (a->tcp && (a->method || a->path || a->host || a->nheaders))
		why = "--tcp is L4 traffic: --method, --path, --host and --header do not apply";
	if (why)
		fprintf(err, "skiffctl authz check: %s\n", why);
	return why ? -EINVAL : 0;
}

static void cli_args_free(struct cli_args *a)
{
	for (size_t i = 0; i < a->nheaders; i++)
		free(a->header_buf[i]);
}

/* "ns/name" -> ns copied into buf, name returned. */
static const char *cli_split(const char *ref, char *buf, size_t cap)
{
	const char *slash = strchr(ref, '/');
	size_t n = (size_t)(slash - ref);

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, ref, n);
	buf[n] = '\0';
	return slash + 1;
}

/* The first Pod of the Service's namespace that its selector picks. */
static const struct m_pod *cli_selected_pod(const struct model *m, const struct m_service *svc)
{
	for (size_t i = 0; svc->selector.n && i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];

		if (!strcmp(p->meta.ns, svc->meta.ns) &&
		    labels_match(&svc->selector, &p->meta.labels))
			return p;
	}
	return NULL;
}

/* The workload port behind a single-port Service (a named targetPort needs the Pod); 0 when it
 * cannot be told. */
static uint16_t cli_service_port(const struct m_service *svc, const struct m_pod *pod)
{
	const struct m_service_port *sp = svc->nports == 1 ? &svc->ports[0] : NULL;
	char *end;
	long n;

	if (!sp)
		return 0;
	if (!sp->target_port)
		return sp->port;
	n = strtol(sp->target_port, &end, 10);
	if (!*end && n > 0 && n <= 65535)
		return (uint16_t)n;
	for (size_t i = 0; pod && i < pod->nports; i++)
		if (pod->ports[i].name && !strcmp(pod->ports[i].name, sp->target_port))
			return pod->ports[i].port;
	return 0;
}

static int cli_target(const struct model *m, const struct cli_args *a, struct cli_target *t,
		      FILE *err)
{
	char ns[256];
	const char *name = cli_split(a->to, ns, sizeof(ns));

	t->kind = "pod";
	t->pod = model_pod(m, ns, name);
	if (!t->pod) {
		t->kind = "service";
		t->svc = model_service(m, ns, name);
		if (!t->svc) {
			fprintf(err, "skiffctl authz check: no Pod or Service %s in %s\n", a->to,
				a->dir);
			return -ENOENT;
		}
		t->pod = cli_selected_pod(m, t->svc);
	}
	t->wl.ns = t->pod ? t->pod->meta.ns : t->svc->meta.ns;
	t->wl.labels = t->pod ? &t->pod->meta.labels : &t->svc->selector;
	t->port = (uint16_t)a->port;
	if (!t->port && t->svc)
		t->port = cli_service_port(t->svc, t->pod);
	else if (!t->port && t->pod->nports == 1)
		t->port = t->pod->ports[0].port;
	if (t->port)
		return 0;
	fprintf(err,
		"skiffctl authz check: cannot tell which workload port of %s %s is meant: "
		"pass --port\n",
		t->kind, a->to);
	return -EINVAL;
}

static int cli_source(const struct model *m, const struct cli_args *a, struct cli_target *t,
		      struct authz_request *rq, FILE *err)
{
	const struct m_pod *p;
	char ns[256];
	const char *name;

	rq->principal = a->from;
	if (a->from_pod) {
		name = cli_split(a->from_pod, ns, sizeof(ns));
		p = model_pod(m, ns, name);
		if (!p) {
			fprintf(err, "skiffctl authz check: --from-pod %s: no such Pod in %s\n",
				a->from_pod, a->dir);
			return -ENOENT;
		}
		if (asprintf(&t->principal, "spiffe://%s/ns/%s/sa/%s", a->trust_domain, p->meta.ns,
			     p->service_account) < 0)
			abort();
		rq->principal = t->principal;
		rq->source_ip = p->nips ? p->ips[0] : NULL;
	}
	if (a->source_ip)
		rq->source_ip = a->source_ip;
	return 0;
}

static void cli_request(const struct cli_args *a, const struct cli_target *t,
			struct authz_request *rq)
{
	rq->tcp = a->tcp;
	rq->dest_port = t->port;
	rq->dest_ip = t->pod && t->pod->nips ? t->pod->ips[0] : NULL;
	rq->sni = a->sni;
	if (a->tcp)
		return;
	rq->method = a->method ? a->method : "GET";
	rq->path = a->path ? a->path : "/";
	rq->host = a->host;
	rq->headers = a->headers;
	rq->nheaders = a->nheaders;
}

static void cli_print(FILE *out, const struct cli_args *a, const struct cli_target *t,
		      const struct authz_request *rq, const struct authz_decision *dec)
{
	char line[1024];

	fprintf(out, "request: %s%s%s%s -> %s %s port %u: ",
		rq->principal ? rq->principal : "plaintext (no peer identity)",
		rq->source_ip ? " (" : "", rq->source_ip ? rq->source_ip : "",
		rq->source_ip ? ")" : "", t->kind, a->to, t->port);
	if (rq->tcp)
		fprintf(out, "TCP\n");
	else
		fprintf(out, "HTTP %s %s%s%s\n", rq->method, rq->path, rq->host ? " host " : "",
			rq->host ? rq->host : "");
	if (t->svc && t->pod)
		fprintf(out, "workload: pod %s/%s (selected by the service)\n", t->pod->meta.ns,
			t->pod->meta.name);
	else if (t->svc)
		fprintf(out, "workload: no Pod of the service in %s; using its selector labels\n",
			a->dir);
	authz_decision_format(dec, line, sizeof(line));
	fprintf(out, "%s\n", line);
	if (dec->audit)
		fprintf(out, "audit: AuthorizationPolicy %s/%s rules[%d] matched (no effect)\n",
			dec->audit->meta.ns, dec->audit->meta.name, dec->audit_rule);
}

static void cli_diag(FILE *err, const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(err, "%s: %s\n", d->v[i].level == DIAG_ERROR ? "error" : "warning",
			d->v[i].msg);
}

/* Load and compile DIR, then answer. Returns the exit code. */
static int cli_run(const struct cli_args *a, FILE *out, FILE *err)
{
	struct diag dm = {0}, dz = {0};
	struct authz_request rq = {0};
	struct cli_target t = {0};
	struct authz_decision dec;
	struct authz_set *set = NULL;
	struct model m;
	int rc = 2;

	if (model_load_dir(a->dir, &m, &dm) < 0) {
		cli_diag(err, &dm);
		fprintf(err, "skiffctl authz check: %s is not a valid configuration\n", a->dir);
		goto out_diag;
	}
	if (authz_compile(&m, NULL, &set, &dz) == 0 && cli_target(&m, a, &t, err) == 0 &&
	    cli_source(&m, a, &t, &rq, err) == 0) {
		cli_request(a, &t, &rq);
		authz_evaluate(set, &t.wl, &rq, &dec);
		cli_print(out, a, &t, &rq, &dec);
		rc = dec.allow ? 0 : 1;
	}
	cli_diag(err, &dz);
	free(t.principal);
	authz_set_free(set);
	model_free(&m);
out_diag:
	diag_free(&dz);
	diag_free(&dm);
	return rc;
}

int authz_cli_check(int argc, char **argv, FILE *out, FILE *err)
{
	/* Istio's default trust domain: what --from-pod identities are minted under. */
	struct cli_args a = {.trust_domain = "cluster.local"};
	int rc;

	if (cli_parse(argc, argv, &a, err) < 0 || cli_check_args(&a, err) < 0) {
		cli_usage(err);
		cli_args_free(&a);
		return 2;
	}
	rc = cli_run(&a, out, err);
	cli_args_free(&a);
	return rc;
}
