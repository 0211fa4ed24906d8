#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Regenerate objects/mesh.json from mesh.yaml (a v1 List): the fake API server reads JSON only,
# the standard library having no YAML. Needs python3-yaml; the tests themselves do not.
import json
import os
import yaml

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "mesh.yaml")) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
with open(os.path.join(here, "objects", "mesh.json"), "w") as f:
    json.dump({"apiVersion": "v1", "kind": "List", "items": docs}, f, indent=1)
    f.write("\n")
