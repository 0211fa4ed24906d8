// SPDX-License-Identifier: Apache-2.0
/*
 * skiff-echo over HTTP/2: nghttp2 as the server, on a blocking socket. Each stream is answered
 * when its request ends, in the order requests end (a /delay/ path holds the connection's other
 * streams meanwhile: a test peer, not a server). A request with a content-type of
 * application/grpc is answered as gRPC: the JSON in one length-prefixed message, and the status
 * in a grpc-status trailer (0 for 200, UNAVAILABLE (14) for 503, UNKNOWN (2) otherwise), so that
 * /fail/N/M makes a flaky gRPC server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "echo/echo_h2.h"

struct stream {
	char *method, *path;
	struct authz_header h[64];
	size_t n;
	bool grpc;
	struct strbuf body; /* the answer */
	size_t sent;
	char status[8], clen[24], grpc_status[8];
	nghttp2_nv nv[4], trailer[1];
};

struct conn {
	int fd;
	const char *pod;
	echo_answer_fn answer;
	void *ctx;
};

static nghttp2_nv nv(const char *name, const char *value)
{
	return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
			    NGHTTP2_NV_FLAG_NONE};
}

static void stream_free(struct stream *s)
{
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

	(void)arg;
	if (len > left)
		len = left;
	memcpy(buf, s->body.s + s->sent, len);
	s->sent += len;
	if (s->sent == s->body.len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		if (s->grpc) {
			*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			s->trailer[0] = nv("grpc-status", s->grpc_status);
			nghttp2_submit_trailer(ss, sid, s->trailer, 1);
		}
	}
	return (ssize_t)len;
}

/* The request ended: answer it. */
static int respond(nghttp2_session *ss, struct conn *c, int32_t sid, struct stream *s)
{
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};
	int code = c->answer(c->ctx, s->method ? s->method : "", s->path ? s->path : "", s->h, s->n,
			     &s->body);

	if (s->grpc) { /* one message: uncompressed, 4-byte big-endian length, the JSON */
		struct strbuf m = {0};
		uint32_t len = (uint32_t)s->body.len;
		char pre[5] = {0, (char)(len >> 24), (char)(len >> 16), (char)(len >> 8),
			       (char)len};

		sb_put(&m, pre, 5);
		sb_put(&m, s->body.s, s->body.len);
		sb_free(&s->body);
		s->body = m;
		snprintf(s->grpc_status, sizeof(s->grpc_status), "%d",
			 code == 200   ? 0
			 : code == 503 ? 14
				       : 2);
		code = 200;
	}
	snprintf(s->status, sizeof(s->status), "%d", code);
	snprintf(s->clen, sizeof(s->clen), "%zu", s->body.len);
	s->nv[0] = nv(":status", s->status);
	s->nv[1] = nv("content-type", s->grpc ? "application/grpc" : "application/json");
	s->nv[2] = nv("x-pod", c->pod);
	s->nv[3] = nv("content-length", s->clen);
	return nghttp2_submit_response(ss, sid, s->nv, s->grpc ? 3 : 4, &dp);
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);

	if (s && (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return respond(ss, arg, f->hd.stream_id, s) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	return 0;
}

static int on_close(nghttp2_session *ss, int32_t sid, uint32_t code, void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ss, sid);

	(void)code;
	(void)arg;
	if (s)
		stream_free(s);
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
	if (nghttp2_session_server_new(&ss, cb, &c) ||
	    nghttp2_submit_settings(ss, NGHTTP2_FLAG_NONE, &set, 1) ||
	    nghttp2_session_mem_recv(ss, pre, len) < 0)
		goto out;
	while (!flush(ss, fd) &&
	       (nghttp2_session_want_read(ss) || nghttp2_session_want_write(ss))) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0 || nghttp2_session_mem_recv(ss, buf, (size_t)n) < 0)
			break;
	}
out:
	nghttp2_session_del(ss);
	nghttp2_session_callbacks_del(cb);
}
