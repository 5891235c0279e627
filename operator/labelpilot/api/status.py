"""`LabelingJob.status`: Ground Truth's phases and counters, in kstatus' condition shape."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from labelpilot.api.base import ApiModel
from labelpilot.api.spec import ThresholdMode
from labelpilot.api.steps import Step

HISTORY_MAX = 50
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
# Ground Truth's FailureReason is at most 1,024 characters.
FAILURE_REASON_MAX = 1024


class Phase(StrEnum):
    INITIALIZING = "Initializing"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class StatusModel(ApiModel):
    # Tolerant on read: fields another writer (or an older operator) left are ignored.
    model_config = ApiModel.model_config | ConfigDict(extra="ignore")


class Condition(StatusModel):
    type: ConditionType
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=REASON_PATTERN)
    message: str = Field("", max_length=32768)
    last_transition_time: datetime
    observed_generation: int | None = Field(None, ge=0)


class LabelCounters(StatusModel):
    total_labeled: int = Field(0, ge=0, description="Labeled by this job: human + machine.")
    human_labeled: int = Field(0, ge=0)
    machine_labeled: int = Field(0, ge=0)
    failed_non_retryable_error: int = Field(0, ge=0)
    unlabeled: int = Field(0, ge=0)
    pre_labeled: int = Field(
        0,
        ge=0,
        description="Objects whose input line already carried the label attribute (a chained "
        "job): kept as they were, not labeled by this job, outside totalLabeled.",
    )


class Thresholds(StatusModel):
    """The current machine-labeling target and what the last threshold step found."""

    mode: ThresholdMode | None = None
    target: float | None = None
    confidence_level: float | None = None
    threshold: float | None = Field(None, description="The last confidence threshold.")
    accuracy_bound: float | None = None


class IterationRecord(StatusModel):
    iteration: int = Field(ge=0)
    human_batch: int | None = Field(None, ge=0)
    machine_labeled: int | None = Field(None, ge=0, description="Auto-labeled this iteration.")
    accuracy_bound: float | None = None
    threshold: float | None = None
    label_counters: LabelCounters | None = None
    step_seconds: dict[str, float] = Field(default_factory=dict)
    completion_time: datetime | None = None


class Progress(StatusModel):
    """How far the current step has got, as far as the operator sees it: which step, since
    when its Job runs, and for the human step how many objects people have answered."""

    step: Step
    iteration: int | None = Field(None, ge=0)
    since: datetime | None = Field(None, description="When the step's Job started.")
    done: int | None = Field(None, ge=0)
    total: int | None = Field(None, ge=0)
    unit: str | None = Field(None, max_length=64)
    message: str = Field("", max_length=256, description="One line, for kubectl get.")


class LabelingJobStatus(StatusModel):
    phase: Phase | None = None
    iteration: int = Field(0, ge=0)
    current_step: Step | None = None
    progress: Progress | None = None
    label_counters: LabelCounters = Field(default_factory=LabelCounters)
    thresholds: Thresholds | None = None
    accuracy_bound: float | None = None
    stop_reason: str | None = Field(None, description="Why the loop ended (AllLabeled, ...).")
    failure_reason: str | None = Field(
        None,
        max_length=FAILURE_REASON_MAX,
        description="Why the job failed, set with phase Failed (Ground Truth's FailureReason): "
        "the Failed condition's reason, a colon and its message (redacted, one line).",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    observed_generation: int | None = Field(None, ge=0)
    output_manifest_uri: str | None = None
    final_model_ref: str | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    history: list[IterationRecord] = Field(default_factory=list, max_length=HISTORY_MAX)

    def condition(self, kind: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    @property
    def terminal(self) -> bool:
        return self.phase in (Phase.COMPLETED, Phase.FAILED)
