"""A LabelingJob's metric series go when it does."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

import kopf
from kubernetes.client.rest import ApiException
from prometheus_client import REGISTRY

from labelpilot.controller.child_job_cache import ChildJobs
from labelpilot.controller.reconciler import Apis, Reconciler
from labelpilot.controller.settings import OperatorSettings
from labelpilot.controller.step_jobs import JobSettings


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def _series(namespace: str, name: str) -> dict[str, float | None]:
    found: dict[str, float | None] = {
        source: REGISTRY.get_sample_value(
            "labelpilot_labels", {"namespace": namespace, "labelingjob": name, "source": source}
        )
        for source in ("human", "machine", "failed", "unlabeled")
    }
    found["iteration"] = REGISTRY.get_sample_value(
        "labelpilot_iteration", {"namespace": namespace, "labelingjob": name}
    )
    return found


def _reconciler(spec: dict[str, Any], namespace: str) -> tuple[Reconciler, dict[str, Any]]:
    state: dict[str, Any] = {
        "body": {
            "metadata": {"name": "digits", "namespace": namespace, "uid": "u1", "generation": 1},
            "spec": spec,
            "status": None,
        }
    }

    def read(*_: Any, **__: Any) -> _Response:
        if state["body"] is None:
            raise ApiException(status=404, reason="Not Found")
        return _Response(state["body"])

    apis = Apis(mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    apis.custom.get_namespaced_custom_object.side_effect = read
    apis.batch.list_namespaced_job.return_value = _Response(
        {"metadata": {"resourceVersion": "1"}, "items": []}
    )
    apis.batch.create_namespaced_job.return_value = _Response(
        {"metadata": {"name": "digits-prepare", "uid": "j1"}}
    )
    return Reconciler(apis, JobSettings(), lambda b, e: None, ChildJobs()), state


def test_a_job_found_gone_loses_its_series(spec_dict):
    reconciler, state = _reconciler(spec_dict(), "metrics-gone")
    reconciler.reconcile("metrics-gone", "digits")
    assert _series("metrics-gone", "digits")["unlabeled"] == 0.0
    assert reconciler.children is not None and reconciler.children.jobs(("metrics-gone", "digits"))
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


def test_the_delete_event_drops_the_series_and_queues_a_last_look(spec_dict):
    from labelpilot.controller import handlers
    from labelpilot.controller.resync import Resync

    reconciler, _ = _reconciler(spec_dict(), "metrics-event")
    reconciler.reconcile("metrics-event", "digits")
    assert _series("metrics-event", "digits")["human"] == 0.0
    queued: list[Any] = []
    resync = Resync(queued.append, 60)
    memo = kopf.Memo(
        {
            handlers.OPERATOR: handlers.Operator(
                OperatorSettings(), reconciler, mock.Mock(add=queued.append), resync
            )
        }
    )
    for event in ("ADDED", "MODIFIED", None):
        asyncio.run(
            handlers.labeling_job_seen(
                name="digits",
                namespace="metrics-event",
                type=event,
                status={"phase": "InProgress"},
                memo=memo,
            )
        )
    assert _series("metrics-event", "digits")["human"] == 0.0 and queued == []
    asyncio.run(
        handlers.labeling_job_seen(
            name="digits", namespace="metrics-event", type="DELETED", status={}, memo=memo
        )
    )
    assert set(_series("metrics-event", "digits").values()) == {None}
    assert queued == [("metrics-event", "digits")]
    assert resync.tracked() == set()


def _finished_prepare(reconciler: Reconciler) -> None:
    reconciler.apis.batch.list_namespaced_job.return_value = _Response(
        {
            "metadata": {"resourceVersion": "2"},
            "items": [
                {
                    "metadata": {
                        "name": "digits-prepare",
                        "uid": "j1",
                        "labels": {
                            "labelpilot.dev/job": "digits",
                            "labelpilot.dev/step": "prepare",
                        },
                        "ownerReferences": [
                            {
                                "kind": "LabelingJob",
                                "name": "digits",
                                "uid": "u1",
                                "controller": True,
                            }
                        ],
                    },
                    "spec": {"completions": 1},
                    "status": {
                        "startTime": "2025-03-01T12:00:00Z",
                        "completionTime": "2025-03-01T12:00:30Z",
                        "conditions": [{"type": "Complete", "status": "True"}],
                    },
                }
            ],
        }
    )
    reconciler.apis.core.list_namespaced_pod.return_value = _Response({"items": []})


def _prepare_timings() -> float:
    return (
        REGISTRY.get_sample_value("labelpilot_step_duration_seconds_count", {"step": "prepare"})
        or 0.0
    )


def test_same_named_jobs_in_two_namespaces_each_have_their_steps_timed(spec_dict):
    first, _ = _reconciler(spec_dict(), "timings-a")
    _finished_prepare(first)
    second = Reconciler(first.apis, JobSettings(), lambda b, e: None, ChildJobs())
    before = _prepare_timings()
    first.reconcile("timings-a", "digits")
    first.reconcile("timings-a", "digits")  # the same Job is timed once
    assert _prepare_timings() == before + 1
    first.reconcile("timings-b", "digits")
    assert _prepare_timings() == before + 2
    second.reconcile("timings-a", "digits")  # a new operator process times it again
    assert _prepare_timings() == before + 3


def test_a_forgotten_job_leaves_no_step_timings_behind(spec_dict):
    reconciler, _ = _reconciler(spec_dict(), "timings-gone")
    _finished_prepare(reconciler)
    before = _prepare_timings()
    reconciler.reconcile("timings-gone", "digits")
    assert _prepare_timings() == before + 1
    reconciler.forget("timings-gone", "digits")
    # a LabelingJob of that name created again: its step Jobs are timed afresh
    reconciler.reconcile("timings-gone", "digits")
    assert _prepare_timings() == before + 2
