"""Measuring a finished job's labels against the ground truth (the evaluator: besides the
simulated workforce, the only reader of the truth)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labelpilot.api.run_config import RunConfig
from labelpilot.engine import formats, storage
from labelpilot.engine.labels import HUMAN, LabelState, label_from_json
from labelpilot.engine.quality import label_quality
from labelpilot.engine.workspace import Workspace


def evaluate(config: RunConfig, ground_truth_uri: str) -> dict[str, Any]:
    """Quality (accuracy, or mean IoU) of machine and human labels; writes evaluation.json.
    Raises formats.GroundTruthError when the truth of a labeled object is bad."""
    ws = Workspace(config.output_uri)
    state = LabelState.load(ws)
    truth = formats.GroundTruth(
        ground_truth_uri, config.task_type, config.label_attribute_name, labels=config.labels
    )
    keys = {o.index: o.key for o in formats.read_manifest(config.input_manifest_uri)}
    scores: dict[str, list[float]] = {"machine": [], "human": []}
    per_iteration: dict[int, list[float]] = {}
    for index, row in sorted(state.labeled.items()):
        key = keys.get(index)
        true = None if key is None else truth.get(key)
        if true is None:
            continue
        predicted = label_from_json(config.task_type, row["label"], config.labels)
        q = label_quality(config.task_type, predicted, true)
        source = "human" if row["source"] == HUMAN else "machine"
        scores[source].append(q)
        if source == "machine":
            per_iteration.setdefault(int(row["iteration"]), []).append(q)
    counters = state.counters()
    result: dict[str, Any] = {
        "metric": "accuracy" if config.task_type.measured_by_accuracy else "meanIoU",
        "target": config.target,
        "machineLabeled": len(scores["machine"]),
        "machineQuality": float(np.mean(scores["machine"])) if scores["machine"] else None,
        "humanLabeled": len(scores["human"]),
        "humanQuality": float(np.mean(scores["human"])) if scores["human"] else None,
        "machineFraction": counters.machine_labeled / max(1, state.size),
        "machineQualityPerIteration": {
            str(i): float(np.mean(v)) for i, v in sorted(per_iteration.items())
        },
        "labelCounters": counters.to_k8s(),
    }
    result["meetsTarget"] = (
        result["machineQuality"] is None or result["machineQuality"] >= config.target
    )
    storage.write_json(ws.evaluation, result, indent=2)
    return result
