"""A 403 from the API server shows up as a Stalled/Forbidden condition and an Event."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from kubernetes.client.rest import ApiException

from labelpilot.controller.reconciler import Apis, Reconciler
from labelpilot.controller.settings import OperatorSettings
from labelpilot.controller.step_jobs import JobSettings


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def _forbidden() -> ApiException:
    error = ApiException(status=403, reason="Forbidden")
    error.body = json.dumps(
        {
            "kind": "Status",
            "reason": "Forbidden",
            "message": 'jobs.batch is forbidden: User "system:serviceaccount:x:op" '
            'cannot create resource "jobs" in API group "batch"',
        }
    )
    return error


def _reconciler(spec_dict: Any, create_error: ApiException, status: Any = None):
    body = {
        "metadata": {"name": "digits", "namespace": "team-a", "uid": "u1", "generation": 1},
        "spec": spec_dict(),
        "status": status,
    }
    apis = Apis(mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    apis.custom.get_namespaced_custom_object.return_value = _Response(body)
    apis.batch.list_namespaced_job.return_value = _Response({"items": []})
    apis.core.list_namespaced_pod.return_value = _Response({"items": []})
    apis.batch.create_namespaced_job.side_effect = create_error
    events: list[Any] = []
    return Reconciler(apis, JobSettings(), lambda b, e: events.append(e)), apis, events


def _written(apis: Apis) -> dict[str, Any]:
    return apis.custom.patch_namespaced_custom_object_status.call_args.args[-1]["status"]


def test_forbidden_job_creation_stalls_with_reason(spec_dict):
    reconciler, apis, events = _reconciler(spec_dict, _forbidden())
    assert reconciler.reconcile("team-a", "digits") is None
    status = _written(apis)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert status["phase"] == "Initializing"
    assert conditions["Stalled"]["status"] == "True"
    assert conditions["Stalled"]["reason"] == "Forbidden"
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Reconciling"]["status"] == "False"
    assert 'cannot create resource "jobs"' in conditions["Stalled"]["message"]
    assert [(e.type, e.reason) for e in events] == [("Warning", "Forbidden")]


def test_permission_restored_clears_the_stall(spec_dict):
    reconciler, apis, _ = _reconciler(spec_dict, _forbidden())
    reconciler.reconcile("team-a", "digits")
    stalled = _written(apis)
    again, apis2, events = _reconciler(spec_dict, None, status=stalled)
    again.reconcile("team-a", "digits")
    conditions = {c["type"]: c for c in _written(apis2)["conditions"]}
    assert conditions["Stalled"]["status"] == "False"
    assert conditions["Reconciling"]["status"] == "True"
    assert apis2.batch.create_namespaced_job.called
    assert not [e for e in events if e.reason == "Forbidden"]


def test_other_api_errors_still_raise(spec_dict):
    reconciler, _, _ = _reconciler(spec_dict, ApiException(status=500, reason="boom"))
    try:
        reconciler.reconcile("team-a", "digits")
    except ApiException as error:
        assert error.status == 500
    else:
        raise AssertionError("a 500 must reach kopf, which retries it")


def test_named_namespaces_turn_kopf_scanning_off():
    assert OperatorSettings.from_env({}).scanning
    assert not OperatorSettings.from_env({"LABELPILOT_OPERATOR_SCANNING": "off"}).scanning
