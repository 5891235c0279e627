"""The compact JSON summary a step leaves in its termination message (step contract).

The steps build a StepSummary and write `to_json()`; the operator reads it back with
`parse_summary`. Only the fields a step set are written, so each step's summary keeps the
keys docs/step-contract.md lists for it.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from labelpilot.api.base import ApiModel
from labelpilot.api.status import LabelCounters
from labelpilot.api.steps import Step, StepFailed, StopReason

MAX_SUMMARY_BYTES = 4000
MAX_MESSAGE_CHARS = 2000
# Informational fields dropped, in this order, from a summary over MAX_SUMMARY_BYTES.
DROPPABLE = ("failedReasons", "evaluation")


class StepStatus(StrEnum):
    SUCCEEDED = "Succeeded"
    WAITING = "Waiting"  # human: the workforce is still at work; a later round polls again
    FAILED = "Failed"  # a rule failed the whole job (exit code 3)
    ERROR = "Error"  # a crash: the Job's backoff runs the step again


class StepSummary(ApiModel):
    """What one step reported. Unknown keys are kept (extra) but not relied upon."""

    model_config = ApiModel.model_config | ConfigDict(extra="allow")

    # "run": `labelpilot run` reporting a job that failed
    step: Step | Literal["run"] | None = None
    iteration: int | None = None
    status: StepStatus | None = None
    next: Step | None = None
    stop_reason: StopReason | None = None
    label_counters: LabelCounters | None = None
    accuracy_bound: float | None = None
    threshold: float | None = None
    machine_labeled_this_iteration: int | None = Field(None, ge=0)
    human_batch: int | None = Field(None, ge=0)
    seconds: float | None = None
    reason: str | None = None
    message: str | None = None
    validation_size: int | None = Field(None, ge=0)  # prepare
    failed_reasons: dict[str, int] | None = None  # prepare: failed objects by reason
    failed: int | None = Field(None, ge=0)  # human: the batch's failed objects
    answered: int | None = Field(None, ge=0)  # human, Waiting
    pre_annotated: int | None = Field(None, ge=0)  # human
    pre_annotations_edited: int | None = Field(None, ge=0)  # human
    train_size: int | None = Field(None, ge=0)  # train
    shard: int | None = Field(None, ge=0)  # infer
    shard_count: int | None = Field(None, ge=1)  # infer
    objects: int | None = Field(None, ge=0)  # infer: the objects of this shard
    # prepare, human, threshold, export: the output manifest as of this step
    output_manifest_uri: str | None = None
    final_model_ref: str | None = None  # export
    evaluation: dict[str, Any] | None = None  # `labelpilot run` with a ground truth

    @classmethod
    def failure(
        cls, step: Step | Literal["run"], iteration: int | None, error: StepFailed
    ) -> StepSummary:
        """The summary of a step a rule failed (exit code 3)."""
        return cls(
            step=step,
            iteration=iteration,
            status=StepStatus.FAILED,
            reason=error.reason,
            message=error.message[:MAX_MESSAGE_CHARS],
        )

    @classmethod
    def crash(cls, step: Step, iteration: int | None, error: Exception) -> StepSummary:
        """The summary of a step that crashed (the Job retries it)."""
        return cls(
            step=step,
            iteration=iteration,
            status=StepStatus.ERROR,
            message=f"{type(error).__name__}: {error}"[:MAX_MESSAGE_CHARS],
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields set, by their JSON keys."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        """Compact JSON of the fields set, under MAX_SUMMARY_BYTES (DROPPABLE fields go
        first when it would not be)."""
        data = self.to_dict()
        text = _compact(data)
        for key in DROPPABLE:
            if len(text.encode()) <= MAX_SUMMARY_BYTES:
                break
            data.pop(key, None)
            text = _compact(data)
        return text


def _compact(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def parse_summary(text: str | None) -> StepSummary | None:
    """The summary in a termination message: the whole text, or else its last JSON line
    (with FallbackToLogsOnError the message may be a log tail). None when there is none."""
    if not text or not text.strip():
        return None
    candidates = [text.strip(), *reversed([ln.strip() for ln in text.splitlines()])]
    for candidate in candidates:
        if not candidate.startswith("{"):
            continue
        try:
            data: Any = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or not ({"step", "status"} & data.keys()):
            continue
        try:
            return StepSummary.model_validate(data)
        except ValidationError:
            continue
    return None
