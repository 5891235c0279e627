"""The step summary: one model, built by the steps and parsed by the operator."""

from __future__ import annotations

import json

from labelpilot.api.status import LabelCounters
from labelpilot.api.step_summary import (
    MAX_SUMMARY_BYTES,
    StepStatus,
    StepSummary,
    parse_summary,
)
from labelpilot.api.steps import Step, StepFailed, StopReason

COUNTERS = LabelCounters(
    total_labeled=3, human_labeled=2, machine_labeled=1, failed_non_retryable_error=0, unlabeled=7
)


def test_a_summary_writes_the_keys_its_step_set_and_reads_back_the_same():
    summary = StepSummary(
        step=Step.THRESHOLD,
        iteration=2,
        status=StepStatus.SUCCEEDED,
        next=Step.HUMAN,
        stop_reason=None,
        label_counters=COUNTERS,
        accuracy_bound=0.951,
        machine_labeled_this_iteration=1,
        human_batch=4,
        seconds=1.5,
    )
    text = summary.to_json()
    assert json.loads(text) == {
        "step": "threshold",
        "iteration": 2,
        "status": "Succeeded",
        "next": "human",
        "stopReason": None,
        "labelCounters": {
            "totalLabeled": 3,
            "humanLabeled": 2,
            "machineLabeled": 1,
            "failedNonRetryableError": 0,
            "unlabeled": 7,
        },
        "accuracyBound": 0.951,
        "machineLabeledThisIteration": 1,
        "humanBatch": 4,
        "seconds": 1.5,
    }
    assert " " not in text
    parsed = parse_summary(text)
    assert parsed == summary and parsed.to_json() == text
    assert parsed.next is Step.HUMAN and parsed.status is StepStatus.SUCCEEDED


def test_failures_and_crashes_have_the_contracts_shape():
    failed = StepSummary.failure(Step.PREPARE, None, StepFailed("DatasetTooSmall", "x" * 3000))
    assert json.loads(failed.to_json()) == {
        "step": "prepare",
        "iteration": None,
        "status": "Failed",
        "reason": "DatasetTooSmall",
        "message": "x" * 2000,
    }
    crashed = StepSummary.crash(Step.TRAIN, 1, RuntimeError("no human labels to train on"))
    assert json.loads(crashed.to_json()) == {
        "step": "train",
        "iteration": 1,
        "status": "Error",
        "message": "RuntimeError: no human labels to train on",
    }
    run = parse_summary(StepSummary.failure("run", None, StepFailed("A", "b")).to_json())
    assert run is not None and run.step == "run" and run.status is StepStatus.FAILED


def test_an_oversized_summary_leaves_out_its_informational_fields():
    reasons = {f"Reason{i:04d}{'x' * 40}": i for i in range(200)}
    summary = StepSummary(
        step=Step.PREPARE,
        iteration=None,
        status=StepStatus.SUCCEEDED,
        next=Step.HUMAN,
        label_counters=COUNTERS,
        validation_size=2,
        human_batch=4,
        failed_reasons=reasons,
    )
    text = summary.to_json()
    assert len(text.encode()) <= MAX_SUMMARY_BYTES
    data = json.loads(text)
    assert "failedReasons" not in data and data["validationSize"] == 2
    assert parse_summary(text).label_counters == COUNTERS


def test_a_stop_reason_outside_the_contract_is_no_summary():
    text = json.dumps({"step": "export", "status": "Succeeded", "stopReason": "Tired"})
    assert parse_summary(text) is None
    done = parse_summary(
        json.dumps({"step": "export", "status": "Succeeded", "stopReason": "NoProgress"})
    )
    assert done is not None and done.stop_reason is StopReason.NO_PROGRESS
