// SPDX-License-Identifier: Apache-2.0
/*
 * Evaluating an access log filter against one line's attributes. Absent attributes are CEL
 * error values (see al_cel.h): they spread through comparisons and calls, and only a short
 * circuit of && or || can absorb them, as in CEL.
 */
#include <string.h>

#include "accesslog/al_cel_internal.h"

struct cel_val {
	bool err;
	long long num; /* bool or int */
	const char *str;
};

static const struct cel_val cel_err = {.err = true};

static struct cel_val str_val(const char *s)
{
	return s ? (struct cel_val){.str = s} : cel_err;
}

static struct cel_val num_val(long long v)
{
	return (struct cel_val){.num = v};
}

/* request.url_path: the path without its query string, in a caller-sized buffer. */
static const char *url_path(const char *path, char *buf, size_t len)
{
	size_t n;

	if (!path)
		return NULL;
	n = strcspn(path, "?");
	if (n >= len)
		n = len - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return buf;
}

/* One evaluation: the attributes, and room for request.url_path (outlives every frame). */
struct cel_ctx {
	const struct al_attrs *a;
	char url_path[2048];
};

static struct cel_val attr(const struct cel_node *n, struct cel_ctx *x)
{
	const struct al_attrs *a = x->a;

	switch (n->attr) {
	case A_PATH:
		return str_val(a->path);
	case A_URL_PATH:
		return str_val(url_path(a->path, x->url_path, sizeof(x->url_path)));
	case A_HOST:
		return str_val(a->host);
	case A_METHOD:
		return str_val(a->method);
	case A_SCHEME:
		return str_val(a->scheme);
	case A_PROTOCOL:
		return str_val(a->protocol);
	case A_ID:
		return str_val(a->request_id);
	case A_UA:
		return str_val(a->user_agent);
	case A_CODE:
		return a->response_code >= 0 ? num_val(a->response_code) : cel_err;
	case A_MTLS:
		return num_val(a->mtls);
	case A_SRC_ADDR:
		return str_val(a->source_address);
	case A_SRC_PORT:
		return a->source_port > 0 ? num_val(a->source_port) : cel_err;
	case A_DST_ADDR:
		return str_val(a->destination_address);
	case A_DST_PORT:
		return a->destination_port > 0 ? num_val(a->destination_port) : cel_err;
	}
	return cel_err;
}

static const char *header(const struct al_attrs *a, const char *name)
{
	return a->http && a->header ? a->header(a->ctx, name) : NULL;
}

static int cmp(const struct cel_node *n, struct cel_val l, struct cel_val r)
{
	if (n->a->type == T_STR)
		return strcmp(l.str, r.str);
	return l.num < r.num ? -1 : l.num > r.num;
}

static bool str_test(enum cel_op op, const char *s, const char *t)
{
	size_t ls = strlen(s), lt = strlen(t);

	if (op == N_STARTS)
		return !strncmp(s, t, lt);
	if (op == N_ENDS)
		return ls >= lt && !strcmp(s + ls - lt, t);
	return strstr(s, t) != NULL;
}

static struct cel_val eval(const struct cel_node *n, struct cel_ctx *x);

/* && and ||: a decisive side wins even over an error on the other. */
static struct cel_val logic(const struct cel_node *n, struct cel_ctx *x)
{
	bool decisive = n->op == N_OR;
	struct cel_val l = eval(n->a, x), r;

	if (!l.err && !!l.num == decisive)
		return num_val(decisive);
	r = eval(n->b, x);
	if (!r.err && !!r.num == decisive)
		return num_val(decisive);
	if (l.err || r.err)
		return cel_err;
	return num_val(!decisive);
}

static struct cel_val eval(const struct cel_node *n, struct cel_ctx *x)
{
	const struct al_attrs *a = x->a;
	struct cel_val l, r;
	int c;

	switch (n->op) {
	case N_LIT:
		return n->type == T_STR ? str_val(n->str) : num_val(n->num);
	case N_ATTR:
		return attr(n, x);
	case N_HEADER:
		return str_val(header(a, n->str));
	case N_HAS:
		if (n->header)
			return a->http ? num_val(header(a, n->str) != NULL) : cel_err;
		return num_val(!attr(n, x).err);
	case N_NOT:
		l = eval(n->a, x);
		return l.err ? l : num_val(!l.num);
	case N_AND:
	case N_OR:
		return logic(n, x);
	default:
		break;
	}
	l = eval(n->a, x);
	if (l.err)
		return l;
	r = eval(n->b, x);
	if (r.err)
		return r;
	/* the parser types every operand; a string without its text is an error, never a match */
	if ((n->op >= N_STARTS || n->a->type == T_STR) && (!l.str || !r.str))
		return cel_err;
	if (n->op >= N_STARTS)
		return num_val(str_test(n->op, l.str, r.str));
	c = cmp(n, l, r);
	switch (n->op) {
	case N_EQ:
		return num_val(c == 0);
	case N_NE:
		return num_val(c != 0);
	case N_LT:
		return num_val(c < 0);
	case N_LE:
		return num_val(c <= 0);
	case N_GT:
		return num_val(c > 0);
	default:
		return num_val(c >= 0);
	}
}

bool al_cel_eval(const struct al_cel *e, const struct al_attrs *a)
{
	struct cel_ctx x = {.a = a};
	struct cel_val v = eval(e->root, &x);

	return !v.err && v.num;
}
