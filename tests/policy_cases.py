"""LabelingJob specs the cluster's policy refuses or allows, shared by the operator's check
(tests/unit/test_policy.py) and the admission policy on a real API server
(tests/cluster/test_admission.py): both must decide alike and name the same field."""

from __future__ import annotations

from typing import Any

Changes = dict[str, Any]


def studio(url: str = "http://label-studio.tools.svc:8080", secret: str = "ls-token") -> Changes:
    return {
        "humanTaskConfig": {
            "workforce": {
                "simulated": None,
                "labelStudio": {
                    "url": url,
                    "apiTokenSecretName": secret,
                    "project": {"title": "digits"},
                },
            }
        }
    }


def algorithm(**fields: Any) -> Changes:
    return {"autoLabeling": {"algorithm": fields}}


def tolerations(role: str, *items: dict[str, Any]) -> Changes:
    return {"resources": {role: {"tolerations": list(items)}}}


# An admin's allow-list, as the chart's `policy` values and the operator's policy file.
CONFIGURED: dict[str, Any] = {
    "images": ["registry.example.com/ml/*", "python:3.11-slim"],
    "commands": True,
    "serviceAccounts": ["labeling-steps"],
    "credentialsSecrets": ["s3-*"],
    "labelStudioTokenSecrets": ["ls-token"],
    "labelStudioUrls": ["http://label-studio.tools.svc:8080"],
    "volumeClaims": ["labelpilot-data", "team-*"],
    "tolerationKeys": ["nvidia.com/gpu", "dedicated"],
    "maxActiveDeadlineSeconds": 14 * 24 * 3600,
}

# (id, spec changes, the field the refusal must name): refused by the default policy and
# allowed by CONFIGURED. The admission policy names the first field it refuses only, so
# each case breaks one rule (or the first one checked: Label Studio's URL before its token).
REFUSED_BY_DEFAULT: list[tuple[str, Changes, str]] = [
    (
        "worker-image",
        {"worker": {"image": "registry.example.com/ml/worker:2"}},
        "spec.worker.image",
    ),
    (
        "training-image",
        algorithm(trainingImage="registry.example.com/ml/train:1"),
        "spec.autoLabeling.algorithm.trainingImage",
    ),
    (
        "inference-image",
        algorithm(inferenceImage="python:3.11-slim"),
        "spec.autoLabeling.algorithm.inferenceImage",
    ),
    (
        "training-command",
        algorithm(trainingCommand=["sh", "-c", "id"]),
        "spec.autoLabeling.algorithm.trainingCommand",
    ),
    (
        "inference-command",
        algorithm(inferenceCommand=["python", "/data/infer.py"]),
        "spec.autoLabeling.algorithm.inferenceCommand",
    ),
    (
        "service-account",
        {"worker": {"serviceAccountName": "labeling-steps"}},
        "spec.worker.serviceAccountName",
    ),
    (
        "credentials-secret",
        {"storage": {"credentialsSecretName": "s3-team-a"}},
        "spec.storage.credentialsSecretName",
    ),
    (
        "volume-claim",
        {"storage": {"volumeClaimName": "team-a-data"}},
        "spec.storage.volumeClaimName",
    ),
    ("label-studio", studio(), "spec.humanTaskConfig.workforce.labelStudio.url"),
    (
        "toleration-key",
        tolerations(
            "inference",
            {"key": "dedicated", "operator": "Equal", "value": "labeling", "effect": "NoSchedule"},
        ),
        "spec.resources.inference.tolerations",
    ),
    (
        "deadline",
        {"resources": {"training": {"activeDeadlineSeconds": 8 * 24 * 3600}}},
        "spec.resources.training.activeDeadlineSeconds",
    ),
]

# Refused by CONFIGURED too: near misses of what it allows.
REFUSED_WHEN_CONFIGURED: list[tuple[str, Changes, str]] = [
    (
        "image-beside-prefix",
        {"worker": {"image": "registry.example.com/mlx/worker:2"}},
        "spec.worker.image",
    ),
    (
        "image-other-tag",
        algorithm(trainingImage="python:3.12-slim"),
        "spec.autoLabeling.algorithm.trainingImage",
    ),
    (
        "other-service-account",
        {"worker": {"serviceAccountName": "default"}},
        "spec.worker.serviceAccountName",
    ),
    (
        "secret-beside-prefix",
        {"storage": {"credentialsSecretName": "s3"}},
        "spec.storage.credentialsSecretName",
    ),
    (
        "token-as-credentials",
        {"storage": {"credentialsSecretName": "ls-token"}},
        "spec.storage.credentialsSecretName",
    ),
    (
        "other-claim",
        {"storage": {"volumeClaimName": "labelpilot-data-2"}},
        "spec.storage.volumeClaimName",
    ),
    (
        "longer-host",
        studio(url="http://label-studio.tools.svc:8080.evil.example"),
        "spec.humanTaskConfig.workforce.labelStudio.url",
    ),
    (
        "user-info-host",
        studio(url="http://label-studio.tools.svc:8080@evil.example/"),
        "spec.humanTaskConfig.workforce.labelStudio.url",
    ),
    (
        "other-port",
        studio(url="http://label-studio.tools.svc:8081"),
        "spec.humanTaskConfig.workforce.labelStudio.url",
    ),
    (
        "credentials-as-token",
        studio(secret="s3-team-a"),
        "spec.humanTaskConfig.workforce.labelStudio.apiTokenSecretName",
    ),
    (
        "every-taint",
        tolerations("training", {"operator": "Exists"}),
        "spec.resources.training.tolerations",
    ),
    (
        "control-plane",
        tolerations(
            "other",
            {
                "key": "node-role.kubernetes.io/control-plane",
                "operator": "Exists",
                "effect": "NoSchedule",
            },
        ),
        "spec.resources.other.tolerations",
    ),
    (
        "deadline-over-max",
        {"resources": {"inference": {"activeDeadlineSeconds": 14 * 24 * 3600 + 1}}},
        "spec.resources.inference.activeDeadlineSeconds",
    ),
]

# Allowed by the default policy already.
ALLOWED_BY_DEFAULT: list[tuple[str, Changes]] = [
    ("base", {}),
    (
        "gpu-toleration",
        tolerations(
            "training", {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ),
    ),
    ("deadline", {"resources": {"other": {"activeDeadlineSeconds": 600}}}),
    ("no-storage", {"storage": None}),
]

# Allowed by CONFIGURED (besides every REFUSED_BY_DEFAULT case).
ALLOWED_WHEN_CONFIGURED: list[tuple[str, Changes]] = [
    ("label-studio-path", studio(url="http://label-studio.tools.svc:8080/ls/")),
    (
        "everything",
        {
            "worker": {
                "image": "registry.example.com/ml/worker:2",
                "serviceAccountName": "labeling-steps",
            },
            "storage": {"volumeClaimName": "team-b", "credentialsSecretName": "s3-b"},
            **algorithm(
                trainingImage="python:3.11-slim",
                trainingCommand=["python", "t.py"],
                inferenceImage="registry.example.com/ml/infer:3",
            ),
            "resources": {
                "training": {
                    "activeDeadlineSeconds": 86400,
                    "tolerations": [
                        {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                }
            },
        },
    ),
]
