/* SPDX-License-Identifier: Apache-2.0 */
/* The parsed form of an access log filter, shared by al_cel_parse.c and al_cel_eval.c. */
#ifndef SKIFF_AL_CEL_INTERNAL_H
#define SKIFF_AL_CEL_INTERNAL_H

#include "accesslog/al_cel.h"

enum cel_type { T_BOOL, T_INT, T_STR };

/* Attributes skiffd fills in (al_attrs); the parser maps CEL names onto these. */
enum cel_attr {
	A_PATH,
	A_URL_PATH,
	A_HOST,
	A_METHOD,
	A_SCHEME,
	A_PROTOCOL,
	A_ID,
	A_UA,
	A_CODE,
	A_MTLS,
	A_SRC_ADDR,
	A_SRC_PORT,
	A_DST_ADDR,
	A_DST_PORT,
};

enum cel_op {
	N_LIT,	  /* lit */
	N_ATTR,	  /* attr */
	N_HEADER, /* request.headers[str] */
	N_HAS,	  /* has(request.headers.str), 'str' in request.headers; has(attr) */
	N_NOT,
	N_AND,
	N_OR,
	N_EQ,
	N_NE,
	N_LT,
	N_LE,
	N_GT,
	N_GE,
	N_STARTS,
	N_ENDS,
	N_CONTAINS, /* a.startsWith(b) ... */
};

struct cel_node {
	enum cel_op op;
	enum cel_type type; /* of the node's value */
	enum cel_attr attr;
	bool header;   /* N_HAS: of a header (str), else of an attribute */
	long long num; /* N_LIT int or bool */
	char *str;     /* N_LIT string, header name (lower case) */
	struct cel_node *a, *b;
};

struct al_cel {
	struct cel_node *root;
};

void cel_node_free(struct cel_node *n);

#endif
