"""Shared helpers of the labeling-engine tests: a tiny digits data set and its RunConfig."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("LABELPILOT_TORCH_THREADS", "1")
os.environ.setdefault("LABELPILOT_DEVICE", "cpu")

from labelpilot.api.run_config import RunConfig

FAST_MODEL = {"epochs": 6, "threads": 1, "device": "cpu"}


def digits(folder: Path, limit: int) -> dict:
    from labelpilot.datasets.prepare import prepare

    return prepare("digits", folder, limit=limit, seed=0)


def config_for(data: dict, out: Path, **changes) -> RunConfig:
    base = {
        "job_name": "test-job",
        "task_type": data["taskType"],
        "label_attribute_name": data["labelAttributeName"],
        "labels": data["labels"],
        "input_manifest_uri": data["inputManifest"],
        "output_uri": str(out),
        "workforce": {"simulated": {"ground_truth_uri": data["groundTruthManifest"]}},
        "allow_small_dataset": True,
        "max_concurrent_task_count": 100,
        "model_options": FAST_MODEL,
    }
    base.update(changes)
    return RunConfig.model_validate(base)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
