// SPDX-License-Identifier: Apache-2.0
/*
 * One access log line. JSON uses Envoy's field names as Istio's JSON encoding prints them
 * (absent values are null, numbers are numbers), plus the two principals and which side wrote
 * the line, so a collector can tell the client's line from the server's. TEXT follows Envoy's
 * default format, with "-" for what is absent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accesslog/accesslog.h"

void al_time(char *buf, size_t len, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80		   ? 1
		   : (s[0] & 0xe0) == 0xc0 ? 2
		   : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4
					   : 0;

	/* overlong forms, UTF-16 surrogates and beyond U+10FFFF are not UTF-8 either */
	if ((n == 2 && s[0] < 0xc2) || (s[0] == 0xe0 && s[1] < 0xa0) ||
	    (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) || s[0] > 0xf4 ||
	    (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string that any parser takes: headers are bytes from the client, so control
 * characters are escaped and bytes that are not UTF-8 become U+FFFD. */
static void json_str(struct strbuf *b, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n;

	if (!v) {
		sb_put(b, "null", 4);
		return;
	}
	sb_put(b, "\"", 1);
	for (; *s; s += n) {
		/* a run of printable ASCII other than the quote and backslash, copied at once */
		for (n = 0; s[n] >= 0x20 && s[n] < 0x7f && s[n] != '"' && s[n] != '\\'; n++)
			;
		if (n) {
			sb_put(b, (const char *)s, n);
			continue;
		}
		n = utf8_len(s);
		if (!n) {
			sb_put(b, "\\ufffd", 6);
			n = 1;
		} else if (*s == '"' || *s == '\\') {
			sb_printf(b, "\\%c", *s);
		} else if (*s < 0x20 || *s == 0x7f) {
			sb_printf(b, "\\u%04x", *s);
		} else {
			sb_put(b, (const char *)s, n);
		}
	}
	sb_put(b, "\"", 1);
}

/* ,"k": without printf: a line has two dozen keys */
static void key(struct strbuf *b, const char *k)
{
	sb_put(b, ",\"", 2);
	sb_put(b, k, strlen(k));
	sb_put(b, "\":", 2);
}

static void key_str(struct strbuf *b, const char *k, const char *v)
{
	key(b, k);
	json_str(b, v);
}

static void key_num(struct strbuf *b, const char *k, uint64_t v)
{
	char d[24];
	int i = sizeof(d);

	key(b, k);
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_put(b, d + i, sizeof(d) - (size_t)i);
}

void al_line_json(struct strbuf *b, const struct al_entry *e)
{
	char t[40];

	al_time(t, sizeof(t), e->start_ms);
	sb_printf(b, "{\"start_time\":\"%s\"", t);
	key_str(b, "method", e->method);
	key_str(b, "path", e->path);
	key_str(b, "protocol", e->protocol);
	key_num(b, "response_code", (uint64_t)(e->response_code > 0 ? e->response_code : 0));
	key_str(b, "response_flags", e->response_flags ? e->response_flags : "-");
	key_num(b, "bytes_received", e->bytes_received);
	key_num(b, "bytes_sent", e->bytes_sent);
	key_num(b, "duration", e->duration_ms);
	key_str(b, "upstream_host", e->upstream_host);
	key_str(b, "upstream_cluster", e->upstream_cluster);
	key_str(b, "downstream_remote_address", e->downstream_remote_address);
	key_str(b, "downstream_local_address", e->downstream_local_address);
	key_str(b, "x_forwarded_for", e->x_forwarded_for);
	key_str(b, "user_agent", e->user_agent);
	key_str(b, "request_id", e->request_id);
	key_str(b, "authority", e->authority);
	key_str(b, "upstream_transport_failure_reason", e->upstream_transport_failure_reason);
	key_str(b, "connection_termination_details", e->connection_termination_details);
	key_str(b, "source_principal", e->source_principal);
	key_str(b, "destination_principal", e->destination_principal);
	key_str(b, "source_workload", e->source_workload);
	key_str(b, "destination_workload", e->destination_workload);
	key_str(b, "reporter", e->side == AL_CLIENT ? "source" : "destination");
	if (e->has_attempts)
		key_num(b, "upstream_request_attempt_count", e->attempts);
	sb_put(b, "}\n", 2);
}

static const char *dash(const char *s)
{
	return s && s[0] ? s : "-";
}

/* Envoy's default: [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%
 * %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ... %DOWNSTREAM_REMOTE_ADDRESS%; quoted fields
 * have their quotes and control characters escaped so one line stays one line. */
static void quoted(struct strbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (s = dash(s); *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			sb_printf(b, "\\x%02x", (unsigned char)*s);
		else
			sb_put(b, s, 1);
	}
	sb_put(b, "\"", 1);
}

void al_line_text(struct strbuf *b, const struct al_entry *e)
{
	char t[40];

	al_time(t, sizeof(t), e->start_ms);
	sb_printf(b, "[%s] \"", t);
	/* method, path and protocol share Envoy's one quoted field */
	sb_printf(b, "%s ", dash(e->method));
	quoted(b, e->path);
	sb_printf(b, " %s\" %d %s %s ", dash(e->protocol),
		  e->response_code > 0 ? e->response_code : 0, dash(e->response_flags),
		  dash(e->connection_termination_details));
	quoted(b, e->upstream_transport_failure_reason);
	sb_printf(b, " %" PRIu64 " %" PRIu64 " %" PRIu64 " ", e->bytes_received, e->bytes_sent,
		  e->duration_ms);
	quoted(b, e->x_forwarded_for);
	sb_put(b, " ", 1);
	quoted(b, e->user_agent);
	sb_put(b, " ", 1);
	quoted(b, e->request_id);
	sb_put(b, " ", 1);
	quoted(b, e->authority);
	sb_put(b, " ", 1);
	quoted(b, e->upstream_host);
	sb_printf(b, " %s %s %s %s\n", dash(e->upstream_cluster), dash(e->downstream_local_address),
		  dash(e->downstream_remote_address),
		  e->side == AL_CLIENT ? "outbound" : "inbound");
}
