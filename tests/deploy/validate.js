#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/*
 * Validate Kubernetes manifests against the Kubernetes OpenAPI schemas:
 *   node tests/deploy/validate.js FILE...
 * Each YAML document is checked by the validator kubernetes-models generated from the upstream
 * OpenAPI spec of its apiVersion and kind (types, enums, required fields, formats). The upstream
 * schemas do not forbid unknown fields, which the API server's strict field validation (kubectl's
 * default) refuses, so a misspelt field would pass them: the document is also walked through a
 * Proxy that records which fields the validator looks for at each object, and a field it never
 * asked about is reported as unknown. Objects the schema treats as maps (labels, ConfigMap data)
 * are enumerated by the validator and so accept any key.
 * Prints "ok FILE: KIND NAMESPACE/NAME" per document, or one error per line naming the file,
 * the document, the field and what is wrong; exits 1 if any document failed.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

// validate(data) for an apiVersion/kind: its kubernetes-models class's validator (generated from
// the OpenAPI schema), run on `data` as given; returns ajv's errors, [] when valid, or null when
// kubernetes-models has no such kind
function validatorFor(apiVersion, kind) {
	const mod = apiVersion.includes("/") ? apiVersion : "v1";
	let cls;
	try {
		cls = require(`kubernetes-models/${mod}/${kind}`)[kind];
	} catch (e) {
		return null;
	}
	if (!cls || cls.apiVersion !== apiVersion) return null;
	return (data) => {
		try {
			cls.prototype.validate.call(data);
			return [];
		} catch (e) {
			if (!e.errors) throw e;
			return e.errors;
		}
	};
}

// watch(value): a Proxy tree over value that records, per object, the fields read and whether
// its keys were enumerated
function watch(value, seen) {
	if (value === null || typeof value !== "object") return value;
	const rec = { obj: value, read: new Set(), enumerated: false, path: null };
	seen.push(rec);
	const kids = Array.isArray(value) ? [] : {};
	return new Proxy(value, {
		get(t, k) {
			if (typeof k === "string") rec.read.add(k);
			const v = t[k];
			if (v === null || typeof v !== "object" || typeof k !== "string") return v;
			if (!(k in kids)) kids[k] = watch(v, seen);
			return kids[k];
		},
		ownKeys(t) {
			rec.enumerated = true;
			return Reflect.ownKeys(t);
		},
	});
}

// "/spec/containers/0/name" -> "spec.containers[0].name"
function jsonPath(p) {
	return p.split("/").slice(1).reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
}

// paths of every object in a document, for naming unknown fields
function paths(value, p, out) {
	if (value === null || typeof value !== "object") return;
	out.set(value, p);
	for (const [k, v] of Object.entries(value))
		paths(v, Array.isArray(value) ? `${p}[${k}]` : p ? `${p}.${k}` : k, out);
}

function checkDoc(file, idx, doc) {
	const where = `${file}: document ${idx + 1}`;
	if (!doc || typeof doc !== "object") return [`${where}: not a Kubernetes object`];
	const { apiVersion, kind } = doc;
	const name = `${kind} ${doc.metadata?.namespace ? doc.metadata.namespace + "/" : ""}${doc.metadata?.name}`;
	const validate = apiVersion && kind ? validatorFor(apiVersion, kind) : null;
	if (!validate)
		return [`${where}: no Kubernetes schema for apiVersion "${apiVersion}" kind "${kind}" (a typo, or not a built-in kind)`];
	const seen = [];
	const errs = validate(watch(doc, seen)).map((e) =>
		`${where} (${name}): ${jsonPath(e.instancePath) || "(top)"}: ${e.message || e.keyword} ${JSON.stringify(e.params)}`);
	const at = new Map();
	paths(doc, "", at);
	for (const rec of seen) {
		if (Array.isArray(rec.obj) || rec.enumerated) continue;
		for (const k of Object.keys(rec.obj))
			if (!rec.read.has(k)) {
				const p = at.get(rec.obj);
				errs.push(`${where} (${name}): ${p ? p + "." : ""}${k}: unknown field (not in the ${kind} schema; misspelt or misplaced?)`);
			}
	}
	if (!errs.length) console.log(`ok ${file}: ${name}`);
	return errs;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
	let docs;
	try {
		docs = yaml.loadAll(fs.readFileSync(file, "utf8"));
	} catch (e) {
		console.log(`${file}: ${e.message.split("\n")[0]}`);
		failed++;
		continue;
	}
	docs.forEach((doc, i) => {
		if (doc === null) return; // an empty document (a trailing ---)
		const errs = checkDoc(path.relative(process.cwd(), path.resolve(file)), i, doc);
		errs.forEach((e) => console.log(e));
		if (errs.length) failed++;
	});
}
process.exit(failed ? 1 : 0);
