"""A job the cluster's policy refuses fails at once, naming the field, and gets no Job."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from labelpilot.controller.reconciler import Apis, Reconciler
from labelpilot.controller.step_jobs import JobSettings


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def test_a_refused_job_fails_with_the_field_in_its_condition_and_event(spec_dict):
    body = {
        "metadata": {"name": "digits", "namespace": "team-a", "uid": "u1", "generation": 1},
        "spec": spec_dict({"worker": {"serviceAccountName": "cluster-admin-sa"}}),
    }
    apis = Apis(mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    apis.custom.get_namespaced_custom_object.return_value = _Response(body)
    apis.batch.list_namespaced_job.return_value = _Response({"items": []})
    events: list[Any] = []
    reconciler = Reconciler(apis, JobSettings(), lambda b, e: events.append(e))
    reconciler.reconcile("team-a", "digits")
    assert not apis.batch.create_namespaced_job.called
    status = apis.custom.patch_namespaced_custom_object_status.call_args.args[-1]["status"]
    assert status["phase"] == "Failed"
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert (failed["status"], failed["reason"]) == ("True", "NotAllowed")
    assert "spec.worker.serviceAccountName: ServiceAccount 'cluster-admin-sa'" in failed["message"]
    assert any(
        e.type == "Warning" and "spec.worker.serviceAccountName" in e.message for e in events
    ), events
