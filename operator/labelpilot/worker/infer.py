"""`infer`: predict, with iteration i's model, the validation objects and the unlabeled pool.

Shard I of K takes every K-th object of the sorted list (an Indexed Job's pods split it).
Each shard is one .npz file (labelpilot.engine.predictions): the object indices, the image
sizes, and the predictions. An object that cannot be read is listed with its reason; the
threshold step marks it failed. The objects are read and predicted a chunk at a time,
bounded by count and, for images, by decoded bytes (labelpilot.worker.predict_chunks).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step
from labelpilot.engine import fresh_validation, storage
from labelpilot.engine.labels import LabelState
from labelpilot.engine.predictions import pack
from labelpilot.worker import object_inputs, predict_chunks, workspace_binding
from labelpilot.worker.common import Context, step
from labelpilot.worker.model_folder import local_model_dir

if TYPE_CHECKING:
    from labelpilot.ml.base import Model, Predictions


def joined(parts: list[Predictions]) -> Predictions:
    """The predictions of consecutive chunks as one."""
    from labelpilot.ml.base import Predictions

    if len(parts) == 1:
        return parts[0]

    def arrays(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    def lists(name: str) -> list[np.ndarray] | None:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else [x for v in values for x in v]

    return Predictions(
        probs=arrays("probs"),
        boxes=lists("boxes"),
        masks=lists("masks"),
        image_confidence=arrays("image_confidence"),
        embeddings=arrays("embeddings"),
        class_confidence=arrays("class_confidence"),
    )


def objects_to_predict(state: LabelState, fresh: list[int] | None = None) -> list[int]:
    """The validation objects (and the iteration's fresh sample) and the unlabeled pool."""
    return sorted(set(state.validation_indices()) | set(fresh or ()) | set(state.unlabeled()))


def shard_args(index: int | None, count: int | None) -> tuple[int, int]:
    if index is None:
        index = int(os.environ.get("JOB_COMPLETION_INDEX", "0"))
    count = count or 1
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is outside 0..{count - 1}")
    return index, count


def predicted(
    model: Model,
    chunk: predict_chunks.Loaded,
    indices: list[int],
    sizes: list[tuple[int, ...]],
    failed: dict[int, str],
) -> Predictions | None:
    """The chunk's predictions (None: none of it was read); its objects' indices and sizes,
    and its failures, added to the shard's."""
    from labelpilot.ml import ObjectReadError

    inputs = []
    for i, item in chunk:
        if isinstance(item, ObjectReadError):
            failed[i] = item.failure
            continue
        inputs.append(item)
        indices.append(i)
        shape = getattr(item, "shape", (0, 0, 0))
        sizes.append(tuple(shape) if len(shape) == 3 else (*shape[:2], 1))
    return model.predict(inputs) if inputs else None


@step
def run(
    ctx: Context, iteration: int, shard_index: int | None = None, shard_count: int | None = None
) -> StepSummary:
    from labelpilot.ml import load_model

    ws = ctx.ws
    workspace_binding.check(ctx)
    shard, count = shard_args(shard_index, shard_count)
    target = ws.inference_shard(iteration, shard, count)
    state = LabelState.load(
        ws, human_upto=iteration, machine_upto=iteration - 1, objects=ctx.objects()
    )
    fresh = fresh_validation.sample_for(ws, iteration)
    mine = objects_to_predict(state, fresh)[shard::count]
    if not storage.exists(target):
        reader = object_inputs.ObjectInputs(ctx)
        indices: list[int] = []
        sizes: list[tuple[int, ...]] = []
        failed: dict[int, str] = {}
        keep: list[Any] = []
        options = {
            k: v
            for k, v in ctx.model_options().items()
            if k in ("device", "threads", "score_threshold", "borderline")
        }
        model = load_model(local_model_dir(ws.model(iteration), keep), options=options)
        parts: list[Predictions] = []
        budget = None if ctx.config.task_type.is_text else predict_chunks.PREDICT_BYTES
        for chunk in predict_chunks.chunks(mine, reader.load_each, max_bytes=budget):
            part = predicted(model, chunk, indices, sizes, failed)
            if part is not None:
                parts.append(part)
        predictions = joined(parts) if parts else None
        storage.write_bytes(target, pack(predictions, indices, sizes, failed))
    return StepSummary(
        step=Step.INFER,
        iteration=iteration,
        status=StepStatus.SUCCEEDED,
        next=Step.THRESHOLD,
        shard=shard,
        shard_count=count,
        objects=len(mine),
        seconds=ctx.seconds(),
    )
