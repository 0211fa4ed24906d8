// SPDX-License-Identifier: Apache-2.0
/* kubeconfig and in-cluster configuration (see kube_config.h). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config/yaml_tree.h"
#include "kube/kube_config.h"

static char *kc_strdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;

	if (s && !p)
		abort();
	return p;
}

/* kubectl resolves relative paths in a kubeconfig against the file's directory. */
static char *kc_path(const char *kubeconfig, const char *p)
{
	char *dir, *copy, *out;

	if (!p || p[0] == '/')
		return kc_strdup(p);
	copy = kc_strdup(kubeconfig);
	dir = dirname(copy);
	if (asprintf(&out, "%s/%s", dir, p) < 0)
		abort();
	free(copy);
	return out;
}

static int kc_base64(const char *in, struct kube_pem *out)
{
	size_t len = strlen(in);
	unsigned char *buf = malloc(len / 4 * 3 + 4);
	int n;

	if (!buf)
		abort();
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(buf);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the '=' padding as zero bytes */
	while (len && in[len - 1] == '=' && n > 0) {
		len--;
		n--;
	}
	buf[n] = '\0';
	out->data = (char *)buf;
	out->len = (size_t)n;
	return 0;
}

/* The map in `list` (clusters, contexts, users) whose `name` is `name`, its `field` member. */
static const struct ynode *kc_named(const struct ynode *doc, const char *list, const char *name,
				    const char *field)
{
	const struct ynode *seq = ynode_get(doc, list);

	if (!seq || seq->kind != YNODE_SEQ || !name)
		return NULL;
	for (size_t i = 0; i < seq->n; i++) {
		const char *n = ynode_str(ynode_get(seq->items[i], "name"));

		if (n && !strcmp(n, name))
			return ynode_get(seq->items[i], field);
	}
	return NULL;
}

static int kc_pem(const char *path, const struct ynode *m, const char *key, struct kube_pem *out,
		  struct diag *d)
{
	char data_key[64];
	const char *v;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	v = ynode_str(ynode_get(m, data_key));
	if (v && kc_base64(v, out) < 0) {
		diag_add(d, DIAG_ERROR, path, ynode_key_line(m, data_key),
			 "kubeconfig: %s is not valid base64", data_key);
		return -EINVAL;
	}
	if (!v)
		out->file = kc_path(path, ynode_str(ynode_get(m, key)));
	return 0;
}

static int kc_cluster(const char *path, const struct ynode *cl, struct kube_conn *c, struct diag *d)
{
	const char *server = ynode_str(ynode_get(cl, "server"));
	size_t len;

	if (!server || strncmp(server, "https://", 8)) {
		diag_add(d, DIAG_ERROR, path, cl ? cl->line : 0,
			 "kubeconfig: cluster.server must be an https:// URL (got %s)",
			 server ? server : "nothing");
		return -EINVAL;
	}
	c->server = kc_strdup(server);
	len = strlen(c->server);
	while (len && c->server[len - 1] == '/')
		c->server[--len] = '\0';
	if (kc_pem(path, cl, "certificate-authority", &c->ca, d) < 0)
		return -EINVAL;
	if (!c->ca.file && !c->ca.data) {
		diag_add(d, DIAG_ERROR, path, cl->line,
			 "kubeconfig: cluster has no certificate-authority(-data): skiffd verifies "
			 "the API server and will not connect without its CA");
		return -EINVAL;
	}
	return 0;
}

static int kc_user(const char *path, const struct ynode *u, struct kube_conn *c, struct diag *d)
{
	if (!u)
		return 0; /* anonymous: the server says 401 or 403, and we say that */
	c->token = kc_strdup(ynode_str(ynode_get(u, "token")));
	c->token_file = kc_path(path, ynode_str(ynode_get(u, "tokenFile")));
	if (kc_pem(path, u, "client-certificate", &c->cert, d) < 0 ||
	    kc_pem(path, u, "client-key", &c->key, d) < 0)
		return -EINVAL;
	if (!!(c->cert.file || c->cert.data) != !!(c->key.file || c->key.data)) {
		diag_add(d, DIAG_ERROR, path, u->line,
			 "kubeconfig: user has a client certificate without its key, or a key "
			 "without its certificate");
		return -EINVAL;
	}
	if (ynode_get(u, "exec") || ynode_get(u, "auth-provider"))
		diag_add(d, DIAG_WARN, path, u->line,
			 "kubeconfig: exec and auth-provider users are not supported; use a token "
			 "or a client certificate");
	return 0;
}

int kube_config_load(const char *path, struct kube_conn *c, struct diag *d)
{
	struct ydoc_set set = {0};
	const struct ynode *doc, *ctx;
	const char *cur;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = yaml_parse_file(&set, path, d);
	if (rc < 0) {
		if (rc != -EINVAL)
			diag_add(d, DIAG_ERROR, path, 0, "cannot read kubeconfig: %s",
				 strerror(-rc));
		return rc;
	}
	doc = set.n ? set.docs[0] : NULL;
	cur = ynode_str(ynode_get(doc, "current-context"));
	ctx = kc_named(doc, "contexts", cur, "context");
	if (!ctx) {
		diag_add(d, DIAG_ERROR, path, 0,
			 "kubeconfig: current-context %s not found in contexts",
			 cur ? cur : "(unset)");
		rc = -EINVAL;
		goto out;
	}
	rc = kc_cluster(
	    path, kc_named(doc, "clusters", ynode_str(ynode_get(ctx, "cluster")), "cluster"), c, d);
	if (!rc)
		rc = kc_user(
		    path, kc_named(doc, "users", ynode_str(ynode_get(ctx, "user")), "user"), c, d);
out:
	if (rc)
		kube_conn_free(c);
	ydoc_set_free(&set);
	return rc;
}

int kube_config_incluster(const char *sa_dir, struct kube_conn *c, struct diag *d)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	memset(c, 0, sizeof(*c));
	if (!host || !*host) {
		diag_add(d, DIAG_ERROR, NULL, 0,
			 "in-cluster: KUBERNETES_SERVICE_HOST is not set (not in a pod? pass "
			 "--kubeconfig)");
		return -ENOENT;
	}
	/* an IPv6 service address needs brackets in a URL */
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port && *port ? port : "443") < 0)
		abort();
	if (asprintf(&c->ca.file, "%s/ca.crt", sa_dir) < 0 ||
	    asprintf(&c->token_file, "%s/token", sa_dir) < 0)
		abort();
	return 0;
}

static void kc_pem_free(struct kube_pem *p)
{
	free(p->file);
	free(p->data);
}

void kube_conn_free(struct kube_conn *c)
{
	free(c->server);
	kc_pem_free(&c->ca);
	kc_pem_free(&c->cert);
	kc_pem_free(&c->key);
	free(c->token);
	free(c->token_file);
	memset(c, 0, sizeof(*c));
}

static int kc_read_token(const char *file, char **out)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(file, "re");

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	*out = kc_strdup(buf);
	return 0;
}

static void kc_blob(CURL *h, CURLoption file_opt, CURLoption blob_opt, const struct kube_pem *p)
{
	struct curl_blob b = {.data = p->data, .len = p->len, .flags = CURL_BLOB_COPY};

	if (p->data) {
		curl_easy_setopt(h, file_opt, NULL); /* the PEM in memory, and nothing else */
		curl_easy_setopt(h, blob_opt, &b);
	} else if (p->file)
		curl_easy_setopt(h, file_opt, p->file);
}

int kube_conn_apply(const struct kube_conn *c, CURL *h, struct curl_slist **hdrs)
{
	char *tok = NULL, *line;
	int rc = 0;

	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	kc_blob(h, CURLOPT_CAINFO, CURLOPT_CAINFO_BLOB, &c->ca);
	/* only the cluster's CA, not the system store: a public CA must not vouch for the API */
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	kc_blob(h, CURLOPT_SSLCERT, CURLOPT_SSLCERT_BLOB, &c->cert);
	kc_blob(h, CURLOPT_SSLKEY, CURLOPT_SSLKEY_BLOB, &c->key);
	if (c->token_file)
		rc = kc_read_token(c->token_file, &tok);
	else if (c->token)
		tok = kc_strdup(c->token);
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	if (tok && *tok) {
		if (asprintf(&line, "Authorization: Bearer %s", tok) < 0)
			abort();
		*hdrs = curl_slist_append(*hdrs, line);
		free(line);
	}
	free(tok);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	return rc;
}
