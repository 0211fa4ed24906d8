// SPDX-License-Identifier: Apache-2.0
/*
 * A digest of what a node view writes to the kernel: the map entries agent_reload compares to
 * skip writing a generation the maps already hold, kept when the view itself is let go.
 */
#include <errno.h>
#include <openssl/evp.h>

#include "agent/agent_state.h"

static int add(EVP_MD_CTX *c, const void *p, size_t n)
{
	return n && !EVP_DigestUpdate(c, p, n) ? -ENOMEM : 0;
}

/* The fields view_equal (agent_reload.c) compares, in its order: counts, then each entry. */
static int digest_view(EVP_MD_CTX *c, const struct node_view *v)
{
	size_t n[] = {v->nservices, v->nbackends,    v->npods, v->pods_pending, v->pods_no_id,
		      v->npod_ips,  v->nremote_pods, v->nmtls, v->npolicy};
	int err = add(c, n, sizeof(n));

	for (size_t i = 0; !err && i < v->nservices; i++)
		err = add(c, &v->services[i].key, sizeof(v->services[i].key))
			  ?: add(c, &v->services[i].val, sizeof(v->services[i].val));
	for (size_t i = 0; !err && i < v->nbackends; i++)
		err = add(c, &v->backends[i].key, sizeof(v->backends[i].key))
			  ?: add(c, &v->backends[i].val, sizeof(v->backends[i].val));
	for (size_t i = 0; !err && i < v->npods; i++)
		err = add(c, &v->pods[i].cgroup_id, sizeof(v->pods[i].cgroup_id))
			  ?: add(c, &v->pods[i].val, sizeof(v->pods[i].val));
	if (!err)
		err = add(c, v->pod_ips, v->npod_ips * sizeof(*v->pod_ips)) ?:
		      add(c, v->remote_pods, v->nremote_pods * sizeof(*v->remote_pods)) ?:
		      add(c, v->mtls, v->nmtls * sizeof(*v->mtls)) ?:
		      add(c, v->policy, v->npolicy * sizeof(*v->policy));
	return err;
}

int agent_view_digest(const struct node_view *v, unsigned char out[AGENT_VIEW_DIGEST])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int err = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) ? digest_view(c, v) : -ENOMEM;

	if (!err && !EVP_DigestFinal_ex(c, out, NULL))
		err = -ENOMEM;
	EVP_MD_CTX_free(c);
	return err;
}
