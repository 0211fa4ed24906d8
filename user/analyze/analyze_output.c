// SPDX-License-Identifier: Apache-2.0
/*
 * Printing messages as istioctl analyze does:
 *   Error [IST0101] (VirtualService payments/payments-api payments.yaml:12) Referenced host ...
 * plus skiff's "fix:" line. JSON and YAML carry istioctl's fields (code, level, message, origin,
 * reference, documentationUrl) and skiff's `fix`.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "analyze/analyze.h"

static void origin_text(const struct an_msg *m, char *buf, size_t len)
{
	if (m->kind[0] && m->ns[0])
		snprintf(buf, len, "%s %s/%s", m->kind, m->ns, m->name);
	else if (m->kind[0])
		snprintf(buf, len, "%s %s", m->kind, m->name);
	else
		buf[0] = '\0';
}

static void reference_text(const struct an_msg *m, char *buf, size_t len)
{
	if (m->file && m->line > 0)
		snprintf(buf, len, "%s:%d", m->file, m->line);
	else
		snprintf(buf, len, "%s", m->file ? m->file : "");
}

/* Istio documents its own codes at istio.io; skiff's are in docs/analyze.md. */
static void doc_url(const struct an_msg *m, char *buf, size_t len)
{
	const char *id = analyze_code(m->code)->id;

	if (!strncmp(id, "IST", 3))
		snprintf(buf, len, "https://istio.io/latest/docs/reference/config/analysis/ist%s/",
			 id + 3);
	else
		snprintf(buf, len, "docs/analyze.md#%s", id);
}

static bool shown(const struct an_msg *m, enum an_level min)
{
	return analyze_code(m->code)->level >= min;
}

void analyze_print_text(FILE *f, const struct an_result *r, enum an_level min)
{
	char origin[600], ref[600];
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct an_msg *m = &r->v[i];
		const struct an_code_def *c = analyze_code(m->code);

		if (!shown(m, min))
			continue;
		n++;
		origin_text(m, origin, sizeof(origin));
		reference_text(m, ref, sizeof(ref));
		fprintf(f, "%s [%s] (%s%s%s) %s\n", analyze_level_name(c->level), c->id, origin,
			origin[0] && ref[0] ? " " : "", ref, m->text);
		if (m->fix)
			fprintf(f, "    fix: %s\n", m->fix);
	}
	if (!n)
		fprintf(f, "\u2714 No validation issues found when analyzing the input.\n");
}

/*
 * Every shown message's machine-readable fields, in istioctl's order, handed to put(): the JSON
 * and YAML printers differ only in how they write a field.
 */
typedef void (*field_fn)(void *out, const char *key, const char *val);

static size_t for_each_field(const struct an_result *r, enum an_level min, field_fn put, void *out)
{
	char buf[600];
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct an_msg *m = &r->v[i];
		const struct an_code_def *c = analyze_code(m->code);

		if (!shown(m, min))
			continue;
		put(out, "code", c->id);
		put(out, "name", c->name);
		put(out, "level", analyze_level_name(c->level));
		put(out, "message", m->text);
		origin_text(m, buf, sizeof(buf));
		put(out, "origin", buf);
		reference_text(m, buf, sizeof(buf));
		put(out, "reference", buf);
		doc_url(m, buf, sizeof(buf));
		put(out, "documentationUrl", buf);
		if (m->fix)
			put(out, "fix", m->fix);
		n++;
	}
	return n;
}

/* The array gets a new object when the "code" field (always the first) of a message comes. */
static void json_put(void *out, const char *key, const char *val)
{
	json_object *arr = out;

	if (!strcmp(key, "code"))
		json_object_array_add(arr, json_object_new_object());
	json_object_object_add(json_object_array_get_idx(arr, json_object_array_length(arr) - 1),
			       key, json_object_new_string(val));
}

int analyze_print_json(FILE *f, const struct an_result *r, enum an_level min)
{
	json_object *arr = json_object_new_array();

	for_each_field(r, min, json_put, arr);
	fprintf(f, "%s\n",
		json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return 0;
}

/* YAML scalars are written as JSON strings, which YAML reads as double-quoted scalars. */
static void yaml_put(void *out, const char *key, const char *val)
{
	json_object *s = json_object_new_string(val);

	fprintf(out, "%s%s: %s\n", !strcmp(key, "code") ? "- " : "  ", key,
		json_object_to_json_string_ext(s, JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(s);
}

void analyze_print_yaml(FILE *f, const struct an_result *r, enum an_level min)
{
	if (!for_each_field(r, min, yaml_put, f))
		fprintf(f, "[]\n");
}
