"""The compact JSON summary a step leaves in its termination message (step contract)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from labelpilot.api.base import ApiModel
from labelpilot.api.status import LabelCounters


class StepSummary(ApiModel):
    """What one step reported. Unknown keys are kept (extra) but not relied upon."""

    model_config = ApiModel.model_config | ConfigDict(extra="allow")

    step: str | None = None
    iteration: int | None = None
    status: str | None = None
    next: str | None = None
    stop_reason: str | None = None
    label_counters: LabelCounters | None = None
    accuracy_bound: float | None = None
    threshold: float | None = None
    machine_labeled_this_iteration: int | None = Field(None, ge=0)
    human_batch: int | None = Field(None, ge=0)
    seconds: float | None = None
    reason: str | None = None
    message: str | None = None
    output_manifest_uri: str | None = None
    final_model_ref: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "Failed"

    @property
    def waiting(self) -> bool:
        """A human step that ended before the workforce finished (polled again later)."""
        return self.status == "Waiting"


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
