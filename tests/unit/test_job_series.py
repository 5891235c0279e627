"""A LabelingJob's series: phase, progress, human queue and step failures."""

from __future__ import annotations

from prometheus_client import REGISTRY
from tests.specs import summary

from labelpilot.api.steps import Step
from labelpilot.controller.observed import JobState, ObservedJob
from labelpilot.controller.prometheus_metrics import JobSeries, human_queue


def _value(metric: str, namespace: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, {"namespace": namespace, "labelingjob": "j", **labels})


def _status(phase: str = "InProgress", step: str = "train", human: int = 0) -> dict[str, object]:
    return {
        "phase": phase,
        "currentStep": step,
        "iteration": 1,
        "labelCounters": {"humanLabeled": human, "unlabeled": 100 - human},
    }


def _job(step: Step, failed_pods: int = 0, poll: int = 0, **said: object) -> ObservedJob:
    return ObservedJob(
        name=f"j-i1-{step}-p{poll}",
        step=step,
        iteration=1,
        state=JobState.SUCCEEDED if said else JobState.ACTIVE,
        summary=summary(step, 1, **said) if said else None,
        failed_pods=failed_pods,
        poll=poll,
    )


def _waiting(answered: int, batch: int = 10, poll: int = 0) -> ObservedJob:
    return _job(Step.HUMAN, poll=poll, status="Waiting", answered=answered, humanBatch=batch)


def test_phase_is_one_for_the_current_phase_only() -> None:
    series = JobSeries()
    series.record("phase", "j", _status("Initializing"), [])
    series.record("phase", "j", _status("Completed"), [])
    assert _value("labelpilot_job_phase", "phase", phase="Completed") == 1.0
    assert _value("labelpilot_job_phase", "phase", phase="Initializing") == 0.0
    assert _value("labelpilot_job_phase", "phase", phase="Failed") == 0.0


def test_progress_moves_when_counters_or_step_change_not_on_a_plain_resync() -> None:
    series = JobSeries()
    series.record("progress", "j", _status(), [], now=100.0)
    series.record("progress", "j", _status(), [], now=200.0)
    assert _value("labelpilot_job_progress_timestamp_seconds", "progress") == 100.0
    series.record("progress", "j", _status(human=5), [], now=300.0)
    assert _value("labelpilot_job_progress_timestamp_seconds", "progress") == 300.0
    series.record("progress", "j", _status(step="infer", human=5), [], now=400.0)
    assert _value("labelpilot_job_progress_timestamp_seconds", "progress") == 400.0


def test_human_queue_is_the_latest_waiting_rounds_unanswered_objects() -> None:
    assert human_queue([]) == 0
    assert human_queue([_job(Step.TRAIN)]) == 0
    assert human_queue([_waiting(2, poll=0), _waiting(7, poll=1)]) == 3
    # the round after the last waiting one got every answer
    assert human_queue([_waiting(7, poll=1), _job(Step.HUMAN, poll=2, humanBatch=10)]) == 0
    series = JobSeries()
    series.record("queue", "j", _status(step="human"), [_waiting(2)], now=10.0)
    series.record("queue", "j", _status(step="human"), [_waiting(2)], now=20.0)
    assert _value("labelpilot_human_queue_objects", "queue") == 8.0
    assert _value("labelpilot_human_queue_change_timestamp_seconds", "queue") == 10.0
    series.record("queue", "j", _status(step="human"), [_waiting(4, poll=1)], now=30.0)
    assert _value("labelpilot_human_queue_objects", "queue") == 6.0
    assert _value("labelpilot_human_queue_change_timestamp_seconds", "queue") == 30.0
    assert _value("labelpilot_job_progress_timestamp_seconds", "queue") == 30.0


def test_step_failures_count_failed_pods_once_from_zero() -> None:
    series = JobSeries()
    series.record("fail", "j", _status(), [_job(Step.TRAIN)])
    assert _value("labelpilot_step_failures_total", "fail", step="train") == 0.0
    assert _value("labelpilot_step_failures_total", "fail", step="export") == 0.0
    series.record("fail", "j", _status(), [_job(Step.TRAIN, failed_pods=2)])
    series.record("fail", "j", _status(), [_job(Step.TRAIN, failed_pods=2)])
    assert _value("labelpilot_step_failures_total", "fail", step="train") == 2.0
    series.record("fail", "j", _status(), [_job(Step.TRAIN, failed_pods=3)])
    assert _value("labelpilot_step_failures_total", "fail", step="train") == 3.0


def test_failures_before_the_first_record_are_not_counted_again_after_a_restart() -> None:
    restarted = JobSeries()
    restarted.record("restart", "j", _status(), [_job(Step.TRAIN, failed_pods=4)])
    assert _value("labelpilot_step_failures_total", "restart", step="train") == 0.0
    restarted.record("restart", "j", _status(), [_job(Step.TRAIN, failed_pods=5)])
    assert _value("labelpilot_step_failures_total", "restart", step="train") == 1.0


def test_forget_removes_every_series_of_the_job() -> None:
    series = JobSeries()
    series.record("forget", "j", _status(step="human"), [_waiting(1), _job(Step.TRAIN, 1)])
    series.forget("forget", "j")
    names = {
        sample.name
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if sample.labels.get("namespace") == "forget"
    }
    assert names == set()
