# SPDX-License-Identifier: Apache-2.0
"""The kinds the fake server holds, and the discovery documents kubectl reads to find them."""
import collections

Res = collections.namedtuple("Res", "kind group versions namespaced singular short")

# plural -> kind, group, versions (the first is the preferred one), namespaced, singular name,
# short names (Istio's CRDs declare vs, dr, pa, ap; Kubernetes its own)
RESOURCES = {
    "namespaces": Res("Namespace", "", ["v1"], False, "namespace", ["ns"]),
    "pods": Res("Pod", "", ["v1"], True, "pod", ["po"]),
    "serviceaccounts": Res("ServiceAccount", "", ["v1"], True, "serviceaccount", ["sa"]),
    "services": Res("Service", "", ["v1"], True, "service", ["svc"]),
    "endpointslices": Res("EndpointSlice", "discovery.k8s.io", ["v1"], True, "endpointslice", []),
    "virtualservices": Res("VirtualService", "networking.istio.io", ["v1", "v1beta1", "v1alpha3"],
                           True, "virtualservice", ["vs"]),
    "destinationrules": Res("DestinationRule", "networking.istio.io",
                            ["v1", "v1beta1", "v1alpha3"], True, "destinationrule", ["dr"]),
    "peerauthentications": Res("PeerAuthentication", "security.istio.io", ["v1", "v1beta1"],
                               True, "peerauthentication", ["pa"]),
    "authorizationpolicies": Res("AuthorizationPolicy", "security.istio.io", ["v1", "v1beta1"],
                                 True, "authorizationpolicy", ["ap"]),
    "telemetries": Res("Telemetry", "telemetry.istio.io", ["v1", "v1alpha1"], True, "telemetry",
                       ["telemetry"]),
    "configmaps": Res("ConfigMap", "", ["v1"], True, "configmap", ["cm"]),
}
KIND_TO_RESOURCE = {v.kind: k for k, v in RESOURCES.items()}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_version(res, version):
    g = RESOURCES[res].group
    return (g + "/" if g else "") + version


def groups():
    """group -> versions, in the order the table lists them ("" is the legacy core group)."""
    out = {}
    for r in RESOURCES.values():
        vs = out.setdefault(r.group, [])
        for v in r.versions:
            if v not in vs:
                vs.append(v)
    return out


def resource_list(group, version):
    """The APIResourceList of /api/v1 or /apis/G/V, or None when nothing is served there."""
    items = []
    for plural, r in RESOURCES.items():
        if r.group != group or version not in r.versions:
            continue
        items.append({"name": plural, "singularName": r.singular, "namespaced": r.namespaced,
                      "kind": r.kind, "verbs": VERBS, "shortNames": r.short})
    if not items:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": (group + "/" if group else "") + version, "resources": items}


def group_list():
    out = []
    for g, vs in groups().items():
        if not g:
            continue
        gvs = [{"groupVersion": g + "/" + v, "version": v} for v in vs]
        out.append({"name": g, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


def core_versions():
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": "127.0.0.1"}]}


def group_doc(group):
    vs = groups().get(group)
    if not vs or not group:
        return None
    gvs = [{"groupVersion": group + "/" + v, "version": v} for v in vs]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
            "preferredVersion": gvs[0]}
