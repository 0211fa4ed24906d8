# SPDX-License-Identifier: Apache-2.0
"""The fake Kubernetes API server, split by job (see ../fake_apiserver.py for what it speaks)."""
