"""A step Job the API server rejects fails its LabelingJob, without a retry loop.

The rejection comes from the real API server: a ValidatingAdmissionPolicy, which a cluster
admin may set and no CRD schema can foresee, refuses Jobs that retry a failed pod more than
once (HTTP 422 Invalid). The LabelingJob passes the CRD, the operator's model and its
policy (no claim, Secret or image of its own), so only the step Job's creation fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from labelpilot.api.steps import Step
from labelpilot.controller.step_jobs import job_name
from tests.cluster.kubeutil import simple_job, wait_for
from tests.cluster.operator_fixtures import (
    GROUP,
    PLURAL,
    VERSION,
    DataVolume,
    OperatorProcess,
    labeling_job,
    wait_phase,
)

RULE = "spec.backoffLimit: Invalid value: at most 1 retry in this namespace"
# Longer than the operator's first retry delays together, and than two resync periods
# (the test operator resyncs every 5 s): a retry loop would create the Job again in it.
QUIET_SECONDS = 16


@pytest.fixture()
def one_retry_at_most(kube_api: client.ApiClient, namespace: str) -> Iterator[None]:
    admission = client.AdmissionregistrationV1Api(kube_api)
    policy = f"one-retry-{namespace}"
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": policy},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["batch"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["jobs"],
                        }
                    ]
                },
                "validations": [
                    {
                        "expression": (
                            "!has(object.spec.backoffLimit) || object.spec.backoffLimit <= 1"
                        ),
                        "message": RULE,
                    }
                ],
            },
        }
    )
    admission.create_validating_admission_policy_binding(
        {
            "metadata": {"name": policy},
            "spec": {
                "policyName": policy,
                "validationActions": ["Deny"],
                "matchResources": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
                },
            },
        }
    )
    batch = client.BatchV1Api(kube_api)

    def enforced() -> bool:
        try:
            batch.create_namespaced_job(
                namespace, simple_job("probe", "true", backoff_limit=2), dry_run="All"
            )
        except client.ApiException as error:
            return error.status == 422
        return False

    try:
        wait_for(enforced, timeout=60, what="the admission policy to be enforced")
        yield
    finally:
        admission.delete_validating_admission_policy_binding(policy)
        admission.delete_validating_admission_policy(policy)


def _job_creates(audit: Path, namespace: str) -> list[int]:
    """The answers to the Job creations in `namespace` (dry runs left out)."""
    codes = []
    for line in audit.read_text().splitlines():
        entry = json.loads(line)
        ref = entry.get("objectRef") or {}
        if (
            entry.get("verb") == "create"
            and ref.get("resource") == "jobs"
            and ref.get("namespace") == namespace
            and entry.get("stage") == "ResponseComplete"
            and "dryRun" not in entry.get("requestURI", "")
        ):
            codes.append(int((entry.get("responseStatus") or {}).get("code") or 0))
    return codes


def _events(core: client.CoreV1Api, namespace: str, name: str) -> list[client.CoreV1Event]:
    return [
        e
        for e in core.list_namespaced_event(namespace).items
        if e.involved_object.kind == "LabelingJob" and e.involved_object.name == name
    ]


def _without_storage(name: str) -> dict[str, Any]:
    """A LabelingJob on object storage: nothing in it for the operator's policy to refuse."""
    body = labeling_job(
        name,
        Path("/data"),
        DataVolume("data", Path("/data")),
        ["0", "1"],
        input={"manifestUri": "s3://labels/input.manifest"},
        output={"uri": f"s3://labels/output/{name}"},
    )
    del body["spec"]["storage"]
    body["spec"]["humanTaskConfig"]["workforce"]["simulated"]["groundTruthManifestUri"] = (
        "s3://labels/ground-truth.manifest"
    )
    return body


def _failed(obj: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == "Failed")


def test_a_rejected_step_job_fails_the_labeling_job_until_the_spec_changes(
    kube_api: client.ApiClient,
    namespace: str,
    operator: OperatorProcess,
    dev_cluster: Any,
    one_retry_at_most: None,
) -> None:
    custom, core = client.CustomObjectsApi(kube_api), client.CoreV1Api(kube_api)
    batch = client.BatchV1Api(kube_api)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, _without_storage("refused")
    )

    final = wait_phase(custom, namespace, "refused", ("Failed", "Completed"), timeout=120)
    failed = _failed(final)
    assert failed["status"] == "True" and failed["reason"] == "JobRejected", failed
    assert RULE in failed["message"], failed["message"]
    assert job_name("refused", Step.PREPARE, None) in failed["message"]
    assert final["status"]["failureReason"] == f"JobRejected: {failed['message']}"
    warnings = wait_for(
        lambda: [e for e in _events(core, namespace, "refused") if e.reason == "JobRejected"],
        timeout=30,
        what="the JobRejected Event",
    )
    assert warnings[0].type == "Warning" and RULE in warnings[0].message

    time.sleep(QUIET_SECONDS)
    assert _job_creates(dev_cluster.log("audit"), namespace) == [422]
    assert (
        custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "refused")["status"][
            "phase"
        ]
        == "Failed"
    )

    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "refused", {"spec": {"worker": {"backoffLimit": 1}}}
    )
    wait_for(
        lambda: (
            batch.list_namespaced_job(namespace, label_selector="labelpilot.dev/job=refused").items
        ),
        timeout=60,
        what="the step Job made from the fixed spec",
    )
    wait_for(
        lambda: [e for e in _events(core, namespace, "refused") if e.reason == "Retrying"],
        timeout=30,
        what="the Retrying Event",
    )
    assert _job_creates(dev_cluster.log("audit"), namespace) == [422, 201]
    # the rejection's reason is gone (the step may since have failed for a reason of its own)
    retried = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "refused")
    assert not retried["status"].get("failureReason", "").startswith("JobRejected"), retried
