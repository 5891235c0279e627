"""LabelingJob run configs for the Label Studio tests, each in a project of its own unless
a test shares one."""

from __future__ import annotations

import uuid
from pathlib import Path

from labelpilot.api.run_config import RunConfig
from labelpilot.engine import storage
from labelpilot.engine.formats import read_manifest
from labelpilot.engine.workspace import Workspace
from tests.labelstudio.server import LabelStudio

FAST_MODEL = {"epochs": 6, "threads": 1, "device": "cpu"}


def job(ls: LabelStudio, data: dict, out: Path, **changes: object) -> RunConfig:
    title = f"lp-{uuid.uuid4().hex[:10]}"
    workforce = {
        "label_studio": {"url": ls.url, "project_title": title},
        **changes.pop("workforce", {}),
    }  # type: ignore[dict-item]
    return RunConfig.model_validate(
        {
            "job_name": "ls-job",
            "task_type": data["taskType"],
            "label_attribute_name": data["labelAttributeName"],
            "labels": data["labels"],
            "input_manifest_uri": data["inputManifest"],
            "output_uri": str(out),
            "workforce": workforce,
            "allow_small_dataset": True,
            "max_concurrent_task_count": 10,
            "model_options": FAST_MODEL,
            **changes,
        }
    )


def keys(config: RunConfig) -> dict[int, str]:
    return {o.index: o.key or "" for o in read_manifest(config.input_manifest_uri)}


def sent(config: RunConfig, iteration: int) -> dict[str, int]:
    return storage.read_json(Workspace(config.output_uri).human_request(iteration))["handle"]
