// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 message heads (RFC 9112 §2-6): collected from bytes that may arrive one at a time,
 * then parsed into what the filter needs — the start line, the fields as the decider sees them,
 * and what they say about framing and the connection. Anything the pod could read differently
 * from us is refused rather than guessed at: that is where request smuggling lives.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "l7/l7_http1.h"

void h1_head_reset(struct h1_head *h)
{
	h->raw.off = h->raw.len = 0;
	h->size = h->line = 0;
	h->cr = false;
}

int h1_head_feed(struct h1_head *h, const uint8_t *in, size_t len, size_t *used)
{
	size_t i, from = 0;

	for (i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (h->cr != (c == '\n')) { /* a bare CR, or a bare LF */
			*used = i;
			return -EPROTO;
		}
		h->cr = c == '\r';
		if (++h->size > H1_HEAD_MAX) {
			*used = i;
			return -E2BIG;
		}
		if (c != '\n') {
			h->line += c != '\r';
			continue;
		}
		if (h->line) {
			h->line = 0;
			continue;
		}
		if (h->size == 2) { /* a blank line before the start line: RFC 9112 §2.2 skips it */
			h1_head_reset(h);
			from = i + 1;
			continue;
		}
		*used = i + 1;
		return l7_buf_put(&h->raw, in + from, i + 1 - from) ? -ENOMEM : 1;
	}
	*used = len;
	return l7_buf_put(&h->raw, in + from, len - from) ? -ENOMEM : 0;
}

static bool is_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!h1_is_tchar((unsigned char)s[i]))
			return false;
	return n > 0;
}

/* The next element of a comma-separated list, blanks around it trimmed; false at the end. */
static bool list_next(const char **s, const char **el, size_t *n)
{
	const char *p = *s, *e;

	if (!*p)
		return false;
	e = strchr(p, ',');
	if (!e)
		e = p + strlen(p);
	*s = *e ? e + 1 : e;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*el = p;
	*n = e - p;
	return true;
}

static bool el_is(const char *el, size_t n, const char *word)
{
	return n == strlen(word) && !strncasecmp(el, word, n);
}

/* Content-Length: 1*DIGIT, or a list of the same value (RFC 9112 §6.3 item 5). */
static int field_cl(struct h1_msg *m, const char *v)
{
	const char *el;
	size_t n;

	while (list_next(&v, &el, &n)) {
		uint64_t cl = 0;

		if (!n || n > 15) /* 15 digits: far beyond any body, and no overflow */
			return -EPROTO;
		for (size_t i = 0; i < n; i++) {
			if (el[i] < '0' || el[i] > '9')
				return -EPROTO;
			cl = cl * 10 + (el[i] - '0');
		}
		if (m->has_cl && cl != m->cl)
			return -EPROTO;
		m->has_cl = true;
		m->cl = cl;
	}
	return m->has_cl ? 0 : -EPROTO;
}

/* Transfer-Encoding: chunked must be the last coding, and appear once. */
static void field_te(struct h1_msg *m, const char *v)
{
	const char *el;
	size_t n;

	m->has_te = true;
	while (list_next(&v, &el, &n)) {
		if (!n)
			continue;
		if (m->te_chunked)
			m->te_bad = true; /* something after chunked */
		m->te_chunked = el_is(el, n, "chunked");
	}
}

static void field_options(struct h1_msg *m, const char *name, const char *v)
{
	const char *el;
	size_t n;

	if (!strcasecmp(name, "connection")) {
		while (list_next(&v, &el, &n)) {
			m->conn_close |= el_is(el, n, "close");
			m->conn_keepalive |= el_is(el, n, "keep-alive");
		}
	} else if (!strcasecmp(name, "upgrade")) {
		m->upgrade = true;
		while (list_next(&v, &el, &n))
			m->upgrade_h2c |= el_is(el, n, "h2c");
	} else if (!strcasecmp(name, "expect")) {
		m->expect_continue |= !strcasecmp(v, "100-continue");
	}
}

/* What the fields say about framing and the connection. */
static int fields_interpret(struct h1_msg *m)
{
	for (size_t i = 0; i < m->nfields; i++) {
		const char *name = m->fields[i].name, *v = m->fields[i].value;

		if (!strcasecmp(name, "content-length")) {
			if (field_cl(m, v))
				return -EPROTO;
		} else if (!strcasecmp(name, "transfer-encoding")) {
			field_te(m, v);
		} else if (!strcasecmp(name, "host")) {
			m->host_field = i;
			m->nhost++;
			m->host = v;
		} else {
			field_options(m, name, v);
		}
	}
	return 0;
}

static int field_add(struct h1_msg *m, const char *name, const char *value, size_t line)
{
	if (m->nfields == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		struct authz_header *f = realloc(m->fields, cap * sizeof(*f));
		size_t *l;

		if (!f)
			return -ENOMEM;
		m->fields = f;
		l = realloc(m->field_line, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		m->field_line = l;
		m->cap = cap;
	}
	m->fields[m->nfields] = (struct authz_header){.name = name, .value = value};
	m->field_line[m->nfields++] = line;
	return 0;
}

/* "name: value" (NUL-terminated where its CR was): no obs-fold, no blank before the colon,
 * no control characters in the value but HTAB. */
static int field_parse(struct h1_msg *m, char *s)
{
	char *colon = strchr(s, ':'), *v, *e;

	if (!colon || !is_token(s, colon - s))
		return -EPROTO; /* also obs-fold: a line starting with SP or HTAB */
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v; *e; e++)
		if (!h1_is_field_char((unsigned char)*e))
			return -EPROTO;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	return field_add(m, s, v, s - m->buf);
}

/*
 * Copy the head and split it into lines; every CR is followed by LF (h1_head_feed checked),
 * the last line is blank. The start line is returned; the fields are parsed.
 */
static int head_split(const struct l7_buf *raw, struct h1_msg *m, char **start)
{
	size_t len = l7_buf_unread(raw);
	char *s, *cr, *end;
	int rc;

	m->buf = malloc(len + 1);
	if (!m->buf)
		return -ENOMEM;
	memcpy(m->buf, raw->data + raw->off, len);
	m->buf[len] = '\0';
	end = m->buf + len;
	*start = m->buf;
	for (s = m->buf; s < end; s = cr + 2) {
		cr = memchr(s, '\r', end - s);
		if (!cr)
			return -EPROTO;
		if (memchr(s, '\0', cr - s))
			return -EPROTO; /* a NUL would cut the line short of what the pod reads */
		*cr = '\0';
		if (s == m->buf || cr == s)
			continue; /* the start line; the blank line */
		rc = field_parse(m, s);
		if (rc)
			return rc;
	}
	return fields_interpret(m);
}

static int version_parse(const char *v, struct h1_msg *m)
{
	if (strncmp(v, "HTTP/1.", 7) || (v[7] != '0' && v[7] != '1'))
		return -EPROTO;
	m->minor = v[7] - '0';
	return 0;
}

/*
 * An authority as a Host value or in an absolute-form target: uri-host [":" port] (RFC 9110
 * §7.2), so only the characters of RFC 3986's reg-name, IP-literal and port. Refused besides
 * CTLs and whitespace: '/', '\' and '?', which end an authority early for some parsers, and '@'
 * (userinfo), which is no part of a Host and which parsers split differently: the pod must
 * route on the very name that was decided.
 */
static bool authority_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (!h1_is_alnum(c) && !(c && strchr("-._~!$&'()*+,;=:[]%", c)))
			return false;
	}
	return true;
}

/*
 * "http://authority[/path][?query]" (https too, any case): the authority becomes the host the
 * request is decided and forwarded with (RFC 9112 §3.2.2: it wins over the Host field), *origin
 * the origin-form target it stands for (caller frees). Other schemes, an empty or unusual
 * authority: -EPROTO.
 */
static int target_absolute(struct h1_msg *m, char **origin)
{
	const char *t = m->target, *auth, *rest;
	size_t n = !strncasecmp(t, "http://", 7) ? 7 : !strncasecmp(t, "https://", 8) ? 8 : 0;

	if (!n)
		return -EPROTO;
	auth = t + n;
	rest = auth + strcspn(auth, "/?#");
	if (rest == auth || !authority_valid(auth, rest - auth))
		return -EPROTO;
	m->authority = strndup(auth, rest - auth);
	if (!m->authority || asprintf(origin, "%s%s", rest[0] == '/' ? "" : "/", rest) < 0)
		return -ENOMEM;
	m->host = m->authority;
	if (m->nhost)
		m->fields[m->host_field].value = m->authority; /* what the pod will be sent */
	return 0;
}

/*
 * The request target (RFC 9112 §3.2): origin-form, absolute-form or OPTIONS's asterisk. The
 * path the decider sees and the pod receives is the normalised one (authz_path_forward); a
 * target it refuses (a fragment) is a bad request. CONNECT's target is not looked at: CONNECT
 * is refused whatever it names (l7_http1.c).
 */
static int target_parse(struct h1_msg *m, enum authz_path_norm norm)
{
	char *origin = NULL;
	int rc;

	if (!strcmp(m->method, "CONNECT"))
		return 0;
	if (!strcmp(m->target, "*")) {
		m->path = m->target;
		return strcmp(m->method, "OPTIONS") ? -EPROTO : 0;
	}
	if (m->target[0] != '/') {
		rc = target_absolute(m, &origin);
		if (rc) {
			free(origin);
			return rc;
		}
	}
	m->path_buf = authz_path_forward(origin ? origin : m->target, norm);
	free(origin);
	m->path = m->path_buf;
	return m->path ? 0 : -EPROTO;
}

/* "METHOD SP request-target SP HTTP-version", the target visible ASCII only. */
static int request_line_parse(char *line, struct h1_msg *m)
{
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;

	if (!sp2 || !is_token(line, sp1 - line) || sp2 == sp1 + 1)
		return -EPROTO;
	*sp1 = *sp2 = '\0';
	for (const unsigned char *c = (unsigned char *)sp1 + 1; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return -EPROTO;
	m->method = line;
	m->target = sp1 + 1;
	if (version_parse(sp2 + 1, m) || sp2[9])
		return -EPROTO;
	return 0;
}

int h1_parse_request(const struct l7_buf *raw, enum authz_path_norm norm, struct h1_msg *m)
{
	char *line;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = head_split(raw, m, &line);
	if (!rc)
		rc = request_line_parse(line, m);
	if (rc)
		return rc;
	if (m->nfields > H1_FIELDS_MAX)
		return -E2BIG;
	if (m->nhost > 1 || (m->minor == 1 && !m->nhost))
		return -EPROTO; /* RFC 9112 §3.2: exactly one Host in HTTP/1.1 */
	if (m->nhost && !authority_valid(m->host, strlen(m->host)))
		return -EPROTO; /* ... with a valid value (an empty one is valid) */
	return target_parse(m, norm);
}

int h1_parse_response(const struct l7_buf *raw, struct h1_msg *m)
{
	char *line;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = head_split(raw, m, &line);
	if (rc)
		return rc;
	if (version_parse(line, m) || line[8] != ' ')
		return -EPROTO;
	for (int i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EPROTO;
		m->status = m->status * 10 + (line[i] - '0');
	}
	if (line[12] && line[12] != ' ')
		return -EPROTO;
	for (const char *c = line + 12; *c; c++)
		if (!h1_is_field_char((unsigned char)*c))
			return -EPROTO;
	return m->status < 100 ? -EPROTO : 0;
}

void h1_msg_free(struct h1_msg *m)
{
	free(m->buf);
	free(m->path_buf);
	free(m->authority);
	free(m->fields);
	free(m->field_line);
	memset(m, 0, sizeof(*m));
}

bool h1_msg_closes(const struct h1_msg *m)
{
	return m->conn_close || (m->minor == 0 && !m->conn_keepalive);
}
