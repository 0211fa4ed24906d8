/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the API server is and how to prove who we are: a kubeconfig file (the subset kubectl
 * writes for token and client-certificate users) or the pod's service account (in-cluster).
 * The server's certificate is always verified against the cluster's CA; nothing here turns that
 * off.
 */
#ifndef SKIFF_KUBE_CONFIG_H
#define SKIFF_KUBE_CONFIG_H

#include <stddef.h>

#include <curl/curl.h>

#include "common/diag.h"

/* PEM either in a file or in memory (a kubeconfig's *-data fields, base64-decoded). */
struct kube_pem {
	char *file;
	char *data;
	size_t len;
};

struct kube_conn {
	char *server; /* "https://host:port", no trailing '/' */
	struct kube_pem ca;
	struct kube_pem cert, key; /* client certificate user, both or neither */
	char *token;		   /* static bearer token, or NULL */
	char *token_file;	   /* re-read for every request: the kubelet rotates it */
};

/* The service account directory kubelet mounts into every pod. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Read `path` (current-context's cluster and user). Errors go to `d` naming the file and field. */
int kube_config_load(const char *path, struct kube_conn *c, struct diag *d);
/* KUBERNETES_SERVICE_HOST/PORT and `sa_dir`/{token,ca.crt}. */
int kube_config_incluster(const char *sa_dir, struct kube_conn *c, struct diag *d);
void kube_conn_free(struct kube_conn *c);

/* Set TLS verification, client certificate and the Authorization header on `h`; `*hdrs` (freed
 * by the caller with curl_slist_free_all) holds the headers. -errno when the token file is
 * unreadable. */
int kube_conn_apply(const struct kube_conn *c, CURL *h, struct curl_slist **hdrs);

#endif
