// SPDX-License-Identifier: Apache-2.0
/*
 * The typed http route of a VirtualService (model/model_http.h): every match and action field
 * lands in its struct with the value written; RE2 regexes are checked (what RE2 rejects is
 * rejected, with the reason) and match whole strings; bad retryOn values, percentages over 100
 * and mirrors to unknown hosts are refused at file:line, and nothing of such a config is kept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "model/model_regex.h"

#define VS_HEAD                                                                                    \
	"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"        \
	"  namespace: ns\nspec:\n  hosts: [reviews]\n  http:\n" /* routes start on line 9 */
#define SVC(name)                                                                                  \
	"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " name "\n  namespace: ns\n"       \
	"spec:\n  clusterIP: 10.96.0.9\n  ports:\n  - port: 9080\n"

static bool has_error(const struct diag *d, const char *loc, const char *text)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].level == DIAG_ERROR && strstr(d->v[i].msg, loc) &&
		    strstr(d->v[i].msg, text))
			return true;
	return false;
}

static void expect_err(const char *yaml, int line, const char *text)
{
	struct diag d = {0};
	struct model m;
	char loc[32];
	int rc;

	snprintf(loc, sizeof(loc), "t.yaml:%d: ", line);
	rc = model_load_string("t.yaml", yaml, &m, &d);
	if (rc != -EINVAL || !has_error(&d, loc, text)) {
		fprintf(stderr, "expected error at %s\"%s\"; got rc %d and:\n", loc, text, rc);
		diag_print(&d);
	}
	assert_int_equal(rc, -EINVAL);
	assert_true(has_error(&d, loc, text));
	/* nothing half-loaded: the caller keeps the config in force */
	assert_int_equal(m.nvirtualservices, 0);
	assert_null(m.virtualservices);
	diag_free(&d);
}

static const struct m_route *load_one(const char *yaml, struct model *m)
{
	struct diag d = {0};
	int rc = model_load_string("t.yaml", yaml, m, &d);

	if (rc)
		diag_print(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
	assert_int_equal(m->nvirtualservices, 1);
	assert_true(m->virtualservices[0].nhttp >= 1);
	return &m->virtualservices[0].http[0];
}

static void test_match_fields(void **state)
{
	(void)state;
	const char *y = VS_HEAD "  - match:\n"
				"    - uri: {prefix: /api}\n"
				"      method: {exact: GET}\n"
				"      headers:\n"
				"        End-User: {exact: jason}\n"
				"        x-canary: {}\n"
				"        x-ver: {regex: 'v[0-9]+'}\n"
				"      queryParams:\n"
				"        debug: {exact: '1'}\n"
				"      withoutHeaders:\n"
				"        x-skip: {prefix: y}\n"
				"      authority: {exact: reviews:9080}\n"
				"      port: 9080\n"
				"      sourceLabels: {app: productpage}\n"
				"      sourceNamespace: web\n"
				"      ignoreUriCase: true\n"
				"    - uri: {exact: /health}\n"
				"    route:\n"
				"    - destination: {host: reviews, subset: v2}\n";
	const struct m_http_match *a, *b;
	const struct m_route *r;
	struct model m;

	r = load_one(y, &m);
	assert_true(r->has_match);
	assert_non_null(r->h);
	assert_int_equal(r->h->nmatches, 2);
	a = &r->h->matches[0];
	b = &r->h->matches[1];
	assert_int_equal(a->uri.kind, M_SM_PREFIX);
	assert_string_equal(a->uri.value, "/api");
	assert_int_equal(a->method.kind, M_SM_EXACT);
	assert_int_equal(a->nheaders, 3);
	assert_string_equal(a->headers[0].name, "end-user"); /* header names compare lower-case */
	assert_string_equal(a->headers[0].m.value, "jason");
	assert_int_equal(a->headers[1].m.kind, M_SM_PRESENT);
	assert_int_equal(a->headers[2].m.kind, M_SM_REGEX);
	assert_true(m_regex_match(a->headers[2].m.re, "v12", 3));
	assert_false(m_regex_match(a->headers[2].m.re, "xv12", 4)); /* whole-string match */
	assert_int_equal(a->nquery_params, 1);
	assert_string_equal(a->query_params[0].name, "debug");
	assert_int_equal(a->nwithout_headers, 1);
	assert_string_equal(a->authority.value, "reviews:9080");
	assert_int_equal(a->port, 9080);
	assert_string_equal(labels_get(&a->source_labels, "app"), "productpage");
	assert_string_equal(a->source_namespace, "web");
	assert_true(a->ignore_uri_case);
	assert_int_equal(b->uri.kind, M_SM_EXACT);
	assert_false(b->ignore_uri_case);
	assert_true(m_http_route_is_l7(r));
	model_free(&m);
}

static void test_weights_only_not_l7(void **state)
{
	(void)state;
	const char *y = VS_HEAD "  - route:\n"
				"    - destination: {host: reviews, subset: v1}\n"
				"      weight: 90\n"
				"    - destination: {host: reviews, subset: v2}\n"
				"      weight: 10\n";
	const struct m_route *r;
	struct model m;

	r = load_one(y, &m);
	assert_false(m_http_route_is_l7(r));
	assert_null(r->h->retries); /* Istio's default applies, not a configured policy */
	model_free(&m);
}

static void test_regex_re2(void **state)
{
	(void)state;
	static const char *const ok[] = {"(?i)abc",	      "(?P<n>x)y",   "(?:a|b)+",
					 "[\\d]{2,3}?",	      "\\w+\\.json", "[](]x",
					 "^/api/v[0-9]+/.*$", NULL};
	static const char *const bad[] = {
	    "(a)\\1", "foo(?=bar)", "foo(?!bar)", "(?<=a)b", "(?<!a)b", "(?>ab)", "a++", "a{2}+",
	    "(?P=n)", "(?R)",	    "(*UTF)a",	  "(a",	     "a)",	"[a",	  NULL};
	char buf[160];

	for (int i = 0; ok[i]; i++) {
		const char *why = m_regex_problem(ok[i], buf, sizeof(buf));

		if (why)
			fprintf(stderr, "%s: %s\n", ok[i], why);
		assert_null(why);
	}
	for (int i = 0; bad[i]; i++) {
		if (!m_regex_problem(bad[i], buf, sizeof(buf)))
			fprintf(stderr, "accepted %s\n", bad[i]);
		assert_non_null(m_regex_problem(bad[i], buf, sizeof(buf)));
	}
	assert_non_null(strstr(m_regex_problem("(a)\\1", buf, sizeof(buf)), "backreference"));
	assert_non_null(strstr(m_regex_problem("a(?=b)", buf, sizeof(buf)), "lookahead"));
}

static void test_regex_errors_at_line(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  - match:\n    - uri:\n        regex: '(a)\\1'\n"
			   "    route:\n    - destination: {host: reviews}\n",
		   11, "backreference");
	expect_err(VS_HEAD "  - match:\n    - headers:\n        x: {regex: 'a(?=b)'}\n"
			   "    route:\n    - destination: {host: reviews}\n",
		   11, "is not a valid regular expression: lookahead");
	expect_err(VS_HEAD "  - rewrite:\n      uriRegexRewrite: {match: '(?<=x)y', rewrite: z}\n"
			   "    route:\n    - destination: {host: reviews}\n",
		   10, "lookbehind");
}

static void test_regex_replace(void **state)
{
	(void)state;
	struct m_regex *r = m_regex_compile("^/service/([^/]+)(/.*)$", false, false);
	char *s;

	assert_non_null(r);
	s = m_regex_replace(r, "/service/foo/v1/api", "\\2/instance/\\1");
	assert_string_equal(s, "/v1/api/instance/foo");
	free(s);
	assert_null(m_regex_replace(r, "/other", "x"));
	m_regex_free(r);
}

static void test_retries_typed(void **state)
{
	(void)state;
	const char *y = VS_HEAD "  - route:\n"
				"    - destination: {host: reviews}\n"
				"    retries:\n"
				"      attempts: 3\n"
				"      perTryTimeout: 2s\n"
				"      retryOn: 5xx,reset, connect-failure,503,429,unavailable\n"
				"      retryRemoteLocalities: true\n"
				"      backoff: 40ms\n"
				"    timeout: 10s\n";
	const struct m_retries *rt;
	const struct m_route *r;
	struct m_retries def;
	struct model m;

	r = load_one(y, &m);
	rt = r->h->retries;
	assert_non_null(rt);
	assert_int_equal(rt->attempts, 3);
	assert_int_equal(rt->per_try_timeout_ms, 2000);
	assert_int_equal(rt->on, M_RETRY_5XX | M_RETRY_RESET | M_RETRY_CONNECT_FAILURE |
				     M_RETRY_STATUS_CODES | M_RETRY_UNAVAILABLE);
	assert_int_equal(rt->ncodes, 2);
	assert_int_equal(rt->codes[0], 503);
	assert_int_equal(rt->codes[1], 429);
	assert_true(rt->remote_localities);
	assert_int_equal(rt->backoff_ms, 40); /* the back-off's base, applied: not unenforced */
	assert_int_equal(m.virtualservices[0].nunenforced, 0);
	assert_int_equal(r->h->timeout_ms, 10000);
	model_free(&m);

	m_retries_default(&def);
	assert_int_equal(def.attempts, 2);
	assert_int_equal(def.on, M_RETRY_CONNECT_FAILURE | M_RETRY_REFUSED_STREAM |
				     M_RETRY_UNAVAILABLE | M_RETRY_CANCELLED |
				     M_RETRY_STATUS_CODES);
	assert_int_equal(def.ncodes, 1);
	assert_int_equal(def.codes[0], 503);
}

static void test_retry_on_rejected(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  - route:\n    - destination: {host: reviews}\n"
			   "    retries:\n      attempts: 2\n      retryOn: 5xx,timeout\n",
		   13, "\"timeout\" is not a retry condition Istio accepts");
	expect_err(VS_HEAD "  - route:\n    - destination: {host: reviews}\n"
			   "    retries:\n      attempts: 2\n      retryOn: 5xx,,reset\n",
		   13, "\"\" is not a retry condition");
	expect_err(VS_HEAD "  - route:\n    - destination: {host: reviews}\n"
			   "    retries:\n      attempts: 2\n      retryOn: '600'\n",
		   13, "\"600\" is not a retry condition");
}

static void test_fault_typed(void **state)
{
	(void)state;
	const char *y = VS_HEAD "  - fault:\n"
				"      delay:\n"
				"        fixedDelay: 7s\n"
				"        percentage: {value: 12.5}\n"
				"      abort:\n"
				"        httpStatus: 500\n"
				"    route:\n"
				"    - destination: {host: reviews}\n"
				"  - fault:\n"
				"      abort: {httpStatus: 400, percentage: {value: 50}}\n"
				"    route:\n"
				"    - destination: {host: reviews}\n";
	const struct m_route *r;
	struct model m;

	r = load_one(y, &m);
	assert_true(r->h->fault->delay);
	assert_int_equal(r->h->fault->delay_ms, 7000);
	assert_true(r->h->fault->delay_pct == 12.5);
	assert_true(r->h->fault->abort);
	assert_int_equal(r->h->fault->abort_status, 500);
	assert_true(r->h->fault->abort_pct == 100); /* no percentage: every request */
	r = &m.virtualservices[0].http[1];
	assert_true(r->h->fault->abort_pct == 50);
	assert_false(r->h->fault->delay);
	model_free(&m);
}

static void test_percentage_over_100(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  - fault:\n      abort:\n        httpStatus: 503\n"
			   "        percentage: {value: 100.5}\n"
			   "    route:\n    - destination: {host: reviews}\n",
		   12, "must be 0 or between 0.0001 and 100");
	expect_err(VS_HEAD "  - route:\n    - destination: {host: reviews}\n"
			   "    mirror: {host: reviews}\n    mirrorPercentage: {value: 101}\n" SVC(
			       "reviews"),
		   12, "must be 0 or between 0.0001 and 100");
}

static void test_actions_typed(void **state)
{
	(void)state;
	const char *y =
	    VS_HEAD "  - match:\n    - uri: {prefix: /old}\n"
		    "    redirect: {uri: /new, authority: b.example, redirectCode: 308}\n"
		    "  - match:\n    - uri: {exact: /teapot}\n"
		    "    directResponse:\n      status: 418\n"
		    "      body: {bytes: aGVsbG8=}\n"
		    "  - rewrite: {uri: /v2, authority: ratings}\n"
		    "    headers:\n"
		    "      request:\n        set: {x-a: '1'}\n        add: {x-b: '2'}\n"
		    "        remove: [x-c]\n"
		    "      response:\n        set: {x-d: '4'}\n"
		    "    route:\n"
		    "    - destination: {host: reviews, subset: v1}\n"
		    "      headers:\n        response:\n          add: {x-sub: v1}\n"
		    "    mirrors:\n"
		    "    - destination: {host: ratings}\n      percentage: {value: 25}\n"
		    "    - destination: {host: reviews.ns.svc.cluster.local}\n" SVC("reviews")
			SVC("ratings");
	const struct m_http_route *h;
	struct model m;

	load_one(y, &m);
	h = m.virtualservices[0].http[0].h;
	assert_string_equal(h->redirect->uri, "/new");
	assert_string_equal(h->redirect->authority, "b.example");
	assert_int_equal(h->redirect->code, 308);
	h = m.virtualservices[0].http[1].h;
	assert_int_equal(h->direct->status, 418);
	assert_int_equal(h->direct->body_len, 5);
	assert_memory_equal(h->direct->body, "hello", 5);
	h = m.virtualservices[0].http[2].h;
	assert_string_equal(h->rewrite->uri, "/v2");
	assert_string_equal(h->rewrite->authority, "ratings");
	assert_string_equal(labels_get(&h->headers->request.set, "x-a"), "1");
	assert_string_equal(labels_get(&h->headers->request.add, "x-b"), "2");
	assert_int_equal(h->headers->request.nremove, 1);
	assert_string_equal(labels_get(&h->headers->response.set, "x-d"), "4");
	assert_non_null(m.virtualservices[0].http[2].dests[0].headers);
	assert_int_equal(h->nmirrors, 2);
	assert_string_equal(h->mirrors[0].dest.host, "ratings");
	assert_true(h->mirrors[0].pct == 25);
	assert_true(h->mirrors[1].pct == 100);
	model_free(&m);
}

static void test_mirror_unknown_host(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  - route:\n    - destination: {host: reviews}\n"
			   "    mirror:\n      host: reviewz\n" SVC("reviews"),
		   12, "mirrors to \"reviewz\", which is no Service of the mesh");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_fields),	cmocka_unit_test(test_weights_only_not_l7),
	    cmocka_unit_test(test_regex_re2),		cmocka_unit_test(test_regex_errors_at_line),
	    cmocka_unit_test(test_regex_replace),	cmocka_unit_test(test_retries_typed),
	    cmocka_unit_test(test_retry_on_rejected),	cmocka_unit_test(test_fault_typed),
	    cmocka_unit_test(test_percentage_over_100), cmocka_unit_test(test_actions_typed),
	    cmocka_unit_test(test_mirror_unknown_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
