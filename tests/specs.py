"""What several test tiers build LabelingJobs and step results from: a spec as users write
it, and a step's summary as the operator reads it."""

from __future__ import annotations

import json
from typing import Any

from labelpilot.api.step_summary import StepSummary, parse_summary
from labelpilot.api.steps import Step

BASE_SPEC: dict[str, Any] = {
    "taskType": "ImageClassification",
    "labelAttributeName": "digit",
    "labels": ["0", "1", "2"],
    "input": {"manifestUri": "file:///data/mnist/input.manifest"},
    "output": {"uri": "file:///data/out"},
    "storage": {"volumeClaimName": "labelpilot-data", "mountPath": "/data"},
    "humanTaskConfig": {
        "maxConcurrentTaskCount": 100,
        "workforce": {"simulated": {"groundTruthManifestUri": "file:///data/gt.manifest"}},
    },
}


def summary(step: Step, iteration: int | None = None, **fields: Any) -> StepSummary:
    """A summary as a step prints it: compact JSON, parsed back as the operator does."""
    body = {"step": str(step), "status": "Succeeded", **fields}
    if iteration is not None:
        body["iteration"] = iteration
    parsed = parse_summary(json.dumps(body))
    assert parsed is not None
    return parsed
