"""The API server's audit policy: who asked for what, for every client but the cluster's own.

`logs/audit.log` (JSON lines) shows the requests an operator makes; the control plane's
components and the node agent are left out to keep it small.
"""

from __future__ import annotations

from pathlib import Path

import yaml

QUIET_USERS = [
    "system:kube-controller-manager",
    "system:kube-scheduler",
    "labelpilot:node-agent",
    "system:apiserver",
]
QUIET_GROUPS = ["system:serviceaccounts:kube-system", "system:nodes"]


def write_audit_policy(path: Path) -> None:
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "users": QUIET_USERS},
            {"level": "None", "userGroups": QUIET_GROUPS},
            {
                "level": "None",
                "nonResourceURLs": [
                    "/healthz*",
                    "/readyz*",
                    "/livez*",
                    "/version",
                    "/openapi*",
                    "/api*",
                ],
            },
            {"level": "Metadata"},
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
