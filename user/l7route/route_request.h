/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One HTTP request as the L7 router sees it, and what happened to it.
 *
 * struct l7r_request is what route matching reads (route_match.c); struct l7r_record is what the
 * router says about the request once it is answered, in Envoy's terms, for the metrics and access
 * log work: response code, response flags, attempts, upstream host, durations.
 */
#ifndef SKIFF_L7ROUTE_REQUEST_H
#define SKIFF_L7ROUTE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz/authz.h" /* struct authz_header */
#include "skiff/lb.h"
#include "skiff/punt.h"
#include "compile/compile_l7.h"
#include "model/model.h"

struct l7r_request {
	const char *method;
	const char *path;      /* as sent, query string included */
	const char *authority; /* Host */
	const char *scheme;    /* "http" */
	const struct authz_header *headers;
	size_t nheaders;
	uint16_t port;		     /* the service port dialled */
	const struct m_pod *src_pod; /* the client pod, NULL when unknown */
	uint64_t cookie_seed;	     /* a generated hash cookie's value comes from it */
};

/* The first route whose matches accept `rq` (a route without match accepts all); -1: none. */
int l7r_route_match(const struct l7_svcport *sp, const struct l7r_request *rq);
/* One HTTPMatchRequest (all its conditions). */
bool l7r_match_one(const struct m_http_match *m, const struct l7r_request *rq);
/* The value of header `name` (case-insensitive; the first), or NULL. */
const char *l7r_header(const struct l7r_request *rq, const char *name);

/* Envoy's response flags, as access logs print them. */
enum l7r_flag {
	L7R_F_UH = 1u << 0,  /* no healthy upstream */
	L7R_F_UF = 1u << 1,  /* upstream connection failure */
	L7R_F_UO = 1u << 2,  /* upstream overflow (circuit breaking) */
	L7R_F_NR = 1u << 3,  /* no route */
	L7R_F_URX = 1u << 4, /* retry limit reached */
	L7R_F_UT = 1u << 5,  /* upstream request timeout */
	L7R_F_DI = 1u << 6,  /* delayed by fault injection */
	L7R_F_FI = 1u << 7,  /* aborted by fault injection */
	L7R_F_UC = 1u << 8,  /* upstream connection termination */
	L7R_F_DC = 1u << 9,  /* downstream connection termination */
	L7R_F_UR = 1u << 10, /* upstream remote reset */
};

/* "UF,URX" into buf (Envoy's order), "-" when none. */
const char *l7r_flags_str(uint32_t flags, char *buf, size_t len);

struct l7r_record {
	int code;	      /* status sent to the client; 0 when none was (DC) */
	uint32_t flags;	      /* L7R_F_* */
	unsigned attempts;    /* tries upstream (0: answered by the router itself) */
	char upstream[64];    /* "10.0.0.5:8080" of the last try, "" when none */
	int route;	      /* index in the VirtualService's http routes, -1 for none */
	uint64_t start_ns;    /* the request head complete */
	uint64_t duration_ns; /* to the last byte of the response sent */
	uint64_t upstream_ns; /* the last try: request sent to response head */
	uint64_t request_bytes, response_bytes;
	/* Who talked to whom, for the metrics (valid only during the record callback: they
	 * point into the snapshot the connection holds). */
	const struct m_pod *src_pod;	 /* the client pod, NULL when unknown */
	const struct m_pod *dst_pod;	 /* the pod of the last try's endpoint, NULL: none */
	const struct m_service *dst_svc; /* the route destination's Service, else the one dialled */
	bool hbone;			 /* the last try went over an HBONE stream (mTLS) */
	const char *protocol;		 /* Istio's request_protocol: NULL "http", or "grpc" */
	bool h2;			 /* the client spoke HTTP/2 */
	/* For the access log, valid during the callback only: the request as read (NULL when
	 * none was parsed), the client's address, the VIP it dialled, the route destination's
	 * subset (NULL: none) and port. */
	const struct l7r_request *rq;
	const struct skiff_punt_key *client;
	const struct skiff_sock_origin *vip;
	const char *subset;
	uint16_t dst_port;
	/* the x-request-id the endpoint got (the client's, or the router's); NULL: none */
	const char *request_id;
};

#endif
