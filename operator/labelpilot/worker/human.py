"""`human`: send iteration i's batch to the workforce and record the consolidated answers.

The batch: iteration 0's from `prepare`, else the selection of threshold(i - 1) (with
auto-labeling off: a seeded random sample of the unlabeled objects). From iteration 1 on,
each object carries the model's prediction of iteration i - 1 as a pre-annotation, but
for the fresh validation sample (labelpilot.engine.fresh_validation): a label that leans
on the model would hide the model's errors from the test that certifies it. The
request (batch id and the provider's handle, e.g. Label Studio's task ids) is written
before waiting, so a rerun finds the same batch; the response is written last, atomically,
and once it exists the step does not ask again.

With `max_wait` (the operator's Jobs), the step waits at most that long and then reports
`status: Waiting` without a response: human work takes hours, and a later run of the step
polls again instead of a Pod waiting. Without it (`labelpilot run`), it waits to the end.

Several workers per object: classification answers are consolidated over the whole batch
with Dawid-Skene (each worker's confusion matrix, by EM); multi-label sets per object by a
majority per class (labelpilot.workforce.consolidation); boxes and masks per object.
Iteration 0 fails the job (TooManyFailedObjects) when more than 10% of its objects fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from labelpilot.api.run_config import TaskType
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step, StepFailed, StopReason
from labelpilot.api.stopping import human_budget_left, stop_reason
from labelpilot.engine import formats, fresh_validation, multilabel_search, progress, storage
from labelpilot.engine.labels import HUMAN, LabelState, label_to_json, object_id
from labelpilot.worker import output_manifest, workspace_binding
from labelpilot.worker.common import MAX_FAILED_FRACTION, Context, step
from labelpilot.workforce import Answer, BatchStatus, TaskItem, consolidate, provider_for
from labelpilot.workforce.dawid_skene import dawid_skene

POLL_SECONDS = 1.0


def batch_for(ctx: Context, iteration: int, state: LabelState) -> list[int]:
    cfg = ctx.config
    if iteration == 0:
        return list(storage.read_json(ctx.ws.prepare_plan)["iteration0"])
    if cfg.auto_labeling:
        if not storage.exists(ctx.ws.selection(iteration - 1)):
            raise RuntimeError(f"threshold({iteration - 1}) has not selected a batch yet")
        return list(storage.read_json(ctx.ws.selection(iteration - 1))["selected"])
    unlabeled = state.unlabeled()
    size = min(
        cfg.max_concurrent_task_count,
        len(unlabeled),
        human_budget_left(cfg.max_human_labeled, state.human_sent),
    )
    rng = np.random.default_rng([cfg.seed, 2, iteration])
    return sorted(rng.choice(unlabeled, size=size, replace=False).tolist()) if size else []


def _predictions(ctx: Context, iteration: int, batch: list[int]) -> dict[int, tuple[Any, float]]:
    """The model's labels of iteration - 1 for `batch`, with their confidence."""
    from labelpilot.engine.predictions import load_predictions

    cfg = ctx.config
    if (
        iteration == 0
        or not cfg.auto_labeling
        or not storage.listdir(ctx.ws.inference(iteration - 1))
    ):
        return {}
    p = load_predictions(ctx.ws, iteration - 1)
    unshown = set(fresh_validation.sample_for(ctx.ws, iteration))
    out: dict[int, tuple[Any, float]] = {}
    for i in batch:
        k = p.position.get(i)
        if k is None or i in unshown:
            continue
        if cfg.task_type.is_classification:
            out[i] = int(np.argmax(p.probs[k])), float(np.max(p.probs[k]))
        elif cfg.task_type.is_multilabel:
            probs = np.asarray(p.probs[k], dtype=np.float64)[None]
            out[i] = (
                multilabel_search.predicted_labels(probs[0]),
                float(multilabel_search.set_confidence(probs)[0]),
            )
        elif cfg.task_type is TaskType.OBJECT_DETECTION:
            h, w, d = p.size[k]
            out[i] = formats.Boxes(w, h, d, p.boxes[k][:, :5]), float(p.confidence[k])
        else:
            out[i] = p.masks[k], float(p.confidence[k])
    return out


def _items(ctx: Context, iteration: int, batch: list[int]) -> list[TaskItem]:
    objects = {o.index: o for o in ctx.objects()}
    shown = _predictions(ctx, iteration, batch)
    return [
        TaskItem(i, objects[i].key or "", objects[i].record, *shown.get(i, (None, None)))
        for i in batch
    ]


def _consolidated(ctx: Context, answers: list[Answer]) -> dict[int, tuple[Any, float]]:
    task_type = ctx.config.task_type
    answered = [a for a in answers if a.failure is None and a.labels]
    if task_type.is_classification and any(len(a.labels) > 1 for a in answered):
        votes = [
            list(
                zip(
                    a.workers or [str(w) for w in range(len(a.labels))],
                    (int(v) for v in a.labels),
                    strict=True,
                )
            )
            for a in answered
        ]
        result = dawid_skene(votes, len(ctx.config.labels))
        return {
            a.index: (label, confidence)
            for a, label, confidence in zip(
                answered, result.labels, result.confidences, strict=True
            )
        }
    return {a.index: consolidate(task_type, a.labels) for a in answered}


def _rows(ctx: Context, iteration: int, answers: list[Answer]) -> list[dict[str, Any]]:
    cfg, ws = ctx.config, ctx.ws
    colors = formats.color_map(cfg.labels)
    consolidated = _consolidated(ctx, answers)
    objects = {o.index: o for o in ctx.objects()}
    rows = []
    for answer in answers:
        row: dict[str, Any] = {
            "index": answer.index,
            "object": object_id(objects[answer.index]),
            "iteration": iteration,
            "source": HUMAN,
            # when the workforce says the object was answered, else when it is recorded
            "created": answer.answered_at or formats.now_iso(),
        }
        if answer.index not in consolidated:
            row["failure"] = answer.failure or "WorkerFailure: no answer"
        else:
            label, confidence = consolidated[answer.index]
            mask_uri = None
            if cfg.task_type is TaskType.SEMANTIC_SEGMENTATION:
                mask_uri = ws.human_mask(iteration, answer.index)
                formats.write_mask_png(mask_uri, label, colors)
            row["label"] = label_to_json(cfg.task_type, label, mask_uri=mask_uri)
            row["confidence"] = round(confidence, 6)
            row["workers"] = len(answer.labels)
            if answer.edited is not None:
                row["edited"] = answer.edited
        rows.append(row)
    return rows


class StillWaiting(Exception):
    """The workforce has not finished the batch within the step's wait."""

    def __init__(self, progress: tuple[int, int] | None) -> None:
        super().__init__("waiting for the workforce")
        self.progress = progress


def _collect(
    ctx: Context, iteration: int, batch: list[int], max_wait: float | None
) -> tuple[list[dict[str, Any]], Callable[[], None]]:
    """The batch's rows, and what takes back its unanswered tasks: call that only once the
    rows are on disk (a crash before it leaves those tasks open, and loses no answer)."""
    cfg, ws = ctx.config, ctx.ws
    items = _items(ctx, iteration, batch)
    provider = provider_for(cfg, ctx.manifest_base)
    if storage.exists(ws.human_request(iteration)):
        handle = storage.read_json(ws.human_request(iteration))["handle"]
    else:
        batch_id = f"{cfg.job_name}-i{iteration}"
        handle = provider.submit(batch_id, items, cfg.workforce.workers_per_object)
        storage.write_json(
            ws.human_request(iteration), {"batchId": batch_id, "indices": batch, "handle": handle}
        )
    deadline = None if max_wait is None else time.monotonic() + max_wait
    while provider.poll(handle) is not BatchStatus.COMPLETED:
        answered = provider.progress(handle)
        if answered is not None:
            progress.report("objects answered", *answered)
        if deadline is not None and time.monotonic() + POLL_SECONDS > deadline:
            raise StillWaiting(answered)
        time.sleep(POLL_SECONDS)
    rows = _rows(ctx, iteration, provider.collect(handle, items))
    return rows, lambda: provider.withdraw(handle)


def _waiting(
    ctx: Context, iteration: int, batch: int, progress: tuple[int, int] | None
) -> StepSummary:
    done, sent = progress or (0, batch)
    return StepSummary(
        step=Step.HUMAN,
        iteration=iteration,
        status=StepStatus.WAITING,
        message=f"{done} of {sent} objects answered",
        answered=done,
        human_batch=batch,
        seconds=ctx.seconds(),
    )


def _pre_annotations(rows: list[dict[str, Any]]) -> tuple[int, int] | None:
    """How many objects were shown the model's label, and how many of those people changed;
    None when none was shown one."""
    shown = [r for r in rows if "edited" in r]
    if not shown:
        return None
    return len(shown), sum(r["edited"] > 0 for r in shown)


@step
def run(ctx: Context, iteration: int, max_wait: float | None = None) -> StepSummary:
    cfg, ws = ctx.config, ctx.ws
    workspace_binding.check(ctx)
    if storage.exists(ws.human_response(iteration)):
        rows = storage.read_jsonl(ws.human_response(iteration))
    else:
        before = LabelState.load(
            ws, human_upto=iteration - 1, machine_upto=iteration - 1, objects=ctx.objects()
        )
        batch = batch_for(ctx, iteration, before)
        try:
            rows, withdraw = _collect(ctx, iteration, batch, max_wait) if batch else ([], None)
        except StillWaiting as waiting:
            return _waiting(ctx, iteration, len(batch), waiting.progress)
        record: dict[str, Any] = {
            "iteration": iteration,
            "objects": len(rows),
            "failed": sum("failure" in r for r in rows),
            "seconds": ctx.seconds(),
        }
        shown = _pre_annotations(rows)
        if shown is not None:
            record["preAnnotated"], record["preAnnotationsEdited"] = shown
        storage.write_json(ws.human_summary(iteration), record)
        storage.write_jsonl(ws.human_response(iteration), rows)
        if withdraw is not None:
            withdraw()
    state = LabelState.load(
        ws, human_upto=iteration, machine_upto=iteration - 1, objects=ctx.objects()
    )
    uri = output_manifest.write_all(ctx)  # also when the rule below fails
    failed = sum("failure" in r for r in rows)
    if iteration == 0 and rows and failed > MAX_FAILED_FRACTION * len(rows):
        raise StepFailed(
            "TooManyFailedObjects",
            f"{failed} of the {len(rows)} objects of iteration 0 failed "
            f"(more than {MAX_FAILED_FRACTION:.0%}); first reason: "
            f"{next(r['failure'] for r in rows if 'failure' in r)}",
        )
    summary = StepSummary(
        step=Step.HUMAN,
        iteration=iteration,
        status=StepStatus.SUCCEEDED,
        label_counters=state.counters(),
        human_batch=len(rows),
        failed=failed,
        seconds=ctx.seconds(),
        output_manifest_uri=uri,
    )
    shown = _pre_annotations(rows)
    if shown is not None:
        summary.pre_annotated, summary.pre_annotations_edited = shown
    if cfg.auto_labeling and not state.unlabeled():
        summary.next, summary.stop_reason = Step.EXPORT, StopReason.ALL_LABELED
    elif cfg.auto_labeling:
        summary.next = Step.TRAIN
    else:
        summary.stop_reason = _stop_without_auto_labeling(ctx, state, bool(rows))
        summary.next = Step.EXPORT if summary.stop_reason else Step.HUMAN
    return summary


def _stop_without_auto_labeling(
    ctx: Context, state: LabelState, answered: bool
) -> StopReason | None:
    """The loop is human steps alone: it stops when every object is labeled, the budget
    is spent, or a batch brought nothing."""
    stop = stop_reason(
        unlabeled=len(state.unlabeled()),
        labeled=len(state.labeled),
        cap=None,
        human_left=human_budget_left(ctx.config.max_human_labeled, state.human_sent),
    )
    return stop or (None if answered else StopReason.NO_PROGRESS)
