"""`train`: fit iteration i's model on the human labels outside the validation set (and a
chained job's existing labels when it trusts them: labelpilot.worker.pre_labels), and with
the model option `pseudo_labels` on earlier iterations' machine labels too
(labelpilot.engine.pseudo_labels).

Warm-starts from the previous iteration's model (or `initial_model_ref` at iteration 0).
The model folder is written first, the summary last; once the summary exists the step
returns it without training again.
"""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType, ValidationPolicy
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step
from labelpilot.engine import fresh_validation, pseudo_labels, storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.labels import LabelState, label_from_json
from labelpilot.worker import object_inputs, workspace_binding
from labelpilot.worker.common import Context, step
from labelpilot.worker.model_folder import initial_model_dir, local_model_dir


def load_inputs(ctx: Context, indices: list[int]) -> list[Any]:
    from labelpilot.ml.inputs import all_read

    return all_read(object_inputs.ObjectInputs(ctx).load_each(indices))


def targets_of(ctx: Context, rows: list[dict[str, Any]]) -> Any:
    cfg = ctx.config
    labels = [label_from_json(cfg.task_type, r["label"], cfg.labels) for r in rows]
    if cfg.task_type.is_classification:
        return np.asarray(labels, dtype=np.int64)
    if cfg.task_type.is_multilabel:
        multi_hot = np.zeros((len(labels), len(cfg.labels)), dtype=np.float32)
        for row, classes in enumerate(labels):
            multi_hot[row, classes] = 1.0
        return multi_hot
    if cfg.task_type is TaskType.OBJECT_DETECTION:
        return [b.boxes for b in labels]
    return labels


def save_model(model: Any, uri: str) -> None:
    if storage.is_local(uri):
        with storage.writes_to(uri):
            storage.make_folder(storage.local_path(uri))
            model.save(str(storage.local_path(uri)))
            storage.share_files(uri)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        storage.copy_tree(tmp, uri)


def training_set(ctx: Context, iteration: int) -> tuple[LabelState, list[int], list[int]]:
    """The label state train(iteration) reads, its human (and trusted) training labels, and
    the earlier iterations' machine labels it adds as pseudo-labels. The validation objects
    held out (the fresh sample, or prepare's split at iteration 0 and under the other
    policies) train in neither."""
    state = LabelState.load(
        ctx.ws, human_upto=iteration, machine_upto=iteration - 1, objects=ctx.objects()
    )
    held_out = None
    if ctx.validation_policy() is ValidationPolicy.FRESH:
        held_out = fresh_validation.held_out(ctx.ws, iteration, state.validation)
    human_train = state.training_indices(held_out)
    if not human_train:
        raise RuntimeError("no human labels to train on")
    pseudo = pseudo_labels.chosen(
        state,
        held_out,
        len(human_train),
        ctx.model_options(),
        seed=ctx.config.seed,
        iteration=iteration,
    )
    return state, human_train, pseudo


@step
def run(ctx: Context, iteration: int) -> StepSummary:
    from labelpilot.ml import build_model

    cfg, ws = ctx.config, ctx.ws
    workspace_binding.check(ctx)
    if storage.exists(ws.training_summary(iteration)):
        done = storage.read_json(ws.training_summary(iteration))
        return _summary(ctx, iteration, done["trainSize"])
    state, human_train, pseudo = training_set(ctx, iteration)
    train = sorted({*human_train, *pseudo})
    inputs = load_inputs(ctx, train)
    targets = targets_of(ctx, [state.training_row(i) for i in train])
    keep: list[Any] = []
    init_from = None
    if iteration > 0 and storage.exists(storage.join(ws.model(iteration - 1), "model.json")):
        init_from = local_model_dir(ws.model(iteration - 1), keep)
    elif cfg.initial_model_ref:
        roots = DataRoots.for_job(cfg.data_roots, cfg.input_manifest_uri)
        init_from = initial_model_dir(cfg.initial_model_ref, roots, keep)
    model = build_model(
        cfg.task_type, cfg.labels, seed=cfg.seed + iteration, options=ctx.model_options()
    )
    metrics = model.fit(inputs, targets, init_from=init_from)
    save_model(model, ws.model(iteration))
    storage.write_json(
        ws.training_summary(iteration),
        {
            "iteration": iteration,
            "trainSize": len(train),
            "pseudoLabels": len(pseudo),
            "warmStart": init_from is not None,
            "metrics": metrics,
            "seconds": ctx.seconds(),
        },
    )
    return _summary(ctx, iteration, len(train))


def _summary(ctx: Context, iteration: int, train_size: int) -> StepSummary:
    return StepSummary(
        step=Step.TRAIN,
        iteration=iteration,
        status=StepStatus.SUCCEEDED,
        next=Step.INFER,
        train_size=train_size,
        seconds=ctx.seconds(),
    )
