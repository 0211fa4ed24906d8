/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 filter's insides, shared by its files:
 *   l7_http1.c           the l7_filter_ops, and client -> pod: requests decided, forwarded or not
 *   l7_http1_upstream.c  pod -> client: where each response ends, the filter's own answers
 *   l7_http1_head.c      collecting a message head, parsing it (start line, fields, framing)
 *   l7_http1_body.c      where a body ends: Content-Length, chunked (with trailers)
 *
 * Requests pass to the pod as they were decided: the request line with the normalised target the
 * decider saw, the Host an absolute-form target named, every other byte as the client sent it
 * (bodies included). Responses pass back untouched. The filter keeps a queue of the requests in
 * flight so that what it answers itself (403, 400, 431) lands between the pod's responses in the
 * order the client sent its requests: the client sees one ordinary HTTP/1.1 connection, whatever
 * was decided.
 *
 * Framing is read strictly, because the filter and the pod must agree on where each request
 * ends (request smuggling): CR and LF only as CRLF, no obs-fold, no whitespace before a field's
 * colon, no Transfer-Encoding with Content-Length, no differing Content-Lengths.
 */
#ifndef SKIFF_L7_HTTP1_H
#define SKIFF_L7_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "l7/l7_filter.h"

#define H1_HEAD_MAX  (64 << 10) /* a message head, start line to blank line */
#define H1_LINE_MAX  4096	/* a chunk-size line, extensions included */
#define H1_QUEUE_MAX 65536	/* requests in flight; more is abuse: the connection ends */
#define H1_HOLD_MAX  (64 << 10) /* client bytes held while an upgrade awaits its answer */
/* Fields in a request head: Envoy's default max_headers_count, beyond which it answers 431. */
#define H1_FIELDS_MAX 100

static inline bool h1_is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 §5.6.2: the characters of a token (a method, a field name, a chunk extension). */
static inline bool h1_is_tchar(uint8_t c)
{
	return h1_is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 9110 §5.5: what a field value may hold (VCHAR, SP, HTAB, obs-text); no other CTL. */
static inline bool h1_is_field_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A message head being collected: bytes up to and including the blank line. */
struct h1_head {
	struct l7_buf raw;
	size_t size; /* bytes of the head so far */
	size_t line; /* bytes of the current line so far, before its CRLF */
	bool cr;     /* the last byte was CR: LF must follow */
};

/*
 * Take bytes of a head; *used says how many. 1: the head is complete (in h->raw, without
 * leading blank lines), 0: more to come, -EPROTO: CR or LF not in a CRLF pair, -E2BIG: longer
 * than H1_HEAD_MAX.
 */
int h1_head_feed(struct h1_head *h, const uint8_t *in, size_t len, size_t *used);
void h1_head_reset(struct h1_head *h);

enum h1_body_kind {
	H1_BODY_NONE,
	H1_BODY_LENGTH,	 /* Content-Length */
	H1_BODY_CHUNKED, /* Transfer-Encoding ending in chunked */
	H1_BODY_CLOSE,	 /* a response read until the pod closes */
};

/* A parsed head. Strings point into `buf`, a NUL-separated copy of the raw head, or into the
 * two strings made up from the target. */
struct h1_msg {
	char *buf;
	char *path_buf;		     /* request: the target normalised (authz_path_forward) */
	char *authority;	     /* request: an absolute-form target's authority */
	const char *method, *target; /* request; target as sent */
	/* request: what is decided and what the pod receives: `path` in the request line (NULL for
	 * CONNECT), `host` as the Host value (the authority of an absolute-form target if any) */
	const char *path, *host;
	int status; /* response */
	int minor;  /* HTTP/1.<minor> */
	struct authz_header *fields;
	size_t *field_line; /* offset of each field's line in the raw head */
	size_t nfields, cap;
	size_t nhost;	   /* Host fields */
	size_t host_field; /* the (last) Host field's index, when nhost */
	bool has_cl, has_te;
	bool te_chunked; /* the last transfer coding is chunked, and only it */
	bool te_bad;	 /* chunked other than last, or more than once */
	uint64_t cl;
	bool conn_close, conn_keepalive; /* Connection options */
	bool upgrade;			 /* an Upgrade field */
	bool upgrade_h2c;		 /* ... naming h2c */
	bool expect_continue;		 /* Expect: 100-continue */
};

/*
 * Parse a complete head (from h1_head_feed): 0, -EPROTO, -E2BIG (a request with more than
 * H1_FIELDS_MAX fields) or -ENOMEM. A request's path is normalised by `norm`. Free with
 * h1_msg_free either way.
 */
int h1_parse_request(const struct l7_buf *raw, enum authz_path_norm norm, struct h1_msg *m);
int h1_parse_response(const struct l7_buf *raw, struct h1_msg *m);
void h1_msg_free(struct h1_msg *m);
/* The sender wants the connection closed after this message (HTTP/1.0 unless keep-alive). */
bool h1_msg_closes(const struct h1_msg *m);

/* Where a body ends. Chunked bodies are parsed to their last byte (trailers included). */
struct h1_body {
	enum h1_body_kind kind;
	uint64_t left;	 /* LENGTH: bytes to go; CHUNKED: of the current chunk's data */
	int st;		 /* CHUNKED: where in the grammar (l7_http1_body.c) */
	size_t line;	 /* CHUNKED: bytes of the size line or of the trailer section so far */
	unsigned digits; /* CHUNKED: hex digits of the chunk size so far */
};

void h1_body_start(struct h1_body *b, enum h1_body_kind kind, uint64_t len);
/* Take bytes of a body; *used says how many. 1: it ended, 0: more to come, -EPROTO. */
int h1_body_feed(struct h1_body *b, const uint8_t *in, size_t len, size_t *used);

/* What a request in flight gets: the pod's response, or one of the filter's. */
enum h1_answer {
	H1_FORWARDED,
	H1_ANSWER_403,
	H1_ANSWER_400,
	H1_ANSWER_431,
	H1_ANSWER_NO_TUNNEL, /* CONNECT: 403, as Envoy answers an unconfigured upgrade */
};

struct h1_pending {
	uint8_t answer;	 /* enum h1_answer */
	bool head;	 /* HEAD: the response has no body */
	bool upgrade;	 /* allowed to switch protocols: a 101 turns it into a tunnel */
	bool close;	 /* the last request on the connection */
	bool keep_alive; /* HTTP/1.0 with keep-alive: our answer says so */
	bool answered;	 /* an answer's head reached the client, or the queue's end counted it */
	int status;	 /* the pod's final status, told to dec.response when its body ends */
	uint64_t bytes;	 /* the request as read from the client: head and body so far */
};

enum h1_client_state {
	H1_CL_HEAD,   /* reading a request head */
	H1_CL_BODY,   /* a request body: forwarded, or discarded when denied */
	H1_CL_HOLD,   /* an upgrade went to the pod: hold bytes until it answers */
	H1_CL_TUNNEL, /* switched protocols: bytes pass untouched */
	H1_CL_DRAIN,  /* the client's last request is in: what follows is ignored */
};

enum h1_up_state {
	H1_UP_HEAD,   /* reading a response head */
	H1_UP_BODY,   /* a response body */
	H1_UP_TUNNEL, /* switched protocols */
};

struct l7_filter {
	struct l7_decider dec;
	struct l7_counts counts;
	bool done; /* the last word is said: nothing more is read or written */
	/* client -> pod */
	enum h1_client_state cl;
	enum h1_client_state cl_after; /* once the body in flight ends */
	struct h1_head rq_head;
	struct h1_body rq_body;
	bool rq_forward; /* the body in flight goes to the pod (else: discarded) */
	struct l7_buf held;
	/* pod -> client */
	enum h1_up_state up;
	struct h1_head rs_head;
	struct h1_body rs_body;
	bool rs_close;	   /* the response under way ends the connection */
	uint64_t rs_bytes; /* the response under way as sent to the client: head and body */
	/* requests in flight, oldest first: a ring */
	struct h1_pending *q;
	size_t qhead, qlen, qcap;
};

/* l7_http1.c */
/* The exchange at the head of the queue is over: its status (a pod's response; the filter's
 * answers tell theirs when written) and sizes to the decider. */
void h1_exchange_sizes(struct l7_filter *f, uint64_t response_bytes);
int h1_client_feed(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_up,
		   struct l7_buf *to_client);
struct h1_pending *h1_queue_head(struct l7_filter *f);
void h1_queue_pop(struct l7_filter *f);

/* l7_http1_upstream.c */
int h1_upstream_feed(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_client,
		     struct l7_buf *to_up);
/* Write the filter's answers that are due: those at the head of the queue. */
int h1_answers_flush(struct l7_filter *f, struct l7_buf *to_client);

#endif
