"""A LabelingJob whose data and output live in a real S3-compatible server (SeaweedFS on
loopback), its credentials in a Secret the job names: the operator's step Jobs reference
the Secret (envFrom), the pods get the keys from it, and the output manifest lands in the
bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    OperatorProcess,
    wait_phase,
)
from tests.s3.data import LABELS, digits_in_bucket
from tests.s3.seaweedfs import S3Server, bucket_ready

BUCKET = "cluster-jobs"
SECRET = "labeling-s3"
DIGITS = 300


@pytest.fixture(scope="module")
def digits(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    bucket_ready(s3_server, BUCKET)
    local = tmp_path_factory.mktemp("digits") / "digits"
    return digits_in_bucket(s3_server, local, f"s3://{BUCKET}/digits", DIGITS)


def _job(name: str, digits: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "LabelingJob",
        "metadata": {"name": name},
        "spec": {
            "taskType": "ImageClassification",
            "labelAttributeName": "label",
            "labels": LABELS,
            "input": {"manifestUri": digits["manifest"]},
            "output": {"uri": f"s3://{BUCKET}/jobs/{name}"},
            "storage": {"credentialsSecretName": SECRET},
            "autoLabeling": {"allowSmallDataset": True, "algorithm": {"options": {"epochs": "3"}}},
            "humanTaskConfig": {
                "maxConcurrentTaskCount": 100,
                "workforce": {"simulated": {"groundTruthManifestUri": digits["truth"]}},
            },
        },
    }


def _run(
    kube_api: client.ApiClient,
    namespace: str,
    name: str,
    credentials: dict[str, str],
    digits: dict[str, Any],
) -> dict[str, Any]:
    """Creates the credentials Secret and the job; returns the job once it has ended."""
    core, custom = client.CoreV1Api(kube_api), client.CustomObjectsApi(kube_api)
    secret = {"metadata": {"name": SECRET}, "stringData": credentials}
    core.create_namespaced_secret(namespace, secret)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _job(name, digits))
    return wait_phase(custom, namespace, name, ("Completed", "Failed"))


def test_a_job_with_data_in_s3_reads_the_credentials_from_its_secret(
    kube_api: client.ApiClient,
    namespace: str,
    operator: OperatorProcess,
    s3_server: S3Server,
    digits: dict[str, Any],
) -> None:
    final = _run(kube_api, namespace, "s3", s3_server.environment(), digits)
    assert final["status"]["phase"] == "Completed", final["status"].get("conditions")

    uri = final["status"]["outputManifestUri"]
    assert uri == f"s3://{BUCKET}/jobs/s3/manifests/output/output.manifest"
    text = s3_server.filesystem().cat_file(uri).decode()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert sorted(line["source-ref"] for line in lines) == sorted(digits["refs"])
    counters = final["status"]["labelCounters"]
    assert counters["totalLabeled"] == DIGITS
    humans = sum(1 for line in lines if line["label-metadata"]["human-annotated"] == "yes")
    assert humans == counters["humanLabeled"]

    jobs = client.BatchV1Api(kube_api).list_namespaced_job(
        namespace, label_selector="labelpilot.dev/job=s3"
    )
    assert jobs.items
    for job in jobs.items:
        (container,) = job.spec.template.spec.containers
        assert [source.secret_ref.name for source in container.env_from] == [SECRET]
        assert not [var for var in container.env if var.name.startswith("AWS_")]


def test_a_wrong_secret_fails_the_job_naming_the_manifest(
    kube_api: client.ApiClient,
    namespace: str,
    operator: OperatorProcess,
    s3_server: S3Server,
    digits: dict[str, Any],
) -> None:
    wrong = s3_server.environment(secret_key="not-the-secret")
    final = _run(kube_api, namespace, "wrong", wrong, digits)
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["failureReason"] == (
        f"InputManifestUnreadable: prepare: {digits['manifest']}: PermissionError: Forbidden"
    )
