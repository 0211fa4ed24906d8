// SPDX-License-Identifier: Apache-2.0
/* skiffctl's HTTP/1.1 GET to a skiffd admin endpoint, from any network namespace (ctl_http.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/strbuf.h"
#include "ctl/ctl_http.h"

#define CTL_HTTP_TIMEOUT_S 5

/* "host:port" or "[v6]:port" -> socket address. */
static int target_sockaddr(const char *addr, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	size_t hl;

	if (!colon || colon == addr)
		return -EINVAL;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host) || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535)
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)hl, addr);
	return addr_sockaddr(host, (uint16_t)atoi(colon + 1), ss);
}

/* A TCP socket made inside /run/netns/<netns> (it stays there once we are back). */
static int socket_in(const char *netns, int family, char *err, size_t errlen)
{
	char path[300];
	int self, target, fd, e;

	if (!netns[0])
		return socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
		snprintf(err, errlen, "cannot enter network namespace %s: %s (run as root)", path,
			 strerror(errno));
		if (self >= 0)
			close(self);
		if (target >= 0)
			close(target);
		return -1;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	e = errno;
	if (setns(self, CLONE_NEWNET)) {
		perror("skiffctl: cannot return to its own network namespace");
		abort();
	}
	close(self);
	close(target);
	errno = e;
	return fd;
}

static int connect_target(const struct ctl_target *t, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = CTL_HTTP_TIMEOUT_S};
	struct sockaddr_storage ss;
	int len = target_sockaddr(t->addr, &ss), fd;

	if (len < 0) {
		snprintf(err, errlen, "%s is not HOST:PORT with an IP address", t->addr);
		return -1;
	}
	fd = socket_in(t->netns, ss.ss_family, err, errlen);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, (socklen_t)len)) {
		snprintf(err, errlen, "cannot reach skiffd at %s%s%s: %s", t->addr,
			 t->netns[0] ? " in netns " : "", t->netns, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Split a whole response into its body; NULL unless 200 with all of Content-Length. */
static char *take_body(char *text, const char *path, char *err, size_t errlen)
{
	char *body = text ? strstr(text, "\r\n\r\n") : NULL, *cl;
	long status = 0, want = -1;

	if (text)
		sscanf(text, "HTTP/1.%*d %ld", &status);
	cl = text ? strcasestr(text, "\r\nContent-Length:") : NULL;
	if (cl && (!body || cl < body))
		want = atol(cl + 17);
	if (!body || status != 200 || (want >= 0 && (long)strlen(body + 4) != want)) {
		snprintf(err, errlen, "GET %s: %s (HTTP status %ld)%s", path,
			 !body || status != 200 ? "failed" : "answer cut short", status,
			 status == 404 ? ": an older skiffd? upgrade it" : "");
		free(text);
		return NULL;
	}
	memmove(text, body + 4, strlen(body + 4) + 1);
	return text;
}

char *ctl_http_get(const struct ctl_target *t, const char *path, char *err, size_t errlen)
{
	struct strbuf b = {0};
	char buf[65536];
	ssize_t r;
	int fd = connect_target(t, err, errlen);

	if (fd < 0)
		return NULL;
	r = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		     path, t->addr);
	if (write(fd, buf, (size_t)r) != r)
		r = -1;
	while (r >= 0 && (r = read(fd, buf, sizeof(buf))) > 0)
		sb_put(&b, buf, (size_t)r);
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "GET %s from %s: %s", path, t->addr, strerror(errno));
		sb_free(&b);
		return NULL;
	}
	return take_body(sb_take(&b), path, err, errlen);
}

static int by_node(const struct dirent **a, const struct dirent **b)
{
	return atoi((*a)->d_name + 9) - atoi((*b)->d_name + 9);
}

static int lab_node(const struct dirent *d)
{
	return !strncmp(d->d_name, "skl-node-", 9) && atoi(d->d_name + 9) > 0;
}

size_t ctl_lab_targets(struct ctl_target *out, size_t max)
{
	struct dirent **list;
	int n = scandir("/run/netns", &list, lab_node, by_node);
	size_t k = 0;

	for (int i = 0; i < n; i++) {
		if (k < max) {
			snprintf(out[k].name, sizeof(out[k].name), "node-%d",
				 atoi(list[i]->d_name + 9));
			snprintf(out[k].netns, sizeof(out[k].netns), "%s", list[i]->d_name);
			snprintf(out[k].addr, sizeof(out[k].addr), "127.0.0.1:15000");
			k++;
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return k;
}

int ctl_parse_targets(const char *list, struct ctl_target *out, size_t *n, size_t max, char *err,
		      size_t errlen)
{
	char *copy = strdup(list), *tok, *save = NULL;
	struct sockaddr_storage ss;
	int rc = 0;

	if (!copy)
		abort();
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct ctl_target *t = &out[*n];
		const char *close = strrchr(tok, ']'), *colon = strrchr(tok, ':');
		bool v6_bare = colon && strchr(tok, ':') != colon && tok[0] != '[';

		if (*n >= max) {
			snprintf(err, errlen, "more than %zu node addresses", max);
			rc = -1;
			break;
		}
		memset(t, 0, sizeof(*t));
		/* no port given: the status port; a bare IPv6 address has colons, no brackets */
		if (!colon || v6_bare || (close && colon < close))
			snprintf(t->addr, sizeof(t->addr), v6_bare ? "[%s]:%d" : "%s:%d", tok,
				 CTL_STATUS_PORT);
		else
			snprintf(t->addr, sizeof(t->addr), "%s", tok);
		snprintf(t->name, sizeof(t->name), "%s", t->addr);
		if (target_sockaddr(t->addr, &ss) < 0) {
			snprintf(err, errlen,
				 "--node-addr '%s' is not an IP address with an optional "
				 ":PORT",
				 tok);
			rc = -1;
			break;
		}
		(*n)++;
	}
	free(copy);
	return rc;
}
