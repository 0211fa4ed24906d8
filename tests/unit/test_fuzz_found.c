// SPDX-License-Identifier: Apache-2.0
/*
 * What the fuzz targets (tests/fuzz/) found, each fed again with the exact input that showed it,
 * and the property that input broke asserted (the fix is in the parser, named per case). The
 * same inputs seed the targets' corpora (tests/fuzz/corpus/).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/authz.h"
#include "kube/kube_json.h"
#include "l7/l7_filter.h"
#include "l7/l7_h2.h"

/* ---- kube_stream_feed (user/kube/kube_stream.c), from fuzz_kube_stream ---- */

#define MAX_VALUES 16

struct values {
	char *v[MAX_VALUES];
	size_t n;
};

static int keep(void *ctx, struct json_object *o)
{
	struct values *vs = ctx;

	assert_true(vs->n < MAX_VALUES);
	vs->v[vs->n] = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	assert_non_null(vs->v[vs->n]);
	vs->n++;
	return 0;
}

static void values_free(struct values *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		free(vs->v[i]);
	vs->n = 0;
}

/* Feed `in` in pieces ending at `cuts` (ascending, then `len`), as kube_http_get would. */
static int feed_cut(const char *in, size_t len, const size_t *cuts, size_t ncuts, struct values *vs)
{
	json_tokener *tok = json_tokener_new_ex(64);
	struct kube_stream ks;
	size_t off = 0;
	int rc = 0;

	assert_non_null(tok);
	kube_stream_init(&ks, tok);
	for (size_t i = 0; i <= ncuts && !rc; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		rc = kube_stream_feed(&ks, in + off, end - off, keep, vs);
		off = end;
	}
	if (!rc)
		rc = kube_stream_end(&ks, keep, vs);
	kube_stream_free(&ks);
	json_tokener_free(tok);
	return rc;
}

/* Whole, cut in two at every place, and one byte at a time: the same values and the same end. */
static void same_any_cut(const char *in, size_t len, int want_rc, size_t want_n)
{
	struct values whole = {0}, cut = {0};
	size_t bytes[4096];
	int rc;

	assert_true(len < 4096);
	assert_int_equal(feed_cut(in, len, NULL, 0, &whole), want_rc);
	assert_int_equal(whole.n, want_n);
	for (size_t k = 1; k <= len; k++) {
		bytes[k - 1] = k;
		rc = feed_cut(in, len, &k, 1, &cut);
		if (rc != want_rc || cut.n != whole.n)
			fail_msg("cut at %zu: rc %d with %zu values, whole: %d with %zu", k, rc,
				 cut.n, want_rc, whole.n);
		for (size_t i = 0; i < cut.n; i++)
			assert_string_equal(cut.v[i], whole.v[i]);
		values_free(&cut);
	}
	assert_int_equal(feed_cut(in, len, bytes, len - 1, &cut), want_rc);
	assert_int_equal(cut.n, whole.n);
	for (size_t i = 0; i < cut.n; i++)
		assert_string_equal(cut.v[i], whole.v[i]);
	values_free(&cut);
	values_free(&whole);
}

/* The space that ended a number was skipped when a piece began with it: the number never ended
 * (the whole body gave 2 values, in pieces 1). Top-level values other than objects are refused
 * now: the API sends none. */
static void test_kube_space_after_number(void **state)
{
	static const char in[] = "\"\"0 ";

	(void)state;
	same_any_cut(in, sizeof(in) - 1, -EPROTO, 0);
}

/* The same skip inside a string: a watch event whose value has a space, cut before the space,
 * lost the space ("a b" became "ab"). Not a fuzzer input, the case that matters in a cluster. */
static void test_kube_space_in_string(void **state)
{
	static const char in[] =
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a b\","
	    "\"annotations\":{\"x\":\"  two  spaces \"}}}}\n{\"type\":\"BOOKMARK\"}\n";

	(void)state;
	same_any_cut(in, sizeof(in) - 1, 0, 2);
}

/* A top-level number then json-c's single-quoted strings: json-c reported the number without
 * consuming the byte after it when a piece ended there, so the pieces read another value. */
static void test_kube_number_then_quote(void **state)
{
	static const char in[] = "3''/''\xff\xff\xff''''3''''''''3";

	(void)state;
	same_any_cut(in, sizeof(in) - 1, -EPROTO, 0);
}

/* An object, then "\t/": json-c (not strict) read on after the object for a comment and failed
 * the object with it when both were in one piece, not when the piece ended at the '}'. Strict,
 * the object is read, then the '/' refused, wherever the cut. */
static void test_kube_comment_after_object(void **state)
{
	static const char in[] = "{\r\t}\t/\t";

	(void)state;
	same_any_cut(in, sizeof(in) - 1, -EPROTO, 1);
}

/* json-c read "80-0" cut after "80-" as 80, the whole as an error: an API list whose port was
 * malformed was taken or refused by where the network cut it. The tokener now sees whole lines
 * only. The minimal form, then the fuzzer's input (a List, kept in tests/fuzz/found/). */
static void test_kube_number_cut_inside(void **state)
{
	static const char in[] = "{\"a\":80-0}";
	char *buf;
	long n;
	FILE *f = fopen("tests/fuzz/found/fuzz_kube_stream/number-cut", "rb");

	(void)state;
	same_any_cut(in, sizeof(in) - 1, -EPROTO, 0);
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc(n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), n);
	fclose(f);
	same_any_cut(buf, n, -EPROTO, 0);
	free(buf);
}

/* ---- authz_path_forward (user/authz/authz_path.c), from fuzz_authz_path ---- */

/* What the pod gets must normalise to itself: the pod may decode it once more. */
static void assert_fixed_point(const char *raw, const char *want_base)
{
	for (int norm = AUTHZ_PATH_BASE; norm <= AUTHZ_PATH_MERGE_SLASHES; norm++) {
		char *once = authz_path_forward(raw, norm), *twice;

		assert_non_null(once);
		if (norm == AUTHZ_PATH_BASE && want_base)
			assert_string_equal(once, want_base);
		twice = authz_path_forward(once, norm);
		assert_non_null(twice);
		assert_string_equal(twice, once);
		free(twice);
		free(once);
	}
}

/* The fuzzer's input ("TEMPLATE\nTARGET"; the target is what follows the first newline): a bare
 * '%' before "%63e" became "%ece" on the way out, which the pod reads as the escape %EC. */
static void test_path_bare_percent_found(void **state)
{
	static const char in[] = "\n/+/'/'&%52%7e%e\n/+/'/'&%e%63e%6\x04/+\n";

	(void)state;
	assert_fixed_point(strchr(in, '\n') + 1, "/+/'/'&R~%e\n/+/'/'&%25ece%6\x04/+\n");
}

/* What it means for a policy: "%%32%65" came out as "%2e", so "/public/%%32%65%%32%65/admin"
 * was decided as a path under /public, and reached the pod as "/public/%2e%2e/admin", which
 * the pod resolves to /admin. Now the pod gets "%252e": the text "%2e", no dot segment. */
static void test_path_bare_percent_dot_segment(void **state)
{
	(void)state;
	assert_fixed_point("/public/%%32%65%%32%65/admin", "/public/%252e%252e/admin");
	assert_fixed_point("/public/%2%65%2%65/admin", "/public/%252e%252e/admin");
	assert_fixed_point("/a%zz%4", "/a%zz%4"); /* no escape after it: kept as sent */
	assert_fixed_point("/100%", "/100%");
}

/* ---- the HTTP/1.1 filter (user/l7/l7_http1*.c), from fuzz_l7_http1 ---- */

static bool allow(void *ctx, struct authz_request *rq, char *why, size_t whylen)
{
	(void)ctx, (void)rq, (void)why, (void)whylen;
	return true;
}

/* An upgrade the pod refused, with no client bytes held after it: the filter fed the empty hold
 * buffer back to itself as (NULL + 0, 0), arithmetic on a null pointer (UBSan). Its head is now
 * never NULL; the pod's answer reaches the client and the connection goes on. */
static void test_http1_refused_upgrade_nothing_held(void **state)
{
	static const char client[] = "GET / HTTP/1.1\r\nHost: shop.example.com\r\n"
				     "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h5c\r\n"
				     "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
	static const char pod[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
	struct l7_decider d = {.decide = allow};
	struct l7_buf to_up = {0}, to_cl = {0}, empty = {0};
	struct l7_filter *f = l7_http1_ops.open(&d);

	(void)state;
	assert_non_null(f);
	assert_non_null(l7_buf_head(&empty));
	assert_int_equal(l7_http1_ops.from_client(f, (const uint8_t *)client, sizeof(client) - 1,
						  &to_up, &to_cl),
			 0);
	assert_int_equal(l7_buf_unread(&to_up), sizeof(client) - 1);
	assert_int_equal(
	    l7_http1_ops.from_upstream(f, (const uint8_t *)pod, sizeof(pod) - 1, &to_cl, &to_up),
	    0);
	assert_int_equal(l7_buf_unread(&to_cl), sizeof(pod) - 1);
	assert_memory_equal(l7_buf_head(&to_cl), pod, sizeof(pod) - 1);
	assert_false(l7_http1_ops.done(f));
	l7_http1_ops.close(f);
	l7_buf_free(&to_up);
	l7_buf_free(&to_cl);
}

/* A HEADERS frame with an empty header block (trailers with no fields after HPACK) comes to the
 * writer as (NULL, 0): it advanced the NULL block by 0 before seeing it was done (UBSan). One
 * frame of length 0 with END_HEADERS, and the stream's flags kept. */
static void test_h2_empty_header_block(void **state)
{
	struct l7_buf b = {0};
	const uint8_t *f;

	(void)state;
	assert_int_equal(h2_put_header_block(&b, 3, NGHTTP2_FLAG_END_STREAM, NULL, NULL, 0, 16384),
			 0);
	assert_int_equal(l7_buf_unread(&b), 9);
	f = l7_buf_head(&b);
	assert_int_equal(f[0] << 16 | f[1] << 8 | f[2], 0);
	assert_int_equal(f[3], NGHTTP2_HEADERS);
	assert_int_equal(f[4], NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS);
	assert_int_equal((uint32_t)f[5] << 24 | f[6] << 16 | f[7] << 8 | f[8], 3);
	l7_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kube_space_after_number),
	    cmocka_unit_test(test_kube_space_in_string),
	    cmocka_unit_test(test_kube_number_then_quote),
	    cmocka_unit_test(test_kube_comment_after_object),
	    cmocka_unit_test(test_kube_number_cut_inside),
	    cmocka_unit_test(test_path_bare_percent_found),
	    cmocka_unit_test(test_path_bare_percent_dot_segment),
	    cmocka_unit_test(test_http1_refused_upgrade_nothing_held),
	    cmocka_unit_test(test_h2_empty_header_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
