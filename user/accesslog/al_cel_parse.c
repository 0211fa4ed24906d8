// SPDX-License-Identifier: Apache-2.0
/*
 * Parsing an access log filter: a recursive descent over CEL's precedence (|| below && below !
 * below comparisons), type-checked as it goes, so that `response.code == '200'` or an attribute
 * skiffd does not fill is refused with its column rather than never matching at run time.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog/al_cel_internal.h"

struct cel_parser {
	const char *src, *p;
	char *err;
	size_t errlen;
	bool failed;
};

static const struct {
	const char *name;
	enum cel_attr attr;
	enum cel_type type;
} cel_attrs[] = {
    {"request.path", A_PATH, T_STR},
    {"request.url_path", A_URL_PATH, T_STR},
    {"request.host", A_HOST, T_STR},
    {"request.method", A_METHOD, T_STR},
    {"request.scheme", A_SCHEME, T_STR},
    {"request.protocol", A_PROTOCOL, T_STR},
    {"request.id", A_ID, T_STR},
    {"request.useragent", A_UA, T_STR},
    {"response.code", A_CODE, T_INT},
    {"connection.mtls", A_MTLS, T_BOOL},
    {"connection.mTLS", A_MTLS, T_BOOL},
    {"source.address", A_SRC_ADDR, T_STR},
    {"source.port", A_SRC_PORT, T_INT},
    {"destination.address", A_DST_ADDR, T_STR},
    {"destination.port", A_DST_PORT, T_INT},
};

static const char *const type_names[] = {"bool", "int", "string"};

static __attribute__((format(printf, 3, 4))) struct cel_node *fail(struct cel_parser *ps,
								   const char *at, const char *fmt,
								   ...)
{
	char msg[200];
	va_list ap;

	if (ps->failed)
		return NULL;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "column %d: %s", (int)(at - ps->src) + 1, msg);
	return NULL;
}

static struct cel_node *node(enum cel_op op, enum cel_type type)
{
	struct cel_node *n = calloc(1, sizeof(*n));

	if (!n)
		abort();
	n->op = op;
	n->type = type;
	return n;
}

void cel_node_free(struct cel_node *n)
{
	if (!n)
		return;
	cel_node_free(n->a);
	cel_node_free(n->b);
	free(n->str);
	free(n);
}

static void skip_ws(struct cel_parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

/* Consume `tok` (after blanks) when it is next. Words must end at a word boundary. */
static bool eat(struct cel_parser *ps, const char *tok)
{
	size_t n = strlen(tok);

	skip_ws(ps);
	if (strncmp(ps->p, tok, n))
		return false;
	if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_'))
		return false;
	ps->p += n;
	return true;
}

static size_t ident_len(const char *p)
{
	size_t n = 0;

	if (!isalpha((unsigned char)p[0]) && p[0] != '_')
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	return n;
}

/* 'text' or "text", with \\ \' \" \n \t escapes. */
static char *string_lit(struct cel_parser *ps)
{
	char q = *ps->p, *out = malloc(strlen(ps->p) + 1);
	const char *start = ps->p;
	size_t n = 0;

	if (!out)
		abort();
	for (ps->p++; *ps->p && *ps->p != q; ps->p++) {
		char c = *ps->p;

		if (c == '\\') {
			c = *++ps->p;
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
			if (!c || !strchr("\\'\"\n\t", c)) { /* strchr finds the NUL too */
				free(out);
				fail(ps, ps->p, "unsupported escape \\%c in a string", *ps->p);
				return NULL;
			}
		}
		out[n++] = c;
	}
	if (*ps->p != q) {
		free(out);
		fail(ps, start, "string not closed (missing %c)", q);
		return NULL;
	}
	ps->p++;
	out[n] = '\0';
	return out;
}

static struct cel_node *parse_or(struct cel_parser *ps);

/* request.headers['name'] or request.headers.name (for has()): the name, lower case. */
static char *header_name(struct cel_parser *ps)
{
	char *name = NULL;
	size_t n;

	skip_ws(ps);
	if (eat(ps, "[")) {
		skip_ws(ps);
		if (*ps->p != '\'' && *ps->p != '"')
			return (char *)fail(ps, ps->p,
					    "a header is named by a string: headers['x']");
		name = string_lit(ps);
		if (name && !eat(ps, "]")) {
			free(name);
			return (char *)fail(ps, ps->p, "expected ] after the header name");
		}
	} else if (eat(ps, ".")) {
		n = ident_len(ps->p);
		if (!n)
			return (char *)fail(ps, ps->p,
					    "expected a header name after request.headers.");
		name = strndup(ps->p, n);
		ps->p += n;
	} else {
		return (char *)fail(ps, ps->p, "request.headers is a map: index it, headers['x']");
	}
	for (char *c = name; c && *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return name;
}

/* A dotted attribute name, then what skiffd knows it as. */
static struct cel_node *attribute(struct cel_parser *ps)
{
	const char *start = ps->p;
	char name[64];
	size_t n = 0, w;

	while ((w = ident_len(ps->p + n))) {
		n += w;
		/* request.headers.x names a header; .startsWith( is a call, not a field */
		if (n == 15 && !strncmp(ps->p, "request.headers", 15))
			break;
		w = ps->p[n] == '.' ? ident_len(ps->p + n + 1) : 0;
		if (!w || ps->p[n + 1 + w] == '(')
			break;
		n++;
	}
	if (!n)
		return fail(ps, start, "expected a value, an attribute or (");
	snprintf(name, sizeof(name), "%.*s", (int)n, start);
	ps->p += n;
	if (!strcmp(name, "request.headers")) {
		struct cel_node *h = node(N_HEADER, T_STR);

		h->str = header_name(ps);
		if (!h->str) {
			cel_node_free(h);
			return NULL;
		}
		return h;
	}
	for (size_t i = 0; i < sizeof(cel_attrs) / sizeof(cel_attrs[0]); i++)
		if (!strcmp(cel_attrs[i].name, name)) {
			struct cel_node *a = node(N_ATTR, cel_attrs[i].type);

			a->attr = cel_attrs[i].attr;
			return a;
		}
	return fail(ps, start,
		    "unknown attribute %s (skiffd knows request.path, url_path, host, method, "
		    "scheme, protocol, id, useragent, headers[...], response.code, "
		    "connection.mtls, source.address/port, destination.address/port)",
		    name);
}

/* has(request.headers.x), has(request.headers['x']) or has(<attribute>). */
static struct cel_node *has_call(struct cel_parser *ps)
{
	struct cel_node *in, *h;

	if (!eat(ps, "("))
		return fail(ps, ps->p, "has needs ( after it");
	skip_ws(ps);
	in = attribute(ps);
	if (!in)
		return NULL;
	if (!eat(ps, ")")) {
		cel_node_free(in);
		return fail(ps, ps->p, "expected ) to close has(");
	}
	h = node(N_HAS, T_BOOL);
	h->header = in->op == N_HEADER;
	h->attr = in->attr;
	h->str = in->str;
	in->str = NULL;
	cel_node_free(in);
	return h;
}

static struct cel_node *literal_or_attr(struct cel_parser *ps)
{
	struct cel_node *n;
	char *end;

	skip_ws(ps);
	if (*ps->p == '\'' || *ps->p == '"') {
		n = node(N_LIT, T_STR);
		n->str = string_lit(ps);
		return n->str ? n : (cel_node_free(n), NULL);
	}
	if (isdigit((unsigned char)*ps->p) || (*ps->p == '-' && isdigit((unsigned char)ps->p[1]))) {
		n = node(N_LIT, T_INT);
		errno = 0;
		n->num = strtoll(ps->p, &end, 10);
		if (errno || isalpha((unsigned char)*end) || *end == '.') {
			cel_node_free(n);
			return fail(ps, ps->p, "only integers are supported as numbers");
		}
		ps->p = end;
		return n;
	}
	if (eat(ps, "true") || eat(ps, "false")) {
		n = node(N_LIT, T_BOOL);
		n->num = ps->p[-1] == 'e' && ps->p[-2] == 'u';
		return n;
	}
	if (eat(ps, "has"))
		return has_call(ps);
	return attribute(ps);
}

/* The call's argument: a string expression and its ")"; NULL (reported) otherwise. */
static struct cel_node *method_arg(struct cel_parser *ps, const char *at, const char *name)
{
	struct cel_node *arg = parse_or(ps);

	if (!arg)
		return NULL;
	if (arg->type != T_STR)
		return cel_node_free(arg), fail(ps, at, "%s takes a string argument", name);
	if (!eat(ps, ")"))
		return cel_node_free(arg), fail(ps, ps->p, "expected ) after the argument");
	return arg;
}

/*
 * s.startsWith('x'), s.endsWith('x'), s.contains('x') after a string value. Takes recv: it is
 * the new node's operand, or freed when the call cannot be parsed.
 */
static struct cel_node *method_call(struct cel_parser *ps, struct cel_node *recv)
{
	static const struct {
		const char *name;
		enum cel_op op;
	} methods[] = {
	    {".startsWith(", N_STARTS}, {".endsWith(", N_ENDS}, {".contains(", N_CONTAINS}};
	const char *at = ps->p;
	struct cel_node *arg, *n;

	for (size_t i = 0; i < 3; i++) {
		if (!eat(ps, methods[i].name))
			continue;
		if (recv->type != T_STR)
			return fail(ps, at, "%s needs a string, not %s", methods[i].name + 1,
				    type_names[recv->type]),
			       cel_node_free(recv), NULL;
		arg = method_arg(ps, at, methods[i].name + 1);
		if (!arg)
			return cel_node_free(recv), NULL;
		n = node(methods[i].op, T_BOOL);
		n->a = recv;
		n->b = arg;
		return n;
	}
	fail(ps, at, "unsupported call (skiffd knows startsWith, endsWith, contains)");
	cel_node_free(recv);
	return NULL;
}

static struct cel_node *primary(struct cel_parser *ps)
{
	struct cel_node *n;

	if (eat(ps, "(")) {
		n = parse_or(ps);
		if (n && !eat(ps, ")"))
			return cel_node_free(n), fail(ps, ps->p, "expected )");
	} else {
		n = literal_or_attr(ps);
	}
	skip_ws(ps);
	while (n && ps->p[0] == '.' && isalpha((unsigned char)ps->p[1])) {
		n = method_call(ps, n);
		skip_ws(ps);
	}
	return n;
}

static struct cel_node *unary(struct cel_parser *ps)
{
	const char *at;
	struct cel_node *n, *in;

	skip_ws(ps);
	at = ps->p;
	if (!(ps->p[0] == '!' && ps->p[1] != '=') || !eat(ps, "!"))
		return primary(ps);
	in = unary(ps);
	if (!in)
		return NULL;
	if (in->type != T_BOOL)
		return fail(ps, at, "! needs a bool, not %s", type_names[in->type]),
		       cel_node_free(in), NULL;
	n = node(N_NOT, T_BOOL);
	n->a = in;
	return n;
}

/* 'name' in request.headers */
static struct cel_node *in_headers(struct cel_parser *ps, struct cel_node *l, const char *at)
{
	struct cel_node *h;

	skip_ws(ps);
	if (l->op != N_LIT || l->type != T_STR || strncmp(ps->p, "request.headers", 15) ||
	    ident_len(ps->p + 15))
		return cel_node_free(l), fail(ps, at,
					      "skiffd supports `in` only as "
					      "'name' in request.headers");
	ps->p += 15;
	h = node(N_HAS, T_BOOL);
	h->header = true;
	h->str = l->str;
	l->str = NULL;
	for (char *c = h->str; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	cel_node_free(l);
	return h;
}

static struct cel_node *comparison(struct cel_parser *ps)
{
	static const struct {
		const char *tok;
		enum cel_op op;
	} ops[] = {{"==", N_EQ}, {"!=", N_NE}, {"<=", N_LE},
		   {">=", N_GE}, {"<", N_LT},  {">", N_GT}};
	struct cel_node *l = unary(ps), *r, *n;
	const char *at;

	if (!l)
		return NULL;
	skip_ws(ps);
	at = ps->p;
	if (eat(ps, "in"))
		return in_headers(ps, l, at);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!eat(ps, ops[i].tok))
			continue;
		r = unary(ps);
		if (!r)
			return cel_node_free(l), NULL;
		n = node(ops[i].op, T_BOOL);
		n->a = l;
		n->b = r;
		if (l->type != r->type)
			return fail(ps, at, "cannot compare %s with %s", type_names[l->type],
				    type_names[r->type]),
			       cel_node_free(n), NULL;
		if (ops[i].op >= N_LT && l->type == T_BOOL)
			return cel_node_free(n),
			       fail(ps, at, "%s does not order bools", ops[i].tok);
		return n;
	}
	return l;
}

static struct cel_node *binary(struct cel_parser *ps, const char *tok, enum cel_op op,
			       struct cel_node *(*next)(struct cel_parser *))
{
	struct cel_node *l = next(ps), *r, *n;
	const char *at;

	while (l) {
		skip_ws(ps);
		at = ps->p;
		if (!eat(ps, tok))
			return l;
		r = next(ps);
		if (!r)
			return cel_node_free(l), NULL;
		n = node(op, T_BOOL);
		n->a = l;
		n->b = r;
		if (l->type != T_BOOL || r->type != T_BOOL)
			return cel_node_free(n), fail(ps, at, "%s needs bools on both sides", tok);
		l = n;
	}
	return NULL;
}

static struct cel_node *parse_and(struct cel_parser *ps)
{
	return binary(ps, "&&", N_AND, comparison);
}

static struct cel_node *parse_or(struct cel_parser *ps)
{
	return binary(ps, "||", N_OR, parse_and);
}

int al_cel_parse(const char *src, struct al_cel **out, char *err, size_t errlen)
{
	struct cel_parser ps = {.src = src, .p = src, .err = err, .errlen = errlen};
	struct cel_node *root;

	*out = NULL;
	root = parse_or(&ps);
	skip_ws(&ps);
	if (root && *ps.p)
		root = (cel_node_free(root), fail(&ps, ps.p, "unexpected %.10s", ps.p));
	if (root && root->type != T_BOOL) {
		fail(&ps, src, "a filter must be a bool, not %s", type_names[root->type]);
		cel_node_free(root);
		root = NULL;
	}
	if (!root)
		return -EINVAL;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		abort();
	(*out)->root = root;
	return 0;
}

void al_cel_free(struct al_cel *e)
{
	if (!e)
		return;
	cel_node_free(e->root);
	free(e);
}
