from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from labelpilot.api.step_summary import parse_summary
from labelpilot.api.steps import Step
from labelpilot.controller.observed import JobState, observed_from

SUMMARY = {
    "step": "threshold",
    "iteration": 2,
    "status": "Succeeded",
    "next": "human",
    "stopReason": None,
    "labelCounters": {
        "totalLabeled": 500,
        "humanLabeled": 300,
        "machineLabeled": 200,
        "failedNonRetryableError": 3,
        "unlabeled": 497,
    },
    "accuracyBound": 0.951,
    "machineLabeledThisIteration": 120,
    "humanBatch": 100,
    "seconds": 12.3,
}


def job_dict(
    name: str = "mnist-i2-threshold",
    step: str = "threshold",
    iteration: str = "2",
    conditions: list[dict[str, Any]] | None = None,
    completions: int = 1,
    **metadata: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": "job-uid",
            "labels": {
                "labelpilot.dev/job": "mnist",
                "labelpilot.dev/step": step,
                "labelpilot.dev/iteration": iteration,
            },
            **metadata,
        },
        "spec": {"completions": completions, "parallelism": completions},
        "status": {
            "startTime": "2025-03-01T12:00:00Z",
            "completionTime": "2025-03-01T12:00:30Z",
            "conditions": conditions or [],
        },
    }


def pod_dict(
    name: str,
    exit_code: int | None,
    message: str = "",
    finished: str = "2025-03-01T12:00:29Z",
    owner: str = "job-uid",
    reason: str = "Completed",
) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": "2025-03-01T12:00:01Z"}}
    if exit_code is not None:
        state = {
            "terminated": {
                "exitCode": exit_code,
                "message": message,
                "finishedAt": finished,
                "reason": reason,
            }
        }
    return {
        "metadata": {"name": name, "ownerReferences": [{"kind": "Job", "uid": owner}]},
        "status": {"containerStatuses": [{"name": "worker", "state": state}]},
    }


COMPLETE = [
    {"type": "SuccessCriteriaMet", "status": "True"},
    {"type": "Complete", "status": "True"},
]


def test_a_succeeded_job_carries_its_summary():
    observed = observed_from(
        job_dict(conditions=COMPLETE), [pod_dict("p1", 0, json.dumps(SUMMARY))]
    )
    assert observed.state is JobState.SUCCEEDED
    assert (observed.name, observed.namespace) == ("mnist-i2-threshold", "team-a")
    assert (observed.step, observed.iteration) == (Step.THRESHOLD, 2)
    assert observed.summary is not None
    assert observed.summary.next == "human"
    assert observed.summary.label_counters is not None
    assert observed.summary.label_counters.failed_non_retryable_error == 3
    assert observed.summary.accuracy_bound == 0.951
    assert observed.exit_code == 0
    assert observed.start_time == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert (observed.completion_time - observed.start_time).total_seconds() == 30


def test_an_unfinished_job_is_active():
    observed = observed_from(
        job_dict(conditions=[{"type": "Suspended", "status": "False"}]), [pod_dict("p1", None)]
    )
    assert observed.state is JobState.ACTIVE
    assert observed.summary is None and observed.exit_code is None


def test_a_rule_failure_reads_exit_three():
    failure = {
        "step": "human",
        "iteration": 0,
        "status": "Failed",
        "reason": "TooManyFailedObjects",
        "message": "14% failed",
    }
    job = job_dict(
        "mnist-i0-human",
        "human",
        "0",
        conditions=[
            {"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy"},
            {
                "type": "Failed",
                "status": "True",
                "reason": "PodFailurePolicy",
                "message": "Container worker for pod team-a/p1 failed with exit code 3",
            },
        ],
    )
    observed = observed_from(job, [pod_dict("p1", 3, json.dumps(failure))])
    assert observed.state is JobState.FAILED
    assert observed.rule_failure
    assert observed.failure_reason == "PodFailurePolicy"
    assert observed.summary is not None and observed.summary.reason == "TooManyFailedObjects"
    assert observed.logs_hint == "kubectl logs job/mnist-i0-human -n team-a"


def test_a_crash_after_backoff_names_its_last_pod_and_keeps_none_of_its_log():
    job = job_dict(
        "mnist-i1-train",
        "train",
        "1",
        conditions=[
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ],
    )
    pods = [
        pod_dict(
            "p2", 137, "PGPASSWORD=hunter2\nKilled", "2025-03-01T12:02:00Z", reason="OOMKilled"
        ),
        pod_dict("p1", 1, "Traceback\nValueError: first", "2025-03-01T12:01:00Z", reason="Error"),
    ]
    job["status"]["failed"] = 2
    observed = observed_from(job, pods)
    assert observed.state is JobState.FAILED and not observed.rule_failure
    assert observed.failed_pods == 2
    assert (observed.exit_code, observed.container_reason, observed.pod) == (137, "OOMKilled", "p2")
    assert observed.pod_logs_hint == "kubectl logs p2 -n team-a"
    assert observed.summary is None
    assert "hunter2" not in repr(observed)


def test_the_summary_is_found_at_the_end_of_a_log_tail():
    text = "epoch 1 loss 0.3\nepoch 2 loss 0.2\n" + json.dumps(SUMMARY) + "\n"
    parsed = parse_summary(text)
    assert parsed is not None and parsed.step == "threshold"
    assert parse_summary("no json here") is None
    assert parse_summary("") is None
    assert parse_summary('{"unrelated": 1}') is None
    assert parse_summary('{"step": "train", "seconds": "slow"}') is None


def test_an_indexed_job_uses_a_successful_shard():
    job = job_dict("mnist-i2-infer", "infer", "2", conditions=COMPLETE, completions=3)
    pods = [
        pod_dict(
            f"p{i}",
            0,
            json.dumps({"step": "infer", "iteration": 2, "status": "Succeeded", "seconds": i}),
            f"2025-03-01T12:00:2{i}Z",
        )
        for i in range(3)
    ]
    pods.append(pod_dict("retry", 1, "crash", "2025-03-01T12:00:10Z"))
    observed = observed_from(job, pods)
    assert observed.shard_count == 3
    assert observed.summary is not None and observed.summary.seconds == 2


def test_pods_of_other_jobs_are_ignored():
    observed = observed_from(
        job_dict(conditions=COMPLETE),
        [
            pod_dict(
                "other",
                0,
                json.dumps({**SUMMARY, "next": "export"}),
                "2025-03-01T13:00:00Z",
                owner="someone-else",
            ),
            pod_dict("mine", 0, json.dumps(SUMMARY)),
        ],
    )
    assert observed.summary is not None and observed.summary.next == "human"


def test_kubernetes_client_dicts_in_snake_case():
    job = {
        "metadata": {
            "name": "mnist-export",
            "namespace": "ns",
            "uid": "u",
            "labels": {"labelpilot.dev/step": "export"},
            "deletion_timestamp": datetime(2025, 3, 1, tzinfo=UTC),
        },
        "spec": {"completions": 1},
        "status": {
            "conditions": [{"type": "Complete", "status": "True"}],
            "start_time": datetime(2025, 3, 1, tzinfo=UTC),
        },
    }
    pod = {
        "metadata": {"name": "p", "owner_references": [{"uid": "u"}]},
        "status": {
            "container_statuses": [
                {
                    "name": "worker",
                    "state": {
                        "terminated": {
                            "exit_code": 0,
                            "message": json.dumps(
                                {"step": "export", "status": "Succeeded", "finalModelRef": "m"}
                            ),
                            "finished_at": datetime(2025, 3, 1, tzinfo=UTC),
                        }
                    },
                }
            ]
        },
    }
    observed = observed_from(job, [pod])
    assert (observed.step, observed.iteration) == (Step.EXPORT, None)
    assert observed.deleting
    assert observed.summary is not None and observed.summary.final_model_ref == "m"


def test_a_foreign_job_is_refused():
    job = job_dict()
    del job["metadata"]["labels"]["labelpilot.dev/step"]
    with pytest.raises(ValueError, match="not a LabelPilot step job"):
        observed_from(job, [])


def test_the_planner_reads_a_parsed_rule_failure(spec_dict):
    from labelpilot.api.spec import LabelingJobSpec
    from labelpilot.api.status import ConditionType, Phase
    from labelpilot.controller.planner import plan

    spec = LabelingJobSpec.from_k8s(spec_dict())
    now = datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    status = plan(spec, None, [], now).status
    failure = {
        "step": "prepare",
        "status": "Failed",
        "reason": "DatasetTooSmall",
        "message": "300 objects; automated labeling needs 1,250",
    }
    job = job_dict(
        "mnist-prepare",
        "prepare",
        "",
        conditions=[{"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}],
    )
    decision = plan(
        spec, status, [observed_from(job, [pod_dict("p", 3, json.dumps(failure))])], now
    )
    assert decision.status.phase is Phase.FAILED
    condition = decision.status.condition(ConditionType.FAILED)
    assert condition is not None and condition.reason == "DatasetTooSmall"
    assert "needs 1,250" in condition.message
