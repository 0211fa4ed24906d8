// SPDX-License-Identifier: Apache-2.0
/* Reading the running skiffd's configuration for analysis (see analyze_live.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "analyze/analyze_live.h"
#include "common/strbuf.h"
#include "kube/kube_json.h"

/* GET http://addr/path; the whole body, checked against Content-Length. NULL on failure. */
static char *http_get_body(const char *addr, const char *path, FILE *err)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char host[64], buf[65536], *colon = strrchr(addr, ':'), *body, *text;
	struct strbuf b = {0};
	long want = -1, status = 0;
	ssize_t r;
	int fd;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return fprintf(err, "skiffctl analyze: --live %s: not HOST:PORT\n", addr), NULL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return fprintf(err, "skiffctl analyze: --live %s: not an IPv4 address\n", addr),
		       NULL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(err,
			"skiffctl analyze: cannot reach skiffd at %s: %s (is skiffd running on "
			"this node? pass --live HOST:PORT)\n",
			addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	r = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr);
	if (write(fd, buf, (size_t)r) != r)
		r = -1;
	while (r >= 0 && (r = read(fd, buf, sizeof(buf))) > 0)
		sb_printf(&b, "%.*s", (int)r, buf);
	close(fd);
	text = sb_take(&b);
	body = text ? strstr(text, "\r\n\r\n") : NULL;
	if (text)
		sscanf(text, "HTTP/1.%*d %ld", &status);
	if (text && strcasestr(text, "\r\nContent-Length:"))
		want = atol(strcasestr(text, "\r\nContent-Length:") + 17);
	if (!body || status != 200 || (want >= 0 && (long)strlen(body + 4) != want)) {
		fprintf(err, "skiffctl analyze: skiffd at %s: %s %s (status %ld)\n", addr, path,
			!body || status != 200 ? "failed" : "answer cut short", status);
		free(text);
		return NULL;
	}
	memmove(text, body + 4, strlen(body + 4) + 1);
	return text;
}

/* The tree kube_json built says "api", line 0: give it the file and line skiffd read it from. */
static void relocate(struct ynode *n, const char *file, int line)
{
	n->file = file;
	n->line = line;
	for (size_t i = 0; n->kind != YNODE_SCALAR && i < n->n; i++) {
		relocate(n->items[i], file, line);
		if (n->kind == YNODE_MAP && n->key_lines)
			n->key_lines[i] = line;
	}
}

static int take_items(json_object *root, struct ydoc_set *set, FILE *err)
{
	json_object *items, *it, *obj, *file, *line;

	if (!json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		fprintf(err, "skiffctl analyze: skiffd's /config_objects has no items (an older "
			     "skiffd? upgrade it)\n");
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		it = json_object_array_get_idx(items, i);
		if (!json_object_object_get_ex(it, "object", &obj))
			continue;
		json_object_object_get_ex(it, "file", &file);
		json_object_object_get_ex(it, "line", &line);
		kube_json_add_doc(set, obj);
		relocate(set->docs[set->n - 1],
			 ydoc_set_add_file(set, file ? json_object_get_string(file) : "skiffd"),
			 line ? json_object_get_int(line) : 0);
	}
	return 0;
}

static void take_live(json_object *root, struct an_live *live)
{
	json_object *node, *pods;

	memset(live, 0, sizeof(*live));
	if (json_object_object_get_ex(root, "node", &node))
		live->node = strdup(json_object_get_string(node));
	if (!json_object_object_get_ex(root, "enrolled_pods", &pods))
		return;
	live->nenrolled = json_object_array_length(pods);
	live->enrolled = calloc(live->nenrolled + 1, sizeof(*live->enrolled));
	if (!live->enrolled)
		abort();
	for (size_t i = 0; i < live->nenrolled; i++)
		live->enrolled[i] =
		    strdup(json_object_get_string(json_object_array_get_idx(pods, i)));
}

int analyze_live_fetch(const char *addr, struct ydoc_set *set, struct an_live *live, FILE *err)
{
	char *body = http_get_body(addr, "/config_objects", err);
	json_object *root, *applied;
	int rc = -1;

	memset(live, 0, sizeof(*live));
	if (!body)
		return -1;
	root = json_tokener_parse(body);
	free(body);
	if (!root) {
		fprintf(err, "skiffctl analyze: skiffd at %s answered no JSON\n", addr);
		return -1;
	}
	if (json_object_object_get_ex(root, "applied", &applied) &&
	    !json_object_get_boolean(applied))
		fprintf(err,
			"skiffctl analyze: skiffd at %s has applied no configuration yet: "
			"analyzing the files alone\n",
			addr);
	if (!take_items(root, set, err)) {
		take_live(root, live);
		rc = 0;
	}
	json_object_put(root);
	return rc;
}

void analyze_live_free(struct an_live *live)
{
	for (size_t i = 0; i < live->nenrolled; i++)
		free(live->enrolled[i]);
	free(live->enrolled);
	free(live->node);
	memset(live, 0, sizeof(*live));
}

static bool enrolled(const struct an_live *live, const struct m_pod *p)
{
	char name[512];

	snprintf(name, sizeof(name), "%s/%s", p->meta.ns, p->meta.name);
	for (size_t i = 0; i < live->nenrolled; i++)
		if (!strcmp(live->enrolled[i], name))
			return true;
	return false;
}

void analyze_live_pods(const struct model *m, const struct an_live *live, struct an_result *r)
{
	for (size_t i = 0; live->node && i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];

		if (!p->node_name || strcmp(p->node_name, live->node) || !model_pod_in_mesh(m, p) ||
		    enrolled(live, p))
			continue;
		analyze_report(
		    r, SKF0004, "Pod", &p->meta, 0,
		    "check that the pod runs on this node and that skiffd's "
		    "--cgroup-root holds its cgroup; skiffd looks again at every rescan",
		    "The pod is in the mesh on node %s, but skiffd has not enrolled it: it "
		    "cannot find the pod's cgroup (or another pod holds it), so the pod's "
		    "connections bypass the mesh",
		    live->node);
	}
}
