"""`prepare`: validate the input manifest, find failed objects, split validation and batch 0.

Validation size (Ground Truth's rule, the `seed` policy): 20% of the valid objects under
5,000, 10% from 5,000. With the `bound-sized` policy: as many as the first iteration's bound
needs (labelpilot.engine.threshold_search.bound_sized_validation), never more than Ground
Truth's rule; `fresh` splits as `seed` does (its later iterations draw their own samples:
labelpilot.engine.fresh_validation). Iteration 0 sends the validation objects plus as many
random training objects to humans, together at most max_concurrent_task_count (and the human
label budget): when both do not fit, the validation set shrinks to half of that and
training takes the rest (`first_batch`, docs/ml.md). The split is a seeded permutation: a
rerun gives the same plan.

Failed objects: malformed lines, and objects that cannot be read, lie outside the job's data
roots or exceed its size limits (labelpilot.ml.inputs). More than 10% of them fail the job
(TooManyFailedObjects).

Pre-labeled objects (a chained job: the line carries the label attribute and its metadata,
labelpilot.worker.pre_labels) are neither sent nor split: validation and batch 0 are drawn
from the objects to label. With none left to label, the job goes straight to export.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from labelpilot.api.run_config import ExistingLabels, ValidationPolicy
from labelpilot.api.step_summary import StepStatus, StepSummary
from labelpilot.api.steps import Step, StepFailed, StopReason
from labelpilot.engine import decoded_images, formats, storage
from labelpilot.engine.labels import LabelState
from labelpilot.engine.threshold_search import bound_sized_validation
from labelpilot.worker import object_inputs, output_manifest, pre_labels, workspace_binding
from labelpilot.worker.common import MAX_FAILED_FRACTION, MIN_OBJECTS, Context, step

CHECK_CHUNK = 4096  # objects whose reads are in flight together


def ground_truth_validation_size(n: int) -> int:
    return round(n * (0.2 if n < 5000 else 0.1))


def first_batch(
    n_val: int,
    n_valid: int,
    *,
    auto_labeling: bool,
    max_concurrent: int,
    max_human_labeled: int | None,
) -> tuple[int, int]:
    """Iteration 0's (validation, training) object counts for a wanted validation size.

    As many training as validation objects, all within the budget: max_concurrent_task_count
    and the human label budget. Over it, the validation set shrinks to half the budget (a
    smaller random sample keeps the guarantee; it certifies less) and training takes the rest.
    Without auto-labeling, no validation set: a random batch."""
    budget = max_concurrent if max_human_labeled is None else min(max_concurrent, max_human_labeled)
    if not auto_labeling:
        return 0, min(budget, n_valid)
    n_val = max(n_val, 1)
    n_train = min(budget, n_val)
    if n_val + n_train > budget:
        n_val = max(1, min(n_val, budget // 2))
        n_train = budget - n_val
    return n_val, n_train


def _check_readable(
    ctx: Context, objects: list, keep: decoded_images.Collector | None = None
) -> dict[int, str]:
    """Objects that cannot be read or decoded (outside the data roots, over the limits),
    with reasons; the decoded images go to `keep`."""
    from labelpilot.ml import ObjectAccess, ObjectReadError, load_input
    from labelpilot.ml.inputs import read_threads

    task = ctx.config.task_type
    base = ctx.manifest_base
    access = ObjectAccess.for_config(ctx.config)
    side = object_inputs.max_side(ctx)

    def check(obj: Any) -> tuple[int, str | None]:
        try:
            item = load_input(task, obj.record, base, obj.index, access=access)
        except ObjectReadError as error:
            return obj.index, error.failure
        if keep is not None and isinstance(item, np.ndarray):
            keep.add(obj.index, item if side is None else object_inputs.fit(item, side))
        return obj.index, None

    failed: dict[int, str] = {}
    threads = read_threads((o.record for o in objects), base)
    with ThreadPoolExecutor(max_workers=threads) as pool:  # results hold no pixels
        # Executor.map submits every item at once: a future per object held at the same
        # time. A chunk at a time keeps that bounded.
        for start in range(0, len(objects), CHECK_CHUNK):
            chunk = objects[start : start + CHECK_CHUNK]
            checked = pool.map(check, chunk) if threads > 1 else map(check, chunk)
            for index, reason in checked:
                if reason:
                    failed[index] = reason
    return failed


@step
def run(ctx: Context) -> StepSummary:
    cfg = ctx.config
    try:
        objects = ctx.objects()
    except (OSError, ValueError) as error:
        raise StepFailed(
            "InputManifestUnreadable", f"{cfg.input_manifest_uri}: {type(error).__name__}: {error}"
        ) from error
    pre = set(pre_labels.find(cfg, objects))
    trusted = cfg.auto_labeling and cfg.existing_labels is ExistingLabels.TRUSTED
    failed = {o.index: o.error for o in objects if o.error}
    decoded = None if cfg.task_type.is_text else decoded_images.Collector()
    failed.update(
        _check_readable(ctx, [o for o in objects if not o.failed and o.index not in pre], decoded)
    )
    _too_many_failed(failed, len(objects))
    valid = [o.index for o in objects if o.index not in failed and o.index not in pre]
    if not valid and not pre:
        raise StepFailed("NoValidObjects", "the input manifest holds no readable object")
    if valid and len(valid) < MIN_OBJECTS and not cfg.allow_small_dataset:
        chained = f" ({len(pre)} more already carry the label attribute)" if pre else ""
        raise StepFailed(
            "DatasetTooSmall",
            f"{len(valid)} valid objects to label{chained}; automated labeling needs at least "
            f"{MIN_OBJECTS} (set allowSmallDataset / --allow-small-dataset for demos)",
        )
    workspace_binding.bind(ctx)  # before the workspace is read or written
    unreadable = _trusted_labels(ctx, [o for o in objects if o.index in pre]) if trusted else {}
    rng = np.random.default_rng([cfg.seed, 1])
    order = [valid[i] for i in rng.permutation(len(valid))]
    n_val = ground_truth_validation_size(len(valid))  # of the objects to label
    policy = ctx.validation_policy()  # a rerun keeps the plan's
    if policy is ValidationPolicy.BOUND_SIZED:
        n_val = bound_sized_validation(
            len(valid),
            target=cfg.target,
            delta=ctx.delta,
            ground_truth_size=n_val,
            bounded_loss=not cfg.task_type.measured_by_accuracy,
        )
    n_val, n_train = first_batch(
        n_val,
        len(valid),
        auto_labeling=cfg.auto_labeling,
        max_concurrent=cfg.max_concurrent_task_count,
        max_human_labeled=cfg.max_human_labeled,
    )
    validation = sorted(order[:n_val])
    batch0 = sorted(order[: n_val + n_train])
    plan = {
        "objects": len(objects),
        "failed": {str(k): v for k, v in sorted(failed.items())},
        "validation": validation,
        "iteration0": batch0,
        "seed": cfg.seed,
        "validationPolicy": str(policy),
        "labels": cfg.labels,
        "created": _previous_created(ctx) or formats.now_iso(),
        "preLabeled": sorted(pre),
        "preLabelsTrusted": trusted,
        "preLabelsUnreadable": {str(k): v for k, v in sorted(unreadable.items())},
    }
    if decoded is not None:
        storage.write_bytes(ctx.ws.decoded_images, decoded.pack())
    storage.write_json(ctx.ws.prepare_plan, plan)
    state = LabelState.load(ctx.ws, human_upto=-1, machine_upto=-1, objects=objects)
    output_manifest.write_all(ctx)  # a rerun (labelpilot run resumed) keeps later labels
    nothing_to_label = not valid
    return StepSummary(
        step=Step.PREPARE,
        iteration=None,
        status=StepStatus.SUCCEEDED,
        next=Step.EXPORT if nothing_to_label else Step.HUMAN,
        stop_reason=StopReason.ALL_LABELED if nothing_to_label else None,
        label_counters=state.counters(),
        validation_size=len(validation),
        human_batch=len(batch0),
        failed_reasons=_reason_counts(failed),
        output_manifest_uri=ctx.ws.output_manifest,
    )


def _trusted_labels(ctx: Context, objects: list[formats.DataObject]) -> dict[int, str]:
    """Writes the trusted existing labels of the objects that can be read (the model
    trains on them); returns the others with the reasons."""
    unreadable = _check_readable(ctx, objects)
    readable = [o for o in objects if o.index not in unreadable]
    storage.write_jsonl(ctx.ws.pre_labels, pre_labels.rows(ctx.config, ctx.ws, readable))
    return unreadable


def _too_many_failed(failed: dict[int, str], total: int) -> None:
    """Ground Truth's rule: a job fails when more than 10% of its objects fail; malformed
    lines and unreadable objects are failed objects."""
    if total and len(failed) > MAX_FAILED_FRACTION * total:
        first = failed[min(failed)]
        raise StepFailed(
            "TooManyFailedObjects",
            f"{len(failed)} of the {total} objects of the input manifest failed "
            f"(more than {MAX_FAILED_FRACTION:.0%}); first reason: {first}",
        )


def _previous_created(ctx: Context) -> str | None:
    if storage.exists(ctx.ws.prepare_plan):
        return storage.read_json(ctx.ws.prepare_plan).get("created")
    return None


def _reason_counts(failed: dict[int, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reason in failed.values():
        key = reason.split(":", 1)[0]
        counts[key] = counts.get(key, 0) + 1
    return counts
