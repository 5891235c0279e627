"""`threshold`: thresholds on the validation predictions, machine labels for the pool
objects that meet them, stopping conditions, and the next human batch.

delta for iteration i is bounds.spend_delta(1 - confidence_level, i) (see
labelpilot.engine.threshold_search). In guaranteed mode, validation objects that an earlier
iteration's thresholds accepted are retired from the validation set, as their pool
counterparts were machine-labeled and left the pool: the validation set keeps resembling
what remains.
Files: machine-labels.jsonl and selection.json first, then thresholds.json, the commit
mark: once it exists the step returns what it recorded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType, ThresholdMode
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step, StopReason
from labelpilot.engine import bounds, formats, selection, storage
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
from labelpilot.worker import workspace_binding
from labelpilot.worker.common import Context, step, timestamp_of


def _confidence(task: TaskType, p: ObjectPredictions, pos: list[int]) -> np.ndarray:
    if task.is_classification:
        return np.asarray([p.probs[k].max() for k in pos])
    return np.asarray([p.confidence[k] for k in pos])


def passing(task: TaskType, p: ObjectPredictions, indices: list[int],
            thresholds: np.ndarray) -> list[int]:
    """The objects among `indices` that `thresholds` accept under the predictions `p`."""
    pos = [p.position[i] for i in indices]
    if not pos:
        return []
    conf = _confidence(task, p, pos)
    # boxes and masks have one threshold: every object counts as "class" 0
    pred = (np.asarray([int(np.argmax(p.probs[k])) for k in pos]) if task.is_classification
            else np.zeros(len(pos), dtype=np.int64))
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


def _search(ctx: Context, state: LabelState, p: ObjectPredictions, val: list[int],
            pool: list[int], delta: float) -> ThresholdResult:
    cfg = ctx.config
    task = cfg.task_type
    vpos = [p.position[i] for i in val]
    ppos = [p.position[i] for i in pool]
    if task.is_classification:
        c = len(cfg.labels)
        val_probs = np.asarray([p.probs[k] for k in vpos]).reshape(-1, c)
        pool_probs = np.asarray([p.probs[k] for k in ppos]).reshape(-1, c)
        val_labels = np.asarray([state.labeled[i]["label"] for i in val], dtype=np.int64)
        return classification_thresholds(val_probs, val_labels, pool_probs, target=cfg.target,
                                         delta=delta, mode=cfg.threshold_mode)
    quality = []
    for i, k in zip(val, vpos, strict=True):
        truth = label_from_json(task, state.labeled[i]["label"], cfg.labels)
        if task is TaskType.OBJECT_DETECTION:
            quality.append(boxes_mean_iou(p.boxes[k], truth.boxes))
        else:
            quality.append(mask_mean_iou(p.masks[k], truth))
    return quality_thresholds(_confidence(task, p, vpos), np.asarray(quality),
                              _confidence(task, p, ppos), target=cfg.target, delta=delta,
                              mode=cfg.threshold_mode)


def _machine_row(ctx: Context, iteration: int, index: int, p: ObjectPredictions,
                 created: str, identity: str) -> dict[str, Any]:
    cfg = ctx.config
    k = p.position[index]
    row: dict[str, Any] = {"index": index, "object": identity, "iteration": iteration,
                           "source": MACHINE, "created": created}
    if cfg.task_type.is_classification:
        row["label"] = int(np.argmax(p.probs[k]))
        row["confidence"] = round(float(np.max(p.probs[k])), 6)
        return row
    row["confidence"] = round(p.confidence[k], 6)
    if cfg.task_type is TaskType.OBJECT_DETECTION:
        h, w, d = p.size[k]
        boxes = p.boxes[k]
        row["label"] = label_to_json(cfg.task_type, Boxes(w, h, d, boxes[:, :5]),
                                     box_confidences=boxes[:, 5].tolist())
        return row
    uri = ctx.ws.machine_mask(iteration, index)
    formats.write_mask_png(uri, p.masks[k], formats.color_map(cfg.labels))
    row["label"] = label_to_json(cfg.task_type, None, mask_uri=uri)
    return row


def _select(ctx: Context, iteration: int, p: ObjectPredictions, candidates: list[int],
            size: int) -> list[int]:
    task = ctx.config.task_type
    pos = [p.position[i] for i in candidates if i in p.position]
    known = [i for i in candidates if i in p.position]
    if not known or size <= 0:
        return []
    if task.is_classification:
        probs = np.asarray([p.probs[k] for k in pos])
        uncertainty = 1.0 - selection.margins(probs)
        features = np.asarray([p.embeddings[k] for k in pos]) if p.embeddings else probs
    else:
        uncertainty = 1.0 - _confidence(task, p, pos)
        features = np.asarray([p.embeddings[k] for k in pos]) if p.embeddings else None
    picked = selection.select_batch(uncertainty, features, size, seed=ctx.config.seed + iteration)
    return sorted(known[j] for j in picked)


@step
def run(ctx: Context, iteration: int) -> StepSummary:
    cfg, ws = ctx.config, ctx.ws
    workspace_binding.check(ctx)
    if storage.exists(ws.thresholds(iteration)):
        return StepSummary.model_validate(storage.read_json(ws.thresholds(iteration))["summary"])
    objects = {o.index: o for o in ctx.objects()}
    state = LabelState.load(ws, human_upto=iteration, machine_upto=iteration - 1,
                            objects=ctx.objects())
    p = load_predictions(ctx.ws, iteration)
    guaranteed = ThresholdMode(cfg.threshold_mode) is ThresholdMode.GUARANTEED
    retired = retired_validation(ws, iteration) if guaranteed else set()
    val = [i for i in state.validation_indices() if i in p.position and i not in retired]
    pool = [i for i in state.unlabeled() if i in p.position]
    delta = bounds.spend_delta(ctx.delta, iteration)
    result = _search(ctx, state, p, val, pool, delta)
    accepted = [i for i, ok in zip(pool, result.accepted, strict=True) if ok]

    # MaxPercentageLabeled: never label beyond the cap; the most confident go first.
    cap = math.floor(state.total * cfg.max_percentage_labeled / 100.0)
    room = max(0, cap - len(state.labeled))
    if len(accepted) > room:
        conf = _confidence(cfg.task_type, p, [p.position[i] for i in accepted])
        accepted = sorted(accepted[j] for j in np.argsort(-conf, kind="stable")[:room])
    # a rerun after a crash before the commit mark keeps the first run's creation dates
    previous = (timestamp_of(storage.read_jsonl(ws.machine_labels(iteration)))
                if storage.exists(ws.machine_labels(iteration)) else {})
    created = next(iter(previous.values()), None) or formats.now_iso()
    rows = [{"index": i, "object": object_id(objects[i]), "iteration": iteration,
             "source": MACHINE, "failure": reason, "created": created}
            for i, reason in sorted(p.failed.items())]
    rows += [_machine_row(ctx, iteration, i, p, created, object_id(objects[i]))
             for i in accepted]

    labeled_after = len(state.labeled) + len(accepted)
    accepted_set = set(accepted)
    remaining = [i for i in pool if i not in accepted_set]
    human_left = (10**12 if cfg.max_human_labeled is None
                  else max(0, cfg.max_human_labeled - state.human_sent))
    size = min(cfg.max_concurrent_task_count, human_left, len(remaining),
               max(0, cap - labeled_after))
    stop = None
    if not remaining:
        stop = StopReason.ALL_LABELED
    elif labeled_after >= cap:
        stop = StopReason.MAX_PERCENTAGE_LABELED
    elif human_left <= 0:
        stop = StopReason.MAX_HUMAN_LABELED
    selected = [] if stop else _select(ctx, iteration, p, remaining, size)
    if stop is None and not selected:
        stop = StopReason.NO_PROGRESS
    storage.write_jsonl(ws.machine_labels(iteration), rows)
    storage.write_json(ws.selection(iteration), {"selected": selected})

    after = LabelState(total=state.total, validation=state.validation,
                       failed=dict(state.failed), labeled=dict(state.labeled),
                       human_sent=state.human_sent)
    for row in rows:
        after._add(row)
    summary = StepSummary(
        step=Step.THRESHOLD, iteration=iteration, status=StepStatus.SUCCEEDED,
        next=Step.EXPORT if stop else Step.HUMAN, stop_reason=stop,
        label_counters=after.counters(),
        accuracy_bound=None if result.bound is None else round(result.bound, 6),
        machine_labeled_this_iteration=len(accepted), human_batch=len(selected),
        seconds=ctx.seconds())
    details = result.summary()
    if guaranteed:
        details["validationRetired"] = len(retired)
        details["validationAcceptedIndices"] = passing(cfg.task_type, p, val, result.thresholds)
    details.update({"validationObjects": len(val), "poolObjects": len(pool),
                    "mode": str(ThresholdMode(cfg.threshold_mode)),
                    "target": cfg.target, "labels": cfg.labels})
    storage.write_json(ws.thresholds(iteration), {"summary": summary.to_dict(),
                                                  "search": details})
    return summary
