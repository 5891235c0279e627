"""A reconciler fed by the cache of child Jobs: Jobs listed once, a finished Job's Pods
read once, a created Job seen by the next reconcile before the watch delivers it."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from labelpilot.controller.child_job_cache import ChildJobs
from labelpilot.controller.reconciler import Apis, Reconciler
from labelpilot.controller.step_jobs import JobSettings

NS, NAME = "team-a", "digits"
PREPARED = {
    "step": "prepare",
    "status": "Succeeded",
    "next": "human",
    "labelCounters": {
        "totalLabeled": 0,
        "humanLabeled": 0,
        "machineLabeled": 0,
        "failedNonRetryableError": 0,
        "unlabeled": 300,
    },
}


class _Response:
    def __init__(self, body: Any) -> None:
        self.data = json.dumps(body)


def _created(namespace: str, job: dict[str, Any], **_: Any) -> _Response:
    body = json.loads(json.dumps(job))
    body["metadata"].update(uid=f"uid-{job['metadata']['name']}", resourceVersion="100")
    return _Response(body)


def _finished(job: dict[str, Any]) -> dict[str, Any]:
    done = json.loads(json.dumps(job))
    done["metadata"]["resourceVersion"] = "120"
    done["status"] = {
        "succeeded": 1,
        "startTime": "2025-03-01T12:00:00Z",
        "completionTime": "2025-03-01T12:00:30Z",
        "conditions": [{"type": "Complete", "status": "True"}],
    }
    return done


def _pod(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "p",
            "ownerReferences": [{"kind": "Job", "uid": job["metadata"]["uid"]}],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "worker",
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "message": json.dumps(PREPARED),
                            "finishedAt": "2025-03-01T12:00:29Z",
                            "reason": "Completed",
                        }
                    },
                }
            ]
        },
    }


def test_jobs_are_listed_once_and_a_finished_jobs_pods_read_once(spec_dict) -> None:
    body = {
        "metadata": {"name": NAME, "namespace": NS, "uid": "u1", "generation": 1},
        "spec": spec_dict(),
        "status": None,
    }
    apis = Apis(mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    apis.custom.get_namespaced_custom_object.side_effect = lambda *a, **k: _Response(body)

    def patched(*args: Any, **_: Any) -> None:
        body["status"] = args[-1]["status"]

    apis.custom.patch_namespaced_custom_object_status.side_effect = patched
    apis.batch.list_namespaced_job.return_value = _Response(
        {"metadata": {"resourceVersion": "50"}, "items": []}
    )
    apis.batch.create_namespaced_job.side_effect = _created
    children = ChildJobs()
    reconciler = Reconciler(apis, JobSettings(), lambda b, e: None, children)

    reconciler.reconcile(NS, NAME)
    reconciler.reconcile(NS, NAME)
    assert apis.batch.list_namespaced_job.call_count == 1
    assert apis.batch.create_namespaced_job.call_count == 1  # the second saw it in the cache
    [prepare] = children.jobs((NS, NAME))
    assert prepare["metadata"]["name"] == "digits-prepare"

    children.seen((NS, NAME), _finished(prepare))  # the watch: it completed
    apis.core.list_namespaced_pod.return_value = _Response({"items": [_pod(prepare)]})
    reconciler.reconcile(NS, NAME)
    reconciler.reconcile(NS, NAME)
    assert apis.core.list_namespaced_pod.call_count == 1
    assert apis.batch.list_namespaced_job.call_count == 1
    created = [
        c.args[1]["metadata"]["name"] for c in apis.batch.create_namespaced_job.call_args_list
    ]
    assert created == ["digits-prepare", "digits-i0-human"]
