"""A LabelingJob's metric series go when it does."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

from kubernetes.client.rest import ApiException
from prometheus_client import REGISTRY

from labelpilot.controller.child_job_cache import ChildJobs
from labelpilot.controller.reconciler import Apis, Reconciler
from labelpilot.controller.step_jobs import JobSettings


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def _series(namespace: str, name: str) -> dict[str, float | None]:
    found: dict[str, float | None] = {
        source: REGISTRY.get_sample_value(
            "labelpilot_labels", {"namespace": namespace, "job": name, "source": source})
        for source in ("human", "machine", "failed", "unlabeled")}
    found["iteration"] = REGISTRY.get_sample_value(
        "labelpilot_iteration", {"namespace": namespace, "job": name})
    return found


def _reconciler(spec: dict[str, Any], namespace: str) -> tuple[Reconciler, dict[str, Any]]:
    state: dict[str, Any] = {"body": {
        "metadata": {"name": "digits", "namespace": namespace, "uid": "u1", "generation": 1},
        "spec": spec, "status": None}}

    def read(*_: Any, **__: Any) -> _Response:
        if state["body"] is None:
            raise ApiException(status=404, reason="Not Found")
        return _Response(state["body"])

    apis = Apis(mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    apis.custom.get_namespaced_custom_object.side_effect = read
    apis.batch.list_namespaced_job.return_value = _Response(
        {"metadata": {"resourceVersion": "1"}, "items": []})
    apis.batch.create_namespaced_job.return_value = _Response(
        {"metadata": {"name": "digits-prepare", "uid": "j1"}})
    return Reconciler(apis, JobSettings(), lambda b, e: None, ChildJobs()), state


def test_a_job_found_gone_loses_its_series(spec_dict):
    reconciler, state = _reconciler(spec_dict(), "metrics-gone")
    reconciler.reconcile("metrics-gone", "digits")
    assert _series("metrics-gone", "digits")["unlabeled"] == 0.0
    assert reconciler.children is not None and reconciler.children.jobs(
        ("metrics-gone", "digits"))
    state["body"] = None
    reconciler.reconcile("metrics-gone", "digits")
    assert set(_series("metrics-gone", "digits").values()) == {None}
    assert reconciler.children.jobs(("metrics-gone", "digits")) == []


def test_a_job_being_deleted_loses_its_series(spec_dict):
    reconciler, state = _reconciler(spec_dict(), "metrics-deleting")
    reconciler.reconcile("metrics-deleting", "digits")
    assert _series("metrics-deleting", "digits")["iteration"] == 0.0
    state["body"]["metadata"]["deletionTimestamp"] = "2025-03-01T12:00:00Z"
    reconciler.reconcile("metrics-deleting", "digits")
    assert set(_series("metrics-deleting", "digits").values()) == {None}


def test_the_delete_event_drops_the_series_and_queues_a_last_look(spec_dict, monkeypatch):
    from labelpilot.controller import handlers
    from labelpilot.controller.resync import Resync

    reconciler, _ = _reconciler(spec_dict(), "metrics-event")
    reconciler.reconcile("metrics-event", "digits")
    assert _series("metrics-event", "digits")["human"] == 0.0
    queued: list[Any] = []
    monkeypatch.setitem(handlers._state, "reconciler", reconciler)
    monkeypatch.setitem(handlers._state, "resync", Resync(queued.append, 60))
    monkeypatch.setitem(handlers._state, "queue", mock.Mock(add=queued.append))
    for event in ("ADDED", "MODIFIED", None):
        asyncio.run(handlers.labeling_job_seen(name="digits", namespace="metrics-event",
                                                 type=event, status={"phase": "InProgress"}))
    assert _series("metrics-event", "digits")["human"] == 0.0 and queued == []
    asyncio.run(handlers.labeling_job_seen(name="digits", namespace="metrics-event",
                                             type="DELETED", status={}))
    assert set(_series("metrics-event", "digits").values()) == {None}
    assert queued == [("metrics-event", "digits")]
    assert handlers.resync().tracked() == set()
