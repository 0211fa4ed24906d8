/* SPDX-License-Identifier: Apache-2.0 */
/* HBONE's private state: connections (TLS + HTTP/2) and their streams. See hbone.h. */
#ifndef SKIFF_HBONE_INTERNAL_H
#define SKIFF_HBONE_INTERNAL_H

#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hbone/hbone.h"
#include "hbone/tls_records.h"
#include "proxy/proxy.h"

#define HBONE_STREAM_WINDOW (1 << 20) /* per-stream flow-control window and buffer */
#define HBONE_MAX_STREAMS   100	      /* concurrent streams per connection, as ztunnel */

#define HB_EV_GONE (~0u) /* hb_stream.ev_mask: the local socket has left epoll */

/* What a stream reads from its local socket ahead of its DATA frames. The window (what the peer
 * may send before we acknowledge) is larger: it must cover the round trip of WINDOW_UPDATE
 * through both agents, which a busy 2-core node stretches to milliseconds; 256 KiB capped one
 * stream at ~3 Gbit/s there, 1 MiB did not. */
#define HB_UP_BUF (256 << 10)

/* With kTLS send, a stream's bytes go local socket -> pipe -> TLS socket by splice(), never
 * through skiffd's memory (hbone_splice.c). The stream and every DATA frame queued from the pipe
 * hold a reference: the pipe must outlive a stream whose last frames are still being sent. */
struct hb_pipe {
	int fd[2];
	size_t len; /* bytes in it (claimed by queued frames or not) */
	unsigned int refs;
	bool stalled; /* it took nothing (an empty socket, or no slot left): the stream reads
			    * again once bytes leave it, not on EPOLLIN */
};

/* A queued DATA frame's payload: once the connection's plaintext has been written up to `at`
 * (an offset in wbuf), `len` more bytes come from `pipe`. */
struct hb_seg {
	size_t at;
	size_t len;
	struct hb_pipe *pipe;
};

/* Bytes on their way between a stream's local socket and its DATA frames. */
struct hb_buf {
	unsigned char *data; /* up: HB_UP_BUF bytes; down: HBONE_STREAM_WINDOW */
	size_t off, len;
};

struct hb_stream {
	struct hb_conn *conn;
	int32_t id;	       /* HTTP/2 stream id; -1 before the request is submitted */
	struct proxy_ev local; /* EV_HB_LOCAL: the punted client, or the pod */
	struct hb_buf
	    up; /* local -> DATA frames (with `pipe`: up.len counts its unclaimed bytes) */
	struct hb_pipe *pipe; /* kTLS send: local -> pipe -> socket (hbone_splice.c); else NULL */
	bool local_fast;      /* the local socket may be in the sockhash: read() it (splice() does
				    * not see redirected bytes) */
	struct hb_buf down;   /* DATA frames -> local */
	struct skiff_sock_origin dst; /* where the stream goes (its :authority) */
	struct skiff_sock_origin src; /* the punted client (port 0): sent and read as `forwarded` */
	bool open;		      /* 200 sent or received: bytes may flow */
	bool local_connecting;	      /* server side: connect() to the pod in progress */
	bool local_eof;		      /* the local side said FIN */
	bool end_sent;		      /* ... and END_STREAM went out */
	bool remote_eof;	      /* the peer sent END_STREAM */
	bool local_shut;	      /* ... and shutdown(SHUT_WR) was passed to the local side */
	bool closed;		      /* nghttp2 closed the stream */
	bool gone;		      /* freed after this batch of events */
	bool local_reset;	      /* end the local side with RST (refused, reset, broken) */
	bool bad_method;	      /* server: the request was not CONNECT */
	bool in_ready;		      /* the local socket may have bytes to read (epoll said so) */
	bool out_ready;		      /* ... and room to write (until a write() comes back short) */
	uint32_t ev_mask;    /* the local socket's armed epoll events; HB_EV_GONE: left it */
	int status;	     /* client: the response's :status */
	uint64_t active_ms;  /* proxy.now_ms at its last byte either way (or its start) */
	uint64_t start_ms;   /* proxy.now_ms when it was made */
	uint64_t bytes_up;   /* read from the local side (client or pod) */
	uint64_t bytes_down; /* written to it */
	char baggage[512];   /* the source workload, as `baggage` says (sent, or received) */
	char trace[64];	     /* server: the request's `traceparent` */
	struct skiff_agent_dial_key dial; /* server: its dial to the pod, as filed (proxy_dial.c) */
	struct hb_stream *next;
};

/*
 * How a connection's bytes cross TLS once the handshake is done: one of four record paths
 * (hbone_tls.c), chosen by hb_tls_established and then called by the data path, which never asks
 * again who seals or opens the records.
 */
struct hb_rec_ops {
	/* Records -> nghttp2 until the socket is drained; -1: broken, forged or closed. */
	int (*read)(struct hb_conn *c);
	/* wbuf -> the socket until done or the socket is full (ssl_want_write); -1: broken. */
	int (*send)(struct hb_conn *c);
	/* send() has bytes for the socket even with wbuf empty: records or a KeyUpdate (skiffd's
	 * records), payloads queued in pipes (kTLS). */
	bool (*owed)(const struct hb_conn *c);
	/* After the sends of a flush: records the path gathered below wbuf -> the socket. NULL:
	 * it gathers none. */
	int (*push)(struct hb_conn *c);
	/* Nothing written waits in skiffd: neither plaintext, nor records, nor queued payloads. */
	bool (*flushed)(const struct hb_conn *c);
	bool splice; /* the kernel seals: DATA payloads may move by splice() (hbone_splice.c) */
};

struct hb_conn {
	struct proxy *p;
	struct proxy_ev ev; /* EV_HB_CONN */
	SSL *ssl;
	nghttp2_session *h2;
	bool server;
	bool connecting;     /* client: TCP connect() in progress */
	bool handshaking;    /* TLS handshake in progress */
	bool ssl_want_write; /* the last SSL call wants the socket writable */
	bool dead;	     /* closing: no new streams */
	bool gone;	     /* closed; freed after this batch of events */
	bool goaway;	     /* client: idle, GOAWAY submitted */
	bool retiring;	     /* GOAWAY sent: no new streams on it (the kernel's send key is near its
			    * record limit); it closes once its streams are done */
	int alert;	     /* what TLS says to send when the connection closes: close_notify, or
			    * the fatal alert for what the peer sent; -1: nothing (no handshake yet,
			    * or the peer's own fatal alert) */
	uint64_t ktls_recs;  /* kTLS send: records the kernel may have sealed (an upper bound) */
	bool rx_more;	     /* the socket may hold more records (the last read() was not short) */
	const struct hb_rec_ops *ops; /* the record path; NULL until the handshake is done */
	struct tls_rec *rec; /* skiffd's record layer after the handshake (both ways, or receive
			      * only where the kernel sends); NULL: OpenSSL's */
	unsigned char secret[2][TLS_REC_SECRET_MAX]; /* handshake: client, server traffic secret */
	size_t secret_len;
	unsigned secret_got;	    /* bit 0: the client's, bit 1: the server's */
	unsigned char *rbuf, *obuf; /* rec: records read, not yet whole; records to write */
	size_t rlen, rcap, ooff, olen, ocap; /* both grow with bulk traffic (hb_buf_grow) */
	uint32_t ev_mask;		     /* the socket's armed epoll events */
	struct sockaddr_storage node;	     /* client: the peer node's 15008 */
	socklen_t node_len;
	char src_id[256];    /* client: the identity it presents (pool key) */
	unsigned char *wbuf; /* h2 output TLS has not taken yet: bytes woff..wlen */
	size_t woff, wlen, wcap;
	struct hb_seg *segs;	   /* kTLS: DATA payloads spliced between wbuf's bytes, in order */
	size_t seg0, nseg, segcap; /* the pending ones: segs[seg0 .. seg0 + nseg) */
	char peer_id[256];	   /* the peer's SPIFFE ID, once verified */
	struct hb_stream *streams;
	size_t nstreams;
	uint64_t
	    born_ms; /* proxy.now_ms when it opened (the handshake's deadline counts from it) */
	uint64_t active_ms; /* ... when it last had a stream */
	uint64_t rx_ms;	    /* ... when the peer last sent a frame: a peer that answers no CONNECT
			     * and sends nothing for connect_ms is hung (stopped, wedged) */
	struct hb_conn *next, *prev;
};

/* hbone_conn.c */
struct hb_conn *hb_conn_new(struct proxy *p, int fd, bool server, SSL_CTX *ctx);
/* Push pending h2 output into TLS and re-arm every socket of `c`; closes `c` when it is done. */
void hb_conn_kick(struct hb_conn *c);

/* hbone_tls.c: the bytes between nghttp2 and the socket, through TLS */
void hb_tls_setup(struct hb_conn *c);
/* After the handshake: choose the record path (c->ops) from what the kernel and OpenSSL offer;
 * counted in proxy_stats. */
void hb_tls_established(struct hb_conn *c);
/* Why an SSL call stopped (WANT_READ/WANT_WRITE: 0, with ssl_want_write set); -1: failed. */
int hb_tls_wants(struct hb_conn *c, int rv);
/* nghttp2 -> TLS until nghttp2 has nothing or the socket is full; -1 when broken. */
int hb_tls_flush(struct hb_conn *c);
/* Before the socket closes: the alert c->alert names (close_notify, or a fatal one), best
 * effort and without blocking, by whichever sealed the connection's records. */
void hb_tls_goodbye(struct hb_conn *c);
/* kTLS send: count the records of a write of `len` bytes; retire the connection (GOAWAY) well
 * before the kernel's key reaches AES-GCM's record limit, end it just before. */
void hb_tls_ktls_sent(struct hb_conn *c, size_t len);
/* Make *buf (of *cap bytes) hold `need`: from 4 KiB, doubling, at most `most` (0: no limit)
 * unless `need` is more. The connection's buffers start small and grow only with bulk traffic:
 * a pool of request/response connections does not hold hundreds of KiB each. 0 or -1 (ENOMEM,
 * *buf unchanged). */
int hb_buf_grow(unsigned char **buf, size_t *cap, size_t need, size_t most);
/* Append to the connection's plaintext output (wbuf). */
int hb_tls_wbuf_add(struct hb_conn *c, const void *data, size_t len);
/* nghttp2_send_data_callback: a DATA frame's header and payload, straight into the output. */
int hb_tls_send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *hd, size_t len,
		     nghttp2_data_source *src, void *user);

/* hbone_records.c: HBONE's records through tls_records.c, where the kernel does not do them */
/* Where the SSL_CTX hands HBONE connections their traffic secrets (the keylog callback). */
void hb_rec_watch(struct hb_conn *c, SSL_CTX *ctx);
/* After the handshake: take the records over from OpenSSL; false: OpenSSL keeps them. */
bool hb_rec_start(struct hb_conn *c);
/* Records -> nghttp2 until the socket is drained; -1: broken, forged or closed. */
int hb_rec_read(struct hb_conn *c);
/* The same where the kernel seals what is sent (kTLS): its send key cannot be renewed, so a
 * peer that asks for a KeyUpdate ends the connection (with close_notify: no data may precede
 * the KeyUpdate TLS wants in answer). */
int hb_rec_read_ktls(struct hb_conn *c);
/* Seal one alert and write it now (after records already owed), best effort. */
void hb_rec_alert(struct hb_conn *c, int desc);
/* wbuf -> records -> the socket, until done or the socket is full; -1: broken. */
int hb_rec_send(struct hb_conn *c);
/* Records (or a KeyUpdate) are owed to the socket. */
bool hb_rec_owed(const struct hb_conn *c);
void hb_rec_free(struct hb_conn *c);

/* hbone_splice.c: with kTLS send, DATA payloads move by splice() (see struct hb_pipe) */
/* local -> pipe while there is room; -errno on a broken local side. */
int hb_splice_up(struct hb_stream *st);
/* Queue a DATA frame: its header into wbuf, `len` bytes of st's pipe after it. */
int hb_splice_queue(struct hb_conn *c, struct hb_stream *st, const uint8_t *hd, size_t len);
/* wbuf and the queued payloads -> the kTLS socket, in order, until done or the socket is full. */
int hb_splice_send(struct hb_conn *c);
/* wbuf dropped its first `n` bytes: the queued payloads' offsets follow. */
void hb_splice_shift(struct hb_conn *c, size_t n);
void hb_pipe_put(struct hb_pipe *pp);
/* Drop every queued payload (the connection is closing). */
void hb_splice_drop(struct hb_conn *c);

/* hbone_out.c */
/* After the handshake: submit the CONNECTs of the streams that waited for it. */
void hb_out_submit_pending(struct hb_conn *c);

/* hbone_session.c */
int hb_session_init(struct hb_conn *c);
/* Client: send CONNECT for `st` (its dst); -errno when nghttp2 refuses. */
int hb_session_connect(struct hb_conn *c, struct hb_stream *st);
/* Server: answer `st`'s CONNECT with `status` (200 opens it, anything else ends it). */
int hb_session_respond(struct hb_conn *c, struct hb_stream *st, int status);

/* hbone_authz.c */
void hb_forwarded_format(const struct skiff_sock_origin *src, char *out, size_t len);
void hb_forwarded_parse(const char *v, size_t n, struct skiff_sock_origin *src);
/* Server: AuthorizationPolicy for st's CONNECT (proxy_opts.authz); PROXY_L7 fills *l7. */
int hb_authorize(struct hb_conn *c, struct hb_stream *st, struct proxy_l7 *l7);

/* hbone_stream.c */
struct hb_stream *hb_stream_new(struct hb_conn *c, int local_fd);
/* Bytes of a DATA frame for the local side; false when they do not fit (a protocol error). */
bool hb_stream_down(struct hb_stream *st, const uint8_t *data, size_t len);
/* Move what can move between the local socket and the buffers; -errno on a broken local side. */
int hb_stream_pump(struct hb_stream *st);
void hb_stream_rearm(struct hb_stream *st);
void hb_stream_free(struct hb_stream *st, bool reset);
/* Its CONNECT was answered 200: the stream carries a connection from now on (stream_open). */
void hb_stream_opened(struct hb_stream *st);
/* Its destination pod refused or never answered (503, or no answer to the CONNECT): reported
 * opened and closed with Envoy's UF, at whichever node this is. */
void hb_stream_failed(struct hb_stream *st);
/* Move `len` bytes of the stream's `up` buffer (what its provider offered) to `out`. */
void hb_stream_take_up(struct hb_stream *st, uint8_t *out, size_t len);
/* The data provider of a stream's DATA frames (nghttp2_data_source_read_callback): offers what
 * `up` holds without copying it (NGHTTP2_DATA_FLAG_NO_COPY); hb_tls_send_data takes it. */
ssize_t hb_stream_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			  nghttp2_data_source *src, void *user);
void hb_access_log(const struct hb_conn *c, const struct hb_stream *st, const char *what);
/* Server side: connect to the pod named by the request (st->dst), non-blocking. */
int hb_stream_dial(struct hb_stream *st);
/* Server side: join the stream to the pod through an L7 relay (socketpair); answers 200. */
int hb_stream_attach_l7(struct hb_stream *st, const struct proxy_l7 *l7);

#endif
