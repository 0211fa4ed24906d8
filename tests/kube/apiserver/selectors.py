# SPDX-License-Identifier: Apache-2.0
"""fieldSelector and labelSelector, the equality forms kubectl and skiffd send."""


def _field(obj, path):
    cur = obj
    for p in path.split("."):
        cur = cur.get(p) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _terms(sel):
    for term in (sel or "").split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            yield k.strip(), False, v.strip()
        elif "=" in term:
            k, v = term.split("=", 1)
            yield k.strip(), True, v.lstrip("=").strip()
        else:
            yield term, None, None


def field_match(sel, obj):
    """metadata.name, metadata.namespace, spec.nodeName, or any dotted field, with = or !=."""
    for k, eq, v in _terms(sel):
        if eq is None or (_field(obj, k) == v) != eq:
            return False
    return True


def label_match(sel, obj):
    labels = obj.get("metadata", {}).get("labels") or {}
    for k, eq, v in _terms(sel):
        if k.startswith("!"):
            if k[1:] in labels:
                return False
        elif eq is None:
            if k not in labels:
                return False
        elif (labels.get(k) == v) != eq:
            return False
    return True
