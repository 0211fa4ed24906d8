#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/*
 * What deploy/ must say beyond the schema, checked against the code it deploys:
 *   node tests/deploy/check_policy.js DEPLOY_DIR KINDS_C SKIFFD_HELP VERSION
 * DEPLOY_DIR: the manifests; KINDS_C: user/kube/kube_kinds.c (the kinds skiffd lists and
 * watches); SKIFFD_HELP: the output of `skiffd --help`; VERSION: the VERSION file's content.
 * RBAC: the ClusterRole grants exactly get, list and watch, on exactly the resources skiffd
 * reads, and is bound to the DaemonSet's ServiceAccount. DaemonSet: the host settings the
 * data plane needs (deploy/README.md says why), every flag it passes is one skiffd has, every
 * $(VAR) is defined, every ConfigMap key it reads exists and every key is read.
 * Prints "ok - CHECK" or "not ok - CHECK: why" per check; exits 1 if any failed.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const [dir, kindsC, helpFile, version] = process.argv.slice(2);
let failed = 0;
function check(name, problems) {
	if (problems.length) {
		failed++;
		console.log(`not ok - ${name}: ${problems.join("; ")}`);
	} else console.log(`ok - ${name}`);
}

const docs = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
	.flatMap((f) => yaml.loadAll(fs.readFileSync(path.join(dir, f), "utf8")).filter(Boolean));
const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
const role = find("ClusterRole", "skiffd");
const binding = find("ClusterRoleBinding", "skiffd");
const ds = find("DaemonSet", "skiffd");
const cm = find("ConfigMap", "skiff-config");
const pod = ds?.spec?.template?.spec ?? {};
const ctr = (pod.containers ?? []).find((c) => c.name === "skiffd") ?? {};

check("deploy/ has the ClusterRole, its binding, the DaemonSet and the ConfigMap",
	[[role, "ClusterRole skiffd"], [binding, "ClusterRoleBinding skiffd"], [ds, "DaemonSet skiffd"],
		[cm, "ConfigMap skiff-config"]].filter(([d]) => !d).map(([, n]) => `no ${n}`));

// {"Pod", "", v_core, "pods"} rows of kube_kinds[] -> "group/resource"
const kindRows = [...fs.readFileSync(kindsC, "utf8")
	.matchAll(/\{"([A-Za-z]+)", "([a-z0-9.]*)", v_[a-z_]+, "([a-z]+)"\}/g)];
// {"ConfigMap", "istio-system", "metadata.name=istio"} rows of kube_kind_scopes[]: read in one
// namespace, by name, so granted by a Role there rather than the ClusterRole
const scopes = [...fs.readFileSync(kindsC, "utf8")
	.matchAll(/\{"([A-Za-z]+)", "([a-z0-9-]+)", "metadata\.name=([a-z0-9.-]+)"\}/g)]
	.map((m) => ({kind: m[1], ns: m[2], name: m[3],
		res: kindRows.filter((r) => r[1] === m[1]).map((r) => `${r[2]}/${r[3]}`)[0]}));
const wanted = kindRows.filter((m) => !scopes.some((sc) => sc.kind === m[1])).map((m) => `${m[2]}/${m[3]}`);
const rules = role?.rules ?? [];
check("ClusterRole verbs are exactly get, list, watch", rules.flatMap((r, i) => {
	const v = [...(r.verbs ?? [])].sort().join(",");
	const p = v === "get,list,watch" ? [] : [`rules[${i}] verbs [${r.verbs}]`];
	if (r.resourceNames || r.nonResourceURLs) p.push(`rules[${i}] has resourceNames or nonResourceURLs`);
	return p;
}));
const granted = rules.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).map((res) => `${g}/${res}`)));
check(`ClusterRole grants every kind skiffd watches (${wanted.length} in ${path.basename(kindsC)})`,
	wanted.length ? wanted.filter((w) => !granted.includes(w)).map((w) => `missing ${w || "/"}`)
		: [`no kinds found in ${kindsC}`]);
check("ClusterRole grants nothing skiffd does not watch",
	granted.filter((g) => !wanted.includes(g)).map((g) => `extra ${g}`));
const sa = pod.serviceAccountName;
check("the binding ties the ClusterRole to the DaemonSet's ServiceAccount", [
	...(binding?.roleRef?.kind === "ClusterRole" && binding?.roleRef?.name === role?.metadata?.name ? [] : ["roleRef is not the ClusterRole"]),
	...((binding?.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === sa && s.namespace === ds?.metadata?.namespace)
		? [] : [`no subject ServiceAccount ${ds?.metadata?.namespace}/${sa}`]),
	...(find("ServiceAccount", sa) ? [] : [`no ServiceAccount ${sa}`]),
]);

for (const scope of scopes) {
	const r = docs.find((d) => d.kind === "Role" && d.metadata?.name === "skiffd" && d.metadata?.namespace === scope.ns);
	const b = docs.find((d) => d.kind === "RoleBinding" && d.metadata?.name === "skiffd" && d.metadata?.namespace === scope.ns);
	const rr = r?.rules ?? [];
	const got = rr.flatMap((x) => (x.apiGroups ?? []).flatMap((g) => (x.resources ?? []).map((res) => `${g}/${res}`)));
	check(`Role ${scope.ns}/skiffd grants get, list, watch on ${scope.res} ${scope.name} only`, [
		...(r ? [] : [`no Role skiffd in ${scope.ns}`]),
		...(got.length === 1 && got[0] === scope.res ? [] : [`grants [${got}], want [${scope.res}]`]),
		...rr.flatMap((x, i) => [...(x.verbs ?? [])].sort().join(",") === "get,list,watch" ? [] : [`rules[${i}] verbs [${x.verbs}]`]),
		...rr.flatMap((x, i) => JSON.stringify(x.resourceNames ?? []) === JSON.stringify([scope.name]) ? [] : [`rules[${i}] resourceNames [${x.resourceNames ?? ""}], want [${scope.name}]`]),
		...(b?.roleRef?.kind === "Role" && b?.roleRef?.name === "skiffd" ? [] : [`no RoleBinding skiffd in ${scope.ns} to the Role`]),
		...((b?.subjects ?? []).some((x) => x.kind === "ServiceAccount" && x.name === sa && x.namespace === ds?.metadata?.namespace)
			? [] : [`RoleBinding has no subject ServiceAccount ${ds?.metadata?.namespace}/${sa}`]),
	]);
}

const sc = ctr.securityContext ?? {};
const tol = pod.tolerations ?? [];
check("DaemonSet: host network, no host PID, DNS, priority, every node, one node at a time (surge)", [
	...(pod.hostNetwork === true ? [] : ["hostNetwork is not true"]),
	...(pod.hostPID ? ["hostPID is set (skiffd needs no other process's /proc)"] : []),
	...(pod.dnsPolicy === "ClusterFirstWithHostNet" ? [] : [`dnsPolicy ${pod.dnsPolicy}`]),
	...(pod.priorityClassName === "system-node-critical" ? [] : [`priorityClassName ${pod.priorityClassName}`]),
	...(tol.some((t) => t.operator === "Exists" && !t.key && !t.effect) ? [] : ["no toleration {operator: Exists}"]),
	...(ds?.spec?.updateStrategy?.type === "RollingUpdate" && ds?.spec?.updateStrategy?.rollingUpdate?.maxSurge === 1 &&
		ds?.spec?.updateStrategy?.rollingUpdate?.maxUnavailable === 0
		? [] : ["updateStrategy is not RollingUpdate with maxSurge 1, maxUnavailable 0 (the listener hand-off needs both pods)"]),
	...((ctr.ports ?? []).length ? ["ports declared: with hostNetwork they are hostPorts, and the update's new pod cannot be placed"] : []),
]);
check("DaemonSet: not privileged, capabilities drop ALL and add some", [
	...(sc.privileged ? ["privileged"] : []),
	...((sc.capabilities?.drop ?? []).includes("ALL") ? [] : ["capabilities.drop lacks ALL"]),
	...((sc.capabilities?.add ?? []).length ? [] : ["no capabilities.add"]),
	...((sc.capabilities?.add ?? []).includes("SYS_ADMIN") ? ["adds SYS_ADMIN"] : []),
]);
check(`DaemonSet: image skiff:${version}`, ctr.image === `skiff:${version}` ? [] : [`image ${ctr.image}`]);
const probe = (p) => `${p?.httpGet?.host}:${p?.httpGet?.port}${p?.httpGet?.path}`;
check("DaemonSet: readiness and liveness on skiffd's 127.0.0.1:15021", [
	...(probe(ctr.readinessProbe) === "127.0.0.1:15021/healthz/ready" ? [] : [`readiness ${probe(ctr.readinessProbe)}`]),
	...(probe(ctr.livenessProbe) === "127.0.0.1:15021/healthz/live" ? [] : [`liveness ${probe(ctr.livenessProbe)}`]),
	...(ctr.resources?.requests && ctr.resources?.limits ? [] : ["no resource requests and limits"]),
]);

const env = Object.fromEntries((ctr.env ?? []).map((e) => [e.name, e]));
const args = ctr.args ?? [];
const help = fs.readFileSync(helpFile, "utf8");
const flags = args.map((a) => a.split("=")[0]);
check("DaemonSet: every flag it passes is in skiffd --help",
	flags.filter((f) => !f.startsWith("--") || !new RegExp(`^\\s+${f}\\b`, "m").test(help)).map((f) => `${f} unknown`));
check("DaemonSet: NODE_NAME from spec.nodeName (skiffd's node), HOST_IPS from status.hostIPs", [
	...(env.NODE_NAME?.valueFrom?.fieldRef?.fieldPath === "spec.nodeName" ? [] : ["NODE_NAME not from spec.nodeName"]),
	...(env.HOST_IPS?.valueFrom?.fieldRef?.fieldPath === "status.hostIPs" ? [] : ["HOST_IPS not from status.hostIPs"]),
]);
const refs = args.flatMap((a) => [...a.matchAll(/\$\(([A-Z_]+)\)/g)].map((m) => m[1]));
check("DaemonSet: every $(VAR) in args is in env", refs.filter((r) => !env[r]).map((r) => `$(${r}) undefined`));
const keysRead = Object.values(env).map((e) => e.valueFrom?.configMapKeyRef).filter(Boolean)
	.filter((r) => r.name === cm?.metadata?.name).map((r) => r.key);
const keys = Object.keys(cm?.data ?? {});
check("ConfigMap: every key the DaemonSet reads exists, and every key is read", [
	...keysRead.filter((k) => !keys.includes(k)).map((k) => `key ${k} missing`),
	...keys.filter((k) => !keysRead.includes(k)).map((k) => `key ${k} read by nothing`),
	...keys.filter((k) => !flags.includes(`--${k}`)).map((k) => `key ${k} is not a flag passed`),
]);
const mounts = Object.fromEntries((ctr.volumeMounts ?? []).map((m) => [m.name, m]));
const vols = pod.volumes ?? [];
const hostVol = (p) => vols.find((v) => v.hostPath?.path === p);
const caArg = (args.find((a) => a.startsWith("--ca-dir=")) ?? "").split("=")[1];
const caVol = vols.find((v) => v.secret?.secretName === "skiff-ca");
check("DaemonSet: /sys/fs/bpf, the cgroup v2 tree and the CA Secret at --ca-dir are mounted", [
	...["/sys/fs/bpf", "/sys/fs/cgroup"].filter((p) => !hostVol(p) || mounts[hostVol(p).name]?.mountPath !== p)
		.map((p) => `hostPath ${p} not mounted at ${p}`),
	...(caVol && caArg && mounts[caVol.name]?.mountPath === caArg ? [] : [`Secret skiff-ca not mounted at --ca-dir (${caArg})`]),
]);
const argOf = (f) => (args.find((a) => a.startsWith(`${f}=`)) ?? "").split("=")[1];
const runDir = argOf("--run-dir");
const drain = Number(argOf("--drain-seconds") ?? 600);
check("DaemonSet: the hand-off: --run-dir a hostPath, the grace period longer than the drain", [
	...(runDir && hostVol(runDir) && mounts[hostVol(runDir).name]?.mountPath === runDir ? [] : [`--run-dir (${runDir}) is not a hostPath mounted there`]),
	...((pod.terminationGracePeriodSeconds ?? 30) > drain ? [] : [`terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} <= --drain-seconds ${drain}`]),
	...(args.includes("--hold-after-drain") ? [] : ["no --hold-after-drain: kubelet restarts a drained old skiffd, which takes over again"]),
]);
process.exit(failed ? 1 : 0);
