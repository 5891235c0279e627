"""`kubectl get lj --field-selector`: the CRD's selectable fields on a real API server."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.operator_fixtures import GROUP, PLURAL, VERSION
from tests.specs import BASE_SPEC


def _names(custom: client.CustomObjectsApi, namespace: str, selector: str) -> list[str]:
    listed = custom.list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, field_selector=selector
    )
    return sorted(item["metadata"]["name"] for item in listed["items"])


def _create(custom: client.CustomObjectsApi, namespace: str, name: str, **changes: Any) -> None:
    spec = {**copy.deepcopy(BASE_SPEC), **changes}
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "LabelingJob",
            "metadata": {"name": name},
            "spec": spec,
        },
    )


@pytest.fixture()
def unwatched(kube_api: client.ApiClient) -> Iterator[str]:
    """A namespace no operator of the test session watches (theirs are t-*), so the phases
    are the ones this test writes: an operator would fail the specs, whose data is absent."""
    name = f"fs-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def test_jobs_are_selected_by_task_type_and_phase(
    kube_api: client.ApiClient, crd_installed: None, unwatched: str
) -> None:
    namespace = unwatched
    custom = client.CustomObjectsApi(kube_api)
    _create(custom, namespace, "images")
    _create(custom, namespace, "texts", taskType="TextClassification")
    _create(custom, namespace, "paused", taskType="TextClassification", suspend=True)
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "texts", {"status": {"phase": "Failed"}}
    )

    assert _names(custom, namespace, "spec.taskType=TextClassification") == ["paused", "texts"]
    assert _names(custom, namespace, "spec.taskType=ImageClassification") == ["images"]
    assert _names(custom, namespace, "status.phase=Failed") == ["texts"]
    assert _names(custom, namespace, "spec.suspend=true") == ["paused"]
    assert _names(custom, namespace, "spec.taskType=TextClassification,status.phase!=Failed") == [
        "paused"
    ]
    try:
        _names(custom, namespace, "spec.labelAttributeName=digit")
    except client.ApiException as error:
        assert error.status == 400 and "spec.labelAttributeName" in error.body
    else:
        raise AssertionError("a field the CRD does not make selectable was taken")
