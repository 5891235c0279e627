"""A tiny image-classification data set whose manifest lines a test may replace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from labelpilot.api.run_config import RunConfig

LABELS = ["even", "odd"]


def image_set(folder: Path, n: int = 20) -> dict[str, Any]:
    """`n` 6x6 PNGs under folder/objects, the manifest beside them, and their truth."""
    (folder / "objects").mkdir(parents=True, exist_ok=True)
    lines, truth = [], []
    for i in range(n):
        path = folder / "objects" / f"{i:03d}.png"
        Image.fromarray(np.full((6, 6), i * 10 % 256, np.uint8)).save(path)
        lines.append({"source-ref": str(path)})
        truth.append(
            {
                "source-ref": str(path),
                "label": i % 2,
                "label-metadata": {"class-name": LABELS[i % 2]},
            }
        )
    write_lines(folder / "truth.manifest", [json.dumps(t) for t in truth])
    return {
        "folder": folder,
        "lines": [json.dumps(line) for line in lines],
        "truth": folder / "truth.manifest",
    }


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def config(manifest: Path, out: Path, truth: Path, **changes: Any) -> RunConfig:
    base: dict[str, Any] = {
        "job_name": "inputs",
        "task_type": "image-classification",
        "label_attribute_name": "label",
        "labels": LABELS,
        "input_manifest_uri": str(manifest),
        "output_uri": str(out),
        "workforce": {"simulated": {"ground_truth_uri": str(truth)}},
        "allow_small_dataset": True,
        "max_concurrent_task_count": 100,
    }
    base.update(changes)
    return RunConfig.model_validate(base)
