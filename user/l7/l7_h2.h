/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/2 (prior-knowledge h2c) filter's insides, shared by its files:
 *   l7_h2.c           the l7_filter_ops: open, close, counters
 *   l7_h2_frame.c     frame headers, reassembly, the frames the filter writes itself
 *   l7_h2_hpack.c     header blocks: decoding the client's, forwarding them, the filter's answers
 *   l7_h2_encode.c    the HPACK encoder toward the pod
 *   l7_h2_check.c     what makes a field malformed (RFC 9113 8.2, 8.3)
 *   l7_h2_request.c   a request's header block is complete: check, decide, forward or deny
 *   l7_h2_streams.c   the forwarded streams the client may still send trailers on
 *   l7_h2_deny.c      denied streams: their answer, flow control toward the client, when to write
 *   l7_h2_client.c    client -> pod frames
 *   l7_h2_upstream.c  pod -> client frames
 *   l7_h2_status.c    the pod's final :status per stream, for the decider
 *   l7_h2_tally.c     each forwarded stream's sizes, reported when it ends
 *
 * Client -> pod, everything passes byte for byte except header blocks and what belongs to streams
 * the pod never sees (l7_h2_client.c): the filter decodes every header block with the client's
 * HPACK state, checks and decides requests, and re-encodes what it forwards with its own encoder
 * toward the pod (l7_h2_encode.c), whose dynamic table follows the client's: what the client
 * sends as a one-byte reference to a large entry goes on as a reference too, not as a literal.
 * Pod -> client, everything passes untouched but the pod's SETTINGS_HEADER_TABLE_SIZE, capped at
 * H2_TABLE_MAX; what the filter says itself (403s, WINDOW_UPDATEs for dropped DATA) goes in only
 * between whole frames, never inside a header block. Pod DATA may wait, though, when a 403 body
 * took the part of the client's window it was meant for (l7_h2_upstream.c).
 *
 * Bounds, so that what a client sends costs skiffd and the pod about what it would cost the pod
 * alone: a decoded header list holds at most H2_MAX_LIST bytes (Envoy's default, counted as RFC
 * 9113 6.5.2 does) and no more than the pod's SETTINGS_MAX_HEADER_LIST_SIZE; a header block at
 * most H2_MAX_BLOCK bytes in H2_MAX_CONTINUATION CONTINUATIONs; header blocks toward the pod
 * never outgrow the client's by more than H2_ENC_RATIO times plus H2_ENC_SLACK bytes.
 */
#ifndef SKIFF_L7_H2_H
#define SKIFF_L7_H2_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l7/l7_filter.h"
#include "l7/l7_h2_limits.h"

#define H2_MIN_FRAME	   16384      /* SETTINGS_MAX_FRAME_SIZE's default and floor */
#define H2_MAX_WINDOW	   0x7fffffff /* largest WINDOW_UPDATE increment */
#define H2_MAX_DENIED	   1024	      /* denied streams still owed an answer */
#define H2_MAX_RESET_KEPT  128	      /* streams reset by the filter, remembered for stragglers */
#define H2_MAX_UNACKED_SET 64	      /* pod SETTINGS the client has not acknowledged yet */
#define H2_MAX_HELD	   (1 << 20) /* pod bytes held while its DATA waits for the client's window */
#define H2_MAX_OPEN	   1024	     /* forwarded streams the client has not ended */
#define H2_MAX_TALLY	   4096	     /* forwarded streams whose response has not ended */

#define H2_TABLE_MAX 4096	/* HPACK dynamic table, client -> pod both */
#define H2_ENC_RATIO 2		/* header bytes toward the pod per client byte */
#define H2_ENC_SLACK (64 << 10) /* plus this much */

/* A frame header, decoded. */
struct h2_hd {
	uint32_t len;
	uint8_t type, flags;
	uint32_t sid;
};

/* What to do with a frame's payload once its header is read. */
enum h2_mode {
	H2_PASS,   /* copy header and payload to the output as they arrive */
	H2_DROP,   /* swallow */
	H2_BUFFER, /* collect, then hand the whole payload to the end callback */
	H2_WAIT,   /* not yet: hold this frame and all after it until h2_resume() */
};

/* Reassembles one direction's frames from bytes that may arrive one at a time. */
struct h2_reader {
	uint8_t raw[H2_HD_LEN];
	size_t raw_got;
	struct h2_hd hd;
	bool in_frame; /* header read, payload under way */
	enum h2_mode mode;
	size_t got; /* payload bytes so far */
	uint8_t *buf;
	size_t cap;
	uint32_t max_len; /* longest frame the receiver allowed (largest it ever advertised) */
	bool waiting;	  /* a frame's start said H2_WAIT: its header is in raw, the rest in held */
	struct l7_buf held;
};

struct l7_filter;

struct h2_frame_cb {
	/* A frame header was read: returns an h2_mode, or -EPROTO. */
	int (*start)(struct l7_filter *f, const struct h2_hd *hd);
	/* The whole frame went by; `payload` is set only for H2_BUFFER. 0 or -errno. */
	int (*end)(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *payload);
};

/* How the client encoded a field: whether it added it to its HPACK table, or referred to one. */
enum h2_rep {
	H2_REP_LITERAL,	    /* a literal the client did not index, name and all */
	H2_REP_NAME_REF,    /* likewise, but its name from a table */
	H2_REP_INCREMENTAL, /* a literal the client added to its table */
	H2_REP_INDEXED,	    /* a reference to a table entry */
};

/* A decoded header list; names and values NUL-terminated in one arena (offsets: it moves). */
struct h2_field {
	size_t name, namelen, value, valuelen;
	uint8_t flags;	 /* NGHTTP2_NV_FLAG_NO_INDEX when the client sent it never-indexed */
	enum h2_rep rep; /* so that the encoder toward the pod indexes what the client indexed */
};

struct h2_fields {
	char *arena;
	size_t len, cap;
	struct h2_field *v;
	size_t n, vcap;
	size_t size;	/* the list's size as RFC 9113 counts it, fields not kept included */
	bool oversized; /* over the limit: the fields after it were decoded, not kept */
};

/* One field as the encoder toward the pod takes it. */
struct h2_nv {
	const char *name, *value;
	size_t namelen, valuelen;
	uint8_t flags;
	enum h2_rep rep;
};

/* What a client header block is, decided at its HEADERS frame. */
enum h2_block_kind {
	H2_BLOCK_REQUEST,  /* a new stream: decide */
	H2_BLOCK_TRAILERS, /* on a forwarded stream the client has not ended: check and forward */
	H2_BLOCK_DROP,	   /* on a denied stream: decode (HPACK state), forward nothing */
};

/* Where the HPACK representation under way is: the client's encoding of each field is read from
 * the bytes the inflater consumes for it. */
enum h2_scan {
	H2_SCAN_START,	/* at a representation's first byte */
	H2_SCAN_UPDATE, /* in a dynamic table size update's integer */
	H2_SCAN_FIELD,	/* in a field: its kind is known */
};

/* The client header block under way (HEADERS, then CONTINUATIONs until END_HEADERS). */
struct h2_block {
	bool open;
	uint32_t sid;
	enum h2_block_kind kind;
	uint8_t flags;	 /* NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_PRIORITY of its HEADERS */
	uint8_t prio[5]; /* the HEADERS priority fields, when PRIORITY */
	size_t wire;	 /* its frames' bytes so far */
	uint32_t ncont;	 /* its CONTINUATIONs so far */
	enum h2_scan scan;
	enum h2_rep rep; /* the field under way's */
	struct h2_fields fields;
};

/* How the filter answers a stream it does not forward. */
enum h2_answer {
	H2_ANSWER_403,	    /* denied: 403 and L7_DENY_BODY */
	H2_ANSWER_403_HEAD, /* denied HEAD: the 403's headers alone (a HEAD answer has no body) */
	H2_ANSWER_CONNECT,  /* CONNECT: no tunnel is configured; 403 without a body, as HTTP/1.1 */
	H2_ANSWER_431,	    /* a header list over the limit */
	H2_ANSWER_RESET,    /* malformed: RST_STREAM(PROTOCOL_ERROR) */
	H2_ANSWER_REFUSED,  /* H2_MAX_OPEN streams open already: RST_STREAM(REFUSED_STREAM) */
	H2_ANSWER_NONE,	    /* the pod reset a stream: nothing to say, its stragglers to drop */
};

/* A stream the filter answers itself. */
struct h2_denied {
	uint32_t sid;
	enum h2_answer answer;
	bool head_sent;	   /* the 403 HEADERS went out */
	size_t body_sent;  /* bytes of L7_DENY_BODY sent */
	bool answered;	   /* our side is closed (END_STREAM or RST_STREAM sent) */
	bool reset;	   /* we sent RST_STREAM: the client may still have frames in flight */
	bool client_done;  /* the client ended its side (END_STREAM) or reset the stream */
	int64_t win_extra; /* the client's WINDOW_UPDATEs on this stream */
};

/* A forwarded stream's sizes so far (l7_h2_tally.c). */
struct h2_tally {
	uint32_t sid;
	int status; /* the pod's final :status; 0: none yet */
	uint64_t request, response;
};

/* What a pod SETTINGS changes for the filter, from the client's ACK on: only then does the pod
 * rely on it (an nghttp2 pod enforces a larger frame size only once acknowledged). */
struct h2_pod_settings {
	int64_t tbl_min, tbl_last; /* smallest and final HEADER_TABLE_SIZE, capped at H2_TABLE_MAX;
				    * -1: none in the frame */
	uint32_t max_frame;	   /* MAX_FRAME_SIZE; 0: none in the frame */
};

struct l7_filter {
	struct l7_decider dec;
	struct l7_counts counts;
	bool failed; /* a protocol error: nothing more passes */

	size_t preface_got;		/* bytes of the client preface seen */
	struct h2_reader cl, up;	/* client -> pod, pod -> client */
	struct l7_buf *out_up, *out_cl; /* the outputs of the call under way */

	struct h2_block blk;
	nghttp2_hd_inflater *inflater; /* the client's HPACK encoder, mirrored */
	struct h2_enc *enc;	       /* ours toward the pod (l7_h2_encode.c) */
	uint64_t hb_in, hb_out;	       /* header block bytes from the client, toward the pod */
	uint32_t oversized;	       /* header lists refused for their size */
	uint32_t last_request_id;      /* highest client stream that started a request */
	uint32_t last_forwarded_id;    /* highest such stream the pod has seen */
	uint32_t *open;		       /* forwarded streams the client has not ended, ascending */
	size_t nopen, opencap;
	uint32_t up_max_frame;		 /* the pod's SETTINGS_MAX_FRAME_SIZE, acknowledged */
	uint32_t up_max_list;		 /* its SETTINGS_MAX_HEADER_LIST_SIZE; 0: none said */
	struct h2_pod_settings *pending; /* pod SETTINGS the client has not acknowledged */
	size_t npending;

	bool up_started; /* the pod's preface (its first SETTINGS, the client's first frame) went */
	bool up_in_block; /* the pod's header block is under way: nothing may go in between */
	/* Flow control toward the client, for the 403 bodies the filter adds to the pod's DATA. */
	int64_t cl_conn_win; /* the client's connection receive window */
	int64_t cl_init_win; /* its SETTINGS_INITIAL_WINDOW_SIZE */
	uint64_t owed;	     /* 403 body bytes the client's WINDOW_UPDATEs pay for, not the pod's */
	uint64_t give_back;  /* dropped client DATA bytes to return with a WINDOW_UPDATE */
	struct h2_denied *den; /* in stream order */
	size_t nden, dencap;
	bool cl_drop;	    /* the client frame under way is on a stream the pod never sees */
	uint64_t resets;    /* requests reset by the client, or malformed (rapid reset) */
	uint32_t ctl_run;   /* PING and SETTINGS asking for an answer since a request or DATA */
	uint32_t empty_run; /* frames in a row that carried nothing and ended nothing */
	bool goaway;	    /* the client broke the protocol: GOAWAY(goaway_code) pending */
	uint32_t goaway_code;

	/* The pod's response header blocks, decoded for their :status (l7_h2_status.c) when the
	 * decider asks for stream_end; NULL: passed without a look. */
	nghttp2_hd_inflater *rs_inflater;
	bool rs_broken;		/* a block did not decode: no more statuses on this connection */
	uint32_t rs_sid;	/* the stream of the pod's block under way */
	bool rs_report;		/* ... and it is a response's (not a PUSH_PROMISE's) */
	bool rs_final;		/* ... and it carried a final :status: its fields are the head's */
	uint32_t rs_end_sid;	/* the stream the pod's block under way ends; 0: none */
	struct h2_tally *tally; /* forwarded streams whose response has not ended, in no order */
	size_t ntally, tallycap;
};

/* l7_h2_client.c */
/* A request was reset (by the client, or by the filter as malformed): 0, or -EPROTO with
 * ENHANCE_YOUR_CALM when resets are more than half of H2_RESET_MIN_STREAMS requests or more. */
int h2_reset_counted(struct l7_filter *f);

/* l7_h2_frame.c */
void h2_hd_parse(const uint8_t *p, struct h2_hd *hd);
uint32_t h2_u32(const uint8_t *p);
int h2_read(struct h2_reader *r, const uint8_t *in, size_t len, struct l7_buf *out,
	    const struct h2_frame_cb *cb, struct l7_filter *f);
int h2_resume(struct h2_reader *r, struct l7_buf *out, const struct h2_frame_cb *cb,
	      struct l7_filter *f);
bool h2_reader_at_boundary(const struct h2_reader *r);
void h2_reader_free(struct h2_reader *r);
int h2_put_hd(struct l7_buf *b, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid);
int h2_put_u32_frame(struct l7_buf *b, uint8_t type, uint32_t sid, uint32_t v);
int h2_put_goaway(struct l7_buf *b, uint32_t last_sid, uint32_t code);
int h2_put_header_block(struct l7_buf *b, uint32_t sid, uint8_t flags, const uint8_t *prio,
			const uint8_t *block, size_t len, uint32_t max_frame);

/* l7_h2.c */
int h2_calm(struct l7_filter *f);

/* l7_h2_hpack.c */
int h2_hpack_open(struct l7_filter *f);
void h2_hpack_close(struct l7_filter *f);
int h2_hpack_feed(struct l7_filter *f, const uint8_t *frag, size_t len, bool final);
/* `extra`: NULL, or name\0value\0 pairs the pod gets in place of the request's propagation
 * fields (dropped then); they are not counted against the client's header bytes. */
int h2_hpack_forward(struct l7_filter *f, const char *path, size_t path_i, size_t drop_i,
		     const struct l7_buf *extra);
int h2_hpack_table_size(struct l7_filter *f, const struct h2_pod_settings *c);
size_t h2_hpack_reply(uint8_t *out, size_t len, enum h2_answer a);
size_t h2_reply_size(enum h2_answer a);
size_t h2_list_limit(const struct l7_filter *f);
void h2_fields_reset(struct h2_fields *fl);
void h2_fields_free(struct h2_fields *fl);
const char *h2_field_name(const struct h2_fields *fl, size_t i);
const char *h2_field_value(const struct h2_fields *fl, size_t i);

/* l7_h2_encode.c */
struct h2_enc;
size_t h2_hpack_int(uint8_t *p, uint32_t v, int prefix, uint8_t first);
struct h2_enc *h2_enc_open(void);
void h2_enc_close(struct h2_enc *e);
void h2_enc_table_size(struct h2_enc *e, uint32_t min, uint32_t last);
int h2_enc_begin(struct h2_enc *e, struct l7_buf *out);
int h2_enc_field(struct h2_enc *e, const struct h2_nv *nv, struct l7_buf *out);

/* l7_h2_check.c */
enum h2_name_kind {
	H2_NAME_BAD,	 /* the field makes its block malformed */
	H2_NAME_PSEUDO,	 /* ':' and a token: which ones may appear is the caller's to say */
	H2_NAME_REGULAR, /* any other well-formed field */
};
enum h2_name_kind h2_field_check(const struct h2_fields *fl, size_t i);
bool h2_scheme_ok(const char *s);
bool h2_authority_ok(const char *s);
bool h2_content_length_ok(const char *s);

/* l7_h2_request.c */
int h2_request_done(struct l7_filter *f);
int h2_trailers_done(struct l7_filter *f);

/* l7_h2_streams.c: the forwarded streams the client has not ended */
int h2_open_add(struct l7_filter *f, uint32_t sid);
bool h2_open_has(const struct l7_filter *f, uint32_t sid);
bool h2_open_remove(struct l7_filter *f, uint32_t sid);

/* l7_h2_deny.c */
struct h2_denied *h2_denied_find(struct l7_filter *f, uint32_t sid);
int h2_denied_add(struct l7_filter *f, uint32_t sid, enum h2_answer answer, bool client_done);
void h2_denied_client_done(struct l7_filter *f, struct h2_denied *d, bool reset);
int h2_flush(struct l7_filter *f, struct l7_buf *to_client);

/* l7_h2_status.c: the pod's :status per stream, for the decider's stream_end */
int h2_status_open(struct l7_filter *f);
void h2_status_close(struct l7_filter *f);
/* The mode for a pod HEADERS, PUSH_PROMISE or CONTINUATION frame: buffered to be read, or
 * passed when nothing reads it. */
int h2_status_mode(const struct l7_filter *f);
/* A buffered one: written on to the client as it came, and decoded. 0 or -ENOMEM. */
int h2_status_frame(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p);
void h2_stream_end(struct l7_filter *f, uint32_t sid, int status, const char *flags,
		   uint64_t request, uint64_t response);
/* A pod frame went by (read or passed): its DATA counts, and a response it ended is reported. */
void h2_status_frame_end(struct l7_filter *f, const struct h2_hd *hd);

/* l7_h2_tally.c: the forwarded streams' sizes, while the decider asks for stream_end */
void h2_tally_open(struct l7_filter *f, uint32_t sid, uint64_t head);
void h2_tally_client_data(struct l7_filter *f, uint32_t sid, uint32_t len);
void h2_tally_pod_data(struct l7_filter *f, uint32_t sid, uint32_t len);
bool h2_tally_status(struct l7_filter *f, uint32_t sid, int status);
void h2_tally_head_field(struct l7_filter *f, uint32_t sid, size_t len);
/* Report the stream with `flags` and forget it (sid 0: every stream left, at the end). */
void h2_tally_end(struct l7_filter *f, uint32_t sid, const char *flags);
void h2_tally_free(struct l7_filter *f);

/* l7_h2_client.c, l7_h2_upstream.c */
extern const struct h2_frame_cb h2_client_cb;
extern const struct h2_frame_cb h2_upstream_cb;

#endif
