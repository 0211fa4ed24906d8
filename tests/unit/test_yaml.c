// SPDX-License-Identifier: Apache-2.0
/* YAML tree: documents, line numbers, scalar styles, aliases, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/yaml_tree.h"

static int parse(struct ydoc_set *set, struct diag *d, const char *text)
{
	return yaml_parse_string(set, "t.yaml", text, strlen(text), d);
}

static void test_multi_doc_lines(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	const struct ynode *n;

	(void)state;
	assert_int_equal(parse(&set, &d,
			       "# comment\n"
			       "kind: A\n"
			       "metadata:\n"
			       "  name: one\n"
			       "---\n"
			       "kind: B\n"
			       "spec:\n"
			       "  hosts:\n"
			       "  - x\n"
			       "  - y\n"),
			 0);
	assert_int_equal(set.n, 2);
	assert_int_equal(d.n, 0);
	assert_string_equal(ynode_str(ynode_get(set.docs[0], "kind")), "A");
	n = ynode_path(set.docs[0], "metadata.name");
	assert_non_null(n);
	assert_string_equal(n->scalar, "one");
	assert_int_equal(n->line, 4);
	assert_string_equal(n->file, "t.yaml");
	assert_int_equal(ynode_key_line(set.docs[1], "kind"), 6);
	assert_int_equal(ynode_key_line(set.docs[1], "spec"), 7);
	n = ynode_path(set.docs[1], "spec.hosts");
	assert_non_null(n);
	assert_int_equal(n->kind, YNODE_SEQ);
	assert_int_equal(n->n, 2);
	assert_int_equal(n->items[1]->line, 10);
	assert_string_equal(n->items[1]->scalar, "y");
	assert_null(ynode_path(set.docs[1], "spec.nothere"));
	assert_null(ynode_path(set.docs[1], "spec.hosts.x"));
	assert_null(ynode_get(n, "x")); /* a sequence is not a map */
	assert_null(ynode_str(n));
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_plain_vs_quoted(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	const struct ynode *m;

	(void)state;
	assert_int_equal(parse(&set, &d, "a: 90\nb: \"90\"\nc: '90'\nd: |\n  block\n"), 0);
	m = set.docs[0];
	assert_true(ynode_get(m, "a")->plain);
	assert_false(ynode_get(m, "b")->plain);
	assert_false(ynode_get(m, "c")->plain);
	assert_false(ynode_get(m, "d")->plain);
	assert_string_equal(ynode_str(ynode_get(m, "b")), "90");
	assert_string_equal(ynode_str(ynode_get(m, "d")), "block\n");
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_aliases_and_merge(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	const struct ynode *m, *a, *b;

	(void)state;
	assert_int_equal(parse(&set, &d,
			       "base: &lbl\n"
			       "  app: web\n"
			       "  tier: front\n"
			       "copy: *lbl\n"
			       "merged:\n"
			       "  <<: *lbl\n"
			       "  tier: back\n"),
			 0);
	m = set.docs[0];
	a = ynode_get(m, "base");
	b = ynode_get(m, "copy");
	assert_non_null(b);
	assert_ptr_not_equal(a, b); /* a copy, not a shared node */
	assert_string_equal(ynode_str(ynode_get(b, "app")), "web");
	assert_string_equal(ynode_str(ynode_path(m, "merged.tier")), "back");
	assert_string_equal(ynode_str(ynode_path(m, "merged.app")), "web");
	assert_null(ynode_path(m, "merged.<<"));
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_syntax_error_line(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};

	(void)state;
	assert_int_equal(parse(&set, &d, "kind: A\n---\nkind: B\nspec:\n  a: [1, 2\n  b: c\n"),
			 -EINVAL);
	assert_int_equal(set.n, 0); /* the good first document is dropped too */
	assert_int_equal(d.errors, 1);
	assert_true(diag_contains(&d, "t.yaml:"));
	assert_true(diag_contains(&d, "YAML syntax: "));
	diag_print(&d);
	diag_free(&d);

	assert_int_equal(parse(&set, &d, "a: 1\nb:\n  c: 2\n d: 3\n"), -EINVAL);
	assert_true(diag_contains(&d, "t.yaml:4: YAML syntax:"));
	diag_free(&d);

	assert_int_equal(parse(&set, &d, "a: 1\nb: 2\na: 3\n"), -EINVAL);
	assert_true(diag_contains(&d, "t.yaml:3: YAML syntax: duplicate key a"));
	diag_free(&d);
	ydoc_set_free(&set);
}

/* A good file before a bad one stays; the bad one leaves nothing. */
static void test_error_keeps_other_files(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};

	(void)state;
	assert_int_equal(yaml_parse_string(&set, "good.yaml", "a: 1\n", 5, &d), 0);
	assert_int_equal(yaml_parse_string(&set, "bad.yaml", "a: [\n", 5, &d), -EINVAL);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.docs[0]->file, "good.yaml");
	assert_true(diag_contains(&d, "bad.yaml:"));
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_empty_docs(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};

	(void)state;
	assert_int_equal(parse(&set, &d, ""), 0);
	assert_int_equal(parse(&set, &d, "# only a comment\n"), 0);
	assert_int_equal(parse(&set, &d, "---\n---\n# c\n---\nkind: X\n---\n"), 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.docs[0]->line, 5);
	assert_int_equal(d.n, 0);
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_alias_bomb(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	char text[2048];
	size_t off = 0;

	(void)state;
	off += snprintf(text + off, sizeof(text) - off, "a0: &a0 [x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 12; i++)
		off += snprintf(text + off, sizeof(text) - off,
				"a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
				i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	assert_int_equal(parse(&set, &d, text), -EINVAL);
	assert_int_equal(set.n, 0);
	assert_true(diag_contains(&d, "too deeply"));
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_file_and_clone(void **state)
{
	char path[] = "/tmp/skiff-test-yaml-XXXXXX";
	struct ydoc_set set = {0};
	struct diag d = {0};
	struct ynode *c;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x:\n  y: [1, {z: 2}]\n", 20), 20);
	close(fd);
	assert_int_equal(yaml_parse_file(&set, path, &d), 0);
	unlink(path);
	assert_int_equal(set.n, 1);
	assert_string_equal(set.docs[0]->file, path);
	c = ynode_clone(set.docs[0]);
	assert_string_equal(ynode_str(ynode_get(ynode_path(c, "x.y")->items[1], "z")), "2");
	assert_int_equal(ynode_path(c, "x.y")->items[1]->line, 2);
	ynode_free(c);
	assert_int_equal(yaml_parse_file(&set, "/nonexistent/skiff.yaml", &d), -ENOENT);
	assert_int_equal(d.errors, 1);
	assert_string_equal(ynode_kind_name(YNODE_MAP), "mapping");
	ydoc_set_free(&set);
	diag_free(&d);
}

static void test_json(void **state)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	const struct ynode *p;

	(void)state;
	assert_int_equal(parse(&set, &d,
			       "{\"kind\": \"Service\",\n \"spec\": {\"ports\": "
			       "[{\"port\": 80}]}}\n"),
			 0);
	p = ynode_path(set.docs[0], "spec.ports");
	assert_non_null(p);
	assert_true(ynode_get(p->items[0], "port")->plain);
	assert_false(ynode_get(set.docs[0], "kind")->plain);
	assert_int_equal(ynode_key_line(set.docs[0], "spec"), 2);
	ydoc_set_free(&set);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_multi_doc_lines),
	    cmocka_unit_test(test_plain_vs_quoted),
	    cmocka_unit_test(test_aliases_and_merge),
	    cmocka_unit_test(test_syntax_error_line),
	    cmocka_unit_test(test_error_keeps_other_files),
	    cmocka_unit_test(test_empty_docs),
	    cmocka_unit_test(test_alias_bomb),
	    cmocka_unit_test(test_file_and_clone),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
