// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl observe [-n NS] [--pod P] [--verdict forwarded|denied|dropped] [--json] [--since D]
 *                  [--follow] [--admin HOST:PORT]
 * The flow events of one node's skiffd (its admin port, 127.0.0.1:15000 by default, as for
 * analyze --live), one line each like `hubble observe`, or skiffd's JSON lines with --json.
 * Filters are sent to skiffd, which applies them: the client reads only what it prints.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/strbuf.h"
#include "flows/flows.h"

struct observe_opts {
	const char *admin, *ns, *pod, *verdict, *since;
	int json, follow;
};

static int usage(FILE *err, const char *why)
{
	fprintf(err,
		"skiffctl observe: %s\n"
		"usage: skiffctl observe [-n NS] [--pod [NS/]POD] [--verdict "
		"forwarded|denied|dropped]\n"
		"                        [--since DURATION (30s, 5m, 1h)] [--json] [--follow]\n"
		"                        [--admin HOST:PORT (default 127.0.0.1:15000)]\n",
		why);
	return 2;
}

/* "30s", "5m", "1h", "90" (seconds) -> seconds; -1 when not a duration. */
static long duration_s(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "m"))
		return v * 60;
	if (!strcmp(end, "h"))
		return v * 3600;
	return -1;
}

static int parse(int argc, char **argv, struct observe_opts *o, FILE *err)
{
	*o = (struct observe_opts){.admin = "127.0.0.1:15000"};
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], **dst = NULL;

		if (!strcmp(a, "--json") || !strcmp(a, "-o=json")) {
			o->json = 1;
			continue;
		}
		if (!strcmp(a, "--follow") || !strcmp(a, "-f")) {
			o->follow = 1;
			continue;
		}
		if (!strcmp(a, "-n") || !strcmp(a, "--namespace"))
			dst = &o->ns;
		else if (!strcmp(a, "--pod"))
			dst = &o->pod;
		else if (!strcmp(a, "--verdict"))
			dst = &o->verdict;
		else if (!strcmp(a, "--since"))
			dst = &o->since;
		else if (!strcmp(a, "--admin"))
			dst = &o->admin;
		else
			return usage(err, "unknown option"), -1;
		if (i + 1 >= argc)
			return fprintf(err, "skiffctl observe: %s needs a value\n", a), -1;
		*dst = argv[++i];
	}
	if (o->verdict && strcmp(o->verdict, "forwarded") && strcmp(o->verdict, "denied") &&
	    strcmp(o->verdict, "dropped"))
		return fprintf(err,
			       "skiffctl observe: --verdict %s: use forwarded, denied or "
			       "dropped\n",
			       o->verdict),
		       -1;
	if (o->since && duration_s(o->since) < 0)
		return fprintf(err,
			       "skiffctl observe: --since %s: a duration such as 30s, 5m or "
			       "1h\n",
			       o->since),
		       -1;
	return 0;
}

static void query_param(struct strbuf *b, const char *k, const char *v)
{
	sb_printf(b, "%s%s=", b->len ? "&" : "", k);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (isalnum(*p) || strchr("-_./", *p))
			sb_printf(b, "%c", *p);
		else
			sb_printf(b, "%%%02X", *p);
}

static char *query_of(const struct observe_opts *o)
{
	struct strbuf b = {0};
	char n[32];

	sb_printf(&b, "%s", "");
	if (o->ns)
		query_param(&b, "ns", o->ns);
	if (o->pod)
		query_param(&b, "pod", o->pod);
	if (o->verdict)
		query_param(&b, "verdict", o->verdict);
	if (o->since) {
		snprintf(n, sizeof(n), "%ld", duration_s(o->since));
		query_param(&b, "since", n);
	}
	if (o->follow)
		query_param(&b, "follow", "1");
	return sb_take(&b);
}

static int dial(const char *hostport, FILE *err)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	const char *colon = strrchr(hostport, ':');
	char host[64];
	int fd;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return fprintf(err, "skiffctl observe: --admin %s: not HOST:PORT\n", hostport), -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return fprintf(err, "skiffctl observe: --admin %s: not an IPv4 address\n",
			       hostport),
		       -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		fprintf(err,
			"skiffctl observe: cannot reach skiffd at %s: %s (is skiffd running "
			"on this node? pass --admin HOST:PORT)\n",
			hostport, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && !json_object_is_type(v, json_type_null)
		   ? json_object_get_string(v)
		   : NULL;
}

/* "ns/pod:port", or "ip:port" for an end that is no known pod. */
static void end_text(json_object *e, bool with_port, char *buf, size_t len)
{
	const char *ns = jstr(e, "namespace"), *pod = jstr(e, "pod"), *ip = jstr(e, "ip");
	const char *port = jstr(e, "port");
	int n;

	if (ns && pod)
		n = snprintf(buf, len, "%s/%s", ns, pod);
	else
		n = snprintf(buf, len, "%s", ip ? ip : "?");
	if (with_port && port && strcmp(port, "0") && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ":%s", port);
}

static void print_line(const char *line, const struct observe_opts *o, FILE *out)
{
	json_object *j, *src = NULL, *dst = NULL;
	char s[320], d[320], verdict[16] = "";
	const char *v, *reason;

	if (o->json) {
		fprintf(out, "%s\n", line);
		return;
	}
	j = json_tokener_parse(line);
	if (!j)
		return;
	json_object_object_get_ex(j, "source", &src);
	json_object_object_get_ex(j, "destination", &dst);
	end_text(src, false, s, sizeof(s));
	end_text(dst, true, d, sizeof(d));
	v = jstr(j, "verdict");
	for (size_t i = 0; v && v[i] && i + 1 < sizeof(verdict); i++)
		verdict[i] = (char)toupper((unsigned char)v[i]), verdict[i + 1] = '\0';
	fprintf(out, "%s %s: %s -> %s %s (%s)", jstr(j, "time"), jstr(j, "node"), s, d, verdict,
		jstr(j, "event"));
	reason = jstr(j, "reason");
	if (reason)
		fprintf(out, " %s", reason);
	if (jstr(j, "bytes_received"))
		fprintf(out, " bytes %s->, <-%s, %s ms", jstr(j, "bytes_received"),
			jstr(j, "bytes_sent"), jstr(j, "duration_ms"));
	fputc('\n', out);
	fflush(out);
	json_object_put(j);
}

/* Read the answer; print each complete line as it comes. 0, or 1 on a refused request. */
static int stream(int fd, const struct observe_opts *o, FILE *out, FILE *err)
{
	struct strbuf b = {0};
	char buf[16384], *nl;
	int status = 0, head = 1, rc = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		sb_put(&b, buf, (size_t)r);
		if (head) {
			char *end = b.s ? strstr(b.s, "\r\n\r\n") : NULL;

			if (!end)
				continue;
			sscanf(b.s, "HTTP/1.%*d %d", &status);
			if (status != 200) {
				fprintf(err, "skiffctl observe: skiffd answered %d: %s", status,
					end + 4);
				while ((r = read(fd, buf, sizeof(buf) - 1)) > 0)
					fprintf(err, "%.*s", (int)r, buf);
				rc = 1;
				break;
			}
			memmove(b.s, end + 4, b.len - (size_t)(end + 4 - b.s) + 1);
			b.len -= (size_t)(end + 4 - b.s);
			head = 0;
		}
		while (b.len && (nl = memchr(b.s, '\n', b.len))) {
			*nl = '\0';
			print_line(b.s, o, out);
			b.len -= (size_t)(nl + 1 - b.s);
			memmove(b.s, nl + 1, b.len + 1);
		}
	}
	if (head && !rc) {
		fprintf(err, "skiffctl observe: skiffd closed the connection without an answer\n");
		rc = 1;
	}
	sb_free(&b);
	return rc;
}

int flows_cli_observe(int argc, char **argv, FILE *out, FILE *err)
{
	struct observe_opts o;
	char *q, req[1536];
	int fd, n, rc;

	if (parse(argc, argv, &o, err))
		return 2;
	fd = dial(o.admin, err);
	if (fd < 0)
		return 1;
	q = query_of(&o);
	n = snprintf(req, sizeof(req), "GET /flows%s%s HTTP/1.1\r\nHost: %s\r\n\r\n",
		     q[0] ? "?" : "", q, o.admin);
	free(q);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		fprintf(err, "skiffctl observe: cannot send the request to %s\n", o.admin);
		close(fd);
		return 1;
	}
	rc = stream(fd, &o, out, err);
	close(fd);
	return rc;
}
