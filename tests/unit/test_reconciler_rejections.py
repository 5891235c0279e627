"""A step Job the API server rejects as invalid fails the LabelingJob until its spec changes."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from kubernetes.client.rest import ApiException

from labelpilot.controller.reconciler import Apis, Reconciler
from labelpilot.controller.step_jobs import JobSettings

SERVER_SAYS = (
    'Job.batch "digits-prepare" is invalid: spec.template.spec.nodeSelector: '
    'Invalid value: "' + "x" * 64 + '": must be no more than 63 characters'
)


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def _refused(status: int, message: str = SERVER_SAYS) -> ApiException:
    error = ApiException(status=status, reason="Invalid")
    error.body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "reason": "Invalid",
            "message": message,
            "code": status,
        }
    )
    return error


def _merged(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merged(result.get(key), value)
    return result


class Cluster:
    """The API calls a reconcile makes, answered from one LabelingJob kept here."""

    def __init__(self, spec: dict[str, Any], create_error: ApiException | None) -> None:
        self.body: dict[str, Any] = {
            "metadata": {"name": "digits", "namespace": "team-a", "uid": "u1", "generation": 1},
            "spec": spec,
            "status": None,
        }
        self.apis = Apis(mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
        self.apis.custom.get_namespaced_custom_object.side_effect = lambda *a, **k: _Response(
            self.body
        )
        self.apis.custom.patch_namespaced_custom_object_status.side_effect = self._patched
        self.apis.batch.list_namespaced_job.return_value = _Response({"items": []})
        self.apis.core.list_namespaced_pod.return_value = _Response({"items": []})
        self.apis.batch.create_namespaced_job.side_effect = create_error
        self.events: list[Any] = []
        self.reconciler = Reconciler(self.apis, JobSettings(), lambda b, e: self.events.append(e))

    def _patched(self, *args: Any, **_: Any) -> None:
        """Applied as the API server applies the client's JSON merge patch (RFC 7386)."""
        self.body = _merged(self.body, args[-1])

    def conditions(self) -> dict[str, dict[str, Any]]:
        return {c["type"]: c for c in self.body["status"]["conditions"]}

    @property
    def creates(self) -> int:
        return int(self.apis.batch.create_namespaced_job.call_count)


def test_a_rejected_job_fails_the_labeling_job_with_the_servers_message(spec_dict):
    cluster = Cluster(spec_dict(), _refused(422))
    cluster.reconciler.reconcile("team-a", "digits")  # no exception: no hot retry
    status = cluster.body["status"]
    failed = cluster.conditions()["Failed"]
    assert status["phase"] == "Failed"
    assert (failed["status"], failed["reason"]) == ("True", "JobRejected")
    assert "spec.template.spec.nodeSelector" in failed["message"]
    assert "must be no more than 63 characters" in failed["message"]
    assert "digits-prepare" in failed["message"]
    assert cluster.conditions()["Stalled"]["status"] == "True"
    assert status["failureReason"] == f"JobRejected: {failed['message']}"
    assert [(e.type, e.reason) for e in cluster.events] == [("Warning", "JobRejected")]
    assert "spec.template.spec.nodeSelector" in cluster.events[0].message


def test_a_rejected_job_is_not_asked_for_again_until_the_spec_changes(spec_dict):
    cluster = Cluster(spec_dict(), _refused(422))
    for _ in range(3):
        cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.creates == 1
    assert len(cluster.events) == 1

    cluster.apis.batch.create_namespaced_job.side_effect = None
    cluster.apis.batch.create_namespaced_job.return_value = _Response(
        {"metadata": {"name": "digits-prepare", "uid": "j1"}}
    )
    cluster.body["metadata"]["generation"] = 2  # the user fixed the spec
    cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.creates == 2
    assert cluster.body["status"]["phase"] == "Initializing"
    assert cluster.conditions()["Failed"]["status"] == "False"
    # a merge patch keeps what it does not name: the failure's fields are sent as null
    assert "failureReason" not in cluster.body["status"]
    assert "completionTime" not in cluster.body["status"]
    assert [e.reason for e in cluster.events] == ["JobRejected", "StepStarted", "Retrying"]


def test_a_spec_still_rejected_after_an_edit_says_so_again(spec_dict):
    cluster = Cluster(spec_dict(), _refused(422))
    cluster.reconciler.reconcile("team-a", "digits")
    cluster.apis.batch.create_namespaced_job.side_effect = _refused(
        422,
        'Job.batch "digits-prepare" is invalid: spec.template.spec.containers[0]'
        '.resources.limits[bad]: Invalid value: "bad": must be a standard resource',
    )
    cluster.body["metadata"]["generation"] = 2
    cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.creates == 2
    assert cluster.body["status"]["phase"] == "Failed"
    assert cluster.body["status"]["observedGeneration"] == 2
    assert "resources.limits[bad]" in cluster.conditions()["Failed"]["message"]
    assert [(e.type, e.reason) for e in cluster.events] == [("Warning", "JobRejected")] * 2


def test_a_bad_request_is_a_rejection_and_errors_a_retry_may_cure_still_raise(spec_dict):
    cluster = Cluster(spec_dict(), _refused(400, "the server rejected our request"))
    cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.conditions()["Failed"]["reason"] == "JobRejected"
    for status in (429, 500, 503, 404, 401):
        cluster = Cluster(spec_dict(), _refused(status, "try later"))
        with pytest.raises(ApiException) as raised:
            cluster.reconciler.reconcile("team-a", "digits")
        assert raised.value.status == status
        assert cluster.body["status"] is None and cluster.events == []


def test_secrets_in_the_servers_message_are_masked(spec_dict):
    cluster = Cluster(
        spec_dict(),
        _refused(
            422,
            'Job.batch "digits-prepare" is invalid: spec.template.spec.containers[0]'
            '.env[4].name: Invalid value: "X": PGPASSWORD=hunter2',
        ),
    )
    cluster.reconciler.reconcile("team-a", "digits")
    said = [cluster.conditions()["Failed"]["message"], *(e.message for e in cluster.events)]
    assert not [text for text in said if "hunter2" in text]
    assert "env[4].name" in said[0]


def test_an_unknown_profile_is_retried_once_the_spec_names_a_known_one(spec_dict):
    cluster = Cluster(spec_dict({"resources": {"other": {"profile": "z9.huge"}}}), None)
    cluster.apis.batch.create_namespaced_job.return_value = _Response(
        {"metadata": {"name": "digits-prepare", "uid": "j1"}}
    )
    cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.conditions()["Failed"]["reason"] == "InvalidProfile"
    assert "z9.huge" in cluster.conditions()["Failed"]["message"]
    cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.creates == 0

    cluster.body["spec"] = spec_dict()
    cluster.body["metadata"]["generation"] = 2
    cluster.reconciler.reconcile("team-a", "digits")
    assert cluster.creates == 1
    assert cluster.body["status"]["phase"] == "Initializing"
