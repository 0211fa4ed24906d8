// SPDX-License-Identifier: Apache-2.0
/*
 * skiff-echo over HTTP/2: nghttp2 as the server, on a blocking socket. Each stream is answered
 * when its request ends, in the order requests end (a /delay/ path holds the connection's other
 * streams meanwhile: a test peer, not a server). A request with a content-type of
 * application/grpc is answered as gRPC: the JSON in one length-prefixed message, and the status
 * in a grpc-status trailer (0 for 200); a failure is a trailers-only response, as gRPC servers
 * send one (UNAVAILABLE (14) for 503, UNKNOWN (2) otherwise), so that /fail/N/M makes a flaky
 * gRPC server. A gRPC answer says in x-received how many messages and bytes the request carried
 * (a client-streaming upload). Two streaming gRPC paths, for the router's streaming tests:
 *   /stream/N/MS   N messages, one every MS ms, then grpc-status 0 (server streaming)
 *   /pingpong      each request message answered at once with the same message, grpc-status 0
 *                  when the request ends (bidirectional: the client waits for each answer)
 * and /h2/cancels answers how many streams its clients reset with CANCEL (a router's cancel
 * reaching the endpoint). /truncate... is cut short as over HTTP/1.1: its content-length promises
 * 1,000 bytes more than the body that goes out before the connection closes. A request to /hold/MS stops the connection reading for MS ms once its
 * head is in: a slow endpoint, for a proxy that must not buffer the upload meanwhile.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "echo/echo_h2.h"

#define MAX_TIMED 16 /* /stream/ streams at once per connection */

struct stream {
	int32_t sid;
	char *method, *path;
	struct authz_header h[64];
	size_t n;
	bool grpc;
	struct strbuf body; /* the answer */
	size_t sent;
	char status[8], clen[24], grpc_status[8], received[48];
	nghttp2_nv nv[5], trailer[1];
	/* gRPC request messages: the one being read, how many, how many bytes in all */
	struct strbuf msg;
	unsigned nmsg;
	size_t nbytes;
	/* streaming answers: more of the body may come (fin: no more) */
	bool pingpong, headed, fin;
	bool cut; /* /truncate: the connection closes once the body went, its end never sent */
	unsigned left, every_ms; /* /stream/: messages still to send, the pause */
	uint64_t due;		 /* the next one's time (CLOCK_MONOTONIC ms) */
};

struct conn {
	int fd;
	const char *pod;
	echo_answer_fn answer;
	void *ctx;
	struct stream *timed[MAX_TIMED];
	unsigned hold_ms; /* /hold/MS: read nothing for so long */
	bool cut;	  /* a /truncate body went out: close now */
};

static unsigned cancels; /* streams reset by a client with CANCEL, every connection (atomic) */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static nghttp2_nv nv(const char *name, const char *value)
{
	return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
			    NGHTTP2_NV_FLAG_NONE};
}

static void stream_free(struct conn *c, struct stream *s)
{
	for (size_t i = 0; i < MAX_TIMED; i++)
		if (c->timed[i] == s)
			c->timed[i] = NULL;
	sb_free(&s->msg);
	free(s->method);
	free(s->path);
	for (size_t i = 0; i < s->n; i++) {
		free((char *)s->h[i].name);
		free((char *)s->h[i].value);
	}
	sb_free(&s->body);
	free(s);
}

static int on_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct stream *s;

	(void)arg;
	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	s->sid = f->hd.stream_id;
	nghttp2_session_set_stream_user_data(ss, f->hd.stream_id, s);
	return 0;
}

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
	const char *n = (const char *)name, *v = (const char *)value;

	(void)flags;
	(void)arg;
	if (!s || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (!strcmp(n, ":method"))
		s->method = strndup(v, vlen);
	else if (!strcmp(n, ":path"))
		s->path = strndup(v, vlen);
	else if (n[0] == ':' && strcmp(n, ":authority"))
		return 0;
	else if (s->n < sizeof(s->h) / sizeof(s->h[0])) {
		/* :authority shows as host, as the HTTP/1.1 side shows Host */
		s->h[s->n].name = strndup(n[0] == ':' ? "host" : n, n[0] == ':' ? 4 : nlen);
		s->h[s->n++].value = strndup(v, vlen);
		if (!strcmp(n, "content-type") && !strncasecmp(v, "application/grpc", 16))
			s->grpc = true;
	}
	return 0;
}

static ssize_t body_read(nghttp2_session *ss, int32_t sid, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct stream *s = src->ptr;
	size_t left = s->body.len - s->sent;

	if (!left && s->cut) {
		((struct conn *)arg)->cut = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (!left && !s->fin)
		return NGHTTP2_ERR_DEFERRED; /* a streaming answer: more to come */
	if (len > left)
		len = left;
	memcpy(buf, s->body.s + s->sent, len);
	s->sent += len;
	if (s->sent == s->body.len && s->fin && !s->cut) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (s->grpc) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			s->trailer[0] = nv("grpc-status", s->grpc_status);
			nghttp2_submit_trailer(ss, sid, s->trailer, 1);
		}
	}
	return (ssize_t)len;
}

/* One gRPC message (uncompressed, a 4-byte big-endian length, the bytes) onto the answer. */
static void put_msg(struct strbuf *b, const char *p, size_t len)
{
	char pre[5] = {0, (char)(len >> 24), (char)(len >> 16), (char)(len >> 8), (char)len};

	sb_put(b, pre, 5);
	sb_put(b, p, len);
}

/* A streaming answer's head, before its first message. */
static int stream_head(nghttp2_session *ss, struct conn *c, struct stream *s)
{
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};

	if (s->headed) { /* not deferred (still sending): nothing to resume */
		nghttp2_session_resume_data(ss, s->sid);
		return 0;
	}
	s->headed = true;
	strcpy(s->grpc_status, "0");
	s->nv[0] = nv(":status", "200");
	s->nv[1] = nv("content-type", "application/grpc");
	s->nv[2] = nv("x-pod", c->pod);
	return nghttp2_submit_response(ss, s->sid, s->nv, 3, &dp);
}

/* Request DATA of a gRPC stream: its messages counted, and a ping-pong's answered at once. */
static int on_data(nghttp2_session *ss, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
		   void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ss, sid);

	(void)flags;
	if (!s || !s->grpc)
		return 0;
	s->nbytes += len;
	sb_put(&s->msg, (const char *)data, len);
	while (s->msg.len >= 5) {
		const uint8_t *m = (const uint8_t *)s->msg.s;
		size_t n = (size_t)m[1] << 24 | (size_t)m[2] << 16 | (size_t)m[3] << 8 | m[4];

		if (s->msg.len < 5 + n)
			break;
		s->nmsg++;
		if (s->pingpong) {
			put_msg(&s->body, s->msg.s + 5, n);
			if (stream_head(ss, arg, s))
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		memmove(s->msg.s, s->msg.s + 5 + n, s->msg.len - 5 - n);
		s->msg.len -= 5 + n;
	}
	return 0;
}

/* /stream/N/MS: the answer's messages go out on a timer (timed_due). */
static int stream_start(nghttp2_session *ss, struct conn *c, struct stream *s)
{
	unsigned n = 0, ms = 0;

	if (sscanf(s->path, "/stream/%u/%u", &n, &ms) != 2)
		n = 1;
	for (size_t i = 0; i < MAX_TIMED; i++)
		if (!c->timed[i]) {
			c->timed[i] = s;
			s->left = n;
			s->every_ms = ms;
			s->due = now_ms();
			return stream_head(ss, c, s);
		}
	return -1; /* too many at once: the connection ends */
}

/* Each /stream/ whose next message is due gets it; the ms until the next one (-1: none). */
static int timed_due(nghttp2_session *ss, struct conn *c)
{
	uint64_t now = now_ms(), next = UINT64_MAX;
	char m[48];

	for (size_t i = 0; i < MAX_TIMED; i++) {
		struct stream *s = c->timed[i];

		if (!s)
			continue;
		if (s->left && s->due <= now) {
			snprintf(m, sizeof(m), "message %u from %s", s->left, c->pod);
			put_msg(&s->body, m, strlen(m));
			s->fin = --s->left == 0;
			s->due = now + s->every_ms;
			nghttp2_session_resume_data(ss, s->sid);
		}
		if (s->left && s->due < next)
			next = s->due;
	}
	return next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
}

/* The request ended: answer it. */
static int respond(nghttp2_session *ss, struct conn *c, int32_t sid, struct stream *s)
{
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};
	const char *path = s->path ? s->path : "";
	int code;

	if (s->grpc && !strncmp(path, "/stream/", 8))
		return stream_start(ss, c, s);
	s->fin = true;
	if (s->grpc && s->pingpong)
		return stream_head(ss, c, s); /* its trailers now */
	if (!strcmp(path, "/h2/cancels")) {
		sb_printf(&s->body, "{\"cancels\":%u}\n",
			  __atomic_load_n(&cancels, __ATOMIC_RELAXED));
		code = 200;
	} else {
		code = c->answer(c->ctx, s->method ? s->method : "", path, s->h, s->n, &s->body);
	}
	snprintf(s->status, sizeof(s->status), "%d", s->grpc ? 200 : code);
	s->cut = !s->grpc && !strncmp(path, "/truncate", 9);
	snprintf(s->clen, sizeof(s->clen), "%zu", s->body.len + (s->cut ? 1000 : 0));
	s->nv[0] = nv(":status", s->status);
	s->nv[1] = nv("content-type", s->grpc ? "application/grpc" : "application/json");
	s->nv[2] = nv("x-pod", c->pod);
	s->nv[3] = nv("content-length", s->clen);
	if (!s->grpc)
		return nghttp2_submit_response(ss, sid, s->nv, 4, &dp);
	snprintf(s->grpc_status, sizeof(s->grpc_status), "%d",
		 code == 200   ? 0
		 : code == 503 ? 14
			       : 2);
	snprintf(s->received, sizeof(s->received), "%u/%zu", s->nmsg, s->nbytes);
	s->nv[3] = nv("x-received", s->received);
	if (code != 200) { /* trailers-only */
		s->nv[4] = nv("grpc-status", s->grpc_status);
		return nghttp2_submit_response(ss, sid, s->nv, 5, NULL);
	}
	{ /* one message: the JSON */
		struct strbuf m = {0};

		put_msg(&m, s->body.s, s->body.len);
		sb_free(&s->body);
		s->body = m;
	}
	return nghttp2_submit_response(ss, sid, s->nv, 4, &dp);
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);

	if (s && f->hd.type == NGHTTP2_RST_STREAM && f->rst_stream.error_code == NGHTTP2_CANCEL)
		__atomic_fetch_add(&cancels, 1, __ATOMIC_RELAXED);
	if (s && f->hd.type == NGHTTP2_HEADERS && s->grpc && s->path &&
	    !strcmp(s->path, "/pingpong"))
		s->pingpong = true;
	if (s && f->hd.type == NGHTTP2_HEADERS && s->path)
		sscanf(s->path, "/hold/%u", &((struct conn *)arg)->hold_ms);
	if (s && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return respond(ss, arg, f->hd.stream_id, s) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	return 0;
}

static int on_close(nghttp2_session *ss, int32_t sid, uint32_t code, void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ss, sid);

	(void)code;
	if (s)
		stream_free(arg, s);
	return 0;
}

/* What nghttp2 has to send, in one write: frames in several would meet Nagle and the
 * peer's delayed ACK (40 ms). */
static int flush(nghttp2_session *ss, int fd)
{
	struct strbuf b = {0};
	const uint8_t *out;
	ssize_t n, w = 0;

	while ((n = nghttp2_session_mem_send(ss, &out)) > 0)
		sb_put(&b, (const char *)out, (size_t)n);
	for (size_t off = 0; n >= 0 && off < b.len; off += (size_t)w) {
		w = send(fd, b.s + off, b.len - off, MSG_NOSIGNAL);
		if (w <= 0)
			n = -1;
	}
	sb_free(&b);
	return n < 0 ? -1 : 0;
}

void echo_h2_serve(int fd, const uint8_t *pre, size_t len, const char *pod, echo_answer_fn answer,
		   void *ctx)
{
	nghttp2_settings_entry set = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 256};
	struct conn c = {.fd = fd, .pod = pod, .answer = answer, .ctx = ctx};
	nghttp2_session_callbacks *cb;
	nghttp2_session *ss = NULL;
	uint8_t buf[16384];
	ssize_t n;

	if (nghttp2_session_callbacks_new(&cb))
		return;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	if (nghttp2_session_server_new(&ss, cb, &c) ||
	    nghttp2_submit_settings(ss, NGHTTP2_FLAG_NONE, &set, 1) ||
	    nghttp2_session_mem_recv(ss, pre, len) < 0)
		goto out;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int ms = timed_due(ss, &c); /* /stream/ answers go out on their timer meanwhile */

		if (flush(ss, fd) || c.cut ||
		    !(nghttp2_session_want_read(ss) || nghttp2_session_want_write(ss)))
			break;
		if (poll(&p, 1, ms) == 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0 || nghttp2_session_mem_recv(ss, buf, (size_t)n) < 0)
			break;
		if (c.hold_ms) {
			flush(ss, fd);
			usleep(c.hold_ms * 1000);
			c.hold_ms = 0;
		}
	}
out:
	nghttp2_session_del(ss);
	nghttp2_session_callbacks_del(cb);
}
