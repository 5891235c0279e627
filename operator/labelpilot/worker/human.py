"""`human`: send iteration i's batch to the workforce and record the consolidated answers.

The batch: iteration 0's from `prepare`, else the selection of threshold(i - 1) (with
auto-labeling off: a seeded random sample of the unlabeled objects). The request (batch id
and the provider's handle) is written before waiting, so a rerun finds the same batch; the
response is written last, atomically, and once it exists the step does not ask again.
Iteration 0 fails the job (TooManyFailedObjects) when more than 10% of its objects fail.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from labelpilot import formats, storage
from labelpilot.config import TaskType
from labelpilot.labels import HUMAN, LabelState, label_to_json
from labelpilot.worker.common import Context, StepFailed
from labelpilot.workforce import BatchStatus, TaskItem, consolidate, provider_for

MAX_FAILED_FRACTION = 0.10
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
    size = min(cfg.max_concurrent_task_count, len(unlabeled), _human_left(ctx, state))
    rng = np.random.default_rng([cfg.seed, 2, iteration])
    return sorted(rng.choice(unlabeled, size=size, replace=False).tolist()) if size else []


def _human_left(ctx: Context, state: LabelState) -> int:
    limit = ctx.config.max_human_labeled
    return 10**12 if limit is None else max(0, limit - state.human_sent)


def _collect(ctx: Context, iteration: int, batch: list[int]) -> list[dict[str, Any]]:
    cfg, ws = ctx.config, ctx.ws
    objects = {o.index: o for o in ctx.objects()}
    items = [TaskItem(i, objects[i].key or "", objects[i].record) for i in batch]
    provider = provider_for(cfg)
    if storage.exists(ws.human_request(iteration)):
        handle = storage.read_json(ws.human_request(iteration))["handle"]
    else:
        batch_id = f"{cfg.job_name}-i{iteration}"
        handle = provider.submit(batch_id, items, cfg.workforce.workers_per_object)
        storage.write_json(ws.human_request(iteration),
                           {"batchId": batch_id, "indices": batch, "handle": handle})
    while provider.poll(handle) is not BatchStatus.COMPLETED:
        time.sleep(POLL_SECONDS)
    created = formats.now_iso()
    colors = formats.color_map(cfg.labels)
    rows = []
    for answer in provider.collect(handle, items):
        row: dict[str, Any] = {"index": answer.index, "iteration": iteration, "source": HUMAN,
                               "created": created}
        if answer.failure is not None or not answer.labels:
            row["failure"] = answer.failure or "WorkerFailure: no answer"
        else:
            label, confidence = consolidate(cfg.task_type, answer.labels)
            mask_uri = None
            if cfg.task_type is TaskType.SEMANTIC_SEGMENTATION:
                mask_uri = ws.human_mask(iteration, answer.index)
                formats.write_mask_png(mask_uri, label, colors)
            row["label"] = label_to_json(cfg.task_type, label, mask_uri=mask_uri)
            row["confidence"] = round(confidence, 6)
            row["workers"] = len(answer.labels)
        rows.append(row)
    return rows


def run(ctx: Context, iteration: int) -> dict[str, Any]:
    cfg, ws = ctx.config, ctx.ws
    if storage.exists(ws.human_response(iteration)):
        rows = storage.read_jsonl(ws.human_response(iteration))
    else:
        before = LabelState.load(ws, human_upto=iteration - 1, machine_upto=iteration - 1)
        batch = batch_for(ctx, iteration, before)
        rows = _collect(ctx, iteration, batch) if batch else []
        storage.write_json(ws.human_summary(iteration), {
            "iteration": iteration, "objects": len(rows),
            "failed": sum("failure" in r for r in rows), "seconds": ctx.seconds()})
        storage.write_jsonl(ws.human_response(iteration), rows)
    failed = sum("failure" in r for r in rows)
    if iteration == 0 and rows and failed > MAX_FAILED_FRACTION * len(rows):
        raise StepFailed("TooManyFailedObjects",
                         f"{failed} of the {len(rows)} objects of iteration 0 failed "
                         f"(more than {MAX_FAILED_FRACTION:.0%}); first reason: "
                         f"{next(r['failure'] for r in rows if 'failure' in r)}")
    state = LabelState.load(ws, human_upto=iteration, machine_upto=iteration - 1)
    summary: dict[str, Any] = {
        "step": "human", "iteration": iteration, "status": "Succeeded",
        "labelCounters": state.counters(), "humanBatch": len(rows), "failed": failed,
        "seconds": ctx.seconds()}
    if cfg.auto_labeling:
        summary["next"] = "train"
    else:
        more = state.unlabeled() and _human_left(ctx, state) > 0 and rows
        summary["next"] = "human" if more else "export"
        summary["stopReason"] = None if more else _stop_reason(ctx, state)
    return summary


def _stop_reason(ctx: Context, state: LabelState) -> str:
    if not state.unlabeled():
        return "AllLabeled"
    if _human_left(ctx, state) <= 0:
        return "MaxHumanLabeled"
    return "NoProgress"
