"""`threshold`: thresholds on the validation predictions, machine labels for the pool
objects that meet them, stopping conditions, and the next human batch.

delta for iteration i is bounds.spend_delta(1 - confidence_level, i) (see
labelpilot.engine.threshold_search). In guaranteed mode, validation objects that an earlier
iteration's thresholds accepted are retired from the validation set, as their pool
counterparts were machine-labeled and left the pool: the validation set keeps resembling
what remains.
With the `fresh` validation policy (labelpilot.engine.fresh_validation), iteration i >= 1
validates on the random sample of the pool that iteration i - 1 drew into its human batch
(selection.json's freshValidation, drawn after the active-learning pick) alone, at
delta / ((i + 1)(i + 2)); nothing retires.
Files: machine-labels.jsonl and selection.json first, then thresholds.json, the commit
mark: once it exists the step returns what it recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType, ThresholdMode, ValidationPolicy
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step, StopReason
from labelpilot.api.stopping import human_budget_left, labeled_cap, stop_reason
from labelpilot.engine import formats, fresh_validation, multilabel_search, selection, storage
from labelpilot.engine.formats import Boxes
from labelpilot.engine.labels import MACHINE, LabelState, label_from_json, label_to_json, object_id
from labelpilot.engine.predictions import ObjectPredictions, load_predictions
from labelpilot.engine.quality import boxes_mean_iou, mask_mean_iou
from labelpilot.engine.threshold_search import (
    ThresholdResult,
    accept_by_class,
    classification_thresholds,
    quality_thresholds,
)
from labelpilot.engine.workspace import Workspace
from labelpilot.worker import output_manifest, workspace_binding
from labelpilot.worker.common import Context, step, timestamp_of


def _confidence(task: TaskType, p: ObjectPredictions, pos: list[int]) -> np.ndarray:
    if task.is_classification:
        return np.asarray([p.probs[k].max() for k in pos])
    if task.is_multilabel:
        return multilabel_search.set_confidence(_probs(p, pos))
    return np.asarray([p.confidence[k] for k in pos])


def _probs(p: ObjectPredictions, pos: list[int]) -> np.ndarray:
    width = len(p.probs[0]) if p.probs else 0
    return np.asarray([p.probs[k] for k in pos], dtype=np.float64).reshape(len(pos), width)


def passing(
    task: TaskType, p: ObjectPredictions, indices: list[int], thresholds: np.ndarray
) -> list[int]:
    """The objects among `indices` that `thresholds` accept under the predictions `p`."""
    pos = [p.position[i] for i in indices]
    if not pos:
        return []
    if task.is_multilabel:
        ok = multilabel_search.accept(_probs(p, pos), np.asarray(thresholds, np.float64))
        return [i for i, yes in zip(indices, ok, strict=True) if yes]
    conf = _confidence(task, p, pos)
    # boxes and masks have one threshold: every object counts as "class" 0
    pred = (
        np.asarray([int(np.argmax(p.probs[k])) for k in pos])
        if task.is_classification
        else np.zeros(len(pos), dtype=np.int64)
    )
    accepted = accept_by_class(conf, pred, np.atleast_1d(np.asarray(thresholds, np.float64)))
    return [i for i, ok in zip(indices, accepted, strict=True) if ok]


def retired_validation(ws: Workspace, iteration: int) -> set[int]:
    """Validation objects the thresholds of iterations before `iteration` accepted."""
    retired: set[int] = set()
    for j in range(iteration):
        if storage.exists(ws.thresholds(j)):
            search = storage.read_json(ws.thresholds(j))["search"]
            retired.update(search.get("validationAcceptedIndices", []))
    return retired


@dataclass(frozen=True)
class _Split:
    """What one iteration's search works on: the objects that have predictions."""

    state: LabelState
    predictions: ObjectPredictions
    validation: list[int]  # human-labeled validation objects, retired ones left out
    pool: list[int]  # unlabeled objects
    retired: set[int]


def _split(ctx: Context, iteration: int, guaranteed: bool) -> _Split:
    state = LabelState.load(
        ctx.ws, human_upto=iteration, machine_upto=iteration - 1, objects=ctx.objects()
    )
    p = load_predictions(ctx.ws, iteration)
    if _fresh(ctx) and iteration > 0:
        sample = fresh_validation.sample_for(ctx.ws, iteration)
        human = state.human
        return _Split(
            state,
            p,
            [i for i in sample if i in human and i in p.position],
            [i for i in state.unlabeled() if i in p.position],
            set(),
        )
    retired = retired_validation(ctx.ws, iteration) if guaranteed else set()
    return _Split(
        state,
        p,
        [i for i in state.validation_indices() if i in p.position and i not in retired],
        [i for i in state.unlabeled() if i in p.position],
        retired,
    )


def _fresh(ctx: Context) -> bool:
    return ctx.validation_policy() is ValidationPolicy.FRESH


def _searcher(ctx: Context, split: _Split) -> Callable[[float, ThresholdMode], ThresholdResult]:
    """The search over this iteration's validation and pool, for a delta and a mode: the
    scores (and for boxes and masks the validation IoUs) are computed once."""
    cfg = ctx.config
    task = cfg.task_type
    p, val, state = split.predictions, split.validation, split.state
    vpos = [p.position[i] for i in val]
    ppos = [p.position[i] for i in split.pool]
    if task.is_classification:
        c = len(cfg.labels)
        val_probs = np.asarray([p.probs[k] for k in vpos]).reshape(-1, c)
        pool_probs = np.asarray([p.probs[k] for k in ppos]).reshape(-1, c)
        val_labels = np.asarray([state.labeled[i]["label"] for i in val], dtype=np.int64)
        return lambda delta, mode: classification_thresholds(
            val_probs, val_labels, pool_probs, target=cfg.target, delta=delta, mode=mode
        )
    if task.is_multilabel:
        truth = np.zeros((len(val), len(cfg.labels)), dtype=bool)
        for row, i in enumerate(val):
            truth[row, state.labeled[i]["label"]] = True
        val_probs, pool_probs = _probs(p, vpos), _probs(p, ppos)
        return lambda delta, mode: multilabel_search.multilabel_thresholds(
            val_probs, truth, pool_probs, target=cfg.target, delta=delta, mode=mode
        )
    quality = []
    for i, k in zip(val, vpos, strict=True):
        truth = label_from_json(task, state.labeled[i]["label"], cfg.labels)
        if task is TaskType.OBJECT_DETECTION:
            quality.append(boxes_mean_iou(p.boxes[k], truth.boxes))
        else:
            quality.append(mask_mean_iou(p.masks[k], truth))
    val_conf, pool_conf = _confidence(task, p, vpos), _confidence(task, p, ppos)
    return lambda delta, mode: quality_thresholds(
        val_conf, np.asarray(quality), pool_conf, target=cfg.target, delta=delta, mode=mode
    )


def _within(task: TaskType, p: ObjectPredictions, accepted: list[int], room: int) -> list[int]:
    """At most `room` of the accepted objects (MaxPercentageLabeled never labels beyond its
    cap): the most confident."""
    if len(accepted) <= room:
        return accepted
    conf = _confidence(task, p, [p.position[i] for i in accepted])
    return sorted(accepted[j] for j in np.argsort(-conf, kind="stable")[:room])


def _machine_row(
    ctx: Context, iteration: int, index: int, p: ObjectPredictions, created: str, identity: str
) -> dict[str, Any]:
    cfg = ctx.config
    k = p.position[index]
    row: dict[str, Any] = {
        "index": index,
        "object": identity,
        "iteration": iteration,
        "source": MACHINE,
        "created": created,
    }
    if cfg.task_type.is_classification:
        row["label"] = int(np.argmax(p.probs[k]))
        row["confidence"] = round(float(np.max(p.probs[k])), 6)
        return row
    if cfg.task_type.is_multilabel:
        probs = np.asarray(p.probs[k], dtype=np.float64)
        row["label"] = multilabel_search.predicted_labels(probs)
        row["confidence"] = round(float(multilabel_search.set_confidence(probs[None])[0]), 6)
        row["classConfidences"] = {str(c): round(float(probs[c]), 6) for c in row["label"]}
        return row
    row["confidence"] = round(p.confidence[k], 6)
    if cfg.task_type is TaskType.OBJECT_DETECTION:
        h, w, d = p.size[k]
        boxes = p.boxes[k]
        row["label"] = label_to_json(
            cfg.task_type, Boxes(w, h, d, boxes[:, :5]), box_confidences=boxes[:, 5].tolist()
        )
        return row
    uri = ctx.ws.machine_mask(iteration, index)
    formats.write_mask_png(uri, p.masks[k], formats.color_map(cfg.labels))
    by_class = None
    if p.class_confidence:
        by_class = {c: float(v) for c, v in enumerate(p.class_confidence[k]) if np.isfinite(v)}
    row["label"] = label_to_json(cfg.task_type, None, mask_uri=uri, class_confidences=by_class)
    return row


def _select(
    ctx: Context, iteration: int, p: ObjectPredictions, candidates: list[int], size: int
) -> list[int]:
    task = ctx.config.task_type
    pos = [p.position[i] for i in candidates if i in p.position]
    known = [i for i in candidates if i in p.position]
    if not known or size <= 0:
        return []
    features: np.ndarray | None
    if task.is_classification or task.is_multilabel:
        probs = _probs(p, pos)
        uncertainty = (
            1.0 - multilabel_search.set_confidence(probs)
            if task.is_multilabel
            else 1.0 - selection.margins(probs)
        )
        features = np.asarray([p.embeddings[k] for k in pos]) if p.embeddings else probs
    else:
        uncertainty = 1.0 - _confidence(task, p, pos)
        features = np.asarray([p.embeddings[k] for k in pos]) if p.embeddings else None
    picked = selection.select_batch(uncertainty, features, size, seed=ctx.config.seed + iteration)
    return sorted(known[j] for j in picked)


def _rows(
    ctx: Context, iteration: int, p: ObjectPredictions, accepted: list[int]
) -> list[dict[str, Any]]:
    """The iteration's machine labels: the objects inference could not read (failed), then
    the accepted ones. Each row is stamped when it is made: its object's labeling moment."""
    ws = ctx.ws
    objects = {o.index: o for o in ctx.objects()}
    # a rerun after a crash before the commit mark keeps the first run's creation dates
    previous = (
        timestamp_of(storage.read_jsonl(ws.machine_labels(iteration)))
        if storage.exists(ws.machine_labels(iteration))
        else {}
    )

    def created(index: int) -> str:
        return previous.get(index) or formats.now_iso()

    rows = [
        {
            "index": i,
            "object": object_id(objects[i]),
            "iteration": iteration,
            "source": MACHINE,
            "failure": reason,
            "created": created(i),
        }
        for i, reason in sorted(p.failed.items())
    ]
    return rows + [
        _machine_row(ctx, iteration, i, p, created(i), object_id(objects[i])) for i in accepted
    ]


def _next_batch(
    ctx: Context, iteration: int, split: _Split, remaining: list[int], labeled: int, cap: int
) -> tuple[StopReason | None, list[int], list[int]]:
    """Why the loop stops, or the objects people label next and (fresh policy) the random
    validation sample among them."""
    cfg = ctx.config
    human_left = human_budget_left(cfg.max_human_labeled, split.state.human_sent)
    stop = stop_reason(unlabeled=len(remaining), labeled=labeled, cap=cap, human_left=human_left)
    if stop is not None:
        return stop, [], []
    size = min(cfg.max_concurrent_task_count, human_left, len(remaining), cap - labeled)
    n_fresh = 0
    if _fresh(ctx):
        n_fresh = fresh_validation.sample_size(
            len(remaining),
            size,
            target=cfg.target,
            delta=fresh_validation.iteration_delta(ctx.delta, iteration + 1),
            bounded_loss=not cfg.task_type.measured_by_accuracy,
        )
    selected = _select(ctx, iteration, split.predictions, remaining, size - n_fresh)
    # drawn after the pick, from what stays in the pool: exchangeable with what it validates
    picked = set(selected)
    left = [i for i in remaining if i not in picked]
    fresh = fresh_validation.draw(left, n_fresh, seed=cfg.seed, iteration=iteration + 1)
    batch = sorted([*selected, *fresh])
    return (None, batch, fresh) if batch else (StopReason.NO_PROGRESS, [], [])


def _by_class(ctx: Context, split: _Split, thresholds: np.ndarray) -> dict[str, list[int]]:
    """Classification: per predicted class, the validation objects `thresholds` accept and
    how many of them the model got right (multi-label: per class in the predicted set, how
    often the class was right); what report.json's perClass shows."""
    cfg, p = ctx.config, split.predictions
    counts = {name: [0, 0] for name in cfg.labels}
    for i in passing(cfg.task_type, p, split.validation, thresholds):
        probs = p.probs[p.position[i]]
        truth = split.state.labeled[i]["label"]
        if cfg.task_type.is_multilabel:
            for c in multilabel_search.predicted_labels(probs):
                counts[cfg.labels[c]][0] += 1
                counts[cfg.labels[c]][1] += int(c in truth)
            continue
        predicted = int(np.argmax(probs))
        entry = counts[cfg.labels[predicted]]
        entry[0] += 1
        entry[1] += int(predicted == int(truth))
    return counts


def _details(
    ctx: Context,
    split: _Split,
    result: ThresholdResult,
    search: Callable[[float, ThresholdMode], ThresholdResult],
) -> dict[str, Any]:
    """The search as thresholds.json records it; in guaranteed mode also what Ground
    Truth's point-estimate rule would have accepted on the same scores and labels."""
    cfg = ctx.config
    details = result.summary()
    if ThresholdMode(cfg.threshold_mode) is ThresholdMode.GUARANTEED:
        details["validationRetired"] = len(split.retired)
        details["validationAcceptedIndices"] = passing(
            cfg.task_type, split.predictions, split.validation, result.thresholds
        )
        rule = search(result.delta, ThresholdMode.GROUND_TRUTH)
        details["groundTruthRule"] = {
            "accepted": int(rule.accepted.sum()),
            "estimate": rule.summary()["estimate"],
        }
    if _fresh(ctx):
        details["validationPolicy"] = str(ValidationPolicy.FRESH)
    if cfg.task_type.measured_by_accuracy:
        details["validationAcceptedByClass"] = _by_class(ctx, split, result.thresholds)
    details.update(
        {
            "validationObjects": len(split.validation),
            "poolObjects": len(split.pool),
            "mode": str(ThresholdMode(cfg.threshold_mode)),
            "target": cfg.target,
            "labels": cfg.labels,
        }
    )
    return details


@step
def run(ctx: Context, iteration: int) -> StepSummary:
    cfg, ws = ctx.config, ctx.ws
    workspace_binding.check(ctx)
    if storage.exists(ws.thresholds(iteration)):
        return StepSummary.model_validate(storage.read_json(ws.thresholds(iteration))["summary"])
    guaranteed = ThresholdMode(cfg.threshold_mode) is ThresholdMode.GUARANTEED
    split = _split(ctx, iteration, guaranteed)
    search = _searcher(ctx, split)
    delta = fresh_validation.delta_for(ctx.validation_policy(), ctx.delta, iteration)
    result = search(delta, cfg.threshold_mode)
    cap = labeled_cap(split.state.size, cfg.max_percentage_labeled)
    accepted = _within(
        cfg.task_type,
        split.predictions,
        [i for i, ok in zip(split.pool, result.accepted, strict=True) if ok],
        max(0, cap - len(split.state.labeled)),
    )
    rows = _rows(ctx, iteration, split.predictions, accepted)
    taken = set(accepted)
    remaining = [i for i in split.pool if i not in taken]
    stop, selected, fresh = _next_batch(
        ctx, iteration, split, remaining, len(split.state.labeled) + len(accepted), cap
    )
    storage.write_jsonl(ws.machine_labels(iteration), rows)
    chosen: dict[str, Any] = {"selected": selected}
    if _fresh(ctx):
        chosen[fresh_validation.FRESH_KEY] = fresh
    storage.write_json(ws.selection(iteration), chosen)
    labeled = split.state.with_rows(rows)
    output_manifest.write(ctx, ctx.objects(), labeled)
    summary = StepSummary(
        step=Step.THRESHOLD,
        iteration=iteration,
        status=StepStatus.SUCCEEDED,
        next=Step.EXPORT if stop else Step.HUMAN,
        stop_reason=stop,
        label_counters=labeled.counters(),
        accuracy_bound=None if result.bound is None else round(result.bound, 6),
        machine_labeled_this_iteration=len(accepted),
        human_batch=len(selected),
        seconds=ctx.seconds(),
        output_manifest_uri=ws.output_manifest,
    )
    storage.write_json(
        ws.thresholds(iteration),
        {"summary": summary.to_dict(), "search": _details(ctx, split, result, search)},
    )
    return summary
