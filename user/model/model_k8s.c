// SPDX-License-Identifier: Apache-2.0
/* Namespace and ServiceAccount (identity and mesh membership only), and freeing all k8s kinds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_k8s.h"

int parse_namespace(struct pctx *c)
{
	struct meta meta;

	if (pmeta(c, &meta, false) < 0) {
		meta_free(&meta);
		return -EINVAL;
	}
	PUSH(c->m->namespaces, c->m->nnamespaces)->meta = meta;
	return 0;
}

int parse_serviceaccount(struct pctx *c)
{
	struct meta meta;

	if (pmeta(c, &meta, true) < 0) {
		meta_free(&meta);
		return -EINVAL;
	}
	PUSH(c->m->serviceaccounts, c->m->nserviceaccounts)->meta = meta;
	return 0;
}

bool k8s_port_name_valid(const char *s)
{
	size_t len = s ? strlen(s) : 0;
	bool letter = false;

	if (!len || len > 15 || s[0] == '-' || s[len - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

void free_k8s_resources(struct model *m)
{
	for (size_t i = 0; i < m->nnamespaces; i++)
		meta_free(&m->namespaces[i].meta);
	for (size_t i = 0; i < m->nserviceaccounts; i++)
		meta_free(&m->serviceaccounts[i].meta);
	for (size_t i = 0; i < m->npods; i++)
		k8s_pod_free(&m->pods[i]);
	for (size_t i = 0; i < m->nservices; i++)
		k8s_service_free(&m->services[i]);
	for (size_t i = 0; i < m->nendpointslices; i++)
		k8s_endpointslice_free(&m->endpointslices[i]);
	free(m->namespaces);
	free(m->serviceaccounts);
	free(m->pods);
	free(m->services);
	free(m->endpointslices);
	m->namespaces = NULL;
	m->serviceaccounts = NULL;
	m->pods = NULL;
	m->services = NULL;
	m->endpointslices = NULL;
	m->nnamespaces = m->nserviceaccounts = m->npods = m->nservices = m->nendpointslices = 0;
}
