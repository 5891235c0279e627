"""Spec values the Job API refuses (the CRD must refuse them first, naming the field) and
values it takes, shared by tests/unit/test_crd.py (the schema and CEL run locally) and
tests/cluster/test_admission.py (the real API server, and the step Jobs built from them)."""

from __future__ import annotations

from typing import Any

from labelpilot.api.run_config import MAX_LABELS, MAX_MULTILABEL_LABELS


def _training(**fields: Any) -> dict[str, Any]:
    return {"resources": {"training": fields}}


def _studio(**fields: Any) -> dict[str, Any]:
    return {
        "humanTaskConfig": {
            "workforce": {
                "simulated": None,
                "labelStudio": {
                    "url": "http://ls:8080",
                    "apiTokenSecretName": "ls-token",
                    "project": {"title": "digits"},
                    **fields,
                },
            }
        }
    }


# What the Job API (or the worker image) would refuse, refused by the CRD already.
JOB_API_INVALID: list[tuple[dict[str, Any], str]] = [
    (_training(nodeSelector={"pool": "x" * 64}), "nodeSelector"),
    (_training(nodeSelector={"pool": "-x"}), "nodeSelector"),
    (_training(nodeSelector={"bad key": "x"}), "nodeSelector"),
    (_training(nodeSelector={"example.com/" + "n" * 64: "x"}), "nodeSelector"),
    (_training(nodeSelector={"p" * 254 + "/name": "x"}), "nodeSelector"),
    (_training(limits={"cpu": "-1"}), "cpu"),
    (_training(requests={"memory": -5}), "requests"),
    (_training(limits={"gpu": "1"}), "limits"),
    (_training(limits={"hugepages-2Mi": "1Gi"}), "limits"),
    (_training(limits={"kubernetes.io/foo": "1"}), "limits"),
    (_training(limits={"requests.example.com/foo": "1"}), "limits"),
    (_training(limits={"nvidia.com/gpu": "0.5"}), "limits"),
    (_training(requests={"nvidia.com/gpu": "1k"}), "requests"),
    (_training(limits={"example.com/fpga": "1000000000000000"}), "limits"),
    (_training(limits={"example.com/fpga": 10**15}), "limits"),
    (_training(limits={"memory": "1e400"}), "memory"),
    (_training(limits={"memory": "1" * 65}), "memory"),
    (_training(tolerations=[{"key": "bad key", "operator": "Exists"}]), "key"),
    (_training(tolerations=[{"key": "a/" + "b" * 64, "operator": "Exists"}]), "key"),
    (_training(tolerations=[{"operator": "Equal", "value": "v"}]), "tolerations"),
    (_training(tolerations=[{"key": "k", "value": "v" * 64}]), "value"),
    (_training(tolerations=[{"key": "k", "value": "a b"}]), "value"),
    (
        _training(
            tolerations=[
                {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}
            ]
        ),
        "tolerations",
    ),
    (_training(activeDeadlineSeconds=0), "activeDeadlineSeconds"),
    ({"worker": {"image": "worker:1 --privileged"}}, "image"),
    ({"autoLabeling": {"algorithm": {"trainingImage": " me/train:1"}}}, "trainingImage"),
    ({"autoLabeling": {"algorithm": {"inferenceImage": "me/infer:1\tx"}}}, "inferenceImage"),
    (_studio(apiTokenSecretKey="token key"), "apiTokenSecretKey"),
    (_studio(url="http://ls:8080 evil"), "url"),
    ({"storage": {"mountPath": "/tmp"}}, "mountPath"),
    ({"storage": {"mountPath": "/opt/labelpilot-app"}}, "mountPath"),
    ({"storage": {"mountPath": "/usr"}}, "mountPath"),
    ({"storage": {"mountPath": "/data/"}}, "mountPath"),
    ({"storage": {"mountPath": "/data/../etc"}}, "mountPath"),
    ({"input": {"manifestUri": "file:///etc/passwd"}}, "manifestUri"),
    ({"input": {"manifestUri": "relative/input.manifest"}}, "manifestUri"),
    ({"output": {"uri": "file:///data/../etc/out"}}, "uri"),
    ({"output": {"uri": "file:///database/out"}}, "uri"),
    ({"autoLabeling": {"initialModelRef": "file:///etc/models/final"}}, "initialModelRef"),
    ({"autoLabeling": {"initialModelRef": "/data/../root/final"}}, "initialModelRef"),
    ({"taskType": "SemanticSegmentation", "labels": [f"c{i}" for i in range(256)]}, "labels"),
    ({"labels": [f"c{i}" for i in range(MAX_LABELS + 1)]}, "labels"),
    (
        {
            "taskType": "ImageClassificationMultiLabel",
            "labels": [f"c{i}" for i in range(MAX_MULTILABEL_LABELS + 1)],
        },
        "labels",
    ),
    (
        {
            "taskType": "TextClassificationMultiLabel",
            "labels": [f"c{i}" for i in range(MAX_MULTILABEL_LABELS + 1)],
        },
        "labels",
    ),
    # a label under the input's own keys (the worker's RunConfig refuses them)
    ({"labelAttributeName": "source-ref"}, "labelAttributeName"),
    ({"taskType": "SemanticSegmentation", "labelAttributeName": "source"}, "labelAttributeName"),
]

JOB_API_VALID: list[dict[str, Any]] = [
    {
        "input": {"manifestUri": "s3://bucket/in.manifest"},
        "output": {"uri": "/data/out"},
        "storage": {"credentialsSecretName": "s3"},
    },
    {"input": {"manifestUri": "/data"}, "output": {"uri": "file:///data/a/../b"}, "storage": None},
    {
        "storage": {"mountPath": "/mnt/lp"},
        "input": {"manifestUri": "file:///mnt/lp/in"},
        "output": {"uri": "/mnt/lp/out"},
    },
    {
        "storage": {"mountPath": "/tmp/pytest-0/data"},
        "input": {"manifestUri": "file:///tmp/pytest-0/data/in"},
        "output": {"uri": "/tmp/pytest-0/data/out"},
    },
    {"autoLabeling": {"initialModelRef": "/data/old-job/final-model"}},
    {"autoLabeling": {"initialModelRef": "s3://models/old-job/final-model"}},
    {"taskType": "SemanticSegmentation", "labels": [f"c{i}" for i in range(255)]},
    {"labels": [f"c{i}" for i in range(MAX_LABELS)]},
    {
        "taskType": "TextClassificationMultiLabel",
        "labels": [f"c{i}" for i in range(MAX_MULTILABEL_LABELS)],
    },
    _training(
        nodeSelector={"example.com/pool": "a" * 63, "plain": ""},
        requests={"cpu": "+1.5", "memory": "1e3", "example.com/fpga": 2},
        limits={"nvidia.com/gpu": "999999999999999", "ephemeral-storage": "10Gi"},
        tolerations=[
            {"operator": "Exists"},
            {"key": "k", "effect": "NoExecute", "tolerationSeconds": 5},
        ],
        activeDeadlineSeconds=3600,
    ),
    _studio(apiTokenSecretKey="api.token_1-x"),
]
