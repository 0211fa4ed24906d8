// SPDX-License-Identifier: Apache-2.0
/*
 * up, apply, delete: merge what the files ask for into the lab, then reconcile (pods, ClusterIPs,
 * hosts files, config directory), then wait until every echo pod answers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab_proc.h"

/* Bounds for a starved machine (an emulated guest beside another): they only matter when
 * something never comes up, and a process that died ends the wait at once. */
#define POD_READY_MS   30000
#define AGENT_READY_MS 90000

static void merge_service(struct lab *lab, struct lab_service *in)
{
	struct lab_service *old = lab_svc_find(lab, in->ns, in->name);

	if (old) {
		/* An allocated ClusterIP stays unless the new spec names another one. */
		if (!in->ip4[0] && !in->headless && !old->headless)
			memcpy(in->ip4, old->ip4, sizeof(in->ip4));
		if (!in->ip6[0] && in->dual && !old->headless)
			memcpy(in->ip6, old->ip6, sizeof(in->ip6));
		lab_service_free(old);
		*old = *in;
	} else {
		*(struct lab_service *)lab_push(&lab->svc, &lab->nsvc, sizeof(*in)) = *in;
	}
	memset(in, 0, sizeof(*in));
}

static void merge_deploy(struct lab *lab, struct lab_deploy *in)
{
	struct lab_deploy *old = lab_deploy_find(lab, in->ns, in->name);

	if (old) {
		lab_deploy_free(old);
		*old = *in;
	} else {
		*(struct lab_deploy *)lab_push(&lab->deploy, &lab->ndeploy, sizeof(*in)) = *in;
	}
	memset(in, 0, sizeof(*in));
}

static bool sa_exists(const struct lab *lab, const struct lab_sa *sa)
{
	for (size_t i = 0; i < lab->nsa; i++)
		if (!strcmp(lab->sa[i].ns, sa->ns) && !strcmp(lab->sa[i].name, sa->name))
			return true;
	return false;
}

/* Moves the spec's objects into the lab (the spec is left empty of them). */
static void merge(struct lab *lab, struct lab_spec *spec)
{
	for (size_t i = 0; i < spec->nns; i++) {
		struct lab_namespace *ns = lab_ns_ensure(lab, spec->ns[i].name);

		lab_labels_free(&ns->labels);
		ns->labels = spec->ns[i].labels;
		ns->declared = true;
		memset(&spec->ns[i].labels, 0, sizeof(spec->ns[i].labels));
	}
	for (size_t i = 0; i < spec->nsa; i++) {
		lab_ns_ensure(lab, spec->sa[i].ns);
		if (!sa_exists(lab, &spec->sa[i]))
			*(struct lab_sa *)lab_push(&lab->sa, &lab->nsa, sizeof(struct lab_sa)) =
			    spec->sa[i];
	}
	for (size_t i = 0; i < spec->ndeploy; i++) {
		lab_ns_ensure(lab, spec->deploy[i].ns);
		merge_deploy(lab, &spec->deploy[i]);
	}
	for (size_t i = 0; i < spec->nsvc; i++) {
		lab_ns_ensure(lab, spec->svc[i].ns);
		merge_service(lab, &spec->svc[i]);
	}
}

/* Pods, addresses, hosts files and config after a change of the desired state. */
static int reconcile(struct lab *lab, char **files, int nfiles)
{
	int err = lab_services_allocate(lab);

	err = err ?: lab_state_save(lab);
	for (int i = 0; !err && i < nfiles; i++)
		err = lab->api.port ? lab_api_istio_apply(lab, files[i])
				    : lab_istio_apply(lab, files[i]);
	err = err ?: lab_pods_reconcile(lab);
	err = err ?: lab_hosts_write(lab);
	err = err ?: lab_config_write(lab);
	return err;
}

static int state_dirs(const struct lab *lab)
{
	static const char *const sub[] = {"config", "logs", "hosts"};
	char path[PATH_MAX];
	int err = lab_mkdir_p(lab->state_dir);

	for (size_t i = 0; !err && i < sizeof(sub) / sizeof(sub[0]); i++) {
		lab_path(path, lab, sub[i]);
		err = lab_mkdir_p(path);
	}
	if (err)
		fprintf(stderr, "skiff-lab: cannot create %s: %s\n", lab->state_dir,
			strerror(-err));
	return err;
}

static int cgroups_up(const struct lab *lab)
{
	char path[PATH_MAX];

	for (int k = 1; k <= lab->nodes; k++) {
		int err;

		lab_fmt(path, sizeof(path), LAB_CGROUP_ROOT "/node-%d/kubepods", k);
		err = lab_cgroup_create(path);
		if (err)
			return err;
	}
	return 0;
}

static int build(struct lab *lab, bool api, struct lab_spec *spec, char **files, int nfiles)
{
	int err;

	lab->topology = true;
	err = lab_state_save(lab);
	err = err ?: cgroups_up(lab);
	if (!err && lab_topology_up(lab))
		err = -EIO;
	if (!err && api)
		err = lab_api_start(lab);
	if (err)
		return err;
	merge(lab, spec);
	err = reconcile(lab, files, nfiles);
	if (!err && !lab->no_agent)
		err = lab_agents_start(lab);
	err = err ?: lab_pods_wait_ready(lab, POD_READY_MS);
	if (!err && !lab->no_agent)
		err = lab_agents_wait_ready(lab, 0, AGENT_READY_MS);
	return err;
}

int lab_cmd_up(struct lab *lab, int nodes, bool no_agent, bool api, char **files, int nfiles)
{
	struct lab_spec spec = {0};
	int err;

	if (lab_state_load(lab) == 0 || lab_netns_exists("skl-fabric")) {
		fprintf(stderr,
			"skiff-lab: a lab already exists (state %s%s); run `skiff-lab "
			"--state %s down` first\n",
			lab->state_dir,
			lab->nodes ? "" : ", or netns skl-fabric from another state dir",
			lab->state_dir);
		return -EEXIST;
	}
	lab_free(lab);
	if (nodes < 1 || nodes > LAB_MAX_NODES) {
		fprintf(stderr, "skiff-lab: --nodes must be 1..%d\n", LAB_MAX_NODES);
		return -EINVAL;
	}
	err = lab_spec_load(&spec, files, nfiles);
	if (err) {
		fprintf(stderr, "skiff-lab: nothing was created; fix the files above\n");
		goto out;
	}
	lab->nodes = nodes;
	lab->no_agent = no_agent;
	err = state_dirs(lab);
	err = err ?: build(lab, api, &spec, files, nfiles);
	if (err)
		fprintf(stderr,
			"skiff-lab: up failed; the lab is left as it is for inspection "
			"(logs in %s/logs); remove it with `skiff-lab --state %s down`\n",
			lab->state_dir, lab->state_dir);
	else
		printf("skiff-lab: %d node(s), %zu pod(s), %zu service(s) up; state in %s\n",
		       lab->nodes, lab->npod, lab->nsvc, lab->state_dir);
out:
	lab_spec_free(&spec);
	return err;
}

/* The lab as recorded; in API mode with namespace labels as the server has them (kubectl
 * label may have changed them there since). */
static int load_existing(struct lab *lab)
{
	int err = lab_state_load(lab);

	if (err == -ENOENT)
		fprintf(stderr, "skiff-lab: no lab in %s; run `skiff-lab up` first\n",
			lab->state_dir);
	if (!err && lab->api.port)
		err = lab_api_pull_namespaces(lab);
	return err;
}

int lab_cmd_apply(struct lab *lab, char **files, int nfiles)
{
	struct lab_spec spec = {0};
	int err = load_existing(lab);

	if (err)
		return err;
	err = lab_spec_load(&spec, files, nfiles);
	if (err) {
		fprintf(stderr, "skiff-lab: nothing was applied; fix the files above\n");
		goto out;
	}
	merge(lab, &spec);
	err = reconcile(lab, files, nfiles);
	err = err ?: lab_pods_wait_ready(lab, POD_READY_MS);
out:
	lab_spec_free(&spec);
	return err;
}

static void remove_namespace(struct lab *lab, const char *ns)
{
	for (size_t i = 0; i < lab->ndeploy;)
		if (!strcmp(lab->deploy[i].ns, ns)) {
			lab_deploy_free(&lab->deploy[i]);
			lab_remove_at(lab->deploy, &lab->ndeploy, sizeof(*lab->deploy), i);
		} else {
			i++;
		}
	for (size_t i = 0; i < lab->nsvc;)
		if (!strcmp(lab->svc[i].ns, ns)) {
			lab_service_free(&lab->svc[i]);
			lab_remove_at(lab->svc, &lab->nsvc, sizeof(*lab->svc), i);
		} else {
			i++;
		}
	for (size_t i = 0; i < lab->nsa;)
		if (!strcmp(lab->sa[i].ns, ns))
			lab_remove_at(lab->sa, &lab->nsa, sizeof(*lab->sa), i);
		else
			i++;
	for (size_t i = 0; i < lab->nns; i++)
		if (!strcmp(lab->ns[i].name, ns)) {
			lab_labels_free(&lab->ns[i].labels);
			lab_remove_at(lab->ns, &lab->nns, sizeof(*lab->ns), i);
			break;
		}
}

static void unmerge(struct lab *lab, const struct lab_spec *spec)
{
	for (size_t i = 0; i < spec->ndeploy; i++) {
		struct lab_deploy *d =
		    lab_deploy_find(lab, spec->deploy[i].ns, spec->deploy[i].name);

		if (d) {
			lab_deploy_free(d);
			lab_remove_at(lab->deploy, &lab->ndeploy, sizeof(*d), d - lab->deploy);
		}
	}
	for (size_t i = 0; i < spec->nsvc; i++) {
		struct lab_service *s = lab_svc_find(lab, spec->svc[i].ns, spec->svc[i].name);

		if (s) {
			lab_service_free(s);
			lab_remove_at(lab->svc, &lab->nsvc, sizeof(*s), s - lab->svc);
		}
	}
	for (size_t i = 0; i < spec->nsa; i++)
		for (size_t j = 0; j < lab->nsa; j++)
			if (!strcmp(lab->sa[j].ns, spec->sa[i].ns) &&
			    !strcmp(lab->sa[j].name, spec->sa[i].name)) {
				lab_remove_at(lab->sa, &lab->nsa, sizeof(*lab->sa), j);
				break;
			}
	for (size_t i = 0; i < spec->nns; i++)
		remove_namespace(lab, spec->ns[i].name);
}

int lab_cmd_delete(struct lab *lab, char **files, int nfiles)
{
	struct lab_spec spec = {0};
	int err = load_existing(lab);

	if (err)
		return err;
	err = lab_spec_load(&spec, files, nfiles);
	if (err) {
		fprintf(stderr, "skiff-lab: nothing was deleted; fix the files above\n");
		goto out;
	}
	unmerge(lab, &spec);
	for (int i = 0; !err && i < nfiles; i++)
		err = lab->api.port ? lab_api_istio_delete(lab, files[i])
				    : lab_istio_delete(lab, files[i]);
	err = err ?: lab_state_save(lab);
	err = err ?: lab_pods_reconcile(lab);
	err = err ?: lab_hosts_write(lab);
	err = err ?: lab_config_write(lab);
out:
	lab_spec_free(&spec);
	return err;
}
