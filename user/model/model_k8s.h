/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the Kubernetes kind parsers (model_k8s*.c): per-kind free functions. */
#ifndef SKIFF_MODEL_K8S_H
#define SKIFF_MODEL_K8S_H

#include "model/parse.h"

void k8s_pod_free(struct m_pod *p);
void k8s_service_free(struct m_service *s);
void k8s_endpointslice_free(struct m_endpointslice *e);
/* IANA service name, as a named port: 1-15 of [a-z0-9-], a letter, no leading/trailing/double '-'.
 */
bool k8s_port_name_valid(const char *s);

#endif
